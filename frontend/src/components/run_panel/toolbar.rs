//! The opened run's header, as a CI's run page has it: the run and its status, how long it
//! took, the commit, what started it and whose files it ran, then its actions (approve the
//! waiting group by name, cancel after asking, rerun, download the full log).

use super::start_form::REPO_NOTE;
use super::trigger;
use crate::run_log::format_duration;
use crate::wire::RunSummary;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub(super) struct ToolbarProps {
    pub id: AttrValue,
    /// `queued`, `running` or the run's end (`RunStatus::as_str`).
    pub status: AttrValue,
    pub summary: Option<RunSummary>,
    /// Now, in Unix seconds (the running time's end while the run goes on).
    pub now: i64,
    pub lines: usize,
    pub error: Option<String>,
    /// The label of the manual group waiting for approval.
    pub waiting: Option<String>,
    pub finished: bool,
    pub can_rerun: bool,
    pub commit: Option<String>,
    pub edited: bool,
    pub on_approve: Callback<()>,
    pub on_cancel: Callback<()>,
    pub on_rerun: Callback<()>,
    pub on_download: Callback<()>,
}

/// The run's time: from its start to its end, or to now while it runs; `None` while queued.
pub(super) fn total_secs(summary: &RunSummary, now: i64) -> Option<i64> {
    let start = summary.started_at?;
    Some((summary.finished_at.unwrap_or(now) - start).max(0))
}

#[function_component(Toolbar)]
pub(super) fn toolbar(p: &ToolbarProps) -> Html {
    let id = p.id.clone();
    let took = p.summary.as_ref().and_then(|r| total_secs(r, p.now)).map(|s| format_duration(s as u64 * 1000));
    // A run of the editors' files (perhaps unsaved) is not the project's: marked as such.
    let files = if p.edited {
        html! { <span class="files edited" data-testid="run-files" data-edited="true"
        title="This run used the editors' files (unsaved edits included), not the project's">{ "edited files" }</span> }
    } else {
        html! { <span class="files" data-testid="run-files" data-edited="false">{ "project files" }</span> }
    };
    let on_cancel = {
        let (cb, id) = (p.on_cancel.clone(), id.clone());
        Callback::from(move |_| {
            let sure = gloo::utils::window()
                .confirm_with_message(&format!(
                    "Cancel run {id}? Steps running now are stopped and the rest are skipped."
                ))
                .unwrap_or(false);
            if sure {
                cb.emit(());
            }
        })
    };
    html! {
        <div class="row run-toolbar">
            <strong><a href={format!("#/runs/{id}")} data-testid="run-link">{ format!("Run {id}") }</a></strong>
            <span class={classes!("badge", p.status.to_string())}>
                if p.status == "running" { <span class="spinner" /> }{ p.status.clone() }</span>
            if let Some(t) = took {
                <span class="muted" data-testid="run-duration" title="From the run's start to its end">{ format!("took {t}") }</span>
            }
            if let Some(r) = &p.summary {
                <span class="muted mono">{ format!("{}{}", r.project, r.tag.as_deref().map(|t| format!(" · {t}")).unwrap_or_default()) }</span>
            }
            if let Some(c) = &p.commit {
                <span class="mono" data-testid="run-commit" title={c.clone()}>{ c.chars().take(7).collect::<String>() }</span>
            }
            if let Some(r) = &p.summary {
                if r.trigger.is_some() || r.status_error.is_some() {
                    { trigger::render(r.trigger.as_ref(), r.status_error.as_deref()) }
                } else {
                    <span class="trigger" data-testid="run-trigger" data-kind="manual">{ "started by hand (studio or API)" }</span>
                }
            }
            { files }
            <span class="muted">{ format!("{} log lines", p.lines) }</span>
            if let Some(e) = &p.error { <span class="bad" data-testid="run-error">{ e }</span> }
            if let Some(g) = &p.waiting {
                <button class="primary" data-testid="run-approve" onclick={p.on_approve.reform(|_| ())}>{ format!("Approve {g}") }</button>
            }
            if !p.finished {
                <button data-testid="run-cancel" onclick={on_cancel}>{ "Cancel" }</button>
            } else {
                <button data-testid="run-rerun" onclick={p.on_rerun.reform(|_| ())} disabled={!p.can_rerun}
                    title={(!p.can_rerun).then_some(REPO_NOTE)}>{ "Rerun" }</button>
            }
            <button data-testid="run-download" onclick={p.on_download.reform(|_| ())}>{ "Download full log" }</button>
        </div>
    }
}
