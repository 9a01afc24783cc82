//! The planned pipeline as a tree: the build preview draws it with will-run/skipped, the Run
//! panel draws the same tree as the run's graph, coloured by each step's status. One drawing
//! for both, since both follow the one planner.

use crate::run_log::RunLog;
use slipway_core::plan::{Kind, PlannedStep, Status};
use yew::prelude::*;

/// `run` adds each node's run status (`data-run-status`, coloured by the stylesheet);
/// `on_pick` makes nodes clickable (the Run panel shows the picked step's log).
pub fn node(s: &PlannedStep, run: Option<&RunLog>, on_pick: Option<&Callback<String>>) -> Html {
    let status = match s.status {
        Status::WillRun => "will-run",
        Status::Skipped => "skipped",
    };
    let what = match s.kind {
        Kind::Run => format!(
            "{} · {}",
            s.service.as_deref().unwrap_or("?"),
            s.command.as_deref().map(slipway_core::argv::display).unwrap_or_default()
        ),
        Kind::Push => match s.image_ref() {
            Some(r) => format!("push {r}"),
            None => format!("push · {}", s.tag_error.as_deref().unwrap_or("")),
        },
        Kind::Serial => "serial".into(),
        Kind::Parallel => "parallel".into(),
        Kind::Manual => "manual · waits for approval".into(),
    };
    let run_status = run.map(|r| r.node_status(s).unwrap_or("pending").to_string());
    let took = run.and_then(|r| r.duration_ms(&s.id)).map(crate::run_log::format_duration);
    // Pickable nodes are buttons, so the keyboard reaches them too.
    let name = match on_pick {
        Some(cb) => {
            let (cb, picked) = (cb.clone(), s.id.clone());
            let onclick = Callback::from(move |_: MouseEvent| cb.emit(picked.clone()));
            html! { <button type="button" class="name" {onclick}>{ &s.name }</button> }
        }
        None => html! { <span class="name">{ &s.name }</span> },
    };
    html! {
        <li class={classes!("step", status, kind_class(s.kind), run_status.clone())}
            data-step-name={s.name.clone()} data-step-id={s.id.clone()} data-status={status} data-run-status={run_status.clone()}>
            { name }
            if let Some(t) = took { <span class="duration" data-testid="step-duration">{ t }</span> }
            <span class="what">{ what }</span>
            if let Some(r) = &s.reason { <span class="reason">{ format!("skipped: {r}") }</span> }
            if !s.steps.is_empty() {
                <ul>{ for s.steps.iter().map(|c| node(c, run, on_pick)) }</ul>
            }
        </li>
    }
}

/// The CSS class of a step's kind, in the preview's tree and the Run panel's graph alike.
pub(crate) fn kind_class(k: Kind) -> &'static str {
    match k {
        Kind::Run => "run",
        Kind::Push => "push",
        Kind::Serial => "serial",
        Kind::Parallel => "parallel",
        Kind::Manual => "manual",
    }
}
