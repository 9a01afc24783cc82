//! SW217 `image-name-with-tag`: a push step's `image_name` is a repository; the tag comes from
//! `image_tag`, and a digest cannot be pushed to at all. The fix is the bare repository.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::image_ref::ImageRef;
use crate::model::{Step, StepKind};
use crate::source::SourceFile;
use crate::syntax::scalar::{scalar_at, span_in};

pub(super) fn check(file: &SourceFile, s: &Step, diags: &mut Vec<Diagnostic>) {
    let StepKind::Push { image_name: Some(name), .. } = &s.kind else { return };
    let text = name.value.as_str();
    let Ok(r) = ImageRef::parse(text) else { return }; // SW216's
    let repo = r.repository();
    let fix = scalar_at(file, name.span, &repo);
    if let Some(at) = r.digest_at {
        diags.push(
            Diagnostic::error(
                Code::ImageNameWithTag,
                file,
                span_in(file, name.span, text, at..text.len()),
                format!("`image_name: {text}` has a digest; a push creates a tag, it cannot write to a digest"),
            )
            .with_help(format!("use `image_name: {repo}` and set the tag with `image_tag`"))
            .with_suggestion(name.span, fix),
        );
    } else if let (Some(at), Some(tag)) = (r.tag_at, &r.tag) {
        diags.push(
            Diagnostic::error(
                Code::ImageNameWithTag,
                file,
                span_in(file, name.span, text, at..text.len()),
                format!("`image_name: {text}` has a tag; the push step's tag comes from `image_tag`"),
            )
            .with_help(format!("use `image_name: {repo}` and `image_tag: {tag}`"))
            .with_suggestion(name.span, fix),
        );
    }
}
