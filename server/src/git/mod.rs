//! Repositories as projects: a cached bare mirror per project under the data dir, a fresh
//! checkout of exactly one commit per run, and `git ls-remote` for polling.
//!
//! Every git runs through [`crate::gitinfo::git_command`] (no hooks, no fsmonitor, no pager,
//! no system config, no prompts). A token reaches git only as an `http.<url>.extraHeader`
//! passed in the environment (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`),
//! scoped to the repository's scheme, host and port: it is never in a URL, an argument (so
//! not in `ps` either), `.git/config` or an error, and a submodule on another host never
//! sees it.

use crate::gitinfo::git_command;
use base64::Engine;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Settings for commands that talk to a remote, on top of gitinfo's: no helper program may
/// run for credentials (a token comes only from us), and no `ext::` transport (which runs a
/// command named in the URL, e.g. a submodule's).
const REMOTE_CONFIG: &[&str] = &["credential.helper=", "protocol.ext.allow=never", "core.askPass="];

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
}

impl Remote {
    pub fn new(url: &str, auth: Option<HttpAuth>) -> Remote {
        Remote { url: url.to_string(), auth }
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
    Io(String, std::io::Error),
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitError::Spawn(e) => write!(f, "cannot run git: {e}"),
            GitError::Failed { what, stderr } => write!(f, "{what} failed: {}", stderr.trim()),
            GitError::BadCommitId(s) => write!(f, "`{s}` is not a full commit id"),
            GitError::MissingCommit(s) => write!(f, "commit {s} is not in the repository (after fetching)"),
            GitError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for GitError {}

fn run(remote: &Remote, mut cmd: Command, what: &str) -> Result<String, GitError> {
    let out = cmd.stdin(std::process::Stdio::null()).output().map_err(GitError::Spawn)?;
    if !out.status.success() {
        let stderr = remote.mask(&String::from_utf8_lossy(&out.stderr));
        return Err(GitError::Failed { what: remote.mask(what), stderr });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn check_commit_id(sha: &str) -> Result<(), GitError> {
    let ok = matches!(sha.len(), 40 | 64) && sha.bytes().all(|b| b.is_ascii_hexdigit());
    if ok { Ok(()) } else { Err(GitError::BadCommitId(sha.chars().take(80).collect())) }
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
}

impl Mirror {
    /// The mirror of `project` under `data_dir/mirrors/`. `project` is a validated name
    /// (letters, digits, `.`, `_`, `-`), so it is one path component.
    pub fn new(data_dir: &Path, project: &str, remote: Remote) -> Mirror {
        Mirror { dir: data_dir.join("mirrors").join(format!("{project}.git")), remote }
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
            let mut c = self.remote.command(&self.dir);
            c.args(["fetch", "--prune", "--quiet", "--no-write-fetch-head", "--", &self.remote.url, "+refs/*:refs/*"]);
            run(&self.remote, c, &format!("git fetch {}", self.remote.url))?;
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

    /// Waits for other updates of this mirror (threads or processes) to finish; released on drop.
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
        file.lock().map_err(|e| GitError::Io(format!("cannot lock {}", path.display()), e))?;
        Ok(file)
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
        let mut c = self.remote.command(&self.dir);
        c.args(["fetch", "--quiet", "--no-write-fetch-head", "--", &self.remote.url, &format!("+{git_ref}:{git_ref}")]);
        run(&self.remote, c, &format!("git fetch {git_ref}")).map(|_| ())
    }

    /// A new folder under `parent` holding a work tree of exactly `sha` (detached HEAD), its
    /// submodules checked out too. The clone is local (objects hard-linked from the mirror),
    /// self-contained (no alternates: it works inside a container that cannot see the
    /// mirror), with `origin` set to the project's URL. Removed on drop unless kept.
    pub fn checkout(&self, sha: &str, parent: &Path) -> Result<Workspace, GitError> {
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
            let mut c = self.remote.command(&path);
            c.args(["submodule", "update", "--init", "--recursive", "--quiet"]);
            run(&self.remote, c, "git submodule update")?;
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
    let out = run(remote, c, &format!("git ls-remote {}", remote.url))?;
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
