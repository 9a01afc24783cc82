//! One git command under a deadline: its process group killed when the deadline passes or
//! the run is cancelled, its output read on threads, the token masked in its errors.

use super::GitError;
use super::remote::Remote;
use std::process::Command;
use std::time::{Duration, Instant};

pub(super) fn run(remote: &Remote, cmd: Command, what: &str) -> Result<String, GitError> {
    run_within(remote, cmd, what, remote.timeout)
}

/// Runs git in a process group of its own and stops the whole group (git-remote-http, ssh,
/// …) if it is not done within `limit`: a forge that accepts a connection and never answers
/// must not keep a thread, a process and the mirror's lock forever.
pub(super) fn run_within(remote: &Remote, cmd: Command, what: &str, limit: Duration) -> Result<String, GitError> {
    let stdout = run_bounded(cmd, what, limit, usize::MAX, &|| remote.stopped(), &|t| remote.mask(t))?;
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}

/// A git command that reads a local repository (no remote, nothing to mask, no cancel): its
/// stdout as bytes, at most `max_output` of them (the rest is read and dropped, so git never
/// blocks on a full pipe), within `limit`.
pub(super) fn run_local(cmd: Command, what: &str, limit: Duration, max_output: usize) -> Result<Vec<u8>, GitError> {
    run_bounded(cmd, what, limit, max_output, &|| false, &str::to_string)
}

fn run_bounded(
    mut cmd: Command,
    what: &str,
    limit: Duration,
    max_output: usize,
    stopped: &dyn Fn() -> bool,
    mask: &dyn Fn(&str) -> String,
) -> Result<Vec<u8>, GitError> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = cmd.spawn().map_err(GitError::Spawn)?;
    let stdout = read_all(child.stdout.take(), max_output);
    // git's own messages are short; a bound all the same.
    let stderr = read_all(child.stderr.take(), 64 * 1024);
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) if stopped() => {
                kill_group(&mut child);
                let _ = (stdout.join(), stderr.join());
                return Err(GitError::Cancelled { what: mask(what) });
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                kill_group(&mut child);
                return Err(GitError::Spawn(e));
            }
        }
    };
    let Some(status) = status else {
        kill_group(&mut child);
        let _ = (stdout.join(), stderr.join());
        return Err(GitError::TimedOut { what: mask(what), after: limit });
    };
    let (stdout, stderr) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    if !status.success() {
        let stderr = mask(&tidy_stderr(&String::from_utf8_lossy(&stderr)));
        return Err(GitError::Failed { what: mask(what), stderr });
    }
    Ok(stdout)
}

/// git's stderr as an error shows it: without blank lines, the carriage returns of ssh's
/// messages, and the rows of `@` around ssh's host-key warning (its words stay).
fn tidy_stderr(text: &str) -> String {
    let useful = |l: &&str| !l.is_empty() && !l.chars().all(|c| c == '@');
    text.split(['\n', '\r']).map(str::trim_end).filter(useful).collect::<Vec<_>>().join("\n")
}

/// What a child writes to a pipe, up to `max` bytes, read on a thread of its own (so neither
/// pipe fills up); the rest is read to the end and dropped.
fn read_all(pipe: Option<impl std::io::Read + Send + 'static>, max: usize) -> std::thread::JoinHandle<Vec<u8>> {
    use std::io::Read;
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = (&mut p).take(max as u64).read_to_end(&mut buf);
            let _ = std::io::copy(&mut p, &mut std::io::sink());
        }
        buf
    })
}

/// SIGKILL to git's process group (it leads it: `process_group(0)`), then to git itself in
/// case `kill` is missing; and the zombie reaped.
pub(super) fn kill_group(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .stderr(std::process::Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}
