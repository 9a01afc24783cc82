//! A scripted engine for the orchestration's unit tests (`orchestrate_tests.rs`), in the role
//! of Woodpecker's `dummy` backend: no containers, only what a script says each step does
//! (its log lines, an image build that takes a while, a gate that holds it until the test
//! opens it, a delay, an exit code or an error). It records what the orchestration asked of
//! it, so a test can tell which steps ran, in which order, and that cleanup happened.
//!
//! A stand-in on purpose: what it replaces is the Docker backend, which the real-engine tests
//! (`server/tests/runner.rs` and others) exercise; these tests are about the order of things.

use super::deadline;
use super::engine::{Engine, Removed};
use super::events::{Event, EventSender};
use super::orchestrate::Runner;
use super::outcome::RunResult;
use super::run::Run;
use super::{RunOptions, RunSpec};
use anyhow::{Result, anyhow};
use futures_util::future::BoxFuture;
use slipway_core::SourceFile;
use slipway_core::plan::{PlanOptions, PlannedStep};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

/// What one step does on the fake engine; steps without a script exit with 0 at once.
#[derive(Clone, Default)]
pub(super) struct StepScript {
    pub exit: i64,
    /// The step cannot run at all (the engine's error, as a missing image would be).
    pub error: Option<String>,
    pub logs: Vec<String>,
    /// Held in its image build (which does not count against the step's own limit, as on
    /// Docker: see `deadline::paused`) until this is notified.
    pub build_gate: Option<Arc<Notify>>,
    /// How long the build takes when it has no gate.
    pub build_delay: Duration,
    /// Held running until this is notified (never, for a step a test cancels).
    pub gate: Option<Arc<Notify>>,
    pub delay: Duration,
}

impl StepScript {
    pub fn exit(code: i64) -> StepScript {
        StepScript { exit: code, ..Default::default() }
    }

    pub fn delayed(delay: Duration) -> StepScript {
        StepScript { delay, ..Default::default() }
    }

    pub fn gated(gate: &Arc<Notify>) -> StepScript {
        StepScript { gate: Some(gate.clone()), ..Default::default() }
    }
}

/// What the orchestration asked of the engine, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Call {
    /// A step started (its label).
    Run(String),
    /// A step ended with its exit code (not recorded when its future was dropped).
    Ended(String),
    Push(String),
    RemoveStep(String),
    Settle,
    RemoveRun,
}

pub(super) struct FakeEngine {
    run: Arc<Run>,
    script: HashMap<String, StepScript>,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl FakeEngine {
    fn record(&self, call: Call) {
        self.calls.lock().expect("calls lock").push(call);
    }

    async fn step(&self, step: &PlannedStep) -> Result<i64> {
        let name = self.run.label(&step.id);
        let script = self.script.get(&name).cloned().unwrap_or_default();
        self.record(Call::Run(name.clone()));
        let service = step.service.clone().unwrap_or_default();
        // Waiting for an image pauses the step's clock, as the Docker backend's `image_for` does.
        deadline::paused(async {
            self.run.build_log(&step.id, &service, "building");
            match &script.build_gate {
                Some(gate) => gate.notified().await,
                None => tokio::time::sleep(script.build_delay).await,
            }
        })
        .await;
        for line in &script.logs {
            self.run.log(&step.id, &service, line);
        }
        if let Some(gate) = &script.gate {
            gate.notified().await;
        }
        tokio::time::sleep(script.delay).await;
        self.record(Call::Ended(name));
        match script.error {
            Some(e) => Err(anyhow!(e)),
            None => Ok(script.exit),
        }
    }
}

impl Engine for FakeEngine {
    fn load_image(self: Arc<Self>, service: String) -> BoxFuture<'static, Result<String>> {
        Box::pin(async move { Ok(format!("fake/{service}")) })
    }

