//! The pushes that queued a run, kept beyond the runs themselves: a captured delivery replayed
//! under a new delivery id (the id is not signed) must not build again once retention
//! (`--keep-runs`) has deleted its run and its delivery id. A tag stays at its commit for ever
//! and a branch's newest push is its head, so the head check alone lets such a replay run an
//! old release's deploy steps again, or the current head's.
//!
//! A push is known by its [`crate::forge::trigger::event_key`] (ref, `before`, `after`, and
//! the forge's push time where it sends one), so a new push, or a force-push back to an older
//! commit (its `before` differs), is not taken for a replay. The rows are small (a 64-character
//! key, a run id, a time) and bounded: each project keeps the newest [`KEEP_PER_PROJECT`] of
//! its tag pushes and as many of its other events (so that a busy branch cannot push a
//! release's record out). Beyond that the oldest are forgotten, and a replay of such a push is
//! refused only by the head check (a branch) or not at all (a tag whose run was deleted too).
//!
//! The table is made here, on open, rather than as one of `schema.rs`'s numbered migrations:
//! it depends on nothing else there.

use crate::forge::run_trigger::{RunTrigger, TriggerKind};
use anyhow::Result;
use rusqlite::{Connection, OptionalExtension, params};

/// Records kept per project and kind (tag pushes; other events): ten thousand releases,
/// ten thousand pushes and pull request updates, about 150 bytes each.
pub const KEEP_PER_PROJECT: usize = 10_000;

pub(super) fn create(c: &Connection) -> Result<()> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS triggered_pushes (
            id INTEGER PRIMARY KEY,
            project TEXT NOT NULL,
            tag INTEGER NOT NULL,
            event_key TEXT NOT NULL,
            run_id TEXT NOT NULL,
            at INTEGER NOT NULL,
            UNIQUE (project, event_key)
        );
        CREATE INDEX IF NOT EXISTS triggered_pushes_by_age ON triggered_pushes (project, tag, id);",
    )?;
    Ok(())
}

/// The run the push `t` queued before, if it did (the run itself may be gone).
pub(super) fn seen(c: &Connection, project: &str, t: &RunTrigger) -> Result<Option<String>> {
    let Some(key) = &t.event_key else { return Ok(None) };
    Ok(c.query_row(
        "SELECT run_id FROM triggered_pushes WHERE project = ?1 AND event_key = ?2",
        params![project, key],
        |r| r.get(0),
    )
    .optional()?)
}

/// Remember that `t` queued run `id`, and forget the records of `project` beyond the newest
/// `keep` of `t`'s kind.
pub(super) fn record(c: &Connection, project: &str, t: &RunTrigger, id: &str, at: i64, keep: usize) -> Result<()> {
    let Some(key) = &t.event_key else { return Ok(()) };
    let tag = t.kind == TriggerKind::Tag;
    c.execute(
        "INSERT OR IGNORE INTO triggered_pushes (project, tag, event_key, run_id, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![project, tag, key, id, at],
    )?;
    c.execute(
        "DELETE FROM triggered_pushes WHERE project = ?1 AND tag = ?2 AND id <= (
            SELECT id FROM triggered_pushes WHERE project = ?1 AND tag = ?2 ORDER BY id DESC LIMIT 1 OFFSET ?3)",
        params![project, tag, keep as i64],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(key: &str, kind: TriggerKind) -> RunTrigger {
        let mut t = RunTrigger::from_poll("main", "0123456789012345678901234567890123456789");
        t.kind = kind;
        t.event_key = Some(key.to_string());
        t
    }

    #[test]
    fn each_project_keeps_the_newest_records_of_each_kind() {
        let c = Connection::open_in_memory().unwrap();
        create(&c).unwrap();
        record(&c, "web", &push("release", TriggerKind::Tag), "r0", 0, 3).unwrap();
        for i in 0..10 {
            record(&c, "web", &push(&format!("p{i}"), TriggerKind::Push), &format!("r{}", i + 1), 0, 3).unwrap();
        }
        record(&c, "api", &push("p0", TriggerKind::Push), "other", 0, 3).unwrap();
        let kept = |project: &str| -> Vec<String> {
            let mut s = c.prepare("SELECT event_key FROM triggered_pushes WHERE project = ?1 ORDER BY id").unwrap();
            s.query_map([project], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
        };
        // Ten pushes did not push the tag's record out; the oldest pushes went.
        assert_eq!(kept("web"), ["release", "p7", "p8", "p9"]);
        assert_eq!(kept("api"), ["p0"]);
        assert_eq!(seen(&c, "web", &push("release", TriggerKind::Tag)).unwrap().as_deref(), Some("r0"));
        assert_eq!(seen(&c, "web", &push("p0", TriggerKind::Push)).unwrap(), None);
        // A polled head has no key: never recorded, never a replay.
        let polled = RunTrigger::from_poll("main", "0123456789012345678901234567890123456789");
        record(&c, "web", &polled, "r-poll", 0, 3).unwrap();
        assert_eq!(seen(&c, "web", &polled).unwrap(), None);
    }

    /// Retention deletes the run and its delivery id; the record of the push stays, also
    /// across a restart, so the push's delivery under a new id queues nothing.
    #[test]
    fn the_record_outlives_retention_and_restarts() {
        use crate::store::{Inserted, NewTriggeredRun, SameCommit, Store};
        use slipway_core::run_state::RunStatus;
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db.sqlite");
        let mut tag = push("tag-v1", TriggerKind::Tag);
        tag.tag = Some("v1".into());
        tag.delivery = Some("d-1".into());
        let queue = |s: &Store, id: &str, tag: &RunTrigger| {
            let same_commit = Some(SameCommit::Built { line: "tag:v1", commit: &tag.commit_id });
            let run = NewTriggeredRun {
                id,
                project: "web",
                push: true,
                request: "{}",
                trigger: tag,
                line: Some("tag:v1"),
                same_commit,
            };
            s.queue_triggered_run(&run).unwrap()
        };
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(queue(&s, "r1", &tag), Inserted::Queued);
            assert!(s.start("r1").unwrap() && s.finish("r1", RunStatus::Success, None, "{}", "success").unwrap());
            assert_eq!(s.prune_runs("web", 0).unwrap(), 1);
            assert!(s.run("r1").unwrap().is_none());
        }
        let s = Store::open(&path).unwrap();
        tag.delivery = Some("d-1-replayed".into());
        assert_eq!(queue(&s, "r2", &tag), Inserted::Replayed("r1".into()));
        assert!(s.run("r2").unwrap().is_none(), "nothing queued");
        // Another push (another key) of the same tag and commit: the run-based look is gone
        // with the run, and this one is new.
        tag.event_key = Some("tag-v1-pushed-again".into());
        assert_eq!(queue(&s, "r3", &tag), Inserted::Queued);
    }
}
