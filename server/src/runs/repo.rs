//! Repository projects in the run manager: what a project needs besides its config (its
//! secrets loaded, its remote, its status client), the checkout of a run's commit, and the
//! commit statuses of its runs, sent in order and never in a run's way.

use super::trigger::RunTrigger;
use super::{Manager, lock};
use crate::config::RepoProject;
use crate::forge::Secret;
use crate::forge::status::{Outcome, State, StatusClient, Update};
use crate::git::{self, GitError, KnownHosts, Mirror, Remote, SshAuth};
use slipway_core::run_state::RunStatus;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// A repository project, ready to run: secrets loaded once at start, so a missing secret file
/// stops `slipway serve` rather than a run.
pub struct RepoSetup {
    pub config: RepoProject,
    pub webhook_secret: Option<Secret>,
    /// The clone URL and, for https, the token (sent as a header, never in the URL).
    pub remote: Remote,
    /// `None` without a token or forge: no statuses.
    pub statuses: Option<Arc<StatusClient>>,
    /// `DATA_DIR`: the mirror lives in `DATA_DIR/mirrors/<project>.git`.
    pub data_dir: PathBuf,
    /// Where runs' checkouts are made (`DATA_DIR/checkouts/<project>`), and where the last
    /// `keep_workspaces` of them are kept (`DATA_DIR/kept/<project>`).
    pub checkouts: PathBuf,
    pub kept: PathBuf,
}

impl std::fmt::Debug for RepoSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoSetup")
            .field("config", &self.config)
            .field("remote", &self.remote)
            .field("statuses", &self.statuses.is_some())
            .finish_non_exhaustive()
    }
}

impl RepoSetup {
    /// `text` without the token, in any form it travels in.
    pub fn mask(&self, text: &str) -> String {
        self.remote.mask(text)
    }

    /// The mirror brought up to date as far as `t` needs, then a fresh checkout of exactly
    /// its commit. Blocking.
    /// `stop`: the run's cancel, which stops the fetch or checkout under way.
    pub fn checkout(&self, project: &str, t: &RunTrigger, stop: CancellationToken) -> Result<git::Workspace, GitError> {
        let mirror = Mirror::new(&self.data_dir, project, self.remote.clone().with_stop(stop));
        if !mirror.has_commit(&t.commit_id) {
            let update = mirror.update()?;
            tracing::info!(project, "mirror: {update:?}");
        }
        // A commit no mirrored ref names yet (a merge request ref created after the fetch).
        if !mirror.has_commit(&t.commit_id) {
            mirror.fetch_ref(&t.fetch_ref)?;
        }
        // A fork's `.gitmodules` could name any repository the project's credentials read.
        let submodules =
            if t.from_fork { git::Submodules::WithoutCredentials } else { git::Submodules::WithProjectCredentials };
        mirror.checkout_for(&t.commit_id, &self.checkouts, submodules)
    }

    /// The mirror fetched (always: an old mirror would vouch for an old head), then where
    /// `t`'s ref points. Blocking.
    pub fn ref_head(&self, project: &str, t: &RunTrigger, stop: CancellationToken) -> Result<RefHead, GitError> {
        let mirror = Mirror::new(&self.data_dir, project, self.remote.clone().with_stop(stop));
        let update = mirror.update()?;
        tracing::info!(project, "mirror: {update:?}");
        // A merge request ref created after the fetch.
        if !mirror.has_commit(&t.commit_id) {
            let _ = mirror.fetch_ref(&t.fetch_ref);
        }
        let now = peeled(mirror.dir(), &t.fetch_ref);
        // An annotated tag's delivery may name the tag object rather than its commit.
        let wanted = peeled(mirror.dir(), &t.commit_id).unwrap_or_else(|| t.commit_id.clone());
        Ok(RefHead { wanted, now })
    }

