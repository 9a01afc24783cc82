//! SW101 `service-without-image`: a service needs `build` or `image`, or there is nothing to
//! run its container from.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::ServicesFile;
use crate::source::SourceFile;

pub(super) fn check(file: &SourceFile, services: &ServicesFile, diags: &mut Vec<Diagnostic>) {
    for s in services.services.iter().filter(|s| s.build.is_none() && s.image.is_none()) {
        diags.push(
            Diagnostic::error(
                Code::NoBuildOrImage,
                file,
                s.name.span,
                format!("service `{}` has neither `build` nor `image`", s.name.value),
            )
            .with_help(
                "add `image: <name>` to use an existing image, or `build: .` to build the Dockerfile next to this file",
            ),
        );
    }
}
