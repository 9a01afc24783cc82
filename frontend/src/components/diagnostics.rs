//! The list of diagnostics. Each entry is a button (click, Enter or Space) that moves the
//! cursor to its position; entries with quick fixes offer them beside the message.

use slipway_core::Diagnostic;
use slipway_core::ide::QuickFix;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct DiagnosticsProps {
    pub diagnostics: Vec<Diagnostic>,
    /// The quick fixes of each diagnostic, in the same order.
    pub fixes: Vec<Vec<QuickFix>>,
    pub errors: usize,
    pub warnings: usize,
    pub on_select: Callback<Diagnostic>,
    pub on_fix: Callback<QuickFix>,
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
    let no_fixes = Vec::new();
    html! {
        <section class="diagnostics-panel">
            <header>
                { "Problems " }<span class="muted">{ format!("{summary} · checked in {:.1} ms", props.took_ms) }</span>
            </header>
            // Empty, the list takes no room (it took ~170 px saying nothing); with problems it
            // has a fixed height, so the page does not jump as their number changes.
            <ul data-testid="diagnostics" class={classes!(props.diagnostics.is_empty().then_some("empty"))}>
                { for props.diagnostics.iter().enumerate().map(|(i, d)| {
                    item(props, d, props.fixes.get(i).unwrap_or(&no_fixes))
                }) }
            </ul>
        </section>
    }
}

fn item(props: &DiagnosticsProps, d: &Diagnostic, fixes: &[QuickFix]) -> Html {
    let select = {
        let (cb, d) = (props.on_select.clone(), d.clone());
        move || cb.emit(d.clone())
    };
    let onclick = {
        let select = select.clone();
        Callback::from(move |_: MouseEvent| select())
    };
    let onkeydown = Callback::from(move |e: KeyboardEvent| {
        if e.key() == "Enter" || e.key() == " " {
            e.prevent_default();
            select();
        }
    });
    let sev = d.severity.as_str();
    html! {
        <li class={classes!("diag", sev)} tabindex="0" role="button" {onclick} {onkeydown} title="Go to this position"
            data-line={d.line.to_string()} data-column={d.column.to_string()}
            data-severity={sev} data-code={d.code.as_str()} data-file={d.file.clone()}>
            <span class="sev">{ sev }</span>
            <code class="code">{ d.code.as_str() }</code>
            <span class="pos">{ format!("{}:{}:{}", short(&d.file), d.line, d.column) }</span>
            <span class="msg">{ &d.message }</span>
            if let Some(h) = &d.help { <span class="help">{ h }</span> }
            { for fixes.iter().map(|f| fix_button(props, f)) }
        </li>
    }
}

fn fix_button(props: &DiagnosticsProps, fix: &QuickFix) -> Html {
    let onclick = {
        let (cb, fix) = (props.on_fix.clone(), fix.clone());
        // The entry's own click would move the cursor back to the (now fixed) position.
        Callback::from(move |e: MouseEvent| {
            e.stop_propagation();
            cb.emit(fix.clone())
        })
    };
    html! { <button type="button" class="fix" data-testid="quick-fix" {onclick}>{ &fix.title }</button> }
}

fn short(file: &str) -> &str {
    file.strip_prefix("codeship-").unwrap_or(file)
}