    /// After the run: the checkout is removed, or kept with the last `keep_workspaces`.
    /// Blocking.
    pub fn finish_checkout(&self, ws: git::Workspace) {
        let keep = self.config.keep_workspaces;
        if keep == 0 {
            drop(ws);
            return;
        }
        let from = ws.keep();
        let kept = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&self.kept)?;
            let name = from.file_name().unwrap_or_default();
            std::fs::rename(&from, self.kept.join(name))?;
            git::prune_kept(&self.kept, keep)?;
            Ok(())
        })();
        if let Err(e) = kept {
            tracing::warn!("cannot keep the checkout {}: {e}", from.display());
            let _ = std::fs::remove_dir_all(&from);
        }
    }

    /// The status update for `state` of the run `id`, if the project sends statuses.
    fn update(&self, id: &str, t: &RunTrigger, state: State) -> Option<Update> {
        self.statuses.as_ref()?;
        let repo = t.repo_full_name.clone().or_else(|| self.config.repo_full_name.clone())?;
        Some(Update {
            repo,
            sha: t.commit_id.clone(),
            state,
            run_id: id.to_string(),
            project: self.config.name.clone(),
            pull_request: t.pr_number.is_some(),
        })
    }
}

/// Where a run's ref points after a fetch, and the commit the run wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefHead {
    pub wanted: String,
    /// `None`: the ref does not exist (any more).
    pub now: Option<String>,
}

impl RefHead {
    pub fn is_head(&self) -> bool {
        self.now.as_deref() == Some(self.wanted.as_str())
    }
}

/// The commit `rev` (a ref, or an object id) is or points to in the bare repository `dir`.
fn peeled(dir: &Path, rev: &str) -> Option<String> {
    // `--end-of-options`: a ref from a delivery is never read as an option.
    let out = crate::gitinfo::git_command(dir)
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{rev}^{{commit}}")])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let sha = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && matches!(sha.len(), 40 | 64)).then_some(sha)
}

/// A run's commit statuses on their way to the forge.
pub(super) enum StatusQueue {
    /// Sent in order by the run's worker task; "pending" is always the first.
    Open(UnboundedSender<Update>),
    /// The final status is queued: anything later (a "pending" whose submitter was slower than
    /// the whole run) is dropped.
    Closed,
}

/// Ended runs whose queues are remembered (as [`StatusQueue::Closed`]) before they are forgotten:
/// a late "pending" comes microseconds after the run was stored, so a few suffice.
const MAX_CLOSED_QUEUES: usize = 1000;

/// A run's status on the forge for its final state.
pub fn final_state(status: RunStatus) -> State {
    match status {
        RunStatus::Success => State::Success,
        RunStatus::Failed => State::Failure,
        RunStatus::Cancelled => State::Canceled,
        RunStatus::Queued => State::Pending,
        RunStatus::Running => State::Running,
        RunStatus::Interrupted | RunStatus::Error => State::Error,
    }
}

fn is_final(state: State) -> bool {
    !matches!(state, State::Pending | State::Running)
}

/// Send `state` for run `id` to its forge: queued behind the run's earlier statuses (they
/// arrive in order) on a task of its own, so a forge that is slow or down never holds up
/// the run. The outcome is recorded on the run (`status_error`).
pub(super) fn send_status(m: &Arc<Manager>, id: &str, project: &str, state: State) {
    if !queue_status(m, id, project, state, true)
        && is_final(state)
        && let Err(e) = m.store.clear_status_unsent(id, state.as_str())
    {
        tracing::warn!(run = %id, "cannot record the status as not to be sent: {e:#}");
    }
}

/// After a restart: send the newest status of each run that had not gone out when the
/// server stopped (the forge needs only the newest; what came before is not sent again).
pub(super) fn resend_unsent_statuses(m: &Arc<Manager>, except: &[String]) {
    let unsent = match m.store.unsent_statuses() {
        Ok(u) => u,
        Err(e) => return tracing::warn!("cannot read the statuses waiting to be sent: {e:#}"),
    };
    for crate::store::UnsentStatus { id, project, state } in unsent {
        if except.contains(&id) {
            continue;
        }
        let queued = match State::parse(&state) {
            Some(parsed) => queue_status(m, &id, &project, parsed, false),
            None => {
                tracing::warn!(run = %id, "unknown stored status `{state}`: not sent");
                false
            }
        };
        // Recorded with the run's end, but not for the forge to hear (a late delivery's run,
        // a project without statuses): nothing is waiting.
        if !queued && let Err(e) = m.store.clear_status_unsent(&id, &state) {
            tracing::warn!(run = %id, "cannot record the status as not to be sent: {e:#}");
        }
    }
}

