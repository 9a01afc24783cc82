//! Every event a run stores and sends to its followers, as one type serialized in one place
//! ([`RunEvent::to_json`]): the plan first, then what the executor reports (step output,
//! messages, step statuses, the log cap's notes), and `run_finished` last. The studio and
//! `slipway` clients read these as they are written here: keep the names and the keys.

use crate::executor::events::Event;
use serde::ser::{Serialize, SerializeMap, Serializer};
use slipway_core::run_state::RunStatus;

#[derive(Debug, Clone)]
pub enum RunEvent<'a> {
    /// Event 1: the pipeline's shape, so that a follower (the studio's graph) knows it before
    /// the first step reports; masked like the log.
    Plan { plan: serde_json::Value },
    /// What the executor reports.
    Executor(&'a Event),
    /// How the run ended: its last event.
    RunFinished { status: RunStatus, error: Option<String> },
}

impl RunEvent<'_> {
    pub fn finished(status: RunStatus, error: Option<&str>) -> RunEvent<'static> {
        RunEvent::RunFinished { status, error: error.map(str::to_string) }
    }

    /// The event as stored and sent.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for RunEvent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RunEvent::Executor(e) => e.serialize(s),
            RunEvent::Plan { plan } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("event", "plan")?;
                m.serialize_entry("plan", plan)?;
                m.end()
            }
            // The keys in the order stored runs have them (sorted, as `json!` wrote them):
            // old and new logs read alike, byte for byte.
            RunEvent::RunFinished { status, error } => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("error", error)?;
                m.serialize_entry("event", "run_finished")?;
                m.serialize_entry("status", status)?;
                m.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes runs stored before this type, which the studio and the API's clients read.
    #[test]
    fn events_are_written_as_before() {
        assert_eq!(
            RunEvent::finished(RunStatus::Failed, None).to_json(),
            serde_json::json!({"event": "run_finished", "status": RunStatus::Failed, "error": null}).to_string()
        );
        assert_eq!(
            RunEvent::finished(RunStatus::Error, Some("x \"y\"")).to_json(),
            r#"{"error":"x \"y\"","event":"run_finished","status":"error"}"#
        );
        let plan = serde_json::json!({"steps": [], "tag": "main"});
        assert_eq!(
            RunEvent::Plan { plan: plan.clone() }.to_json(),
            serde_json::json!({"event": "plan", "plan": plan}).to_string()
        );
        let info = Event::Info { message: "hello".into() };
        assert_eq!(RunEvent::Executor(&info).to_json(), serde_json::to_string(&info).unwrap());
    }
}
