//! The table of recent runs; a row opens that run.

use super::wire::{RunList, RunSummary};
use crate::server_api;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

/// Load the newest runs into `history`.
pub(super) fn refresh(history: UseStateHandle<Vec<RunSummary>>) {
    spawn_local(async move {
        if let Ok(list) = server_api::json::<RunList>("GET", "/api/runs?per_page=15", None, None).await {
            history.set(list.runs);
        }
    });
}

#[derive(Properties, PartialEq)]
pub(super) struct HistoryProps {
    pub runs: Vec<RunSummary>,
    pub on_open: Callback<String>,
    pub on_refresh: Callback<()>,
}

#[function_component(History)]
pub(super) fn history(props: &HistoryProps) -> Html {
    html! {
        <>
            <h3>{ "Recent runs " }<button onclick={props.on_refresh.reform(|_| ())}>{ "Refresh" }</button></h3>
            <table class="history" data-testid="run-history">
                { for props.runs.iter().map(|r| {
                    let id = r.id.clone();
                    html! {
                        <tr data-run-id={r.id.clone()} onclick={props.on_open.reform(move |_| id.clone())}>
                            <td class="mono">{ &r.id }</td><td>{ &r.project }</td>
                            <td class="mono">{ r.tag.as_deref().unwrap_or("") }{ if r.push { " · push" } else { "" } }</td>
                            <td><span class={classes!("badge", r.status.as_str())}>{ r.status.as_str() }</span></td>
                            <td class="muted">{ ago(r.created_at) }</td>
                        </tr>
                    }
                }) }
            </table>
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
