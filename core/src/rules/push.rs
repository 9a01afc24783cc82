//! Push steps: what they push (SW206) and where to (SW216, SW217).
//!
//! A push step tags the image its service built as `image_name:image_tag` and pushes that.
//! `image_name` may differ from the service's `build.image`, and the service need not name its
//! image at all (Codeship: "Your service `image_name` can differ from the repository defined in
//! your steps file. Your image will be tagged and pushed based on the `push` step").

use super::span_in;
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::image_ref::{ImageRef, ImageRefErrorKind, split_host};
use crate::model::ServicesFile;
use crate::model::services::Str;
use crate::source::SourceFile;

/// SW206: a push step normally pushes the image its service builds. One that only names a
/// pulled `image:` republishes that image under `image_name`: it works (the executor pulls,
/// retags and pushes), but is more often a mistake, so this is a warning, not an error — a
/// configuration CodeShip ran must not be refused on a guess.
pub(super) fn service_builds(file: &SourceFile, services: &ServicesFile, svc: &Str) -> Option<Diagnostic> {
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

/// SW216 and SW217: `image_name` is a repository Docker accepts, without a tag or digest.
pub(super) fn image_name(file: &SourceFile, name: &Str) -> Option<Diagnostic> {
    let text = name.value.as_str();
    let r = match ImageRef::parse(text) {
        Ok(r) => r,
        Err(e) => {
            let end = if e.kind == ImageRefErrorKind::Empty { e.offset } else { next_char(text, e.offset) };
            let d = Diagnostic::error(
                Code::InvalidImageName,
                file,
                span_in(file, name.span, text, e.offset..end),
                format!("`image_name: {text}` is not a valid repository name: {e}"),
            );
            return Some(match e.kind {
                ImageRefErrorKind::Uppercase => d
                    .with_help(format!("Docker refuses upper case in repository names; use `{}`", lowercase_path(text)))
                    .with_suggestion(name.span, super::scalar_at(file, name.span, &lowercase_path(text))),
                _ => d.with_help(
                    "a repository is `[host[:port]/]name[/name…]` in lowercase, e.g. `acme/app` or `quay.io/acme/app`",
                ),
            });
        }
    };
    let repo = r.repository();
    if let Some(at) = r.digest_at {
        return Some(
            Diagnostic::error(
                Code::ImageNameWithTag,
                file,
                span_in(file, name.span, text, at..text.len()),
                format!("`image_name: {text}` has a digest; a push creates a tag, it cannot write to a digest"),
            )
            .with_help(format!("use `image_name: {repo}` and set the tag with `image_tag`"))
            .with_suggestion(name.span, super::scalar_at(file, name.span, &repo)),
        );
    }
    let (Some(at), Some(tag)) = (r.tag_at, &r.tag) else { return None };
    Some(
        Diagnostic::error(
            Code::ImageNameWithTag,
            file,
            span_in(file, name.span, text, at..text.len()),
            format!("`image_name: {text}` has a tag; the push step's tag comes from `image_tag`"),
        )
        .with_help(format!("use `image_name: {repo}` and `image_tag: {tag}`"))
        .with_suggestion(name.span, super::scalar_at(file, name.span, &repo)),
    )
}

fn next_char(text: &str, offset: usize) -> usize {
    text[offset..].chars().next().map_or(offset, |c| offset + c.len_utf8())
}

/// The suggestion for an upper-case name: the repository with its path lowercased (a host is
/// case-insensitive and stays as written), without any tag or digest.
fn lowercase_path(text: &str) -> String {
    let lowered = match split_host(text) {
        (Some(host), rest) => format!("{host}/{}", rest.to_ascii_lowercase()),
        (None, rest) => rest.to_ascii_lowercase(),
    };
    ImageRef::parse(&lowered).map_or(lowered, |r| r.repository())
}
