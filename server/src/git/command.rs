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
pub(super) fn run_within(remote: &Remote, mut cmd: Command, what: &str, limit: Duration) -> Result<String, GitError> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = cmd.spawn().map_err(GitError::Spawn)?;
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) if remote.stopped() => {
                kill_group(&mut child);
                let _ = (stdout.join(), stderr.join());
                return Err(GitError::Cancelled { what: remote.mask(what) });
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
        return Err(GitError::TimedOut { what: remote.mask(what), after: limit });
    };
    let (stdout, stderr) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    if !status.success() {
        let stderr = remote.mask(&tidy_stderr(&String::from_utf8_lossy(&stderr)));
        return Err(GitError::Failed { what: remote.mask(what), stderr });
    }
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}

/// git's stderr as an error shows it: without blank lines, the carriage returns of ssh's
/// messages, and the rows of `@` around ssh's host-key warning (its words stay).
fn tidy_stderr(text: &str) -> String {
    let useful = |l: &&str| !l.is_empty() && !l.chars().all(|c| c == '@');
    text.split(['\n', '\r']).map(str::trim_end).filter(useful).collect::<Vec<_>>().join("\n")
}

/// Everything a child writes to a pipe, read on a thread of its own (so neither pipe fills up).
fn read_all(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
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
