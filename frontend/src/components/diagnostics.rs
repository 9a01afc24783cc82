//! The list of diagnostics; clicking one moves the caret to its position.

use slipway_core::{Diagnostic, Severity};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct DiagnosticsProps {
    pub diagnostics: Vec<Diagnostic>,
    pub errors: usize,
    pub warnings: usize,
    pub on_select: Callback<Diagnostic>,
    /// Milliseconds the last check took, shown for the curious.
    pub took_ms: f64,
}

#[function_component(Diagnostics)]
pub fn diagnostics(props: &DiagnosticsProps) -> Html {
    let summary = if props.diagnostics.is_empty() {
        "No problems found".to_string()
    } else {
        format!("{} error(s), {} warning(s)", props.errors, props.warnings)
    };
    html! {
        <section class="diagnostics-panel">
            <header>
                { "Problems " }<span class="muted">{ format!("{summary} · checked in {:.1} ms", props.took_ms) }</span>
            </header>
            <ul data-testid="diagnostics">
                { for props.diagnostics.iter().map(|d| {
                    let onclick = { let cb = props.on_select.clone(); let d = d.clone(); Callback::from(move |_| cb.emit(d.clone())) };
                    let sev = match d.severity { Severity::Error => "error", Severity::Warning => "warning" };
                    html! {
                        <li class={classes!("diag", sev)} onclick={onclick} title="Go to this position"
                            data-line={d.line.to_string()} data-column={d.column.to_string()}
                            data-severity={sev} data-code={d.code.as_str()} data-file={d.file.clone()}>
                            <span class="sev">{ sev }</span>
                            <code class="code">{ d.code.as_str() }</code>
                            <span class="pos">{ format!("{}:{}:{}", short(&d.file), d.line, d.column) }</span>
                            <span class="msg">{ &d.message }</span>
                            if let Some(h) = &d.help { <span class="help">{ h }</span> }
                        </li>
                    }
                }) }
            </ul>
        </section>
    }
}

fn short(file: &str) -> &str {
    file.strip_prefix("codeship-").unwrap_or(file)
}
