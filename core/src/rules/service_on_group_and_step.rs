//! SW203 `service-on-group-and-step`: a group that sets `service`/`services` runs every sub-step
//! on them, so a sub-step that sets its own contradicts it. `on_fail` steps are the exception:
//! they may name the service that reports the failure.

use super::walk::Place;
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::Step;
use crate::source::SourceFile;

pub(super) fn check(file: &SourceFile, s: &Step, at: &Place, diags: &mut Vec<Diagnostic>) {
    let sets_service = s.service.is_some() || !s.services.is_empty();
    if at.group_scope.is_empty() || !sets_service || at.on_fail {
        return;
    }
    let span = s.service.as_ref().or(s.services.first()).map_or(s.span, |x| x.span);
    diags.push(
        Diagnostic::error(
            Code::ServiceOnGroupAndStep,
            file,
            span,
            "this step sets a service, but its group already does",
        )
        .with_help("set the service either on the group or on each sub-step"),
    );
}
