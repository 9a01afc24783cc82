//! The Run panel: start a run of a project registered with `slipway serve`, follow it live (the
//! graph coloured by status, the log of one step or of all), approve a manual group, cancel,
//! download the full log, and reopen past runs. Events land in a `RunLog` off the DOM; the
//! view catches up at most every `FLUSH_MS`, showing the last `RENDER_CAP` lines.

mod follow;
mod form;
mod history;
mod wire;

use crate::components::files::download;
use crate::components::plan_tree;
use crate::run_log::RENDER_CAP;
use crate::server_api::{self, ApiError};
use crate::state::FileKind;
use follow::{Following, Shared, follow};
use form::{FormAction, RunForm};
use history::History;
use slipway_core::SourceFile;
use slipway_core::run_state::RunStatus;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use wire::{Created, NewRun, ProjectList, RunSummary};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct RunPanelProps {
    /// The editors' files, sent only when "use the editors' files" is ticked.
    pub services: AttrValue,
    pub steps: AttrValue,
    /// The build preview's branch, the default for a run.
    pub branch: AttrValue,
}

#[derive(Clone, PartialEq)]
enum ServerState {
    Checking,
    Unavailable(String),
    Ready(Vec<String>),
}

#[function_component(RunPanel)]
pub fn run_panel(props: &RunPanelProps) -> Html {
    let server = use_state(|| ServerState::Checking);
    let token = use_state(server_api::saved_token);
    let form = use_reducer(|| RunForm::new(&props.branch));
    let message = use_state(|| None::<String>);
    let history = use_state(Vec::<RunSummary>::new);
    let selected = use_state(|| None::<String>);
    let shared: Shared = use_mut_ref(Following::default);
    let token_ref = use_node_ref();
    let log_ref = use_node_ref();
    let stick_to_bottom = use_mut_ref(|| true);
    let force = use_force_update();
    let redraw = Callback::from(move |_| force.force_update());

    let refresh_history = {
        let history = history.clone();
        Callback::from(move |_: ()| history::refresh(history.clone()))
    };
    // A refused token is forgotten at once, so the prompt comes back.
    let on_error = {
        let (token, message) = (token.clone(), message.clone());
        Callback::from(move |e: ApiError| {
            if e == ApiError::Unauthorized {
                server_api::save_token(None);
                token.set(None);
            }
            message.set(Some(e.to_string()));
        })
    };
    let on_end = {
        let (refresh_history, on_error) = (refresh_history.clone(), on_error.clone());
        Callback::from(move |e: Option<ApiError>| {
            if let Some(e) = e {
                on_error.emit(e);
            }
            refresh_history.emit(());
        })
    };

    {
        let (server, form, refresh_history) = (server.clone(), form.clone(), refresh_history.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                match server_api::json::<ProjectList>("GET", "/api/projects", None, None).await {
                    Ok(list) => {
                        let names: Vec<String> = list.projects.into_iter().map(|p| p.name).collect();
                        form.dispatch(FormAction::Project(names.first().cloned().unwrap_or_default()));
                        server.set(ServerState::Ready(names));
                        refresh_history.emit(());
                    }
                    Err(e) => server.set(ServerState::Unavailable(e.to_string())),
                }
            });
        });
    }
    // Keep the log scrolled to its end unless the reader scrolled up.
    {
        let (log_ref, stick) = (log_ref.clone(), stick_to_bottom.clone());
        use_effect(move || {
            if let Some(el) = log_ref.cast::<web_sys::Element>()
                && *stick.borrow()
            {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }
    let on_log_scroll = {
        let (log_ref, stick) = (log_ref.clone(), stick_to_bottom.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = log_ref.cast::<web_sys::Element>() {
                *stick.borrow_mut() = el.scroll_top() + el.client_height() >= el.scroll_height() - 24;
            }
        })
    };

    let save_token = {
        let (token, token_ref, message) = (token.clone(), token_ref.clone(), message.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let value = token_ref.cast::<HtmlInputElement>().map(|i| i.value().trim().to_string()).unwrap_or_default();
            if !value.is_empty() {
                server_api::save_token(Some(&value));
                token.set(Some(value));
                message.set(None);
            }
        })
    };
    let forget_token = {
        let token = token.clone();
        Callback::from(move |_| {
            server_api::save_token(None);
            token.set(None);
        })
    };
    // The editors' files as of the panel's latest render. A click can arrive before the panel
    // has re-rendered after an edit (Yew renders in a later task, and under load yields to the
    // browser between components), so the Run button reads them only after pending renders.
    let latest_files = use_mut_ref(|| (props.services.clone(), props.steps.clone()));
    *latest_files.borrow_mut() = (props.services.clone(), props.steps.clone());
    let start = {
        let (token, form, latest_files) = (token.clone(), form.clone(), latest_files.clone());
        let (message, selected, shared, redraw) = (message.clone(), selected.clone(), shared.clone(), redraw.clone());
        let (on_error, on_end, refresh_history) = (on_error.clone(), on_end.clone(), refresh_history.clone());
        Callback::from(move |_| {
            let (token, form, latest_files) = (token.clone(), form.clone(), latest_files.clone());
            let (message, selected, shared, redraw) =
                (message.clone(), selected.clone(), shared.clone(), redraw.clone());
            let (on_error, on_end, refresh_history) = (on_error.clone(), on_end.clone(), refresh_history.clone());
            spawn_local(async move {
                // One task later: renders queued by the edit (microtasks, or a task the
                // scheduler yielded to) have run, and `latest_files` is the editors' text.
                gloo::timers::future::TimeoutFuture::new(0).await;
                let Some(t) = (*token).clone() else {
                    message.set(Some("enter the API token first".into()));
                    return;
                };
                let (services, steps) = latest_files.borrow().clone();
                // The form as it is now: the reducer's handle reads the latest state.
                let form = (*form).clone();
                let use_edits = form.use_edits;
                // Checked now rather than taken from the editors' debounced check, which may be
                // a keystroke behind.
                let errors = if use_edits { edited_errors(&services, &steps) } else { 0 };
                if errors > 0 {
                    message.set(Some(format!(
                        "the editors' files have {errors} error(s): fix them, or run the project's files"
                    )));
                    return;
                }
                let body = serde_json::to_string(&NewRun {
                    project: &form.project,
                    tag: form.tag(),
                    push: form.push,
                    services: use_edits.then_some(services.as_str()),
                    steps: use_edits.then_some(steps.as_str()),
                })
                .unwrap_or_default();
                message.set(None);
                selected.set(None);
                match server_api::json::<Created>("POST", "/api/runs", Some(&t), Some(body)).await {
                    Ok(created) => {
                        follow(&shared, created.id, t, redraw, on_end);
                        refresh_history.emit(());
                    }
                    Err(e) => on_error.emit(e),
                }
            });
        })
    };
    let open = {
        let (token, message, selected, shared, redraw, on_end) =
            (token.clone(), message.clone(), selected.clone(), shared.clone(), redraw.clone(), on_end.clone());
        Callback::from(move |id: String| match (*token).clone() {
            Some(t) => {
                message.set(None);
                selected.set(None);
                follow(&shared, id, t, redraw.clone(), on_end.clone());
            }
            None => message.set(Some("enter the API token to open a run's log".into())),
        })
    };
    let post_action = |action: &'static str| {
        let (token, shared, on_error) = (token.clone(), shared.clone(), on_error.clone());
        Callback::from(move |_| {
            let (Some(t), Some(id)) = ((*token).clone(), shared.borrow().id.clone()) else { return };
            let on_error = on_error.clone();
            spawn_local(async move {
                let path = format!("/api/runs/{id}/{action}");
                if let Err(e) = server_api::json::<serde::de::IgnoredAny>("POST", &path, Some(&t), None).await {
                    on_error.emit(e);
                }
            });
        })
    };
    // The full log comes from the server (the page keeps only the newest lines of a long run),
    // in the same text `slipway steps` prints.
    let download_log = {
        let (token, shared, on_error) = (token.clone(), shared.clone(), on_error.clone());
        Callback::from(move |_| {
            let (Some(t), Some(id)) = ((*token).clone(), shared.borrow().id.clone()) else { return };
            let on_error = on_error.clone();
            spawn_local(async move {
                match server_api::bytes(&format!("/api/runs/{id}/log"), &t).await {
                    Ok(bytes) => download(&format!("slipway-run-{id}.log"), &bytes, "text/plain"),
                    Err(e) => on_error.emit(e),
                }
            });
        })
    };
    let pick = {
        let (selected, shared) = (selected.clone(), shared.clone());
        // Steps are picked by id: names may repeat.
        Callback::from(move |id: String| {
            let f = shared.borrow();
            let leaf = f.log.plan.as_ref().and_then(|p| p.find(&id)).is_some_and(|s| s.steps.is_empty());
            selected.set(leaf.then_some(id));
        })
    };

    let projects = match &*server {
        ServerState::Checking => {
            return html! { <RunShell><p class="muted">{ "Looking for the run API…" }</p></RunShell> };
        }
        ServerState::Unavailable(m) => {
            return html! {
                <RunShell><p class="muted" data-testid="run-unavailable">
                    { format!("Runs need the studio served by `slipway serve --project NAME=PATH` ({m}).") }
                </p></RunShell>
            };
        }
        ServerState::Ready(p) if p.is_empty() => {
            return html! {
                <RunShell><p class="muted" data-testid="run-unavailable">
                    { "This server has no projects: start it with `slipway serve --project NAME=PATH`." }
                </p></RunShell>
            };
        }
        ServerState::Ready(p) => p.clone(),
    };

    let f = shared.borrow();
    let run_status = match &f.log.finished {
        Some((s, _)) => s.as_str(),
        None if f.log.plan.is_some() => RunStatus::Running.as_str(),
        None => RunStatus::Queued.as_str(),
    };
    let (hidden, tail) = f.log.tail(selected.as_deref(), RENDER_CAP);
    // Every field goes through the form's reducer.
    let dispatch = |make: fn(&Event) -> FormAction| {
        let form = form.clone();
        Callback::from(move |e: Event| form.dispatch(make(&e)))
    };
    let on_project = dispatch(|e| FormAction::Project(e.target_unchecked_into::<HtmlSelectElement>().value()));
    let on_push = dispatch(|e| FormAction::Push(e.target_unchecked_into::<HtmlInputElement>().checked()));
    let on_edits = dispatch(|e| FormAction::UseEdits(e.target_unchecked_into::<HtmlInputElement>().checked()));
    let on_branch = {
        let form = form.clone();
        Callback::from(move |e: InputEvent| {
            form.dispatch(FormAction::Branch(e.target_unchecked_into::<HtmlInputElement>().value()))
        })
    };
    let show_all = {
        let selected = selected.clone();
        Callback::from(move |_| selected.set(None))
    };

    html! {
        <RunShell>
            if token.is_none() {
                <form class="row" onsubmit={save_token}>
                    <label class="grow">{ "API token (printed by the server at first start, or its SLIPWAY_TOKEN; kept for this tab only)" }
                        <input type="password" data-testid="token-input" ref={token_ref} autocomplete="off" /></label>
                    <button type="submit" data-testid="token-save">{ "Use token" }</button>
                </form>
            } else {
                <div class="row"><span class="muted">{ "Token kept for this tab." }</span>
                    <button onclick={forget_token}>{ "Forget token" }</button></div>
            }
            <div class="row">
                <label>{ "Project" }<select data-testid="run-project" onchange={on_project}>
                    { for projects.iter().map(|p| html! { <option value={p.clone()} selected={*p == form.project}>{ p }</option> }) }
                </select></label>
                <label>{ "Branch or tag" }<input type="text" data-testid="run-branch" value={form.branch.clone()} oninput={on_branch} /></label>
                <label class="check"><input type="checkbox" data-testid="run-push" checked={form.push} onchange={on_push} />{ " push" }</label>
                <label class="check"><input type="checkbox" data-testid="run-edits" checked={form.use_edits} onchange={on_edits} />
                    { " use the editors' files" }</label>
                <button data-testid="run-start" onclick={start}>{ "Run" }</button>
            </div>
            if let Some(m) = &*message { <p class="msg bad" data-testid="run-message">{ m }</p> }
            if let Some(id) = &f.id {
                <div class="run-current" data-testid="run-current" data-run-id={id.clone()} data-run-status={run_status}>
                    <div class="row">
                        <strong>{ format!("Run {id}") }</strong>
                        <span class={classes!("badge", run_status)}>{ run_status }</span>
                        <span class="muted">{ format!("{} log lines", f.log.line_count()) }</span>
                        if let Some((_, Some(e))) = &f.log.finished { <span class="bad">{ e }</span> }
                        if let Some(g) = &f.log.waiting {
                            <button data-testid="run-approve" onclick={post_action("approve")}>{ format!("Approve `{g}`") }</button>
                        }
                        if f.log.finished.is_none() {
                            <button data-testid="run-cancel" onclick={post_action("cancel")}>{ "Cancel" }</button>
                        }
                        <button data-testid="run-download" onclick={download_log}>{ "Download full log" }</button>
                    </div>
                    <div class="run-body">
                        <ul class="plan graph" data-testid="run-graph">
                            if let Some(plan) = &f.log.plan {
                                { for plan.steps.iter().map(|s| plan_tree::node(s, Some(&f.log), Some(&pick))) }
                            }
                        </ul>
                        <div class="log">
                            <div class="row muted">
                                { selected.as_deref().map_or("All steps".to_string(), |id| {
                                    let name = f.log.plan.as_ref().and_then(|p| p.find(id)).map_or(id, |s| s.name.as_str());
                                    format!("Step {name}")
                                }) }
                                if selected.is_some() { <button onclick={show_all}>{ "All steps" }</button> }
                                if hidden > 0 { { format!(" · {hidden} earlier lines not shown; download the full log") } }
                            </div>
                            <pre data-testid="run-log" ref={log_ref} onscroll={on_log_scroll}>{ tail }</pre>
                        </div>
                    </div>
                </div>
            }
            <History runs={(*history).clone()} on_open={open} on_refresh={refresh_history} />
        </RunShell>
    }
}

fn edited_errors(services: &str, steps: &str) -> usize {
    let sv = SourceFile::new(FileKind::Services.file_name(), services.to_string());
    let st = SourceFile::new(FileKind::Steps.file_name(), steps.to_string());
    slipway_core::check(&sv, &st).report.errors
}

#[derive(Properties, PartialEq)]
struct ShellProps {
    children: Html,
}

#[function_component(RunShell)]
fn run_shell(props: &ShellProps) -> Html {
    html! {
        <section class="runs" data-testid="run-panel">
            <header>{ "Run on the server" }</header>
            { props.children.clone() }
        </section>
    }
}
