//! The plan's steps next to the model steps they came from: the plan gives structure, names
//! and commands; the model gives filters, templates and positions.

use crate::model::{Step, StepKind};
use crate::plan::PlannedStep;

/// One planned step and the model step it was planned from. The groups the planner adds for
/// `services:` (one per service or per sub-step) point at the group that lists the services.
#[derive(Debug)]
pub struct Node<'a> {
    pub planned: &'a PlannedStep,
    pub model: &'a Step,
    /// True for a group the planner made from `services:`, whose filters are its model's.
    pub expansion: bool,
    pub children: Vec<Node<'a>>,
    pub on_fail: Vec<Node<'a>>,
}

pub fn pair<'a>(model: &'a [Step], planned: &'a [PlannedStep]) -> Vec<Node<'a>> {
    model.iter().zip(planned).map(|(m, p)| node(m, p)).collect()
}

fn node<'a>(model: &'a Step, planned: &'a PlannedStep) -> Node<'a> {
    let children = match &model.kind {
        StepKind::Group { steps, .. } if model.services.is_empty() => pair(steps, &planned.steps),
        StepKind::Group { mode, steps, .. } => expansion(model, *mode, steps, &planned.steps),
        _ => Vec::new(),
    };
    Node { planned, model, expansion: false, children, on_fail: pair(&model.on_fail, &planned.on_fail) }
}

/// `services:` on a group: parallel groups get one serial copy of the sub-steps per service;
/// serial and manual groups one parallel group per sub-step with a copy per service.
fn expansion<'a>(
    group: &'a Step,
    mode: crate::model::GroupMode,
    steps: &'a [Step],
    planned: &'a [PlannedStep],
) -> Vec<Node<'a>> {
    let synthetic = |p: &'a PlannedStep, children| Node {
        planned: p,
        model: group,
        expansion: true,
        children,
        on_fail: Vec::new(),
    };
    match mode {
        crate::model::GroupMode::Parallel => {
            planned.iter().map(|copy| synthetic(copy, pair(steps, &copy.steps))).collect()
        }
        _ => {
            planned.iter().zip(steps).map(|(g, m)| synthetic(g, g.steps.iter().map(|c| node(m, c)).collect())).collect()
        }
    }
}

impl Node<'_> {
    /// Every leaf (run or push step) below, in order.
    pub fn leaves(&self) -> Vec<&Node<'_>> {
        if self.children.is_empty() { vec![self] } else { self.children.iter().flat_map(|c| c.leaves()).collect() }
    }
}
