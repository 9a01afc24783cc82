//! The Run panel: start a run of a project registered with `slipway serve`, follow it live
//! (a stage graph coloured by status, the log with search and line numbers), approve a manual
//! group, cancel, rerun, download the full log, load a project's files into the editors, and
//! reopen past runs (also by link: `#/runs/{id}`).
//!
//! One reducer (`state.rs`) holds the panel's state; `api.rs` asks the server and reports
//! through its actions; the parts are components: `StartForm`, `Toolbar`, `Graph`, `LogView`,
//! `History`. Events land in a `RunLog` off the DOM (`follow.rs`); the view catches up at
//! most every `FLUSH_MS`, showing the last `RENDER_CAP` lines.

mod api;
mod badge;
mod current;
mod follow;
pub(crate) mod form;
mod graph;
mod history;
mod link;
mod log_rows;
mod log_search;
mod log_view;
mod start_form;
mod state;
mod toolbar;
mod trigger;

use crate::server_api;
use crate::state::{BuildInputs, FileKind};
use crate::wire::{NewRun, startable};
use api::Ctl;
use follow::{Following, Shared};
use history::History;
use slipway_core::{Diagnostic, Severity, SourceFile};
use start_form::{StartForm, TokenRow};
use state::{Action, Message, RunPanelState, ServerState};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct RunPanelProps {
    /// The editors' files, sent only when "use the editors' files" is ticked.
    pub services: AttrValue,
    pub steps: AttrValue,
    /// The build preview's values: the branch and push of a run are the preview's.
    pub build: BuildInputs,
    pub on_build: Callback<BuildInputs>,
    /// A project's files, to replace the editors' text (`(services, steps)`).
    pub on_load: Callback<(String, String)>,
    /// Show this diagnostic in its editor (the first error, when a run is refused for it).
    pub on_show_error: Callback<Diagnostic>,
    /// The project the page opened (the header's), selected at first; else the server's first.
    #[prop_or_default]
    pub project: Option<AttrValue>,
}

