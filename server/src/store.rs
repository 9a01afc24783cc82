//! Run history in SQLite: runs, their steps, and every (already masked) event in order.
//! The schema is created and migrated on open (`PRAGMA user_version`).

use crate::runs::trigger::{RunTrigger, TriggerKind, TriggerView};
use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use slipway_core::run_state::{RunStatus, StepStatus};
use std::path::Path;
use std::sync::Mutex;

mod triggered;

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        project TEXT NOT NULL,
        tag TEXT,
        push INTEGER NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        request TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER
    );
    CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs(id),
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        duration_ms INTEGER,
        message TEXT,
        position INTEGER NOT NULL,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE events (
        run_id TEXT NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );",
    // Steps are identified by their id (their path in the plan): names may repeat. Rows of
    // older runs keep their name as their id.
    "CREATE TABLE steps_by_id (
        run_id TEXT NOT NULL REFERENCES runs(id),
        step_id TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        duration_ms INTEGER,
        message TEXT,
        position INTEGER NOT NULL,
        PRIMARY KEY (run_id, step_id)
    );
    INSERT INTO steps_by_id SELECT run_id, name, name, status, duration_ms, message, position FROM steps;
    DROP TABLE steps;
    ALTER TABLE steps_by_id RENAME TO steps;",
    // Repository runs: what triggered them and the last commit status that could not be sent;
    // webhook deliveries seen (a forge re-sends with the same id) and polled branch heads, both
    // kept across restarts.
    "ALTER TABLE runs ADD COLUMN trigger_json TEXT;
    ALTER TABLE runs ADD COLUMN status_error TEXT;
    CREATE TABLE deliveries (
        project TEXT NOT NULL,
        delivery TEXT NOT NULL,
        run_id TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (project, delivery)
    );
    CREATE TABLE poll_heads (
        project TEXT NOT NULL,
        branch TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        PRIMARY KEY (project, branch)
    );
    CREATE TABLE polled (project TEXT PRIMARY KEY, at INTEGER NOT NULL);",
    // The newest commit status queued for a run and not yet sent (nor given up on): a restart
    // sends it, instead of the forge showing "pending" for ever.
    "ALTER TABLE runs ADD COLUMN status_unsent TEXT;",
    // Notifications that could not be delivered (a JSON array; see `notify`).
    "ALTER TABLE runs ADD COLUMN notify_errors TEXT;",
];

/// [`Store::same_commit_run`] on `c` (a transaction's connection, say).
fn same_commit_in(c: &Connection, project: &str, t: &RunTrigger) -> Result<Option<String>> {
    let (sql, value) = match (line_of_work(t), t.kind, &t.tag) {
        (Some((kinds, key, value)), _, _) => (
            format!(
                "SELECT id FROM runs WHERE project = ?1 AND status IN (?3, ?4)
                   AND trigger_json IS NOT NULL AND json_extract(trigger_json, '$.kind') IN ({kinds})
                   AND CAST(json_extract(trigger_json, '{key}') AS TEXT) = ?2
                   AND json_extract(trigger_json, '$.commit_id') = ?5
                 ORDER BY seq DESC LIMIT 1"
            ),
            value,
        ),
        (None, TriggerKind::Tag, Some(tag)) => (
            // (`?3` and `?4` go unused: SQLite binds up to the highest number, `?5`.)
            "SELECT id FROM runs WHERE project = ?1
               AND trigger_json IS NOT NULL AND json_extract(trigger_json, '$.kind') = 'tag'
               AND json_extract(trigger_json, '$.tag') = ?2
               AND ?5 IN (json_extract(trigger_json, '$.commit_id'), json_extract(trigger_json, '$.tag_object'))
               AND COALESCE(json_extract(trigger_json, '$.head'), '') != 'late'
             ORDER BY seq DESC LIMIT 1"
                .to_string(),
            tag.clone(),
        ),
        _ => return Ok(None),
    };
    Ok(c.query_row(
        &sql,
        params![project, value, RunStatus::Queued.as_str(), RunStatus::Running.as_str(), t.commit_id],
        |r| r.get(0),
    )
    .optional()?)
}

