//! SW216 `invalid-image-name`: a push step's `image_name` must be a repository Docker accepts
//! (`[host[:port]/]name[/name…]`, lowercase path); upper case gets the lowercased name as a fix.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::image_ref::{ImageRef, ImageRefErrorKind, split_host};
use crate::model::{Step, StepKind};
use crate::source::SourceFile;
use crate::syntax::scalar::{scalar_at, span_in};

pub(super) fn check(file: &SourceFile, s: &Step, diags: &mut Vec<Diagnostic>) {
    let StepKind::Push { image_name: Some(name), .. } = &s.kind else { return };
    let text = name.value.as_str();
    let Err(e) = ImageRef::parse(text) else { return };
    let end = if e.kind == ImageRefErrorKind::Empty { e.offset } else { next_char(text, e.offset) };
    let d = Diagnostic::error(
        Code::InvalidImageName,
        file,
        span_in(file, name.span, text, e.offset..end),
        format!("`image_name: {text}` is not a valid repository name: {e}"),
    );
    diags.push(match e.kind {
        ImageRefErrorKind::Uppercase => d
            .with_help(format!("Docker refuses upper case in repository names; use `{}`", lowercase_path(text)))
            .with_suggestion(name.span, scalar_at(file, name.span, &lowercase_path(text))),
        _ => d.with_help(
            "a repository is `[host[:port]/]name[/name…]` in lowercase, e.g. `acme/app` or `quay.io/acme/app`",
        ),
    });
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
