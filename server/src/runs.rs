//! The server's run manager: a persistent queue of runs, at most `limit` running at once, each
//! executed by the same executor as `slipway steps`, with every event stored (masked) and
//! broadcast to live subscribers.

use crate::executor::{self, RunOptions, RunSpec, events::Event};
use crate::store::Store;
use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use slipway_core::SourceFile;
use slipway_core::crypto::Key;
use slipway_core::plan::{PlanOptions, plan};
use slipway_core::template::BuildVars;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct Project {
    pub name: String,
    pub dir: PathBuf,
    pub key: Option<PathBuf>,
}

/// What `POST /api/runs` takes.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub project: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub push: bool,
    #[serde(default)]
    pub ci: CiValues,
    /// Edited files that replace the project's for this run only.
    #[serde(default)]
    pub services: Option<String>,
    #[serde(default)]
    pub steps: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CiValues {
    pub branch: Option<String>,
    pub commit_id: Option<String>,
    pub commit_message: Option<String>,
    pub committer_name: Option<String>,
    pub committer_email: Option<String>,
    pub build_id: Option<String>,
    pub timestamp: Option<i64>,
}

/// Events stored per transaction at most, when a chatty step has many queued up.
const MAX_EVENT_BATCH: usize = 512;

/// A run in progress: how to cancel, approve and follow it.
pub struct Live {
    pub cancel: CancellationToken,
    pub approval: Arc<Notify>,
    pub events: broadcast::Sender<(u64, String)>,
}

pub struct Manager {
    pub store: Arc<Store>,
    pub projects: Vec<Project>,
    limit: usize,
    live: Mutex<HashMap<String, Arc<Live>>>,
    wake: Notify,
    running: Mutex<usize>,
    policy: RunPolicy,
}

/// What the server lets every run do, from `slipway serve`'s flags.
#[derive(Clone, Debug, Default)]
pub struct RunPolicy {
    /// Registry and prefix for the cache images of `cached: true` services.
    pub cache_registry: Option<String>,
    /// Allow `add_docker: true` (the host's Docker engine inside a step).
    pub allow_add_docker: bool,
    /// Where runs copy their project (`DATA_DIR/workspaces`; the temp folder when unset).
    pub workspaces: Option<PathBuf>,
}

