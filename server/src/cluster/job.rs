//! What a node's agent is given of a run (`/slipway/job/job.json` in the run's image, beside
//! the copy of the project in `/slipway/job/workspace`), and what it says back on its stdout,
//! one JSON line each: every executor event, then one result (or one error).
//!
//! The job carries the plan the server made, not the request: the agent runs exactly what the
//! server planned and showed (`GET /api/runs/{id}` has it before the run starts). The services
//! file is sent as text and checked again on the node (the executor needs its parsed form and
//! the text's positions for its errors); the key never is: it is a swarm secret, a file in
//! `/run/secrets/`.

use crate::executor::events::{Event, StepResult, StepStatus};
use crate::executor::run_limits::{Limit, RunLimits, SetBy};
use crate::executor::secrets::SecretAccess;
use crate::executor::{RunOptions, RunOutcome, RunResult, RunSpec, policy::StepLimits};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use slipway_core::SourceFile;
use slipway_core::plan::Plan;
use slipway_core::template::BuildVars;
use std::path::PathBuf;
use std::time::Duration;

/// Where the job lives in the run's image.
pub const JOB_DIR: &str = "/slipway/job";
/// The job file, in [`JOB_DIR`].
pub const JOB_FILE: &str = "job.json";
/// The project's copy, in [`JOB_DIR`].
pub const WORKSPACE: &str = "workspace";
/// The key's file name among the task's secrets (`/run/secrets/slipway-key`).
pub const KEY_SECRET_FILE: &str = "slipway-key";
/// The cluster registry's login among the task's secrets (a Docker config.json), when the
/// server has one: for the agent's own requests (its signal tags, the reaper's image), never
/// for the run's steps.
pub const REGISTRY_SECRET_FILE: &str = "slipway-registry";

#[derive(Debug, Serialize, Deserialize)]
pub struct Job {
    pub run_id: String,
    pub project: String,
    /// The services file as read on the server: `name` and text.
    pub services_name: String,
    pub services_text: String,
    pub plan: Plan,
    pub vars: BuildVars,
    pub options: JobOptions,
}

/// The [`RunOptions`] that mean something on a node (approvals and the server's own folders
/// do not: see `into_spec`).
#[derive(Debug, Serialize, Deserialize)]
pub struct JobOptions {
    pub no_output_timeout_ms: u64,
    pub health_timeout_ms: u64,
    pub approve: bool,
    /// Whether an unapproved manual group waits for an approval from the server (which
    /// reaches the agent as a tag in the cluster registry: see `swarm::tags::approve_tag`)
    /// rather than being skipped. Absent in jobs of older servers: skipped.
    #[serde(default)]
    pub awaits_approval: bool,
    pub parallelism: usize,
    pub extra_env: Vec<(String, String)>,
    pub cache_registry: Option<String>,
    pub allow_add_docker: bool,
    pub trusted: bool,
    pub step_limits: Option<(Option<i64>, Option<i64>, Option<i64>)>,
    /// Why the run's secrets are withheld (a fork's pull request), if they are.
    pub secrets_withheld: Option<String>,
    pub step_timeout: Option<JobLimit>,
    pub run_timeout: Option<JobLimit>,
    pub disk: Option<JobLimit>,
    pub host_floor: Option<u64>,
}

/// A limit's value (milliseconds or bytes) and its origin, so that the node's message about
/// it names the setting the server's would.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobLimit {
    pub value: u64,
    /// `default`, `flag`, `server` or `project:NAME`.
    pub set_by: String,
}

impl Job {
    /// The job for a prepared run (`spec.dir` is its confined copy, which goes beside the job).
    pub fn of(spec: &RunSpec) -> Result<Job> {
        let source = spec.source.as_ref().context("a run without its services file cannot go to a node")?;
        let o = &spec.options;
        let limit_ms = |l: &Option<Limit<Duration>>| {
            l.as_ref().map(|l| JobLimit { value: l.value.as_millis() as u64, set_by: set_by_text(&l.set_by) })
        };
        Ok(Job {
            run_id: spec.run_id.clone(),
            project: spec.project.clone(),
            services_name: source.name.clone(),
            services_text: source.text.clone(),
            plan: spec.plan.clone(),
            vars: spec.vars.clone(),
            options: JobOptions {
                no_output_timeout_ms: o.no_output_timeout.as_millis() as u64,
                health_timeout_ms: o.health_timeout.as_millis() as u64,
                approve: o.approve,
                awaits_approval: o.approval.is_some(),
                parallelism: o.parallelism,
                extra_env: o.extra_env.clone(),
                cache_registry: o.cache_registry.clone(),
                allow_add_docker: o.allow_add_docker,
                trusted: o.trusted,
                step_limits: o.step_limits.map(|l| (l.memory, l.pids, l.nano_cpus)),
                secrets_withheld: match &o.secrets {
                    SecretAccess::Allowed => None,
                    SecretAccess::Withheld { why } => Some(why.clone()),
                },
                step_timeout: limit_ms(&o.run_limits.step),
                run_timeout: limit_ms(&o.run_limits.run),
                disk: o.run_limits.disk.as_ref().map(|l| JobLimit { value: l.value, set_by: set_by_text(&l.set_by) }),
                host_floor: o.run_limits.host_floor,
            },
        })
    }

