//! SW004 `wrong-type`, for a run step's `command`: it is split into arguments as a shell would
//! quote them (no shell runs it), so an unclosed quote or a trailing backslash cannot run. The
//! shape errors of lowering share the code; this is the one that needs the split.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::{Step, StepKind};
use crate::source::SourceFile;

pub(super) fn check(file: &SourceFile, s: &Step, diags: &mut Vec<Diagnostic>) {
    let StepKind::Run { command: Some(c) } = &s.kind else { return };
    if c.value.trim().is_empty() {
        return; // SW204's
    }
    if let Err(e) = crate::argv::split(&c.value) {
        diags.push(Diagnostic::error(Code::WrongType, file, c.span, e.to_string()));
    }
}
