//! A server run as the studio follows it: the plan (the run's first event), each step's
//! status, and the log. A chatty build sends thousands of events per second; they land here
//! without touching the DOM, and the Run panel renders a capped tail a few times per second.
//! The page keeps the newest `KEEP_LINES` lines of a run; the full log is downloaded from the
//! server.

use crate::wire::{RunEvent, StepRef};
use slipway_core::plan::{Plan, PlannedStep};
use slipway_core::run_state::{RunStatus, StepStatus};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

/// Lines shown in the log view; the rest are in the download.
pub const RENDER_CAP: usize = 1000;

/// Lines the page keeps of one run (about 10 MB of text at most); older ones are dropped.
pub const KEEP_LINES: usize = 100_000;

/// The lane of image builds (and pulls): their lines are the runner's, not the step's that
/// first needed the image, so they are kept and shown apart (`build SERVICE | …`).
pub const BUILD_LANE: &str = "#build";

/// One line of a tail as the log view shows it: its number in the lane (from 1) and its text.
#[derive(Clone, Debug, PartialEq)]
pub struct ShownLine {
    pub n: usize,
    pub text: String,
}

/// A node of the run's graph: its steps' status, or a manual group waiting for approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    Step(StepStatus),
    Waiting,
}

impl NodeStatus {
    /// The name the stylesheet colours (`data-run-status`).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Step(s) => s.as_str(),
            NodeStatus::Waiting => "waiting",
        }
    }
}

struct Line {
    /// The step's id; empty for runner messages that belong to no step.
    step: Rc<str>,
    /// The step's label, as the log shows it.
    label: Rc<str>,
    text: String,
    at_ms: Option<u64>,
}

/// One step's lines among those kept, and how many it has had in all.
#[derive(Default)]
struct StepLines {
    total: usize,
    /// Positions in the whole run's log (not in `RunLog::lines`, whose front gets dropped).
    kept: VecDeque<usize>,
}

pub struct RunLog {
    pub plan: Option<Plan>,
    statuses: HashMap<String, (StepStatus, Option<String>)>,
    /// Finished steps' times by id.
    durations: HashMap<String, u64>,
    /// Show each line's time in the reader's zone: the zone's offset east of UTC, in minutes,
    /// at a Unix millisecond (per line: a log can span a daylight-saving change); `None`: no
    /// times.
    pub clock: Option<fn(u64) -> i64>,
    /// The newest lines; `dropped` older ones are gone.
    lines: VecDeque<Line>,
    dropped: usize,
    keep: usize,
    /// Per step, so a step's tail costs its own length only.
    by_step: HashMap<Rc<str>, StepLines>,
    /// Labels by step id, shared by the lines of a step.
    labels: HashMap<Rc<str>, Rc<str>>,
    /// The `manual` group waiting for approval, if any.
    pub waiting: Option<StepRef>,
    /// Manual groups approved (they waited, then went on), by id.
    approved: HashSet<String>,
    /// The first step to fail, by id: where "jump to the first error" goes.
    pub first_failed: Option<String>,
    /// The commit the run runs (its id), when the server said.
    pub commit: Option<String>,
    /// The run used the editors' files instead of the project's.
    pub edited: bool,
    /// The run's final status and error, once it has ended.
    pub finished: Option<(RunStatus, Option<String>)>,
    /// The last event applied; a reconnect resumes after it.
    pub last_seq: u64,
}

impl Default for RunLog {
    fn default() -> Self {
        RunLog::keeping(KEEP_LINES)
    }
}

impl RunLog {
    /// A log that keeps the newest `keep` lines.
    pub fn keeping(keep: usize) -> RunLog {
        RunLog {
            plan: None,
            statuses: HashMap::new(),
            durations: HashMap::new(),
            clock: None,
            lines: VecDeque::new(),
            dropped: 0,
            keep: keep.max(1),
            by_step: HashMap::new(),
            labels: HashMap::new(),
            waiting: None,
            approved: HashSet::new(),
            first_failed: None,
            commit: None,
            edited: false,
            finished: None,
            last_seq: 0,
        }
    }