/// `lead_with_pending`: a run's first status is always pending (see below); a status sent
/// again after a restart goes alone. False when the forge is not to hear of it.
fn queue_status(m: &Arc<Manager>, id: &str, project: &str, state: State, lead_with_pending: bool) -> bool {
    let Some(repo) = m.project(project).and_then(|p| p.repo().cloned()) else { return false };
    let Some(client) = repo.statuses.clone() else { return false };
    let trigger = match m.store.trigger(id) {
        // A late (or replayed) delivery's run: the forge hears nothing of it, so an old
        // commit's status is never changed by one.
        Ok(Some(t)) if t.head == super::trigger::HeadCheck::Late => return false,
        Ok(Some(t)) => t,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(run = %id, "no status sent: cannot read the run's trigger: {e:#}");
            return false;
        }
    };
    let Some(update) = repo.update(id, &trigger, state) else { return false };
    let mut queues = lock(&m.status_queues);
    let tx = match queues.get(id) {
        // Its final status is queued already (and recorded as waiting until it is sent).
        Some(StatusQueue::Closed) => return true,
        // Pending went (or was put) first already.
        Some(StatusQueue::Open(_)) if matches!(state, State::Pending) => return true,
        Some(StatusQueue::Open(tx)) => tx.clone(),
        None => {
            let tx = status_worker(m, id, client);
            // The scheduler started the run before its submitter queued "pending": the
            // forge still sees pending first (the submitter's own is then dropped).
            if lead_with_pending && !matches!(state, State::Pending) {
                let _ = repo.update(id, &trigger, State::Pending).map(|p| tx.send(p));
            }
            queues.insert(id.to_string(), StatusQueue::Open(tx.clone()));
            tx
        }
    };
    // Recorded before it is queued, so the worker's "sent" can never come first.
    if let Err(e) = m.store.set_status_unsent(id, state.as_str()) {
        tracing::warn!(run = %id, "cannot record the status waiting to be sent: {e:#}");
    }
    let _ = tx.send(update);
    // The run's last status: its worker ends once it has sent what is queued (dropping the
    // sender), and nothing is sent after it.
    if is_final(state) {
        queues.insert(id.to_string(), StatusQueue::Closed);
        if queues.len() > MAX_CLOSED_QUEUES {
            queues.retain(|_, q| matches!(q, StatusQueue::Open(_)));
        }
    }
    true
}

/// The task that sends one run's statuses, in the order they are queued.
fn status_worker(m: &Arc<Manager>, id: &str, client: Arc<StatusClient>) -> UnboundedSender<Update> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Update>();
    let (me, run) = (m.clone(), id.to_string());
    tokio::spawn(async move {
        while let Some(u) = rx.recv().await {
            let state = u.state;
            let outcome = client.clone().send(u).await;
            record_status(&me, &run, &outcome);
            if let Err(e) = me.store.clear_status_unsent(&run, state.as_str()) {
                tracing::warn!(run = %run, "cannot record the status as sent: {e:#}");
            }
        }
    });
    tx
}

fn record_status(m: &Manager, id: &str, outcome: &Outcome) {
    let error = match outcome {
        Outcome::Sent { .. } => None,
        Outcome::Failed { .. } => {
            tracing::warn!(run = %id, "{outcome}");
            Some(outcome.to_string())
        }
    };
    if let Err(e) = m.store.set_status_error(id, error.as_deref()) {
        tracing::warn!(run = %id, "cannot record the status outcome: {e:#}");
    }
}

/// The project's own ssh key, if it has one: with its `ssh_known_hosts_file`, or else trust on
/// first use recorded in `DATA_DIR/ssh/<project>.known_hosts` (a folder only the server reads).
pub fn ssh_auth(config: &RepoProject, data_dir: &Path) -> anyhow::Result<Option<SshAuth>> {
    let Some(key) = &config.ssh_key else { return Ok(None) };
    let known_hosts = match &config.ssh_known_hosts {
        Some(file) => KnownHosts::Pinned(file.clone()),
        None => {
            let dir = data_dir.join("ssh");
            crate::executor::workspace::create_private_dir(&dir)?;
            KnownHosts::FirstUse(dir.join(format!("{}.known_hosts", config.name)))
        }
    };
    Ok(Some(SshAuth::new(key, known_hosts)))
}

