//! The Run panel's one state and the actions that change it (Yew's `use_reducer`): pure, so
//! it is tested without a browser. The followed run's log is not in it: events arrive by the
//! thousand per second and land in a `RunLog` off the DOM (`follow.rs`); `Redraw` tells the
//! view to catch up with it.

use super::history::Filter;
use crate::wire::{Project, RunSummary};
use slipway_core::Diagnostic;
use std::rc::Rc;
use yew::Reducible;

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) enum ServerState {
    #[default]
    Checking,
    Unavailable(String),
    Ready(Vec<Project>),
}

/// What the panel has to say under its form.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Message {
    Error(String),
    /// Run refused: the editors' files have errors; the first one, to go to.
    EditorErrors {
        count: usize,
        first: Diagnostic,
    },
    Info(String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct RunPanelState {
    pub(super) server: ServerState,
    pub(super) token: Option<String>,
    /// The project picked in the form.
    pub(super) project: String,
    /// Send the editors' files instead of running the project's.
    pub(super) use_edits: bool,
    pub(super) message: Option<Message>,
    pub(super) history: Vec<RunSummary>,
    pub(super) filter: Filter,
    /// The lane whose log is shown (a step id, or `run_log::BUILD_LANE`); `None`: all.
    pub(super) lane: Option<String>,
    /// Show the lane from its first line (the first failure's), not its end.
    pub(super) from_start: bool,
    /// The opened run as the server lists it (its project, times, trigger).
    pub(super) current: Option<RunSummary>,
    /// Bumped when the followed run's log has news to show.
    pub(super) tick: u64,
    /// The log view's search, and which of its matches is the current one.
    pub(super) search: String,
    pub(super) hit: usize,
}

pub(super) enum Action {
    Server(ServerState),
    Token(Option<String>),
    /// The server refused the token: forgotten, so the prompt comes back.
    Refused(String),
    Say(Option<Message>),
    History(Vec<RunSummary>),
    Filter(Filter),
    Project(String),
    UseEdits(bool),
    /// Another run is being opened: nothing of the last one stays on show.
    Opening,
    Summary(Box<RunSummary>),
    /// The server has no run `id` (a stale or mistyped link).
    Missing(String),
    /// Show one lane's log (`None`: every lane's).
    Lane(Option<String>),
    /// Show the first failed step's log from its start.
    JumpToError(String),
    Redraw,
    Search(String),
    /// The next (`true`) or previous match, of `count`.
    Step {
        forward: bool,
        count: usize,
    },
}

impl Reducible for RunPanelState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Server(s) => {
                if let (ServerState::Ready(list), true) = (&s, next.project.is_empty()) {
                    next.project = list.first().map(|p| p.name.clone()).unwrap_or_default();
                }
                next.server = s;
            }
            Action::Token(t) => {
                next.token = t;
                if next.token.is_some() {
                    next.message = None;
                }
            }
            Action::Refused(m) => {
                next.token = None;
                next.message = Some(Message::Error(m));
            }
            Action::Say(m) => next.message = m,
            Action::History(h) => next.history = h,
            Action::Filter(f) => next.filter = f,
            Action::Project(p) => next.project = p,
            Action::UseEdits(u) => next.use_edits = u,
            Action::Opening => {
                next.message = None;
                next.current = None;
                next.lane = None;
                next.from_start = false;
                next.search.clear();
            }
            Action::Summary(r) => next.current = Some(*r),
            Action::Missing(id) => {
                next.current = None;
                next.lane = None;
                next.message = Some(Message::Error(format!("no run {id} (check the link)")));
            }
            Action::Lane(l) => {
                next.lane = l;
                next.from_start = false;
                next.hit = 0;
            }
            Action::JumpToError(id) => {
                next.lane = Some(id);
                next.from_start = true;
                next.hit = 0;
            }
            Action::Redraw => next.tick += 1,
            Action::Search(s) => {
                next.search = s;
                next.hit = 0;
            }
            Action::Step { forward, count } => {
                next.hit = match (count, forward) {
                    (0, _) => 0,
                    (n, true) => (next.hit + 1) % n,
                    (n, false) => (next.hit + n - 1) % n,
                };
            }
        }
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ProjectKind;

    fn run(actions: Vec<Action>) -> RunPanelState {
        let mut s = Rc::new(RunPanelState::default());
        for a in actions {
            s = s.reduce(a);
        }
        (*s).clone()
    }

    fn project(name: &str) -> Project {
        Project { name: name.into(), kind: ProjectKind::Folder }
    }

    #[test]
    fn the_first_project_is_picked_unless_one_was() {
        let s = run(vec![Action::Server(ServerState::Ready(vec![project("a"), project("b")]))]);
        assert_eq!(s.project, "a");
        let s = run(vec![Action::Project("b".into()), Action::Server(ServerState::Ready(vec![project("a")]))]);
        assert_eq!(s.project, "b");
    }

    #[test]
    fn a_refused_token_is_forgotten_and_a_new_one_clears_the_message() {
        let s = run(vec![Action::Token(Some("t".into())), Action::Refused("refused".into())]);
        assert_eq!((s.token, s.message), (None, Some(Message::Error("refused".into()))));
        let s = run(vec![Action::Refused("refused".into()), Action::Token(Some("u".into()))]);
        assert_eq!((s.token.as_deref(), s.message), (Some("u"), None));
    }

    #[test]
    fn opening_a_run_forgets_the_last_ones_lane_search_and_summary() {
        let s = run(vec![
            Action::JumpToError("1.2".into()),
            Action::Search("error".into()),
            Action::Say(Some(Message::Info("hi".into()))),
            Action::Opening,
        ]);
        assert_eq!((s.lane, s.from_start, s.search.as_str(), s.message, s.current), (None, false, "", None, None));
        let s = run(vec![Action::Lane(Some("1.1".into())), Action::Missing("r9".into())]);
        assert_eq!((s.lane, s.message), (None, Some(Message::Error("no run r9 (check the link)".into()))));
    }

    #[test]
    fn search_matches_wrap_both_ways_and_a_new_search_starts_at_the_first() {
        let step = |forward| Action::Step { forward, count: 3 };
        assert_eq!(run(vec![step(true), step(true), step(true)]).hit, 0);
        assert_eq!(run(vec![step(false)]).hit, 2);
        assert_eq!(run(vec![step(true), Action::Search("x".into())]).hit, 0);
        assert_eq!(run(vec![Action::Step { forward: true, count: 0 }]).hit, 0);
    }

    #[test]
    fn the_jump_shows_the_failed_lane_from_its_start_until_another_lane_is_picked() {
        let s = run(vec![Action::JumpToError("1.2".into())]);
        assert_eq!((s.lane.as_deref(), s.from_start), (Some("1.2"), true));
        let s = run(vec![Action::JumpToError("1.2".into()), Action::Lane(None)]);
        assert_eq!((s.lane, s.from_start), (None, false));
        assert_eq!(run(vec![Action::Redraw, Action::Redraw]).tick, 2);
    }
}
