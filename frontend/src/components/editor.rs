//! A plain-text editor with line numbers. Lines with diagnostics get a marker in the
//! gutter; the textarea does not wrap so gutter and text stay aligned.

use slipway_core::{Diagnostic, Severity};
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct EditorProps {
    pub title: AttrValue,
    pub testid: AttrValue,
    pub text: AttrValue,
    /// Diagnostics of this file, for the gutter markers.
    pub diagnostics: Vec<Diagnostic>,
    pub node_ref: NodeRef,
    pub on_change: Callback<String>,
}

#[function_component(Editor)]
pub fn editor(props: &EditorProps) -> Html {
    let gutter = use_node_ref();
    let lines = props.text.split('\n').count().max(1);
    let on_input = {
        let cb = props.on_change.clone();
        Callback::from(move |e: InputEvent| cb.emit(e.target_unchecked_into::<HtmlTextAreaElement>().value()))
    };
    // Keep the gutter scrolled with the text.
    let on_scroll = {
        let gutter = gutter.clone();
        Callback::from(move |e: Event| {
            let ta = e.target_unchecked_into::<HtmlTextAreaElement>();
            if let Some(g) = gutter.cast::<web_sys::Element>() {
                g.set_scroll_top(ta.scroll_top());
            }
        })
    };
    let marker = |line: usize| -> Option<Severity> {
        let mut found = None;
        for d in props.diagnostics.iter().filter(|d| d.line as usize == line) {
            if d.severity == Severity::Error {
                return Some(Severity::Error);
            }
            found = Some(d.severity);
        }
        found
    };
    html! {
        <section class="editor">
            <header>{ props.title.clone() }</header>
            <div class="editor-body">
                <div class="gutter" ref={gutter} aria-hidden="true">
                    { for (1..=lines).map(|n| {
                        let class = match marker(n) {
                            Some(Severity::Error) => "ln mark-error",
                            Some(Severity::Warning) => "ln mark-warning",
                            None => "ln",
                        };
                        html! { <div class={class} data-line={n.to_string()}>{ n }</div> }
                    }) }
                </div>
                <textarea
                    ref={props.node_ref.clone()}
                    data-testid={props.testid.clone()}
                    spellcheck="false"
                    wrap="off"
                    value={props.text.clone()}
                    oninput={on_input}
                    onscroll={on_scroll}
                />
            </div>
        </section>
    }
}

/// Put the caret at a 1-based line and column (in characters) and focus the editor.
pub fn move_caret(node: &NodeRef, line: u32, column: u32) {
    let Some(ta) = node.cast::<HtmlTextAreaElement>() else { return };
    let text = ta.value();
    // The DOM counts UTF-16 code units.
    let mut offset: u32 = 0;
    for (i, l) in text.split('\n').enumerate() {
        if i + 1 == line as usize {
            offset += l.chars().take(column.saturating_sub(1) as usize).map(|c| c.len_utf16() as u32).sum::<u32>();
            break;
        }
        offset += l.encode_utf16().count() as u32 + 1;
    }
    let _ = ta.focus();
    let _ = ta.set_selection_range(offset, offset);
    // Scroll the line into view: about 1.4em per line.
    let line_px = 19.6_f64;
    let top = ((line as f64 - 3.0) * line_px).max(0.0) as i32;
    ta.set_scroll_top(top);
}
