//! Hover: documentation of what is under the cursor — the diagnostics there, a key's doc, a
//! service reference's definition in brief, what an `image_tag` or build arg renders to with
//! the current build values, whether a `tag`/`exclude` filter matches the current branch.

use super::context::{At, Place, context_at, place, plain, value_place};
use super::docs::{self, KeyScope, key_doc};
use super::{Analysis, FileId, Hover, navigation, outline};
use crate::model::StepKind;
use crate::plan::filter::Filter;
use crate::source::Span;
use crate::template::{BuildVars, Template};

pub(crate) fn hover(a: &Analysis, file: FileId, offset: u32) -> Option<Hover> {
    let mut parts: Vec<String> = Vec::new();
    let mut span: Option<Span> = None;
    for d in diagnostics_at(a, file, offset) {
        parts.push(format!(
            "**{} {}** ({}): {}{}\n\n{}",
            d.severity.as_str(),
            d.code,
            d.code.name(),
            d.message,
            d.help.as_ref().map_or(String::new(), |h| format!("\n\nhelp: {h}")),
            d.code.summary()
        ));
        span.get_or_insert(d.span);
    }
    if let Some((s, text)) = about(a, file, offset) {
        parts.push(text);
        span = Some(s);
    }
    if parts.is_empty() {
        return None;
    }
    Some(Hover { span: span.unwrap_or(Span::at(offset)), markdown: parts.join("\n\n---\n\n") })
}

/// The diagnostics of `file` whose span holds `offset` (an empty span: the word at it).
fn diagnostics_at(a: &Analysis, file: FileId, offset: u32) -> Vec<&crate::Diagnostic> {
    let name = &a.file(file).name;
    let text = &a.file(file).text;
    a.report()
        .diagnostics
        .iter()
        .filter(|d| &d.file == name)
        .filter(|d| {
            let end = if d.span.is_empty() {
                d.span.start
                    + text[d.span.start as usize..].bytes().take_while(|b| !b.is_ascii_whitespace()).count() as u32
            } else {
                d.span.end
            };
            d.span.start <= offset && offset <= end.max(d.span.start + 1)
        })
        .collect()
}

