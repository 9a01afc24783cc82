//! The run API's bodies as the studio reads and sends them (the run panel, `server_api`).
//! Answers are read from a `serde_json::Value` field by field (`FromJson`) rather than by
//! serde's derived `Deserialize`: the core already carries the `Value` parser (for dockercfg files), and each
//! derived reader cost the studio's download more than these few lines (docs/perf.md).

use serde::Serialize;
use serde_json::Value;
use slipway_core::plan::Plan;
use slipway_core::run_state::{RunStatus, StepStatus};

/// A body read from the JSON the API answers; `None` when it is not that shape.
pub trait FromJson: Sized {
    fn from_json(v: &Value) -> Option<Self>;
}

/// Answers read for their status only.
impl FromJson for () {
    fn from_json(_: &Value) -> Option<()> {
        Some(())
    }
}

/// Field `key` of object `v` as a string; `None` when absent, null or not a string.
fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_string)
}

/// A row of `GET /api/runs`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct RunSummary {
    pub(super) id: String,
    pub(super) project: String,
    pub(super) tag: Option<String>,
    pub(super) push: bool,
    pub(super) status: RunStatus,
    pub(super) error: Option<String>,
    pub(super) created_at: i64,
    /// Unix seconds; none until the run starts, or ends.
    pub(super) started_at: Option<i64>,
    pub(super) finished_at: Option<i64>,
    /// What started the run (a push, a pull request, a poll); none for runs started by hand.
    pub(super) trigger: Option<Trigger>,
    /// Why the forge was not told the run's status, if it was not.
    pub(super) status_error: Option<String>,
}

impl FromJson for RunSummary {
    fn from_json(v: &Value) -> Option<Self> {
        Some(RunSummary {
            id: string(v, "id")?,
            project: string(v, "project")?,
            tag: string(v, "tag"),
            push: v.get("push")?.as_bool()?,
            status: RunStatus::parse(v.get("status")?.as_str()?)?,
            error: string(v, "error"),
            created_at: v.get("created_at")?.as_i64()?,
            started_at: v.get("started_at").and_then(Value::as_i64),
            finished_at: v.get("finished_at").and_then(Value::as_i64),
            trigger: v.get("trigger").filter(|t| t.is_object()).map(Trigger::read),
            status_error: string(v, "status_error"),
        })
    }
}

/// A run's trigger, as the server records it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Trigger {
    /// `push`, `tag`, `pull_request` or `poll`.
    pub(super) kind: String,
    pub(super) branch: Option<String>,
    pub(super) tag: Option<String>,
    pub(super) commit_id: Option<String>,
    pub(super) commit_message: Option<String>,
    pub(super) author: Option<String>,
    pub(super) commit_url: Option<String>,
    pub(super) pr_number: Option<i64>,
    pub(super) delivery: Option<String>,
}

impl Trigger {
    /// Every field is optional (servers add them over time).
    fn read(v: &Value) -> Trigger {
        Trigger {
            kind: string(v, "kind").unwrap_or_default(),
            branch: string(v, "branch"),
            tag: string(v, "tag"),
            commit_id: string(v, "commit_id"),
            commit_message: string(v, "commit_message"),
            author: string(v, "author"),
            commit_url: string(v, "commit_url"),
            pr_number: v.get("pr_number").and_then(Value::as_i64),
            delivery: string(v, "delivery"),
        }
    }
}

pub(super) struct RunList {
    pub(super) runs: Vec<RunSummary>,
}

impl FromJson for RunList {
    fn from_json(v: &Value) -> Option<Self> {
        let runs = v.get("runs")?.as_array()?.iter().map(RunSummary::from_json).collect::<Option<_>>()?;
        Some(RunList { runs })
    }
}

pub(super) struct ProjectList {
    pub(super) projects: Vec<Project>,
}

impl FromJson for ProjectList {
    fn from_json(v: &Value) -> Option<Self> {
        let projects = v
            .get("projects")?
            .as_array()?
            .iter()
            .map(|p| {
                let kind = match p.get("kind").map(Value::as_str) {
                    Some(Some("repo")) => ProjectKind::Repo,
                    // Older servers did not say; they had folder projects only.
                    None | Some(Some("folder")) => ProjectKind::Folder,
                    // Anything else (null included) is not a kind this page knows: refused,
                    // rather than offering to start runs of a project that may not take them.
                    Some(_) => return None,
                };
                Some(Project { name: string(p, "name")?, kind })
            })
            .collect::<Option<_>>()?;
        Some(ProjectList { projects })
    }
}