#[function_component(RunPanel)]
pub fn run_panel(props: &RunPanelProps) -> Html {
    let state = use_reducer(|| RunPanelState { token: server_api::saved_token(), ..RunPanelState::default() });
    let shared: Shared = use_mut_ref(Following::default);
    let pending = use_mut_ref(|| None::<String>);
    let ctl = Ctl { state: state.clone(), shared: shared.clone(), pending: pending.clone() };
    let current_ref = use_node_ref();
    let goto_ref = use_node_ref();
    // The editors' files as of the panel's latest render. A click can arrive before the panel
    // has re-rendered after an edit (Yew renders in a later task, and under load yields to the
    // browser between components), so the Run button reads them only after pending renders.
    let latest = use_mut_ref(|| (props.services.clone(), props.steps.clone(), props.build.clone()));
    *latest.borrow_mut() = (props.services.clone(), props.steps.clone(), props.build.clone());

    use_panel_effects(&ctl, &current_ref, &goto_ref, props.project.clone());

    let projects = match &state.server {
        ServerState::Checking => {
            return html! { <RunShell><p class="muted">{ "Looking for the run API…" }</p></RunShell> };
        }
        ServerState::Unavailable(m) => {
            return html! { <RunShell><p class="muted" data-testid="run-unavailable">
                { format!("Runs need the studio served by `slipway serve --project NAME=PATH` ({m}).") }
            </p></RunShell> };
        }
        ServerState::Ready(p) if p.is_empty() => {
            return html! { <RunShell><p class="muted" data-testid="run-unavailable">
                { "This server has no projects: start it with `slipway serve --project NAME=PATH`." }
            </p></RunShell> };
        }
        ServerState::Ready(p) => p.clone(),
    };

    let on_save_token = {
        let ctl = ctl.clone();
        Callback::from(move |t: String| {
            server_api::save_token(Some(&t));
            ctl.state.dispatch(Action::Token(Some(t.clone())));
            // The run the address named, now that it can be read.
            if let Some(id) = ctl.pending.borrow_mut().take() {
                ctl.open(id, Some(t));
            }
        })
    };
    let on_forget_token = state.dispatcher().to_callback().reform(|_| {
        server_api::save_token(None);
        Action::Token(None)
    });
    let start = {
        let (ctl, latest) = (ctl.clone(), latest.clone());
        Callback::from(move |_| {
            let (ctl, latest) = (ctl.clone(), latest.clone());
            spawn_local(async move {
                // One task later: renders queued by the edit (microtasks, or a task the
                // scheduler yielded to) have run, and `latest` is the editors' text.
                gloo::timers::future::TimeoutFuture::new(0).await;
                let (services, steps, build) = latest.borrow().clone();
                let (project, use_edits) = (ctl.state.project.clone(), ctl.state.use_edits);
                // Checked now rather than taken from the editors' debounced check, which may be
                // a keystroke behind.
                if use_edits && let Some((count, first)) = edited_errors(&services, &steps) {
                    return ctl.state.dispatch(Action::Say(Some(Message::EditorErrors { count, first })));
                }
                let body = serde_json::to_string(&NewRun {
                    project: &project,
                    tag: form::tag(&build.branch),
                    push: build.push,
                    services: use_edits.then_some(services.as_str()),
                    steps: use_edits.then_some(steps.as_str()),
                })
                .unwrap_or_default();
                ctl.queue("/api/runs".into(), Some(body));
            });
        })
    };
    let load_files = {
        let (ctl, latest, on_load) = (ctl.clone(), latest.clone(), props.on_load.clone());
        Callback::from(move |_| {
            let (services, steps, _) = latest.borrow().clone();
            ctl.load_files(ctl.state.project.clone(), (services.to_string(), steps.to_string()), on_load.clone());
        })
    };
    let on_build = |make: fn(BuildInputs, &str, bool) -> BuildInputs| {
        let (cb, build) = (props.on_build.clone(), props.build.clone());
        move |text: String, on: bool| cb.emit(make(build.clone(), &text, on))
    };
    let on_branch = on_build(|b, branch, _| BuildInputs { branch: branch.to_string(), ..b });
    let on_push = on_build(|b, _, push| BuildInputs { push, ..b });
    let dispatch = state.dispatcher().to_callback();

    html! {
        <RunShell>
            <TokenRow has_token={state.token.is_some()} on_save={on_save_token} on_forget={on_forget_token} />
            <StartForm projects={projects.clone()} project={state.project.clone()} use_edits={state.use_edits}
                branch={props.build.branch.clone()} push={props.build.push} can_start={startable(&projects, &state.project)}
                on_project={dispatch.reform(Action::Project)} on_edits={dispatch.reform(Action::UseEdits)}
                on_branch={Callback::from(move |b| on_branch(b, false))} on_push={Callback::from(move |p| on_push(String::new(), p))}
                on_start={start} on_load_files={load_files} />
            { badge::render(&state.project, &props.build.branch) }
            { message_view(&state.message, &props.on_show_error, &goto_ref) }
            { current::current_run(&ctl, &projects, &current_ref) }
            <History runs={state.history.clone()} projects={projects.iter().map(|p| p.name.clone()).collect::<Vec<_>>()}
                filter={state.filter.clone()}
                on_filter={let ctl = ctl.clone(); Callback::from(move |f| { ctl.state.dispatch(Action::Filter(f)); ctl.refresh_history(); })}
                on_open={let ctl = ctl.clone(); Callback::from(move |id| ctl.open(id, ctl.token()))}
                on_refresh={let ctl = ctl.clone(); Callback::from(move |_| ctl.refresh_history())} />
        </RunShell>
    }
}

