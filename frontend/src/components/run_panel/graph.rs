//! The run's stage graph, as GitLab's pipeline graph and GitHub Actions' job graph draw one:
//! the top-level steps are stages in order, top to bottom; the steps of a parallel group sit
//! side by side; an edge joins every step that ends a stage to every step that starts the
//! next. Each step is coloured by its status: pending (dashed), running (with a spinner),
//! done (success, failed, skipped, cancelled). Image builds have their own lane above.

use crate::components::plan_tree::{Approval, describe, kind_class};
use crate::run_log::{BUILD_LANE, RunLog, format_duration};
use slipway_core::plan::{Kind, PlannedStep};
use yew::prelude::*;

/// A step as the graph draws it: a plain value, built from the plan and the log.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct NodeView {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    /// `pending` until the step reports, then its status (`NodeStatus::as_str`).
    pub run_status: &'static str,
    /// What the step does (`app · make test`, `parallel`, `manual · waits for approval`).
    pub what: String,
    pub took: Option<String>,
    /// Why the planner skips it.
    pub reason: Option<String>,
    pub children: Vec<NodeView>,
}

impl NodeView {
    /// The columns an edge meets at this stage's top or bottom: a parallel group's steps, or
    /// the stage itself.
    fn columns(&self) -> Vec<&str> {
        match self.kind {
            Kind::Parallel if !self.children.is_empty() => self.children.iter().map(|c| c.name.as_str()).collect(),
            _ => vec![self.name.as_str()],
        }
    }
}

pub(super) fn view(s: &PlannedStep, log: &RunLog) -> NodeView {
    let run_status = log.node_status(s).unwrap_or("pending");
    // Says what is true now: it waits only while it waits.
    let approval = match run_status {
        "waiting" => Approval::Waits,
        _ if log.approved(&s.id) => Approval::Approved,
        _ => Approval::Needed,
    };
    let what = describe(s, approval);
    NodeView {
        id: s.id.clone(),
        name: s.name.clone(),
        kind: s.kind,
        run_status,
        what,
        took: log.duration_ms(&s.id).map(format_duration),
        reason: s.reason.clone(),
        children: s.steps.iter().map(|c| view(c, log)).collect(),
    }
}

#[derive(Properties, PartialEq)]
pub(super) struct GraphProps {
    pub stages: Vec<NodeView>,
    /// Whether any image build wrote to the log (its lane is drawn then).
    pub builds: bool,
    /// The lane shown in the log.
    pub picked: Option<String>,
    pub on_pick: Callback<String>,
}

#[function_component(Graph)]
pub(super) fn graph(p: &GraphProps) -> Html {
    let picked = p.picked.as_deref();
    html! {
        <div class="stage-graph" data-testid="run-graph">
            if p.builds {
                <button type="button" class={classes!("lane", (picked == Some(BUILD_LANE)).then_some("picked"))}
                    data-testid="run-build-lane" onclick={p.on_pick.reform(|_| BUILD_LANE.to_string())}>
                    { "Image builds" }</button>
            }
            { for p.stages.iter().enumerate().map(|(i, s)| html! {
                <>
                    if i > 0 { { edge(&p.stages[i - 1], s) } }
                    <ul class="stage plan graph">{ node(s, picked, &p.on_pick) }</ul>
                </>
            }) }
        </div>
    }
}

/// The edge from stage `a` to stage `b`: a line from each column ending `a` to each column
/// starting `b`, drawn in a box as wide as the stages (columns share a stage's width evenly).
fn edge(a: &NodeView, b: &NodeView) -> Html {
    let (from, to) = (a.columns(), b.columns());
    let x = |i: usize, n: usize| (i as f64 + 0.5) * 100.0 / n as f64;
    let lines = from.iter().enumerate().flat_map(|(i, _)| to.iter().enumerate().map(move |(j, _)| (i, j)));
    html! {
        <div class="edge" data-testid="graph-edge" data-from={from.join(" ")} data-to={to.join(" ")}>
            <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
                { for lines.map(|(i, j)| html! {
                    <line x1={x(i, from.len()).to_string()} y1="0" x2={x(j, to.len()).to_string()} y2="10" />
                }) }
            </svg>
        </div>
    }
}

/// One step and those under it. Nodes are buttons, so the keyboard reaches them too.
fn node(s: &NodeView, picked: Option<&str>, on_pick: &Callback<String>) -> Html {
    let leaf = s.children.is_empty();
    let id = s.id.clone();
    let onclick = on_pick.reform(move |_: MouseEvent| id.clone());
    html! {
        <li class={classes!("step", kind_class(s.kind), s.run_status, (picked == Some(s.id.as_str())).then_some("picked"))}
            data-step-name={s.name.clone()} data-step-id={s.id.clone()} data-run-status={s.run_status}>
            <button type="button" class="name" {onclick}>{ &s.name }</button>
            if s.run_status == "running" && leaf {
                <span class="spinner" data-testid="step-spinner" aria-label="running" />
            }
            if let Some(t) = &s.took { <span class="duration" data-testid="step-duration">{ t }</span> }
            <span class="what">{ &s.what }</span>
            if let Some(r) = &s.reason { <span class="reason">{ format!("skipped: {r}") }</span> }
            if !leaf {
                <ul>{ for s.children.iter().map(|c| node(c, picked, on_pick)) }</ul>
            }
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{"event":"plan","plan":{"tag":"main","push":false,"steps":[
        {"id":"1","name":"checks","type":"parallel","status":"will-run","steps":[
            {"id":"1.1","name":"unit","type":"run","status":"will-run","service":"app","command":["true"]},
            {"id":"1.2","name":"lint","type":"run","status":"will-run","service":"app","command":["true"]}]},
        {"id":"2","name":"package","type":"run","status":"will-run","service":"app","command":["true"]},
        {"id":"3","name":"release","type":"manual","status":"will-run","steps":[
            {"id":"3.1","name":"announce","type":"run","status":"will-run","service":"app","command":["true"]}]}]}}"#;

    fn stages(log: &RunLog) -> Vec<NodeView> {
        log.plan.as_ref().unwrap().steps.iter().map(|s| view(s, log)).collect()
    }

    #[test]
    fn a_parallel_stage_meets_edges_in_each_of_its_steps() {
        let mut log = RunLog::default();
        log.apply(1, PLAN);
        let s = stages(&log);
        assert_eq!(
            (s[0].columns(), s[1].columns(), s[2].columns()),
            (vec!["unit", "lint"], vec!["package"], vec!["release"])
        );
        assert_eq!(s[1].run_status, "pending");
    }

    #[test]
    fn a_manual_group_waits_only_while_it_waits() {
        let mut log = RunLog::default();
        log.apply(1, PLAN);
        assert_eq!(stages(&log)[2].what, "manual · needs approval");
        log.apply(2, r#"{"event":"waiting","group":"release","id":"3"}"#);
        assert_eq!(stages(&log)[2].what, "manual · waits for approval");
        log.apply(3, r#"{"event":"step_status","step":"announce","id":"3.1","status":"running"}"#);
        assert_eq!(stages(&log)[2].what, "manual · approved");
    }
}
