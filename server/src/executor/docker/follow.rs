//! Following a container's output: masked lines as events, a no-output timeout, then the
//! container's exit status.

use super::DockerRun;
use anyhow::{Result, anyhow, bail};
use bollard::container::LogOutput;
use bollard::query_parameters::{KillContainerOptionsBuilder, LogsOptionsBuilder};
use futures_util::StreamExt;

impl DockerRun {
    /// Stream a container's output as masked lines until it exits; return its exit status.
    pub(super) async fn follow(&self, id: &str, step: &str, service: &str) -> Result<i64> {
        let opts = LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(opts));
        let (mut out, mut err) = (self.line_buffer(), self.line_buffer());
        let timeout = self.spec.options.no_output_timeout;
        loop {
            match tokio::time::timeout(timeout, logs.next()).await {
                Err(_) => {
                    let _ = self.docker.kill_container(id, Some(KillContainerOptionsBuilder::default().build())).await;
                    bail!("no output for {}s; the step was stopped (no-output timeout)", timeout.as_secs());
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(anyhow!("lost the container's output: {e}")),
                Ok(Some(Ok(chunk))) => {
                    let lines = match chunk {
                        LogOutput::StdErr { message } => err.push(&message),
                        LogOutput::StdOut { message } | LogOutput::Console { message } => out.push(&message),
                        LogOutput::StdIn { .. } => Vec::new(),
                    };
                    for l in lines {
                        self.log(step, service, &l);
                    }
                }
            }
        }
        for l in out.finish().into_iter().chain(err.finish()) {
            self.log(step, service, &l);
        }
        let mut wait = self.docker.wait_container(id, None);
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(anyhow!("waiting for the container failed: {e}")),
            None => self.docker.inspect_container(id, None).await?.state.and_then(|s| s.exit_code).unwrap_or(-1),
        };
        Ok(code)
    }
}