/// The values a repository run's steps see, from its trigger (and, for what the event did
/// not carry, from the checked-out commit itself: `resolve` reads the checkout's git).
pub fn build_values(mut values: crate::build_values::BuildValues, t: &RunTrigger) -> crate::build_values::BuildValues {
    let or = |given: &Option<String>, old: Option<String>| given.clone().filter(|s| !s.is_empty()).or(old);
    values.branch = t.ci_branch().map(str::to_string).or(values.branch);
    values.commit_id = Some(t.commit_id.clone());
    values.commit_message = or(&t.commit_message, values.commit_message);
    values.committer_name = or(&t.committer_name, values.committer_name);
    values.committer_email = or(&t.committer_email, values.committer_email);
    values.committer_username = or(&t.committer_username, values.committer_username);
    values.repo_name = or(&t.repo_name, values.repo_name);
    values
}

/// `CI_PULL_REQUEST` and `CI_PR_NUMBER`, which CodeShip set for every build.
pub fn pull_request_env(t: &RunTrigger) -> Vec<(String, String)> {
    vec![
        ("CI_PULL_REQUEST".to_string(), t.ci_pull_request.clone()),
        ("CI_PR_NUMBER".to_string(), t.pr_number.unwrap_or(0).to_string()),
    ]
}

/// How long one `git ls-remote` may take.
const LS_REMOTE_BUDGET: Duration = Duration::from_secs(120);

/// Polling for a project without inbound webhooks: every `every`, `git ls-remote` the
/// repository and queue a run for each branch head that was not seen before (nor built on
/// a webhook's word) and that the project builds (its filter, applied by
/// `submit_triggered`). The heads seen are kept in the store, so a restart rebuilds nothing;
/// the very first poll of a project only records them (it would otherwise build every
/// branch of the repository at once).
pub(super) async fn poll(m: Arc<Manager>, project: String, every: Duration) {
    loop {
        if let Err(e) = poll_once(&m, &project).await {
            tracing::warn!(project, "polling failed: {e:#}");
        }
        tokio::time::sleep(every).await;
    }
}

