//! Where a project's commits come from, and the hardened git command that talks to it: no
//! credential helper, the token only in the environment, scoped to the repository's origin.

use super::ssh::{SSH_COMMAND, SSH_KEY_OPTIONS, SshAuth};
use crate::gitinfo::git_command;
use base64::Engine;
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
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
    pub(super) anonymous: bool,
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

    pub(super) fn stopped(&self) -> bool {
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
    pub(super) fn command(&self, dir: &Path) -> Command {
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
pub(super) fn has_own_ssh_command() -> bool {
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
