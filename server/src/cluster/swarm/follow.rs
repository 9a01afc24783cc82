//! Following a run's task: the agent's JSON lines read back from the service's log and turned
//! into the run's events (masked again by the server), the task's node recorded, and the run
//! ended by the agent's result line, by a cancel, or by the task or its node going away.
//!
//! The log is read from its start, also when it is opened again (its stream broke, or a
//! restarted server takes the run up again: see `reattach.rs`): the agent numbers its events,
//! and those up to the last one stored or emitted are skipped, so none is stored twice.

use super::OnPlaced;
use super::images;
use super::service::Names;
use crate::cluster::job::Line;
use crate::executor::{RemoteRun, Resume, RunOutcome, RunResult};
use anyhow::{Result, anyhow};
use bollard::models::{NodeState, TaskState};
use bollard::query_parameters::{ListTasksOptionsBuilder, LogsOptionsBuilder};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often the task and its node are looked at.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How long the log may take to deliver the result line after the task ended.
const AFTER_END: Duration = Duration::from_secs(10);
/// How long a cancelled run's agent has to clean up and say so, before the run ends anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(90);
/// A line longer than this is not the agent's (its events are bounded by the executor's).
const MAX_LINE: usize = 4 << 20;

/// The run ended because its node (or its task) went away: the run manager records it as
/// `interrupted`, as it does runs a server stop interrupted.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NodeLost(pub String);

/// Follow the run from `from` (nothing stored yet for a run just submitted), `approvals`
/// approval tags already pushed for it.
pub(super) async fn follow(
    docker: &bollard::Docker,
    run: &RemoteRun,
    names: &Names,
    on_placed: &OnPlaced,
    from: Resume,
    approvals: u32,
) -> Result<RunResult> {
    let mut state = Follow { emitted: from.stored, buf: Vec::new(), node: from.node, ended: None };
    let mut cancelled: Option<Instant> = None;
    // Approvals given on the server (the approve endpoint notifies this), passed on to the
    // agent as numbered tags.
    let approval = run.spec().options.approval.clone();
    let mut approvals = approvals;
    let mut logs = open_logs(docker, &names.service);
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tokio::select! {
            item = logs.next() => match item {
                Some(Ok(out)) => {
                    state.buf.extend_from_slice(&out.into_bytes());
                    if let Some(done) = state.lines(run)? {
                        return Ok(done);
                    }
                    // The agent speaks: its task is on a node, which the record names from now.
                    if state.node.is_none()
                        && let Some(lost) = state.watch(docker, run, names, on_placed).await
                    {
                        run.info(lost.0.clone());
                        return Err(lost.into());
                    }
                    if state.buf.len() > MAX_LINE {
                        return Err(anyhow!("the run's agent wrote a line longer than {MAX_LINE} bytes"));
                    }
                }
                // The log ended (or failed) before the result: read it again (the events
                // emitted already are skipped by their numbers).
                Some(Err(_)) | None => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    state.buf.clear();
                    logs = open_logs(docker, &names.service);
                }
            },
            _ = tick.tick() => {
                if let Some(lost) = state.watch(docker, run, names, on_placed).await {
                    run.info(lost.0.clone());
                    return Err(lost.into());
                }
                if cancelled.is_some_and(|at| at.elapsed() > CANCEL_GRACE) {
                    run.info(format!("the run's agent did not end within {} s of the cancel", CANCEL_GRACE.as_secs()));
                    return Ok(RunResult { outcome: RunOutcome::Cancelled, steps: Vec::new() });
                }
            }
            _ = async { approval.as_ref().expect("guarded").notified().await }, if approval.is_some() => {
                approvals += 1;
                if let Err(e) = images::push_approve(docker, names, approvals).await {
                    run.info(format!("the approval did not reach the run's agent: {e:#}"));
                }
            }
            _ = run.cancel().cancelled(), if cancelled.is_none() => {
                // The agent sees the cancel tag, cancels, cleans up on its node and reports.
                cancelled = Some(Instant::now());
                if let Err(e) = images::push_cancel(docker, names).await {
                    run.info(format!("{e:#}"));
                    return Ok(RunResult { outcome: RunOutcome::Cancelled, steps: Vec::new() });
                }
            }
        }
    }
}

