//! One run's context, shared by the orchestration and the engine: its spec, its decrypted
//! secrets and the masker that hides them, its event stream, its cancellation, the clock of
//! its limits (`deadline`), and a confined run's copy of the project.

use super::events::{self, Event, EventSender};
use super::mask::{self, Masker};
use super::{RunSpec, policy, secrets, workspace};
use anyhow::Result;
use slipway_core::plan::{Plan, PlannedStep};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

pub(crate) struct Run {
    pub(super) spec: RunSpec,
    pub(super) secrets: secrets::Secrets,
    masker: RwLock<Masker>,
    pub(super) events: EventSender,
    pub(super) cancel: CancellationToken,
    /// Step labels by id: the executor identifies steps by id and shows their names.
    names: HashMap<String, String>,
    /// A confined run's copy of the project (`spec.dir` points into it); removed at the end.
    pub(super) workspace: Mutex<Option<workspace::Workspace>>,
    /// The run's clock and its stop for limits (see `deadline`).
    pub(super) guard: Guard,
}

/// The run's clock and its limit stop (shared by every step of the run).
pub(super) struct Guard {
    pub(super) started: Instant,
    /// Cancelled when the run went over a limit that stops all of it (run time, disk).
    pub(super) stop: CancellationToken,
    pub(super) why: OnceLock<String>,
}

impl Guard {
    fn new() -> Guard {
        Guard { started: Instant::now(), stop: CancellationToken::new(), why: OnceLock::new() }
    }
}

impl Run {
    /// Check the run against the policy, decrypt its secrets and copy its project (a confined
    /// run), before any container exists.
    pub(super) async fn prepare(mut spec: RunSpec, events: EventSender, cancel: CancellationToken) -> Result<Arc<Run>> {
        let limits = policy::check(&spec)?;
        let mut masker = Masker::new();
        let secrets = match &spec.options.secrets {
            secrets::SecretAccess::Allowed => secrets::Secrets::prepare(
                &spec.dir,
                spec.options.confine,
                &spec.services,
                &spec.plan,
                spec.key.as_ref(),
                &mut masker,
            )?,
            secrets::SecretAccess::Withheld { why } => {
                secrets::none_needed(&spec.services, &spec.plan, why)?;
                secrets::Secrets::default()
            }
        };
        if let Some(key) = &spec.key {
            masker.extend(mask::key_forms(key));
        }
        let workspace = if spec.options.confine { Some(copy_project(&mut spec, &secrets).await?) } else { None };
        let copied = workspace.as_ref().map(|w| w.stats);
        let run = Arc::new(Run {
            secrets,
            masker: RwLock::new(masker),
            events,
            cancel,
            names: step_names(&spec.plan),
            workspace: Mutex::new(workspace),
            guard: Guard::new(),
            spec,
        });
        limits.into_iter().for_each(|l| run.info(l));
        if let Some(c) = copied {
            run.info(format!(
                "steps work on {} ({} files, {} KiB, made ready in {} ms; {} left out: .git, key files, decrypted files)",
                if run.spec.options.adopt_workspace {
                    "a fresh checkout of the commit"
                } else {
                    "a copy of the project"
                },
                c.files,
                c.bytes.div_ceil(1024),
                c.took.as_millis(),
                c.hidden
            ));
        }
        Ok(run)
    }

    /// A run that goes on elsewhere, taken up again by a restarted server (see
    /// `executor::resume`): its masker rebuilt from the run's files as `prepare` builds it,
    /// nothing checked, copied or reported again (the run did that when it started). The
    /// decrypted values live in the masker only, in memory, as in any run. When they cannot be
    /// decrypted again (the files changed or went away), the masker knows the key's forms
    /// only; the agent masks its own lines with every value it decrypted.
    pub(super) fn resume(spec: RunSpec, events: EventSender, cancel: CancellationToken) -> Arc<Run> {
        let mut masker = Masker::new();
        if spec.options.secrets == secrets::SecretAccess::Allowed {
            let (dir, confine) = (&spec.dir, spec.options.confine);
            if let Err(e) =
                secrets::Secrets::prepare(dir, confine, &spec.services, &spec.plan, spec.key.as_ref(), &mut masker)
            {
                tracing::warn!(run = %spec.run_id, "the run's secrets cannot be decrypted again; its agent's masking stands alone: {e:#}");
            }
        }
        if let Some(key) = &spec.key {
            masker.extend(mask::key_forms(key));
        }
        Arc::new(Run {
            secrets: secrets::Secrets::default(),
            masker: RwLock::new(masker),
            events,
            cancel,
            names: step_names(&spec.plan),
            workspace: Mutex::new(None),
            guard: Guard::new(),
            spec,
        })
    }

