//! A run's steps and its events, in order: every (already masked) event the run manager
//! stores, which followers page through.

use super::{StepRow, Store, column};
use anyhow::Result;
use rusqlite::{OptionalExtension, params};
use slipway_core::run_state::StepStatus;

impl Store {
    pub fn upsert_step(
        &self,
        run: &str,
        id: &str,
        name: &str,
        status: StepStatus,
        duration_ms: Option<u64>,
        message: Option<&str>,
    ) -> Result<()> {
        let c = self.conn();
        let position: i64 =
            c.query_row("SELECT COALESCE(MAX(position), 0) + 1 FROM steps WHERE run_id = ?1", [run], |r| r.get(0))?;
        c.execute(
            "INSERT INTO steps (run_id, step_id, name, status, duration_ms, message, position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (run_id, step_id) DO UPDATE SET status = ?4, duration_ms = ?5, message = ?6",
            params![run, id, name, status.as_str(), duration_ms.map(|d| d as i64), message, position],
        )?;
        Ok(())
    }

    pub fn steps(&self, run: &str) -> Result<Vec<StepRow>> {
        Ok(self
            .conn()
            .prepare(
                "SELECT step_id, name, status, duration_ms, message FROM steps WHERE run_id = ?1 ORDER BY position",
            )?
            .query_map([run], |r| {
                Ok(StepRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    status: column(r, 2, StepStatus::parse)?,
                    duration_ms: r.get(3)?,
                    message: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    pub fn append_event(&self, run: &str, seq: u64, data: &str) -> Result<()> {
        self.append_events(run, &[(seq, data.to_string())])
    }

    /// Several events in one transaction: a chatty build logs thousands of lines a second,
    /// and a commit per line would make the database the bottleneck.
    pub fn append_events(&self, run: &str, events: &[(u64, String)]) -> Result<()> {
        self.append_agent_events(run, events, None)
    }

    /// [`append_events`](Store::append_events), and (`agent_events`) how many of the run's
    /// events from elsewhere these bring the stored ones to, in the same transaction: the
    /// count and the events are stored together or not at all.
    pub fn append_agent_events(&self, run: &str, events: &[(u64, String)], agent_events: Option<u64>) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached("INSERT INTO events (run_id, seq, data) VALUES (?1, ?2, ?3)")?;
            for (seq, data) in events {
                insert.execute(params![run, *seq as i64, data])?;
            }
        }
        if let Some(n) = agent_events {
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            tx.execute("UPDATE runs SET agent_events = MAX(agent_events, ?2) WHERE id = ?1", params![run, n])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// How many of the run's events from elsewhere were stored (see `append_agent_events`).
    pub fn agent_events(&self, run: &str) -> Result<u64> {
        let n: Option<i64> =
            self.conn().query_row("SELECT agent_events FROM runs WHERE id = ?1", [run], |r| r.get(0)).optional()?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    /// At most `limit` events after `after`, in order: callers page through long logs rather
    /// than holding a whole run's log in memory.
    pub fn events_after(&self, run: &str, after: u64, limit: u32) -> Result<Vec<(u64, String)>> {
        // SQLite's integers are i64: a larger `after` (from `Last-Event-ID`) is after every event,
        // not (as a wrapping cast made it) before the first.
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        Ok(self
            .conn()
            .prepare_cached("SELECT seq, data FROM events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?
            .query_map(params![run, after, limit], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The number of the run's last event (0 if none).
    pub fn last_event(&self, run: &str) -> Result<u64> {
        let n: Option<i64> =
            self.conn().query_row("SELECT MAX(seq) FROM events WHERE run_id = ?1", params![run], |r| r.get(0))?;
        Ok(n.unwrap_or(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count of a run's events from elsewhere goes with them: stored in the same
    /// transaction, never lowered by a late batch, and not moved by a batch that fails.
    #[test]
    fn agent_events_are_counted_with_the_events() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        s.insert_run("a", "p", None, false, "{}").unwrap();
        assert_eq!(s.agent_events("a").unwrap(), 0);
        s.append_agent_events("a", &[(1, "{}".into()), (2, "{}".into())], Some(2)).unwrap();
        assert_eq!(s.agent_events("a").unwrap(), 2);
        // Event 2 is stored already: the batch fails as a whole, the count stays.
        assert!(s.append_agent_events("a", &[(3, "{}".into()), (2, "{}".into())], Some(5)).is_err());
        assert_eq!((s.agent_events("a").unwrap(), s.last_event("a").unwrap()), (2, 2));
        // A batch of the server's own events only, or an agent's events the log cap dropped.
        s.append_agent_events("a", &[(3, "{}".into())], None).unwrap();
        s.append_agent_events("a", &[], Some(4)).unwrap();
        s.append_agent_events("a", &[], Some(3)).unwrap();
        assert_eq!((s.agent_events("a").unwrap(), s.last_event("a").unwrap()), (4, 3));
        assert_eq!(s.agent_events("nope").unwrap(), 0);
    }

    /// Two steps may share a name (under different groups); each keeps its own row.
    #[test]
    fn steps_are_kept_by_id_not_by_name() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        s.insert_run("a", "p", None, false, "{}").unwrap();
        s.upsert_step("a", "1.1", "deploy", StepStatus::Success, Some(5), None).unwrap();
        s.upsert_step("a", "2.1", "deploy", StepStatus::Running, None, None).unwrap();
        s.upsert_step("a", "2.1", "deploy", StepStatus::Failed, Some(7), Some("exit 1")).unwrap();
        let rows: Vec<(String, String, StepStatus)> =
            s.steps("a").unwrap().into_iter().map(|r| (r.id, r.name, r.status)).collect();
        assert_eq!(
            rows,
            [
                ("1.1".to_string(), "deploy".to_string(), StepStatus::Success),
                ("2.1".to_string(), "deploy".to_string(), StepStatus::Failed)
            ]
        );
    }
}
