//! SW205 `push-without-image-name`: a push step needs `image_name`, the repository it pushes to.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::{Step, StepKind};
use crate::source::SourceFile;

pub(super) fn check(file: &SourceFile, s: &Step, diags: &mut Vec<Diagnostic>) {
    if let StepKind::Push { image_name: None, .. } = &s.kind {
        diags.push(
            Diagnostic::error(Code::PushWithoutImageName, file, s.span, "this push step has no `image_name`")
                .with_help("add `image_name:` with the repository to push to, e.g. `acme/app` or `quay.io/acme/app`"),
        );
    }
}
