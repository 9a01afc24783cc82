//! Putting runs in the queue and taking them through their states: every transition says
//! which state it leaves (`UPDATE … WHERE status = …`), so a cancelled run is never started
//! and an ended one never changes again.

use super::{Store, now, triggered};
use crate::forge::run_trigger::RunTrigger;
use anyhow::Result;
use rusqlite::{OptionalExtension, params};
use slipway_core::run_state::{RunStatus, StepStatus};

/// A repository run for [`Store::queue_triggered_run`], with what the run manager decided
/// about it.
pub struct NewTriggeredRun<'a> {
    pub id: &'a str,
    pub project: &'a str,
    pub push: bool,
    pub request: &'a str,
    pub trigger: &'a RunTrigger,
    /// Its line of work as the run manager names it (a branch, a pull request, a tag), if any.
    pub line: Option<&'a str>,
    /// The run that builds its commit already, if the manager asks to look for one: then this
    /// one is not queued ([`Inserted::SameCommit`]).
    pub same_commit: Option<super::SameCommit<'a>>,
}

/// What became of a delivery offered to [`Store::queue_triggered_run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    Queued,
    /// The project has seen this delivery id before: it queued the run named here.
    Duplicate(String),
    /// A run builds the trigger's commit already (as [`NewTriggeredRun::same_commit`] asked):
    /// that run. Looked at in the insert's own transaction, so that concurrent deliveries of
    /// one commit queue exactly one run.
    SameCommit(String),
    /// The same push (by its event key, not its delivery id) queued the run named here before:
    /// a replay. The run may have been deleted since (retention); the record outlives it.
    Replayed(String),
}

/// The oldest queued run: its id and its stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRun {
    pub id: String,
    pub request: String,
}

impl Store {
    pub fn insert_run(&self, id: &str, project: &str, tag: Option<&str>, push: bool, request: &str) -> Result<()> {
        let c = self.conn();
        let seq: i64 = c.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs", [], |r| r.get(0))?;
        c.execute(
            "INSERT INTO runs (id, seq, project, tag, push, status, request, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id, seq, project, tag, push as i64, RunStatus::Queued.as_str(), request, now()],
        )?;
        Ok(())
    }

    /// Queue a repository run and remember its delivery id, in one transaction: a delivery
    /// seen before (also before a restart) queues nothing, and neither does one whose commit a
    /// run builds already (when `run.same_commit` asks), however many arrive at once.
    pub fn queue_triggered_run(&self, run: &NewTriggeredRun) -> Result<Inserted> {
        let &NewTriggeredRun { id, project, push, request, trigger, line, ref same_commit } = run;
        let mut c = self.conn();
        let tx = c.transaction()?;
        if let Some(delivery) = &trigger.delivery {
            let seen: Option<String> = tx
                .query_row(
                    "SELECT run_id FROM deliveries WHERE project = ?1 AND delivery = ?2",
                    params![project, delivery],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(run) = seen {
                return Ok(Inserted::Duplicate(run));
            }
        }
        if let Some(run) = triggered::seen(&tx, project, trigger)? {
            return Ok(Inserted::Replayed(run));
        }
        if let Some(same) = same_commit
            && let Some(run) = super::lines::same_commit_in(&tx, project, same)?
        {
            return Ok(Inserted::SameCommit(run));
        }
        if let Some(delivery) = &trigger.delivery {
            tx.execute(
                "INSERT INTO deliveries (project, delivery, run_id, received_at) VALUES (?1, ?2, ?3, ?4)",
                params![project, delivery, id, now()],
            )?;
        }
        let seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs", [], |r| r.get(0))?;
        tx.execute(
            "INSERT INTO runs (id, seq, project, tag, push, status, request, created_at, trigger_json, line)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                seq,
                project,
                // What the run is planned for, as for an API run: the list's branch filter
                // and the studio's run list read it.
                trigger.tag.as_deref().or(trigger.branch.as_deref()),
                push as i64,
                RunStatus::Queued.as_str(),
                request,
                now(),
                serde_json::to_string(trigger)?,
                line,
            ],
        )?;
        triggered::record(&tx, project, trigger, id, now(), triggered::KEEP_PER_PROJECT)?;
        tx.commit()?;
        Ok(Inserted::Queued)
    }

