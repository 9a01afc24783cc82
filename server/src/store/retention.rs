//! Retention: a project's ended runs beyond its newest `--keep-runs` go, with what they
//! stored, and the database gives their space back.

use super::Store;
use anyhow::Result;
use rusqlite::{OptionalExtension, params};
use slipway_core::run_state::RunStatus;

/// Events deleted per transaction when a run goes: whoever else uses the database waits at
/// most that long.
const DELETE_BATCH: i64 = 2000;

/// Free pages given back per step of [`Store::compact`].
const VACUUM_PAGES: i64 = 2000;

impl Store {
    /// Delete `project`'s ended runs beyond its newest `keep` (queued and running runs stay,
    /// however old), with their steps, events and deliveries; the number deleted. A run's
    /// events go a batch per transaction: a 50 MB log does not hold the database for long.
    pub fn prune_runs(&self, project: &str, keep: usize) -> Result<usize> {
        let old: Vec<(String, String)> = self
            .conn()
            .prepare("SELECT id, status FROM runs WHERE project = ?1 ORDER BY seq DESC LIMIT -1 OFFSET ?2")?
            .query_map(params![project, keep as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut deleted = 0;
        for (id, status) in old {
            if !RunStatus::parse(&status).is_some_and(|s| s.is_finished()) {
                continue;
            }
            loop {
                let n = self.conn().execute(
                    "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE run_id = ?1 LIMIT ?2)",
                    params![id, DELETE_BATCH],
                )?;
                if n == 0 {
                    break;
                }
            }
            let mut c = self.conn();
            let tx = c.transaction()?;
            tx.execute("DELETE FROM steps WHERE run_id = ?1", [&id])?;
            tx.execute("DELETE FROM deliveries WHERE run_id = ?1", [&id])?;
            // (A run that ended cannot start again, so the status test is only a guard.)
            deleted += tx.execute(
                "DELETE FROM runs WHERE id = ?1 AND status NOT IN (?2, ?3)",
                params![id, RunStatus::Queued.as_str(), RunStatus::Running.as_str()],
            )?;
            tx.commit()?;
        }
        Ok(deleted)
    }

    /// Give free pages back to the file system, a few at a time, then truncate the write-ahead
    /// log: the database file shrinks by what deleted runs held.
    pub fn compact(&self) -> Result<()> {
        let mut before = i64::MAX;
        loop {
            let c = self.conn();
            let free: i64 = c.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
            // (Not shrinking any more: the database is not in incremental mode.)
            if free == 0 || free >= before {
                break;
            }
            before = free;
            c.query_row(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"), [], |_| Ok(())).optional()?;
        }
        self.conn().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).optional()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::run_trigger::RunTrigger;
    use crate::store::NewTriggeredRun;
    use slipway_core::run_state::StepStatus;

    /// Retention: only ended runs beyond the newest `keep` of the project go, with their
    /// events, steps and deliveries; other projects and running runs are left alone.
    #[test]
    fn old_ended_runs_go_with_everything_they_stored() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        for id in ["a", "b", "c", "d"] {
            let mut t = RunTrigger::from_poll("main", "0123456789012345678901234567890123456789");
            t.delivery = Some(id.to_string());
            let run = NewTriggeredRun {
                id,
                project: "web",
                push: true,
                request: "{}",
                trigger: &t,
                line: None,
                same_commit: None,
            };
            s.queue_triggered_run(&run).unwrap();
        }
        s.insert_run("other", "api", None, false, "{}").unwrap();
        assert!(s.start("a").unwrap(), "a stays running");
        for id in ["b", "c"] {
            assert!(s.start(id).unwrap());
            s.append_events(id, &[(1, "{}".into()), (2, "{}".into())]).unwrap();
            s.upsert_step(id, "1", "t", StepStatus::Success, Some(1), None).unwrap();
            assert!(s.finish(id, RunStatus::Success, None, "{}", "success").unwrap());
        }
        assert_eq!(s.prune_runs("web", 2).unwrap(), 1, "b goes; a is running, c and d are the newest two");
        assert!(s.run("b").unwrap().is_none() && s.run("a").unwrap().is_some() && s.run("other").unwrap().is_some());
        assert!(s.events_after("b", 0, 10).unwrap().is_empty() && s.steps("b").unwrap().is_empty());
        let deliveries: i64 =
            s.conn().query_row("SELECT COUNT(*) FROM deliveries WHERE run_id = 'b'", [], |r| r.get(0)).unwrap();
        assert_eq!(deliveries, 0);
        assert_eq!(s.prune_runs("web", 2).unwrap(), 0);
        s.compact().unwrap();
        let mode: i64 = s.conn().pragma_query_value(None, "auto_vacuum", |r| r.get(0)).unwrap();
        assert_eq!(mode, 2, "incremental");
    }
}
