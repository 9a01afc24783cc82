//! The Export panel: both forges' files for the text in the editors, recomputed as you edit,
//! by the same core function `slipway export` calls; untranslated parts listed with positions.

use crate::hooks::use_debounced::use_debounced;
use slipway_core::SourceFile;
use slipway_core::export::{Export, Forge, Input, Install, Mode, export, plan_options};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ExportProps {
    pub services: AttrValue,
    pub steps: AttrValue,
}

/// Both forges' exports, or how many errors keep the files from being exported.
type Outputs = Result<[(Forge, Export); 2], usize>;

/// Check and plan once, then export for both forges (what `slipway export` does per forge).
fn export_both(services: &str, steps: &str, mode: Mode, install: Option<&Install>) -> Outputs {
    let services_file = SourceFile::new("codeship-services.yml", services.to_string());
    let steps_file = SourceFile::new("codeship-steps.yml", steps.to_string());
    let checked = slipway_core::check(&services_file, &steps_file);
    if checked.report.errors > 0 {
        return Err(checked.report.errors);
    }
    let plan = slipway_core::plan::plan(&checked.services, &checked.steps, &plan_options());
    let input = Input {
        services_file: &services_file,
        steps_file: &steps_file,
        checked: &checked,
        plan: &plan,
        dir: ".",
        install,
    };
    Ok([Forge::GithubActions, Forge::GitlabCi].map(|forge| (forge, export(&input, forge, mode))))
}

#[function_component(ExportPanel)]
pub fn export_panel(props: &ExportProps) -> Html {
    let native = use_state(|| false);
    let mode = if *native { Mode::Native } else { Mode::Slipway };
    // Like validation, the exports follow the text after a pause, never blocking typing.
    let settled = use_debounced((props.services.clone(), props.steps.clone()), 200);
    // Where a `--mode slipway` job installs Slipway from (`slipway export --slipway-source`):
    // without a valid one, its job cannot run and the list says so (SW502).
    let source = use_state(String::new);
    let install = Install::parse(source.trim());
    let outputs = use_memo((settled, mode, install.clone().ok()), |((services, steps), mode, install)| {
        export_both(services, steps, *mode, install.as_ref())
    });
    let on_source = {
        let source = source.clone();
        Callback::from(move |e: InputEvent| source.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()))
    };
    let on_mode = {
        let native = native.clone();
        Callback::from(move |e: Event| {
            native.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().checked());
        })
    };
    html! {
        <section class="export" data-testid="export-panel">
            <header>
                { "Export to GitHub Actions / GitLab CI" }
                <label class="check">
                    <input type="checkbox" data-testid="export-native" checked={*native} onchange={on_mode} />
                    { " native: jobs and plain docker commands (no Slipway at run time)" }
                </label>
            </header>
            if !*native {
                <label class="export-source">
                    { "Install Slipway from " }
                    <input type="text" data-testid="export-source" value={(*source).clone()} oninput={on_source}
                        placeholder="git+https://…/slipway.git#COMMIT or https://…/slipway#sha256=HEX" size="60" />
                    if let (Err(why), false) = (&install, source.trim().is_empty()) {
                        <span class="msg bad" data-testid="export-source-error">{ format!(" {why}") }</span>
                    }
                </label>
            }
            {
                match &*outputs {
                    Err(errors) => html! {
                        <p class="msg muted" data-testid="export-blocked">
                            { format!("Fix the {errors} error(s) above to see the exports.") }
                        </p>
                    },
                    Ok(outs) => html! {
                        <div class="export-outputs">{ for outs.iter().map(|(forge, e)| output(*forge, e)) }</div>
                    },
                }
            }
        </section>
    }
}

fn output(forge: Forge, e: &Export) -> Html {
    let testid = format!("export-{}", forge.command_name());
    html! {
        <div class="export-output" data-testid={testid}>
            <h3>
                <code data-testid="export-path">{ forge.default_path() }</code>
                <span class="muted">{ format!(" · {} not exact", e.diagnostics.len()) }</span>
            </h3>
            if !e.diagnostics.is_empty() {
                <ul class="export-warnings">
                    { for e.diagnostics.iter().map(|d| html! {
                        <li data-testid="export-warning" data-code={d.code.as_str()} data-file={d.file.clone()}
                            data-line={d.line.to_string()} data-column={d.column.to_string()}>
                            <span class="where">{ format!("{}:{}:{}", d.file, d.line, d.column) }</span>
                            { format!(" {}", d.message) }
                        </li>
                    }) }
                </ul>
            }
            if !e.secrets.is_empty() {
                <ul class="export-secrets" data-testid="export-secrets">
                    { for e.secrets.iter().map(|s| html! { <li><code>{ &s.command }</code></li> }) }
                </ul>
            }
            <pre class="export-text" data-testid="export-text">{ &e.text }</pre>
        </div>
    }
}