/// A project registered with the server (`GET /api/projects`).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Project {
    pub(super) name: String,
    pub(super) kind: ProjectKind,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) enum ProjectKind {
    /// A folder on the server: runs start from the page.
    #[default]
    Folder,
    /// A repository: its runs start from a push (a webhook), never from the page.
    Repo,
}

/// Whether the page can start runs of project `name`: a folder project's, not a repository
/// project's (whose files it loads all the same). A name the list does not have is left to the server to refuse.
pub(super) fn startable(projects: &[Project], name: &str) -> bool {
    projects.iter().find(|p| p.name == name).is_none_or(|p| p.kind != ProjectKind::Repo)
}

/// `GET /api/projects/{name}/files`: both files' text.
pub(super) struct ProjectFiles {
    pub(super) services: String,
    pub(super) steps: String,
}

impl FromJson for ProjectFiles {
    fn from_json(v: &Value) -> Option<Self> {
        Some(ProjectFiles { services: string(v.get("services")?, "text")?, steps: string(v.get("steps")?, "text")? })
    }
}

/// `POST /api/runs`'s answer.
pub(super) struct Created {
    pub(super) id: String,
}

impl FromJson for Created {
    fn from_json(v: &Value) -> Option<Self> {
        Some(Created { id: string(v, "id")? })
    }
}

/// The body of `POST /api/runs`; the files only when the editors' are used.
#[derive(Serialize)]
pub(super) struct NewRun<'a> {
    pub(super) project: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) tag: Option<&'a str>,
    pub(super) push: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) services: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) steps: Option<&'a str>,
}

/// One event of `GET /api/runs/{id}/events`, as the server's executor and run manager write
/// it, dispatched on by the Run panel's log ([`crate::run_log::RunLog::apply`]).
#[derive(Clone, Debug, PartialEq)]
pub enum RunEvent {
    /// The run's first event: the pipeline's shape, the commit it runs and whether the
    /// editors' files replaced the project's (servers before 2026-12-07 sent neither).
    Plan { plan: Box<Plan>, commit: Option<String>, edited: bool },
    /// A line of a step's output, or of building an image for it (`build`).
    Log { step: StepRef, service: String, line: String, build: bool, at_ms: Option<u64> },
    /// A runner message that belongs to no step.
    Info { message: String },
    /// A `manual` group waits for approval.
    Waiting { group: StepRef },
    /// A step's new status; `status` is `None` for a status this studio does not know.
    StepStatus { step: StepRef, status: Option<StepStatus>, duration_ms: Option<u64>, message: Option<String> },
    /// The run's end; a status this studio does not know reads as an error.
    RunFinished { status: RunStatus, error: Option<String> },
    /// An event a newer server may add: ignored, not an error.
    Other,
}

/// A step as an event names it: its id (servers before ids sent only the label) and label.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepRef {
    pub id: String,
    pub label: String,
}

/// The event's JSON as sent: flat rather than a serde tagged enum, since internally tagged
/// enums buffer every event through a generic `Content` tree, which cost 25 KB of the studio's
/// download; [`RunEvent::parse`] turns it into the enum.
#[derive(serde::Deserialize)]
struct FlatEvent {
    event: String,
    plan: Option<Plan>,
    commit: Option<String>,
    #[serde(default)]
    edited: bool,
    step: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    service: String,
    line: Option<String>,
    message: Option<String>,
    group: Option<String>,
    status: Option<String>,
    error: Option<String>,
    duration_ms: Option<u64>,
    #[serde(default)]
    build: bool,
    at_ms: Option<u64>,
}

