//! What the run manager records about a run besides its state: its trigger (completed by the
//! checkout), its request (masked once the run knows its secrets), its commit statuses and
//! notifications, and what the badges ask.

use super::{Store, column, trigger_column};
use crate::forge::run_trigger::RunTrigger;
use anyhow::Result;
use rusqlite::{OptionalExtension, params};
use slipway_core::run_state::RunStatus;

/// Undelivered notifications kept per run (a project has a few targets and four events).
pub const MAX_NOTIFY_ERRORS: i64 = 64;

/// A run's project and stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequest {
    pub project: String,
    /// The request as stored (masked once the run was prepared).
    pub request: String,
    /// Whether a trigger (a delivery or a poll) started the run.
    pub triggered: bool,
}

/// A commit status queued for a run and not sent yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsentStatus {
    pub id: String,
    pub project: String,
    /// The commit status's name.
    pub state: String,
}

impl Store {
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
    pub fn unsent_statuses(&self) -> Result<Vec<UnsentStatus>> {
        Ok(self
            .conn()
            .prepare("SELECT id, project, status_unsent FROM runs WHERE status_unsent IS NOT NULL ORDER BY seq")?
            .query_map([], |r| Ok(UnsentStatus { id: r.get(0)?, project: r.get(1)?, state: r.get(2)? }))?
            .collect::<rusqlite::Result<_>>()?)
    }

    pub fn set_status_error(&self, id: &str, error: Option<&str>) -> Result<()> {
        self.conn().execute("UPDATE runs SET status_error = ?2 WHERE id = ?1", params![id, error])?;
        Ok(())
    }

    /// The run's project and stored request, and whether a trigger started it; `None` for an
    /// unknown run.
    pub fn request(&self, id: &str) -> Result<Option<StoredRequest>> {
        Ok(self
            .conn()
            .query_row("SELECT project, request, trigger_json IS NOT NULL FROM runs WHERE id = ?1", [id], |r| {
                Ok(StoredRequest { project: r.get(0)?, request: r.get(1)?, triggered: r.get(2)? })
            })
            .optional()?)
    }

    /// Record the cluster node a run runs on.
    pub fn set_node(&self, id: &str, node: &str) -> Result<()> {
        self.conn().execute("UPDATE runs SET node = ?2 WHERE id = ?1", params![id, node])?;
        Ok(())
    }

    /// Record the tag a run was planned for when its request named none (the server then
    /// plans for the project's checked-out branch): the list shows it and filters by it.
    pub fn set_tag_if_unset(&self, id: &str, tag: &str) -> Result<()> {
        self.conn().execute("UPDATE runs SET tag = ?2 WHERE id = ?1 AND tag IS NULL", params![id, tag])?;
        Ok(())
    }

    /// Replace a run's stored request (with its masked form, once the run knows its secrets).
    pub fn set_request(&self, id: &str, request: &str) -> Result<()> {
        self.conn().execute("UPDATE runs SET request = ?2 WHERE id = ?1", params![id, request])?;
        Ok(())
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