    /// The oldest queued run, if any.
    pub fn next_queued(&self) -> Result<Option<QueuedRun>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, request FROM runs WHERE status = ?1 ORDER BY seq LIMIT 1",
                [RunStatus::Queued.as_str()],
                |r| Ok(QueuedRun { id: r.get(0)?, request: r.get(1)? }),
            )
            .optional()?)
    }

    /// `queued` → `running`; false when the run is no longer queued (cancelled meanwhile).
    pub fn start(&self, id: &str) -> Result<bool> {
        let changed = self.conn().execute(
            "UPDATE runs SET status = ?2, started_at = ?3 WHERE id = ?1 AND status = ?4",
            params![id, RunStatus::Running.as_str(), now(), RunStatus::Queued.as_str()],
        )?;
        Ok(changed == 1)
    }

    /// `queued` → `cancelled`, with `last_event`; false when the run is no longer queued (it
    /// has started).
    pub fn cancel_queued(&self, id: &str, message: &str, last_event: &str, forge_status: &str) -> Result<bool> {
        self.end(id, RunStatus::Queued, RunStatus::Cancelled, Some(message), last_event, forge_status)
    }

    /// `running` → a final state, with `last_event`; false when the run was not running.
    pub fn finish(
        &self,
        id: &str,
        status: RunStatus,
        error: Option<&str>,
        last_event: &str,
        forge_status: &str,
    ) -> Result<bool> {
        self.end(id, RunStatus::Running, status, error, last_event, forge_status)
    }

    /// `from` → the final state `to`, with the run's last event (the run manager's
    /// `run_finished`) stored in the same transaction: whoever sees the run ended finds the
    /// event too. A repository run's `forge_status` (the commit status its forge is to get) is
    /// recorded as not yet sent in that transaction as well: a server stopped right after it
    /// sends that status when it starts again, instead of leaving the commit pending for ever.
    fn end(
        &self,
        id: &str,
        from: RunStatus,
        to: RunStatus,
        error: Option<&str>,
        last_event: &str,
        forge_status: &str,
    ) -> Result<bool> {
        debug_assert!(to.is_finished(), "{to} is not a final state");
        let mut c = self.conn();
        let tx = c.transaction()?;
        let changed = tx.execute(
            "UPDATE runs SET status = ?2, error = ?3, finished_at = ?4,
                 status_unsent = CASE WHEN trigger_json IS NULL THEN status_unsent ELSE ?6 END
             WHERE id = ?1 AND status = ?5",
            params![id, to.as_str(), error, now(), from.as_str(), forge_status],
        )?;
        if changed != 1 {
            return Ok(false);
        }
        let seq: i64 =
            tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = ?1", [id], |r| r.get(0))?;
        tx.execute("INSERT INTO events (run_id, seq, data) VALUES (?1, ?2, ?3)", params![id, seq, last_event])?;
        tx.commit()?;
        Ok(true)
    }

    /// The ids of queued runs, oldest first.
    pub fn queued(&self) -> Result<Vec<String>> {
        Ok(self
            .conn()
            .prepare("SELECT id FROM runs WHERE status = ?1 ORDER BY seq")?
            .query_map([RunStatus::Queued.as_str()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Runs that were running when the server stopped, oldest first.
    pub fn running(&self) -> Result<Vec<String>> {
        Ok(self
            .conn()
            .prepare("SELECT id FROM runs WHERE status = ?1 ORDER BY seq")?
            .query_map([RunStatus::Running.as_str()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Runs that were running when the server stopped: mark them interrupted, but for those
    /// in `going_on` (runs elsewhere that a restarted server follows again); their ids.
    pub fn interrupt_running(&self, message: &str, forge_status: &str, going_on: &[String]) -> Result<Vec<String>> {
        let mut c = self.conn();
        let c = c.transaction()?;
        let (running, interrupted) = (RunStatus::Running.as_str(), RunStatus::Interrupted.as_str());
        let ids: Vec<String> = c
            .prepare("SELECT id FROM runs WHERE status = ?1 ORDER BY seq")?
            .query_map([running], |r| r.get(0))?
            .filter(|id| id.as_ref().map_or(true, |id| !going_on.contains(id)))
            .collect::<rusqlite::Result<_>>()?;
        for id in &ids {
            c.execute(
                "UPDATE runs SET status = ?1, error = ?2, finished_at = ?3,
                     status_unsent = CASE WHEN trigger_json IS NULL THEN status_unsent ELSE ?5 END
                 WHERE status = ?4 AND id = ?6",
                params![interrupted, message, now(), running, forge_status, id],
            )?;
            c.execute(
                "UPDATE steps SET status = ?1 WHERE status = ?2 AND run_id = ?3",
                params![StepStatus::Interrupted.as_str(), StepStatus::Running.as_str(), id],
            )?;
        }
        c.commit()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(status: &str) -> String {
        format!(r#"{{"event":"run_finished","status":"{status}","error":null}}"#)
    }

    fn insert(s: &Store, id: &str, project: &str, t: &RunTrigger) -> Inserted {
        let run = NewTriggeredRun { id, project, push: true, request: "{}", trigger: t, line: None, same_commit: None };
        s.queue_triggered_run(&run).unwrap()
    }

    fn trigger(kind: &str, branch: Option<&str>, delivery: Option<&str>) -> RunTrigger {
        let mut t = RunTrigger::from_poll("x", "0123456789012345678901234567890123456789");
        t.kind = serde_json::from_value(serde_json::json!(kind)).unwrap();
        t.branch = branch.map(str::to_string);
        t.delivery = delivery.map(str::to_string);
        t
    }

    /// The forge's final status is waiting to be sent from the moment the run has ended, in
    /// one change with the end: a server killed between the two used to lose it (the commit
    /// stayed pending for ever). A folder project's run has no forge and records none.
    #[test]
    fn a_repository_runs_end_records_its_forge_status_as_unsent_in_the_same_change() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        let waiting = |s: &Store| s.unsent_statuses().unwrap().into_iter().map(|u| (u.id, u.state)).collect::<Vec<_>>();
        insert(&s, "t", "p", &trigger("push", Some("main"), Some("d1")));
        insert(&s, "q", "p", &trigger("push", Some("dev"), Some("d2")));
        insert(&s, "i", "p", &trigger("push", Some("next"), Some("d3")));
        s.insert_run("f", "p", None, false, "{}").unwrap();
        for id in ["t", "f", "i"] {
            assert!(s.start(id).unwrap());
        }
        assert!(s.finish("t", RunStatus::Failed, None, &end("failed"), "failure").unwrap());
        assert!(s.finish("f", RunStatus::Success, None, &end("success"), "success").unwrap());
        assert!(s.cancel_queued("q", "x", &end("cancelled"), "canceled").unwrap());
        assert_eq!(s.interrupt_running("stopped", "error", &[]).unwrap(), ["i"]);
        let want = [("t", "failure"), ("q", "canceled"), ("i", "error")].map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(waiting(&s), want);
    }

    #[test]
    fn transitions_happen_only_from_the_state_they_leave() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        let status = |id: &str| s.run(id).unwrap().unwrap().status;
        s.insert_run("c", "p", None, false, "{}").unwrap();
        assert!(s.cancel_queued("c", "cancelled before it started", &end("cancelled"), "canceled").unwrap());
        assert!(!s.start("c").unwrap(), "a cancelled run was started");
        assert_eq!(status("c"), RunStatus::Cancelled);

        s.insert_run("r", "p", None, false, "{}").unwrap();
        assert!(s.start("r").unwrap());
        assert!(!s.start("r").unwrap());
        assert!(
            !s.cancel_queued("r", "x", &end("cancelled"), "canceled").unwrap(),
            "a running run was cancelled as if queued"
        );
        assert_eq!(status("r"), RunStatus::Running);
        assert!(s.finish("r", RunStatus::Success, None, &end("success"), "success").unwrap());
        assert!(!s.finish("r", RunStatus::Failed, Some("late"), &end("failed"), "failure").unwrap());
        // The end and its event are one change: whoever sees the run ended finds the event
        // (a follower that saw `success` first used to stop before the event was stored).
        for (id, end) in [("c", r#""status":"cancelled""#), ("r", r#""status":"success""#)] {
            let events = s.events_after(id, 0, 10).unwrap();
            assert_eq!(events.len(), 1, "{events:?}");
            assert!(events[0].1.contains(r#""event":"run_finished""#) && events[0].1.contains(end), "{events:?}");
        }
        let r = s.run("r").unwrap().unwrap();
        assert_eq!((r.status, r.error), (RunStatus::Success, None));
        assert!(r.started_at.is_some() && r.finished_at.is_some());
    }

    #[test]
    fn a_delivery_id_queues_one_run_across_restarts() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db.sqlite");
        let t = trigger("push", Some("main"), Some("d-1"));
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(insert(&s, "a", "web", &t), Inserted::Queued);
            assert_eq!(insert(&s, "b", "web", &t), Inserted::Duplicate("a".into()));
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(insert(&s, "c", "web", &t), Inserted::Duplicate("a".into()));
        assert_eq!(insert(&s, "d", "api", &t), Inserted::Queued);
        // Without an id (polling) nothing is de-duplicated.
        let polled = trigger("poll", Some("main"), None);
        assert_eq!(insert(&s, "e", "web", &polled), Inserted::Queued);
        assert_eq!(insert(&s, "f", "web", &polled), Inserted::Queued);
        assert_eq!(s.queued().unwrap(), ["a", "d", "e", "f"]);
        let (rows, _) = s.runs(None, None, 1, 10).unwrap();
        assert_eq!(rows.iter().find(|r| r.id == "a").unwrap().trigger, Some(t.view()));
        // A triggered run is listed under its branch, like an API run under its tag.
        let (on_main, _) = s.runs(Some("web"), t.branch.as_deref(), 1, 10).unwrap();
        assert!(t.branch.is_some() && on_main.iter().any(|r| r.id == "a"), "{on_main:?}");
    }
}
