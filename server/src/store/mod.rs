//! Run history in SQLite: runs, their steps, and every (already masked) event in order.
//! The schema is created and migrated on open (`schema.rs`).
//!
//! The store keeps what the run manager decided (a run's line of work, its end and its last
//! event, which run a delivery duplicates) and holds no policy of its own: it knows triggers
//! only as the record [`RunTrigger`] below both of them.

use crate::forge::run_trigger::{RunTrigger, TriggerView};
use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use slipway_core::run_state::{RunStatus, StepStatus};
use std::path::Path;
use std::sync::Mutex;

mod events;
mod lines;
mod polling;
mod queue;
mod record;
mod retention;
mod schema;
mod triggered;

pub use lines::SameCommit;
pub use queue::{Inserted, NewTriggeredRun, QueuedRun};
pub use record::UnsentStatus;
#[cfg(test)]
pub use schema::create_at_version;

pub struct Store(Mutex<Connection>);

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: String,
    pub project: String,
    pub tag: Option<String>,
    pub push: bool,
    pub status: RunStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// What started a repository run (`None` for a run started through the API).
    pub trigger: Option<TriggerView>,
    /// Why the last commit status for the run could not be sent (`None` once one was).
    pub status_error: Option<String>,
    /// The cluster node that ran it (its hostname), on a swarm; absent on the local engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    /// The step's path in the run's plan (`2.1`); `name` is its label and may repeat.
    pub id: String,
    pub name: String,
    pub status: StepStatus,
    pub duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

const RUN_COLUMNS: &str =
    "id, project, tag, push, status, error, created_at, started_at, finished_at, trigger_json, status_error, node";

/// A state column as its enum; a name this version does not know is a conversion error.
fn column<T>(r: &rusqlite::Row, i: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    parse(&text).ok_or_else(|| {
        let e = format!("unknown state `{text}`");
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

fn run_row(r: &rusqlite::Row) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        project: r.get(1)?,
        tag: r.get(2)?,
        push: r.get::<_, i64>(3)? != 0,
        status: column(r, 4, RunStatus::parse)?,
        error: r.get(5)?,
        created_at: r.get(6)?,
        started_at: r.get(7)?,
        finished_at: r.get(8)?,
        trigger: trigger_column(r, 9)?.map(|t| t.view()),
        status_error: r.get(10)?,
        node: r.get(11)?,
    })
}

