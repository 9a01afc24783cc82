//! A server run as the studio follows it: the plan (the run's first event), each step's
//! status, and the log. A chatty build sends thousands of events per second; they land here
//! without touching the DOM, and the Run panel renders a capped tail a few times per second.
//! The page keeps the newest `KEEP_LINES` lines of a run; the full log is downloaded from the
//! server.

use serde::Deserialize;
use slipway_core::plan::{Plan, PlannedStep};
use slipway_core::run_state::{RunStatus, StepStatus};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// Lines shown in the log view; the rest are in the download.
pub const RENDER_CAP: usize = 1000;

/// Lines the page keeps of one run (about 10 MB of text at most); older ones are dropped.
pub const KEEP_LINES: usize = 100_000;

/// One event of `GET /api/runs/{id}/events`, as the server's executor and run manager write
/// it. Flat rather than a tagged enum: serde's internally tagged enums buffer every event
/// through a generic `Content` tree, which cost 25 KB of the studio's download.
#[derive(Deserialize)]
struct RunEvent {
    event: String,
    plan: Option<Plan>,
    /// The step's label; `id` identifies it (events of servers before ids: the label).
    step: Option<String>,
    #[serde(default)]
    id: String,
    line: Option<String>,
    message: Option<String>,
    group: Option<String>,
    /// A `StepStatus` in `step_status`, a `RunStatus` in `run_finished`.
    status: Option<String>,
    error: Option<String>,
    /// A finished step's time (`step_status`).
    duration_ms: Option<u64>,
    /// When a log line was read (Unix ms); servers before 2026-12 sent none.
    at_ms: Option<u64>,
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
    /// The id of the `manual` group waiting for approval, if any.
    pub waiting: Option<String>,
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
        let Ok(e) = serde_json::from_str::<RunEvent>(data) else { return };
        let label = e.step.or(e.group).unwrap_or_default();
        // Steps are identified by id: names repeat under different groups.
        let step = if e.id.is_empty() { label.clone() } else { e.id };
        match e.event.as_str() {
            "plan" => self.plan = e.plan,
            "log" => self.push(&step, &label, e.line.unwrap_or_default(), e.at_ms),
            "info" => self.push("", "", e.message.unwrap_or_default(), None),
            "waiting" => {
                self.push("", "", format!("waiting for approval of `{label}`"), None);
                self.waiting = Some(step);
            }
            "step_status" => {
                // A status this studio does not know (from a newer server): nothing to draw.
                let Some(status) = e.status.as_deref().and_then(StepStatus::parse) else { return };
                if status == StepStatus::Running {
                    self.waiting = None;
                }
                if let Some(m) = &e.message {
                    self.push(&step, &label, format!("{status}: {m}"), None);
                }
                match e.duration_ms {
                    Some(ms) => self.durations.insert(step.clone(), ms),
                    None => self.durations.remove(&step),
                };
                self.statuses.insert(step, (status, e.message));
            }
            "run_finished" => {
                self.waiting = None;
                let status = e.status.as_deref().and_then(RunStatus::parse).unwrap_or(RunStatus::Error);
                self.finished = Some((status, e.error));
            }
            // Events a newer server may add: ignored, not an error.
            _ => {}
        }
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
        if self.waiting.as_deref() == Some(node.id.as_str()) {
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

    /// The last `cap` lines (of one step, by id, or of all with step labels) and how many
    /// earlier lines are not shown.
    pub fn tail(&self, step: Option<&str>, cap: usize) -> (usize, String) {
        let mut out = String::new();
        match step {
            Some(s) => {
                let Some(l) = self.by_step.get(s) else { return (0, out) };
                let from = l.kept.len().saturating_sub(cap);
                for &i in l.kept.range(from..) {
                    let line = &self.lines[i - self.dropped];
                    self.write_time(&mut out, line);
                    out.push_str(&line.text);
                    out.push('\n');
                }
                (l.total - (l.kept.len() - from), out)
            }
            None => {
                let from = self.lines.len().saturating_sub(cap);
                for line in self.lines.range(from..) {
                    self.write_time(&mut out, line);
                    write_line(&mut out, line);
                }
                (self.dropped + from, out)
            }
        }
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
    out.push('\n');
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
        assert_eq!((log.waiting.as_deref(), log.node_status(&group)), (None, Some("running")));
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
