//! SW211 `step-without-service`: a run or push step runs in a service's container, named on the
//! step or on an enclosing group.

use super::unknown_service::services_defined;
use super::walk::Place;
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::{ServicesFile, Step, StepKind};
use crate::source::SourceFile;

pub(super) fn check(file: &SourceFile, services: &ServicesFile, s: &Step, at: &Place, diags: &mut Vec<Diagnostic>) {
    if matches!(s.kind, StepKind::Group { .. }) || !at.in_scope.is_empty() {
        return;
    }
    diags.push(
        Diagnostic::error(
            Code::StepWithoutService,
            file,
            s.span,
            "this step has no `service` (on itself or on an enclosing group)",
        )
        .with_help(services_defined(services)),
    );
}
