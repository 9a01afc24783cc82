//! `slipway steps`, `slipway run`, `slipway load` and `slipway cleanup`: the pipeline on a
//! Docker engine, as `jet` did it.

use super::plan::CiArgs;
use crate::build_values::BuildContext;
use crate::cli::printer::Printer;
use crate::cli::{ConfigErrors, ProjectArgs};
use crate::docker;
use crate::executor::{self, RunOptions, RunSpec, events::Event};
use anyhow::{Context, Result, bail};
use clap::Args;
use slipway_core::crypto::Key;
use slipway_core::plan::{Kind, Plan, PlanOptions, PlannedStep, plan};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug, Clone)]
pub struct RunnerArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The project key [default: DIR/codeship.aes when it exists]; needed for encrypted files.
    #[arg(long, env = "SLIPWAY_KEY_PATH")]
    pub key_path: Option<PathBuf>,
    /// Set a variable in every step container (KEY=VALUE; repeatable; wins over the files).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub env: Vec<(String, String)>,
    /// Keep containers, networks and volumes after the run (for debugging; `slipway cleanup` removes them).
    #[arg(long)]
    pub no_remove: bool,
    /// Fail a step after this many seconds without output.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pub no_output_timeout: u64,
    /// Fail a step (or an image build or pull) that runs longer than this: minutes, or a
    /// duration like `90s` or `2h`. No limit unless given, as with jet.
    #[arg(long, value_name = "MIN", value_parser = crate::executor::run_limits::duration_flag)]
    pub step_timeout: Option<crate::executor::run_limits::Flag<Duration>>,
    /// Fail the run when it runs longer than this, like `--step-timeout`. No limit unless given.
    #[arg(long, value_name = "MIN", value_parser = crate::executor::run_limits::duration_flag)]
    pub run_timeout: Option<crate::executor::run_limits::Flag<Duration>>,
    /// Steps running at once [default: the number of CPUs].
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// Registry and prefix for the cache images of `cached: true` services (e.g. registry.example.com/ci-cache).
    #[arg(long, env = "SLIPWAY_CACHE_REGISTRY")]
    pub cache_registry: Option<String>,
    #[command(flatten)]
    pub ci: CiArgs,
}

#[derive(Args, Debug)]
pub struct StepsArgs {
    #[command(flatten)]
    pub runner: RunnerArgs,
    /// The build tag (branch or git tag) that `tag:`/`exclude:` filters match [default: --ci-branch, else the checked-out branch].
    #[arg(long, value_parser = super::plan::build_tag)]
    pub tag: Option<String>,
    /// Run push steps (without it they are skipped, as with `jet steps`).
    #[arg(long)]
    pub push: bool,
    /// Run `manual` groups instead of skipping them.
    #[arg(long)]
    pub approve: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub runner: RunnerArgs,
    /// The service to run.
    pub service: String,
    /// The command and its arguments [default: the service's command].
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    #[command(flatten)]
    pub runner: RunnerArgs,
    /// The service whose image to build or pull.
    pub service: String,
}

#[derive(Args, Debug)]
pub struct CleanupArgs {
    /// List what would be removed without removing it.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_kv(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

fn load_key(dir: &Path, explicit: &Option<PathBuf>) -> Result<Option<Key>> {
    match explicit {
        Some(p) => super::crypt::load_key(p).map(Some),
        None => {
            let p = dir.join("codeship.aes");
            if p.exists() { super::crypt::load_key(&p).map(Some) } else { Ok(None) }
        }
    }
}

/// Unique per run (labels, names, cleanup): without randomness every run would be `0000000000`.
fn run_id() -> Result<String> {
    crate::names::random_hex(5)
}

fn project_name(dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "project".into())
}

pub(super) struct Prepared {
    build: BuildContext,
    pub(super) spec: RunSpec,
}

/// `tag`: the `--tag` of `slipway steps`; `run` and `load` have none (and no filters to match).
pub(super) fn prepare(
    args: &RunnerArgs,
    tag: Option<&str>,
    push: bool,
    approve: bool,
    make_plan: impl FnOnce(&slipway_core::Checked, &PlanOptions) -> Result<Plan>,
) -> Result<Prepared> {
    let files = args.project.load()?;
    let checked = slipway_core::check(&files.services, &files.steps);
    if checked.report.has_errors() {
        eprint!("{}", checked.report.render_text(&[&files.services, &files.steps]));
        return Err(ConfigErrors.into());
    }
    let dir = files.services_dir.clone();
    let build = args.ci.build(&args.project.dir, tag)?;
    let vars = build.vars.clone();
    let opts = PlanOptions { tag: build.tag.clone(), push, vars: vars.clone() };
    let plan = make_plan(&checked, &opts)?;
    let key = load_key(&args.project.dir, &args.key_path)?;
    let mut options = RunOptions {
        no_output_timeout: Duration::from_secs(args.no_output_timeout.max(1)),
        approve,
        remove: !args.no_remove,
        extra_env: args.env.clone(),
        cache_registry: args.cache_registry.clone(),
        // No default wall-clock limit on the developer's own machine (jet had none).
        run_limits: crate::executor::run_limits::RunLimits::default().overridden(
            &crate::executor::run_limits::RunLimitsOverride {
                step: args.step_timeout.map(|f| f.0),
                run: args.run_timeout.map(|f| f.0),
                disk: None,
            },
            crate::executor::run_limits::SetBy::Flag,
        ),
        ..RunOptions::default()
    };
    if let Some(p) = args.parallelism {
        options.parallelism = p.max(1);
    }
    Ok(Prepared {
        build,
        spec: RunSpec {
            run_id: run_id()?,
            project: project_name(&args.project.dir),
            dir,
            services: checked.services,
            plan,
            key,
            vars,
            options,
            source: Some(files.services.clone()),
        },
    })
}

