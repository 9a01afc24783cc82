//! Following a container's output: masked lines as events, a no-output timeout, then the
//! container's exit status.
//!
//! Docker 20.10's followed log stream can end when the container exits before it has passed
//! on everything the container wrote (a step printing 50,000 lines quickly lost its last tens
//! of thousands about one run in six under load). So once the container has exited, its
//! complete log is read once more, without following, and whatever the followed stream had
//! not delivered is logged then: nothing a step printed is lost.

use super::DockerRun;
use crate::executor::mask::LineBuffer;
use anyhow::{Result, anyhow, bail};
use bollard::container::LogOutput;
use bollard::query_parameters::{KillContainerOptionsBuilder, LogsOptionsBuilder};
use futures_util::StreamExt;

/// A container's two output streams, split into lines, with the bytes each has delivered.
struct Output {
    out: LineBuffer,
    err: LineBuffer,
    /// Bytes of stdout (and of a TTY's output) and of stderr delivered so far.
    seen: [u64; 2],
}

impl Output {
    /// Lines completed by `chunk`, skipping its first bytes up to `skip` of its stream
    /// (counted down): what an earlier read already delivered.
    fn push(&mut self, chunk: LogOutput, skip: &mut [u64; 2]) -> Vec<String> {
        let (stream, message) = match chunk {
            LogOutput::StdOut { message } | LogOutput::Console { message } => (0, message),
            LogOutput::StdErr { message } => (1, message),
            LogOutput::StdIn { .. } => return Vec::new(),
        };
        let skipped = skip[stream].min(message.len() as u64);
        skip[stream] -= skipped;
        let new = &message[skipped as usize..];
        self.seen[stream] += new.len() as u64;
        if stream == 0 { self.out.push(new) } else { self.err.push(new) }
    }
}

impl DockerRun {
    /// Stream a container's output as masked lines until it exits; return its exit status.
    pub(super) async fn follow(&self, id: &str, step: &str, service: &str) -> Result<i64> {
        let opts = LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(opts));
        let mut output = Output { out: self.line_buffer(), err: self.line_buffer(), seen: [0, 0] };
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
                    for l in output.push(chunk, &mut [0, 0]) {
                        self.log(step, service, &l);
                    }
                }
            }
        }
        let mut wait = self.docker.wait_container(id, None);
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(anyhow!("waiting for the container failed: {e}")),
            None => self.docker.inspect_container(id, None).await?.state.and_then(|s| s.exit_code).unwrap_or(-1),
        };
        self.catch_up(id, step, service, &mut output).await?;
        for l in output.out.finish().into_iter().chain(output.err.finish()) {
            self.log(step, service, &l);
        }
        Ok(code)
    }

    /// Log what the exited container wrote that the followed stream did not deliver.
    async fn catch_up(&self, id: &str, step: &str, service: &str, output: &mut Output) -> Result<()> {
        let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(opts));
        let mut skip = output.seen;
        while let Some(chunk) = logs.next().await {
            let chunk = chunk.map_err(|e| anyhow!("lost the container's output: {e}"))?;
            for l in output.push(chunk, &mut skip) {
                self.log(step, service, &l);
            }
        }
        Ok(())
    }
}
