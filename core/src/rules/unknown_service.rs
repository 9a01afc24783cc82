//! SW102 `unknown-service`: every service a file names — a step's `service`/`services`/
//! `dockercfg_service`, a service's `links`, `depends_on`, `volumes_from` and
//! `dockercfg_service` — must be defined in the services file.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::{ServicesFile, Step};
use crate::source::{SourceFile, Span};
use crate::syntax::scalar::name_span;

/// The references between services.
pub(super) fn in_services(file: &SourceFile, services: &ServicesFile, diags: &mut Vec<Diagnostic>) {
    for s in &services.services {
        let refs = s
            .links
            .iter()
            .map(|l| (&l.service, "links"))
            .chain(s.depends_on.iter().map(|d| (d, "depends_on")))
            .chain(s.volumes_from.iter().map(|d| (d, "volumes_from")))
            .chain(s.dockercfg_service.iter().map(|d| (d, "dockercfg_service")));
        for (r, key) in refs {
            if services.get(&r.value).is_none() {
                let context = format!("`{key}` of service `{}`", s.name.value);
                diags.push(diagnostic(file, r.span, &r.value, services, &context));
            }
        }
    }
}

/// The services a step names.
pub(super) fn in_step(file: &SourceFile, services: &ServicesFile, s: &Step, diags: &mut Vec<Diagnostic>) {
    for r in s.service.iter().chain(&s.services).chain(&s.dockercfg_service) {
        if services.get(&r.value).is_none() {
            diags.push(diagnostic(file, r.span, &r.value, services, "this step"));
        }
    }
}

/// "unknown service `x`" with a suggestion.
fn diagnostic(file: &SourceFile, span: Span, name: &str, services: &ServicesFile, context: &str) -> Diagnostic {
    let d = Diagnostic::error(Code::UnknownService, file, span, format!("{context} names unknown service `{name}`"));
    match crate::spelling::closest(name, services.names()) {
        Some(s) => {
            let d = d.with_help(format!("did you mean `{s}`?"));
            match name_span(file, span, name) {
                Some(at) => d.with_suggestion(at, s),
                None => d,
            }
        }
        None => d.with_help(services_defined(services)),
    }
}

/// The help that lists the services a step may name, or says there are none (an empty list
/// read as "services defined: " with nothing after it).
pub(super) fn services_defined(services: &ServicesFile) -> String {
    let names: Vec<_> = services.names().collect();
    if names.is_empty() {
        "the services file defines no services yet".to_string()
    } else {
        format!("services defined: {}", names.join(", "))
    }
}
