//! The run's log as a CI shows one: numbered lines (the numbers are drawn by the stylesheet,
//! so a copied line has none), a search that highlights every match with next and previous,
//! "jump to the first error" (the first failed step's log from its first line), a height that
//! follows the window, and the end kept in view unless the reader scrolled up. Only the rows in
//! view (and a margin) are drawn (`log_rows.rs`): a chatty run's thousand lines are not.

use super::log_rows;
use super::log_search::{Hits, matches};
use crate::run_log::ShownLine;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
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

/// Where the log is scrolled and how high it is, in CSS pixels (as last measured).
#[derive(Clone, Copy, PartialEq)]
struct Viewport {
    top: i32,
    height: i32,
}

#[function_component(LogView)]
pub(super) fn log_view(p: &LogProps) -> Html {
    let pre = use_node_ref();
    let stick = use_mut_ref(|| true);
    let view = use_state_eq(|| Viewport { top: 0, height: 0 });
    let hits = use_memo((p.lines.clone(), p.search.clone()), |(lines, search)| Hits::find(lines, search));
    let measure = {
        let (pre, view) = (pre.clone(), view.clone());
        move || {
            if let Some(el) = pre.cast::<web_sys::Element>() {
                view.set(Viewport { top: el.scroll_top(), height: el.client_height() });
            }
        }
    };
    // The view's height follows the window's: measured after every render and on a resize.
    {
        let (pre, view) = (pre.clone(), view.clone());
        use_effect(move || {
            if let Some(el) = pre.cast::<web_sys::Element>()
                && el.client_height() != view.height
            {
                view.set(Viewport { top: el.scroll_top(), height: el.client_height() });
            }
        });
    }
    {
        use_effect_with((), move |_| {
            let on_resize = Closure::<dyn Fn()>::new(measure);
            let window = gloo::utils::window();
            let _ = window.add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
            move || {
                let _ = window.remove_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
            }
        });
    }
    // After a jump, the lane from its first line (once: the reader may scroll on).
    {
        let (pre, stick, view) = (pre.clone(), stick.clone(), view.clone());
        use_effect_with((p.title.clone(), p.from_start), move |(_, from_start)| {
            *stick.borrow_mut() = !*from_start;
            if *from_start && let Some(el) = pre.cast::<web_sys::Element>() {
                el.set_scroll_top(0);
                view.set(Viewport { top: 0, height: el.client_height() });
            }
        });
    }
    // The current match in view, when it changes: it may be far from the rows drawn, so the
    // log scrolls to its row, and the row is drawn there.
    {
        let (pre, view, line) = (pre.clone(), view.clone(), hits.line_of(p.hit));
        use_effect_with((p.search.clone(), p.hit, line), move |(search, _, line)| {
            if !search.is_empty()
                && let (Some(i), Some(el)) = (line, pre.cast::<web_sys::Element>())
            {
                el.set_scroll_top(log_rows::centred_top(*i, el.client_height()));
                view.set(Viewport { top: el.scroll_top(), height: el.client_height() });
            }
        });
    }
    // Keep the end in view unless the reader scrolled up (or searches, or jumped).
    let still = p.from_start || !p.search.is_empty();
    let following = !still && *stick.borrow();
    {
        let pre = pre.clone();
        use_effect(move || {
            if following && let Some(el) = pre.cast::<web_sys::Element>() {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }
    let on_scroll = {
        let (pre, stick, view) = (pre.clone(), stick.clone(), view.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = pre.cast::<web_sys::Element>() {
                *stick.borrow_mut() = el.scroll_top() + el.client_height() >= el.scroll_height() - 24;
                view.set(Viewport { top: el.scroll_top(), height: el.client_height() });
            }
        })
    };
    // The rows to draw: at the end while following it (drawn before the scroll gets there, so
    // no frame shows a blank), else where the reader scrolled.
    let total = p.lines.len();
    let height = if view.height > 0 { view.height } else { log_rows::UNMEASURED_PX };
    let top = if following { log_rows::end_top(total, height) } else { view.top };
    let drawn = log_rows::rows(total, top, height);
    let count = hits.total;
    let body: Vec<Html> = p.lines[drawn.clone()]
        .iter()
        .zip(drawn.clone())
        .map(|(l, i)| {
            let mut parts = Vec::new();
            let (mut at, mut k) = (0, hits.first_in(i));
            for (from, to) in matches(&l.text, &p.search) {
                parts.push(html! { { &l.text[at..from] } });
                let current = k == p.hit;
                parts.push(html! {
                    <mark class={classes!(current.then_some("current"))} data-testid="log-match">{ &l.text[from..to] }</mark>
                });
                k += 1;
                at = to;
            }
            parts.push(html! { { format!("{}\n", &l.text[at..]) } });
            html! { <span key={l.n} class="line" data-n={l.n.to_string()}>{ for parts }</span> }
        })
        .collect();
    // The blank boxes are SVGs sized by their `height` attribute: the page's CSP
    // (`style-src 'self'`) drops inline `style` attributes, and an SVG's size is no style.
    let gap = |rows: usize| {
        let px = (rows as i64 * log_rows::ROW_PX as i64).to_string();
        html! { <svg class="gap" width="1" height={px} aria-hidden="true" /> }
    };
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
            // Only the rows in view are drawn, between two blank boxes as high as the rows not
            // drawn; keyed by line number, so rows already drawn stay as the view moves.
            <pre data-testid="run-log" ref={pre} onscroll={on_scroll}>
                { gap(drawn.start) }
                { for body }
                { gap(total - drawn.end) }
            </pre>
        </div>
    }
}
