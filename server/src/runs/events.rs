//! Every event a run stores and sends to its followers, as one type serialized in one place
//! ([`RunEvent::to_json`]): the plan first, then what the executor reports (step output,
//! messages, step statuses, the log cap's notes), and `run_finished` last. The studio and
//! `slipway` clients read these as they are written here: keep the names and the keys.

use super::live::Live;
use super::{CANCELLED_QUEUED, Manager, log_cap};
use crate::executor::{self, events::Event};
use anyhow::{Context, Result};
use serde::ser::{Serialize, SerializeMap, Serializer};
use slipway_core::run_state::RunStatus;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

/// Events stored per transaction at most, when a chatty step has many queued up.
const MAX_EVENT_BATCH: usize = 512;

#[derive(Debug, Clone)]
pub enum RunEvent<'a> {
    /// Event 1: the pipeline's shape, so that a follower (the studio's graph) knows it before
    /// the first step reports; masked like the log.
    /// With the commit it builds and whether it runs edited files (the studio's editors'), which
    /// the Run panel shows: a run of edited files is not the project's.
    Plan { plan: serde_json::Value, commit: String, edited: bool },
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
            // `event` and `plan` first, as runs stored before `commit` and `edited` have them.
            RunEvent::Plan { plan, commit, edited } => {
                let mut m = s.serialize_map(Some(4))?;
                m.serialize_entry("event", "plan")?;
                m.serialize_entry("plan", plan)?;
                m.serialize_entry("commit", commit)?;
                m.serialize_entry("edited", edited)?;
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

/// `from` → `status`, with the `run_finished` event stored in the same transaction (a
/// follower that sees the run ended finds the event) and sent to live followers.
pub(super) fn end(m: &Manager, id: &str, from: RunStatus, status: RunStatus, error: Option<&str>) -> Result<bool> {
    // (Recorded only on repository runs: see `Store::finish`.)
    let forge_status = super::repo::final_state(status).as_str();
    let ended = match from {
        RunStatus::Queued => {
            let error = error.unwrap_or(CANCELLED_QUEUED);
            m.store.cancel_queued(id, error, &RunEvent::finished(status, Some(error)).to_json(), forge_status)?
        }
        _ => m.store.finish(id, status, error, &RunEvent::finished(status, error).to_json(), forge_status)?,
    };
    // Nothing is stored after it: the run's pump has ended, or (queued) never started.
    if ended && let Some(live) = m.live(id) {
        live.send((m.store.last_event(id)?, RunEvent::finished(status, error).to_json()));
    }
    Ok(ended)
}

/// The `run_finished` event of a run whose state was changed already (interrupted by a stop).
pub(super) fn finish_events(m: &Manager, id: &str, status: RunStatus, error: Option<&str>) {
    let data = RunEvent::finished(status, error).to_json();
    let seq = m.store.last_event(id).unwrap_or(0) + 1;
    let _ = m.store.append_event(id, seq, &data);
    if let Some(live) = m.live(id) {
        live.send((seq, data));
    }
}

/// Event 1, the plan, stored and sent; the run's request stored masked; the followers'
/// channel opened. Commands and values in the plan may hold a decrypted value (pasted into
/// the steps file, say): masked like the log.
pub(super) fn begin(
    m: &Manager,
    id: &str,
    prepared: &executor::Prepared,
    request: &str,
    edited: bool,
    live: &Live,
) -> Result<()> {
    let mut plan = serde_json::to_value(prepared.plan())?;
    prepared.mask_json(&mut plan);
    let commit = prepared.mask(&prepared.vars().commit_id);
    let plan_event = RunEvent::Plan { plan, commit, edited }.to_json();
    m.store.append_event(id, 1, &plan_event)?;
    // The request (edited files, build values) is kept with the run: masked from now on.
    let mut stored: serde_json::Value = serde_json::from_str(request).context("stored run request")?;
    prepared.mask_json(&mut stored);
    m.store.set_request(id, &stored.to_string())?;
    live.open();
    live.send((1, plan_event));
    Ok(())
}

/// Store every event the executor sends (already masked by it) and fan it out to followers,
/// step output only up to the run's log cap; what was cut is summed up once the steps are
/// done. Ends when the executor drops its sender. `after`: the number of the run's last
/// event stored (the plan's, 1; more for a run a restarted server follows again). An event
/// from elsewhere ([`Event::Numbered`]) is stored with its number there, in one transaction.
pub(super) fn pump(
    m: &Arc<Manager>,
    id: &str,
    mut rx: UnboundedReceiver<Event>,
    live: Arc<Live>,
    after: u64,
) -> JoinHandle<()> {
    let store = m.store.clone();
    let run_id = id.to_string();
    let me = m.clone();
    let mut cap = log_cap::LogCap::new(m.policy.max_log_bytes);
    tokio::spawn(async move {
        let mut seq = after;
        let mut batch = Vec::new();
        while let Some(first) = rx.recv().await {
            // Whatever else has queued up goes into the same transaction.
            batch.push(first);
            while batch.len() < MAX_EVENT_BATCH
                && let Ok(ev) = rx.try_recv()
            {
                batch.push(ev);
            }
            let mut rows = Vec::with_capacity(batch.len());
            let mut agent_events = None;
            for mut ev in batch.drain(..) {
                if let Event::Numbered { n, event } = ev {
                    // Counted also when the log cap drops it: it was read.
                    agent_events = Some(n);
                    ev = *event;
                }
                if let Event::StepStatus { step, id, status, duration_ms, message } = &mut ev {
                    // Shown without a token (`GET /api/runs/{id}`), like the run's error.
                    if let Some(msg) = message {
                        *msg = super::redact::public_text(&me, msg);
                    }
                    let _ = store.upsert_step(&run_id, id, step, *status, *duration_ms, message.as_deref());
                }
                let data = RunEvent::Executor(&ev).to_json();
                let kept = match cap.admit(&ev, data.len()) {
                    log_cap::Admit::Keep => data,
                    log_cap::Admit::CutHere => RunEvent::Executor(&cap.marker()).to_json(),
                    log_cap::Admit::Drop => continue,
                };
                seq += 1;
                rows.push((seq, kept));
            }
            if let Err(e) = store.append_agent_events(&run_id, &rows, agent_events) {
                tracing::error!(run = %run_id, "cannot store events: {e:#}");
            }
            for row in rows {
                live.send(row);
            }
        }
        // What was cut, once the steps are done.
        if let Some(summary) = cap.summary() {
            let row = (seq + 1, RunEvent::Executor(&summary).to_json());
            if let Err(e) = store.append_events(&run_id, std::slice::from_ref(&row)) {
                tracing::error!(run = %run_id, "cannot store events: {e:#}");
            }
            live.send(row);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events from elsewhere are stored after the run's last event, unwrapped, and their count
    /// goes with them: what a restarted server's pump (`after` > 1) needs to store nothing twice.
    #[tokio::test]
    async fn numbered_events_are_stored_unwrapped_with_their_count() {
        let (m, _dir) = crate::runs::testing::manager(1);
        m.store.insert_run("r", "p", None, false, "{}").unwrap();
        m.store.append_events("r", &[(1, "plan".into()), (2, "info".into())]).unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let pump = pump(&m, "r", rx, Live::new(), 2);
        let line = |n: u64| Event::Numbered {
            n,
            event: Box::new(Event::Log {
                step: "s".into(),
                id: "1".into(),
                service: "app".into(),
                line: format!("line {n}"),
                build: false,
                at_ms: None,
            }),
        };
        tx.send(line(4)).unwrap();
        tx.send(Event::Info { message: "the server's own".into() }).unwrap();
        tx.send(line(5)).unwrap();
        drop(tx);
        pump.await.unwrap();
        let stored: Vec<(u64, String)> = m.store.events_after("r", 2, 10).unwrap();
        assert_eq!(stored.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [3, 4, 5]);
        assert!(stored[0].1.contains(r#""line":"line 4""#) && stored[0].1.starts_with(r#"{"event":"log""#));
        assert!(stored[1].1.contains("the server's own"));
        assert_eq!(m.store.agent_events("r").unwrap(), 5);
    }

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
            RunEvent::Plan { plan: plan.clone(), commit: "56e3f2d".into(), edited: true }.to_json(),
            r#"{"event":"plan","plan":{"steps":[],"tag":"main"},"commit":"56e3f2d","edited":true}"#
        );
        let info = Event::Info { message: "hello".into() };
        assert_eq!(RunEvent::Executor(&info).to_json(), serde_json::to_string(&info).unwrap());
    }
}
