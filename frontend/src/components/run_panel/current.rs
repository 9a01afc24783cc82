//! The opened run: its `Toolbar`, `Graph` and `LogView`, drawn from the followed run's log
//! and the panel's state.

use super::api::Ctl;
use super::graph::{self, Graph};
use super::log_view::LogView;
use super::state::Action;
use super::toolbar::Toolbar;
use crate::run_log::{BUILD_LANE, RENDER_CAP, RunLog};
use crate::wire::startable;
use slipway_core::run_state::RunStatus;
use std::rc::Rc;
use yew::prelude::*;

/// The opened run: its toolbar, graph and log.
pub(super) fn current_run(ctl: &Ctl, projects: &[crate::wire::Project], current_ref: &NodeRef) -> Html {
    let f = ctl.shared.borrow();
    let Some(id) = f.id.clone() else { return html! {} };
    let s = &*ctl.state;
    let log: &RunLog = &f.log;
    let status = match &log.finished {
        Some((s, _)) => s.as_str(),
        None if log.plan.is_some() => RunStatus::Running.as_str(),
        None => RunStatus::Queued.as_str(),
    };
    let summary = s.current.clone().filter(|r| r.id == id);
    // Unknown until the run's summary is in: left to the server.
    let can_rerun = summary.as_ref().is_none_or(|r| startable(projects, &r.project));
    let stages: Vec<graph::NodeView> =
        log.plan.as_ref().map(|p| p.steps.iter().map(|n| graph::view(n, log)).collect()).unwrap_or_default();
    let name_of = |id: &str| match id {
        BUILD_LANE => "Image builds".to_string(),
        _ => log.plan.as_ref().and_then(|p| p.find(id)).map_or(id.to_string(), |s| s.name.clone()),
    };
    let (hidden, lines) = match (&s.lane, s.from_start) {
        (Some(lane), true) => log.head_lines(lane, RENDER_CAP),
        (lane, _) => log.tail_lines(lane.as_deref(), RENDER_CAP),
    };
    let title = s.lane.as_deref().map_or("All steps".to_string(), |l| match l {
        BUILD_LANE => name_of(l),
        _ => format!("Step {}", name_of(l)),
    });
    let failed = log.first_failed.clone();
    // Steps are picked by id (names may repeat); a group shows every lane.
    let pick = {
        let (ctl, shared) = (ctl.clone(), ctl.shared.clone());
        Callback::from(move |id: String| {
            let f = shared.borrow();
            let leaf =
                id == BUILD_LANE || f.log.plan.as_ref().and_then(|p| p.find(&id)).is_some_and(|s| s.steps.is_empty());
            ctl.state.dispatch(Action::Lane(leaf.then_some(id)));
        })
    };
    let c = ctl.clone();
    let dispatch = ctl.state.dispatcher().to_callback();
    html! {
        <div class="run-current" data-testid="run-current" data-run-id={id.clone()} data-run-status={status} ref={current_ref.clone()}>
            <Toolbar id={id.clone()} status={status} summary={summary} now={(js_sys::Date::now() / 1000.0) as i64}
                lines={log.line_count()} error={log.finished.as_ref().and_then(|(_, e)| e.clone())}
                waiting={log.waiting.as_ref().map(|w| w.label.clone())} finished={log.finished.is_some()} {can_rerun}
                commit={log.commit.clone()} edited={log.edited}
                on_approve={let c = c.clone(); Callback::from(move |_| c.post("approve"))}
                on_cancel={let c = c.clone(); Callback::from(move |_| c.post("cancel"))}
                // The same request again, as the server stored it (the files sent too), whoever started it.
                on_rerun={let c = c.clone(); Callback::from(move |_| if let Some(id) = c.run_id() { c.queue(format!("/api/runs/{id}/rerun"), None) })}
                on_download={let c = c.clone(); Callback::from(move |_| c.download_log())} />
            <div class="run-body">
                <Graph {stages} builds={log.has_builds()} picked={s.lane.clone()} on_pick={pick} />
                <LogView lines={Rc::new(lines)} {hidden} {title} one_lane={s.lane.is_some()} on_all={dispatch.reform(|_| Action::Lane(None))}
                    from_start={s.from_start} failed={failed.as_deref().map(|id| AttrValue::from(name_of(id)))}
                    on_jump={let d = dispatch.clone(); Callback::from(move |_| if let Some(id) = failed.clone() { d.emit(Action::JumpToError(id)) })}
                    search={s.search.clone()} hit={s.hit} on_search={dispatch.reform(Action::Search)}
                    on_step={dispatch.reform(|(forward, count)| Action::Step { forward, count })} />
            </div>
        </div>
    }
}
