//! What a run reports as it goes. The CLI prints these; the server stores and streams them.
//! Every text in an event has already been masked.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Running,
    Success,
    Failed,
    Skipped,
    Cancelled,
}

/// Deserialisable too: the server turns stored events back into text (`GET /api/runs/{id}/log`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A line of output from a step's container (or from building/pushing for it).
    Log {
        step: String,
        service: String,
        line: String,
        /// Output of building (or pulling) the service's image, not of the step's command.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        build: bool,
    },
    /// Runner messages that belong to no step (building images, cleanup).
    Info { message: String },
    /// A `manual` group waits for approval.
    Waiting { group: String },
    StepStatus {
        step: String,
        status: StepStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

pub type EventSender = tokio::sync::mpsc::UnboundedSender<Event>;

pub fn status(step: &str, status: StepStatus, duration: Option<Duration>, message: Option<String>) -> Event {
    Event::StepStatus { step: step.to_string(), status, duration_ms: duration.map(|d| d.as_millis() as u64), message }
}
