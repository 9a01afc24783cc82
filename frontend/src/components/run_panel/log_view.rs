//! The run's log as a CI shows one: numbered lines (the numbers are drawn by the stylesheet,
//! so a copied line has none), a search that highlights every match with next and previous,
//! "jump to the first error" (the first failed step's log from its first line), a height that
//! follows the window, and the end kept in view unless the reader scrolled up.

use crate::run_log::ShownLine;
use std::rc::Rc;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub(super) struct LogProps {
    pub lines: Rc<Vec<ShownLine>>,
    /// Lines of the lane not shown (before the tail, or after the head from the start).
    pub hidden: usize,
    /// `All steps`, `Step NAME`, `Image builds`.
    pub title: AttrValue,
    pub one_lane: bool,
    pub on_all: Callback<()>,
    /// Shown from the lane's start (a jump to the first error), not its end.
    pub from_start: bool,
    /// The first failed step's name, when a step failed.
    pub failed: Option<AttrValue>,
    pub on_jump: Callback<()>,
    pub search: AttrValue,
    pub hit: usize,
    pub on_search: Callback<String>,
    /// Next (`true`) or previous match, with the number of matches.
    pub on_step: Callback<(bool, usize)>,
}

/// Where `needle` occurs in `text`, ignoring ASCII case: byte ranges, not overlapping.
pub(super) fn matches(text: &str, needle: &str) -> Vec<(usize, usize)> {
    if needle.is_empty() {
        return Vec::new();
    }
    let (hay, needle) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    hay.match_indices(&needle).map(|(i, m)| (i, i + m.len())).collect()
}

#[function_component(LogView)]
pub(super) fn log_view(p: &LogProps) -> Html {
    let pre = use_node_ref();
    let stick = use_mut_ref(|| true);
    // After a jump, the lane from its first line (once: the reader may scroll on).
    {
        let (pre, stick) = (pre.clone(), stick.clone());
        use_effect_with((p.title.clone(), p.from_start), move |(_, from_start)| {
            *stick.borrow_mut() = !*from_start;
            if *from_start && let Some(el) = pre.cast::<web_sys::Element>() {
                el.set_scroll_top(0);
            }
        });
    }
    // The current match in view, when it changes.
    {
        let pre = pre.clone();
        use_effect_with((p.search.clone(), p.hit), move |(search, _)| {
            if !search.is_empty()
                && let Some(el) = pre.cast::<web_sys::Element>()
                && let Ok(Some(m)) = el.query_selector("mark.current")
            {
                m.scroll_into_view_with_bool(false);
            }
        });
    }
    // Keep the end in view unless the reader scrolled up (or searches, or jumped).
    {
        let (pre, stick, still) = (pre.clone(), stick.clone(), p.from_start || !p.search.is_empty());
        use_effect(move || {
            if !still
                && *stick.borrow()
                && let Some(el) = pre.cast::<web_sys::Element>()
            {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }
    let on_scroll = {
        let (pre, stick) = (pre.clone(), stick.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = pre.cast::<web_sys::Element>() {
                *stick.borrow_mut() = el.scroll_top() + el.client_height() >= el.scroll_height() - 24;
            }
        })
    };
    let mut count = 0;
    let body: Vec<Html> = p
        .lines
        .iter()
        .map(|l| {
            let mut parts = Vec::new();
            let mut at = 0;
            for (from, to) in matches(&l.text, &p.search) {
                parts.push(html! { { &l.text[at..from] } });
                let current = count == p.hit;
                parts.push(html! {
                    <mark class={classes!(current.then_some("current"))} data-testid="log-match">{ &l.text[from..to] }</mark>
                });
                count += 1;
                at = to;
            }
            parts.push(html! { { format!("{}\n", &l.text[at..]) } });
            html! { <span key={l.n} class="line" data-n={l.n.to_string()}>{ for parts }</span> }
        })
        .collect();
    let on_search = p.on_search.reform(|e: InputEvent| e.target_unchecked_into::<HtmlInputElement>().value());
    let on_keys = {
        let step = p.on_step.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" {
                e.prevent_default();
                step.emit((!e.shift_key(), count));
            }
        })
    };
    html! {
        <div class="log">
            <div class="row muted log-bar">
                <span data-testid="run-log-title">{ p.title.clone() }</span>
                if p.one_lane { <button onclick={p.on_all.reform(|_| ())}>{ "All steps" }</button> }
                if let Some(name) = &p.failed {
                    <button class="bad" data-testid="run-jump-error" onclick={p.on_jump.reform(|_| ())}
                        title="The first failed step's log, from its first line">{ format!("Jump to the first error ({name})") }</button>
                }
                if p.hidden > 0 {
                    { format!(" · {} {} lines not shown; download the full log", p.hidden, if p.from_start { "later" } else { "earlier" }) }
                }
                <span class="grow" />
                <input type="search" data-testid="run-log-search" placeholder="Search the log" value={p.search.clone()}
                    oninput={on_search} onkeydown={on_keys} />
                if !p.search.is_empty() {
                    <span data-testid="run-log-matches">{
                        if count == 0 { "no match".to_string() } else { format!("{} of {count}", p.hit.min(count - 1) + 1) }
                    }</span>
                    <button data-testid="run-log-prev" title="Previous match (Shift+Enter)" disabled={count == 0}
                        onclick={p.on_step.reform(move |_| (false, count))}>{ "↑" }</button>
                    <button data-testid="run-log-next" title="Next match (Enter)" disabled={count == 0}
                        onclick={p.on_step.reform(move |_| (true, count))}>{ "↓" }</button>
                }
            </div>
            // Keyed by line number: as the tail moves on, lines already drawn stay as they are
            // (unkeyed, every flush rewrote all 1,000 lines: 0.3 s frame gaps on a chatty run).
            <pre data-testid="run-log" ref={pre} onscroll={on_scroll}>{ for body }</pre>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn matches_ignore_case_and_do_not_overlap() {
        assert_eq!(matches("Error: an ERROR", "error"), [(0, 5), (10, 15)]);
        assert_eq!(matches("aaaa", "aa"), [(0, 2), (2, 4)]);
        assert!(matches("anything", "").is_empty());
    }
}
