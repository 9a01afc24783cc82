//! The table of recent runs, filtered by project and branch; a row opens that run.

use super::trigger;
use crate::wire::RunSummary;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// Which runs the table lists; blank fields filter nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Filter {
    pub(super) project: String,
    pub(super) branch: String,
}

impl Filter {
    /// `GET /api/runs` for this filter.
    pub(super) fn path(&self) -> String {
        let mut path = "/api/runs?per_page=15".to_string();
        for (name, value) in [("project", self.project.trim()), ("branch", self.branch.trim())] {
            if !value.is_empty() {
                path.push_str(&format!("&{name}={}", String::from(js_sys::encode_uri_component(value))));
            }
        }
        path
    }
}

#[derive(Properties, PartialEq)]
pub(super) struct HistoryProps {
    pub runs: Vec<RunSummary>,
    pub projects: Vec<String>,
    pub filter: Filter,
    pub on_filter: Callback<Filter>,
    pub on_open: Callback<String>,
    pub on_refresh: Callback<()>,
}

#[function_component(History)]
pub(super) fn history(props: &HistoryProps) -> Html {
    let on_project = {
        let (cb, f) = (props.on_filter.clone(), props.filter.clone());
        Callback::from(move |e: Event| {
            let project = e.target_unchecked_into::<HtmlSelectElement>().value();
            cb.emit(Filter { project, ..f.clone() })
        })
    };
    let on_branch = {
        let (cb, f) = (props.on_filter.clone(), props.filter.clone());
        Callback::from(move |e: Event| {
            let branch = e.target_unchecked_into::<HtmlInputElement>().value();
            cb.emit(Filter { branch, ..f.clone() })
        })
    };
    html! {
        <>
            <h3>{ "Recent runs " }<button onclick={props.on_refresh.reform(|_| ())}>{ "Refresh" }</button></h3>
            <div class="row filters">
                <label>{ "Project" }<select data-testid="history-project" onchange={on_project}>
                    <option value="" selected={props.filter.project.is_empty()}>{ "all" }</option>
                    { for props.projects.iter().map(|p| html! {
                        <option value={p.clone()} selected={*p == props.filter.project}>{ p }</option>
                    }) }
                </select></label>
                // `change`, not `input`: one request per filter typed, not per letter.
                <label>{ "Branch or tag" }<input type="search" data-testid="history-branch" placeholder="all"
                    value={props.filter.branch.clone()} onchange={on_branch} /></label>
            </div>
            <table class="history" data-testid="run-history">
                { for props.runs.iter().map(|r| {
                    let id = r.id.clone();
                    html! {
                        <tr data-run-id={r.id.clone()} onclick={props.on_open.reform(move |_| id.clone())}>
                            <td class="mono"><a href={format!("#/runs/{}", r.id)}>{ &r.id }</a></td><td>{ &r.project }</td>
                            <td class="mono">{ r.tag.as_deref().unwrap_or("") }{ if r.push { " · push" } else { "" } }</td>
                            <td><span class={classes!("badge", r.status.as_str())}>{ r.status.as_str() }</span></td>
                            <td class="muted">{ ago(r.created_at) }</td>
                            <td>{ trigger::render(r.trigger.as_ref(), r.status_error.as_deref()) }</td>
                        </tr>
                    }
                }) }
            </table>
            if props.runs.is_empty() { <p class="muted" data-testid="history-empty">{ "No runs match." }</p> }
        </>
    }
}

fn ago(unix: i64) -> String {
    let s = ((js_sys::Date::now() / 1000.0) as i64 - unix).max(0);
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86400),
    }
}
