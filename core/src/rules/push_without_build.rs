//! SW206 `push-without-build`: a push step normally pushes the image its service builds.
//!
//! A push step tags the image its service built as `image_name:image_tag` and pushes that.
//! `image_name` may differ from the service's `build.image`, and the service need not name its
//! image at all (Codeship: "Your service `image_name` can differ from the repository defined in
//! your steps file. Your image will be tagged and pushed based on the `push` step").

use super::walk::Place;
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::services::Str;
use crate::model::{ServicesFile, Step, StepKind};
use crate::source::SourceFile;

pub(super) fn check(file: &SourceFile, services: &ServicesFile, s: &Step, at: &Place, diags: &mut Vec<Diagnostic>) {
    if matches!(s.kind, StepKind::Push { .. }) {
        diags.extend(at.in_scope.iter().filter_map(|svc| service_builds(file, services, svc)));
    }
}

/// A push step normally pushes the image its service builds. One that only names a
/// pulled `image:` republishes that image under `image_name`: it works (the executor pulls,
/// retags and pushes), but is more often a mistake, so this is a warning, not an error — a
/// configuration CodeShip ran must not be refused on a guess.
fn service_builds(file: &SourceFile, services: &ServicesFile, svc: &Str) -> Option<Diagnostic> {
    let service = services.get(&svc.value)?;
    if service.build.is_some() {
        return None;
    }
    let pulled = service.image.as_ref().map_or(String::new(), |i| format!(" (it uses `image: {}`)", i.value));
    Some(
        Diagnostic::warning(
            Code::PushWithoutBuild,
            file,
            svc.span,
            format!("service `{}` does not build an image{pulled}; this push republishes the pulled image", svc.value),
        )
        .with_help("push a service that has `build:` if you meant to publish your own image"),
    )
}
