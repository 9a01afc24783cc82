//! Lines of work, and what one run of a line does to the others: which older runs a new one
//! supersedes, which delivery came late, which commit is being built already. A branch's
//! pushes and polled heads are one line, one pull request's updates another, a tag's pushes a
//! third kind (a tag does not move: its runs supersede nothing). The store keeps each run's
//! line (the `line` column, named by [`Line::key`]) and finds rows by it; the rules are here.

use super::trigger::{RunTrigger, TriggerKind};
use crate::store::{SameCommit, Store};
use anyhow::Result;

/// How long after a push's run a delivery of the push before it counts as late, not new.
pub const LATE_DELIVERY_WINDOW_SECS: i64 = 600;

/// The line of work a run belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A branch's pushes and polled heads.
    Branch(String),
    /// One pull request's updates (a push to its branch is the branch's line, not this one:
    /// a push to a branch with an open pull request brings both events, and neither cancels
    /// the other).
    PullRequest(u64),
    /// A tag's pushes.
    Tag(String),
}

impl Line {
    pub fn of(t: &RunTrigger) -> Option<Line> {
        match (t.kind, &t.branch, t.pr_number, &t.tag) {
            (TriggerKind::Push | TriggerKind::Poll, Some(b), _, _) => Some(Line::Branch(b.clone())),
            (TriggerKind::PullRequest, _, Some(n), _) => Some(Line::PullRequest(n)),
            (TriggerKind::Tag, _, _, Some(tag)) => Some(Line::Tag(tag.clone())),
            _ => None,
        }
    }

    /// The line's name in the store. Runs stored before the column existed were named by the
    /// store's migration (`store/schema.rs`) the same way: keep the two alike.
    pub fn key(&self) -> String {
        match self {
            Line::Branch(b) => format!("branch:{b}"),
            Line::PullRequest(n) => format!("pull_request:{n}"),
            Line::Tag(t) => format!("tag:{t}"),
        }
    }

    /// Whether the line's head moves, so that a newer run makes the older ones moot.
    fn moves(&self) -> bool {
        !matches!(self, Line::Tag(_))
    }
}

/// How to look for a run that builds `t`'s commit already, so that a second delivery of it
/// under a new id (the id is not signed: a replay) starts nothing: for a branch or pull
/// request, a queued or running run of its line (it must not be cancelled to build the same
/// commit again); for a tag, any run of the tag at that commit that was not late (a tag does
/// not move, so the head check would let an old release's delivery through again and again),
/// named by the commit or by the annotated tag's object a delivery named instead
/// (`RunTrigger::tag_object`). `key` is `line`'s [`Line::key`].
pub fn same_commit<'a>(line: &Line, key: &'a str, t: &'a RunTrigger) -> SameCommit<'a> {
    match line.moves() {
        true => SameCommit::Building { line: key, commit: &t.commit_id },
        false => SameCommit::Built { line: key, commit: &t.commit_id },
    }
}

/// Queued or running runs of `project`, older than `run` (the new one), that `t` supersedes
/// (only older ones: two runs of one head queued together by a webhook and a poll must not
/// cancel each other, leaving the commit unbuilt): the earlier runs of its branch or pull
/// request. Tags supersede nothing.
pub fn superseded(store: &Store, project: &str, t: &RunTrigger, run: &str) -> Result<Vec<String>> {
    match Line::of(t).filter(Line::moves) {
        Some(line) => store.active_runs_before(project, &line.key(), run),
        None => Ok(Vec::new()),
    }
}

/// The run of a later push that arrived before `t` (deliveries out of order), if there is one:
/// see [`is_later_push`].
pub fn later_push(store: &Store, project: &str, t: &RunTrigger, except: &str) -> Result<Option<String>> {
    let Some(line) = Line::of(t).filter(Line::moves) else { return Ok(None) };
    let Some(newest) = store.newest_on_line(project, &line.key(), except)? else { return Ok(None) };
    let late = newest.trigger.is_some_and(|n| is_later_push(&n, newest.created_at, t, crate::store::now()));
    Ok(late.then_some(newest.id))
}