    /// Apply one event; events at or before `last_seq` (repeats after a reconnect) are ignored.
    pub fn apply(&mut self, seq: u64, data: &str) {
        if seq <= self.last_seq {
            return;
        }
        self.last_seq = seq;
        if let Some(e) = RunEvent::parse(data) {
            self.apply_event(e);
        }
    }

    /// Steps are identified by id: names repeat under different groups.
    pub fn apply_event(&mut self, e: RunEvent) {
        match e {
            RunEvent::Plan { plan, commit, edited } => {
                self.plan = Some(*plan);
                self.commit = commit.filter(|c| !c.trim().is_empty());
                self.edited = edited;
            }
            RunEvent::Log { service, line, build: true, at_ms, .. } => {
                self.push(BUILD_LANE, &format!("build {service}"), line, at_ms)
            }
            RunEvent::Log { step, line, at_ms, .. } => self.push(&step.id, &step.label, line, at_ms),
            RunEvent::Info { message } => self.push("", "", message, None),
            RunEvent::Waiting { group } => {
                self.push("", "", format!("{} waits for approval", group.label), None);
                self.waiting = Some(group);
            }
            // A status this studio does not know (from a newer server): nothing to draw.
            RunEvent::StepStatus { status: None, .. } => {}
            RunEvent::StepStatus { step, status: Some(status), duration_ms, message } => {
                if status == StepStatus::Running
                    && let Some(group) = self.waiting.take()
                {
                    self.approved.insert(group.id);
                }
                if status == StepStatus::Failed && self.first_failed.is_none() {
                    self.first_failed = Some(step.id.clone());
                }
                // `cancelled`, not `cancelled: cancelled`: a message that only repeats the status.
                let repeats = message.as_deref().is_some_and(|m| m.trim() == status.as_str());
                let message = message.filter(|_| !repeats);
                match &message {
                    Some(m) => self.push(&step.id, &step.label, format!("{status}: {m}"), None),
                    None if repeats => self.push(&step.id, &step.label, status.to_string(), None),
                    None => {}
                }
                match duration_ms {
                    Some(ms) => self.durations.insert(step.id.clone(), ms),
                    None => self.durations.remove(&step.id),
                };
                self.statuses.insert(step.id, (status, message));
            }
            RunEvent::RunFinished { status, error } => {
                self.waiting = None;
                let error = error.filter(|e| e.trim() != status.as_str());
                self.finished = Some((status, error));
            }
            RunEvent::Other => {}
        }
    }

    /// Whether manual group `id` was approved (it waited, and went on).
    pub fn approved(&self, id: &str) -> bool {
        self.approved.contains(id)
    }

    /// Whether any image build or pull wrote to the log.
    pub fn has_builds(&self) -> bool {
        self.by_step.get(BUILD_LANE).is_some_and(|l| l.total > 0)
    }

    fn push(&mut self, step: &str, label: &str, text: String, at_ms: Option<u64>) {
        let key = match self.by_step.get_key_value(step) {
            Some((k, _)) => k.clone(),
            None => Rc::from(step),
        };
        let label = match self.labels.get(step) {
            Some(l) if &**l == label => l.clone(),
            _ => {
                let l: Rc<str> = Rc::from(label);
                self.labels.insert(key.clone(), l.clone());
                l
            }
        };
        let lines = self.by_step.entry(key.clone()).or_default();
        lines.total += 1;
        lines.kept.push_back(self.dropped + self.lines.len());
        self.lines.push_back(Line { step: key, label, text, at_ms });
        if self.lines.len() > self.keep
            && let Some(old) = self.lines.pop_front()
        {
            self.dropped += 1;
            if let Some(l) = self.by_step.get_mut(&old.step) {
                l.kept.pop_front();
            }
        }
    }

    /// Lines of the run so far, including those no longer kept.
    pub fn line_count(&self) -> usize {
        self.dropped + self.lines.len()
    }

