//! Preparing a run before it touches Docker: its files (the request's or the project's) read,
//! checked and planned, its values resolved, its key read, and a fork's pull request held to
//! a fork's limits.

use super::{Project, RunRequest, repo, trigger};
use crate::project::ConfigFile;
use anyhow::{Context, Result, anyhow, bail};
use slipway_core::SourceFile;
use slipway_core::crypto::Key;
use slipway_core::model::ServicesFile;
use slipway_core::plan::{Plan, PlanOptions, plan};
use slipway_core::template::BuildVars;
use std::path::Path;
use std::time::Duration;

/// How long reading, checking and planning a run's files may take (they may come from the
/// request); the work runs on the blocking pool, off the threads that answer requests.
const PREPARE_BUDGET: Duration = Duration::from_secs(30);

/// [`prepare`] on the blocking pool, within [`PREPARE_BUDGET`].
pub(super) async fn within_budget(
    project: &Project,
    req: RunRequest,
    id: &str,
    dir: &Path,
    trigger: Option<&trigger::RunTrigger>,
) -> Result<Prepared> {
    let (project, run_id, dir, t) = (project.clone(), id.to_string(), dir.to_path_buf(), trigger.cloned());
    let work = tokio::task::spawn_blocking(move || prepare(&project, &req, &run_id, &dir, t.as_ref()));
    match tokio::time::timeout(PREPARE_BUDGET, work).await {
        Ok(joined) => joined.context("preparing the run")?,
        Err(_) => bail!("reading and planning the files took longer than {} s", PREPARE_BUDGET.as_secs()),
    }
}

/// What a run needs before it touches Docker: its files read, checked and planned.
pub(super) struct Prepared {
    pub services: ServicesFile,
    pub plan: Plan,
    pub key: Option<Key>,
    pub vars: BuildVars,
    /// The services file as read, for positions in the executor's errors.
    pub source: SourceFile,
}

/// Read, check and plan a run's files (the request's or the project's) and read the project's
/// git values and key: file reads, `git` and CPU work, hence called on the blocking pool.
/// `dir` is the project's folder, or a repository run's checkout of the commit `trigger` names.
fn prepare(
    project: &Project,
    req: &RunRequest,
    id: &str,
    dir: &Path,
    trigger: Option<&trigger::RunTrigger>,
) -> Result<Prepared> {
    let sv = read_config(project, dir, &req.services, ConfigFile::Services)?;
    let st = read_config(project, dir, &req.steps, ConfigFile::Steps)?;
    let checked = slipway_core::check(&sv, &st);
    if let Some(d) = checked.report.diagnostics.iter().find(|d| d.is_error()) {
        bail!(
            "the configuration has {} error(s), the first at {}:{}:{}: {} [{}]; validate it first",
            checked.report.errors,
            d.file,
            d.line,
            d.column,
            d.message,
            d.code.as_str()
        );
    }
    // Values the request (or the trigger) leaves out come from the git work tree, as for the CLI.
    let mut values = req.build_values(id, &project.name);
    if let Some(t) = trigger {
        values = repo::build_values(values, t);
    }
    let build = values.resolve(dir)?;
    let p = plan(
        &checked.services,
        &checked.steps,
        &PlanOptions { tag: build.tag.clone(), push: req.push, vars: build.vars.clone() },
    );
    let vars = build.vars;
    let key = read_key(project, dir, trigger)?;
    Ok(Prepared { services: checked.services, plan: p, key, vars, source: sv })
}

/// The run's key, if its project has one. A repository run's key is the server's (`key = …`),
/// never a file in the checkout, which whoever can push (or open a pull request) controls.
pub(super) fn read_key(project: &Project, dir: &Path, trigger: Option<&trigger::RunTrigger>) -> Result<Option<Key>> {
    let key_path = match trigger {
        None => Some(project.key.clone().unwrap_or_else(|| dir.join("codeship.aes"))),
        Some(_) => project.key.clone(),
    };
    Ok(match key_path {
        Some(k) if k.exists() => Some(crate::keyfile::load_key(&k).context("project key")?),
        _ => None,
    })
}

/// The request's edited file, else the project's, found and read as the CLI finds and reads
/// it: the same names, and the same size limit (a huge file or a FIFO is an error, not a hang).
fn read_config(project: &Project, dir: &Path, given: &Option<String>, which: ConfigFile) -> Result<SourceFile> {
    let first = which.candidates()[0];
    if let Some(text) = given {
        if text.len() as u64 > crate::project::MAX_READ {
            bail!("the edited {first} is larger than the limit of {} bytes", crate::project::MAX_READ);
        }
        return Ok(SourceFile::new(first, text.clone()));
    }
    let Some(name) = crate::project::discover(dir, which) else { bail!("project `{}` has no {first}", project.name) };
    crate::project::read_server_config(dir, name)
}

