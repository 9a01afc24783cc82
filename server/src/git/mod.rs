//! Repositories as projects: a cached bare mirror per project under the data dir, a fresh
//! checkout of exactly one commit per run, and `git ls-remote` for polling.
//!
//! Every git runs through [`crate::gitinfo::git_command`] (no hooks, no fsmonitor, no pager,
//! no system config, no prompts). A token reaches git only as an `http.<url>.extraHeader`
//! passed in the environment (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`),
//! scoped to the repository's scheme, host and port: it is never in a URL, an argument (so
//! not in `ps` either), `.git/config` or an error, and a submodule on another host never
//! sees it. A fork's pull request fetches its submodules with no credentials at all
//! ([`Submodules::WithoutCredentials`]): its `.gitmodules` could name any repository on the
//! project's host that the token reads.
//!
//! A project's own ssh key ([`SshAuth`]) reaches git only as the `GIT_SSH_COMMAND` of its
//! commands: that key alone, no agent, no `~/.ssh/config`, no prompt, and host keys checked
//! against a file of the project's. The key stays where it is: never copied, never in
//! `.git/config`, never in a workspace.

use crate::gitinfo::git_command;
use base64::Engine;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Settings for commands that talk to a remote, on top of gitinfo's: no helper program may
/// run for credentials (a token comes only from us), and no `ext::` transport (which runs a
/// command named in the URL, e.g. a submodule's).
/// A transfer slower than 1 KB/s for a minute ends (curl's low-speed limit): a forge that
/// accepted the connection and then went quiet. The automatic gc a fetch may start stays in
/// the foreground, so in git's process group, under its deadline and the mirror's lock (a
/// detached one would outlive a stopped fetch and hold ref locks no one is waiting for).
const REMOTE_CONFIG: &[&str] = &[
    "credential.helper=",
    "protocol.ext.allow=never",
    "core.askPass=",
    "http.lowSpeedLimit=1000",
    "http.lowSpeedTime=60",
    "gc.autoDetach=false",
    "maintenance.autoDetach=false",
];

/// How long one git command may run before it is stopped (its process group killed): under the
/// run's budget for fetching and checking out (a project's `git_timeout`, 600 s by default, less
/// a minute), so the git is gone, and the mirror's lock free, by the time the run gives up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(540);

/// How long one `git ls-remote` may run: under polling's budget (`LS_REMOTE_BUDGET`, 120 s).
const LS_REMOTE_TIMEOUT: Duration = Duration::from_secs(100);

/// ssh that gives up on a host that does not answer, or goes quiet for a minute; used only
/// when neither the environment nor git's config names an ssh command of its own.
const SSH_COMMAND: &str = "ssh -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4";

/// Options of a project's own ssh on top of [`SSH_COMMAND`]'s: no config file (`-F /dev/null`:
/// the account's `~/.ssh/config` and the system's could name other keys, hosts or a proxy), no
/// agent and only the given key (its keys must not stand in for the project's), never a prompt.
const SSH_KEY_OPTIONS: &[&str] = &[
    "-F",
    "/dev/null",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "IdentityAgent=none",
    "-o",
    "BatchMode=yes",
    "-o",
    "PasswordAuthentication=no",
    "-o",
    "KbdInteractiveAuthentication=no",
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "UpdateHostKeys=no",
    // Errors only: "Permanently added … to the list of known hosts" is no part of an error.
    "-o",
    "LogLevel=ERROR",
];

/// Which host keys a project's own ssh accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KnownHosts {
    /// Only those in this file (`ssh_known_hosts_file`): an unknown or changed host key fails.
    Pinned(PathBuf),
    /// Trust on first use: the first key a host shows is recorded in this file (the project's
    /// own, under the data dir); a different key later fails the connection.
    FirstUse(PathBuf),
}

/// A project's own ssh key (`ssh_key_file`): the path only, never its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshAuth {
    key: PathBuf,
    known_hosts: KnownHosts,
}