    pub(super) fn mask(&self, s: &str) -> String {
        self.masker.read().expect("masker lock").mask(s)
    }

    /// A line splitter for output that will be masked: it never cuts through a secret.
    pub(super) fn line_buffer(&self) -> mask::LineBuffer {
        self.masker.read().expect("masker lock").line_buffer()
    }

    pub(super) fn add_secrets<I: IntoIterator<Item = String>>(&self, secrets: I) {
        self.masker.write().expect("masker lock").extend(secrets);
    }

    pub(super) fn info(&self, message: String) {
        let _ = self.events.send(Event::Info { message: self.mask(&message) });
    }

    /// A line of a step's output (masked here).
    pub(super) fn log(&self, step: &str, service: &str, line: &str) {
        self.emit_log(step, service, line, false);
    }

    /// A line of an image build's output (masked here).
    pub(super) fn build_log(&self, step: &str, service: &str, line: &str) {
        self.emit_log(step, service, line, true);
    }

    /// The label of a step id: its name, or for a helper of a step (`2.1-dockercfg`), the
    /// step's name with the same suffix; ids of no step (`load-app`) are their own label.
    pub(super) fn label(&self, id: &str) -> String {
        if let Some(n) = self.names.get(id) {
            return n.clone();
        }
        match id.split_once('-') {
            Some((step, rest)) if self.names.contains_key(step) => format!("{}-{rest}", self.names[step]),
            _ => id.to_string(),
        }
    }

    /// `step` is a step id (see `PlannedStep::id`).
    fn emit_log(&self, step: &str, service: &str, line: &str, build: bool) {
        let line = self.mask(line);
        let _ = self.events.send(Event::Log {
            step: self.label(step),
            id: step.to_string(),
            service: service.to_string(),
            line,
            build,
            at_ms: Some(events::now_ms()),
        });
    }

    /// A name for an engine object of this run: `slipway-<run>-<what>`, in Docker's alphabet.
    pub(super) fn object_name(&self, what: &str) -> String {
        crate::names::docker_object_name(&self.spec.run_id, what)
    }
}

/// Every step of the plan, groups and `on_fail` steps included, in pipeline order.
pub(super) fn pipeline_order(plan: &Plan) -> Vec<&PlannedStep> {
    fn walk<'a>(s: &'a PlannedStep, out: &mut Vec<&'a PlannedStep>) {
        out.push(s);
        s.steps.iter().chain(&s.on_fail).for_each(|c| walk(c, out));
    }
    let mut out = Vec::new();
    plan.steps.iter().for_each(|s| walk(s, &mut out));
    out
}

fn step_names(plan: &Plan) -> HashMap<String, String> {
    pipeline_order(plan).into_iter().map(|s| (s.id.clone(), s.name.clone())).collect()
}

/// Copy the project for a confined run, after its secrets were read and before any container
/// exists; point the run at the copy.
async fn copy_project(spec: &mut RunSpec, secrets: &secrets::Secrets) -> Result<workspace::Workspace> {
    // Not a fixed folder in /tmp: another user could own it and swap what Docker mounts.
    let root = spec.options.workspace_root.clone().unwrap_or_else(std::env::temp_dir);
    let hidden = workspace::Hidden { plaintexts: secrets.plaintexts.clone() };
    let (project, run_id, adopt) = (spec.dir.clone(), spec.run_id.clone(), spec.options.adopt_workspace);
    let ws = tokio::task::spawn_blocking(move || match adopt {
        true => workspace::Workspace::adopt(&project, &hidden),
        false => workspace::Workspace::create(&project, &root, &run_id, &hidden, workspace::LIMITS),
    })
    .await??;
    spec.dir = ws.path().to_path_buf();
    Ok(ws)
}
