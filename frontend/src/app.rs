//! The studio: editors with live diagnostics, the build preview, and the crypto panel.

use crate::components::crypto_panel::CryptoPanel;
use crate::components::diagnostics::Diagnostics;
use crate::components::editor::{self, Editor, Editors};
use crate::components::export_panel::ExportPanel;
use crate::components::files::{download, file_list, read_files};
use crate::components::preview::Preview;
use crate::components::project_bar::ProjectBar;
use crate::components::run_panel::RunPanel;
use crate::hooks::use_debounced::use_debounced;
use crate::language::{self, PlanUpdate};
use crate::project::{self, Commit, Fetched, Served, Status};
use crate::server_api;
use crate::state::{Action, BuildInputs, FileKind, SharedPlan, State, save_drafts};
use crate::token_share;
use crate::wire::Project;
use slipway_core::ide::QuickFix;
use slipway_core::plan::PlanOptions;
use slipway_core::template::BuildVars;
use slipway_core::{Diagnostic, Report};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::spawn_local;
use web_sys::{DragEvent, HtmlInputElement};
use yew::prelude::*;

/// What the Problems list and the preview show of the analysis worker's last report.
struct Shown {
    report: Report,
    fixes: Vec<Vec<QuickFix>>,
    took_ms: f64,
    /// The plan when the files are valid.
    plan: Option<SharedPlan>,
}

/// Debounce for saving drafts while typing, once storing them takes long enough to be felt;
/// smaller files are saved on the next tick.
const DEBOUNCE_MS: u32 = 120;
const INSTANT_CHECK_BYTES: usize = 48 * 1024;

/// The plan's options from the build values. The branch is trimmed as the Run panel trims it
/// (`run_panel::form::tag`), so the plan shown is the one a run gets.
fn plan_options(b: &BuildInputs) -> PlanOptions {
    let branch = b.branch.trim();
    let tag = (!branch.is_empty()).then(|| branch.to_string());
    PlanOptions { tag, push: b.push, vars: build_vars(b) }
}

fn build_vars(b: &BuildInputs) -> BuildVars {
    BuildVars {
        branch: b.branch.trim().to_string(),
        commit_id: b.commit_id.clone(),
        committer_name: b.committer.clone(),
        commit_message: b.message.clone(),
        build_id: b.build_id.clone(),
        timestamp: b.timestamp,
        ..BuildVars::default()
    }
}

fn kind_of_diagnostic(d: &Diagnostic) -> FileKind {
    if d.file == FileKind::Services.file_name() { FileKind::Services } else { FileKind::Steps }
}

fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

fn performance_now() -> f64 {
    gloo::utils::window().performance().map_or(0.0, |p| p.now())
}

/// Bring a part of the page into view and move the focus there (the header's links: the page
/// is taller than a screen), so the keyboard goes on from it. Not a `#` link: the address
/// names the opened run (`#/runs/{id}`).
fn scroll_to(selector: &'static str) -> Callback<MouseEvent> {
    Callback::from(move |_| {
        let Ok(Some(el)) = gloo::utils::document().query_selector(selector) else { return };
        el.scroll_into_view_with_bool(true);
        // Focusable by script only, not a stop for Tab.
        if !el.has_attribute("tabindex") {
            let _ = el.set_attribute("tabindex", "-1");
        }
        if let Some(el) = wasm_bindgen::JsCast::dyn_ref::<web_sys::HtmlElement>(&el) {
            let _ = el.focus();
        }
    })
}

/// Which editor a file belongs in, from its name.
fn kind_of(name: &str) -> Option<FileKind> {
    match name {
        "codeship-services.yml" | "codeship-services.yaml" | "docker-compose.yml" | "docker-compose.yaml" => {
            Some(FileKind::Services)
        }
        "codeship-steps.yml" | "codeship-steps.yaml" | "codeship-steps.json" => Some(FileKind::Steps),
        _ => None,
    }
}

