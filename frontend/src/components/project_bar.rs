//! The header's project line when the studio is served with projects: the project's name (a
//! list to switch when there are several), its commit, the token field when the files need
//! it, and the project's files offered when the editors hold the user's edits.

use crate::project::{Commit, Served, Status};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ProjectBarProps {
    pub served: Served,
    /// The project's files are offered (not loaded: the editors hold edits).
    pub offered: bool,
    pub on_switch: Callback<String>,
    pub on_token: Callback<String>,
    /// Load the offered files (after asking).
    pub on_load_offered: Callback<()>,
}

#[function_component(ProjectBar)]
pub fn project_bar(props: &ProjectBarProps) -> Html {
    let token_ref = use_node_ref();
    let Served::Projects { list, current, status } = &props.served else { return html! {} };
    let name = if list.len() > 1 {
        let cb = props.on_switch.clone();
        let onchange = Callback::from(move |e: Event| cb.emit(e.target_unchecked_into::<HtmlSelectElement>().value()));
        html! {
            <select data-testid="project-select" aria-label="Project" {onchange}>
                { for list.iter().map(|p| html! {
                    <option value={p.name.clone()} selected={&p.name == current}>{ &p.name }</option>
                }) }
            </select>
        }
    } else {
        html! {}
    };
    let on_submit = {
        let (cb, token_ref) = (props.on_token.clone(), token_ref.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let value = token_ref.cast::<HtmlInputElement>().map(|i| i.value().trim().to_string()).unwrap_or_default();
            if !value.is_empty() {
                cb.emit(value);
            }
        })
    };
    let detail = match status {
        Status::Loading => html! { <span class="muted">{ "loading its files…" }</span> },
        Status::NeedsToken { refused } => html! {
            <form class="row project-token" onsubmit={on_submit}>
                if *refused { <span class="bad" data-testid="project-token-refused">{ "The server refused the token." }</span> }
                <label>{ "API token, to open its files (printed by the server at first start; kept for this browser session)" }
                    <input type="password" data-testid="project-token-input" ref={token_ref} autocomplete="off" /></label>
                <button type="submit" data-testid="project-token-save">{ "Open project" }</button>
            </form>
        },
        Status::Failed(m) => {
            html! { <span class="bad" data-testid="project-note">{ format!("cannot open its files: {m}") }</span> }
        }
        Status::Loaded(Commit::Git(c)) => html! {
            <span class="muted mono" data-testid="project-commit" title={c.message.clone()}>
                { format!("{} · {}", c.branch.as_deref().unwrap_or("detached"), c.commit_id.get(..7).unwrap_or(&c.commit_id)) }
            </span>
        },
        Status::Loaded(Commit::NoGit(reason)) => html! {
            <span class="muted" data-testid="project-note">{ format!("{reason}; the build values below are examples to edit") }</span>
        },
    };
    let offer = props.offered.then(|| {
        let cb = props.on_load_offered.clone();
        html! {
            <span class="project-offer" data-testid="project-offer">
                { "Your edits stay in the editors. " }
                <button data-testid="project-load-offered" onclick={cb.reform(|_| ())}>{ format!("Load {current}'s files") }</button>
            </span>
        }
    });
    html! {
        <div class="project-bar" data-testid="project-bar" data-project={current.clone()}>
            <span>{ "Project " }<strong data-testid="project-name">{ current }</strong></span>
            { name }
            { detail }
            { for offer }
        </div>
    }
}
