//! The walk over the steps file that the per-step rules share: every step, nested groups and
//! `on_fail` steps included, with the services in scope where it stands.

use crate::model::services::Str;
use crate::model::{Step, StepKind};

/// Where a step stands in the tree.
pub(super) struct Place<'a> {
    /// The services an enclosing group put in scope (empty: none).
    pub group_scope: &'a [Str],
    /// The services the step runs on: its own, else its group's.
    pub in_scope: Vec<Str>,
    /// 0 for a top-level step.
    pub depth: usize,
    /// An `on_fail` step (which may name its own service inside a group that sets one).
    pub on_fail: bool,
}

/// Calls `visit` for every step, parents before their children.
pub(super) fn steps(steps: &[Step], visit: &mut impl FnMut(&Step, &Place)) {
    for s in steps {
        step(s, &[], 0, false, visit);
    }
}

fn step(s: &Step, group_scope: &[Str], depth: usize, on_fail: bool, visit: &mut impl FnMut(&Step, &Place)) {
    let own = own_services(s);
    let in_scope = if own.is_empty() { group_scope.to_vec() } else { own.clone() };
    visit(s, &Place { group_scope, in_scope: in_scope.clone(), depth, on_fail });
    if let StepKind::Group { steps, .. } = &s.kind {
        let child_scope = if own.is_empty() { group_scope.to_vec() } else { own };
        for c in steps {
            step(c, &child_scope, depth + 1, false, visit);
        }
    }
    for f in &s.on_fail {
        step(f, &in_scope, depth + 1, true, visit);
    }
}

/// Calls `visit` for every list of sibling steps: the top level, each group's `steps` and each
/// step's `on_fail`.
pub(super) fn lists(steps: &[Step], visit: &mut impl FnMut(&[Step])) {
    visit(steps);
    for s in steps {
        if let StepKind::Group { steps, .. } = &s.kind {
            lists(steps, visit);
        }
        if !s.on_fail.is_empty() {
            lists(&s.on_fail, visit);
        }
    }
}

fn own_services(s: &Step) -> Vec<Str> {
    s.service.iter().cloned().chain(s.services.iter().cloned()).collect()
}
