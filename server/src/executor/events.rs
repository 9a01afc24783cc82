//! What a run reports as it goes. The CLI prints these; the server stores and streams them.
//! Every text in an event has already been masked.

use std::time::Duration;

/// The one step state type, shared with the store, the API and the studio. The executor never
/// reports `Interrupted`: the server sets it for steps that ran when it stopped.
pub use slipway_core::run_state::StepStatus;

/// Deserialisable too: the server turns stored events back into text (`GET /api/runs/{id}/log`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A line of output from a step's container (or from building/pushing for it).
    Log {
        /// The step's label (`name` in the steps file, or a generated one).
        step: String,
        /// The step's path in the plan (see `PlannedStep::id`): names may repeat, ids do not.
        #[serde(default)]
        id: String,
        service: String,
        line: String,
        /// Output of building (or pulling) the service's image, not of the step's command.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        build: bool,
        /// When the line was read, in Unix milliseconds (events stored by older versions
        /// have none): the studio shows it beside the line.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_ms: Option<u64>,
    },
    /// Runner messages that belong to no step (building images, cleanup).
    Info { message: String },
    /// A `manual` group waits for approval.
    Waiting {
        group: String,
        #[serde(default)]
        id: String,
    },
    StepStatus {
        step: String,
        #[serde(default)]
        id: String,
        status: StepStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// An event a placement read back from elsewhere (a swarm agent's log), with its number
    /// there: the server stores how far it read in the same transaction as the event, so that
    /// a restarted server reading that log again stores nothing twice. Never serialized: the
    /// server unwraps it before storing (`runs::events::pump`).
    #[serde(skip)]
    Numbered { n: u64, event: Box<Event> },
}

/// Now, in Unix milliseconds, for [`Event::Log`]'s `at_ms`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

pub type EventSender = tokio::sync::mpsc::UnboundedSender<Event>;

/// One step's result at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepResult {
    pub id: String,
    pub name: String,
    pub status: StepStatus,
    pub duration: Duration,
}