/// Whether the newest run of `t`'s line (`newer`, queued at `created_at`) makes `t` a late
/// delivery: it moved the ref on from `t`'s commit, `t` did not come from its commit (a
/// force-push back to an older commit is new, not late), and it is recent (within
/// [`LATE_DELIVERY_WINDOW_SECS`]: a branch deleted and made again at an old commit later is
/// new too).
pub fn is_later_push(newer: &RunTrigger, created_at: i64, t: &RunTrigger, now: i64) -> bool {
    newer.before.as_deref() == Some(t.commit_id.as_str())
        && t.before.as_deref() != Some(newer.commit_id.as_str())
        && now - created_at <= LATE_DELIVERY_WINDOW_SECS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewTriggeredRun;
    use slipway_core::run_state::RunStatus;

    fn trigger(kind: &str, branch: Option<&str>, delivery: Option<&str>) -> RunTrigger {
        let mut t = RunTrigger::from_poll("x", "0123456789012345678901234567890123456789");
        t.kind = serde_json::from_value(serde_json::json!(kind)).unwrap();
        t.branch = branch.map(str::to_string);
        t.tag = (kind == "tag").then(|| "v1".to_string());
        t.delivery = delivery.map(str::to_string);
        t
    }

    /// Queued as the run manager queues it (with its line), without the look for a run of
    /// the same commit.
    fn insert(s: &Store, id: &str, project: &str, t: &RunTrigger) {
        let key = Line::of(t).map(|l| l.key());
        let run = NewTriggeredRun {
            id,
            project,
            push: true,
            request: "{}",
            trigger: t,
            line: key.as_deref(),
            same_commit: None,
        };
        s.queue_triggered_run(&run).unwrap();
    }

    fn cancel(s: &Store, id: &str) -> bool {
        s.cancel_queued(id, "x", "{}", "canceled").unwrap()
    }

    fn same_commit_run(s: &Store, project: &str, t: &RunTrigger) -> Result<Option<String>> {
        let Some(line) = Line::of(t) else { return Ok(None) };
        let key = line.key();
        s.same_commit_run(project, &same_commit(&line, &key, t))
    }

    #[test]
    fn each_trigger_has_the_line_its_kind_names() {
        let mut pr = trigger("pull_request", Some("feature"), None);
        pr.pr_number = Some(7);
        assert_eq!(Line::of(&pr), Some(Line::PullRequest(7)));
        assert_eq!(Line::of(&trigger("push", Some("main"), None)), Some(Line::Branch("main".into())));
        assert_eq!(Line::of(&trigger("poll", Some("main"), None)), Some(Line::Branch("main".into())));
        assert_eq!(Line::of(&trigger("tag", None, None)), Some(Line::Tag("v1".into())));
        assert_eq!(Line::of(&trigger("push", None, None)), None);
        // The names the store's migration gave runs queued before the column existed.
        assert_eq!(Line::PullRequest(7).key(), "pull_request:7");
        assert_eq!(Line::Branch("main".into()).key(), "branch:main");
        assert_eq!(Line::Tag("v1".into()).key(), "tag:v1");
    }

    /// A database of the schema before the `line` column: after the migration, a new push
    /// supersedes the older runs of its branch, and a pull request's those of the pull
    /// request, as they did when the rules were SQL over the trigger.
    #[test]
    fn runs_queued_before_the_line_column_are_superseded_as_before() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db.sqlite");
        let main = trigger("push", Some("main"), None);
        let mut pr = trigger("pull_request", Some("main"), None);
        pr.pr_number = Some(7);
        {
            let c = crate::store::create_at_version(&path, 5);
            for (id, t) in [("old-main", &main), ("old-pr", &pr)] {
                c.execute(
                    "INSERT INTO runs (id, seq, project, push, status, request, created_at, trigger_json)
                     VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM runs), 'web', 1, ?2, '{}', 0, ?3)",
                    rusqlite::params![id, RunStatus::Queued.as_str(), serde_json::to_string(t).unwrap()],
                )
                .unwrap();
            }
        }
        let s = Store::open(&path).unwrap();
        insert(&s, "new-main", "web", &main);
        insert(&s, "new-pr", "web", &pr);
        assert_eq!(superseded(&s, "web", &main, "new-main").unwrap(), ["old-main"]);
        assert_eq!(superseded(&s, "web", &pr, "new-pr").unwrap(), ["old-pr"]);
        assert_eq!(same_commit_run(&s, "web", &main).unwrap().as_deref(), Some("new-main"));
    }

    /// What a push to `main` supersedes: the project's queued or running runs on `main`, not
    /// tags, pull requests, other branches, other projects or ended runs.
    #[test]
    fn a_push_supersedes_only_active_runs_of_its_branch() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        let main = trigger("push", Some("main"), None);
        insert(&s, "queued", "web", &main);
        insert(&s, "running", "web", &trigger("poll", Some("main"), None));
        assert!(s.start("running").unwrap());
        insert(&s, "ended", "web", &main);
        assert!(cancel(&s, "ended"));
        insert(&s, "tag", "web", &trigger("tag", None, None));
        insert(&s, "other", "web", &trigger("push", Some("dev"), None));
        insert(&s, "elsewhere", "api", &main);
        let mut pr = trigger("pull_request", Some("main"), None);
        pr.pr_number = Some(7);
        insert(&s, "pr-7", "web", &pr);
        insert(&s, "new", "web", &main);
        assert_eq!(superseded(&s, "web", &main, "new").unwrap(), ["queued", "running"]);
        // The pull request's own later run supersedes its earlier one, not the pushes.
        insert(&s, "pr-7-again", "web", &pr);
        assert_eq!(superseded(&s, "web", &pr, "pr-7-again").unwrap(), ["pr-7"]);
        pr.pr_number = Some(8);
        assert!(superseded(&s, "web", &pr, "x").unwrap().is_empty());
        assert!(superseded(&s, "web", &trigger("tag", None, None), "x").unwrap().is_empty());
        // The race a review found: a polled head and a webhook of the same push, queued one
        // after the other, each then asking what it supersedes. The older must not cancel
        // the newer (before, each cancelled the other and the commit was never built).
        let (polled, hooked) = (trigger("poll", Some("dev"), None), trigger("push", Some("dev"), None));
        insert(&s, "p", "web", &polled);
        insert(&s, "w", "web", &hooked);
        assert!(!superseded(&s, "web", &polled, "p").unwrap().contains(&"w".to_string()));
        assert!(superseded(&s, "web", &hooked, "w").unwrap().contains(&"p".to_string()));
    }

    /// Whether a late delivery is the older push: a run on the same branch (or pull request)
    /// moved the ref on from its commit, whatever that run's state.
    #[test]
    fn a_push_knows_a_later_push_moved_on_from_its_commit() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        let mut pushed_b = trigger("push", Some("main"), None);
        (pushed_b.commit_id, pushed_b.before) = (b.clone(), Some(a.clone()));
        insert(&s, "run-b", "web", &pushed_b);
        assert!(cancel(&s, "run-b"), "ended runs count too");
        let mut pushed_a = trigger("push", Some("main"), None);
        pushed_a.commit_id = a.clone();
        insert(&s, "run-a", "web", &pushed_a);
        assert_eq!(later_push(&s, "web", &pushed_a, "run-a").unwrap().as_deref(), Some("run-b"));
        // Not B itself, another branch, another project, or a pull request of the same commit.
        assert_eq!(later_push(&s, "web", &pushed_b, "run-b").unwrap(), None);
        pushed_a.branch = Some("dev".into());
        assert_eq!(later_push(&s, "web", &pushed_a, "x").unwrap(), None);
        pushed_a.branch = Some("main".into());
        assert_eq!(later_push(&s, "api", &pushed_a, "x").unwrap(), None);
        let mut pr = trigger("pull_request", Some("main"), None);
        (pr.pr_number, pr.commit_id) = (Some(7), a.clone());
        assert_eq!(later_push(&s, "web", &pr, "x").unwrap(), None);
        // A pull request's update that moved its head on from A.
        let mut pr_b = pr.clone();
        (pr_b.commit_id, pr_b.before) = (b, Some(a));
        insert(&s, "pr-b", "web", &pr_b);
        assert_eq!(later_push(&s, "web", &pr, "x").unwrap().as_deref(), Some("pr-b"));
        // A force-push of main back to A comes from B: it is new, not late.
        pushed_a.before = Some(pushed_b.commit_id.clone());
        assert_eq!(later_push(&s, "web", &pushed_a, "x").unwrap(), None);
        // Only the newest run on the line counts: after C (from B), A's late delivery is not B's.
        pushed_a.before = None;
        let mut pushed_c = trigger("push", Some("main"), None);
        (pushed_c.commit_id, pushed_c.before) = ("c".repeat(40), Some(pushed_b.commit_id.clone()));
        insert(&s, "run-c", "web", &pushed_c);
        assert_eq!(later_push(&s, "web", &pushed_a, "x").unwrap(), None);
        // Nor does a run from longer ago than the window (a branch made again at an old commit).
        let mut pushed_d = trigger("push", Some("dev"), None);
        (pushed_d.commit_id, pushed_d.before) = ("d".repeat(40), Some(pushed_a.commit_id.clone()));
        insert(&s, "run-d", "web", &pushed_d);
        let mut on_dev = pushed_a.clone();
        on_dev.branch = Some("dev".into());
        assert_eq!(later_push(&s, "web", &on_dev, "x").unwrap().as_deref(), Some("run-d"));
        s.age_run("run-d", LATE_DELIVERY_WINDOW_SECS + 1).unwrap();
        assert_eq!(later_push(&s, "web", &on_dev, "x").unwrap(), None);
    }

    /// The head's delivery again under a new id finds the run building that commit; a tag's
    /// finds any run of the tag at that commit.
    #[test]
    fn a_run_of_the_same_commit_is_found_on_its_line_or_tag_only() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        let main = trigger("push", Some("main"), Some("d-1"));
        assert_eq!(same_commit_run(&s, "web", &main).unwrap(), None);
        insert(&s, "r", "web", &main);
        assert_eq!(same_commit_run(&s, "web", &main).unwrap().as_deref(), Some("r"));
        assert_eq!(same_commit_run(&s, "web", &trigger("push", Some("dev"), None)).unwrap(), None);
        assert_eq!(same_commit_run(&s, "api", &main).unwrap(), None);
        let mut other = main.clone();
        other.commit_id = "f".repeat(40);
        assert_eq!(same_commit_run(&s, "web", &other).unwrap(), None);
        assert!(cancel(&s, "r"));
        assert_eq!(same_commit_run(&s, "web", &main).unwrap(), None, "an ended run builds nothing");
        // A tag's commit, built once, is not built again on a delivery of the same tag push.
        let tag = trigger("tag", None, Some("t-1"));
        assert_eq!(same_commit_run(&s, "web", &tag).unwrap(), None);
        insert(&s, "t", "web", &tag);
        assert!(cancel(&s, "t"));
        assert_eq!(same_commit_run(&s, "web", &tag).unwrap().as_deref(), Some("t"));
        let mut moved = tag.clone();
        moved.commit_id = "e".repeat(40);
        assert_eq!(same_commit_run(&s, "web", &moved).unwrap(), None);
    }
}