/// Which runs follow one line of work, as SQL: a branch's pushes and polls, or one pull
/// request's updates (kinds, the JSON path that names the line, its value). Tags have none.
fn line_of_work(t: &RunTrigger) -> Option<(&'static str, &'static str, String)> {
    match (t.kind, &t.branch, t.pr_number) {
        (TriggerKind::Push | TriggerKind::Poll, Some(b), _) => Some(("'push', 'poll'", "$.branch", b.clone())),
        (TriggerKind::PullRequest, _, Some(n)) => Some(("'pull_request'", "$.pr_number", n.to_string())),
        _ => None,
    }
}

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

/// How long after a push's run a delivery of the push before it counts as late, not new.
pub const LATE_DELIVERY_WINDOW_SECS: i64 = 600;

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

const RUN_COLUMNS: &str =
    "id, project, tag, push, status, error, created_at, started_at, finished_at, trigger_json, status_error";

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
    })
}

/// The stored trigger; text this version cannot read is a conversion error, not a guess.
fn trigger_column(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Option<RunTrigger>> {
    let Some(text) = r.get::<_, Option<String>>(i)? else { return Ok(None) };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into()))
}

/// A run's last event: how it ended.
pub fn run_finished_event(status: RunStatus, error: Option<&str>) -> String {
    serde_json::json!({"event": "run_finished", "status": status, "error": error}).to_string()
}

/// Events deleted per transaction when a run goes: whoever else uses the database waits at
/// most that long.
const DELETE_BATCH: i64 = 2000;

/// Free pages given back per step of [`Store::compact`].
const VACUUM_PAGES: i64 = 2000;

/// The database gives deleted runs' space back (`auto_vacuum = INCREMENTAL`): set before the
/// first table on a new database; an older one is rebuilt once with `VACUUM`.
fn incremental_vacuum_on(conn: &Connection, path: &Path) -> Result<()> {
    const INCREMENTAL: i64 = 2;
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    if mode == INCREMENTAL {
        return Ok(());
    }
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    let tables: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    if tables > 0 {
        tracing::info!("rebuilding the database {} once so that it can shrink (VACUUM)", path.display());
        conn.execute_batch("VACUUM").context("cannot rebuild the database (VACUUM)")?;
    }
    Ok(())
}