impl SshAuth {
    /// Relative paths are made absolute here: git runs in the mirror's folder, and ssh in git's.
    pub fn new(key: &Path, known_hosts: KnownHosts) -> SshAuth {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let known_hosts = match known_hosts {
            KnownHosts::Pinned(p) => KnownHosts::Pinned(abs(&p)),
            KnownHosts::FirstUse(p) => KnownHosts::FirstUse(abs(&p)),
        };
        SshAuth { key: abs(key), known_hosts }
    }

    /// The `GIT_SSH_COMMAND` for this key. Each path is quoted twice over: for the shell git
    /// runs the command with, and for ssh, which expands `%` in both paths and splits an `-o`
    /// value at spaces and quotes (`UserKnownHostsFile` takes a list). The key goes in as
    /// `-o IdentityFile=`, not `-i`: ssh drops an `-i` path that it cannot find before
    /// expanding it, so a `%%` there would lose the key.
    fn command(&self) -> OsString {
        let (file, checking) = match &self.known_hosts {
            KnownHosts::Pinned(p) => (p, "yes"),
            KnownHosts::FirstUse(p) => (p, "accept-new"),
        };
        let mut cmd = OsString::from(SSH_COMMAND);
        for opt in SSH_KEY_OPTIONS {
            cmd.push(" ");
            cmd.push(opt);
        }
        cmd.push(format!(" -o StrictHostKeyChecking={checking}"));
        for (option, path) in [("UserKnownHostsFile=", file), ("IdentityFile=", &self.key)] {
            let mut arg = option.as_bytes().to_vec();
            arg.extend(ssh_config_word(&ssh_percent_escape(path.as_os_str().as_bytes())));
            cmd.push(" -o ");
            cmd.push(shell_quote(&arg));
        }
        cmd
    }
}

/// `s` as one word for a POSIX shell: in single quotes, a `'` written as `'\''`.
fn shell_quote(s: &[u8]) -> OsString {
    let mut out = vec![b'\''];
    for &b in s {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    OsString::from_vec(out)
}

/// A path as ssh reads it literally where it expands `%d`, `%h`, …: each `%` doubled.
fn ssh_percent_escape(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        out.push(b);
        if b == b'%' {
            out.push(b'%');
        }
    }
    out
}

/// `s` as one word of an ssh option value (OpenSSH's `argv_split`): in double quotes, with
/// `\`, `"` and `'` escaped by a backslash.
fn ssh_config_word(s: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &b in s {
        if matches!(b, b'\\' | b'"' | b'\'') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

/// A token for git over https, sent as HTTP basic auth.
#[derive(Clone)]
pub struct HttpAuth {
    username: String,
    token: String,
}

impl std::fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpAuth({}:***)", self.username)
    }
}

impl HttpAuth {
    /// `username` per forge: see `forge::Forge::git_username`.
    pub fn new(username: &str, token: &str) -> HttpAuth {
        HttpAuth { username: username.to_string(), token: token.to_string() }
    }

    fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.username, self.token))
    }
}

/// Where a project's commits come from.
#[derive(Clone, Debug)]
pub struct Remote {
    pub url: String,
    pub auth: Option<HttpAuth>,
    /// The project's own ssh key, for an ssh URL.
    pub ssh: Option<SshAuth>,
    /// How long one git command may run, and how long an update waits for the mirror's lock.
    pub timeout: Duration,
    /// Cancelled (the run was): git is stopped with everything it started, and waiting for
    /// the mirror's lock ends.
    pub stop: Option<CancellationToken>,
    /// No credentials of any kind: see [`Remote::without_credentials`].
    anonymous: bool,
}

impl Remote {
    pub fn new(url: &str, auth: Option<HttpAuth>) -> Remote {
        Remote { url: url.to_string(), auth, ssh: None, timeout: DEFAULT_TIMEOUT, stop: None, anonymous: false }
    }

    /// The same remote reached with the project's own ssh key.
    pub fn with_ssh(self, ssh: Option<SshAuth>) -> Remote {
        Remote { ssh, ..self }
    }