/// The panel's effects: the project list at start, runs named by the address, the opened run
/// into view, focus on the way to an editor error, and a clock while a run goes on.
#[hook]
fn use_panel_effects(ctl: &Ctl, current_ref: &NodeRef, goto_ref: &NodeRef, opened: Option<AttrValue>) {
    // The listeners below outlive this render: they call the newest `Ctl`.
    let latest = use_mut_ref(|| ctl.clone());
    *latest.borrow_mut() = ctl.clone();
    {
        let (latest, opened) = (latest.clone(), opened);
        use_effect_with((), move |_| {
            spawn_local(async move {
                let list = server_api::json::<crate::wire::ProjectList>("GET", "/api/projects", None, None).await;
                let ctl = latest.borrow().clone();
                match list {
                    Ok(list) => {
                        // The project the page opened, if the server has it; else its first.
                        if let Some(o) = opened.filter(|o| list.projects.iter().any(|p| p.name == o.as_str())) {
                            ctl.state.dispatch(Action::Project(o.to_string()));
                        }
                        ctl.state.dispatch(Action::Server(ServerState::Ready(list.projects)));
                        ctl.refresh_history();
                        if let Some(id) = link::run_in_address() {
                            ctl.open(id, ctl.token());
                        }
                    }
                    Err(e) => ctl.state.dispatch(Action::Server(ServerState::Unavailable(e.to_string()))),
                }
            });
        });
    }
    // `#/runs/{id}` typed or pasted into this tab's address opens that run.
    use_effect_with((), move |_| {
        let listener = link::on_change(move |id| {
            let ctl = latest.borrow().clone();
            ctl.open(id, ctl.token())
        });
        move || drop(listener)
    });
    // A run opened or started comes into view: its graph and log are below the form.
    let current_id = ctl.run_id();
    let running = current_id.is_some() && ctl.shared.borrow().log.finished.is_none();
    {
        let current_ref = current_ref.clone();
        use_effect_with(current_id, move |id| {
            if id.is_some()
                && let Some(el) = current_ref.cast::<web_sys::Element>()
            {
                el.scroll_into_view_with_bool(true);
            }
        });
    }
    // A refusal for the editors' errors puts the way to the first one under the keyboard.
    {
        let goto_ref = goto_ref.clone();
        let refused = matches!(&ctl.state.message, Some(Message::EditorErrors { .. }));
        use_effect_with((refused, ctl.state.message.clone()), move |(refused, _)| {
            if *refused && let Some(b) = goto_ref.cast::<web_sys::HtmlElement>() {
                let _ = b.focus();
            }
        });
    }
    // The running time counts up while the run goes on.
    let redraw = ctl.state.dispatcher();
    use_effect_with(running, move |running| {
        let tick =
            running.then(|| gloo::timers::callback::Interval::new(1000, move || redraw.dispatch(Action::Redraw)));
        move || drop(tick)
    });
}

fn message_view(message: &Option<Message>, on_show_error: &Callback<Diagnostic>, goto_ref: &NodeRef) -> Html {
    match message {
        None => html! {},
        Some(Message::Error(m)) => html! { <p class="msg bad" data-testid="run-message">{ m }</p> },
        Some(Message::Info(m)) => html! { <p class="msg" data-testid="run-info">{ m }</p> },
        Some(Message::EditorErrors { count, first }) => {
            let d = first.clone();
            let onclick = on_show_error.reform(move |_| d.clone());
            html! {
                <p class="msg bad" data-testid="run-message">
                    { format!("the editors' files have {count} error(s): fix them (see Problems), or run the project's files. ") }
                    <button data-testid="run-goto-error" ref={goto_ref.clone()} {onclick}>
                        { format!("Go to the first error: {} line {}", first.file, first.line) }</button>
                </p>
            }
        }
    }
}

/// The number of errors in the editors' files and the first of them, if there are any.
fn edited_errors(services: &str, steps: &str) -> Option<(usize, Diagnostic)> {
    let sv = SourceFile::new(FileKind::Services.file_name(), services.to_string());
    let st = SourceFile::new(FileKind::Steps.file_name(), steps.to_string());
    let report = slipway_core::check(&sv, &st).report;
    let first = report.diagnostics.into_iter().find(|d| d.severity == Severity::Error)?;
    Some((report.errors, first))
}

#[derive(Properties, PartialEq)]
struct ShellProps {
    children: Html,
}

#[function_component(RunShell)]
fn run_shell(props: &ShellProps) -> Html {
    html! {
        <section class="runs" id="run-panel" data-testid="run-panel">
            <header>{ "Run on the server" }</header>
            { props.children.clone() }
        </section>
    }
}
