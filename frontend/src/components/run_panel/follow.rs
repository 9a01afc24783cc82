//! Following a run's events: the stream read into a `RunLog` off the DOM, the view redrawn at
//! most every `FLUSH_MS`, reconnects that resume after the last event applied.

use super::wire::RunSummary;
use crate::run_log::{RunLog, SseParser};
use crate::server_api::{self, ApiError};
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
}

pub(super) type Shared = Rc<RefCell<Following>>;

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
        f.log = RunLog::default();
        // Line times in the reader's zone (`getTimezoneOffset` is minutes west of UTC).
        f.log.clock = Some(-(js_sys::Date::new_0().get_timezone_offset() as i64));
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
            match result {
                Ok(()) if finished => return on_end.emit(None),
                Err(e @ (ApiError::Unauthorized | ApiError::Server(..))) => return on_end.emit(Some(e)),
                _ if reconnects >= MAX_RECONNECTS => {
                    let e = "the event stream keeps dropping; reopen the run from the list";
                    return on_end.emit(Some(ApiError::Unreachable(e.into())));
                }
                _ => {}
            }
            // The stream ended early (server restart, network). A run that ended without its
            // last event (older servers did not send one for interrupted runs) ends here;
            // otherwise resume after the last event applied.
            if let Ok(run) = server_api::json::<RunSummary>("GET", &format!("/api/runs/{id}"), None, None).await
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