/// Cancel on Ctrl-C, SIGTERM or SIGHUP; cleanup runs before the process exits. The handlers
/// are installed before this returns, so before the run creates anything.
pub(super) fn cancel_on_signals(cancel: CancellationToken) -> Result<()> {
    let mut signals = crate::signals::Signals::install().context("cannot install signal handlers")?;
    tokio::spawn(async move {
        signals.recv().await;
        eprintln!("slipway: interrupted; stopping steps and removing containers…");
        cancel.cancel();
    });
    Ok(())
}

async fn execute(prepared: Prepared) -> Result<ExitCode> {
    let cancel = CancellationToken::new();
    cancel_on_signals(cancel.clone())?;
    let docker = docker::connect().await?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let printer = tokio::spawn(Printer::new().run(rx));
    let run_id = prepared.spec.run_id.clone();
    let result = executor::run(docker, prepared.spec, tx, cancel).await;
    let printer = printer.await.context("printer task")?;
    let result = result?;
    printer.summary(&result);
    if result.outcome == executor::RunOutcome::Cancelled {
        eprintln!("slipway: run {run_id} was interrupted");
        return Ok(ExitCode::from(130));
    }
    Ok(if result.outcome == executor::RunOutcome::Succeeded { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

pub fn steps(args: StepsArgs) -> Result<ExitCode> {
    let prepared =
        prepare(&args.runner, args.tag.as_deref(), args.push, args.approve, |c, o| Ok(plan(&c.services, &c.steps, o)))?;
    eprintln!("slipway: {}", prepared.build.describe());
    if !args.push && prepared.spec.plan.leaves().iter().any(|s| s.kind == Kind::Push) {
        eprintln!("slipway: push steps are skipped; pass --push to run them");
    }
    runtime()?.block_on(execute(prepared))
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let service = args.service.clone();
    let command = args.command.clone();
    let prepared = prepare(&args.runner, None, false, false, move |c, _| {
        if c.services.get(&service).is_none() {
            bail!("no service `{service}` in the services file");
        }
        Ok(Plan { tag: None, push: false, steps: vec![one_off(&service, command)] })
    })?;
    runtime()?.block_on(execute(prepared))
}

fn one_off(service: &str, command: Vec<String>) -> PlannedStep {
    PlannedStep {
        service: Some(service.to_string()),
        command: (!command.is_empty()).then_some(command),
        id: "1".to_string(),
        ..PlannedStep::new(format!("run-{service}"), Kind::Run)
    }
}

pub fn load(args: LoadArgs) -> Result<ExitCode> {
    let service = args.service.clone();
    let prepared = prepare(&args.runner, None, false, false, move |c, _| {
        if c.services.get(&service).is_none() {
            bail!("no service `{service}` in the services file");
        }
        Ok(Plan { tag: None, push: false, steps: Vec::new() })
    })?;
    runtime()?.block_on(async move {
        let docker = docker::connect().await?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let printer = tokio::spawn(Printer::new().run(rx));
        let image = executor::load(docker, prepared.spec, &args.service, tx).await;
        printer.await.ok();
        let image = image?;
        println!("{image}");
        Ok(ExitCode::SUCCESS)
    })
}

pub fn cleanup(args: CleanupArgs) -> Result<ExitCode> {
    runtime()?.block_on(async move {
        let docker = docker::connect().await?;
        let found = executor::labels::cleanup(&docker, None, args.dry_run).await?;
        let verb = if args.dry_run { "would remove" } else { "removed" };
        for (kind, list) in [("container", &found.containers), ("network", &found.networks), ("volume", &found.volumes)]
        {
            for name in list {
                println!("{verb} {kind} {name}");
            }
        }
        if found.in_use > 0 {
            println!("left {} objects of runs that are still in progress", found.in_use);
        }
        if found.is_empty() {
            println!("nothing to clean up (only objects labelled by slipway are considered)");
        }
        for f in &found.failed {
            eprintln!("error: cannot remove {} {}: {}\n  {}", f.kind, f.name, f.error, f.hint());
        }
        if !found.failed.is_empty() {
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    })
}
