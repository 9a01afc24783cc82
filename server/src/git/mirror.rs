//! The cached bare mirror of a project's repository (updated under a lock), and a fresh
//! checkout of exactly one commit per run.

use super::GitError;
use super::command::run;
use super::remote::Remote;
use crate::gitinfo::git_command;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// With the project's own ssh key, a submodule may only be fetched from the repository's own
/// host: a `.gitmodules` (a pull request's, say) that names another ssh host would have the
/// key offered there, and that host recorded as trusted.
fn submodules_stay_on_the_host(work: &Path, repo_url: &str) -> Result<(), GitError> {
    use crate::config::ssh_host;
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