    /// A leaf step's status, by its id.
    pub fn status(&self, id: &str) -> Option<StepStatus> {
        self.statuses.get(id).map(|(s, _)| *s)
    }

    /// How long a finished leaf step took, by its id.
    pub fn duration_ms(&self, id: &str) -> Option<u64> {
        self.durations.get(id).copied()
    }

    /// A node's status in the graph as the stylesheet names it (see [`RunLog::node_state`]).
    pub fn node_status(&self, node: &PlannedStep) -> Option<&'static str> {
        self.node_state(node).map(NodeStatus::as_str)
    }

    /// A node's status in the graph: a leaf's own, a group's from its children, `Waiting` for
    /// a manual group that waits for approval; `None` while nothing under it has started.
    pub fn node_state(&self, node: &PlannedStep) -> Option<NodeStatus> {
        use StepStatus::*;
        if self.waiting.as_ref().is_some_and(|w| w.id == node.id) {
            return Some(NodeStatus::Waiting);
        }
        if node.steps.is_empty() {
            return self.status(&node.id).map(NodeStatus::Step);
        }
        let children: Vec<Option<NodeStatus>> = node.steps.iter().map(|c| self.node_state(c)).collect();
        let any = |s: StepStatus| children.contains(&Some(NodeStatus::Step(s)));
        let group = if any(Failed) {
            Failed
        } else if any(Running) || children.contains(&Some(NodeStatus::Waiting)) {
            Running
        } else if any(Cancelled) {
            Cancelled
        } else if any(Interrupted) {
            Interrupted
        } else if children.iter().all(|c| matches!(c, Some(NodeStatus::Step(Success | Skipped)))) {
            if any(Success) { Success } else { Skipped }
        } else if children.iter().any(Option::is_some) {
            Running
        } else {
            return None;
        };
        Some(NodeStatus::Step(group))
    }

    /// The last `cap` lines (of one lane: a step by id, or [`BUILD_LANE`]; or of all, with
    /// their labels) as one text, and how many earlier lines are not shown (for tests: the
    /// view takes [`RunLog::tail_lines`]).
    #[cfg(test)]
    pub fn tail(&self, step: Option<&str>, cap: usize) -> (usize, String) {
        let (hidden, lines) = self.tail_lines(step, cap);
        let mut out = String::new();
        for l in lines {
            out.push_str(&l.text);
            out.push('\n');
        }
        (hidden, out)
    }

    /// [`RunLog::tail`], line by line, each with its number in the lane.
    pub fn tail_lines(&self, step: Option<&str>, cap: usize) -> (usize, Vec<ShownLine>) {
        let mut out = Vec::new();
        match step {
            Some(s) => {
                let Some(l) = self.by_step.get(s) else { return (0, out) };
                let from = l.kept.len().saturating_sub(cap);
                let first = l.total - (l.kept.len() - from);
                for (k, &i) in l.kept.range(from..).enumerate() {
                    let line = &self.lines[i - self.dropped];
                    let mut text = String::new();
                    self.write_time(&mut text, line);
                    text.push_str(&line.text);
                    out.push(ShownLine { n: first + k + 1, text });
                }
                (first, out)
            }
            None => {
                let from = self.lines.len().saturating_sub(cap);
                for (k, line) in self.lines.range(from..).enumerate() {
                    let mut text = String::new();
                    self.write_time(&mut text, line);
                    write_line(&mut text, line);
                    out.push(ShownLine { n: self.dropped + from + k + 1, text });
                }
                (self.dropped + from, out)
            }
        }
    }

    /// The first `cap` kept lines of a lane (where "jump to the first error" shows a failed
    /// step from its start), and how many later lines are not shown.
    pub fn head_lines(&self, step: &str, cap: usize) -> (usize, Vec<ShownLine>) {
        let Some(l) = self.by_step.get(step) else { return (0, Vec::new()) };
        let first = l.total - l.kept.len();
        let out = l
            .kept
            .iter()
            .take(cap)
            .enumerate()
            .map(|(k, &i)| {
                let line = &self.lines[i - self.dropped];
                let mut text = String::new();
                self.write_time(&mut text, line);
                text.push_str(&line.text);
                ShownLine { n: first + k + 1, text }
            })
            .collect::<Vec<_>>();
        (l.kept.len() - out.len(), out)
    }
}