    /// The run on the node: its project in `dir` (the copy from the image), copied again
    /// (confined) into `work` on the node, which its steps' binds then name.
    pub fn into_spec(self, dir: PathBuf, work: PathBuf, key: Option<slipway_core::crypto::Key>) -> Result<RunSpec> {
        let source = SourceFile::new(self.services_name, self.services_text);
        // The steps file is not needed: the plan is the server's. An empty one checks the
        // services file alone.
        let checked = slipway_core::check(&source, &SourceFile::new("codeship-steps.yml", "[]"));
        if checked.report.diagnostics.iter().any(|d| d.is_error() && d.file == source.name) {
            bail!("the job's services file does not check on this node (a server and agent of different versions?)");
        }
        let o = self.options;
        let ms = |l: Option<JobLimit>| {
            l.map(|l| Limit { value: Duration::from_millis(l.value), set_by: set_by_of(&l.set_by) })
        };
        let options = RunOptions {
            no_output_timeout: Duration::from_millis(o.no_output_timeout_ms),
            health_timeout: Duration::from_millis(o.health_timeout_ms),
            approve: o.approve,
            remove: true,
            parallelism: o.parallelism.max(1),
            extra_env: o.extra_env,
            // The agent notifies it when the server's approval tag appears (`agent`).
            approval: o.awaits_approval.then(|| std::sync::Arc::new(tokio::sync::Notify::new())),
            cache_registry: o.cache_registry,
            confine: true,
            workspace_root: Some(work),
            adopt_workspace: false,
            allow_add_docker: o.allow_add_docker,
            trusted: o.trusted,
            step_limits: o.step_limits.map(|(memory, pids, nano_cpus)| StepLimits { memory, pids, nano_cpus }),
            // Untrusted runs' generators may send nothing to an endpoint on a node (the list is
            // the server's): the default, none.
            generator_endpoints: Vec::new(),
            secrets: match o.secrets_withheld {
                None => SecretAccess::Allowed,
                Some(why) => SecretAccess::Withheld { why },
            },
            run_limits: RunLimits {
                step: ms(o.step_timeout),
                run: ms(o.run_timeout),
                disk: o.disk.map(|l| Limit { value: l.value, set_by: set_by_of(&l.set_by) }),
                host_floor: o.host_floor,
            },
        };
        Ok(RunSpec {
            run_id: self.run_id,
            project: self.project,
            dir,
            services: checked.services,
            plan: self.plan,
            key,
            vars: self.vars,
            options,
            source: Some(source),
        })
    }
}

fn set_by_text(s: &SetBy) -> String {
    match s {
        SetBy::Default => "default".into(),
        SetBy::Flag => "flag".into(),
        SetBy::ServerConfig => "server".into(),
        SetBy::Project(p) => format!("project:{p}"),
    }
}

fn set_by_of(s: &str) -> SetBy {
    match s {
        "flag" => SetBy::Flag,
        "server" => SetBy::ServerConfig,
        _ => match s.strip_prefix("project:") {
            Some(p) => SetBy::Project(p.to_string()),
            None => SetBy::Default,
        },
    }
}