/// What the text at `offset` is, and its documentation.
fn about(a: &Analysis, file: FileId, offset: u32) -> Option<(Span, String)> {
    let cx = context_at(&a.lines(file), offset);
    let service = navigation::name_in_model(a, file, offset).or_else(|| navigation::name_in(a, file, &cx, offset));
    if let Some((name, span, _)) = service {
        return Some((span, service_brief(a, &name)?));
    }
    let text = &a.file(file).text;
    match &cx.at {
        At::Key { span } => {
            let key = plain(&text[span.start as usize..span.end as usize]);
            let scope = match place(file, &cx.path) {
                Place::Service => KeyScope::Service,
                Place::Build => KeyScope::Build,
                Place::Step => KeyScope::Step,
                _ => return None,
            };
            let d = key_doc(scope, &key)?;
            Some((*span, format!("**`{}`** ({})\n\n{}", d.key, d.shape, d.doc)))
        }
        At::Value { key, token, value, .. } => {
            let value_text = &text[value.start as usize..value.end as usize];
            match value_place(file, &cx.path, key) {
                Place::StepValue(k) if k == "image_tag" => {
                    image_tag(a, offset).map(|t| (*value, with_word_doc(text, *token, t)))
                }
                Place::StepValue(k) if k == "tag" || k == "exclude" => {
                    Some((*value, filter(a, &k, &plain(value_text))))
                }
                Place::StepValue(k) if k == "type" => {
                    let t = plain(value_text);
                    let (_, doc) = docs::STEP_TYPES.iter().find(|(n, _)| *n == t)?;
                    Some((*token, format!("**`type: {t}`**\n\n{doc}")))
                }
                Place::BuildArg => {
                    Some((*value, with_word_doc(text, *token, rendered(&a.options().vars, &plain(value_text)))))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// A service's definition in brief: what it runs and what it needs.
fn service_brief(a: &Analysis, name: &str) -> Option<String> {
    let s = a.checked().services.get(name)?;
    let mut lines = vec![format!("**service `{name}`**")];
    if let Some(b) = &s.build {
        let image = b.image.as_ref().map_or(String::new(), |i| format!(" `{}`", i.value));
        let dockerfile = b.dockerfile.as_ref().map_or("Dockerfile", |d| d.value.as_str());
        lines.push(format!("builds{image} from `{}` in `{}`", dockerfile, b.context.value));
    }
    if let Some(i) = &s.image {
        lines.push(format!("image `{}`", i.value));
    }
    let deps: Vec<&str> =
        s.links.iter().map(|l| l.service.value.as_str()).chain(s.depends_on.iter().map(|d| d.value.as_str())).collect();
    if !deps.is_empty() {
        lines.push(format!("depends on {}", deps.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")));
    }
    if !s.volumes_from.is_empty() {
        let v: Vec<String> = s.volumes_from.iter().map(|d| format!("`{}`", d.value)).collect();
        lines.push(format!("volumes from {}", v.join(", ")));
    }
    let (line, _) = a.file(FileId::Services).line_col(s.name.span.start);
    lines.push(format!("defined in {} line {line}", a.file(FileId::Services).name));
    Some(lines.join("  \n"))
}

/// The tags a push step's `image_tag` renders to, from the plan.
fn image_tag(a: &Analysis, offset: u32) -> Option<String> {
    let holds = |s: &crate::model::Step| match &s.kind {
        StepKind::Push { image_tag: Some(t), .. } => t.span.start <= offset && offset <= t.span.end,
        _ => false,
    };
    let step = outline::find_step(&a.checked().steps.steps, &holds)?;
    let planned = outline::planned_for(&a.plan().steps, step.span);
    let mut lines = vec![format!("**`image_tag`** with {}", build_values(&a.options().vars))];
    let mut seen = Vec::new();
    for planned in planned {
        let line = match (&planned.image_ref(), &planned.tag_error) {
            (Some(r), _) => format!("renders to `{r}` (step `{}`)", planned.name),
            (None, Some(e)) => format!("fails: {e} (step `{}`)", planned.name),
            _ => continue,
        };
        if !seen.contains(&line) {
            seen.push(line);
        }
    }
    if seen.is_empty() {
        return None;
    }
    lines.extend(seen);
    Some(lines.join("  \n"))
}

/// What a build arg's template renders to (no step, service or image: build args have none).
fn rendered(vars: &BuildVars, template: &str) -> String {
    let result = Template::parse(template).and_then(|t| t.render(vars));
    let head = format!("**build arg** with {}", build_values(vars));
    match result {
        Ok(r) => format!("{head}  \nrenders to `{r}`"),
        Err(e) => format!("{head}  \nfails: {e}"),
    }
}

fn build_values(v: &BuildVars) -> String {
    let short: String = v.commit_id.chars().take(7).collect();
    format!("branch `{}`, commit `{short}`, time `{}`", v.branch, v.string_time())
}

/// Whether a `tag`/`exclude` filter matches the current build tag.
fn filter(a: &Analysis, key: &str, pattern: &str) -> String {
    let what = if Filter::is_pattern(pattern) {
        "a Go regular expression, searched in the build tag"
    } else {
        "equal to the whole build tag"
    };
    let head = format!("**`{key}: {pattern}`**: {what}");
    let f = match Filter::compile(pattern) {
        Ok(f) => f,
        Err(e) => return format!("{head}  \ninvalid: {}", e.message),
    };
    let Some(tag) = a.options().tag.as_deref() else {
        let effect = if key == "tag" { "a step with `tag` does not run" } else { "nothing is excluded" };
        return format!("{head}  \nno build tag is set: {effect}");
    };
    let matches = f.matches(tag);
    let effect = match (key, matches) {
        ("tag", true) => "the step runs",
        ("tag", false) => "the step is skipped",
        (_, true) => "the step is skipped",
        (_, false) => "the step is not excluded",
    };
    format!("{head}  \n`{tag}` {} — {effect}", if matches { "matches" } else { "does not match" })
}

/// A template value's hover, after the doc of the variable, method or function under the
/// cursor when there is one.
fn with_word_doc(text: &str, token: Span, hover: String) -> String {
    let word = &text[token.start as usize..token.end as usize];
    let name = word.trim_start_matches('.');
    let table: &[(&str, &str)] = if word.starts_with('.') {
        let before = &text[..token.start as usize];
        if before.ends_with(".Time") { docs::TIME_METHODS } else { docs::VARIABLES }
    } else {
        docs::FUNCTIONS
    };
    match table.iter().find(|(n, _)| *n == name) {
        Some((_, doc)) if !name.is_empty() => format!("**`{word}`**: {doc}\n\n{hover}"),
        _ => hover,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    /// Without a build tag, `tag` never matches (the step does not run) and `exclude` never
    /// matches either (the step is not excluded).
    #[test]
    fn filters_without_a_build_tag() {
        let steps =
            "- service: app\n  tag: master\n  command: ./a\n- service: app\n  exclude: master\n  command: ./b\n";
        let a = Analysis::new(
            SourceFile::new("s.yml", "app:\n  image: ruby\n"),
            SourceFile::new("t.yml", steps),
            crate::plan::PlanOptions::default(),
        );
        let at = |needle: &str| steps.find(needle).unwrap() as u32 + needle.len() as u32 + 1;
        let tag = hover(&a, FileId::Steps, at("tag: ")).unwrap().markdown;
        assert!(tag.ends_with("no build tag is set: a step with `tag` does not run"), "{tag}");
        let exclude = hover(&a, FileId::Steps, at("exclude: ")).unwrap().markdown;
        assert!(exclude.ends_with("no build tag is set: nothing is excluded"), "{exclude}");
    }
}