impl RunLog {
    /// `15:04:05 ` before a line with a time, as many blanks before one without, when times
    /// are shown.
    fn write_time(&self, out: &mut String, line: &Line) {
        let Some(offset) = self.clock else { return };
        match line.at_ms {
            Some(ms) => {
                out.push_str(&clock_time(ms, offset(ms)));
                out.push(' ');
            }
            None => out.push_str("         "),
        }
    }
}

/// `HH:MM:SS` of Unix milliseconds `ms` in a zone `offset_min` minutes east of UTC.
pub fn clock_time(ms: u64, offset_min: i64) -> String {
    let secs = (ms / 1000) as i64 + offset_min * 60;
    let day = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", day / 3600, day / 60 % 60, day % 60)
}

/// A step's time as the graph shows it: `850 ms`, `4.2 s`, `3 m 05 s`.
pub fn format_duration(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} m {:02} s", ms / 60_000, ms / 1000 % 60),
    }
}

/// Compact: `step | line`, runner messages as `slipway: message`.
fn write_line(out: &mut String, line: &Line) {
    if line.step.is_empty() {
        out.push_str("slipway: ");
    } else {
        out.push_str(&line.label);
        out.push_str(" | ");
    }
    out.push_str(&line.text);
}

/// Splits a Server-Sent Events byte stream into `(id, data)` events. Chunks may end anywhere,
/// even inside a UTF-8 sequence, so bytes wait until their event is complete.
#[derive(Default)]
pub struct SseParser {
    pending: Vec<u8>,
}

impl SseParser {
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<(u64, String)> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(end) = find_blank_line(&self.pending[start..]) {
            let block = String::from_utf8_lossy(&self.pending[start..start + end]);
            let (mut id, mut data) = (None, Vec::new());
            for field in block.lines() {
                if let Some(v) = field.strip_prefix("id:") {
                    id = v.trim().parse::<u64>().ok();
                } else if let Some(v) = field.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            // Comments (keep-alives) and events without an id carry nothing to apply.
            if let Some(id) = id {
                events.push((id, data.join("\n")));
            }
            start += end + 2;
        }
        self.pending.drain(..start);
        events
    }
}

