//! A repository project's keys (`repo = …`): the forge and its API, secrets by reference,
//! branches, polling, timeouts, and the ssh key checked as ssh would check it.

use super::place::{RepoPlace, plain_http_off_loopback};
use super::project::{BranchFilter, ForkPolicy, RepoProject, SecretRef};
use super::raw::RawProject;
use super::{ConfigError, Cx, DEFAULT_GIT_TIMEOUT, MAX_GIT_TIMEOUT, MIN_GIT_TIMEOUT};
use crate::forge::Forge;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

impl Cx<'_> {
    pub(super) fn repo(&self, name: &str, repo: &Spanned<String>, p: &RawProject) -> Result<RepoProject, ConfigError> {
        let url = repo.get_ref().trim();
        if url.is_empty() || url.starts_with('-') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.at(repo, name, format!("`repo = {url:?}` is not a clone URL")));
        }
        let place = RepoPlace::of(url);
        if place.as_ref().is_some_and(|pl| pl.credentials_in_url) {
            return Err(self.at(
                repo,
                name,
                "the repo URL carries credentials (a user or password before `@`); use the plain URL and name the token with `token_file` or `token_env`",
            ));
        }
        let forge = match &p.forge {
            Some(f) => Some(match f.get_ref().as_str() {
                "github" => Forge::GitHub,
                "gitlab" => Forge::GitLab,
                "gitea" | "forgejo" => Forge::Gitea,
                other => {
                    return Err(self.at(
                        f,
                        name,
                        format!("`forge = {other:?}`: expected \"github\", \"gitlab\" or \"gitea\""),
                    ));
                }
            }),
            None => place.as_ref().and_then(|pl| match pl.host.as_str() {
                "github.com" => Some(Forge::GitHub),
                "gitlab.com" => Some(Forge::GitLab),
                "codeberg.org" => Some(Forge::Gitea),
                _ => None,
            }),
        };
        let webhook_secret = self.secret(name, "webhook_secret", &p.webhook_secret_file, &p.webhook_secret_env)?;
        let token = self.secret(name, "token", &p.token_file, &p.token_env)?;
        if forge.is_none() && (webhook_secret.is_some() || token.is_some()) {
            return Err(self.at(
                repo,
                name,
                "webhooks and statuses need `forge = \"github\"`, \"gitlab\" or \"gitea\"",
            ));
        }
        if token.is_some() && place.as_ref().is_some_and(|pl| pl.scheme == "http" && !pl.loopback()) {
            return Err(self.at(repo, name, "a token would travel unencrypted over http://; use an https URL"));
        }
        let (ssh_key, ssh_known_hosts) = self.ssh(name, repo, place.as_ref(), p)?;
        let api_url = match (&p.api_url, forge) {
            (Some(a), _) => {
                let v = a.get_ref().trim_end_matches('/');
                if !(v.starts_with("https://") || v.starts_with("http://")) {
                    return Err(self.at(a, name, format!("`api_url = {v:?}` is not an http(s) URL")));
                }
                if token.is_some() && plain_http_off_loopback(v) {
                    return Err(self.at(
                        a,
                        name,
                        format!(
                            "`api_url = {v:?}`: the token would travel unencrypted over http://; use an https URL \
                             (http is for a forge on this machine only)"
                        ),
                    ));
                }
                Some(v.to_string())
            }
            (None, Some(f)) => place.as_ref().map(|pl| pl.default_api(f)),
            (None, None) => None,
        };
        if token.is_some() && api_url.is_none() {
            return Err(self.at(repo, name, "statuses need `api_url`: the repo URL names no host to derive it from"));
        }
        Ok(RepoProject {
            name: name.to_string(),
            repo: url.to_string(),
            key: p.key.as_ref().map(|k| self.base.join(k)),
            filter: BranchFilter { include: self.globs(name, &p.branches)?, exclude: self.globs(name, &p.exclude)? },
            forge,
            api_url,
            host: place.as_ref().map(|pl| pl.host.clone()).filter(|h| !h.is_empty()),
            repo_full_name: place.map(|pl| pl.full_name).filter(|n| !n.is_empty()),
            webhook_secret,
            token,
            ssh_key,
            ssh_known_hosts,
            poll: match &p.poll {
                Some(s) if self.duration(name, "poll", s)?.is_zero() => {
                    return Err(self.at(s, name, "`poll` must be at least 1s (leave it out to not poll)"));
                }
                Some(s) => Some(self.duration(name, "poll", s)?),
                None => None,
            },
            git_timeout: match &p.git_timeout {
                Some(s) => {
                    let t = self.duration(name, "git_timeout", s)?;
                    if !(MIN_GIT_TIMEOUT..=MAX_GIT_TIMEOUT).contains(&t) {
                        return Err(self.at(s, name, "`git_timeout` is from 2m to 24h"));
                    }
                    t
                }
                None => DEFAULT_GIT_TIMEOUT,
            },
            keep_workspaces: match &p.keep_workspaces {
                Some(k) if !(0..=1000).contains(k.get_ref()) => {
                    return Err(self.at(k, name, "`keep_workspaces` is a count from 0 to 1000"));
                }
                Some(k) => *k.get_ref() as usize,
                None => 0,
            },
            cancel_superseded: p.cancel_superseded.as_ref().is_none_or(|c| *c.get_ref()),
            fork_pull_requests: match &p.fork_pull_requests {
                None => ForkPolicy::default(),
                Some(v) => match v.get_ref().as_str() {
                    "off" => ForkPolicy::Off,
                    "without-secrets" => ForkPolicy::WithoutSecrets,
                    "with-secrets" => ForkPolicy::WithSecrets,
                    other => {
                        return Err(self.at(
                            v,
                            name,
                            format!(
                                "`fork_pull_requests = {other:?}`: expected \"off\", \"without-secrets\" (the default) or \"with-secrets\""
                            ),
                        ));
                    }
                },
            },
        })
    }

    fn secret(
        &self,
        name: &str,
        key: &str,
        file: &Option<Spanned<PathBuf>>,
        env: &Option<Spanned<String>>,
    ) -> Result<Option<SecretRef>, ConfigError> {
        match (file, env) {
            (Some(_), Some(e)) => Err(self.at(e, name, format!("set `{key}_file` or `{key}_env`, not both"))),
            (Some(f), None) => Ok(Some(SecretRef::File(self.base.join(f.get_ref())))),
            (None, Some(e)) => {
                let v = e.get_ref();
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(self.at(e, name, format!("`{key}_env = {v:?}` is not an environment variable name")));
                }
                Ok(Some(SecretRef::Env(v.clone())))
            }
            (None, None) => Ok(None),
        }
    }

    /// `ssh_key_file` and `ssh_known_hosts_file`, checked now so that a key ssh would refuse
    /// stops `slipway serve` with its name instead of failing every fetch.
    fn ssh(
        &self,
        name: &str,
        repo: &Spanned<String>,
        place: Option<&RepoPlace>,
        p: &RawProject,
    ) -> Result<(Option<PathBuf>, Option<PathBuf>), ConfigError> {
        let Some(key) = &p.ssh_key_file else {
            return match &p.ssh_known_hosts_file {
                Some(k) => Err(self.at(
                    k,
                    name,
                    "`ssh_known_hosts_file` goes with `ssh_key_file` (without a key of its own, ssh uses the server account's setup and its known_hosts)",
                )),
                None => Ok((None, None)),
            };
        };
        if !place.is_some_and(|pl| matches!(pl.scheme.as_str(), "ssh" | "git+ssh" | "ssh+git")) {
            return Err(self.at(
                key,
                name,
                format!(
                    "`ssh_key_file` applies only to ssh URLs (`ssh://user@host/path` or `user@host:path`), and `repo = {:?}` is not one{}",
                    repo.get_ref(),
                    if place.is_some_and(|pl| pl.scheme.starts_with("http")) {
                        "; for https, name a token with `token_file`"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let path = self.absolute(key.get_ref());
        no_ssh_variables(&path).and_then(|()| check_private_key(&path)).map_err(|m| self.at(key, name, m))?;
        let known_hosts = match &p.ssh_known_hosts_file {
            Some(k) => {
                let kh = self.absolute(k.get_ref());
                no_ssh_variables(&kh).map_err(|m| self.at(k, name, m))?;
                match std::fs::metadata(&kh).and_then(|m| std::fs::File::open(&kh).map(|_| m)) {
                    Ok(m) if m.is_file() => Some(kh),
                    Ok(_) => {
                        return Err(self.at(
                            k,
                            name,
                            format!("the ssh_known_hosts_file {} is not a file", kh.display()),
                        ));
                    }
                    Err(e) => {
                        return Err(self.at(
                            k,
                            name,
                            format!("cannot read the ssh_known_hosts_file {}: {e}", kh.display()),
                        ));
                    }
                }
            }
            None => None,
        };
        Ok((Some(path), known_hosts))
    }

    /// `path` relative to the config's folder, made absolute (ssh runs in another folder).
    fn absolute(&self, path: &Path) -> PathBuf {
        let p = self.base.join(path);
        std::path::absolute(&p).unwrap_or(p)
    }

    fn globs(&self, name: &str, v: &Option<Spanned<Vec<String>>>) -> Result<Vec<String>, ConfigError> {
        let Some(v) = v else { return Ok(Vec::new()) };
        if v.get_ref().iter().any(|g| g.is_empty()) {
            return Err(self.at(v, name, "an empty branch pattern matches nothing; remove it"));
        }
        Ok(v.get_ref().clone())
    }

    fn duration(&self, name: &str, key: &str, s: &Spanned<String>) -> Result<Duration, ConfigError> {
        let text = s.get_ref().trim();
        let bad =
            || self.at(s, name, format!("`{key} = {text:?}`: expected a duration like \"60s\", \"5m\" or \"1h\""));
        let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let secs = match unit {
            "s" => n,
            "m" => n.saturating_mul(60),
            "h" => n.saturating_mul(3600),
            _ => return Err(bad()),
        };
        Ok(Duration::from_secs(secs))
    }
}

/// ssh reads `${NAME}` in a key or known_hosts path as an environment variable, with no way to
/// write it literally.
fn no_ssh_variables(path: &Path) -> Result<(), String> {
    if path.to_string_lossy().contains("${") {
        return Err(format!(
            "ssh would read the `${{` in {} as the start of an environment variable; use a path without it",
            path.display()
        ));
    }
    Ok(())
}

/// A private key file that ssh will use: a file (a symlink to one is fine, as for token files)
/// that only its owner can read or write (ssh refuses any other as "UNPROTECTED PRIVATE KEY
/// FILE") and that holds a private key (not the `.pub`). The content is read only to look at
/// its armour line; it is never kept or shown.
fn check_private_key(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the ssh key file {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("the ssh key file {shown} is not a file"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "the ssh key file {shown} can be read by others than its owner (mode {mode:03o}), and ssh refuses such a key \
             (\"UNPROTECTED PRIVATE KEY FILE\"); run `chmod 600 {shown}`"
        ));
    }
    let text = std::fs::read(path).map_err(|e| format!("cannot read the ssh key file {shown}: {e}"))?;
    let armoured = text.starts_with(b"-----BEGIN ") && text.windows(16).any(|w| w == b"PRIVATE KEY-----");
    if !armoured {
        return Err(format!(
            "the ssh key file {shown} does not hold a private key (`-----BEGIN … PRIVATE KEY-----`); is it the `.pub` file?"
        ));
    }
    // The server's ssh runs in batch mode: it cannot ask for a passphrase, and every fetch
    // would fail with "Permission denied (publickey)". ssh-keygen tells (without one, skip).
    let loaded = std::process::Command::new("ssh-keygen")
        .args(["-y", "-P", "", "-f"])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output();
    if let Ok(out) = loaded
        && !out.status.success()
    {
        let why = String::from_utf8_lossy(&out.stderr);
        if why.contains("passphrase") {
            return Err(format!(
                "the ssh key file {shown} is protected by a passphrase, which the server cannot type;                  give it a key without one (`ssh-keygen -p -N '' -f COPY` removes it from a copy)"
            ));
        }
        return Err(format!("ssh-keygen cannot read the ssh key file {shown}: {}", why.trim()));
    }
    Ok(())
}
