//! The runner: where a swarm run's executor really runs on its node.
//!
//! The agent is a swarm task, so it lives in a container: its own mount and PID namespaces.
//! The executor pins every bind source (`executor/docker/pinned.rs`): it opens the folder and
//! hands dockerd `/proc/<pid>/fd/<n>`, which only works when dockerd sees this process and the
//! descriptor's mount is one of dockerd's own. From inside the task neither holds, and a
//! server run then refuses every `volumes` entry: most CodeShip projects could not run on a
//! node. Swarm services cannot share the host's PID or mount namespace (Docker 20.10), so
//! the agent starts the runner as a plain container on its node instead, from the run's
//! image: `pid: host`, with CAP_SYS_ADMIN and CAP_SYS_PTRACE (see `swarm/runner_start.rs`).
//! Before anything else (while it has one thread, as `setns` wants), the runner reads its
//! handoff from stdin, asks the node's socket which process serves it (`SO_PEERCRED`) and
//! moves into that dockerd's mount namespace. From then
//! on it is, to the executor, a process on the node beside dockerd, exactly as the server is
//! beside its own engine: binds are pinned and checked the same way.
//!
//! What the runner gets, it gets on stdin, never in its container's spec (`docker inspect`
//! on the node shows that): one JSON line with the job, the key, and the paths; then control
//! lines from the agent, `approve` and `cancel`. The end of stdin (the agent gone) cancels
//! too, so a runner never outlives its agent's run. Its stdout is the agent's JSON lines,
//! which the agent passes on to the service's log.
//!
//! The runner is the agent's own binary, and as privileged as the node socket the agent
//! already holds: no step runs in it (steps run in containers the executor makes, as on one
//! engine).

use super::job::{Job, Line};
use crate::executor::events::Event;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The biggest handoff line read (a job holds the services file and the plan).
const MAX_HANDOFF: u64 = 64 << 20;
/// What the agent writes on the runner's stdin to approve the run's next wait.
pub const APPROVE: &str = "approve";
/// What the agent writes on the runner's stdin to cancel the run.
pub const CANCEL: &str = "cancel";

/// The runner's first stdin line.
#[derive(Serialize, Deserialize)]
pub struct Handoff {
    pub job: Job,
    /// The node's folder holding the project, which the runner copies into its workspace.
    pub dir: PathBuf,
    /// The node's work folder (the workspace's root).
    pub work: PathBuf,
    /// The project key's file text, when the run has its key.
    pub key: Option<String>,
}

/// Before any thread starts: read the handoff from stdin and move into the mount namespace
/// of the dockerd behind `socket` (a path in the runner's container, bound from the node).
pub fn enter_node(socket: &Path) -> Result<Handoff> {
    let handoff = read_handoff()?;
    let stream = std::os::unix::net::UnixStream::connect(socket)
        .with_context(|| format!("cannot connect to the node's Docker socket {}", socket.display()))?;
    let peer =
        rustix::net::sockopt::socket_peercred(&stream).context("cannot ask the node's socket for its process")?;
    let pid = peer.pid.as_raw_nonzero().get();
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt")).with_context(|| {
        format!("cannot open the mount namespace of the node's dockerd (pid {pid}): the runner needs `pid: host` and CAP_SYS_PTRACE")
    })?;
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&ns),
        Some(rustix::thread::LinkNameSpaceType::Mount),
    )
    .with_context(|| format!("cannot enter the mount namespace of the node's dockerd (pid {pid})"))?;
    Ok(handoff)
}

fn read_handoff() -> Result<Handoff> {
    let mut line = Vec::new();
    // std's stdin keeps what it read past the line for the control lines read later.
    std::io::stdin().lock().take(MAX_HANDOFF).read_until(b'\n', &mut line).context("cannot read the runner's stdin")?;
    if !line.ends_with(b"\n") {
        bail!("the runner's handoff ended early or is over {MAX_HANDOFF} bytes");
    }
    serde_json::from_slice(&line).context("the runner's handoff is not one")
}

/// The runner's run, in the node's mount namespace: the executor on the node's engine
/// (`DOCKER_HOST`), the events as JSON lines on stdout. Whether the run succeeded.
pub async fn run(handoff: Handoff) -> Result<bool> {
    let key = match &handoff.key {
        Some(text) => Some(slipway_core::crypto::Key::parse(text.as_bytes()).context("the run's key")?),
        None => None,
    };
    let spec = handoff.job.into_spec(handoff.dir, handoff.work, key)?;
    let cancel = CancellationToken::new();
    spawn_control(cancel.clone(), spec.options.approval.clone());
    let docker = crate::docker::connect().await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let printer = tokio::spawn(async move {
        for n in 1.. {
            let Some(event) = rx.recv().await else { break };
            print_line(&Line::Event { n, event });
        }
    });
    let result = crate::executor::run(docker, spec, tx, cancel).await;
    let _ = printer.await;
    let result = result?;
    print_line(&Line::Result((&result).into()));
    Ok(result.outcome == crate::executor::RunOutcome::Succeeded)
}

/// Read the agent's control lines; the end of stdin is a cancel.
fn spawn_control(cancel: CancellationToken, approval: Option<Arc<tokio::sync::Notify>>) {
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            match line.trim() {
                APPROVE => {
                    if let Some(a) = &approval {
                        a.notify_one();
                    }
                }
                CANCEL => break,
                _ => {}
            }
        }
        cancel.cancel();
    });
}

/// One of the agent's JSON lines on stdout (the runner's, passed on by the agent, or the
/// agent's own).
pub fn print_line(line: &Line) {
    // A line that cannot be written (stdout closed) ends nothing: the run goes on and cleans up.
    if let Ok(text) = serde_json::to_string(line) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}