/// One poll; the runs it queued.
pub(super) async fn poll_once(m: &Arc<Manager>, project: &str) -> anyhow::Result<Vec<String>> {
    let Some(repo) = m.project(project).and_then(|p| p.repo().cloned()) else {
        anyhow::bail!("`{project}` is not a repository project");
    };
    let r = repo.clone();
    // Every head: which branches build is decided where deliveries are (`submit_triggered`).
    let work = tokio::task::spawn_blocking(move || git::ls_remote(&r.remote, |_| true));
    let heads = match tokio::time::timeout(LS_REMOTE_BUDGET, work).await {
        Ok(joined) => joined?.map_err(|e| anyhow::anyhow!(repo.mask(&e.to_string())))?,
        Err(_) => anyhow::bail!("git ls-remote took longer than {} s", LS_REMOTE_BUDGET.as_secs()),
    };
    let seen = m.store.poll_heads(project)?;
    let mut queued = Vec::new();
    if let Some(seen) = seen {
        let new = heads.iter().filter(|h| seen.get(&h.branch) != Some(&h.commit));
        for h in new {
            // A webhook may have built it already.
            if m.store.has_run_of(project, &h.branch, &h.commit)? {
                continue;
            }
            let t = RunTrigger::from_poll(&h.branch, &h.commit);
            // The head check goes on in the background: polling does not wait for it.
            match m.submit_triggered(project, t, Duration::ZERO).await? {
                super::Submitted::Queued { id, .. } => queued.push(id),
                super::Submitted::Late { .. }
                | super::Submitted::Duplicate(_)
                | super::Submitted::SameCommit(_)
                | super::Submitted::Replayed(_) => {}
                super::Submitted::Skipped { .. } | super::Submitted::Filtered { .. } => {}
            }
        }
    } else {
        tracing::info!(project, "first poll: {} branch heads recorded, none built", heads.len());
    }
    let pairs: Vec<(String, String)> = heads.into_iter().map(|h| (h.branch, h.commit)).collect();
    m.store.set_poll_heads(project, &pairs)?;
    tracing::debug!(project, "polled: {} heads, {} runs queued", pairs.len(), queued.len());
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::Forge;
    use crate::forge::status::Retry;
    use crate::runs::RunPolicy;
    use crate::store::Store;
    use std::io::{BufRead, BufReader, Read, Write};

    /// A local HTTP receiver standing in for GitHub's status API: answers 201 to every request
    /// and keeps the JSON bodies, in the order they arrived.
    fn receiver() -> (String, Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let g = g.clone();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(stream.try_clone().unwrap());
                    let mut w = stream;
                    loop {
                        let mut length = 0;
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        loop {
                            line.clear();
                            r.read_line(&mut line).unwrap();
                            if line.trim().is_empty() {
                                break;
                            }
                            if let Some((k, v)) = line.split_once(':')
                                && k.eq_ignore_ascii_case("content-length")
                            {
                                length = v.trim().parse().unwrap();
                            }
                        }
                        let mut body = vec![0; length];
                        r.read_exact(&mut body).unwrap();
                        g.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                        w.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}").unwrap();
                    }
                });
            }
        });
        (url, got)
    }

    /// The scheduler may start a run before the webhook's handler has queued its "pending":
    /// the forge still sees pending, then running, then the end, and no pending after running.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pending_goes_first_even_when_running_is_queued_before_it() {
        let d = tempfile::tempdir().unwrap();
        let (api, got) = receiver();
        let text = format!(
            "[[project]]\nname = \"web\"\nrepo = \"https://github.com/acme/web.git\"\nforge = \"github\"\n\
             api_url = \"{api}\"\ntoken_file = \"t\"\n"
        );
        let Some(crate::config::ProjectSource::Repo(config)) =
            crate::config::parse(&d.path().join("slipway.toml"), &text).unwrap().pop()
        else {
            panic!("not a repository project")
        };
        let client = StatusClient::new(
            Forge::GitHub,
            &api,
            "https://ci.example/",
            Secret::new("forge-token").unwrap(),
            Retry::default(),
        );
        let data = d.path().join("data");
        let setup = RepoSetup {
            remote: Remote::new(&config.repo, None),
            config: *config,
            webhook_secret: None,
            statuses: Some(Arc::new(client)),
            data_dir: data.clone(),
            checkouts: data.join("checkouts/web"),
            kept: data.join("kept/web"),
        };
        let project = crate::runs::Project::from_repo(setup);
        let store = Arc::new(Store::open(&d.path().join("db.sqlite")).unwrap());
        let m = Manager::new(store.clone(), vec![project], 1, RunPolicy::default());
        let t = RunTrigger::from_poll("main", "0123456789abcdef0123456789abcdef01234567");
        let run = crate::store::NewTriggeredRun {
            id: "r1",
            project: "web",
            push: true,
            request: r#"{"project":"web"}"#,
            trigger: &t,
            line: None,
            same_commit: None,
        };
        store.queue_triggered_run(&run).unwrap();
        send_status(&m, "r1", "web", State::Running);
        send_status(&m, "r1", "web", State::Pending);
        send_status(&m, "r1", "web", State::Success);
        send_status(&m, "r1", "web", State::Pending);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while got.lock().unwrap().len() < 3 {
            assert!(std::time::Instant::now() < deadline, "{:?}", got.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent: Vec<(String, String)> = got
            .lock()
            .unwrap()
            .iter()
            .map(|b| (b["state"].as_str().unwrap().to_string(), b["description"].as_str().unwrap().to_string()))
            .collect();
        let want =
            [("pending", "Queued on Slipway"), ("pending", "Running on Slipway"), ("success", "The pipeline passed")];
        assert_eq!(sent, want.map(|(a, b)| (a.to_string(), b.to_string())));
    }
}