fn open_logs(
    docker: &bollard::Docker,
    service: &str,
) -> std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<bollard::container::LogOutput, bollard::errors::Error>> + Send>,
> {
    let options = LogsOptionsBuilder::default().follow(true).stdout(true).stderr(false).build();
    Box::pin(docker.service_logs(service, Some(options)))
}

struct Follow {
    /// The number of the agent's last event emitted (or stored before a restart).
    emitted: u64,
    buf: Vec<u8>,
    node: Option<String>,
    /// When the task was first seen ended, and how.
    ended: Option<(Instant, String)>,
}

impl Follow {
    /// Handle the complete lines in the buffer; the result, once its line came.
    fn lines(&mut self, run: &RemoteRun) -> Result<Option<RunResult>> {
        while let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            let Ok(line) = serde_json::from_slice::<Line>(&line) else { continue };
            match line {
                Line::Event { n, .. } if n <= self.emitted => {}
                Line::Event { n, event } => {
                    self.emitted = n;
                    run.emit_numbered(n, event);
                }
                Line::Result(result) => return result.into_result().map(Some),
                Line::Error(e) => return Err(anyhow!("on node {}: {}", self.node_name(), run.mask(&e))),
            }
        }
        Ok(None)
    }

    fn node_name(&self) -> &str {
        self.node.as_deref().unwrap_or("(not placed)")
    }

    /// Look at the task and its node: record the node once placed; a task ended without a
    /// result (after [`AFTER_END`]) or a node down is the run's end.
    async fn watch(
        &mut self,
        docker: &bollard::Docker,
        run: &RemoteRun,
        names: &Names,
        on_placed: &OnPlaced,
    ) -> Option<NodeLost> {
        let filters = HashMap::from([("service".to_string(), vec![names.service.clone()])]);
        // (Swarm refuses a filter naming a service it no longer has: no tasks, then.)
        let tasks = docker
            .list_tasks(Some(ListTasksOptionsBuilder::default().filters(&filters).build()))
            .await
            .unwrap_or_default();
        let Some(task) = tasks.into_iter().next() else {
            // No task yet (just created), or no service any more: someone removed it, or the
            // swarm was made anew. Then no result will come: the run ends as a lost task does.
            if let Err(e) = docker.inspect_service(&names.service, None).await
                && super::service::not_found(&e)
                && self.ended.is_none()
            {
                self.ended = Some((Instant::now(), "its service is gone from the swarm".into()));
            }
            return self.lost_after_end(run);
        };
        let node_id = task.node_id.clone().filter(|n| !n.is_empty())?;
        let node = docker.inspect_node(&node_id).await.ok();
        if self.node.is_none() {
            let name = node.as_ref().and_then(|n| n.description.as_ref()?.hostname.clone()).unwrap_or(node_id.clone());
            run.info(format!("runs on swarm node {name}"));
            on_placed(&names.run_id, &name);
            self.node = Some(name);
        }
        let node_state = node.as_ref().and_then(|n| n.status.as_ref()?.state);
        if matches!(node_state, Some(NodeState::DOWN) | Some(NodeState::DISCONNECTED)) {
            return Some(NodeLost(format!("swarm node {} went down during the run", self.node_name())));
        }
        let status = task.status.as_ref();
        let ended = matches!(
            status.and_then(|s| s.state),
            Some(
                TaskState::COMPLETE
                    | TaskState::FAILED
                    | TaskState::REJECTED
                    | TaskState::SHUTDOWN
                    | TaskState::ORPHANED
                    | TaskState::REMOVE
            )
        );
        if ended && self.ended.is_none() {
            let how = status.and_then(|s| s.err.clone().or(s.message.clone())).unwrap_or_default();
            self.ended = Some((Instant::now(), how));
        }
        self.lost_after_end(run)
    }

    /// The run's end, once its task has been seen ended for [`AFTER_END`] without a result.
    fn lost_after_end(&self, run: &RemoteRun) -> Option<NodeLost> {
        match &self.ended {
            Some((at, how)) if at.elapsed() > AFTER_END => Some(NodeLost(format!(
                "the run's task on swarm node {} ended without a result ({})",
                self.node_name(),
                run.mask(how)
            ))),
            _ => None,
        }
    }
}
