//! A project's own ssh key: the `GIT_SSH_COMMAND` that uses that key alone, with the
//! project's known hosts, quoted for the shell and for ssh.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// ssh that gives up on a host that does not answer, or goes quiet for a minute; used only
/// when neither the environment nor git's config names an ssh command of its own.
pub(super) const SSH_COMMAND: &str = "ssh -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4";

/// Options of a project's own ssh on top of [`SSH_COMMAND`]'s: no config file (`-F /dev/null`:
/// the account's `~/.ssh/config` and the system's could name other keys, hosts or a proxy), no
/// agent and only the given key (its keys must not stand in for the project's), never a prompt.
pub(super) const SSH_KEY_OPTIONS: &[&str] = &[
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
    pub(super) fn command(&self) -> OsString {
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