    /// The same remote with another deadline per git command.
    pub fn with_timeout(self, timeout: Duration) -> Remote {
        Remote { timeout, ..self }
    }

    /// The same remote, whose git commands stop once `stop` is cancelled.
    pub fn with_stop(self, stop: CancellationToken) -> Remote {
        Remote { stop: Some(stop), ..self }
    }

    /// The same remote with no credentials at all: no token header, not the project's ssh key,
    /// and nothing of the server's account either (its ssh keys, agent and config, its
    /// `~/.netrc`, its global git config, which could carry a header of its own).
    pub fn without_credentials(&self) -> Remote {
        Remote { auth: None, ssh: None, anonymous: true, ..self.clone() }
    }

    fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(CancellationToken::is_cancelled)
    }

    /// `https://host:port/` of an http(s) URL: the scope of the auth header.
    fn http_origin(&self) -> Option<String> {
        let (scheme, rest) = self.url.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let host = rest.split(['/', '?', '#']).next()?;
        // A user name in the URL would defeat the scoping match; the token is ours anyway.
        let host = host.rsplit('@').next()?;
        Some(format!("{scheme}://{host}/"))
    }

    /// A git command for this remote: hardened, and carrying the auth header in its
    /// environment when there is one.
    fn command(&self, dir: &Path) -> Command {
        let mut c = git_command(dir);
        for setting in REMOTE_CONFIG {
            c.arg("-c").arg(setting);
        }
        // Tracing would print the header.
        for var in ["GIT_TRACE", "GIT_TRACE_CURL", "GIT_TRACE_PACKET", "GIT_CURL_VERBOSE", "GIT_ASKPASS", "SSH_ASKPASS"]
        {
            c.env_remove(var);
        }
        if self.anonymous {
            let mut ssh = OsString::from(SSH_COMMAND);
            for opt in SSH_KEY_OPTIONS {
                ssh.push(" ");
                ssh.push(opt);
            }
            ssh.push(" -o IdentityFile=/dev/null -o StrictHostKeyChecking=yes");
            c.env("GIT_SSH_COMMAND", ssh).env("GIT_SSH_VARIANT", "ssh");
            // A home that is not there: no `~/.netrc` for curl, no `~/.gitconfig` (ssh reads
            // its own files from the account's entry, and `-F /dev/null` leaves only known hosts).
            c.env("HOME", "/nonexistent").env("XDG_CONFIG_HOME", "/nonexistent").env("GIT_CONFIG_GLOBAL", "/dev/null");
            for var in ["GIT_SSH", "SSH_AUTH_SOCK", "GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS"] {
                c.env_remove(var);
            }
            return c;
        }
        match &self.ssh {
            // The project's key wins over the server's own ssh command (the environment's
            // GIT_SSH_COMMAND is replaced; it and GIT_SSH both rank above core.sshCommand).
            Some(ssh) => {
                c.env("GIT_SSH_COMMAND", ssh.command()).env("GIT_SSH_VARIANT", "ssh");
                c.env_remove("GIT_SSH").env_remove("SSH_AUTH_SOCK");
            }
            None if !has_own_ssh_command() => {
                c.env("GIT_SSH_COMMAND", SSH_COMMAND);
            }
            None => {}
        }
        if let (Some(auth), Some(origin)) = (&self.auth, self.http_origin()) {
            c.env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", format!("http.{origin}.extraHeader"))
                .env("GIT_CONFIG_VALUE_0", format!("Authorization: Basic {}", auth.encoded()));
        }
        c
    }

    /// `text` without the token, in either of the forms it travels in.
    pub fn mask(&self, text: &str) -> String {
        match &self.auth {
            Some(a) if !a.token.is_empty() => text.replace(&a.token, "***").replace(&a.encoded(), "***"),
            _ => text.to_string(),
        }
    }
}

