//! The Export panel: both forges' files for the text in the editors, recomputed as you edit,
//! by the same core function `slipway export` calls; untranslated parts listed with positions.

use crate::hooks::use_debounced::use_debounced;
use slipway_core::SourceFile;
use slipway_core::export::{Export, Forge, Mode, export_files};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ExportProps {
    pub services: AttrValue,
    pub steps: AttrValue,
}

#[function_component(ExportPanel)]
pub fn export_panel(props: &ExportProps) -> Html {
    let native = use_state(|| false);
    let mode = if *native { Mode::Native } else { Mode::Slipway };
    // Like validation, the exports follow the text after a pause, never blocking typing.
    let settled = use_debounced((props.services.clone(), props.steps.clone()), 200);
    let outputs = use_memo((settled, mode), |((services, steps), mode)| {
        let sv = SourceFile::new("codeship-services.yml", services.to_string());
        let st = SourceFile::new("codeship-steps.yml", steps.to_string());
        let errors = slipway_core::check(&sv, &st).report.errors;
        (errors == 0)
            .then(|| [Forge::GithubActions, Forge::GitlabCi].map(|forge| (forge, export_files(&sv, &st, forge, *mode))))
    });
    let on_mode = {
        let native = native.clone();
        Callback::from(move |e: Event| {
            native.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().checked());
        })
    };
    html! {
        <section class="export" data-testid="export-panel">
            <h2>{ "Export" }</h2>
            <label>
                <input type="checkbox" data-testid="export-native" checked={*native} onchange={on_mode} />
                { " native (no Slipway at run time)" }
            </label>
            {
                match &*outputs {
                    None => html! { <p class="muted">{ "Fix the errors above to see the exports." }</p> },
                    Some(outs) => outs.iter().map(|(forge, e)| output(*forge, e)).collect::<Html>(),
                }
            }
        </section>
    }
}

fn output(forge: Forge, e: &Export) -> Html {
    let testid = format!("export-{}", forge.command_name());
    html! {
        <details open=true data-testid={testid}>
            <summary>{ format!("{} ({} not exact)", forge.default_path(), e.diagnostics.len()) }</summary>
            if !e.diagnostics.is_empty() {
                <ul class="export-warnings">
                    { for e.diagnostics.iter().map(|d| html! {
                        <li>{ format!("{}:{}:{}: {}", d.file, d.line, d.column, d.message) }</li>
                    }) }
                </ul>
            }
            if !e.secrets.is_empty() {
                <ul class="export-secrets">
                    { for e.secrets.iter().map(|s| html! { <li><code>{ &s.command }</code></li> }) }
                </ul>
            }
            <pre class="export-text">{ &e.text }</pre>
        </details>
    }
}
