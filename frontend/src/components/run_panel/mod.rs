//! The Run panel: start a run of a project registered with `slipway serve`, follow it live (the
//! graph coloured by status with each step's time, the log of one step or of all with each
//! line's time), approve a manual group, cancel, rerun, download the full log, load a
//! project's files into the editors, and reopen past runs (also by link: `#/runs/{id}`).
//! Events land in a `RunLog` off the DOM; the view catches up at most every `FLUSH_MS`,
//! showing the last `RENDER_CAP` lines. The branch and push are the build preview's.

mod badge;
mod follow;
mod form;
mod history;
mod link;
mod trigger;

use crate::components::files::download;
use crate::components::plan_tree;
use crate::run_log::RENDER_CAP;
use crate::server_api::{self, ApiError};
use crate::state::{BuildInputs, FileKind};
use crate::wire::{Created, NewRun, Project, ProjectFiles, ProjectList, RunSummary, startable};
use follow::{Following, Shared, follow};
use form::{FormAction, RunForm};
use history::{Filter, History};
use slipway_core::run_state::RunStatus;
use slipway_core::{Diagnostic, Severity, SourceFile};
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlSelectElement};
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

#[derive(Clone, PartialEq)]
enum ServerState {
    Checking,
    Unavailable(String),
    Ready(Vec<Project>),
}

/// What the panel has to say under its form.
#[derive(Clone, PartialEq)]
enum Message {
    Error(String),
    /// Run refused: the editors' files have errors; the first one, to go to.
    EditorErrors {
        count: usize,
        first: Diagnostic,
    },
    Info(String),
}

/// Why Run, Load project files and Rerun are off for a repository project.
const REPO_NOTE: &str = "runs of repository projects start from a push; see the README";

