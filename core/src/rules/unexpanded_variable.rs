//! SW218 `unexpanded-variable`: `$VAR` in a run step's command that no shell expands (commands
//! run without a shell, as in jet). Checked against each service in scope, since a service's
//! `entrypoint` may be the shell. The analysis of the command line is `command_vars`.

use super::command_vars;
use super::walk::Place;
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::{Command, ServicesFile, Step, StepKind};
use crate::source::SourceFile;
use crate::syntax::scalar::{name_span, scalar_at, span_in};

pub(super) fn check(file: &SourceFile, services: &ServicesFile, s: &Step, at: &Place, diags: &mut Vec<Diagnostic>) {
    let StepKind::Run { command: Some(command) } = &s.kind else { return };
    let entrypoints: Vec<Option<&Command>> = if at.in_scope.is_empty() {
        vec![None]
    } else {
        at.in_scope.iter().map(|svc| services.get(&svc.value).and_then(|s| s.entrypoint.as_ref())).collect()
    };
    let text = command.value.as_str();
    let Some(refs) = entrypoints.into_iter().map(|e| command_vars::unexpanded(text, e)).find(|r| !r.is_empty()) else {
        return;
    };
    let mut names: Vec<&str> = Vec::new();
    for r in &refs {
        if !names.contains(&r.text(text)) {
            names.push(r.text(text));
        }
    }
    let listed = names.iter().take(3).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let (verb, more) = match names.len() {
        1 => ("is", String::new()),
        n if n > 3 => ("are", format!(" (and {} more)", n - 3)),
        _ => ("are", String::new()),
    };
    let help = if text.contains('\'') {
        "run the command through a shell, `sh -c '…'`, so that it expands variables".to_string()
    } else {
        format!("run it through a shell, which expands variables: `command: sh -c '{text}'`")
    };
    let mut d = Diagnostic::warning(
        Code::UnexpandedVariable,
        file,
        span_in(file, command.span, text, refs[0].start..refs[0].end),
        format!("{listed}{more} {verb} passed to the program as written: commands run without a shell, so variables are not expanded"),
    )
    .with_help(help);
    // Only a scalar command can be rewritten in place (a list's span is the whole list).
    if !text.contains('\'') && name_span(file, command.span, text).is_some() {
        d = d.with_suggestion(command.span, scalar_at(file, command.span, &format!("sh -c '{text}'")));
    }
    diags.push(d);
}