    fn run_step(self: Arc<Self>, step: PlannedStep) -> BoxFuture<'static, Result<i64>> {
        Box::pin(async move { self.step(&step).await })
    }

    fn push(self: Arc<Self>, step: PlannedStep) -> BoxFuture<'static, Result<()>> {
        Box::pin(async move {
            self.record(Call::Push(self.run.label(&step.id)));
            Ok(())
        })
    }

    fn remove_step<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.record(Call::RemoveStep(self.run.label(id))) })
    }

    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.record(Call::Settle) })
    }

    fn remove_run(&self) -> BoxFuture<'_, Result<Removed>> {
        Box::pin(async move {
            self.record(Call::RemoveRun);
            Ok(Removed::default())
        })
    }

    fn watch_disk(self: Arc<Self>, _done: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

const SERVICES: &str = "app:\n  image: busybox\n";

/// A spec for `steps` (a steps file over one service, `app`), planned with `tag` as the
/// branch; `options` as the test wants them.
pub(super) fn spec(steps: &str, tag: Option<&str>, options: RunOptions) -> RunSpec {
    let services = SourceFile::new("codeship-services.yml", SERVICES);
    let steps = SourceFile::new("codeship-steps.yml", steps);
    let checked = slipway_core::check(&services, &steps);
    assert!(!checked.report.has_errors(), "{}", checked.report.render_text(&[&services, &steps]));
    let opts = PlanOptions { tag: tag.map(str::to_string), push: false, vars: Default::default() };
    let plan = slipway_core::plan::plan(&checked.services, &checked.steps, &opts);
    RunSpec {
        run_id: "fake0run".into(),
        project: "fake".into(),
        dir: std::env::temp_dir(),
        services: checked.services,
        plan,
        key: None,
        vars: Default::default(),
        options,
        source: Some(services),
    }
}

/// A run on the fake engine, started in the background.
pub(super) struct Started {
    pub events: UnboundedReceiver<Event>,
    pub cancel: CancellationToken,
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub done: tokio::task::JoinHandle<Result<RunResult>>,
}

impl Started {
    /// Wait (up to 10 s) for an event `pick` takes; the events before it are dropped.
    pub async fn until<T>(&mut self, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let wait = async {
            loop {
                let e = self.events.recv().await.expect("the run ended before the event");
                if let Some(t) = pick(&e) {
                    return t;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait).await.expect("no such event within 10 s")
    }

    /// Wait until step `name` runs.
    pub async fn running(&mut self, name: &str) {
        self.until(|e| match e {
            Event::StepStatus { step, status: super::events::StepStatus::Running, .. } if step == name => Some(()),
            _ => None,
        })
        .await
    }

    /// The run's result, the events not yet read, and what the engine was asked.
    pub async fn finish(mut self) -> Ended {
        let result = tokio::time::timeout(Duration::from_secs(10), self.done)
            .await
            .expect("the run ends within 10 s")
            .expect("the run's task")
            .expect("the run");
        let mut events = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            events.push(e);
        }
        let calls = self.calls.lock().expect("calls lock").clone();
        Ended { result, events, calls }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls lock").clone()
    }
}

pub(super) struct Ended {
    pub result: RunResult,
    pub events: Vec<Event>,
    pub calls: Vec<Call>,
}

impl Ended {
    /// Each step's label and final status, in the order of the pipeline.
    pub fn steps(&self) -> Vec<(&str, super::events::StepStatus)> {
        self.result.steps.iter().map(|r| (r.name.as_str(), r.status)).collect()
    }

    /// The message of step `name`'s final status (why it failed or was skipped).
    pub fn message(&self, name: &str) -> String {
        self.events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::StepStatus { step, message: Some(m), .. } if step == name => Some(m.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The labels of the steps the engine was asked to run, in order.
    pub fn ran(&self) -> Vec<&str> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Run(n) => Some(n.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Cleanup happened, after every request in flight settled.
    pub fn cleaned_up(&self) -> bool {
        let at = |c: Call| self.calls.iter().position(|x| *x == c);
        matches!((at(Call::Settle), at(Call::RemoveRun)), (Some(s), Some(r)) if s < r)
    }
}

/// Start `spec` on a fake engine following `script` (by step label).
pub(super) async fn start(spec: RunSpec, script: &[(&str, StepScript)]) -> Started {
    let (tx, events): (EventSender, _) = tokio::sync::mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let run = Run::prepare(spec, tx, cancel.clone()).await.expect("the run prepares");
    let calls = Arc::new(Mutex::new(Vec::new()));
    let script = script.iter().map(|(n, s)| (n.to_string(), s.clone())).collect();
    let engine = Arc::new(FakeEngine { run: run.clone(), script, calls: calls.clone() });
    let runner = Arc::new(Runner::new(run, engine));
    let done = tokio::spawn(runner.execute());
    Started { events, cancel, calls, done }
}
