//! SW210 `manual-placement`: a `manual` group waits for someone to approve it, so it is the
//! end of its pipeline: a top-level step, the last one for its branches, and only one per set
//! of branches (a step after it, or a second one, could never be reached the way it reads).

use super::walk::Place;
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::{GroupMode, Step, StepKind};
use crate::source::SourceFile;

/// The branches a top-level step is for, as its filters write them.
fn branches(s: &Step) -> (Option<&str>, Option<&str>) {
    (s.tag.as_ref().map(|t| t.value.as_str()), s.exclude.as_ref().map(|t| t.value.as_str()))
}

fn is_manual(s: &Step) -> bool {
    matches!(s.kind, StepKind::Group { mode: GroupMode::Manual, .. })
}

/// A `manual` group nested in another group.
pub(super) fn nested(file: &SourceFile, s: &Step, at: &Place, diags: &mut Vec<Diagnostic>) {
    if is_manual(s) && at.depth > 0 {
        diags.push(Diagnostic::error(Code::ManualPlacement, file, s.span, "a `manual` group must be a top-level step"));
    }
}

/// Only one manual group per branch context, and it must be the last top-level step there.
pub(super) fn last(file: &SourceFile, steps: &[Step], diags: &mut Vec<Diagnostic>) {
    for (i, s) in steps.iter().enumerate().filter(|(_, s)| is_manual(s)) {
        let line = file.line_col(s.span.start).0;
        for later in &steps[i + 1..] {
            let unfiltered = later.tag.is_none() && later.exclude.is_none();
            if !unfiltered && branches(later) != branches(s) {
                continue;
            }
            let msg = if is_manual(later) {
                format!("a second `manual` group for the same branches (the first is on line {line})")
            } else {
                format!("this step comes after the `manual` group on line {line}, which must be the last step")
            };
            diags.push(
                Diagnostic::error(Code::ManualPlacement, file, later.span, msg)
                    .with_help("move the manual group to the end, or give the steps after it a different `tag`"),
            );
        }
    }
}
