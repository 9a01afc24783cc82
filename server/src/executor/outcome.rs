//! How a run ended, and what the server stores for it.

use super::events::StepResult;
use slipway_core::run_state::RunStatus;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every step that ran succeeded (steps skipped by the plan or a manual group that was
    /// not approved are not failures).
    Succeeded,
    /// A step failed (its exit code, an error, or a limit that stopped it or the run).
    Failed,
    /// The run was cancelled (a request, Ctrl-C, the server shutting down).
    Cancelled,
}

impl RunOutcome {
    /// The one conversion to the status the server stores and shows.
    pub fn status(self) -> RunStatus {
        match self {
            RunOutcome::Succeeded => RunStatus::Success,
            RunOutcome::Failed => RunStatus::Failed,
            RunOutcome::Cancelled => RunStatus::Cancelled,
        }
    }
}

/// The outcome of a run, with each step's result in the order of the pipeline.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub outcome: RunOutcome,
    pub steps: Vec<StepResult>,
}
