//! The database's schema, made and migrated on open (`PRAGMA user_version`): each entry of
//! [`MIGRATIONS`] runs once, in its own transaction, on a database older than it.

use anyhow::{Context, Result};
use rusqlite::Connection;
use std::path::Path;

pub(super) const MIGRATIONS: &[&str] = &[
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
    // The line of work each run belongs to, as the run manager names it (`runs/lines.rs`):
    // the store looks runs up by it and decides nothing about it. Runs queued before the
    // column existed get the names the manager gave those triggers then (kept here, once).
    "ALTER TABLE runs ADD COLUMN line TEXT;
    UPDATE runs SET line = CASE
        WHEN json_extract(trigger_json, '$.kind') IN ('push', 'poll')
             AND json_extract(trigger_json, '$.branch') IS NOT NULL
          THEN 'branch:' || json_extract(trigger_json, '$.branch')
        WHEN json_extract(trigger_json, '$.kind') = 'pull_request'
             AND json_extract(trigger_json, '$.pr_number') IS NOT NULL
          THEN 'pull_request:' || CAST(json_extract(trigger_json, '$.pr_number') AS TEXT)
        WHEN json_extract(trigger_json, '$.kind') = 'tag' AND json_extract(trigger_json, '$.tag') IS NOT NULL
          THEN 'tag:' || json_extract(trigger_json, '$.tag')
      END
      WHERE trigger_json IS NOT NULL;
    CREATE INDEX runs_by_line ON runs (project, line, seq);",
    // The cluster node a run ran on (`slipway serve --engine swarm`); none on the local engine.
    "ALTER TABLE runs ADD COLUMN node TEXT;",
    // How many events of a run that goes on elsewhere (a swarm agent's) were stored, written
    // with them: a restarted server following the run again stores none of them twice.
    "ALTER TABLE runs ADD COLUMN agent_events INTEGER NOT NULL DEFAULT 0;",
];

/// Bring the database at `path` (open on `conn`) to the newest schema.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    incremental_vacuum_on(conn, path)?;
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
    super::triggered::create(conn).context("cannot create the table of triggered pushes")?;
    Ok(())
}

/// A database as a version of the server with only the first `version` migrations made it,
/// for tests of what opening it with this version does.
#[cfg(test)]
pub fn create_at_version(path: &Path, version: usize) -> Connection {
    let c = Connection::open(path).unwrap();
    for m in &MIGRATIONS[..version] {
        c.execute_batch(m).unwrap();
    }
    c.pragma_update(None, "user_version", version as i64).unwrap();
    c
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// A database made before steps had ids is migrated: its rows keep their name as the id.
    #[test]
    fn old_step_rows_are_migrated() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db.sqlite");
        {
            let c = create_at_version(&path, 1);
            c.execute_batch(
                "INSERT INTO runs VALUES ('a', 1, 'p', NULL, 0, 'success', NULL, '{}', 0, NULL, NULL);
                 INSERT INTO steps VALUES ('a', 'unit', 'success', 3, NULL, 1);",
            )
            .unwrap();
        }
        let rows = Store::open(&path).unwrap().steps("a").unwrap();
        assert_eq!((rows[0].id.as_str(), rows[0].name.as_str()), ("unit", "unit"));
    }

    /// A database made before runs counted their events from elsewhere (the schema of seven
    /// migrations): its runs count none, and a running one can be counted from there.
    #[test]
    fn runs_from_before_agent_events_count_none() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db.sqlite");
        {
            let c = create_at_version(&path, 7);
            c.execute_batch(
                "INSERT INTO runs (id, seq, project, push, status, request, created_at, node)
                 VALUES ('a', 1, 'p', 0, 'running', '{}', 0, 'slw-n1');",
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.agent_events("a").unwrap(), 0);
        s.append_agent_events("a", &[(1, "{}".into())], Some(1)).unwrap();
        assert_eq!(s.agent_events("a").unwrap(), 1);
        assert_eq!(s.run("a").unwrap().unwrap().node.as_deref(), Some("slw-n1"));
    }

    /// A database made before runs had a `line` (the schema of five migrations) opens: every
    /// triggered run gets the line its trigger names, an API run none, and nothing is lost.
    #[test]
    fn runs_from_before_the_line_column_get_their_line() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db.sqlite");
        {
            let c = create_at_version(&path, 5);
            let trigger = |kind: &str, extra: &str| {
                format!(
                    r#"{{"kind":"{kind}","commit_id":"{}","fetch_ref":"r","ci_pull_request":"false"{extra}}}"#,
                    "a".repeat(40)
                )
            };
            for (id, json) in [
                ("push", Some(trigger("push", r#","branch":"main""#))),
                ("poll", Some(trigger("poll", r#","branch":"main""#))),
                ("pr", Some(trigger("pull_request", r#","branch":"feature","pr_number":7"#))),
                ("tag", Some(trigger("tag", r#","tag":"v1""#))),
                ("api", None),
            ] {
                c.execute(
                    "INSERT INTO runs (id, seq, project, push, status, request, created_at, trigger_json)
                     VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM runs), 'web', 1, 'queued', '{}', 0, ?2)",
                    rusqlite::params![id, json],
                )
                .unwrap();
            }
        }
        let s = Store::open(&path).unwrap();
        let line = |id: &str| -> Option<String> {
            s.conn().query_row("SELECT line FROM runs WHERE id = ?1", [id], |r| r.get(0)).unwrap()
        };
        assert_eq!(line("push").as_deref(), Some("branch:main"));
        assert_eq!(line("poll").as_deref(), Some("branch:main"));
        assert_eq!(line("pr").as_deref(), Some("pull_request:7"));
        assert_eq!(line("tag").as_deref(), Some("tag:v1"));
        assert_eq!(line("api"), None);
        assert_eq!(s.queued().unwrap(), ["push", "poll", "pr", "tag", "api"]);
        assert_eq!(s.run("pr").unwrap().unwrap().trigger.unwrap().pr_number, Some(7));
        drop(s);
        // Opening again changes nothing (the migration ran once).
        let s = Store::open(&path).unwrap();
        assert_eq!(s.queued().unwrap().len(), 5);
    }
}
