//! The planned pipeline as a tree, as the build preview draws it (will-run / skipped), and
//! what the preview's tree and the Run panel's graph (`run_panel/graph.rs`) both say about a
//! step: its kind's class and a line describing it. One wording for both, since both follow
//! the one planner.

use slipway_core::plan::{Kind, PlannedStep, Status};
use yew::prelude::*;

/// Where a `manual` group stands with its approval: the preview's plan has not run, so its
/// groups wait for one; a run's graph says what is true now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Approval {
    Waits,
    Needed,
    Approved,
}

/// What a step does: `app · make test`, `push IMAGE`, `parallel`, `manual · waits for approval`.
pub(crate) fn describe(s: &PlannedStep, approval: Approval) -> String {
    match s.kind {
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
        Kind::Manual => match approval {
            Approval::Waits => "manual · waits for approval",
            Approval::Needed => "manual · needs approval",
            Approval::Approved => "manual · approved",
        }
        .into(),
    }
}

/// One step of the preview's tree and those under it.
pub fn node(s: &PlannedStep) -> Html {
    let status = match s.status {
        Status::WillRun => "will-run",
        Status::Skipped => "skipped",
    };
    html! {
        <li class={classes!("step", status, kind_class(s.kind))}
            data-step-name={s.name.clone()} data-step-id={s.id.clone()} data-status={status}>
            <span class="name">{ &s.name }</span>
            <span class="what">{ describe(s, Approval::Waits) }</span>
            if let Some(r) = &s.reason { <span class="reason">{ format!("skipped: {r}") }</span> }
            if !s.steps.is_empty() {
                <ul>{ for s.steps.iter().map(node) }</ul>
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