/// One line of the agent's stdout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Line {
    /// The agent's `n`th event (counted from 1): the server reads the service's log from its
    /// start again after a restart (or a broken log stream) and skips the events it stored.
    Event {
        n: u64,
        event: Event,
    },
    Result(AgentResult),
    /// The run could not be run on the node (no engine, a bad job): the error, masked.
    Error(String),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AgentResult {
    /// `succeeded`, `failed` or `cancelled`.
    pub outcome: String,
    pub steps: Vec<AgentStep>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AgentStep {
    pub id: String,
    pub name: String,
    pub status: StepStatus,
    pub duration_ms: u64,
}

impl From<&RunResult> for AgentResult {
    fn from(r: &RunResult) -> Self {
        let outcome = match r.outcome {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Cancelled => "cancelled",
        };
        AgentResult {
            outcome: outcome.into(),
            steps: r
                .steps
                .iter()
                .map(|s| AgentStep {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    status: s.status,
                    duration_ms: s.duration.as_millis() as u64,
                })
                .collect(),
        }
    }
}

impl AgentResult {
    pub fn into_result(self) -> Result<RunResult> {
        let outcome = match self.outcome.as_str() {
            "succeeded" => RunOutcome::Succeeded,
            "failed" => RunOutcome::Failed,
            "cancelled" => RunOutcome::Cancelled,
            other => bail!("the agent reported an unknown outcome `{other}`"),
        };
        let steps = self
            .steps
            .into_iter()
            .map(|s| StepResult {
                id: s.id,
                name: s.name,
                status: s.status,
                duration: Duration::from_millis(s.duration_ms),
            })
            .collect();
        Ok(RunResult { outcome, steps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the agent rebuilds from the job is the server's run: its plan, values, options
    /// and limits (with who set them), the services file checked again; never the key.
    #[test]
    fn a_job_round_trips_into_the_run_the_server_planned() {
        let services = SourceFile::new("codeship-services.yml", "app:\n  image: busybox\n");
        let steps = SourceFile::new("codeship-steps.yml", "- service: app\n  command: 'true'\n");
        let checked = slipway_core::check(&services, &steps);
        let plan = slipway_core::plan::plan(&checked.services, &checked.steps, &Default::default());
        let mut options = RunOptions { trusted: false, parallelism: 3, ..RunOptions::default() };
        options.run_limits.run = Some(Limit { value: Duration::from_secs(90), set_by: SetBy::Project("web".into()) });
        options.secrets = SecretAccess::Withheld { why: "a fork".into() };
        let spec = RunSpec {
            run_id: "r1".into(),
            project: "web".into(),
            dir: "/tmp/x".into(),
            services: checked.services,
            plan: plan.clone(),
            key: Some(slipway_core::crypto::Key::from_bytes([3; 32])),
            vars: BuildVars { branch: "main".into(), ..Default::default() },
            options,
            source: Some(services),
        };
        let text = serde_json::to_string(&Job::of(&spec).unwrap()).unwrap();
        assert!(!text.contains(&spec.key.as_ref().unwrap().to_file_text().trim().to_string()), "the key is in the job");
        let job: Job = serde_json::from_str(&text).unwrap();
        let back = job.into_spec("/slipway/job/workspace".into(), "/var/lib/slipway-agent".into(), None).unwrap();
        // As serialized: a step's span in the steps file (`source`) stays on the server.
        assert_eq!(serde_json::to_value(&back.plan).unwrap(), serde_json::to_value(&plan).unwrap());
        assert_eq!(back.vars.branch, "main");
        assert_eq!(back.services.services.len(), 1);
        assert_eq!(back.options.parallelism, 3);
        assert!(!back.options.trusted && back.options.confine);
        assert_eq!(back.options.workspace_root.as_deref(), Some(std::path::Path::new("/var/lib/slipway-agent")));
        assert_eq!(back.options.run_limits.run, spec.options.run_limits.run);
        assert_eq!(back.options.secrets, spec.options.secrets);
        assert!(back.key.is_none());
    }

    #[test]
    fn a_result_line_round_trips_and_an_unknown_outcome_is_an_error() {
        let r = RunResult {
            outcome: RunOutcome::Failed,
            steps: vec![StepResult {
                id: "1".into(),
                name: "test".into(),
                status: StepStatus::Failed,
                duration: Duration::from_millis(1500),
            }],
        };
        let text = serde_json::to_string(&Line::Result(AgentResult::from(&r))).unwrap();
        let Line::Result(back) = serde_json::from_str(&text).unwrap() else { panic!("{text}") };
        let back = back.into_result().unwrap();
        assert_eq!(back.outcome, RunOutcome::Failed);
        assert_eq!(back.steps, r.steps);
        let odd = AgentResult { outcome: "exploded".into(), steps: vec![] };
        assert!(odd.into_result().unwrap_err().to_string().contains("exploded"));
    }
}
