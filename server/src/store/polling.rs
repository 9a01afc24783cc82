//! What polling remembers: the branch heads it last saw, and whether a run of a commit exists.

use super::{Store, now};
use anyhow::Result;
use rusqlite::{OptionalExtension, params};

impl Store {
    /// Whether `project` has a run of `commit` on `branch` already (a webhook's, say): polling
    /// does not build it again.
    pub fn has_run_of(&self, project: &str, branch: &str, commit: &str) -> Result<bool> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM runs WHERE project = ?1 AND trigger_json IS NOT NULL
               AND json_extract(trigger_json, '$.branch') = ?2 AND json_extract(trigger_json, '$.commit_id') = ?3",
            params![project, branch, commit],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// The branch heads polling last saw for `project`, by branch; `None` if it never polled.
    pub fn poll_heads(&self, project: &str) -> Result<Option<std::collections::BTreeMap<String, String>>> {
        let c = self.conn();
        let polled: Option<i64> =
            c.query_row("SELECT at FROM polled WHERE project = ?1", [project], |r| r.get(0)).optional()?;
        if polled.is_none() {
            return Ok(None);
        }
        Ok(Some(
            c.prepare("SELECT branch, commit_id FROM poll_heads WHERE project = ?1")?
                .query_map([project], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?,
        ))
    }

    /// Remember the heads polling saw (branches gone from the remote are forgotten).
    pub fn set_poll_heads(&self, project: &str, heads: &[(String, String)]) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        tx.execute("DELETE FROM poll_heads WHERE project = ?1", [project])?;
        tx.execute("INSERT OR REPLACE INTO polled (project, at) VALUES (?1, ?2)", params![project, now()])?;
        for (branch, commit) in heads {
            tx.execute(
                "INSERT INTO poll_heads (project, branch, commit_id) VALUES (?1, ?2, ?3)",
                params![project, branch, commit],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::run_trigger::RunTrigger;
    use crate::store::NewTriggeredRun;

    #[test]
    fn polled_heads_say_whether_a_project_was_ever_polled() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        assert_eq!(s.poll_heads("web").unwrap(), None);
        s.set_poll_heads("web", &[]).unwrap();
        assert_eq!(s.poll_heads("web").unwrap(), Some(Default::default()));
        s.set_poll_heads("web", &[("main".into(), "abc".into())]).unwrap();
        assert_eq!(s.poll_heads("web").unwrap().unwrap().get("main").map(String::as_str), Some("abc"));
        assert_eq!(s.poll_heads("api").unwrap(), None);
        let t = RunTrigger::from_poll("main", "0123456789012345678901234567890123456789");
        assert!(!s.has_run_of("web", "main", &t.commit_id).unwrap());
        let run = NewTriggeredRun {
            id: "a",
            project: "web",
            push: true,
            request: "{}",
            trigger: &t,
            line: None,
            same_commit: None,
        };
        s.queue_triggered_run(&run).unwrap();
        assert!(s.has_run_of("web", "main", &t.commit_id).unwrap());
        assert!(!s.has_run_of("web", "dev", &t.commit_id).unwrap());
        assert!(!s.has_run_of("api", "main", &t.commit_id).unwrap());
    }
}