/// The stored trigger; text this version cannot read is a conversion error, not a guess.
fn trigger_column(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Option<RunTrigger>> {
    let Some(text) = r.get::<_, Option<String>>(i)? else { return Ok(None) };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into()))
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        // Owner-only, made before SQLite opens it: SQLite gives the -wal and -shm files the
        // database's mode. A database made by an older version is tightened too.
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create the database {}", path.display()))?;
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.as_os_str().to_owned();
                file.push(suffix);
                let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
            }
        }
        let conn = Connection::open(path).with_context(|| format!("cannot open the database {}", path.display()))?;
        schema::migrate(&conn, path)?;
        Ok(Store(Mutex::new(conn)))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn run(&self, id: &str) -> Result<Option<RunRow>> {
        Ok(self.conn().query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"), [id], run_row).optional()?)
    }

    /// Page `page` (from 1) of `per_page` runs, newest first, and the number of runs; only
    /// those of `project` and of `branch` (the run's branch or tag) when given.
    pub fn runs(
        &self,
        project: Option<&str>,
        branch: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<RunRow>, i64)> {
        const MATCHES: &str = "(?1 IS NULL OR project = ?1) AND (?2 IS NULL OR tag = ?2)";
        let c = self.conn();
        let total: i64 =
            c.query_row(&format!("SELECT COUNT(*) FROM runs WHERE {MATCHES}"), params![project, branch], |r| r.get(0))?;
        // In 64 bits: page × per_page overflows a u32 for large pages.
        let offset = u64::from(page.saturating_sub(1)) * u64::from(per_page);
        let rows = c
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE {MATCHES} ORDER BY seq DESC LIMIT ?3 OFFSET ?4"))?
            .query_map(params![project, branch, per_page, offset as i64], run_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok((rows, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_events_and_restart() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db.sqlite");
        {
            let s = Store::open(&path).unwrap();
            s.insert_run("a", "p", Some("main"), false, "{}").unwrap();
            s.insert_run("b", "p", None, true, "{}").unwrap();
            assert!(s.start("a").unwrap());
            s.append_event("a", 1, "{\"x\":1}").unwrap();
            s.upsert_step("a", "1", "t", StepStatus::Running, None, None).unwrap();
            assert_eq!(s.next_queued().unwrap().unwrap().id, "b");
        }
        // Reopen: migrations are idempotent, history is kept, running becomes interrupted.
        let s = Store::open(&path).unwrap();
        assert_eq!(s.interrupt_running("stopped", "error", &[]).unwrap(), ["a"]);
        let a = s.run("a").unwrap().unwrap();
        assert_eq!((a.status, a.error.as_deref()), (RunStatus::Interrupted, Some("stopped")));
        assert_eq!(s.steps("a").unwrap()[0].status, StepStatus::Interrupted);
        assert_eq!(s.events_after("a", 0, 100).unwrap().len(), 1);
        // A resume point past i64::MAX is after every event, not before the first.
        assert!(s.events_after("a", 1 << 63, 100).unwrap().is_empty());
        assert!(s.events_after("a", u64::MAX, 100).unwrap().is_empty());
        assert_eq!(s.last_event("a").unwrap(), 1);
        assert_eq!(s.queued().unwrap(), ["b"]);
        let (rows, total) = s.runs(None, None, 1, 10).unwrap();
        assert_eq!((rows[0].id.as_str(), total), ("b", 2));
    }

    /// A restart keeps the runs that go on elsewhere running (the server follows them again),
    /// with their running steps; the others are interrupted.
    #[test]
    fn a_restart_interrupts_all_running_runs_but_those_going_on() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        for id in ["a", "b", "c"] {
            s.insert_run(id, "p", None, false, "{}").unwrap();
            assert!(s.start(id).unwrap());
            s.upsert_step(id, "1", "t", StepStatus::Running, None, None).unwrap();
        }
        s.insert_run("q", "p", None, false, "{}").unwrap();
        assert_eq!(s.running().unwrap(), ["a", "b", "c"]);
        assert_eq!(s.interrupt_running("stopped", "error", &["b".to_string()]).unwrap(), ["a", "c"]);
        assert_eq!(s.running().unwrap(), ["b"]);
        assert_eq!(s.steps("b").unwrap()[0].status, StepStatus::Running);
        for id in ["a", "c"] {
            assert_eq!(s.run(id).unwrap().unwrap().status, RunStatus::Interrupted);
            assert_eq!(s.steps(id).unwrap()[0].status, StepStatus::Interrupted);
        }
        assert_eq!(s.queued().unwrap(), ["q"]);
    }

    /// Every transition says which state it leaves: a cancelled run is never started, a

    #[test]
    fn a_page_far_past_the_end_is_empty() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        s.insert_run("a", "p", None, false, "{}").unwrap();
        // (u32::MAX - 1) × 100 does not fit a u32: the offset used to overflow.
        let (rows, total) = s.runs(None, None, u32::MAX, 100).unwrap();
        assert_eq!((rows.len(), total), (0, 1));
    }

    #[test]
    fn the_list_filters_by_project_and_branch_and_counts_what_matches() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        for (id, project, tag) in [("a", "web", Some("main")), ("b", "web", Some("dev")), ("c", "api", Some("main"))] {
            s.insert_run(id, project, tag, false, "{}").unwrap();
        }
        s.insert_run("d", "web", None, false, "{}").unwrap();
        let ids = |project, branch| {
            let (rows, total) = s.runs(project, branch, 1, 10).unwrap();
            (rows.into_iter().map(|r| r.id).collect::<Vec<_>>(), total)
        };
        assert_eq!(ids(None, None), (vec!["d".into(), "c".into(), "b".into(), "a".into()], 4));
        assert_eq!(ids(Some("web"), None), (vec!["d".into(), "b".into(), "a".into()], 3));
        assert_eq!(ids(None, Some("main")), (vec!["c".into(), "a".into()], 2));
        assert_eq!(ids(Some("web"), Some("main")), (vec!["a".into()], 1));
        assert_eq!(ids(Some("nope"), None), (vec![], 0));
        // A page of a filtered list counts only what matches.
        let (rows, total) = s.runs(Some("web"), None, 2, 2).unwrap();
        assert_eq!((rows.len(), rows[0].id.as_str(), total), (1, "a", 3));
        // Once planned, a run without a tag is listed under the branch it ran for; a tag the
        // request named is never replaced.
        s.set_tag_if_unset("d", "dev").unwrap();
        s.set_tag_if_unset("a", "other").unwrap();
        assert_eq!(ids(Some("web"), Some("dev")), (vec!["d".into(), "b".into()], 2));
        assert_eq!(ids(Some("web"), Some("main")), (vec!["a".into()], 1));
    }

    #[test]
    fn an_unknown_state_in_the_database_is_an_error_not_a_guess() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        s.insert_run("a", "p", None, false, "{}").unwrap();
        s.conn().execute("UPDATE runs SET status = 'exploded'", []).unwrap();
        let e = format!("{:#}", s.run("a").unwrap_err());
        assert!(e.contains("unknown state `exploded`"), "{e}");
    }
}