#[function_component(RunPanel)]
pub fn run_panel(props: &RunPanelProps) -> Html {
    let server = use_state(|| ServerState::Checking);
    let token = use_state(server_api::saved_token);
    let form = use_reducer(RunForm::default);
    let message = use_state(|| None::<Message>);
    let history = use_state(Vec::<RunSummary>::new);
    let filter = use_state(Filter::default);
    let selected = use_state(|| None::<String>);
    // The opened run as the server lists it (its project, branch, trigger).
    let current = use_state(|| None::<RunSummary>);
    // A run named by the page's address before the token was entered.
    let pending = use_mut_ref(|| None::<String>);
    let shared: Shared = use_mut_ref(Following::default);
    let token_ref = use_node_ref();
    let log_ref = use_node_ref();
    let current_ref = use_node_ref();
    let goto_ref = use_node_ref();
    let stick_to_bottom = use_mut_ref(|| true);
    let force = use_force_update();
    let redraw = Callback::from(move |_| force.force_update());

    let refresh_history = {
        let (history, filter, token) = (history.clone(), filter.clone(), token.clone());
        Callback::from(move |_: ()| history::refresh(history.clone(), (*filter).clone(), (*token).clone()))
    };
    let on_filter = {
        let (history, filter, token) = (history.clone(), filter.clone(), token.clone());
        Callback::from(move |f: Filter| {
            history::refresh(history.clone(), f.clone(), (*token).clone());
            filter.set(f);
        })
    };
    // A refused token is forgotten at once, so the prompt comes back.
    let on_error = {
        let (token, message) = (token.clone(), message.clone());
        Callback::from(move |e: ApiError| {
            if e == ApiError::Unauthorized {
                server_api::save_token(None);
                token.set(None);
            }
            message.set(Some(Message::Error(e.to_string())));
        })
    };
    // A run the server does not have (a stale or mistyped link): nothing of it stays on show.
    let on_missing = {
        let (shared, current, message, selected) = (shared.clone(), current.clone(), message.clone(), selected.clone());
        Callback::from(move |id: String| {
            if shared.borrow().id.as_deref() != Some(id.as_str()) {
                return;
            }
            shared.borrow_mut().forget();
            current.set(None);
            selected.set(None);
            message.set(Some(Message::Error(format!("no run {id} (check the link)"))));
        })
    };
    let on_end = {
        let (refresh_history, on_error, on_missing, shared, current, pending, token) = (
            refresh_history.clone(),
            on_error.clone(),
            on_missing.clone(),
            shared.clone(),
            current.clone(),
            pending.clone(),
            token.clone(),
        );
        Callback::from(move |e: Option<ApiError>| {
            let id = shared.borrow().id.clone();
            match (e, id.clone()) {
                (Some(ApiError::Server(404, _)), Some(id)) => return on_missing.emit(id),
                // Opened once the right token is entered.
                (Some(e @ ApiError::Unauthorized), id) => {
                    *pending.borrow_mut() = id;
                    on_error.emit(e);
                }
                (Some(e), _) => on_error.emit(e),
                (None, _) => {}
            }
            refresh_history.emit(());
            if let Some(id) = id {
                load_summary(&id, (*token).clone(), current.clone(), on_missing.clone());
            }
        })
    };
    // Follow run `id` (unless it is followed now), and name it in the page's address.
    let open = {
        let (token, message, selected, shared, redraw, on_end, current, pending, on_missing) = (
            token.clone(),
            message.clone(),
            selected.clone(),
            shared.clone(),
            redraw.clone(),
            on_end.clone(),
            current.clone(),
            pending.clone(),
            on_missing.clone(),
        );
        Callback::from(move |id: String| {
            link::show(&id);
            if shared.borrow().follows(&id) {
                return;
            }
            match (*token).clone() {
                Some(t) => {
                    message.set(None);
                    selected.set(None);
                    current.set(None);
                    load_summary(&id, Some(t.clone()), current.clone(), on_missing.clone());
                    follow(&shared, id, t, redraw.clone(), on_end.clone());
                }
                None => {
                    message.set(Some(Message::Error(format!("enter the API token to open run {id}"))));
                    *pending.borrow_mut() = Some(id);
                }
            }
        })
    };
    // The listener below outlives this render: it calls the newest `open`.
    let latest_open = use_mut_ref(|| open.clone());
    *latest_open.borrow_mut() = open.clone();

    {
        let (server, form, refresh_history, latest_open, opened) =
            (server.clone(), form.clone(), refresh_history.clone(), latest_open.clone(), props.project.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                match server_api::json::<ProjectList>("GET", "/api/projects", None, None).await {
                    Ok(list) => {
                        let opened = opened.filter(|o| list.projects.iter().any(|p| p.name == o.as_str()));
                        let first =
                            opened.map(|o| o.to_string()).or_else(|| list.projects.first().map(|p| p.name.clone()));
                        let first = first.unwrap_or_default();
                        form.dispatch(FormAction::Project(first));
                        server.set(ServerState::Ready(list.projects));
                        refresh_history.emit(());
                        if let Some(id) = link::run_in_address() {
                            latest_open.borrow().emit(id);
                        }
                    }
                    Err(e) => server.set(ServerState::Unavailable(e.to_string())),
                }
            });
        });
    }
    // `#/runs/{id}` typed or pasted into this tab's address opens that run.
    {
        let latest_open = latest_open.clone();
        use_effect_with((), move |_| {
            let listener = link::on_change(move |id| latest_open.borrow().emit(id));
            move || drop(listener)
        });
    }
    // A run opened or started comes into view: its graph and log are below the form.
    let current_id = shared.borrow().id.clone();
    {
        let current_ref = current_ref.clone();
        use_effect_with(current_id.clone(), move |id| {
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
        let refused = matches!(&*message, Some(Message::EditorErrors { .. }));
        use_effect_with((refused, (*message).clone()), move |(refused, _)| {
            if *refused && let Some(b) = goto_ref.cast::<web_sys::HtmlElement>() {
                let _ = b.focus();
            }
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
        let (token, token_ref, message, pending, open) =
            (token.clone(), token_ref.clone(), message.clone(), pending.clone(), latest_open.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let value = token_ref.cast::<HtmlInputElement>().map(|i| i.value().trim().to_string()).unwrap_or_default();
            if !value.is_empty() {
                server_api::save_token(Some(&value));
                token.set(Some(value));
                message.set(None);
                // The run the address named, now that it can be read (after this render,
                // when `open` sees the token).
                if let Some(id) = pending.borrow_mut().take() {
                    let open = open.clone();
                    spawn_local(async move {
                        gloo::timers::future::TimeoutFuture::new(0).await;
                        open.borrow().emit(id);
                    });
                }
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
    // A run the server queued (started or rerun here): follow it and name it in the address.
    let queued = {
        let (shared, redraw, current, on_end, on_missing, refresh_history) = (
            shared.clone(),
            redraw.clone(),
            current.clone(),
            on_end.clone(),
            on_missing.clone(),
            refresh_history.clone(),
        );
        Callback::from(move |(created, t): (Created, String)| {
            link::show(&created.id);
            load_summary(&created.id, Some(t.clone()), current.clone(), on_missing.clone());
            follow(&shared, created.id, t, redraw.clone(), on_end.clone());
            refresh_history.emit(());
        })
    };
    // A POST that queues a run (`/api/runs` with a body, `/api/runs/{id}/rerun`), then follow it.
    let queue = {
        let (token, message, selected, on_error, queued) =
            (token.clone(), message.clone(), selected.clone(), on_error.clone(), queued.clone());
        Callback::from(move |(path, body): (String, Option<String>)| {
            let Some(t) = (*token).clone() else {
                message.set(Some(Message::Error("enter the API token first".into())));
                return;
            };
            message.set(None);
            selected.set(None);
            let (on_error, queued) = (on_error.clone(), queued.clone());
            spawn_local(async move {
                match server_api::json::<Created>("POST", &path, Some(&t), body).await {
                    Ok(created) => queued.emit((created, t)),
                    Err(e) => on_error.emit(e),
                }
            });
        })
    };
    let submit = queue.reform(|body: String| ("/api/runs".to_string(), Some(body)));
    // The editors' files as of the panel's latest render. A click can arrive before the panel
    // has re-rendered after an edit (Yew renders in a later task, and under load yields to the
    // browser between components), so the Run button reads them only after pending renders.
    let latest = use_mut_ref(|| (props.services.clone(), props.steps.clone(), props.build.clone()));
    *latest.borrow_mut() = (props.services.clone(), props.steps.clone(), props.build.clone());
    let start = {
        let (form, latest, message, submit) = (form.clone(), latest.clone(), message.clone(), submit.clone());
        Callback::from(move |_| {
            let (form, latest, message, submit) = (form.clone(), latest.clone(), message.clone(), submit.clone());
            spawn_local(async move {
                // One task later: renders queued by the edit (microtasks, or a task the
                // scheduler yielded to) have run, and `latest` is the editors' text.
                gloo::timers::future::TimeoutFuture::new(0).await;
                let (services, steps, build) = latest.borrow().clone();
                // The form as it is now: the reducer's handle reads the latest state.
                let form = (*form).clone();
                let use_edits = form.use_edits;
                // Checked now rather than taken from the editors' debounced check, which may be
                // a keystroke behind.
                if use_edits && let Some((count, first)) = edited_errors(&services, &steps) {
                    message.set(Some(Message::EditorErrors { count, first }));
                    return;
                }
                let body = serde_json::to_string(&NewRun {
                    project: &form.project,
                    tag: form::tag(&build.branch),
                    push: build.push,
                    services: use_edits.then_some(services.as_str()),
                    steps: use_edits.then_some(steps.as_str()),
                })
                .unwrap_or_default();
                submit.emit(body);
            });
        })
    };
    // The same request again, as the server stored it (the files sent too), whoever started it.
    let rerun = {
        let (shared, queue) = (shared.clone(), queue.clone());
        Callback::from(move |_| {
            if let Some(id) = shared.borrow().id.clone() {
                queue.emit((format!("/api/runs/{id}/rerun"), None));
            }
        })
    };
    let load_files = {
        let (token, form, latest, message, on_load, on_error) =
            (token.clone(), form.clone(), latest.clone(), message.clone(), props.on_load.clone(), on_error.clone());
        Callback::from(move |_| {
            let Some(t) = (*token).clone() else {
                message.set(Some(Message::Error("enter the API token first".into())));
                return;
            };
            let (project, latest, message, on_load, on_error) =
                (form.project.clone(), latest.clone(), message.clone(), on_load.clone(), on_error.clone());
            spawn_local(async move {
                let path = format!("/api/projects/{}/files", String::from(js_sys::encode_uri_component(&project)));
                let files = match server_api::json::<ProjectFiles>("GET", &path, Some(&t), None).await {
                    Ok(f) => f,
                    Err(e) => return on_error.emit(e),
                };
                let (services, steps, _) = latest.borrow().clone();
                if *services == files.services && *steps == files.steps {
                    return message
                        .set(Some(Message::Info(format!("The editors already hold project {project}'s files."))));
                }
                let sure = gloo::utils::window()
                    .confirm_with_message(&format!(
                        "Replace both editors' text with project {project}'s files? Ctrl+Z in an editor brings its text back."
                    ))
                    .unwrap_or(false);
                if sure {
                    on_load.emit((files.services, files.steps));
                    message.set(Some(Message::Info(format!(
                        "Loaded project {project}'s files into the editors (Ctrl+Z in an editor undoes it)."
                    ))));
                }
            });
        })
    };
    let post_action = |action: &'static str| {
        let (token, shared, on_error) = (token.clone(), shared.clone(), on_error.clone());
        Callback::from(move |_| {
            let (Some(t), Some(id)) = ((*token).clone(), shared.borrow().id.clone()) else { return };
            let on_error = on_error.clone();
            spawn_local(async move {
                let path = format!("/api/runs/{id}/{action}");
                if let Err(e) = server_api::json::<()>("POST", &path, Some(&t), None).await {
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
    // The panel's own fields go through its reducer, the branch and push to the preview's.
    let dispatch = |make: fn(&Event) -> FormAction| {
        let form = form.clone();
        Callback::from(move |e: Event| form.dispatch(make(&e)))
    };
    let on_project = dispatch(|e| FormAction::Project(e.target_unchecked_into::<HtmlSelectElement>().value()));
    let on_edits = dispatch(|e| FormAction::UseEdits(e.target_unchecked_into::<HtmlInputElement>().checked()));
    let on_branch = {
        let (cb, build) = (props.on_build.clone(), props.build.clone());
        Callback::from(move |e: InputEvent| {
            let branch = e.target_unchecked_into::<HtmlInputElement>().value();
            cb.emit(BuildInputs { branch, ..build.clone() })
        })
    };
    let on_push = {
        let (cb, build) = (props.on_build.clone(), props.build.clone());
        Callback::from(move |e: Event| {
            let push = e.target_unchecked_into::<HtmlInputElement>().checked();
            cb.emit(BuildInputs { push, ..build.clone() })
        })
    };
    let show_all = {
        let selected = selected.clone();
        Callback::from(move |_| selected.set(None))
    };
    let summary = (*current).clone().filter(|r| f.id.as_deref() == Some(r.id.as_str()));
    let can_start = startable(&projects, &form.project);
    // Unknown until the run's summary is in: left to the server.
    let can_rerun = summary.as_ref().is_none_or(|r| startable(&projects, &r.project));

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
                    { for projects.iter().map(|p| html! {
                        <option value={p.name.clone()} selected={p.name == form.project}>{ &p.name }</option>
                    }) }
                </select></label>
                <button data-testid="run-load-files" onclick={load_files} disabled={!can_start} title="Replace the editors' text with this project's files on the server">
                    { "Load project files" }</button>
                <label title="The build preview's branch: one for the plan shown and the run">{ "Branch or tag (as in the preview)" }
                    <input type="text" data-testid="run-branch" value={props.build.branch.clone()} oninput={on_branch} /></label>
                <label class="check"><input type="checkbox" data-testid="run-push" checked={props.build.push} onchange={on_push} />{ " push" }</label>
                <label class="check"><input type="checkbox" data-testid="run-edits" checked={form.use_edits} onchange={on_edits} />
                    { " use the editors' files" }</label>
                <button data-testid="run-start" onclick={start} disabled={!can_start}>{ "Run" }</button>
            </div>
            if !can_start { <p class="muted note" data-testid="run-repo-note">{ REPO_NOTE }</p> }
            <p class="muted note">{ "The branch and push are the build preview's; a blank branch means the branch of the server's checkout. The commit id, message and committer of a run started here come from the project's git checkout on the server." }</p>
            { badge::render(&form.project, &props.build.branch) }
            { message_view(&message, &props.on_show_error, &goto_ref) }
            if let Some(id) = &f.id {
                <div class="run-current" data-testid="run-current" data-run-id={id.clone()} data-run-status={run_status} ref={current_ref}>
                    <div class="row">
                        <strong><a href={format!("#/runs/{id}")} data-testid="run-link">{ format!("Run {id}") }</a></strong>
                        <span class={classes!("badge", run_status)}>{ run_status }</span>
                        if let Some(r) = &summary {
                            <span class="muted mono">{ format!("{}{}", r.project, r.tag.as_deref().map(|t| format!(" · {t}")).unwrap_or_default()) }</span>
                            { trigger::render(r.trigger.as_ref(), r.status_error.as_deref()) }
                        }
                        <span class="muted">{ format!("{} log lines", f.log.line_count()) }</span>
                        if let Some((_, Some(e))) = &f.log.finished { <span class="bad" data-testid="run-error">{ e }</span> }
                        if let Some(g) = &f.log.waiting {
                            <button data-testid="run-approve" onclick={post_action("approve")}>{ format!("Approve `{g}`") }</button>
                        }
                        if f.log.finished.is_none() {
                            <button data-testid="run-cancel" onclick={post_action("cancel")}>{ "Cancel" }</button>
                        } else {
                            <button data-testid="run-rerun" onclick={rerun} disabled={!can_rerun}
                                title={(!can_rerun).then_some(REPO_NOTE)}>{ "Rerun" }</button>
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
            <History runs={(*history).clone()} projects={projects.iter().map(|p| p.name.clone()).collect::<Vec<_>>()} filter={(*filter).clone()} {on_filter}
                on_open={open} on_refresh={refresh_history} />
        </RunShell>
    }
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

/// The run as the server lists it, into `current` (for its trigger and project); `on_missing`
/// when the server has no such run. With the token when there is one: only then does the
/// server include the trigger (commit messages and authors may be private).
fn load_summary(
    id: &str,
    token: Option<String>,
    current: UseStateHandle<Option<RunSummary>>,
    on_missing: Callback<String>,
) {
    let (path, id) = (format!("/api/runs/{id}"), id.to_string());
    spawn_local(async move {
        match server_api::json::<RunSummary>("GET", &path, token.as_deref(), None).await {
            Ok(run) => current.set(Some(run)),
            Err(ApiError::Server(404, _)) => on_missing.emit(id),
            Err(_) => {}
        }
    });
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