fn find_blank_line(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{"event":"plan","plan":{"tag":"main","push":false,"steps":[
        {"id":"1","name":"tests","type":"serial","status":"will-run","steps":[
            {"id":"1.1","name":"unit","type":"run","status":"will-run","service":"app","command":["true"]},
            {"id":"1.2","name":"lint","type":"run","status":"will-run","service":"app","command":["true"]}]}]}}"#;

    #[test]
    fn sse_frames_split_anywhere_come_out_whole() {
        let stream = "id: 1\ndata: {\"a\":\"é\"}\n\n:\n\nid: 2\ndata: x\n\n".as_bytes();
        for cut in 0..stream.len() {
            let mut p = SseParser::default();
            let mut got = p.feed(&stream[..cut]);
            got.extend(p.feed(&stream[cut..]));
            assert_eq!(got, vec![(1, "{\"a\":\"é\"}".to_string()), (2, "x".to_string())], "cut at {cut}");
        }
    }

    #[test]
    fn group_status_follows_its_children_and_repeats_are_ignored() {
        let mut log = RunLog::default();
        log.apply(1, PLAN);
        let group = log.plan.as_ref().unwrap().steps[0].clone();
        assert_eq!(log.node_status(&group), None);
        log.apply(2, r#"{"event":"step_status","step":"unit","id":"1.1","status":"running"}"#);
        assert_eq!(log.node_status(&group), Some("running"));
        log.apply(3, r#"{"event":"log","step":"unit","id":"1.1","service":"app","line":"ok 1"}"#);
        log.apply(3, r#"{"event":"log","step":"unit","id":"1.1","service":"app","line":"ok 1"}"#);
        log.apply(4, r#"{"event":"step_status","step":"unit","id":"1.1","status":"success","duration_ms":5}"#);
        assert_eq!(log.node_status(&group), Some("running"), "lint has not run yet");
        log.apply(5, r#"{"event":"step_status","step":"lint","id":"1.2","status":"success"}"#);
        assert_eq!(log.node_status(&group), Some("success"));
        log.apply(6, r#"{"event":"step_status","step":"lint","id":"1.2","status":"failed","message":"exit 1"}"#);
        assert_eq!(log.node_status(&group), Some("failed"));
        log.apply(7, r#"{"event":"run_finished","status":"failed","error":null}"#);
        assert_eq!(log.finished, Some((RunStatus::Failed, None)));
        assert_eq!(log.tail(None, RENDER_CAP), (0, "unit | ok 1\nlint | failed: exit 1\n".to_string()));
        assert_eq!(log.last_seq, 7);
    }

    /// Two steps named `deploy` under different groups keep their own status and lines, and
    /// both show their name in the log.
    #[test]
    fn steps_with_the_same_name_are_told_apart_by_id() {
        let mut log = RunLog::default();
        log.apply(
            1,
            r#"{"event":"plan","plan":{"tag":null,"push":false,"steps":[
            {"id":"1","name":"staging","type":"serial","status":"will-run","steps":[
                {"id":"1.1","name":"deploy","type":"run","status":"will-run","service":"app","command":["a"]}]},
            {"id":"2","name":"production","type":"serial","status":"will-run","steps":[
                {"id":"2.1","name":"deploy","type":"run","status":"will-run","service":"app","command":["b"]}]}]}}"#,
        );
        log.apply(2, r#"{"event":"log","step":"deploy","id":"1.1","service":"app","line":"to staging"}"#);
        log.apply(3, r#"{"event":"step_status","step":"deploy","id":"1.1","status":"success"}"#);
        log.apply(4, r#"{"event":"log","step":"deploy","id":"2.1","service":"app","line":"to production"}"#);
        log.apply(5, r#"{"event":"step_status","step":"deploy","id":"2.1","status":"failed","message":"exit 1"}"#);
        let plan = log.plan.clone().unwrap();
        assert_eq!(log.node_status(&plan.steps[0]), Some("success"));
        assert_eq!(log.node_status(&plan.steps[1]), Some("failed"));
        assert_eq!(log.tail(Some("1.1"), RENDER_CAP).1, "to staging\n");
        assert_eq!(log.tail(Some("2.1"), RENDER_CAP).1, "to production\nfailed: exit 1\n");
        assert_eq!(
            log.tail(None, RENDER_CAP).1,
            "deploy | to staging\ndeploy | to production\ndeploy | failed: exit 1\n"
        );
    }

    #[test]
    fn a_waiting_manual_group_and_unknown_statuses() {
        let mut log = RunLog::default();
        log.apply(1, PLAN);
        let group = log.plan.as_ref().unwrap().steps[0].clone();
        log.apply(2, r#"{"event":"waiting","group":"tests","id":"1"}"#);
        assert_eq!(log.node_state(&group), Some(NodeStatus::Waiting));
        assert_eq!(log.node_status(&group), Some("waiting"));
        log.apply(3, r#"{"event":"step_status","step":"unit","id":"1.1","status":"running"}"#);
        assert_eq!((log.waiting.as_ref(), log.node_status(&group)), (None, Some("running")));
        assert!(log.approved("1") && !log.approved("1.1"));
        // A status this studio does not know changes nothing.
        log.apply(4, r#"{"event":"step_status","step":"unit","id":"1.1","status":"teleported"}"#);
        assert_eq!(log.status("1.1"), Some(StepStatus::Running));
        log.apply(5, r#"{"event":"run_finished","status":"error","error":"internal error"}"#);
        assert_eq!(log.finished, Some((RunStatus::Error, Some("internal error".into()))));
    }

    #[test]
    fn tails_are_capped_and_count_what_they_hide() {
        let mut log = RunLog::default();
        for i in 1..=2500u64 {
            let step = if i % 2 == 0 { "even" } else { "odd" };
            log.apply(i, &format!(r#"{{"event":"log","step":"{step}","service":"s","line":"n{i}"}}"#));
        }
        let (hidden, text) = log.tail(None, RENDER_CAP);
        assert_eq!(hidden, 1500);
        assert!(text.starts_with("odd | n1501\n") && text.ends_with("odd | n2499\neven | n2500\n"));
        let (hidden, text) = log.tail(Some("even"), 10);
        assert_eq!(hidden, 1240);
        assert_eq!(text.lines().next(), Some("n2482"));
        assert_eq!(log.line_count(), 2500);
    }

    #[test]
    fn the_page_keeps_the_newest_lines_and_counts_the_rest() {
        let mut log = RunLog::keeping(100);
        for i in 1..=250u64 {
            let step = if i % 5 == 0 { "fifth" } else { "other" };
            log.apply(i, &format!(r#"{{"event":"log","step":"{step}","service":"s","line":"n{i}"}}"#));
        }
        assert_eq!(log.line_count(), 250);
        let (hidden, text) = log.tail(None, RENDER_CAP);
        assert_eq!((hidden, text.lines().count()), (150, 100));
        assert!(text.starts_with("other | n151\n") && text.ends_with("fifth | n250\n"));
        // `fifth` had 50 lines; the 20 among the newest 100 are kept.
        let (hidden, text) = log.tail(Some("fifth"), RENDER_CAP);
        assert_eq!((hidden, text.lines().count()), (30, 20));
        assert_eq!(text.lines().next(), Some("n155"));
        assert_eq!(log.tail(Some("fifth"), 5).0, 45);
    }

    #[test]
    fn lines_show_their_time_in_the_readers_zone_and_steps_their_duration() {
        let mut log = RunLog::default();
        log.apply(1, PLAN);
        // 2026-12-01 15:04:05.250 UTC.
        let at = 1_796_137_445_250u64;
        log.apply(
            2,
            &format!(r#"{{"event":"log","step":"unit","id":"1.1","service":"app","line":"ok 1","at_ms":{at}}}"#),
        );
        log.apply(3, r#"{"event":"info","message":"building app"}"#);
        log.apply(4, r#"{"event":"step_status","step":"unit","id":"1.1","status":"success","duration_ms":4250}"#);
        assert_eq!(log.tail(None, RENDER_CAP).1, "unit | ok 1\nslipway: building app\n", "no times unless asked");
        log.clock = Some(|_| 60); // UTC+1
        assert_eq!(log.tail(None, RENDER_CAP).1, "16:04:05 unit | ok 1\n         slipway: building app\n");
        assert_eq!(log.tail(Some("1.1"), RENDER_CAP).1, "16:04:05 ok 1\n");
        assert_eq!((log.duration_ms("1.1"), log.duration_ms("1.2")), (Some(4250), None));
        assert_eq!(clock_time(at, -300), "10:04:05");
        assert_eq!(clock_time(0, -60), "23:00:00", "before midnight UTC, west of it");
        let shown: Vec<String> = [0, 999, 1000, 4250, 59_999, 60_000, 185_000].map(format_duration).into();
        assert_eq!(shown, ["0 ms", "999 ms", "1.0 s", "4.2 s", "60.0 s", "1 m 00 s", "3 m 05 s"]);
    }

    #[test]
    fn builds_have_their_own_lane_and_a_cancel_says_cancelled_once() {
        let mut log = RunLog::default();
        log.apply(1, PLAN);
        log.apply(
            2,
            r#"{"event":"log","step":"unit","id":"1.1","service":"app","line":"Step 1/2 : FROM busybox","build":true}"#,
        );
        log.apply(3, r#"{"event":"log","step":"unit","id":"1.1","service":"app","line":"ok 1"}"#);
        log.apply(4, r#"{"event":"step_status","step":"unit","id":"1.1","status":"cancelled","message":"cancelled"}"#);
        log.apply(5, r#"{"event":"run_finished","status":"cancelled","error":"cancelled"}"#);
        assert_eq!(
            log.tail(None, RENDER_CAP).1,
            "build app | Step 1/2 : FROM busybox\nunit | ok 1\nunit | cancelled\n"
        );
        assert_eq!(log.tail(Some(BUILD_LANE), RENDER_CAP).1, "Step 1/2 : FROM busybox\n");
        assert_eq!(log.tail(Some("1.1"), RENDER_CAP).1, "ok 1\ncancelled\n");
        assert!(log.has_builds());
        assert_eq!(log.finished, Some((RunStatus::Cancelled, None)));
    }

    #[test]
    fn the_first_failure_is_kept_and_lines_are_numbered_in_their_lane() {
        let mut log = RunLog::keeping(4);
        log.apply(1, PLAN);
        for (seq, (id, line)) in
            [("1.1", "a"), ("1.2", "b"), ("1.1", "c"), ("1.2", "d"), ("1.2", "e")].iter().enumerate()
        {
            log.apply(
                seq as u64 + 2,
                &format!(r#"{{"event":"log","step":"s","id":"{id}","service":"app","line":"{line}"}}"#),
            );
        }
        log.apply(9, r#"{"event":"step_status","step":"lint","id":"1.2","status":"failed","message":"exit 1"}"#);
        log.apply(10, r#"{"event":"step_status","step":"unit","id":"1.1","status":"failed","message":"exit 2"}"#);
        assert_eq!(log.first_failed.as_deref(), Some("1.2"));
        let numbers = |lines: Vec<ShownLine>| lines.into_iter().map(|l| (l.n, l.text)).collect::<Vec<_>>();
        // 7 lines in all, the newest 4 kept.
        assert_eq!(log.tail_lines(None, 2).0, 5);
        assert_eq!(
            numbers(log.tail_lines(None, 2).1),
            [(6, "lint | failed: exit 1".into()), (7, "unit | failed: exit 2".into())]
        );
        // lint: b d e "failed", of which d e "failed" are kept.
        assert_eq!(numbers(log.head_lines("1.2", 2).1), [(2, "d".into()), (3, "e".into())]);
        assert_eq!(log.head_lines("1.2", 2).0, 1, "one later line not shown");
    }

    #[test]
    fn the_plan_event_names_the_commit_and_whether_the_files_were_edited() {
        let mut log = RunLog::default();
        log.apply(1, &PLAN.replacen('{', r#"{"commit":"56e3f2d0","edited":true,"#, 1));
        assert_eq!((log.commit.as_deref(), log.edited), (Some("56e3f2d0"), true));
        let mut old = RunLog::default();
        old.apply(1, PLAN);
        assert_eq!((old.commit.as_deref(), old.edited), (None, false));
    }

    #[test]
    fn unknown_events_and_bad_json_change_nothing_but_the_position() {
        let mut log = RunLog::default();
        log.apply(1, r#"{"event":"something_new","x":1}"#);
        log.apply(2, "not json");
        assert_eq!((log.line_count(), log.last_seq), (0, 2));
    }

    #[test]
    fn each_line_takes_the_zone_offset_of_its_own_time() {
        // A run across the end of summer time in Berlin (2026-10-25 01:00 UTC): +2 h, then +1 h.
        let change = 1_792_890_000_000u64;
        let mut log = RunLog { clock: Some(|ms| if ms < 1_792_890_000_000 { 120 } else { 60 }), ..RunLog::default() };
        for (seq, at) in [(1, change - 60_000), (2, change + 60_000)] {
            log.apply(
                seq,
                &format!(r#"{{"event":"log","step":"unit","id":"1.1","service":"app","line":"l{seq}","at_ms":{at}}}"#),
            );
        }
        assert_eq!(log.tail(None, RENDER_CAP).1, "02:59:00 unit | l1\n02:01:00 unit | l2\n");
    }
}
