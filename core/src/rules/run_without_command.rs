//! SW204 `run-without-command`: a run step needs a `command` (a step with neither `command` nor
//! `type` is a run step whose command was forgotten, or a push step missing its `type`).

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::{Step, StepKind};
use crate::source::SourceFile;

pub(super) fn check(file: &SourceFile, s: &Step, diags: &mut Vec<Diagnostic>) {
    let StepKind::Run { command } = &s.kind else { return };
    if command.as_ref().is_none_or(|c| c.value.trim().is_empty()) {
        diags.push(
            Diagnostic::error(Code::RunWithoutCommand, file, s.span, "this run step has no `command`")
                .with_help("add `command: <what to run>`; use `type: push` for a push step"),
        );
    }
}
