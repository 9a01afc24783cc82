//! Executing a started run: a repository run's checkout of its commit, its files prepared,
//! the run handed to the executor (see `engine.rs`) with what its project and trigger allow,
//! its events pumped into the store, and its result recorded as a status.

use super::live::Live;
use super::{Confirmation, Manager, Project, RunRequest, engine, events, prepare, repo, trigger};
use crate::executor::{self, RunOptions, RunSpec, events::Event};
use anyhow::{Context, Result, anyhow, bail};
use slipway_core::run_state::RunStatus;
use std::path::Path;
use std::sync::Arc;

pub(super) async fn execute(m: Arc<Manager>, id: &str, request: &str, live: Arc<Live>) -> Result<RunStatus> {
    #[cfg(test)]
    if m.panic_in_runs.load(std::sync::atomic::Ordering::SeqCst) {
        panic!("fault injected by a test");
    }
    if live.cancel.is_cancelled() {
        return Ok(RunStatus::Cancelled);
    }
    let req: RunRequest = serde_json::from_str(request).context("stored run request")?;
    let project =
        m.project(&req.project).ok_or_else(|| anyhow!("project `{}` is no longer registered", req.project))?.clone();
    // A repository run works in a fresh checkout of its commit, removed (or kept) when the
    // run ends, however it ends.
    let checkout = match project.repo() {
        Some(repo) => Some(checkout(&m, id, &project.name, repo, &live).await?),
        None => None,
    };
    let dir = checkout.as_ref().map_or_else(|| project.dir().to_path_buf(), |c| c.ws.path().to_path_buf());
    let trigger = checkout.as_ref().map(|c| c.trigger.clone());
    let result = run_in(&m, id, &project, req, &dir, trigger.as_ref(), request, live).await;
    if let (Some(c), Some(repo)) = (checkout, project.repo().cloned()) {
        let _ = tokio::task::spawn_blocking(move || repo.finish_checkout(c.ws)).await;
    }
    result
}

/// The commit confirmed as its ref's head (else the run ends here, as late), the mirror
/// updated and the run's commit checked out, on the blocking pool within the project's
/// `git_timeout`; a running status sent.
async fn checkout(
    m: &Arc<Manager>,
    id: &str,
    project: &str,
    repo: &Arc<repo::RepoSetup>,
    live: &Arc<Live>,
) -> Result<Checkout> {
    if let Confirmation::Late { reason } = super::head::confirm_head(m, id, live).await? {
        bail!("{reason}");
    }
    let mut trigger = m.store.trigger(id)?.ok_or_else(|| anyhow!("a repository run without its trigger"))?;
    super::repo::send_status(m, id, project, crate::forge::status::State::Running);
    let (r, t, name) = (repo.clone(), trigger.clone(), project.to_string());
    // Stopped by the run's cancel, or when the budget is spent: no git outlives the run.
    let stop = live.cancel.child_token();
    let git_stop = stop.clone();
    let work = tokio::task::spawn_blocking(move || r.checkout(&name, &t, git_stop));
    let budget = repo.config.git_timeout;
    let ws = match tokio::time::timeout(budget, work).await {
        Ok(joined) => joined.context("checking out the commit")?.map_err(|e| anyhow!(repo.mask(&e.to_string())))?,
        Err(_) => {
            stop.cancel();
            bail!(
                "fetching and checking out the commit took longer than {} s (`git_timeout` in slipway.toml)",
                budget.as_secs()
            )
        }
    };
    // An annotated tag's object id, peeled by the checkout: the values and statuses name the commit.
    if ws.commit() != trigger.commit_id {
        // Kept: a replay of the delivery names the tag object again (see `same_commit_run`).
        trigger.tag_object = Some(std::mem::replace(&mut trigger.commit_id, ws.commit().to_string()));
        m.store.set_trigger(id, &trigger)?;
    }
    // What the event did not carry (a pull request names only its head), from the commit.
    if trigger.commit_message.is_none() || trigger.author.is_none() {
        let git = crate::gitinfo::GitInfo::read(ws.path());
        trigger.commit_message = trigger.commit_message.or(git.commit_message);
        trigger.committer_name = trigger.committer_name.or(git.committer_name);
        trigger.committer_email = trigger.committer_email.or(git.committer_email);
        trigger.author =
            trigger.author.or_else(|| trigger.committer_name.clone()).or_else(|| trigger.committer_username.clone());
        m.store.set_trigger(id, &trigger)?;
    }
    Ok(Checkout { ws, trigger })
}

