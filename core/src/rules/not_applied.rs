//! SW107: a compose key Slipway accepts but does not apply, so the step runs without it.
//! `model::container` reads the keys that shape a container and keeps, for each one it leaves
//! out, the reason: `restart` (steps run once), a value it cannot read (`mem_limit: lots`), or
//! `cpu_quota`/`cpu_period` beside `cpus`. A warning, never an error: CodeShip ran such files,
//! and the step still runs.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::ServicesFile;
use crate::model::container::NotAppliedKind;
use crate::source::SourceFile;

pub(super) fn check(file: &SourceFile, services: &ServicesFile, diags: &mut Vec<Diagnostic>) {
    for s in &services.services {
        for n in &s.container.not_applied {
            let help = match n.kind {
                NotAppliedKind::NoEffect if n.key == "restart" => {
                    "remove it; a step that should retry can loop in its command (`sh -c 'for i in 1 2 3; do ./test && exit 0; done; exit 1'`)"
                }
                NotAppliedKind::NoEffect => "remove it",
                NotAppliedKind::Unreadable => "fix the value, or remove the key; until then the step runs without it",
                NotAppliedKind::Overridden => "keep one of the two",
            };
            diags.push(
                Diagnostic::warning(
                    Code::NotApplied,
                    file,
                    n.span,
                    format!("`{}` of service `{}` is not applied: {}", n.key, s.name.value, n.why),
                )
                .with_help(help),
            );
        }
    }
}
