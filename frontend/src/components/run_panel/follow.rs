//! Following a run's events: the stream read into a `RunLog` off the DOM, the view redrawn at
//! most every `FLUSH_MS`, reconnects that resume after the last event applied.

use crate::run_log::{RunLog, SseParser};
use crate::server_api::{self, ApiError};
use crate::wire::RunSummary;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;
use yew::Callback;

/// The view redraws at most this often while events stream in.
const FLUSH_MS: u32 = 100;
/// Reconnects after a dropped event stream before giving up.
const MAX_RECONNECTS: u32 = 30;

/// The run being followed, shared between the stream reader and the view.
#[derive(Default)]
pub(super) struct Following {
    pub(super) id: Option<String>,
    pub(super) log: RunLog,
    /// Bumped when another run is opened: the old reader sees it and stops.
    pub(super) generation: u32,
    pub(super) flush_pending: bool,
    /// The reader gave up with an error (token refused, server error, stream kept dropping):
    /// opening the run again follows it anew.
    pub(super) stopped: bool,
}

impl Following {
    /// Whether run `id` is being followed now (so opening it again has nothing to do).
    pub(super) fn follows(&self, id: &str) -> bool {
        self.id.as_deref() == Some(id) && !self.stopped
    }

    /// No run any more (one that does not exist): its reader, if any, stops.
    pub(super) fn forget(&mut self) {
        self.generation += 1;
        self.id = None;
        self.log = RunLog::default();
        self.stopped = false;
    }
}

pub(super) type Shared = Rc<RefCell<Following>>;

/// The reader's zone's offset east of UTC, in minutes, at Unix millisecond `ms`: asked per
/// line, as a run can cross a daylight-saving change (`getTimezoneOffset` is minutes west).
fn local_offset(ms: u64) -> i64 {
    -(js_sys::Date::new(&(ms as f64).into()).get_timezone_offset() as i64)
}

/// Follow run `id` from its first event; reconnects resume after the last event applied.
pub(super) fn follow(
    shared: &Shared,
    id: String,
    token: String,
    redraw: Callback<()>,
    on_end: Callback<Option<ApiError>>,
) {
    let generation = {
        let mut f = shared.borrow_mut();
        f.generation += 1;
        f.id = Some(id.clone());
        f.stopped = false;
        f.log = RunLog::default();
        f.log.clock = Some(local_offset);
        f.generation
    };
    redraw.emit(());
    let shared = shared.clone();
    spawn_local(async move {
        let mut reconnects = 0;
        loop {
            let after = shared.borrow().log.last_seq;
            let mut parser = SseParser::default();
            let result = server_api::stream(&format!("/api/runs/{id}/events?after={after}"), &token, |chunk| {
                let mut f = shared.borrow_mut();
                if f.generation != generation {
                    return false;
                }
                for (seq, data) in parser.feed(chunk) {
                    f.log.apply(seq, &data);
                }
                if !f.flush_pending {
                    f.flush_pending = true;
                    let (shared, redraw) = (shared.clone(), redraw.clone());
                    gloo::timers::callback::Timeout::new(FLUSH_MS, move || {
                        shared.borrow_mut().flush_pending = false;
                        redraw.emit(());
                    })
                    .forget();
                }
                true
            })
            .await;
            let (current, finished) = {
                let f = shared.borrow();
                (f.generation == generation, f.log.finished.is_some())
            };
            if !current {
                return;
            }
            let gave_up = match result {
                Ok(()) if finished => return on_end.emit(None),
                Err(e @ (ApiError::Unauthorized | ApiError::Server(..))) => Some(e),
                _ if reconnects >= MAX_RECONNECTS => {
                    let e = "the event stream keeps dropping; reopen the run from the list";
                    Some(ApiError::Unreachable(e.into()))
                }
                _ => None,
            };
            if let Some(e) = gave_up {
                shared.borrow_mut().stopped = true;
                return on_end.emit(Some(e));
            }
            // The stream ended early (server restart, network). A run that ended without its
            // last event (older servers did not send one for interrupted runs) ends here;
            // otherwise resume after the last event applied.
            if let Ok(run) = server_api::json::<RunSummary>("GET", &format!("/api/runs/{id}"), Some(&token), None).await
                && run.status.is_finished()
            {
                let mut f = shared.borrow_mut();
                if f.generation == generation && f.log.finished.is_none() {
                    f.log.finished = Some((run.status, run.error));
                    drop(f);
                    redraw.emit(());
                    return on_end.emit(None);
                }
            }
            reconnects += 1;
            gloo::timers::future::TimeoutFuture::new(1000).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_whose_reader_gave_up_or_was_forgotten_is_not_followed() {
        let mut f = Following { id: Some("r1".into()), ..Following::default() };
        assert!(f.follows("r1") && !f.follows("r2"));
        f.stopped = true;
        assert!(!f.follows("r1"), "reopening a run whose stream ended follows it again");
        let before = f.generation;
        f.forget();
        assert!(!f.follows("r1") && f.id.is_none() && f.generation > before);
    }
}