/// What became of a delivery offered to [`Store::insert_triggered_run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    Queued,
    /// The project has seen this delivery id before: it queued the run named here.
    Duplicate(String),
    /// A run builds the trigger's commit already ([`Store::same_commit_run`]): that run.
    /// Looked at in the insert's own transaction, so that concurrent deliveries of one commit
    /// queue exactly one run.
    SameCommit(String),
    /// The same push (by its event key, not its delivery id) queued the run named here before:
    /// a replay. The run may have been deleted since (retention); the record outlives it.
    Replayed(String),
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
        incremental_vacuum_on(&conn, path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // In WAL mode NORMAL still never corrupts the database; a power cut may lose the last
        // few commits, which an interrupted run loses anyway.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A request rewritten in its masked form must not leave the old text in a free page.
        conn.pragma_update(None, "secure_delete", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(m).with_context(|| format!("database migration {} failed", i + 1))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        triggered::create(&conn).context("cannot create the table of triggered pushes")?;
        Ok(Store(Mutex::new(conn)))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

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
    /// run builds already ([`Store::same_commit_run`]), however many arrive at once.
    pub fn queue_triggered_run(
        &self,
        id: &str,
        project: &str,
        push: bool,
        request: &str,
        trigger: &RunTrigger,
    ) -> Result<Inserted> {
        self.insert_triggered(id, project, push, request, trigger, true)
    }

    /// [`Store::queue_triggered_run`] without the look for a run of the same commit (only
    /// delivery ids are de-duplicated): for tests that set up runs as they please.
    #[cfg(test)]
    pub fn insert_triggered_run(
        &self,
        id: &str,
        project: &str,
        push: bool,
        request: &str,
        trigger: &RunTrigger,
    ) -> Result<Inserted> {
        self.insert_triggered(id, project, push, request, trigger, false)
    }

    fn insert_triggered(
        &self,
        id: &str,
        project: &str,
        push: bool,
        request: &str,
        trigger: &RunTrigger,
        once_per_commit: bool,
    ) -> Result<Inserted> {
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
        if once_per_commit && let Some(run) = same_commit_in(&tx, project, trigger)? {
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
            "INSERT INTO runs (id, seq, project, tag, push, status, request, created_at, trigger_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
                serde_json::to_string(trigger)?
            ],
        )?;
        triggered::record(&tx, project, trigger, id, now(), triggered::KEEP_PER_PROJECT)?;
        tx.commit()?;
        Ok(Inserted::Queued)
    }

    /// The run's trigger in full (`None` for a run started through the API).
    pub fn trigger(&self, id: &str) -> Result<Option<RunTrigger>> {
        Ok(self
            .conn()
            .query_row("SELECT trigger_json FROM runs WHERE id = ?1", [id], |r| trigger_column(r, 0))
            .optional()?
            .flatten())
    }

    /// Replace the trigger (with the commit's message and author once the checkout has them).
    pub fn set_trigger(&self, id: &str, trigger: &RunTrigger) -> Result<()> {
        self.conn()
            .execute("UPDATE runs SET trigger_json = ?2 WHERE id = ?1", params![id, serde_json::to_string(trigger)?])?;
        Ok(())
    }

    /// The outcome of the run's last commit status: `None` when it was sent.
    /// `state` (a commit status's name) was queued for run `id` and is not sent yet.
    pub fn set_status_unsent(&self, id: &str, state: &str) -> Result<()> {
        self.conn().execute("UPDATE runs SET status_unsent = ?2 WHERE id = ?1", params![id, state])?;
        Ok(())
    }

    /// `state` went out (or was given up on): unless a newer one was queued meanwhile,
    /// nothing of the run is waiting any more.
    pub fn clear_status_unsent(&self, id: &str, state: &str) -> Result<()> {
        self.conn()
            .execute("UPDATE runs SET status_unsent = NULL WHERE id = ?1 AND status_unsent = ?2", params![id, state])?;
        Ok(())
    }

    /// Runs with a status that had not gone out when the server stopped, oldest first.
    pub fn unsent_statuses(&self) -> Result<Vec<(String, String, String)>> {
        Ok(self
            .conn()
            .prepare("SELECT id, project, status_unsent FROM runs WHERE status_unsent IS NOT NULL ORDER BY seq")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    pub fn set_status_error(&self, id: &str, error: Option<&str>) -> Result<()> {
        self.conn().execute("UPDATE runs SET status_error = ?2 WHERE id = ?1", params![id, error])?;
        Ok(())
    }

    /// Queued or running runs of `project`, older than `except` (the new run), that `t`
    /// supersedes (only older ones: two runs of one head queued together by a webhook and a
    /// poll must not cancel each other, leaving the commit unbuilt): for a
    /// push (or a polled head), the earlier pushes and polled heads of its branch; for a pull
    /// request, the earlier runs of the same pull request. A push to a branch with an open
    /// pull request brings both events: neither cancels the other. Tags supersede nothing.
    pub fn superseded_by(&self, project: &str, t: &RunTrigger, except: &str) -> Result<Vec<String>> {
        let Some((kinds, key, value)) = line_of_work(t) else { return Ok(Vec::new()) };
        let sql = format!(
            "SELECT id FROM runs WHERE project = ?1 AND id != ?3 AND status IN (?4, ?5)
               AND seq < (SELECT seq FROM runs WHERE id = ?3)
               AND trigger_json IS NOT NULL AND json_extract(trigger_json, '$.kind') IN ({kinds})
               AND CAST(json_extract(trigger_json, '{key}') AS TEXT) = ?2
             ORDER BY seq"
        );
        Ok(self
            .conn()
            .prepare(&sql)?
            .query_map(params![project, value, except, RunStatus::Queued.as_str(), RunStatus::Running.as_str()], |r| {
                r.get(0)
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The run of a later push that arrived before `t` (deliveries out of order): the newest
    /// run on `t`'s branch (or pull request) moved the ref on from `t`'s commit, `t` did not
    /// come from that run's commit (a force-push back to an older commit is new, not late),
    /// and it is recent (within [`LATE_DELIVERY_WINDOW_SECS`]: a branch deleted and made again
    /// at an old commit later is new too).
    pub fn later_push_than(&self, project: &str, t: &RunTrigger, except: &str) -> Result<Option<String>> {
        let Some((kinds, key, value)) = line_of_work(t) else { return Ok(None) };
        let sql = format!(
            "SELECT id, trigger_json, created_at FROM runs WHERE project = ?1 AND id != ?3
               AND trigger_json IS NOT NULL AND json_extract(trigger_json, '$.kind') IN ({kinds})
               AND CAST(json_extract(trigger_json, '{key}') AS TEXT) = ?2
             ORDER BY seq DESC LIMIT 1"
        );
        let newest: Option<(String, String, i64)> = self
            .conn()
            .query_row(&sql, params![project, value, except], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((id, json, created_at)) = newest else { return Ok(None) };
        let Ok(newer) = serde_json::from_str::<RunTrigger>(&json) else { return Ok(None) };
        let late = newer.before.as_deref() == Some(t.commit_id.as_str())
            && t.before.as_deref() != Some(newer.commit_id.as_str())
            && now() - created_at <= LATE_DELIVERY_WINDOW_SECS;
        Ok(late.then_some(id))
    }

    /// A run that builds `t`'s commit already, so that a second delivery of it under a new id
    /// (the id is not signed: a replay) starts nothing: for a branch or pull request, a queued
    /// or running run of its line of work (it must not be cancelled to build the same commit
    /// again); for a tag, any run of the tag at that commit (a tag does not move, so the head
    /// check would let an old release's delivery through again and again), named by the commit
    /// or by the annotated tag's object a delivery named instead (`RunTrigger::tag_object`).
    #[cfg(test)]
    pub fn same_commit_run(&self, project: &str, t: &RunTrigger) -> Result<Option<String>> {
        same_commit_in(&self.conn(), project, t)
    }

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

    /// Replace a run's stored request (with its masked form, once the run knows its secrets).
    /// The run's project and stored request (masked once the run was prepared), and whether
    /// a trigger started it; `None` for an unknown run.
    pub fn request(&self, id: &str) -> Result<Option<(String, String, bool)>> {
        Ok(self
            .conn()
            .query_row("SELECT project, request, trigger_json IS NOT NULL FROM runs WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?)
    }

    /// Record the tag a run was planned for when its request named none (the server then
    /// plans for the project's checked-out branch): the list shows it and filters by it.
    pub fn set_tag_if_unset(&self, id: &str, tag: &str) -> Result<()> {
        self.conn().execute("UPDATE runs SET tag = ?2 WHERE id = ?1 AND tag IS NULL", params![id, tag])?;
        Ok(())
    }

    pub fn set_request(&self, id: &str, request: &str) -> Result<()> {
        self.conn().execute("UPDATE runs SET request = ?2 WHERE id = ?1", params![id, request])?;
        Ok(())
    }

    /// The oldest queued run, if any.
    pub fn next_queued(&self) -> Result<Option<(String, String)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, request FROM runs WHERE status = ?1 ORDER BY seq LIMIT 1",
                [RunStatus::Queued.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
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

    /// `queued` → `cancelled`; false when the run is no longer queued (it has started).
    pub fn cancel_queued(&self, id: &str, message: &str) -> Result<bool> {
        self.end(id, RunStatus::Queued, RunStatus::Cancelled, Some(message))
    }

    /// `running` → a final state; false when the run was not running.
    pub fn finish(&self, id: &str, status: RunStatus, error: Option<&str>) -> Result<bool> {
        self.end(id, RunStatus::Running, status, error)
    }

    /// `from` → the final state `to`, with the run's last event ([`run_finished_event`])
    /// stored in the same transaction: whoever sees the run ended finds the event too.
    fn end(&self, id: &str, from: RunStatus, to: RunStatus, error: Option<&str>) -> Result<bool> {
        debug_assert!(to.is_finished(), "{to} is not a final state");
        let mut c = self.conn();
        let tx = c.transaction()?;
        let changed = tx.execute(
            "UPDATE runs SET status = ?2, error = ?3, finished_at = ?4 WHERE id = ?1 AND status = ?5",
            params![id, to.as_str(), error, now(), from.as_str()],
        )?;
        if changed != 1 {
            return Ok(false);
        }
        let seq: i64 =
            tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = ?1", [id], |r| r.get(0))?;
        let event = run_finished_event(to, error);
        tx.execute("INSERT INTO events (run_id, seq, data) VALUES (?1, ?2, ?3)", params![id, seq, event])?;
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

    /// Runs that were running when the server stopped: mark them interrupted.
    pub fn interrupt_running(&self, message: &str) -> Result<Vec<String>> {
        let c = self.conn();
        let (running, interrupted) = (RunStatus::Running.as_str(), RunStatus::Interrupted.as_str());
        let ids: Vec<String> = c
            .prepare("SELECT id FROM runs WHERE status = ?1")?
            .query_map([running], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        c.execute(
            "UPDATE runs SET status = ?1, error = ?2, finished_at = ?3 WHERE status = ?4",
            params![interrupted, message, now(), running],
        )?;
        c.execute(
            "UPDATE steps SET status = ?1 WHERE status = ?2",
            [StepStatus::Interrupted.as_str(), StepStatus::Running.as_str()],
        )?;
        Ok(ids)
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
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached("INSERT INTO events (run_id, seq, data) VALUES (?1, ?2, ?3)")?;
            for (seq, data) in events {
                insert.execute(params![run, *seq as i64, data])?;
            }
        }
        tx.commit()?;
        Ok(())
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

    // Badges and notifications (`http::badge`, `notify`).

    /// The status of `project`'s newest run on `branch` (its branch or tag) among `among`,
    /// older than run `before` when given.
    pub fn newest_status(
        &self,
        project: &str,
        branch: &str,
        among: &[RunStatus],
        before: Option<&str>,
    ) -> Result<Option<RunStatus>> {
        // The names are the enum's own, never input.
        let list: Vec<String> = among.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = format!(
            "SELECT status FROM runs WHERE project = ?1 AND tag = ?2 AND status IN ({})
               AND (?3 IS NULL OR seq < (SELECT seq FROM runs WHERE id = ?3)) ORDER BY seq DESC LIMIT 1",
            list.join(", ")
        );
        let c = self.conn();
        let found =
            c.query_row(&sql, params![project, branch, before], |r| column(r, 0, RunStatus::parse)).optional()?;
        Ok(found)
    }

    /// Records a notification that could not be delivered (`entry`: a JSON object); at most
    /// [`MAX_NOTIFY_ERRORS`] are kept per run.
    pub fn add_notify_error(&self, id: &str, entry: &serde_json::Value) -> Result<()> {
        self.conn().execute(
            "UPDATE runs SET notify_errors = json_insert(COALESCE(notify_errors, '[]'), '$[#]', json(?2))
               WHERE id = ?1 AND json_array_length(COALESCE(notify_errors, '[]')) < ?3",
            params![id, entry.to_string(), MAX_NOTIFY_ERRORS],
        )?;
        Ok(())
    }

    /// The notifications of run `id` that could not be delivered.
    pub fn notify_errors(&self, id: &str) -> Result<Vec<serde_json::Value>> {
        let text: Option<String> = self
            .conn()
            .query_row("SELECT notify_errors FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .flatten();
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
    }
}

/// Undelivered notifications kept per run (a project has a few targets and four events).
pub const MAX_NOTIFY_ERRORS: i64 = 64;

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A database made before steps had ids is migrated: its rows keep their name as the id.
    #[test]
    fn old_step_rows_are_migrated() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute_batch(
                "INSERT INTO runs VALUES ('a', 1, 'p', NULL, 0, 'success', NULL, '{}', 0, NULL, NULL);
                 INSERT INTO steps VALUES ('a', 'unit', 'success', 3, NULL, 1);",
            )
            .unwrap();
        }
        let rows = Store::open(&path).unwrap().steps("a").unwrap();
        assert_eq!((rows[0].id.as_str(), rows[0].name.as_str()), ("unit", "unit"));
    }

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
            assert_eq!(s.next_queued().unwrap().unwrap().0, "b");
        }
        // Reopen: migrations are idempotent, history is kept, running becomes interrupted.
        let s = Store::open(&path).unwrap();
        assert_eq!(s.interrupt_running("stopped").unwrap(), ["a"]);
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

    /// Every transition says which state it leaves: a cancelled run is never started, a
    /// started one is never cancelled as if queued, and a finished one never changes again.
    #[test]
    fn transitions_happen_only_from_the_state_they_leave() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        let status = |id: &str| s.run(id).unwrap().unwrap().status;
        s.insert_run("c", "p", None, false, "{}").unwrap();
        assert!(s.cancel_queued("c", "cancelled before it started").unwrap());
        assert!(!s.start("c").unwrap(), "a cancelled run was started");
        assert_eq!(status("c"), RunStatus::Cancelled);

        s.insert_run("r", "p", None, false, "{}").unwrap();
        assert!(s.start("r").unwrap());
        assert!(!s.start("r").unwrap());
        assert!(!s.cancel_queued("r", "x").unwrap(), "a running run was cancelled as if queued");
        assert_eq!(status("r"), RunStatus::Running);
        assert!(s.finish("r", RunStatus::Success, None).unwrap());
        assert!(!s.finish("r", RunStatus::Failed, Some("late")).unwrap());
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

    fn trigger(kind: &str, branch: Option<&str>, delivery: Option<&str>) -> RunTrigger {
        let mut t = RunTrigger::from_poll("x", "0123456789012345678901234567890123456789");
        t.kind = serde_json::from_value(serde_json::json!(kind)).unwrap();
        t.branch = branch.map(str::to_string);
        t.tag = (kind == "tag").then(|| "v1".to_string());
        t.delivery = delivery.map(str::to_string);
        t
    }

    /// A forge re-sends a delivery with the same id (a retry, or "Redeliver"): the second
    /// queues nothing, also after a restart; another project may use the same id.
    #[test]
    fn a_delivery_id_queues_one_run_across_restarts() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db.sqlite");
        let t = trigger("push", Some("main"), Some("d-1"));
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.insert_triggered_run("a", "web", true, "{}", &t).unwrap(), Inserted::Queued);
            assert_eq!(s.insert_triggered_run("b", "web", true, "{}", &t).unwrap(), Inserted::Duplicate("a".into()));
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.insert_triggered_run("c", "web", true, "{}", &t).unwrap(), Inserted::Duplicate("a".into()));
        assert_eq!(s.insert_triggered_run("d", "api", true, "{}", &t).unwrap(), Inserted::Queued);
        // Without an id (polling) nothing is de-duplicated.
        let polled = trigger("poll", Some("main"), None);
        assert_eq!(s.insert_triggered_run("e", "web", true, "{}", &polled).unwrap(), Inserted::Queued);
        assert_eq!(s.insert_triggered_run("f", "web", true, "{}", &polled).unwrap(), Inserted::Queued);
        assert_eq!(s.queued().unwrap(), ["a", "d", "e", "f"]);
        let (rows, _) = s.runs(None, None, 1, 10).unwrap();
        assert_eq!(rows.iter().find(|r| r.id == "a").unwrap().trigger, Some(t.view()));
        // A triggered run is listed under its branch, like an API run under its tag.
        let (on_main, _) = s.runs(Some("web"), t.branch.as_deref(), 1, 10).unwrap();
        assert!(t.branch.is_some() && on_main.iter().any(|r| r.id == "a"), "{on_main:?}");
    }

    /// What a push to `main` supersedes: the project's queued or running runs on `main`, not
    /// tags, pull requests, other branches, other projects or ended runs.
    #[test]
    fn a_push_supersedes_only_active_runs_of_its_branch() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        let main = trigger("push", Some("main"), None);
        s.insert_triggered_run("queued", "web", true, "{}", &main).unwrap();
        s.insert_triggered_run("running", "web", true, "{}", &trigger("poll", Some("main"), None)).unwrap();
        assert!(s.start("running").unwrap());
        s.insert_triggered_run("ended", "web", true, "{}", &main).unwrap();
        assert!(s.cancel_queued("ended", "x").unwrap());
        s.insert_triggered_run("tag", "web", true, "{}", &trigger("tag", None, None)).unwrap();
        s.insert_triggered_run("other", "web", true, "{}", &trigger("push", Some("dev"), None)).unwrap();
        s.insert_triggered_run("elsewhere", "api", true, "{}", &main).unwrap();
        let mut pr = trigger("pull_request", Some("main"), None);
        pr.pr_number = Some(7);
        s.insert_triggered_run("pr-7", "web", true, "{}", &pr).unwrap();
        s.insert_triggered_run("new", "web", true, "{}", &main).unwrap();
        assert_eq!(s.superseded_by("web", &main, "new").unwrap(), ["queued", "running"]);
        // The pull request's own later run supersedes its earlier one, not the pushes.
        s.insert_triggered_run("pr-7-again", "web", true, "{}", &pr).unwrap();
        assert_eq!(s.superseded_by("web", &pr, "pr-7-again").unwrap(), ["pr-7"]);
        pr.pr_number = Some(8);
        assert!(s.superseded_by("web", &pr, "x").unwrap().is_empty());
        assert!(s.superseded_by("web", &trigger("tag", None, None), "x").unwrap().is_empty());
        // The race a review found: a polled head and a webhook of the same push, queued one
        // after the other, each then asking what it supersedes. The older must not cancel
        // the newer (before, each cancelled the other and the commit was never built).
        let (polled, hooked) = (trigger("poll", Some("dev"), None), trigger("push", Some("dev"), None));
        s.insert_triggered_run("p", "web", true, "{}", &polled).unwrap();
        s.insert_triggered_run("w", "web", true, "{}", &hooked).unwrap();
        assert!(!s.superseded_by("web", &polled, "p").unwrap().contains(&"w".to_string()));
        assert!(s.superseded_by("web", &hooked, "w").unwrap().contains(&"p".to_string()));
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
        s.insert_triggered_run("run-b", "web", true, "{}", &pushed_b).unwrap();
        assert!(s.cancel_queued("run-b", "x").unwrap(), "ended runs count too");
        let mut pushed_a = trigger("push", Some("main"), None);
        pushed_a.commit_id = a.clone();
        s.insert_triggered_run("run-a", "web", true, "{}", &pushed_a).unwrap();
        assert_eq!(s.later_push_than("web", &pushed_a, "run-a").unwrap().as_deref(), Some("run-b"));
        // Not B itself, another branch, another project, or a pull request of the same commit.
        assert_eq!(s.later_push_than("web", &pushed_b, "run-b").unwrap(), None);
        pushed_a.branch = Some("dev".into());
        assert_eq!(s.later_push_than("web", &pushed_a, "x").unwrap(), None);
        pushed_a.branch = Some("main".into());
        assert_eq!(s.later_push_than("api", &pushed_a, "x").unwrap(), None);
        let mut pr = trigger("pull_request", Some("main"), None);
        (pr.pr_number, pr.commit_id) = (Some(7), a.clone());
        assert_eq!(s.later_push_than("web", &pr, "x").unwrap(), None);
        // A pull request's update that moved its head on from A.
        let mut pr_b = pr.clone();
        (pr_b.commit_id, pr_b.before) = (b, Some(a));
        s.insert_triggered_run("pr-b", "web", true, "{}", &pr_b).unwrap();
        assert_eq!(s.later_push_than("web", &pr, "x").unwrap().as_deref(), Some("pr-b"));
        // A force-push of main back to A comes from B: it is new, not late.
        pushed_a.before = Some(pushed_b.commit_id.clone());
        assert_eq!(s.later_push_than("web", &pushed_a, "x").unwrap(), None);
        // Only the newest run on the line counts: after C (from B), A's late delivery is not B's.
        pushed_a.before = None;
        let mut pushed_c = trigger("push", Some("main"), None);
        (pushed_c.commit_id, pushed_c.before) = ("c".repeat(40), Some(pushed_b.commit_id.clone()));
        s.insert_triggered_run("run-c", "web", true, "{}", &pushed_c).unwrap();
        assert_eq!(s.later_push_than("web", &pushed_a, "x").unwrap(), None);
        // Nor does a run from longer ago than the window (a branch made again at an old commit).
        let mut pushed_d = trigger("push", Some("dev"), None);
        (pushed_d.commit_id, pushed_d.before) = ("d".repeat(40), Some(pushed_a.commit_id.clone()));
        s.insert_triggered_run("run-d", "web", true, "{}", &pushed_d).unwrap();
        let mut on_dev = pushed_a.clone();
        on_dev.branch = Some("dev".into());
        assert_eq!(s.later_push_than("web", &on_dev, "x").unwrap().as_deref(), Some("run-d"));
        s.conn()
            .execute("UPDATE runs SET created_at = created_at - ?1 WHERE id = 'run-d'", [LATE_DELIVERY_WINDOW_SECS + 1])
            .unwrap();
        assert_eq!(s.later_push_than("web", &on_dev, "x").unwrap(), None);
    }

    /// Retention: only ended runs beyond the newest `keep` of the project go, with their
    /// events, steps and deliveries; other projects and running runs are left alone.
    #[test]
    fn old_ended_runs_go_with_everything_they_stored() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        for id in ["a", "b", "c", "d"] {
            s.insert_triggered_run(id, "web", true, "{}", &trigger("push", Some("main"), Some(id))).unwrap();
        }
        s.insert_run("other", "api", None, false, "{}").unwrap();
        assert!(s.start("a").unwrap(), "a stays running");
        for id in ["b", "c"] {
            assert!(s.start(id).unwrap());
            s.append_events(id, &[(1, "{}".into()), (2, "{}".into())]).unwrap();
            s.upsert_step(id, "1", "t", StepStatus::Success, Some(1), None).unwrap();
            assert!(s.finish(id, RunStatus::Success, None).unwrap());
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

    /// The head's delivery again under a new id finds the run building that commit; a tag's
    /// finds any run of the tag at that commit.
    #[test]
    fn a_run_of_the_same_commit_is_found_on_its_line_or_tag_only() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db.sqlite")).unwrap();
        let main = trigger("push", Some("main"), Some("d-1"));
        assert_eq!(s.same_commit_run("web", &main).unwrap(), None);
        s.insert_triggered_run("r", "web", true, "{}", &main).unwrap();
        assert_eq!(s.same_commit_run("web", &main).unwrap().as_deref(), Some("r"));
        assert_eq!(s.same_commit_run("web", &trigger("push", Some("dev"), None)).unwrap(), None);
        assert_eq!(s.same_commit_run("api", &main).unwrap(), None);
        let mut other = main.clone();
        other.commit_id = "f".repeat(40);
        assert_eq!(s.same_commit_run("web", &other).unwrap(), None);
        assert!(s.cancel_queued("r", "x").unwrap());
        assert_eq!(s.same_commit_run("web", &main).unwrap(), None, "an ended run builds nothing");
        // A tag's commit, built once, is not built again on a delivery of the same tag push.
        let tag = trigger("tag", None, Some("t-1"));
        assert_eq!(s.same_commit_run("web", &tag).unwrap(), None);
        s.insert_triggered_run("t", "web", true, "{}", &tag).unwrap();
        assert!(s.cancel_queued("t", "x").unwrap());
        assert_eq!(s.same_commit_run("web", &tag).unwrap().as_deref(), Some("t"));
        let mut moved = tag.clone();
        moved.commit_id = "e".repeat(40);
        assert_eq!(s.same_commit_run("web", &moved).unwrap(), None);
    }

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
        let t = trigger("push", Some("main"), Some("d"));
        assert!(!s.has_run_of("web", "main", &t.commit_id).unwrap());
        s.insert_triggered_run("a", "web", true, "{}", &t).unwrap();
        assert!(s.has_run_of("web", "main", &t.commit_id).unwrap());
        assert!(!s.has_run_of("web", "dev", &t.commit_id).unwrap());
        assert!(!s.has_run_of("api", "main", &t.commit_id).unwrap());
    }

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
