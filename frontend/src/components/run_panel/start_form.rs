//! The panel's top: the API token, and the form that starts a run (project, branch and push
//! as in the build preview, the editors' files or the project's).

use crate::wire::Project;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// Why Run and Rerun are off for a repository project (its files load like a folder's: the
/// server reads them from its copy of the repository).
pub(super) const REPO_NOTE: &str = "runs of repository projects start from a push; see the README";

#[derive(Properties, PartialEq)]
pub(super) struct TokenProps {
    pub has_token: bool,
    pub on_save: Callback<String>,
    pub on_forget: Callback<()>,
}

#[function_component(TokenRow)]
pub(super) fn token_row(props: &TokenProps) -> Html {
    let input = use_node_ref();
    if props.has_token {
        return html! {
            <div class="row"><span class="muted">{ "Token kept for this tab." }</span>
                <button onclick={props.on_forget.reform(|_| ())}>{ "Forget token" }</button></div>
        };
    }
    let onsubmit = {
        let (input, on_save) = (input.clone(), props.on_save.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let value = input.cast::<HtmlInputElement>().map(|i| i.value().trim().to_string()).unwrap_or_default();
            if !value.is_empty() {
                on_save.emit(value);
            }
        })
    };
    html! {
        <form class="row" {onsubmit}>
            <label class="grow">{ "API token (printed by the server at first start, or its SLIPWAY_TOKEN; kept for this tab only)" }
                <input type="password" data-testid="token-input" ref={input} autocomplete="off" /></label>
            <button type="submit" data-testid="token-save">{ "Use token" }</button>
        </form>
    }
}

#[derive(Properties, PartialEq)]
pub(super) struct StartProps {
    pub projects: Vec<Project>,
    pub project: String,
    pub use_edits: bool,
    pub branch: String,
    pub push: bool,
    pub can_start: bool,
    pub on_project: Callback<String>,
    pub on_edits: Callback<bool>,
    pub on_branch: Callback<String>,
    pub on_push: Callback<bool>,
    pub on_start: Callback<()>,
    pub on_load_files: Callback<()>,
}

#[function_component(StartForm)]
pub(super) fn start_form(p: &StartProps) -> Html {
    let on_project = p.on_project.reform(|e: Event| e.target_unchecked_into::<HtmlSelectElement>().value());
    let on_edits = p.on_edits.reform(|e: Event| e.target_unchecked_into::<HtmlInputElement>().checked());
    let on_branch = p.on_branch.reform(|e: InputEvent| e.target_unchecked_into::<HtmlInputElement>().value());
    let on_push = p.on_push.reform(|e: Event| e.target_unchecked_into::<HtmlInputElement>().checked());
    html! {
        <>
            <div class="row">
                <label>{ "Project" }<select data-testid="run-project" onchange={on_project}>
                    { for p.projects.iter().map(|x| html! {
                        <option value={x.name.clone()} selected={x.name == p.project}>{ &x.name }</option>
                    }) }
                </select></label>
                <button data-testid="run-load-files" onclick={p.on_load_files.reform(|_| ())}
                    title="Replace the editors' text with this project's files on the server">{ "Load project files" }</button>
                <label title="The build preview's branch: one for the plan shown and the run">{ "Branch or tag (as in the preview)" }
                    <input type="text" data-testid="run-branch" value={p.branch.clone()} oninput={on_branch} /></label>
                <label class="check"><input type="checkbox" data-testid="run-push" checked={p.push} onchange={on_push} />{ " push" }</label>
                <label class="check"><input type="checkbox" data-testid="run-edits" checked={p.use_edits} onchange={on_edits} />
                    { " use the editors' files" }</label>
                <button data-testid="run-start" onclick={p.on_start.reform(|_| ())} disabled={!p.can_start}>{ "Run" }</button>
            </div>
            if !p.can_start { <p class="muted note" data-testid="run-repo-note">{ REPO_NOTE }</p> }
            <p class="muted note">{ "The branch and push are the build preview's; a blank branch means the branch of the server's checkout. The commit id, message and committer of a run started here come from the project's git checkout on the server." }</p>
        </>
    }
}
