//! What the panel asks the server, as methods of one `Ctl` the components' callbacks share:
//! each request runs in its own task and reports through the reducer's actions.

use super::follow::{Shared, follow};
use super::link;
use super::state::{Action, Message, RunPanelState};
use crate::components::files::download;
use crate::server_api::{self, ApiError};
use crate::wire::{Created, ProjectFiles, RunList, RunSummary};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;
use yew::{Callback, UseReducerHandle};

/// The panel's handle on the server and on the followed run.
#[derive(Clone)]
pub(super) struct Ctl {
    /// Reads the newest state, also between renders (Yew 0.23's handle).
    pub(super) state: UseReducerHandle<RunPanelState>,
    pub(super) shared: Shared,
    /// A run named by the page's address before the token was entered.
    pub(super) pending: Rc<RefCell<Option<String>>>,
}

impl Ctl {
    fn say(&self, m: Message) {
        self.state.dispatch(Action::Say(Some(m)));
    }

    pub(super) fn token(&self) -> Option<String> {
        self.state.token.clone()
    }

    /// The followed run's id.
    pub(super) fn run_id(&self) -> Option<String> {
        self.shared.borrow().id.clone()
    }

    /// A refused token is forgotten at once, so the prompt comes back.
    pub(super) fn error(&self, e: ApiError) {
        if e == ApiError::Unauthorized {
            server_api::save_token(None);
            self.state.dispatch(Action::Refused(e.to_string()));
        } else {
            self.say(Message::Error(e.to_string()));
        }
    }

    /// Load the newest runs that pass the filter. With the token when there is one: only then
    /// does the server include the triggers (commit messages and authors may be private).
    pub(super) fn refresh_history(&self) {
        let (filter, token, dispatch) = (self.state.filter.clone(), self.token(), self.state.dispatcher());
        spawn_local(async move {
            if let Ok(list) = server_api::json::<RunList>("GET", &filter.path(), token.as_deref(), None).await {
                dispatch.dispatch(Action::History(list.runs));
            }
        });
    }

    /// A run the server does not have: nothing of it stays on show.
    fn missing(&self, id: String) {
        if self.run_id().as_deref() != Some(id.as_str()) {
            return;
        }
        self.shared.borrow_mut().forget();
        self.state.dispatch(Action::Missing(id));
    }

    /// The run as the server lists it (its project, times, trigger).
    pub(super) fn load_summary(&self, id: &str, token: Option<String>) {
        let (path, id, me) = (format!("/api/runs/{id}"), id.to_string(), self.clone());
        spawn_local(async move {
            match server_api::json::<RunSummary>("GET", &path, token.as_deref(), None).await {
                Ok(run) => me.state.dispatch(Action::Summary(Box::new(run))),
                Err(ApiError::Server(404, _)) => me.missing(id),
                Err(_) => {}
            }
        });
    }

    /// The followed run's stream ended: with an error, or at the run's end.
    fn ended(&self, e: Option<ApiError>) {
        let id = self.run_id();
        match (e, id.clone()) {
            (Some(ApiError::Server(404, _)), Some(id)) => return self.missing(id),
            // Opened once the right token is entered.
            (Some(e @ ApiError::Unauthorized), id) => {
                *self.pending.borrow_mut() = id;
                self.error(e);
            }
            (Some(e), _) => self.error(e),
            (None, _) => {}
        }
        self.refresh_history();
        if let Some(id) = id {
            self.load_summary(&id, self.token());
        }
    }

    fn follow(&self, id: String, token: String) {
        link::show(&id);
        self.state.dispatch(Action::Opening);
        self.load_summary(&id, Some(token.clone()));
        let (me, redraw) = (self.clone(), self.state.dispatcher().to_callback().reform(|_: ()| Action::Redraw));
        follow(&self.shared, id, token, redraw, Callback::from(move |e| me.ended(e)));
    }

    /// Follow run `id` (unless it is followed now), and name it in the page's address.
    pub(super) fn open(&self, id: String, token: Option<String>) {
        link::show(&id);
        if self.shared.borrow().follows(&id) {
            return;
        }
        match token {
            Some(t) => self.follow(id, t),
            None => {
                self.say(Message::Error(format!("enter the API token to open run {id}")));
                *self.pending.borrow_mut() = Some(id);
            }
        }
    }

    /// A POST that queues a run (`/api/runs` with a body, `/api/runs/{id}/rerun`), then follow it.
    pub(super) fn queue(&self, path: String, body: Option<String>) {
        let Some(t) = self.token() else { return self.say(Message::Error("enter the API token first".into())) };
        self.state.dispatch(Action::Say(None));
        let me = self.clone();
        spawn_local(async move {
            match server_api::json::<Created>("POST", &path, Some(&t), body).await {
                Ok(created) => {
                    me.follow(created.id, t);
                    me.refresh_history();
                }
                Err(e) => me.error(e),
            }
        });
    }

    /// `POST /api/runs/{id}/{action}` for the followed run (approve, cancel).
    pub(super) fn post(&self, action: &'static str) {
        let (Some(t), Some(id)) = (self.token(), self.run_id()) else { return };
        let me = self.clone();
        spawn_local(async move {
            if let Err(e) = server_api::json::<()>("POST", &format!("/api/runs/{id}/{action}"), Some(&t), None).await {
                me.error(e);
            }
        });
    }

    /// The full log comes from the server (the page keeps only the newest lines of a long
    /// run), in the same text `slipway steps` prints.
    pub(super) fn download_log(&self) {
        let (Some(t), Some(id)) = (self.token(), self.run_id()) else { return };
        let me = self.clone();
        spawn_local(async move {
            match server_api::bytes(&format!("/api/runs/{id}/log"), &t).await {
                Ok(bytes) => download(&format!("slipway-run-{id}.log"), &bytes, "text/plain"),
                Err(e) => me.error(e),
            }
        });
    }

    /// Project `project`'s files into the editors (`on_load`), after asking; `current` are the
    /// editors' texts, to say so when they already hold them.
    pub(super) fn load_files(&self, project: String, current: (String, String), on_load: Callback<(String, String)>) {
        let Some(t) = self.token() else { return self.say(Message::Error("enter the API token first".into())) };
        let me = self.clone();
        spawn_local(async move {
            let path = format!("/api/projects/{}/files", String::from(js_sys::encode_uri_component(&project)));
            let files = match server_api::json::<ProjectFiles>("GET", &path, Some(&t), None).await {
                Ok(f) => f,
                Err(e) => return me.error(e),
            };
            if current == (files.services.clone(), files.steps.clone()) {
                return me.say(Message::Info(format!("The editors already hold project {project}'s files.")));
            }
            let sure = gloo::utils::window()
                .confirm_with_message(&format!(
                    "Replace both editors' text with project {project}'s files? Ctrl+Z in an editor brings its text back."
                ))
                .unwrap_or(false);
            if sure {
                on_load.emit((files.services, files.steps));
                me.say(Message::Info(format!(
                    "Loaded project {project}'s files into the editors (Ctrl+Z in an editor undoes it)."
                )));
            }
        });
    }
}