impl RunEvent {
    /// The event in `data`; `None` when it is not JSON of an event.
    pub fn parse(data: &str) -> Option<RunEvent> {
        let e: FlatEvent = serde_json::from_str(data).ok()?;
        let label = e.step.or(e.group).unwrap_or_default();
        let step = StepRef { id: if e.id.is_empty() { label.clone() } else { e.id }, label };
        Some(match e.event.as_str() {
            "plan" => match e.plan {
                Some(plan) => RunEvent::Plan { plan: Box::new(plan), commit: e.commit, edited: e.edited },
                None => RunEvent::Other,
            },
            "log" => RunEvent::Log {
                step,
                service: e.service,
                line: e.line.unwrap_or_default(),
                build: e.build,
                at_ms: e.at_ms,
            },
            "info" => RunEvent::Info { message: e.message.unwrap_or_default() },
            "waiting" => RunEvent::Waiting { group: step },
            "step_status" => RunEvent::StepStatus {
                step,
                status: e.status.as_deref().and_then(StepStatus::parse),
                duration_ms: e.duration_ms,
                message: e.message,
            },
            "run_finished" => RunEvent::RunFinished {
                status: e.status.as_deref().and_then(RunStatus::parse).unwrap_or(RunStatus::Error),
                error: e.error,
            },
            _ => RunEvent::Other,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn repository_projects_are_not_started_from_the_page() {
        let list = ProjectList::from_json(&json(
            r#"{"projects":[{"name":"app","kind":"folder"},{"name":"site","kind":"repo"},{"name":"old"}]}"#,
        ))
        .unwrap();
        let kinds: Vec<ProjectKind> = list.projects.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [ProjectKind::Folder, ProjectKind::Repo, ProjectKind::Folder]);
        let can: Vec<bool> = ["app", "site", "old", "gone"].map(|n| startable(&list.projects, n)).into();
        assert_eq!(can, [true, false, true, true]);
        assert!(ProjectList::from_json(&json(r#"{"projects":[{"name":"x","kind":"cloud"}]}"#)).is_none());
        assert!(ProjectList::from_json(&json(r#"{"projects":[{"kind":"repo"}]}"#)).is_none());
        assert!(ProjectList::from_json(&json(r#"{"projects":[{"name":"x","kind":null}]}"#)).is_none());
    }

    #[test]
    fn events_are_read_into_their_variant_and_unknown_ones_are_other() {
        let log = RunEvent::parse(
            r#"{"event":"log","step":"unit","id":"1.1","service":"app","line":"ok","build":true,"at_ms":5}"#,
        );
        let step = StepRef { id: "1.1".into(), label: "unit".into() };
        assert_eq!(
            log,
            Some(RunEvent::Log {
                step: step.clone(),
                service: "app".into(),
                line: "ok".into(),
                build: true,
                at_ms: Some(5)
            })
        );
        // Servers before ids: the label is the id.
        let old = RunEvent::parse(r#"{"event":"waiting","group":"release"}"#);
        assert_eq!(old, Some(RunEvent::Waiting { group: StepRef { id: "release".into(), label: "release".into() } }));
        let status = RunEvent::parse(r#"{"event":"step_status","step":"unit","id":"1.1","status":"teleported"}"#);
        assert_eq!(status, Some(RunEvent::StepStatus { step, status: None, duration_ms: None, message: None }));
        let end = RunEvent::parse(r#"{"event":"run_finished","status":"sleeping","error":null}"#);
        assert_eq!(end, Some(RunEvent::RunFinished { status: RunStatus::Error, error: None }));
        assert_eq!(RunEvent::parse(r#"{"event":"something_new"}"#), Some(RunEvent::Other));
        assert_eq!(RunEvent::parse("not json"), None);
        let plan = RunEvent::parse(
            r#"{"event":"plan","plan":{"tag":null,"push":false,"steps":[]},"commit":"abc","edited":true}"#,
        );
        assert!(matches!(plan, Some(RunEvent::Plan { commit: Some(c), edited: true, .. }) if c == "abc"));
    }

    pub(crate) fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_run_list_with_a_row_that_is_not_a_run_is_refused() {
        let row = r#"{"id":"r1","project":"app","tag":null,"push":false,"status":"running","created_at":5}"#;
        let list = RunList::from_json(&json(&format!(r#"{{"runs":[{row}]}}"#))).unwrap();
        assert_eq!(
            (list.runs[0].id.as_str(), list.runs[0].status, list.runs[0].created_at),
            ("r1", RunStatus::Running, 5)
        );
        for bad in [
            row.replace("running", "sleeping"),
            row.replace(r#""push":false"#, r#""push":"no""#),
            row.replace(r#""id":"r1","#, ""),
        ] {
            assert!(RunList::from_json(&json(&format!(r#"{{"runs":[{bad}]}}"#))).is_none(), "{bad}");
        }
        let files = ProjectFiles::from_json(&json(r#"{"services":{"text":"a"},"steps":{"text":"b"}}"#)).unwrap();
        assert_eq!((files.services.as_str(), files.steps.as_str()), ("a", "b"));
        assert_eq!(Created::from_json(&json(r#"{"id":"r9"}"#)).map(|c| c.id).as_deref(), Some("r9"));
    }
}
