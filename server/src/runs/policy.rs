//! What the server lets runs do (`slipway serve`'s flags and slipway.toml), and what one run
//! may do given its project and its trigger.

use super::{log_cap, trigger};
use crate::executor;
use crate::executor::policy::StepLimits;
use std::collections::HashMap;
use std::path::PathBuf;

/// What the server lets every run do, from `slipway serve`'s flags.
#[derive(Clone, Debug)]
pub struct RunPolicy {
    /// Registry and prefix for the cache images of `cached: true` services.
    pub cache_registry: Option<String>,
    /// Allow `add_docker: true` (the host's Docker engine inside a step).
    pub allow_add_docker: bool,
    /// Where runs copy their project (`DATA_DIR/workspaces`; the temp folder when unset).
    pub workspaces: Option<PathBuf>,
    /// The server's limits on each step container (`--step-*` flags over slipway.toml's
    /// `[step_limits]` over `StepLimits::SERVER_DEFAULT`).
    pub step_limits: StepLimits,
    /// Per project: trusted or not, and its own limits (`trusted`, `step_limits` in slipway.toml;
    /// `--trust NAME`). A project not listed is untrusted, with the server's limits.
    pub projects: HashMap<String, crate::config::ProjectRuns>,
    /// The most step output one run stores (`--max-run-log-mb`); what comes after is counted,
    /// not kept.
    pub max_log_bytes: u64,
    /// Runs kept per project (`--keep-runs`); older ended runs are deleted with their logs.
    pub keep_runs: usize,
    /// Where an untrusted run's built-in generator may be sent by its endpoint variables
    /// (`--generator-endpoint`, `[generators] endpoints`).
    pub generator_endpoints: Vec<crate::generators::endpoints::Origin>,
    /// The server's wall-clock and disk limits of a run (`--step-timeout`, `--run-timeout`,
    /// `--max-run-disk-mb` over `[run_limits]`); a project's `run_limits` go over them.
    pub run_limits: executor::run_limits::RunLimits,
    /// Where runs run (`slipway serve --engine`): the local engine unless a cluster is set.
    pub engine: executor::EngineChoice,
}

/// Runs kept per project unless `--keep-runs` says otherwise.
pub const DEFAULT_KEEP_RUNS: usize = 200;

impl Default for RunPolicy {
    fn default() -> Self {
        RunPolicy {
            cache_registry: None,
            allow_add_docker: false,
            workspaces: None,
            step_limits: StepLimits::SERVER_DEFAULT,
            projects: HashMap::new(),
            max_log_bytes: log_cap::DEFAULT_MAX_LOG_BYTES,
            keep_runs: DEFAULT_KEEP_RUNS,
            generator_endpoints: Vec::new(),
            run_limits: executor::run_limits::RunLimits::server_default(),
            engine: executor::EngineChoice::Local,
        }
    }
}

impl RunPolicy {
    /// Whether a run of `project` is trusted, and its step limits. A pull request's code is its
    /// author's, who may have no push access: no pull-request run is trusted, a fork's or not
    /// (a trusted project's own branches get host power through pushes, not proposals).
    ///
    /// `--allow-add-docker` is the operator's word for the server's own projects' branches,
    /// never for code somebody proposes: a pull request's steps (a fork's above all) must not
    /// get the host's Docker engine through it.
    pub(super) fn for_run(&self, project: &str, trigger: Option<&trigger::RunTrigger>) -> RunGrant {
        let runs = self.projects.get(project).copied().unwrap_or_default();
        let pull_request = trigger.is_some_and(|t| t.pr_number.is_some());
        RunGrant {
            trusted: runs.trusted && !pull_request,
            allow_add_docker: self.allow_add_docker && !pull_request,
            step_limits: self.step_limits.overridden(&runs.step_limits),
            run_limits: self
                .run_limits
                .overridden(&runs.run_limits, executor::run_limits::SetBy::Project(project.to_string())),
        }
    }
}

/// What one run may do, from the server's policy, its project and its trigger.
#[derive(Debug, PartialEq)]
pub(super) struct RunGrant {
    pub trusted: bool,
    pub allow_add_docker: bool,
    pub step_limits: StepLimits,
    pub run_limits: executor::run_limits::RunLimits,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by review: with `--allow-add-docker`, a fork's pull request with `add_docker: true`
    /// got the host's Docker socket (root on the host). Pull requests get neither trust nor it.
    #[test]
    fn a_pull_request_gets_neither_trust_nor_the_docker_socket() {
        let policy = RunPolicy {
            allow_add_docker: true,
            projects: HashMap::from([(
                "p".to_string(),
                crate::config::ProjectRuns { trusted: true, ..Default::default() },
            )]),
            ..RunPolicy::default()
        };
        let push = trigger::RunTrigger::from_poll("main", "0123456789abcdef0123456789abcdef01234567");
        let grant = policy.for_run("p", Some(&push));
        assert!(grant.trusted && grant.allow_add_docker, "{grant:?}");
        let mut pr = push.clone();
        pr.pr_number = Some(7);
        pr.from_fork = true;
        let grant = policy.for_run("p", Some(&pr));
        assert!(!grant.trusted && !grant.allow_add_docker, "{grant:?}");
        pr.from_fork = false;
        assert!(!policy.for_run("p", Some(&pr)).allow_add_docker);
        assert!(policy.for_run("p", None).allow_add_docker, "a run started through the API is the token holder's");
    }
}
