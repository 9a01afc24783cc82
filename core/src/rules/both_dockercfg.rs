//! SW214 `both-dockercfg`: a push step with both `encrypted_dockercfg_path` and
//! `dockercfg_service` uses the encrypted file; the generator never runs. A warning: it works,
//! but one of the two is dead configuration.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::Step;
use crate::source::SourceFile;

pub(super) fn check(file: &SourceFile, s: &Step, diags: &mut Vec<Diagnostic>) {
    if let (Some(enc), Some(_)) = (&s.encrypted_dockercfg_path, &s.dockercfg_service) {
        diags.push(
            Diagnostic::warning(
                Code::BothDockercfg,
                file,
                enc.span,
                "both `encrypted_dockercfg_path` and `dockercfg_service` are set; the encrypted file is used",
            )
            .with_help("remove one of them"),
        );
    }
}
