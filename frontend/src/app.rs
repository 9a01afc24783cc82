//! The studio: editors with live diagnostics, the build preview, and the crypto panel.

use crate::components::crypto_panel::CryptoPanel;
use crate::components::diagnostics::Diagnostics;
use crate::components::editor::{Editor, move_caret};
use crate::components::export_panel::ExportPanel;
use crate::components::files::{download, file_list, read_files};
use crate::components::preview::Preview;
use crate::components::run_panel::RunPanel;
use crate::hooks::use_debounced::use_debounced;
use crate::state::{Action, FileKind, State};
use slipway_core::plan::{PlanOptions, plan};
use slipway_core::template::BuildVars;
use slipway_core::{Diagnostic, SourceFile, check};
use web_sys::{DragEvent, HtmlInputElement};
use yew::prelude::*;

/// Debounce for re-validation while typing.
const DEBOUNCE_MS: u32 = 120;

fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

fn performance_now() -> f64 {
    gloo::utils::window().performance().map_or(0.0, |p| p.now())
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

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(|| State::load(now_secs()));
    let services_ref = use_node_ref();
    let steps_ref = use_node_ref();
    let notice = use_state(|| None::<String>);
    // Time from navigation start to the first render with live editors, for docs/perf.md.
    use_effect_with((), |_| {
        let _ = js_sys::Reflect::set(&gloo::utils::window(), &"slipwayInteractiveMs".into(), &performance_now().into());
    });

    // Validation follows the text after a short pause, never blocking typing.
    let settled = use_debounced((state.services.clone(), state.steps.clone()), DEBOUNCE_MS);
    let checked = use_memo(settled.clone(), |(services, steps)| {
        let started = performance_now();
        let sv = SourceFile::new(FileKind::Services.file_name(), services.clone());
        let st = SourceFile::new(FileKind::Steps.file_name(), steps.clone());
        let checked = check(&sv, &st);
        (checked, performance_now() - started)
    });
    let (checked, took_ms) = (&checked.0, checked.1);
    let build = state.build.clone();
    // Re-plan when the checked text or the build values change.
    let the_plan = use_memo((settled, state.build.clone()), {
        let checked = checked.clone();
        move |(_, b)| {
            (checked.report.errors == 0).then(|| {
                let vars = BuildVars {
                    branch: b.branch.clone(),
                    commit_id: b.commit_id.clone(),
                    committer_name: b.committer.clone(),
                    commit_message: b.message.clone(),
                    build_id: b.build_id.clone(),
                    timestamp: b.timestamp,
                    ..BuildVars::default()
                };
                let tag = (!b.branch.is_empty()).then(|| b.branch.clone());
                plan(&checked.services, &checked.steps, &PlanOptions { tag, push: b.push, vars })
            })
        }
    });

    let on_edit = |kind: FileKind| {
        let state = state.clone();
        Callback::from(move |text: String| state.dispatch(Action::Edit(kind, text)))
    };
    let on_select = {
        let (services_ref, steps_ref) = (services_ref.clone(), steps_ref.clone());
        Callback::from(move |d: Diagnostic| {
            let node = if d.file == FileKind::Services.file_name() { &services_ref } else { &steps_ref };
            move_caret(node, d.line, d.column);
        })
    };
    let on_build = {
        let state = state.clone();
        Callback::from(move |b| state.dispatch(Action::Build(b)))
    };
    let on_reset = {
        let state = state.clone();
        Callback::from(move |_| state.dispatch(Action::Reset))
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

    let diags_for = |kind: FileKind| -> Vec<Diagnostic> {
        checked.report.diagnostics.iter().filter(|d| d.file == kind.file_name()).cloned().collect()
    };

    html! {
        <div class="studio" ondrop={on_drop} ondragover={on_dragover}>
            <header class="top">
                <h1>{ "Slipway studio" }</h1>
                <span class="muted">{ "Codeship Pro configs, checked in your browser. Nothing you type here leaves this page unless you run it on the server." }</span>
                <div class="actions">
                    <label class="file">{ "Open files " }<input type="file" multiple=true onchange={on_pick.clone()} /></label>
                    <label class="file">{ "Open folder " }<input type="file" webkitdirectory=true onchange={on_pick} /></label>
                    <button onclick={on_download(FileKind::Services)}>{ "Download services" }</button>
                    <button onclick={on_download(FileKind::Steps)}>{ "Download steps" }</button>
                    <button data-testid="reset-button" onclick={on_reset}>{ "Reset to example" }</button>
                </div>
                if let Some(n) = &*notice { <p class="notice">{ n }</p> }
            </header>
            <main>
                <div class="editors">
                    <Editor title="codeship-services.yml" testid="services-editor" text={state.services.clone()}
                        diagnostics={diags_for(FileKind::Services)} node_ref={services_ref} on_change={on_edit(FileKind::Services)} />
                    <Editor title="codeship-steps.yml" testid="steps-editor" text={state.steps.clone()}
                        diagnostics={diags_for(FileKind::Steps)} node_ref={steps_ref} on_change={on_edit(FileKind::Steps)} />
                </div>
                <Diagnostics diagnostics={checked.report.diagnostics.clone()} errors={checked.report.errors}
                    warnings={checked.report.warnings} on_select={on_select} took_ms={took_ms} />
                <div class="lower">
                    <Preview build={build} plan={(*the_plan).clone()} on_change={on_build} />
                    <CryptoPanel plan={(*the_plan).clone()} />
                </div>
                <RunPanel services={AttrValue::from(state.services.clone())} steps={AttrValue::from(state.steps.clone())}
                    branch={AttrValue::from(state.build.branch.clone())} />
                <ExportPanel services={AttrValue::from(state.services.clone())} steps={AttrValue::from(state.steps.clone())} />
            </main>
        </div>
    }
}
