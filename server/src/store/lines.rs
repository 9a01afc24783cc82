//! Runs looked up by their line of work (a branch, a pull request, a tag: the `line` column,
//! named by the run manager, see `runs/lines.rs`). Which look applies when, and what a result
//! means (superseded, late, a duplicate), is the manager's: these only find rows.

use super::{Store, trigger_column};
use crate::forge::run_trigger::RunTrigger;
use anyhow::Result;
use rusqlite::{Connection, OptionalExtension, params};
use slipway_core::run_state::RunStatus;

/// How to look for a run that builds a commit already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameCommit<'a> {
    /// A queued or running run of `line` at `commit`.
    Building { line: &'a str, commit: &'a str },
    /// Any run of `line` at `commit` (its commit or the annotated tag object a delivery named
    /// instead, `RunTrigger::tag_object`) that was not found late, however it ended.
    Built { line: &'a str, commit: &'a str },
}

/// The newest run of a line, for the manager to compare a trigger with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRun {
    pub id: String,
    /// `None` when this version cannot read the stored trigger.
    pub trigger: Option<RunTrigger>,
    pub created_at: i64,
}

/// [`SameCommit`] on `c` (a transaction's connection, say).
pub(super) fn same_commit_in(c: &Connection, project: &str, same: &SameCommit) -> Result<Option<String>> {
    let (sql, line, commit) = match *same {
        SameCommit::Building { line, commit } => (
            "SELECT id FROM runs WHERE project = ?1 AND line = ?2 AND status IN (?3, ?4)
               AND json_extract(trigger_json, '$.commit_id') = ?5
             ORDER BY seq DESC LIMIT 1",
            line,
            commit,
        ),
        // (`?3` and `?4` go unused: SQLite binds up to the highest number, `?5`.)
        SameCommit::Built { line, commit } => (
            "SELECT id FROM runs WHERE project = ?1 AND line = ?2
               AND ?5 IN (json_extract(trigger_json, '$.commit_id'), json_extract(trigger_json, '$.tag_object'))
               AND COALESCE(json_extract(trigger_json, '$.head'), '') != 'late'
             ORDER BY seq DESC LIMIT 1",
            line,
            commit,
        ),
    };
    Ok(c.query_row(sql, params![project, line, RunStatus::Queued.as_str(), RunStatus::Running.as_str(), commit], |r| {
        r.get(0)
    })
    .optional()?)
}

impl Store {
    /// The queued or running runs of `project`'s `line` queued before run `run`, oldest first.
    pub fn active_runs_before(&self, project: &str, line: &str, run: &str) -> Result<Vec<String>> {
        Ok(self
            .conn()
            .prepare(
                "SELECT id FROM runs WHERE project = ?1 AND line = ?2 AND id != ?3 AND status IN (?4, ?5)
                   AND seq < (SELECT seq FROM runs WHERE id = ?3)
                 ORDER BY seq",
            )?
            .query_map(params![project, line, run, RunStatus::Queued.as_str(), RunStatus::Running.as_str()], |r| {
                r.get(0)
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The newest run of `project`'s `line` other than `except`, whatever its state.
    pub fn newest_on_line(&self, project: &str, line: &str, except: &str) -> Result<Option<LineRun>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, trigger_json, created_at FROM runs WHERE project = ?1 AND line = ?2 AND id != ?3
                 ORDER BY seq DESC LIMIT 1",
                params![project, line, except],
                |r| Ok(LineRun { id: r.get(0)?, trigger: trigger_column(r, 1).ok().flatten(), created_at: r.get(2)? }),
            )
            .optional()?)
    }

    /// [`SameCommit`] outside a transaction, for tests.
    #[cfg(test)]
    pub fn same_commit_run(&self, project: &str, same: &SameCommit) -> Result<Option<String>> {
        same_commit_in(&self.conn(), project, same)
    }

    /// Move run `id`'s creation `secs` into the past, for tests of time windows.
    #[cfg(test)]
    pub fn age_run(&self, id: &str, secs: i64) -> Result<()> {
        self.conn().execute("UPDATE runs SET created_at = created_at - ?2 WHERE id = ?1", params![id, secs])?;
        Ok(())
    }
}