impl Manager {
    pub fn new(store: Arc<Store>, projects: Vec<Project>, limit: usize, policy: RunPolicy) -> Arc<Manager> {
        Arc::new(Manager {
            store,
            projects,
            limit: limit.max(1),
            live: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            running: Mutex::new(0),
            policy,
        })
    }

    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.name == name)
    }

    pub fn live(&self, id: &str) -> Option<Arc<Live>> {
        self.live.lock().expect("live lock").get(id).cloned()
    }

    /// After a restart: runs that were in flight are interrupted (and their containers
    /// removed); queued runs stay queued and start in order.
    pub async fn recover(self: &Arc<Self>) -> Result<()> {
        let interrupted = self.store.interrupt_running()?;
        // Followers of these runs (the studio) get a proper end of stream.
        for id in &interrupted {
            self.finish_events(id, "interrupted", Some("the server stopped during the run"));
        }
        if !interrupted.is_empty()
            && let Ok(docker) = crate::docker::connect().await
        {
            for id in &interrupted {
                let _ = executor::labels::cleanup(&docker, Some(id), false).await;
            }
        }
        Ok(())
    }

    /// Queue a run; returns its id.
    pub fn submit(self: &Arc<Self>, req: RunRequest) -> Result<String> {
        if self.project(&req.project).is_none() {
            bail!("unknown project `{}`", req.project);
        }
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).map_err(|e| anyhow!("no randomness: {e}"))?;
        let id: String = b.iter().map(|x| format!("{x:02x}")).collect();
        self.store.insert_run(&id, &req.project, req.tag.as_deref(), req.push, &serde_json::to_string(&req)?)?;
        self.wake.notify_one();
        Ok(id)
    }

    /// The scheduler: start queued runs, oldest first, while fewer than `limit` run.
    pub async fn schedule(self: Arc<Self>) {
        loop {
            while *self.running.lock().expect("running lock") < self.limit {
                let next = match self.store.next_queued() {
                    Ok(Some(n)) => n,
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("slipway: cannot read the queue: {e:#}");
                        break;
                    }
                };
                let (id, request) = next;
                if let Err(e) = self.store.set_status(&id, "running", None) {
                    eprintln!("slipway: cannot start run {id}: {e:#}");
                    break;
                }
                *self.running.lock().expect("running lock") += 1;
                let me = self.clone();
                tokio::spawn(async move {
                    let outcome = me.clone().execute(&id, &request).await;
                    let (status, error) = match outcome {
                        Ok(s) => (s, None),
                        Err(e) => ("failed", Some(format!("{e:#}"))),
                    };
                    let _ = me.store.set_status(&id, status, error.as_deref());
                    me.finish_events(&id, status, error.as_deref());
                    me.live.lock().expect("live lock").remove(&id);
                    *me.running.lock().expect("running lock") -= 1;
                    me.wake.notify_one();
                });
            }
            self.wake.notified().await;
        }
    }

    fn finish_events(&self, id: &str, status: &str, error: Option<&str>) {
        let data = serde_json::json!({"event": "run_finished", "status": status, "error": error}).to_string();
        let seq = self.store.last_event(id).unwrap_or(0) + 1;
        let _ = self.store.append_event(id, seq, &data);
        if let Some(live) = self.live(id) {
            let _ = live.events.send((seq, data));
        }
    }

    async fn execute(self: Arc<Self>, id: &str, request: &str) -> Result<&'static str> {
        let req: RunRequest = serde_json::from_str(request).context("stored run request")?;
        let project = self
            .project(&req.project)
            .ok_or_else(|| anyhow!("project `{}` is no longer registered", req.project))?
            .clone();
        let read = |given: &Option<String>, names: &[&str]| -> Result<(String, String)> {
            if let Some(text) = given {
                return Ok((names[0].to_string(), text.clone()));
            }
            for n in names {
                if let Ok(t) = std::fs::read_to_string(project.dir.join(n)) {
                    return Ok((n.to_string(), t));
                }
            }
            bail!("project `{}` has no {}", project.name, names[0])
        };
        let (sname, stext) = read(&req.services, &["codeship-services.yml", "docker-compose.yml"])?;
        let (tname, ttext) = read(&req.steps, &["codeship-steps.yml", "codeship-steps.json"])?;
        let (sv, st) = (SourceFile::new(sname, stext), SourceFile::new(tname, ttext));
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
        // Values the request leaves out come from the project's git work tree, as jet took them.
        let git = crate::gitinfo::GitInfo::read(&project.dir);
        let vars = BuildVars {
            branch: req.ci.branch.clone().or(req.tag.clone()).or(git.branch).unwrap_or_default(),
            commit_id: req.ci.commit_id.clone().or(git.commit_id).unwrap_or_default(),
            commit_message: req.ci.commit_message.clone().or(git.commit_message).unwrap_or_default(),
            committer_name: req.ci.committer_name.clone().or(git.committer_name).unwrap_or_default(),
            committer_email: req.ci.committer_email.clone().or(git.committer_email).unwrap_or_default(),
            build_id: req.ci.build_id.clone().unwrap_or_else(|| id.to_string()),
            repo_name: project.name.clone(),
            timestamp: req.ci.timestamp.unwrap_or_else(crate::store::now),
            ..BuildVars::default()
        };
        let p = plan(
            &checked.services,
            &checked.steps,
            &PlanOptions { tag: req.tag.clone(), push: req.push, vars: vars.clone() },
        );
        let key_path = project.key.clone().unwrap_or_else(|| project.dir.join("codeship.aes"));
        let key =
            if key_path.exists() { Some(Key::parse(&std::fs::read(&key_path)?).context("project key")?) } else { None };
        let live = Arc::new(Live {
            cancel: CancellationToken::new(),
            approval: Arc::new(Notify::new()),
            events: broadcast::channel(4096).0,
        });
        self.live.lock().expect("live lock").insert(id.to_string(), live.clone());
        let spec = RunSpec {
            run_id: id.to_string(),
            project: project.name.clone(),
            dir: project.dir.clone(),
            services: checked.services,
            plan: p,
            key,
            vars,
            options: RunOptions {
                approval: Some(live.approval.clone()),
                cache_registry: self.policy.cache_registry.clone(),
                confine: true,
                allow_add_docker: self.policy.allow_add_docker,
                workspace_root: self.policy.workspaces.clone(),
                ..RunOptions::default()
            },
        };
        let docker = crate::docker::connect().await?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let store = self.store.clone();
        let run_id = id.to_string();
        let pump_live = live.clone();
        // Event 1 is the plan, so a follower (the studio's graph) knows the pipeline's shape
        // before the first step reports. It holds names, commands and image refs: no secrets.
        let plan_event = serde_json::json!({"event": "plan", "plan": &spec.plan}).to_string();
        self.store.append_event(id, 1, &plan_event)?;
        let _ = live.events.send((1, plan_event));
        // Store every event (already masked by the executor) and fan it out to followers.
        let pump = tokio::spawn(async move {
            let mut seq = 1u64;
            let mut batch = Vec::new();
            while let Some(first) = rx.recv().await {
                // Whatever else has queued up goes into the same transaction.
                batch.push(first);
                while batch.len() < MAX_EVENT_BATCH
                    && let Ok(ev) = rx.try_recv()
                {
                    batch.push(ev);
                }
                let mut rows = Vec::with_capacity(batch.len());
                for ev in batch.drain(..) {
                    seq += 1;
                    if let Event::StepStatus { step, status, duration_ms, message, .. } = &ev {
                        let st = serde_json::to_value(status)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default();
                        let _ = store.upsert_step(&run_id, step, &st, *duration_ms, message.as_deref());
                    }
                    rows.push((seq, serde_json::to_string(&ev).unwrap_or_default()));
                }
                if let Err(e) = store.append_events(&run_id, &rows) {
                    eprintln!("slipway: run {run_id}: cannot store events: {e:#}");
                }
                for row in rows {
                    let _ = pump_live.events.send(row);
                }
            }
        });
        let result = executor::run(docker, spec, tx, live.cancel.clone()).await;
        let _ = pump.await;
        let result = result?;
        Ok(if result.cancelled {
            "cancelled"
        } else if result.success {
            "success"
        } else {
            "failed"
        })
    }
}
