//! The studio's state: the two files, the build values for the preview, and the crypto
//! panel's fields. One reducer owns it; drafts of the files persist in local storage.

use gloo::storage::{LocalStorage, Storage};
use std::rc::Rc;
use yew::Reducible;

pub const EXAMPLE_SERVICES: &str = include_str!("example/codeship-services.yml");
pub const EXAMPLE_STEPS: &str = include_str!("example/codeship-steps.yml");

const DRAFT_SERVICES: &str = "slipway.draft.services";
const DRAFT_STEPS: &str = "slipway.draft.steps";
/// A fingerprint of the files last loaded from the server, so a reload (whose editors hold
/// those files as drafts) still knows they are not the user's edits.
const LOADED: &str = "slipway.loaded";

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

/// The build values of a project's current commit, as a run of it takes them.
#[derive(Clone, PartialEq)]
pub struct CommitValues {
    /// `None`: a detached checkout, whose runs have no branch unless given one.
    pub branch: Option<String>,
    pub commit_id: String,
    pub message: String,
    pub committer: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub services: String,
    pub steps: String,
    pub build: BuildInputs,
    /// The served project's files (services, steps), not loaded because the editors hold the
    /// user's edits: offered instead, never replacing a draft silently.
    pub offered: Option<(String, String)>,
}

pub enum Action {
    Edit(FileKind, String),
    Build(BuildInputs),
    /// Back to the example project, and forget the drafts.
    Reset,
    /// Both files at once (a project's, from the server): services, steps.
    Load(String, String),
    /// The served project's files, opened with the page: loaded when the editors hold no edits
    /// of the user's (the example, or the files last loaded), else offered (`State::offered`).
    Open(String, String),
    /// The project's commit values into the build values (the rest stay).
    Commit(CommitValues),
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
            offered: None,
        }
    }

    /// Whether the editors hold nothing of the user's: the example, or the files last loaded
    /// from the server, unedited.
    fn pristine(&self) -> bool {
        (self.services == EXAMPLE_SERVICES && self.steps == EXAMPLE_STEPS)
            || LocalStorage::get::<String>(LOADED).is_ok_and(|f| f == fingerprint(&self.services, &self.steps))
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

/// FNV-1a over both texts (with a separator): small to store, stable across builds.
fn fingerprint(services: &str, steps: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in services.bytes().chain([0xff]).chain(steps.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
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
                let _ = LocalStorage::set(LOADED, fingerprint(&services, &steps));
                next.services = services;
                next.steps = steps;
                next.offered = None;
            }
            Action::Open(services, steps) => {
                let same = self.services == services && self.steps == steps;
                if same || self.pristine() {
                    let _ = LocalStorage::set(LOADED, fingerprint(&services, &steps));
                    next.services = services;
                    next.steps = steps;
                    next.offered = None;
                } else {
                    next.offered = Some((services, steps));
                }
            }
            Action::Commit(c) => {
                next.build.branch = c.branch.unwrap_or_default();
                next.build.commit_id = c.commit_id;
                next.build.message = c.message;
                next.build.committer = c.committer;
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