/// Why a run's limits are those of a fork's pull request, if they are: `None` for any other
/// run; an error when the project takes no pull requests from forks (any more).
pub(super) fn fork_limits(project: &Project, t: &trigger::RunTrigger) -> Option<Result<String>> {
    use crate::config::ForkPolicy;
    if !t.from_fork {
        return None;
    }
    let policy = project.repo().map_or(ForkPolicy::default(), |r| r.config.fork_pull_requests);
    match policy {
        ForkPolicy::WithSecrets => None,
        ForkPolicy::Off => Some(Err(anyhow!(
            "pull requests from forks start no run in project `{}` (`fork_pull_requests = \"off\"` in slipway.toml)",
            project.name
        ))),
        ForkPolicy::WithoutSecrets => Some(Ok(format!(
            "this run is a pull request from a fork, which gets no secrets: set `fork_pull_requests = \"with-secrets\"` in the [[project]] `{}` of slipway.toml to give them the project's secrets and push steps (anyone who can open a pull request can then read them)",
            project.name
        ))),
    }
}

/// Push steps a fork's pull request skips say why (the planner's reason names `--push`,
/// a flag of the CLI).
pub(super) fn fork_skips_pushes(steps: &mut [slipway_core::plan::PlannedStep]) {
    for s in steps {
        if s.kind == slipway_core::plan::Kind::Push && s.reason.as_deref() == Some("push steps run only with --push") {
            s.reason =
                Some("a pull request from a fork runs no push steps (`fork_pull_requests` in slipway.toml)".into());
        }
        fork_skips_pushes(&mut s.steps);
        fork_skips_pushes(&mut s.on_fail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::testing::{manager, request};

    /// A repository run's key is the server's, never a `codeship.aes` in the checkout (which
    /// whoever pushes controls); its CI values come from the trigger, not from the checkout.
    #[test]
    fn a_repository_run_takes_no_key_from_its_checkout_and_its_values_from_the_trigger() {
        let (_m, dir) = manager(1);
        std::fs::write(dir.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
        std::fs::write(dir.path().join("codeship-steps.yml"), "- service: app\n  command: 'true'\n").unwrap();
        let planted = slipway_core::crypto::Key::from_bytes([7; 32]);
        std::fs::write(dir.path().join("codeship.aes"), planted.to_file_text()).unwrap();
        let project = Project::folder("p".into(), dir.path().to_path_buf(), None);
        let folder = prepare(&project, &request(), "run1", dir.path(), None).unwrap();
        assert!(folder.key.is_some(), "a folder project reads its codeship.aes");
        let mut t = trigger::RunTrigger::from_poll("feature/x", "0123456789abcdef0123456789abcdef01234567");
        t.commit_message = Some("From the event".into());
        let repo_run = prepare(&project, &request(), "run1", dir.path(), Some(&t)).unwrap();
        assert!(repo_run.key.is_none(), "a key file in the checkout was used");
        assert_eq!(repo_run.vars.branch, "feature/x");
        assert_eq!(repo_run.vars.commit_id, t.commit_id);
        assert_eq!(repo_run.vars.commit_message, "From the event");
        assert_eq!(repo_run.plan.tag.as_deref(), Some("feature/x"));
    }

    /// A run without a tag is planned for the checked-out branch, as `slipway steps` plans it
    /// (both resolve the build through `build_values`); before, the server planned no tag.
    #[test]
    fn a_run_without_a_tag_uses_the_checked_out_branch_like_the_cli() {
        let (_m, dir) = manager(1);
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git").arg("-C").arg(dir.path()).args(args).status().unwrap();
            assert!(ok.success(), "git {args:?}");
        };
        git(&["init", "-q", "-b", "feature-x"]);
        git(&["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "one"]);
        std::fs::write(dir.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
        std::fs::write(dir.path().join("codeship-steps.yml"), "- service: app\n  tag: feature-x\n  command: 'true'\n")
            .unwrap();
        let project = Project::folder("p".into(), dir.path().to_path_buf(), None);
        let prepared = prepare(&project, &request(), "run1", dir.path(), None).unwrap();
        assert_eq!(prepared.plan.tag.as_deref(), Some("feature-x"));
        assert_eq!(prepared.vars.branch, "feature-x");
        assert_eq!(prepared.plan.leaves()[0].status, slipway_core::plan::Status::WillRun);
    }
}