/// Run a prepared run in `dir` (the project's folder or the run's checkout).
#[allow(clippy::too_many_arguments)]
async fn run_in(
    m: &Arc<Manager>,
    id: &str,
    project: &Project,
    req: RunRequest,
    dir: &Path,
    trigger: Option<&trigger::RunTrigger>,
    request: &str,
    live: Arc<Live>,
) -> Result<RunStatus> {
    // A fork's pull request: no secrets, no pushes, no cache pushes (unless the project says
    // `fork_pull_requests = "with-secrets"`).
    let fork = trigger.and_then(|t| prepare::fork_limits(project, t)).transpose()?;
    let mut req = req;
    if fork.is_some() {
        req.push = false;
    }
    let edited = req.services.is_some() || req.steps.is_some();
    let prepared = prepare::within_budget(project, req, id, dir, trigger).await?;
    if live.cancel.is_cancelled() {
        return Ok(RunStatus::Cancelled);
    }
    if let Some(tag) = &prepared.plan.tag {
        m.store.set_tag_if_unset(id, tag)?;
    }
    super::notifications::notify_started(m, id);
    let spec = run_spec(m, id, project, dir, prepared, trigger, fork.as_deref(), &live);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    if fork.is_some() {
        let message = "this run is a pull request from a fork: no secret is decrypted and push steps are skipped \
                       (`fork_pull_requests` in slipway.toml)";
        let _ = tx.send(Event::Info { message: message.into() });
    }
    let prepared = engine::start(id, spec, tx, live.cancel.clone(), &m.policy.engine).await?;
    events::begin(m, id, &prepared, request, edited, &live)?;
    let pump = events::pump(m, id, rx, live, 1);
    let result = prepared.run().await;
    let _ = pump.await;
    engine::status_of(result)
}

/// What the executor is given: the prepared files and the options the server's policy, the
/// project and the trigger allow (`fork`: why the run has a fork's limits, if it has).
#[allow(clippy::too_many_arguments)]
fn run_spec(
    m: &Manager,
    id: &str,
    project: &Project,
    dir: &Path,
    prepared: prepare::Prepared,
    trigger: Option<&trigger::RunTrigger>,
    fork: Option<&str>,
    live: &Live,
) -> RunSpec {
    let prepare::Prepared { services, plan: mut p, key, vars, source } = prepared;
    let grant = m.policy.for_run(&project.name, trigger);
    if fork.is_some() {
        prepare::fork_skips_pushes(&mut p.steps);
    }
    RunSpec {
        source: Some(source),
        run_id: id.to_string(),
        project: project.name.clone(),
        dir: dir.to_path_buf(),
        services,
        plan: p,
        // Not even handed over: nothing in the run can decrypt anything.
        key: if fork.is_some() { None } else { key },
        vars,
        options: RunOptions {
            approval: Some(live.approval.clone()),
            // Cache images are pushed under the branch's name, which a fork chooses.
            cache_registry: if fork.is_some() { None } else { m.policy.cache_registry.clone() },
            secrets: match fork {
                Some(why) => executor::secrets::SecretAccess::Withheld { why: why.to_string() },
                None => executor::secrets::SecretAccess::Allowed,
            },
            confine: true,
            allow_add_docker: grant.allow_add_docker,
            trusted: grant.trusted,
            step_limits: Some(grant.step_limits),
            generator_endpoints: m.policy.generator_endpoints.clone(),
            run_limits: grant.run_limits,
            workspace_root: m.policy.workspaces.clone(),
            adopt_workspace: trigger.is_some(),
            extra_env: trigger.map(repo::pull_request_env).unwrap_or_default(),
            ..RunOptions::default()
        },
    }
}

/// A repository run's checkout and its trigger (completed from the commit).
struct Checkout {
    ws: crate::git::Workspace,
    trigger: trigger::RunTrigger,
}
