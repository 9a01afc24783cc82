//! Run history in SQLite: runs, their steps, and every (already masked) event in order.
//! The schema is created and migrated on open (`PRAGMA user_version`).

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;

const MIGRATIONS: &[&str] = &["CREATE TABLE runs (
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
    );"];

pub struct Store(Mutex<Connection>);

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: String,
    pub project: String,
    pub tag: Option<String>,
    pub push: bool,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub name: String,
    pub status: String,
    pub duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

const RUN_COLUMNS: &str = "id, project, tag, push, status, error, created_at, started_at, finished_at";

fn run_row(r: &rusqlite::Row) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        project: r.get(1)?,
        tag: r.get(2)?,
        push: r.get::<_, i64>(3)? != 0,
        status: r.get(4)?,
        error: r.get(5)?,
        created_at: r.get(6)?,
        started_at: r.get(7)?,
        finished_at: r.get(8)?,
    })
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
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // In WAL mode NORMAL still never corrupts the database; a power cut may lose the last
        // few commits, which an interrupted run loses anyway.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(m).with_context(|| format!("database migration {} failed", i + 1))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(Store(Mutex::new(conn)))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert_run(&self, id: &str, project: &str, tag: Option<&str>, push: bool, request: &str) -> Result<()> {
        let c = self.conn();
        let seq: i64 = c.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs", [], |r| r.get(0))?;
        c.execute(
            "INSERT INTO runs (id, seq, project, tag, push, status, request, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7)",
            params![id, seq, project, tag, push as i64, request, now()],
        )?;
        Ok(())
    }

    /// The oldest queued run, if any.
    pub fn next_queued(&self) -> Result<Option<(String, String)>> {
        Ok(self
            .conn()
            .query_row("SELECT id, request FROM runs WHERE status = 'queued' ORDER BY seq LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    pub fn set_status(&self, id: &str, status: &str, error: Option<&str>) -> Result<()> {
        let c = self.conn();
        match status {
            "running" => {
                c.execute("UPDATE runs SET status = ?2, started_at = ?3 WHERE id = ?1", params![id, status, now()])?
            }
            _ => c.execute(
                "UPDATE runs SET status = ?2, error = ?3, finished_at = ?4 WHERE id = ?1",
                params![id, status, error, now()],
            )?,
        };
        Ok(())
    }

    /// Runs that were running when the server stopped: mark them interrupted.
    pub fn interrupt_running(&self) -> Result<Vec<String>> {
        let c = self.conn();
        let ids: Vec<String> = c
            .prepare("SELECT id FROM runs WHERE status = 'running'")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        c.execute(
            "UPDATE runs SET status = 'interrupted', error = 'the server stopped during the run', finished_at = ?1 WHERE status = 'running'",
            params![now()],
        )?;
        c.execute("UPDATE steps SET status = 'interrupted' WHERE status = 'running'", [])?;
        Ok(ids)
    }

    pub fn run(&self, id: &str) -> Result<Option<RunRow>> {
        Ok(self.conn().query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"), [id], run_row).optional()?)
    }

    pub fn runs(&self, page: u32, per_page: u32) -> Result<(Vec<RunRow>, i64)> {
        let c = self.conn();
        let total: i64 = c.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))?;
        let rows = c
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY seq DESC LIMIT ?1 OFFSET ?2"))?
            .query_map(params![per_page, page.saturating_sub(1) * per_page], run_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok((rows, total))
    }

    pub fn upsert_step(
        &self,
        run: &str,
        name: &str,
        status: &str,
        duration_ms: Option<u64>,
        message: Option<&str>,
    ) -> Result<()> {
        let c = self.conn();
        let position: i64 =
            c.query_row("SELECT COALESCE(MAX(position), 0) + 1 FROM steps WHERE run_id = ?1", [run], |r| r.get(0))?;
        c.execute(
            "INSERT INTO steps (run_id, name, status, duration_ms, message, position) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (run_id, name) DO UPDATE SET status = ?3, duration_ms = ?4, message = ?5",
            params![run, name, status, duration_ms.map(|d| d as i64), message, position],
        )?;
        Ok(())
    }

    pub fn steps(&self, run: &str) -> Result<Vec<StepRow>> {
        Ok(self
            .conn()
            .prepare("SELECT name, status, duration_ms, message FROM steps WHERE run_id = ?1 ORDER BY position")?
            .query_map([run], |r| {
                Ok(StepRow { name: r.get(0)?, status: r.get(1)?, duration_ms: r.get(2)?, message: r.get(3)? })
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
        Ok(self
            .conn()
            .prepare_cached("SELECT seq, data FROM events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?
            .query_map(params![run, after as i64, limit], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?
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

    #[test]
    fn runs_events_and_restart() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db.sqlite");
        {
            let s = Store::open(&path).unwrap();
            s.insert_run("a", "p", Some("main"), false, "{}").unwrap();
            s.insert_run("b", "p", None, true, "{}").unwrap();
            s.set_status("a", "running", None).unwrap();
            s.append_event("a", 1, "{\"x\":1}").unwrap();
            s.upsert_step("a", "t", "running", None, None).unwrap();
            assert_eq!(s.next_queued().unwrap().unwrap().0, "b");
        }
        // Reopen: migrations are idempotent, history is kept, running becomes interrupted.
        let s = Store::open(&path).unwrap();
        assert_eq!(s.interrupt_running().unwrap(), ["a"]);
        assert_eq!(s.run("a").unwrap().unwrap().status, "interrupted");
        assert_eq!(s.steps("a").unwrap()[0].status, "interrupted");
        assert_eq!(s.events_after("a", 0, 100).unwrap().len(), 1);
        assert_eq!(s.last_event("a").unwrap(), 1);
        let (rows, total) = s.runs(1, 10).unwrap();
        assert_eq!((rows[0].id.as_str(), total), ("b", 2));
    }
}