/// Whether the server's environment or git's global config names the ssh to run (then it
/// stays as it is: it may carry a key or options of its own).
fn has_own_ssh_command() -> bool {
    static OWN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OWN.get_or_init(|| {
        std::env::var_os("GIT_SSH_COMMAND").is_some()
            || std::env::var_os("GIT_SSH").is_some()
            || git_command(&std::env::temp_dir())
                .args(["config", "--global", "--get", "core.sshCommand"])
                .stderr(std::process::Stdio::null())
                .output()
                .is_ok_and(|o| o.status.success())
    })
}

#[derive(Debug)]
pub enum GitError {
    /// git could not be started.
    Spawn(std::io::Error),
    /// git ran and failed; `stderr` is masked.
    Failed {
        what: String,
        stderr: String,
    },
    /// Not a full commit id (40 or 64 hex digits).
    BadCommitId(String),
    /// The mirror does not have the commit, even after fetching.
    MissingCommit(String),
    /// git ran longer than its deadline and was stopped (with everything it started).
    TimedOut {
        what: String,
        after: Duration,
    },
    /// The run was cancelled: git was stopped (with everything it started).
    Cancelled {
        what: String,
    },
    /// Another update of the project's mirror held its lock for longer than we wait.
    Busy {
        project: String,
        waited: Duration,
    },
    Io(String, std::io::Error),
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitError::Spawn(e) => write!(f, "cannot run git: {e}"),
            GitError::Failed { what, stderr } => write!(f, "{what} failed: {}", stderr.trim()),
            GitError::BadCommitId(s) => write!(f, "`{s}` is not a full commit id"),
            GitError::MissingCommit(s) => write!(f, "commit {s} is not in the repository (after fetching)"),
            GitError::TimedOut { what, after } => {
                write!(f, "{what} timed out: no result within {} s, so it was stopped", after.as_secs())
            }
            GitError::Cancelled { what } => write!(f, "{what} was stopped: the run was cancelled"),
            GitError::Busy { project, waited } => write!(
                f,
                "the mirror of project `{project}` is still being updated by another fetch after {} s; gave up waiting",
                waited.as_secs()
            ),
            GitError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for GitError {}

fn run(remote: &Remote, cmd: Command, what: &str) -> Result<String, GitError> {
    run_within(remote, cmd, what, remote.timeout)
}

/// Runs git in a process group of its own and stops the whole group (git-remote-http, ssh,
/// …) if it is not done within `limit`: a forge that accepts a connection and never answers
/// must not keep a thread, a process and the mirror's lock forever.
fn run_within(remote: &Remote, mut cmd: Command, what: &str, limit: Duration) -> Result<String, GitError> {
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
fn kill_group(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .stderr(std::process::Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// With the project's own ssh key, a submodule may only be fetched from the repository's own
/// host: a `.gitmodules` (a pull request's, say) that names another ssh host would have the
/// key offered there, and that host recorded as trusted.
fn submodules_stay_on_the_host(work: &Path, repo_url: &str) -> Result<(), GitError> {
    use crate::forge::config::ssh_host;
    let home = ssh_host(repo_url);
    let mut c = git_command(work);
    c.args(["config", "--file", ".gitmodules", "--get-regexp", r"^submodule\..*\.url$"]);
    let out = c.output().map_err(GitError::Spawn)?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((key, url)) = line.split_once(' ') else { continue };
        let Some(host) = ssh_host(url.trim()) else { continue };
        if home.as_deref() != Some(host.as_str()) {
            let name = key.trim_start_matches("submodule.").trim_end_matches(".url");
            return Err(GitError::Failed {
                what: "git submodule update".into(),
                stderr: format!(
                    "submodule `{name}` is on another ssh host ({host}) than the repository; the project's ssh key \
                     is offered to its own host only (use a relative URL such as ../{name}.git, or an https one)"
                ),
            });
        }
    }
    Ok(())
}

fn check_commit_id(sha: &str) -> Result<(), GitError> {
    let ok = matches!(sha.len(), 40 | 64) && sha.bytes().all(|b| b.is_ascii_hexdigit());
    if ok { Ok(()) } else { Err(GitError::BadCommitId(sha.chars().take(80).collect())) }
}

/// Whose credentials a checkout's `git submodule update` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submodules {
    /// The project's token (on the repository's own host) or ssh key (its own ssh host only):
    /// the repository's own branches and tags, and pull requests from its own branches.
    WithProjectCredentials,
    /// None at all (no token header, no ssh key or agent, no `~/.netrc`, no git config of the
    /// server's account): a fork's pull request, whose `.gitmodules` could name any repository
    /// the project's token reads.
    WithoutCredentials,
}

/// What [`Mirror::update`] did, and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    Cloned(Duration),
    Fetched(Duration),
}

/// A bare mirror of a project's repository: every ref of the remote (`+refs/*:refs/*`),
/// pull-request refs included, so a run of a fork's pull request finds its commit.
/// Updates of one mirror take turns (a lock file beside it): two fetches at once would fail
/// on git's ref locks, and two first clones would race for the folder.
pub struct Mirror {
    dir: PathBuf,
    remote: Remote,
    project: String,
}

impl Mirror {
    /// The mirror of `project` under `data_dir/mirrors/`. `project` is a validated name
    /// (letters, digits, `.`, `_`, `-`), so it is one path component.
    pub fn new(data_dir: &Path, project: &str, remote: Remote) -> Mirror {
        Mirror { dir: data_dir.join("mirrors").join(format!("{project}.git")), remote, project: project.to_string() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `git clone --mirror` the first time, `git fetch --prune` after. A clone goes to a
    /// temporary folder beside the mirror first, so a failed clone leaves nothing behind.
    pub fn update(&self) -> Result<Update, GitError> {
        let started = Instant::now();
        let _turn = self.lock()?;
        if self.dir.join("HEAD").is_file() {
            let fetch = || {
                let mut c = self.remote.command(&self.dir);
                c.args([
                    "fetch",
                    "--prune",
                    "--quiet",
                    "--no-write-fetch-head",
                    "--",
                    &self.remote.url,
                    "+refs/*:refs/*",
                ]);
                run(&self.remote, c, &format!("git fetch {}", self.remote.url))
            };
            let mut fetched = fetch();
            match &fetched {
                Err(GitError::TimedOut { .. } | GitError::Cancelled { .. }) => self.remove_stale_locks(),
                // A lock left by a git that died with the server (a crash, a reboot): we hold
                // the mirror's lock, so no git of ours is using it. Once more without it.
                Err(GitError::Failed { stderr, .. }) if stderr.contains(".lock': File exists") => {
                    self.remove_stale_locks();
                    fetched = fetch();
                }
                _ => {}
            }
            fetched?;
            return Ok(Update::Fetched(started.elapsed()));
        }
        let parent = self.dir.parent().expect("a mirror lives in data_dir/mirrors");
        let tmp = tempfile::Builder::new()
            .prefix(".clone-")
            .tempdir_in(parent)
            .map_err(|e| GitError::Io(format!("cannot create a folder in {}", parent.display()), e))?;
        let mut c = self.remote.command(parent);
        c.args(["clone", "--mirror", "--quiet", "--", &self.remote.url]).arg(tmp.path());
        run(&self.remote, c, &format!("git clone --mirror {}", self.remote.url))?;
        std::fs::rename(tmp.path(), &self.dir)
            .map_err(|e| GitError::Io(format!("cannot move the clone to {}", self.dir.display()), e))?;
        // The folder is gone (renamed); forgetting the guard keeps it from deleting the mirror.
        let _ = tmp.keep();
        Ok(Update::Cloned(started.elapsed()))
    }

    /// The `*.lock` files a git stopped mid-fetch can leave (a ref's, `packed-refs.lock`, …):
    /// with one left, every later fetch fails with "File exists". Called with the mirror's
    /// own lock held, so no other git of ours is working in it.
    fn remove_stale_locks(&self) {
        fn walk(dir: &Path, depth: usize) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for e in entries.flatten() {
                let Ok(kind) = e.file_type() else { continue };
                let path = e.path();
                if kind.is_dir() && depth < 32 {
                    walk(&path, depth + 1);
                } else if kind.is_file() && path.extension().is_some_and(|x| x == "lock") {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        for name in ["packed-refs.lock", "config.lock", "shallow.lock", "HEAD.lock"] {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        walk(&self.dir.join("refs"), 0);
    }

    /// Waits for other updates of this mirror (threads or processes) to finish, at most the
    /// remote's timeout; released on drop.
    fn lock(&self) -> Result<std::fs::File, GitError> {
        let parent = self.dir.parent().expect("a mirror lives in data_dir/mirrors");
        std::fs::create_dir_all(parent).map_err(|e| GitError::Io(format!("cannot create {}", parent.display()), e))?;
        let path = self.dir.with_extension("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| GitError::Io(format!("cannot open {}", path.display()), e))?;
        // The holder's git is stopped at its deadline, so waiting as long as that is enough.
        let waited = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if self.remote.stopped() => {
                    return Err(GitError::Cancelled { what: format!("waiting for the mirror of `{}`", self.project) });
                }
                Err(std::fs::TryLockError::WouldBlock) if waited.elapsed() < self.remote.timeout => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(GitError::Busy { project: self.project.clone(), waited: self.remote.timeout });
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(GitError::Io(format!("cannot lock {}", path.display()), e));
                }
            }
        }
    }

    pub fn has_commit(&self, sha: &str) -> bool {
        check_commit_id(sha).is_ok()
            && git_command(&self.dir)
                .args(["cat-file", "-e", &format!("{sha}^{{commit}}")])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    }

    /// Fetches one ref into the mirror (for a commit no mirrored ref names yet, e.g. a
    /// GitLab merge request ref created after the last fetch).
    pub fn fetch_ref(&self, git_ref: &str) -> Result<(), GitError> {
        if !git_ref.starts_with("refs/") || git_ref.contains("..") || git_ref.contains(':') {
            return Err(GitError::Failed { what: format!("fetch {git_ref}"), stderr: "not a ref".into() });
        }
        // Under the mirror's lock, like an update: two fetches at once would fail on ref locks.
        let _turn = self.lock()?;
        let mut c = self.remote.command(&self.dir);
        c.args(["fetch", "--quiet", "--no-write-fetch-head", "--", &self.remote.url, &format!("+{git_ref}:{git_ref}")]);
        let fetched = run(&self.remote, c, &format!("git fetch {git_ref}"));
        if matches!(fetched, Err(GitError::TimedOut { .. } | GitError::Cancelled { .. })) {
            self.remove_stale_locks();
        }
        fetched.map(|_| ())
    }

    /// A new folder under `parent` holding a work tree of exactly `sha` (detached HEAD), its
    /// submodules checked out too. The clone is local (objects hard-linked from the mirror),
    /// self-contained (no alternates: it works inside a container that cannot see the
    /// mirror), with `origin` set to the project's URL. Removed on drop unless kept.
    pub fn checkout(&self, sha: &str, parent: &Path) -> Result<Workspace, GitError> {
        self.checkout_for(sha, parent, Submodules::WithProjectCredentials)
    }

    /// [`Mirror::checkout`], with `submodules` saying whose credentials fetch the submodules:
    /// a fork's pull request names its own `.gitmodules`, so it gets none.
    pub fn checkout_for(&self, sha: &str, parent: &Path, submodules: Submodules) -> Result<Workspace, GitError> {
        check_commit_id(sha)?;
        if !self.has_commit(sha) {
            return Err(GitError::MissingCommit(sha.to_string()));
        }
        std::fs::create_dir_all(parent).map_err(|e| GitError::Io(format!("cannot create {}", parent.display()), e))?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-", &sha[..12]))
            .tempdir_in(parent)
            .map_err(|e| GitError::Io(format!("cannot create a folder in {}", parent.display()), e))?;
        let path = dir.path().to_path_buf();
        let mut c = git_command(parent);
        c.args(["clone", "--quiet", "--no-checkout", "--"]).arg(&self.dir).arg(&path);
        run(&self.remote, c, "git clone (from the mirror)")?;
        let mut c = git_command(&path);
        c.args(["remote", "set-url", "origin", "--", &self.remote.url]);
        run(&self.remote, c, "git remote set-url")?;
        // An annotated tag's id names the tag object: the work tree is the commit it tags.
        let commit = self.peel(sha)?;
        let mut c = git_command(&path);
        c.args(["checkout", "--quiet", "--detach", &commit]);
        run(&self.remote, c, &format!("git checkout {commit}"))?;
        if path.join(".gitmodules").is_file() {
            // Relative submodule URLs resolve against origin: the project's own host.
            match submodules {
                Submodules::WithProjectCredentials => {
                    if self.remote.ssh.is_some() {
                        submodules_stay_on_the_host(&path, &self.remote.url)?;
                    }
                    let mut c = self.remote.command(&path);
                    c.args(["submodule", "update", "--init", "--recursive", "--quiet"]);
                    run(&self.remote, c, "git submodule update")?;
                }
                Submodules::WithoutCredentials => {
                    let anonymous = self.remote.without_credentials();
                    let mut c = anonymous.command(&path);
                    c.args(["submodule", "update", "--init", "--recursive", "--quiet"]);
                    run(&anonymous, c, "git submodule update").map_err(|e| match e {
                        GitError::Failed { what, stderr } => GitError::Failed {
                            what,
                            stderr: format!(
                                "{stderr}\n(a pull request from a fork fetches its submodules without the \
                                 project's token or ssh key: only submodules anyone may read can be checked out)"
                            ),
                        },
                        e => e,
                    })?;
                }
            }
        }
        Ok(Workspace { dir: Some(dir), path, commit })
    }

    /// The commit `sha` is or (an annotated tag) points to.
    fn peel(&self, sha: &str) -> Result<String, GitError> {
        let mut c = git_command(&self.dir);
        c.args(["rev-parse", "--verify", "--quiet", &format!("{sha}^{{commit}}")]);
        let out = run(&self.remote, c, &format!("git rev-parse {sha}"))?;
        let commit = out.trim().to_string();
        check_commit_id(&commit)?;
        Ok(commit)
    }
}

/// A run's checkout. Dropping it removes the folder; [`Workspace::keep`] keeps it.
pub struct Workspace {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    commit: String,
}

impl Workspace {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The commit checked out: the run's commit id, or the commit its annotated tag points to.
    pub fn commit(&self) -> &str {
        &self.commit
    }

    /// Keeps the folder after the run (`keep_workspaces`); returns where it is.
    pub fn keep(mut self) -> PathBuf {
        if let Some(d) = self.dir.take() {
            let _ = d.keep();
        }
        self.path.clone()
    }
}

/// Removes all but the `keep` newest folders in `parent` (kept workspaces), oldest first.
pub fn prune_kept(parent: &Path, keep: usize) -> std::io::Result<usize> {
    let mut dirs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(parent)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(keep);
    for (_, d) in &dirs[..excess] {
        std::fs::remove_dir_all(d)?;
    }
    Ok(excess)
}

/// A branch head on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub branch: String,
    pub commit: String,
}

/// The remote's branches (`git ls-remote --heads`) that `wanted` accepts, sorted by name:
/// what polling compares with the heads it last saw.
pub fn ls_remote(remote: &Remote, wanted: impl Fn(&str) -> bool) -> Result<Vec<Head>, GitError> {
    let mut c = remote.command(&std::env::temp_dir());
    c.args(["ls-remote", "--heads", "--", &remote.url]);
    let what = format!("git ls-remote {}", remote.url);
    let out = run_within(remote, c, &what, LS_REMOTE_TIMEOUT.min(remote.timeout))?;
    let mut heads: Vec<Head> = out
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(sha, r)| {
            Some(Head { branch: r.strip_prefix("refs/heads/")?.to_string(), commit: sha.to_string() })
        })
        .filter(|h| wanted(&h.branch))
        .collect();
    heads.sort_by(|a, b| a.branch.cmp(&b.branch));
    Ok(heads)
}
