//! The agent's side of the runner (see `runner.rs` for why the run is not run in the agent's
//! own task container): stage the project on the node, start the runner container from the
//! run's image, hand it the job and the key on stdin, pass its JSON lines on to the service's
//! log, and pass cancels and approvals on as control lines. The runner container and the
//! staged copy go when it ends.

use crate::cluster::job::{Job, Line};
use crate::cluster::runner::{APPROVE, CANCEL, Handoff};
use crate::executor::workspace::{Hidden, LIMITS, Workspace};
use anyhow::{Context, Result, anyhow, bail};
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptions,
};
use futures_util::StreamExt;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

/// The runner's stderr kept for an error line, when it ends without a result.
const STDERR_KEPT: usize = 4096;

/// What the agent knows of its node and run.
pub struct OnNode<'a> {
    /// The agent's own container (its reaper removes the runner with it, if the agent dies).
    pub own: &'a str,
    pub run_image: &'a str,
    /// The node's Docker socket, as the node names it.
    pub node_socket: &'a str,
    /// The node's work folder, mounted in the agent's task at the same path.
    pub work: &'a Path,
}

/// The name of the runner container of the agent container `own`.
pub fn runner_name(own: &str) -> String {
    format!("slipway-runner-{own}")
}

/// Run `job` in a runner container on the node. Whether the run succeeded; an error when the
/// runner ended without its result line (its last words in the error).
pub async fn run(
    docker: &bollard::Docker,
    node: &OnNode<'_>,
    job: Job,
    workspace: &Path,
    key: Option<&slipway_core::crypto::Key>,
    cancel: CancellationToken,
    approval: Option<Arc<tokio::sync::Notify>>,
) -> Result<bool> {
    // The project staged in the node's work folder, where the runner (in the node's mount
    // namespace) reads it: the run image's copy is only inside this task's container.
    let (src, work, run_id) = (workspace.to_path_buf(), node.work.to_path_buf(), format!("{}-source", job.run_id));
    let staged =
        tokio::task::spawn_blocking(move || Workspace::create(&src, &work, &run_id, &Hidden::default(), LIMITS))
            .await?
            .context("cannot stage the project in the node's work folder")?;
    let handoff = Handoff {
        job,
        dir: staged.path().to_path_buf(),
        work: node.work.to_path_buf(),
        key: key.map(|k| k.to_file_text()),
    };
    let name = runner_name(node.own);
    let result = run_container(docker, node, &name, &handoff, cancel, approval).await;
    let force = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    if let Err(e) = docker.remove_container(&name, Some(force)).await
        && !super::not_found(&e)
    {
        eprintln!("slipway agent: cannot remove the runner {name}: {e}");
    }
    if let Err(e) = tokio::task::spawn_blocking(move || staged.remove()).await? {
        eprintln!("slipway agent: {e:#}");
    }
    result
}

async fn run_container(
    docker: &bollard::Docker,
    node: &OnNode<'_>,
    name: &str,
    handoff: &Handoff,
    cancel: CancellationToken,
    approval: Option<Arc<tokio::sync::Notify>>,
) -> Result<bool> {
    let labels = std::collections::HashMap::from([(super::RUN_LABEL.to_string(), handoff.job.run_id.clone())]);
    let body = ContainerCreateBody {
        image: Some(node.run_image.to_string()),
        cmd: Some(vec![
            crate::cluster::agent_image::AGENT_BINARY.to_string(),
            "agent".into(),
            "--runner".into(),
            "--node-socket".into(),
            node.node_socket.to_string(),
        ]),
        // The socket's path as the node names it: the runner reaches dockerd by it both before
        // and after it enters dockerd's mount namespace.
        env: Some(vec![format!("DOCKER_HOST=unix://{}", node.node_socket)]),
        labels: Some(labels),
        open_stdin: Some(true),
        stdin_once: Some(true),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{0}:{0}", node.node_socket)]),
            // To see the node's dockerd (`pid: host`, CAP_SYS_PTRACE to open its namespace)
            // and enter its mount namespace (CAP_SYS_ADMIN, which also lets Docker's default
            // seccomp profile allow `setns`); AppArmor's docker-default would refuse the
            // look at another profile's process. Not `privileged`: no device, no other cap.
            pid_mode: Some("host".into()),
            cap_add: Some(vec!["SYS_ADMIN".into(), "SYS_PTRACE".into()]),
            security_opt: Some(vec!["apparmor=unconfined".into()]),
            // It talks to dockerd on the socket only; what a run fetches, dockerd fetches.
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(Some(CreateContainerOptionsBuilder::default().name(name).build()), body)
        .await
        .context("cannot create the runner container on the node")?;
    let options = AttachContainerOptionsBuilder::default().stdin(true).stdout(true).stderr(true).stream(true).build();
    let attached = docker.attach_container(name, Some(options)).await.context("cannot attach to the runner")?;
    let (mut output, mut input) = (attached.output, attached.input);
    docker
        .start_container(name, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .context("cannot start the runner container on the node")?;
    let mut first = serde_json::to_vec(handoff)?;
    first.push(b'\n');
    input.write_all(&first).await.context("cannot hand the run to the runner")?;
    drop(first); // (it holds the key)
    let mut relay = Relay::default();
    let mut cancelled = false;
    loop {
        tokio::select! {
            item = output.next() => match item {
                Some(Ok(LogOutput::StdOut { message })) => relay.stdout(&message),
                Some(Ok(LogOutput::StdErr { message })) => relay.stderr(&message),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = cancel.cancelled(), if !cancelled => {
                cancelled = true;
                let _ = input.write_all(format!("{CANCEL}\n").as_bytes()).await;
            }
            _ = async { approval.as_ref().expect("guarded").notified().await }, if approval.is_some() => {
                let _ = input.write_all(format!("{APPROVE}\n").as_bytes()).await;
            }
        }
    }
    let _ = input.shutdown().await;
    let mut wait = docker.wait_container(name, None::<WaitContainerOptions>);
    let code = match wait.next().await {
        Some(Ok(r)) => r.status_code,
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(e)) => return Err(anyhow!("cannot wait for the runner: {e}")),
        None => -1,
    };
    match relay.ended {
        Some(succeeded) => Ok(succeeded),
        None => bail!("the runner on the node ended (exit {code}) without a result: {}", relay.last_words()),
    }
}

/// The runner's output passed on: stdout line by line to the agent's stdout (the service's
/// log), stderr's tail kept.
#[derive(Default)]
struct Relay {
    partial: Vec<u8>,
    stderr: Vec<u8>,
    /// Whether the run succeeded, once its result (or error) line passed.
    ended: Option<bool>,
}

impl Relay {
    fn stdout(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            match serde_json::from_slice::<Line>(&line) {
                Ok(Line::Result(r)) => self.ended = Some(r.outcome == "succeeded"),
                Ok(Line::Error(_)) => self.ended = Some(false),
                _ => {}
            }
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&line);
            let _ = out.flush();
        }
    }

    fn stderr(&mut self, bytes: &[u8]) {
        let _ = std::io::stderr().write_all(bytes);
        self.stderr.extend_from_slice(bytes);
        if self.stderr.len() > STDERR_KEPT {
            self.stderr.drain(..self.stderr.len() - STDERR_KEPT);
        }
    }

    fn last_words(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr).trim().to_string();
        if text.is_empty() { "(it said nothing)".into() } else { text }
    }
}
