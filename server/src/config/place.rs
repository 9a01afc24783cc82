//! What a clone URL says about where the repository is: its scheme, host, `owner/name`, and
//! whether it carries credentials.

use crate::forge::Forge;

/// The host of an ssh clone URL (`ssh://[user@]host[:port]/…` or scp-like `[user@]host:path`),
/// lower-case; `None` for any other kind (https, git://, a relative or local path).
pub fn ssh_host(url: &str) -> Option<String> {
    RepoPlace::of(url).filter(|p| matches!(p.scheme.as_str(), "ssh" | "git+ssh")).map(|p| p.host)
}

/// Where a repo URL points: `https://host[:port]/owner/name.git`, `ssh://user@host[:port]/…`,
/// `git://host/…` or scp-like `user@host:owner/name.git`. `None` for a local path.
pub(super) struct RepoPlace {
    pub(super) scheme: String,
    /// With its port for http(s) (the API lives there too); without for ssh.
    pub(super) host: String,
    pub(super) host_port: String,
    pub(super) full_name: String,
    pub(super) credentials_in_url: bool,
}

impl RepoPlace {
    pub(super) fn of(url: &str) -> Option<RepoPlace> {
        if let Some((scheme, rest)) = url.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            if scheme == "file" {
                return None;
            }
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (userinfo, host_port) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, authority),
            };
            let host = host_of(host_port).to_ascii_lowercase();
            return Some(RepoPlace {
                // `https://TOKEN@host/…` is a form forges document: for http(s) any user part
                // is a credential (git would print it in its errors); ssh's `git@` is not.
                credentials_in_url: userinfo.is_some_and(|u| u.contains(':') || scheme.starts_with("http")),
                host_port: if scheme.starts_with("http") { host_port.to_ascii_lowercase() } else { host.clone() },
                host,
                scheme,
                full_name: repo_path(path),
            });
        }
        // scp-like: [user@]host:path, where host has no slash (else it is a local path).
        let (before, path) = url.split_once(':')?;
        if before.contains('/') || path.starts_with("//") {
            return None;
        }
        let host = before.rsplit('@').next().unwrap_or(before).to_ascii_lowercase();
        Some(RepoPlace {
            scheme: "ssh".into(),
            host_port: host.clone(),
            host,
            full_name: repo_path(path),
            credentials_in_url: false,
        })
    }

    pub(super) fn loopback(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
    }

    pub(super) fn default_api(&self, forge: Forge) -> String {
        let scheme = if self.scheme == "http" { "http" } else { "https" };
        match (forge, self.host.as_str()) {
            (Forge::GitHub, "github.com") => "https://api.github.com".to_string(),
            (Forge::GitHub, _) => format!("{scheme}://{}/api/v3", self.host_port),
            (Forge::GitLab, _) => format!("{scheme}://{}/api/v4", self.host_port),
            (Forge::Gitea, _) => format!("{scheme}://{}/api/v1", self.host_port),
        }
    }
}

/// An `http://` URL to another machine: a token sent there travels in the clear (a forge on
/// this machine, as in tests, is fine).
pub(super) fn plain_http_off_loopback(url: &str) -> bool {
    RepoPlace::of(url).is_some_and(|pl| pl.scheme == "http" && !pl.loopback())
}

/// The host of `host[:port]`, an IPv6 literal with its brackets (`[::1]:3000` → `[::1]`).
fn host_of(host_port: &str) -> &str {
    match host_port.strip_prefix('[').and_then(|rest| rest.find(']')) {
        Some(end) => &host_port[..end + 2],
        None => host_port.split(':').next().unwrap_or(""),
    }
}

fn repo_path(path: &str) -> String {
    let p = path.trim_matches('/');
    p.strip_suffix(".git").unwrap_or(p).to_string()
}
