//! Runs by link: `#/runs/{id}` in the page's address opens that run, and opening a run puts
//! it there, so the address can be shared or bookmarked (commit statuses link to it).

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

const PREFIX: &str = "#/runs/";

/// The run id of a `#/runs/{id}` fragment.
pub(super) fn run_of(hash: &str) -> Option<String> {
    let id = hash.strip_prefix(PREFIX)?.trim_end_matches('/');
    let ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| id.to_string())
}

/// The run the page's address names, if it names one.
pub(super) fn run_in_address() -> Option<String> {
    run_of(&gloo::utils::window().location().hash().ok()?)
}

/// Name run `id` in the address (a no-op when it is named already, so no `hashchange` loop).
pub(super) fn show(id: &str) {
    let location = gloo::utils::window().location();
    let want = format!("{PREFIX}{id}");
    if location.hash().ok().as_deref() != Some(want.as_str()) {
        let _ = location.set_hash(&want[1..]);
    }
}

/// Calls `open` with the run id whenever the address changes to name a run; the listener
/// stays while the returned value lives.
pub(super) fn on_change(open: impl Fn(String) + 'static) -> Listener {
    let closure = Closure::<dyn Fn()>::new(move || {
        if let Some(id) = run_in_address() {
            open(id);
        }
    });
    let _ = gloo::utils::window().add_event_listener_with_callback("hashchange", closure.as_ref().unchecked_ref());
    Listener(closure)
}

pub(super) struct Listener(Closure<dyn Fn()>);

impl Drop for Listener {
    fn drop(&mut self) {
        let _ =
            gloo::utils::window().remove_event_listener_with_callback("hashchange", self.0.as_ref().unchecked_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::run_of;

    #[test]
    fn only_a_runs_fragment_with_a_plain_id_names_a_run() {
        assert_eq!(run_of("#/runs/r-12ab"), Some("r-12ab".into()));
        assert_eq!(run_of("#/runs/r-12ab/"), Some("r-12ab".into()));
        for no in ["", "#", "#/runs/", "#run-panel", "#/runs/a/b", "#/runs/<x>", "/runs/abc"] {
            assert_eq!(run_of(no), None, "{no:?}");
        }
    }
}
