//! The studio's state: the two files, the build values for the preview, and the crypto
//! panel's fields. One reducer owns it; drafts of the files persist in local storage.

use gloo::storage::{LocalStorage, Storage};
use std::rc::Rc;
use yew::Reducible;

pub const EXAMPLE_SERVICES: &str = include_str!("example/codeship-services.yml");
pub const EXAMPLE_STEPS: &str = include_str!("example/codeship-steps.yml");

const DRAFT_SERVICES: &str = "slipway.draft.services";
const DRAFT_STEPS: &str = "slipway.draft.steps";

/// Which file an editor shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Services,
    Steps,
}

impl FileKind {
    /// The editor's name in the page's automation hook (`window.slipwayStudio`).
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Services => "services",
            FileKind::Steps => "steps",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            FileKind::Services => "codeship-services.yml",
            FileKind::Steps => "codeship-steps.yml",
        }
    }
}

/// The build values the preview plans with.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildInputs {
    pub branch: String,
    pub commit_id: String,
    pub committer: String,
    pub message: String,
    pub build_id: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub push: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub services: String,
    pub steps: String,
    pub build: BuildInputs,
}

pub enum Action {
    Edit(FileKind, String),
    Build(BuildInputs),
    /// Back to the example project, and forget the drafts.
    Reset,
    /// Both files at once (a project's, from the server): services, steps.
    Load(String, String),
}

impl State {
    /// Drafts from local storage if there are any, else the example project.
    pub fn load(now: i64) -> State {
        let services = LocalStorage::get::<String>(DRAFT_SERVICES).unwrap_or_else(|_| EXAMPLE_SERVICES.to_string());
        let steps = LocalStorage::get::<String>(DRAFT_STEPS).unwrap_or_else(|_| EXAMPLE_STEPS.to_string());
        State {
            services,
            steps,
            build: BuildInputs {
                branch: "master".into(),
                commit_id: "4f1c2a9e0d7b3c6a8e5f1d2c3b4a5968778695a4".into(),
                committer: "Ada Lovelace".into(),
                message: "Add the analytical engine".into(),
                build_id: "1042".into(),
                timestamp: now,
                push: true,
            },
        }
    }

    pub fn text(&self, kind: FileKind) -> &str {
        match kind {
            FileKind::Services => &self.services,
            FileKind::Steps => &self.steps,
        }
    }
}

/// Keep the files as drafts for the next visit (the example itself is no draft). Called when
/// the text settles, not per keystroke: a large file costs milliseconds to store.
pub fn save_drafts(services: &str, steps: &str) {
    for (key, text, example) in [(DRAFT_SERVICES, services, EXAMPLE_SERVICES), (DRAFT_STEPS, steps, EXAMPLE_STEPS)] {
        if text == example {
            LocalStorage::delete(key);
        } else {
            let _ = LocalStorage::set(key, text);
        }
    }
}

/// A plan shared by the panels that show it, compared by identity (each check makes a new
/// one; comparing 5,000 steps on every render would cost more than the render).
#[derive(Clone, Debug)]
pub struct SharedPlan(pub Rc<slipway_core::plan::Plan>);

impl PartialEq for SharedPlan {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for SharedPlan {
    type Target = slipway_core::plan::Plan;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Edit(FileKind::Services, text) => next.services = text,
            Action::Edit(FileKind::Steps, text) => next.steps = text,
            Action::Build(b) => next.build = b,
            Action::Load(services, steps) => {
                next.services = services;
                next.steps = steps;
            }
            Action::Reset => {
                LocalStorage::delete(DRAFT_SERVICES);
                LocalStorage::delete(DRAFT_STEPS);
                next.services = EXAMPLE_SERVICES.to_string();
                next.steps = EXAMPLE_STEPS.to_string();
            }
        }
        Rc::new(next)
    }
}