/// A window event listener, removed when dropped.
struct WindowListener(&'static str, Closure<dyn Fn()>);

impl WindowListener {
    fn new(event: &'static str, f: impl Fn() + 'static) -> WindowListener {
        let closure = Closure::<dyn Fn()>::new(f);
        let _ = gloo::utils::window().add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
        WindowListener(event, closure)
    }
}

impl Drop for WindowListener {
    fn drop(&mut self) {
        let _ = gloo::utils::window().remove_event_listener_with_callback(self.0, self.1.as_ref().unchecked_ref());
    }
}

/// Open project `name` of `projects`: its files into the editors (unless they hold edits),
/// its commit's values into the preview. `current` is the project the page shows: an answer for
/// one switched away from meanwhile is dropped.
fn open_project(
    name: String,
    projects: Rc<RefCell<Vec<Project>>>,
    current: Rc<RefCell<Option<String>>>,
    served: UseStateHandle<Served>,
    state: UseReducerHandle<State>,
    panel_gen: UseStateHandle<f64>,
) {
    let list = projects.borrow().clone();
    let Some(p) = list.iter().find(|p| p.name == name).cloned() else { return };
    *current.borrow_mut() = Some(name.clone());
    served.set(Served::Projects { list: list.clone(), current: name.clone(), status: Status::Loading });
    spawn_local(async move {
        let fetched = project::fetch(&p).await;
        if current.borrow().as_deref() != Some(name.as_str()) {
            return;
        }
        let status = match fetched {
            Fetched::Files(o, from_tab) => {
                // The Run panel read the token when it was drawn: drawn again, it has this one.
                if from_tab {
                    panel_gen.set(js_sys::Date::now());
                }
                let o = *o;
                state.dispatch(Action::Open(o.services, o.steps));
                if let Commit::Git(c) = &o.commit {
                    state.dispatch(Action::Commit(c.clone()));
                }
                Status::Loaded(o.commit)
            }
            Fetched::Status(s) => s,
        };
        served.set(Served::Projects { list, current: name, status });
    });
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(|| State::load(now_secs()));
    let notice = use_state(|| None::<String>);
    let editors: Editors = use_mut_ref(Vec::new);
    // Time from navigation start to the first render with live editors, for docs/perf.md.
    use_effect_with((), |_| {
        let _ = js_sys::Reflect::set(&gloo::utils::window(), &"slipwayInteractiveMs".into(), &performance_now().into());
    });

    // The project the page is served with, if any (`project.rs`), and a value that changes
    // when the user switches projects or a token is entered in the header or comes from
    // another tab: the Run panel, which reads its project and token when drawn, is drawn anew.
    let served = use_state(|| Served::Checking);
    let projects = use_mut_ref(Vec::<Project>::new);
    let current = use_mut_ref(|| None::<String>);
    let panel_gen = use_state(|| 0.0_f64);
    let latest_served = use_mut_ref(|| Served::Checking);
    *latest_served.borrow_mut() = (*served).clone();
    let open = {
        let (projects, current, served, state, panel_gen) =
            (projects.clone(), current.clone(), served.clone(), state.clone(), panel_gen.clone());
        Callback::from(move |name: String| {
            open_project(name, projects.clone(), current.clone(), served.clone(), state.clone(), panel_gen.clone())
        })
    };
    {
        let (served, projects, open) = (served.clone(), projects.clone(), open.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                match project::list().await {
                    None => served.set(Served::Example),
                    Some(list) => {
                        let name = project::pick(&list, project::in_address());
                        *projects.borrow_mut() = list;
                        open.emit(name);
                    }
                }
            });
        });
    }
    // This tab's token for the studio's other tabs; a token entered anywhere on the page (here
    // or in the Run panel) opens the project that waits for one; `#/projects/{name}` typed into
    // the address opens that project.
    {
        let (open, latest_served, current, panel_gen) =
            (open.clone(), latest_served.clone(), current.clone(), panel_gen.clone());
        use_effect_with((), move |_| {
            let responder = token_share::answer_other_tabs();
            let on_token = {
                let open = open.clone();
                WindowListener::new(server_api::TOKEN_EVENT, move || {
                    let waiting = match &*latest_served.borrow() {
                        Served::Projects { status: Status::NeedsToken { .. }, current, .. } => Some(current.clone()),
                        _ => None,
                    };
                    if let Some(name) = waiting
                        && server_api::saved_token().is_some()
                    {
                        open.emit(name);
                    }
                })
            };
            let on_hash = WindowListener::new("hashchange", move || {
                if let Some(name) = project::in_address()
                    && current.borrow().as_deref().is_some_and(|c| c != name)
                {
                    panel_gen.set(js_sys::Date::now());
                    open.emit(name);
                }
            });
            move || drop((responder, on_token, on_hash))
        });
    }
    let current_name = match &*served {
        Served::Projects { current, .. } => current.clone(),
        _ => String::new(),
    };
    use_effect_with(current_name.clone(), |name| {
        let title = if name.is_empty() { "Slipway studio".to_string() } else { format!("{name} · Slipway studio") };
        gloo::utils::document().set_title(&title);
    });
    let on_switch = {
        let (open, panel_gen) = (open.clone(), panel_gen.clone());
        Callback::from(move |name: String| {
            project::show(&name);
            panel_gen.set(js_sys::Date::now());
            open.emit(name);
        })
    };
    let on_token = {
        let panel_gen = panel_gen.clone();
        Callback::from(move |t: String| {
            // The listener above opens the waiting project.
            server_api::save_token(Some(&t));
            panel_gen.set(js_sys::Date::now());
        })
    };
    // The project's files over the user's edits: only when asked, and undoable.
    let on_load_offered = {
        let state = state.clone();
        let name = current_name.clone();
        Callback::from(move |_| {
            let Some((services, steps)) = state.offered.clone() else { return };
            let sure = gloo::utils::window()
                .confirm_with_message(&format!(
                    "Replace both editors' text with project {name}'s files? Ctrl+Z in an editor brings its text back."
                ))
                .unwrap_or(false);
            if sure {
                state.dispatch(Action::Load(services, steps));
            }
        })
    };

    // Drafts follow the text: at once while it is small, after a pause when not.
    let size = state.services.len() + state.steps.len();
    let delay = if size < INSTANT_CHECK_BYTES { 0 } else { DEBOUNCE_MS };
    let settled = use_debounced((AttrValue::from(state.services.clone()), AttrValue::from(state.steps.clone())), delay);
    use_effect_with(settled.clone(), |(services, steps)| save_drafts(services, steps));
    // The check (with the preview's build values) runs in the analysis worker, off this
    // thread; the Problems list and the preview show its report of the settled texts.
    use_effect_with(state.build.clone(), |b| language::set_options(&plan_options(b)));
    let last_plan = use_mut_ref(|| None::<SharedPlan>);
    let checked = use_state(|| None::<Rc<Shown>>);
    {
        let (set, last_plan) = (checked.setter(), last_plan.clone());
        use_effect_with((), move |_| {
            let on = language::OnChecked::new(move |c| {
                // An unchanged plan keeps its identity, so the preview (5,000 steps: a costly
                // render) is not drawn again.
                let plan = match c.plan {
                    PlanUpdate::Invalid => None,
                    PlanUpdate::Same => last_plan.borrow().clone(),
                    PlanUpdate::New(p) => Some(SharedPlan(Rc::new(*p))),
                };
                set.set(Some(Rc::new(Shown { report: c.report, fixes: c.fixes, took_ms: c.took_ms, plan })));
            });
            move || drop(on)
        });
    }
    let (report, fixes, took_ms, valid_plan) = match &*checked {
        Some(c) => (c.report.clone(), c.fixes.clone(), c.took_ms, c.plan.clone()),
        None => (Report::default(), Vec::new(), 0.0, None),
    };
    let build = state.build.clone();
    // With errors, the last valid plan stays on show, marked stale.
    let (shown_plan, stale) = match &valid_plan {
        Some(p) => {
            *last_plan.borrow_mut() = Some(p.clone());
            (Some(p.clone()), false)
        }
        None => (last_plan.borrow().clone(), checked.is_some()),
    };

    let on_edit = |kind: FileKind| {
        let state = state.clone();
        Callback::from(move |text: String| state.dispatch(Action::Edit(kind, text)))
    };
    let on_select = {
        let editors = editors.clone();
        Callback::from(move |d: Diagnostic| editor::go_to(&editors, kind_of_diagnostic(&d), d.span.start))
    };
    let on_fix = {
        let editors = editors.clone();
        Callback::from(move |fix: QuickFix| editor::apply_fix(&editors, &fix))
    };
    let on_build = {
        let state = state.clone();
        Callback::from(move |b| state.dispatch(Action::Build(b)))
    };
    // A project's files from the server; undoable in the editors like any replacement.
    let on_load = {
        let state = state.clone();
        Callback::from(move |(services, steps): (String, String)| state.dispatch(Action::Load(services, steps)))
    };
    // Undoable in the editors (Ctrl+Z), but a whole project's edits are worth a question.
    let on_reset = {
        let state = state.clone();
        Callback::from(move |_| {
            let sure = gloo::utils::window()
                .confirm_with_message(
                    "Replace both files with the example project? Ctrl+Z in an editor brings its text back.",
                )
                .unwrap_or(false);
            if sure {
                state.dispatch(Action::Reset);
            }
        })
    };
    let load_files = {
        let state = state.clone();
        let notice = notice.clone();
        move |files: Vec<web_sys::File>| {
            let state = state.clone();
            let notice = notice.clone();
            read_files(files, move |name, bytes| match kind_of(&name) {
                Some(kind) => {
                    state.dispatch(Action::Edit(kind, String::from_utf8_lossy(&bytes).into_owned()));
                    notice.set(Some(format!("Opened {name}")));
                }
                None => notice.set(Some(format!("Ignored {name}: not a Codeship services or steps file"))),
            });
        }
    };
    let on_pick = {
        let load_files = load_files.clone();
        Callback::from(move |e: Event| load_files(file_list(e.target_unchecked_into::<HtmlInputElement>().files())))
    };
    let on_drop = {
        let load_files = load_files.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            load_files(file_list(e.data_transfer().and_then(|d| d.files())));
        })
    };
    let on_dragover = Callback::from(|e: DragEvent| e.prevent_default());
    let on_download = |kind: FileKind| {
        let state = state.clone();
        Callback::from(move |_| download(kind.file_name(), state.text(kind).as_bytes(), "text/yaml"))
    };

    html! {
        <div class="studio" ondrop={on_drop} ondragover={on_dragover}>
            <header class="top">
                <h1>{ "Slipway studio" }</h1>
                <ProjectBar served={(*served).clone()} offered={state.offered.is_some()} {on_switch} {on_token} {on_load_offered} />
                <span class="muted">{ "Codeship Pro configs, checked in your browser. Nothing you type here leaves this page unless you run it on the server." }</span>
                <div class="actions">
                    <label class="file">{ "Open files " }<input type="file" multiple=true onchange={on_pick.clone()} /></label>
                    <label class="file">{ "Open folder " }<input type="file" webkitdirectory=true onchange={on_pick} /></label>
                    <button onclick={on_download(FileKind::Services)}>{ "Download services" }</button>
                    <button onclick={on_download(FileKind::Steps)}>{ "Download steps" }</button>
                    <button data-testid="reset-button" onclick={on_reset}>{ "Reset to example" }</button>
                </div>
                <nav class="jump" aria-label="Parts of the page">
                    <button onclick={scroll_to("[data-testid=diagnostics]")}>{ "Problems" }</button>
                    <button onclick={scroll_to(".preview")}>{ "Preview" }</button>
                    <button data-testid="nav-run" onclick={scroll_to("#run-panel")}>{ "Run on the server" }</button>
                </nav>
                if let Some(n) = &*notice { <p class="notice">{ n }</p> }
            </header>
            <main>
                <div class="editors">
                    <Editor title="codeship-services.yml" kind={FileKind::Services} text={AttrValue::from(state.services.clone())}
                        editors={editors.clone()} on_change={on_edit(FileKind::Services)} />
                    <Editor title="codeship-steps.yml" kind={FileKind::Steps} text={AttrValue::from(state.steps.clone())}
                        editors={editors.clone()} on_change={on_edit(FileKind::Steps)} />
                </div>
                <Diagnostics diagnostics={report.diagnostics.clone()} {fixes} errors={report.errors}
                    warnings={report.warnings} on_select={on_select.clone()} {on_fix} took_ms={took_ms} />
                <div class="lower">
                    <Preview build={build.clone()} plan={shown_plan.clone()} {stale} on_change={on_build.clone()} />
                    <CryptoPanel plan={valid_plan} />
                </div>
                // Drawn once the page knows its project, so the panel starts on it.
                if *served != Served::Checking {
                    <RunPanel key={panel_gen.to_string()} project={(!current_name.is_empty()).then(|| AttrValue::from(current_name.clone()))}
                        services={AttrValue::from(state.services.clone())} steps={AttrValue::from(state.steps.clone())}
                        {build} {on_build} {on_load} on_show_error={on_select.clone()} />
                }
                <ExportPanel services={AttrValue::from(state.services.clone())} steps={AttrValue::from(state.steps.clone())} />
            </main>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_trims_the_branch_as_a_run_does() {
        let mut b = BuildInputs {
            branch: " main ".into(),
            commit_id: String::new(),
            committer: String::new(),
            message: String::new(),
            build_id: String::new(),
            timestamp: 0,
            push: false,
        };
        let o = plan_options(&b);
        assert_eq!((o.tag.as_deref(), o.vars.branch.as_str()), (Some("main"), "main"));
        b.branch = "  ".into();
        assert_eq!(plan_options(&b).tag, None);
    }
}
