//! The states of a server run and of its steps, as the run API, the run store and the studio
//! name them. Defined once here, beside the planner both sides share, so the server and the
//! studio cannot disagree; the serde names are the API's (docs/openapi.yaml) and never change.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A run: `queued` → `running` → one of the final states; a queued run may be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Running,
    Success,
    Failed,
    Cancelled,
    /// The server stopped while the run was in flight.
    Interrupted,
    /// The run stopped on an internal error of the server (a bug), not on its pipeline.
    Error,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Interrupted,
        RunStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the run has ended (nothing about it changes any more).
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// A step of a run, as stored and streamed (`step_status` events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Running,
    Success,
    Failed,
    Skipped,
    Cancelled,
    /// The server stopped while the step ran.
    Interrupted,
}

impl StepStatus {
    pub const ALL: [StepStatus; 6] = [
        StepStatus::Running,
        StepStatus::Success,
        StepStatus::Failed,
        StepStatus::Skipped,
        StepStatus::Cancelled,
        StepStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Running => "running",
            StepStatus::Success => "success",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
            StepStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<StepStatus> {
        StepStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str`, `parse` and serde agree on every name, and the names are the API's.
    #[test]
    fn names_are_the_apis_and_round_trip() {
        let runs: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(runs, ["queued", "running", "success", "failed", "cancelled", "interrupted", "error"]);
        for s in RunStatus::ALL {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::from_str::<RunStatus>(&format!("\"{s}\"")).unwrap(), s);
        }
        let steps: Vec<&str> = StepStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(steps, ["running", "success", "failed", "skipped", "cancelled", "interrupted"]);
        for s in StepStatus::ALL {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
            assert_eq!(StepStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RunStatus::parse("Running"), None);
        assert!(!RunStatus::Queued.is_finished() && !RunStatus::Running.is_finished());
        assert!(RunStatus::Error.is_finished() && RunStatus::Cancelled.is_finished());
    }
}
