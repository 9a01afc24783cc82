//! SW202 `service-and-services`: a step names its container with `service` or `services`,
//! never both (which one would it run on?).

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::Step;
use crate::source::SourceFile;

pub(super) fn check(file: &SourceFile, s: &Step, diags: &mut Vec<Diagnostic>) {
    if let (Some(svc), Some(first)) = (&s.service, s.services.first()) {
        diags.push(Diagnostic::error(
            Code::ServiceAndServices,
            file,
            first.span,
            format!("`service: {}` and `services:` are mutually exclusive", svc.value),
        ));
    }
}
