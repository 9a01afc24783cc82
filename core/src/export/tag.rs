//! A push step's `image_tag` template as a shell expression over the job's build values.
//!
//! Translated: text, plain fields (`{{ .Branch }}`, with `{{-`/`-}}` trimming) and `printf`
//! with `%s`, `%v`, `%.Ns`, `%d` and `%%` over fields and literals, also piped
//! (`{{ .CommitID | printf "%.7s" }}`) — the subset real projects use. Anything else
//! (conditions, other functions, `.Time`) depends on the values in ways a shell word cannot
//! say, and is reported.
//!
//! Exact by construction and checked: the translation is rendered in Rust with sample values
//! and must equal what the core's template engine renders with them; a difference is reported
//! as inexpressible rather than written. `%.Ns` cuts characters in Go and bytes in the shell's
//! `printf`: the same for ASCII, so the job checks the value is ASCII before it cuts (and
//! stops, saying so, when it is not; branch names almost always are).

use crate::template::{BuildVars, Template};

/// A field of the build values and the job's shell variable for it (set by [`crate::export::script`]).
const FIELDS: &[(&str, &str)] = &[
    ("ProjectID", "CS_PROJECT_ID"),
    ("BuildID", "CS_BUILD_ID"),
    ("RepoName", "CS_REPO_NAME"),
    ("Branch", "CS_BRANCH"),
    ("CommitID", "CS_COMMIT_ID"),
    ("CommitMessage", "CS_COMMIT_MESSAGE"),
    ("CommitDescription", "CS_COMMIT_DESCRIPTION"),
    ("CommitterName", "CS_COMMITTER_NAME"),
    ("CommitterEmail", "CS_COMMITTER_EMAIL"),
    ("CommitterUsername", "CS_COMMITTER_USERNAME"),
    ("Timestamp", "CS_TIMESTAMP"),
];

/// Why a template cannot be a shell word.
pub struct Inexpressible(pub String);

/// A translated tag: the inside of a shell double-quoted string (`v-${CS_BRANCH}`), and the
/// variables that must be ASCII for it to be exact (those cut with `%.Ns`).
#[derive(Debug, PartialEq, Eq)]
pub struct ShellTag {
    pub word: String,
    pub ascii: Vec<&'static str>,
}

/// One piece of a translated template.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    /// A build value, whole.
    Var(&'static str),
    /// The first `n` characters of a build value.
    Cut(&'static str, usize),
}

/// A value an action works with: known now (text, the step's own names) or at run time.
#[derive(Clone, Debug)]
enum Arg {
    Text(String),
    Int(i64),
    Var(&'static str),
}

/// The template as a shell word, for the step, service and image it is pushed for.
pub fn shell_word(template: &str, step: &str, service: &str, image: &str) -> Result<ShellTag, Inexpressible> {
    let t = Template::parse(template).map_err(|e| Inexpressible(e.message))?;
    let known = |field: &str| match field {
        "StepName" => Some(step.to_string()),
        "ServiceName" => Some(service.to_string()),
        "ImageName" => Some(image.to_string()),
        "CiName" => Some("codeship".to_string()),
        "Ci" => Some("true".to_string()),
        _ => None,
    };
    let pieces = translate(template, &known)?;
    // The translation renders as the engine does, on values that tell the fields apart.
    for sample in samples(step, service, image) {
        let want = t.render(&sample).map_err(|e| Inexpressible(e.message))?;
        let got = render(&pieces, &sample);
        if got != want {
            return Err(Inexpressible(format!(
                "image_tag `{template}` could not be translated exactly (it renders `{want}`, the translation `{got}`)"
            )));
        }
    }
    let mut word = String::new();
    let mut ascii = Vec::new();
    for p in &pieces {
        match p {
            Piece::Text(s) => word.push_str(&escape(s)),
            Piece::Var(v) => word.push_str(&format!("${{{v}}}")),
            Piece::Cut(v, n) => {
                word.push_str(&format!("$(printf '%.{n}s' \"${{{v}}}\")"));
                if !ascii.contains(v) {
                    ascii.push(*v);
                }
            }
        }
    }
    Ok(ShellTag { word, ascii })
}

/// Sample build values: ASCII, distinct, longer than any cut, with the characters tags drop.
fn samples(step: &str, service: &str, image: &str) -> Vec<BuildVars> {
    let v = |i: usize| BuildVars {
        project_id: format!("a1b2c3d4-project-{i}"),
        build_id: format!("e5f6a7b8-build-{i}"),
        repo_name: format!("acme/repo-{i}"),
        branch: format!("feature/JIRA-{i}_x.y"),
        commit_id: format!("{i}f3c2a9b8e7d6c5b4a39281706f5e4d3c2b1a0f9"),
        commit_message: format!("Fix #{i}: the thing"),
        commit_description: format!("Longer text {i}"),
        committer_name: format!("Ada {i}"),
        committer_email: format!("ada{i}@example.com"),
        committer_username: format!("ada{i}"),
        timestamp: 1_709_211_909 + i as i64,
        step_name: step.to_string(),
        service_name: service.to_string(),
        image_name: image.to_string(),
        ci_name: "codeship".to_string(),
    };
    vec![v(1), v(42)]
}

fn value(vars: &BuildVars, var: &str) -> String {
    match var {
        "CS_PROJECT_ID" => vars.project_id.clone(),
        "CS_BUILD_ID" => vars.build_id.clone(),
        "CS_REPO_NAME" => vars.repo_name.clone(),
        "CS_BRANCH" => vars.branch.clone(),
        "CS_COMMIT_ID" => vars.commit_id.clone(),
        "CS_COMMIT_MESSAGE" => vars.commit_message.clone(),
        "CS_COMMIT_DESCRIPTION" => vars.commit_description.clone(),
        "CS_COMMITTER_NAME" => vars.committer_name.clone(),
        "CS_COMMITTER_EMAIL" => vars.committer_email.clone(),
        "CS_COMMITTER_USERNAME" => vars.committer_username.clone(),
        "CS_TIMESTAMP" => vars.timestamp.to_string(),
        _ => String::new(),
    }
}

fn render(pieces: &[Piece], vars: &BuildVars) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(s) => s.clone(),
            Piece::Var(v) => value(vars, v),
            Piece::Cut(v, n) => value(vars, v).chars().take(*n).collect(),
        })
        .collect()
}

/// Text and actions, trimming as `{{-` and `-}}` say.
fn translate(template: &str, known: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Piece>, Inexpressible> {
    let mut pieces = Vec::new();
    let mut rest = template;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| Inexpressible("an unclosed `{{`".into()))?;
        let mut inner = &after[..end];
        if let Some(i) = inner.strip_prefix("- ") {
            text = text.trim_end();
            inner = i;
        }
        trim_next = false;
        if let Some(i) = inner.strip_suffix(" -") {
            trim_next = true;
            inner = i;
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        pieces.extend(action(inner.trim(), known).map_err(|why| {
            Inexpressible(format!(
                "`{{{{{}}}}}` in image_tag `{template}` {why}; the forge's shell cannot compute it the way Go's template did",
                &after[..end]
            ))
        })?);
        rest = &after[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        pieces.push(Piece::Text(text.to_string()));
    }
    Ok(pieces)
}

/// One action: a field, or `printf` (called or piped into).
fn action(inner: &str, known: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Piece>, String> {
    let words = words(inner)?;
    let (call, piped): (&[String], Option<&String>) = match words.iter().position(|w| w == "|") {
        Some(i) if i == 1 && words.len() > 2 && !words[2..].contains(&"|".to_string()) => {
            (&words[2..], Some(&words[0]))
        }
        Some(_) => return Err("is a pipeline".into()),
        None => (&words[..], None),
    };
    match call {
        [field] if piped.is_none() => Ok(vec![match arg(field, known)? {
            Arg::Text(s) => Piece::Text(s),
            Arg::Int(n) => Piece::Text(n.to_string()),
            Arg::Var(v) => Piece::Var(v),
        }]),
        [f, format, args @ ..] if f == "printf" => {
            let format = literal(format).ok_or("has a format that is not a string literal")?;
            let mut args: Vec<Arg> = args.iter().map(|a| arg(a, known)).collect::<Result<_, _>>()?;
            if let Some(p) = piped {
                args.push(arg(p, known)?);
            }
            printf(&format, &args)
        }
        _ => Err("is more than a field or `printf`".into()),
    }
}

/// The words of an action: fields, literals and `|`.
fn words(inner: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = inner.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '`' {
            chars.next();
            let mut escaped = false;
            let mut end = None;
            for (j, d) in chars.by_ref() {
                if c == '"' && d == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                if d == c && !escaped {
                    end = Some(j);
                    break;
                }
                escaped = false;
            }
            let end = end.ok_or("has an unclosed string")?;
            out.push(inner[i..=end].to_string());
        } else {
            let mut end = inner.len();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_whitespace() {
                    end = j;
                    break;
                }
                chars.next();
            }
            out.push(inner[i..end].to_string());
        }
    }
    Ok(out)
}

/// A Go string literal's value: `"…"` with the common escapes, or a raw `` `…` ``.
fn literal(word: &str) -> Option<String> {
    if let Some(raw) = word.strip_prefix('`').and_then(|w| w.strip_suffix('`')) {
        return Some(raw.to_string());
    }
    let body = word.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            '\\' => '\\',
            '"' => '"',
            'n' => '\n',
            't' => '\t',
            _ => return None,
        });
    }
    Some(out)
}

fn arg(word: &str, known: &dyn Fn(&str) -> Option<String>) -> Result<Arg, String> {
    if let Some(s) = literal(word) {
        return Ok(Arg::Text(s));
    }
    if let Ok(n) = word.parse::<i64>() {
        return Ok(Arg::Int(n));
    }
    let field = word.strip_prefix('.').ok_or_else(|| format!("uses `{word}`, which is not a field"))?;
    if let Some((_, var)) = FIELDS.iter().find(|(f, _)| *f == field) {
        return Ok(Arg::Var(var));
    }
    known(field).map(Arg::Text).ok_or_else(|| format!("uses `.{field}`"))
}

/// `printf` over the supported verbs, each with the argument types Go prints plainly.
fn printf(format: &str, args: &[Arg]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    let flush = |text: &mut String, pieces: &mut Vec<Piece>| {
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(text)));
        }
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            precision = Some(digits.parse::<usize>().map_err(|_| "has a `%.` without a number")?);
        }
        let verb = chars.next().ok_or("ends its format with `%`")?;
        if verb == '%' && precision.is_none() {
            text.push('%');
            continue;
        }
        let a = args.next().ok_or("has fewer arguments than verbs")?;
        let piece = match (verb, precision, a) {
            ('s' | 'v', None, Arg::Text(s)) => Piece::Text(s.clone()),
            ('s', Some(n), Arg::Text(s)) => Piece::Text(s.chars().take(n).collect()),
            ('d' | 'v', None, Arg::Int(n)) => Piece::Text(n.to_string()),
            ('s' | 'v', None, Arg::Var(v)) if *v != "CS_TIMESTAMP" => Piece::Var(v),
            ('s', Some(n), Arg::Var(v)) if *v != "CS_TIMESTAMP" => Piece::Cut(v, n),
            ('d' | 'v', None, Arg::Var(v)) if *v == "CS_TIMESTAMP" => Piece::Var(v),
            _ => {
                return Err(format!(
                    "uses `%{}{verb}` in a way the translation does not cover",
                    precision.map_or(String::new(), |n| format!(".{n}"))
                ));
            }
        };
        flush(&mut text, &mut pieces);
        pieces.push(piece);
    }
    if args.next().is_some() {
        return Err("has more arguments than verbs".into());
    }
    flush(&mut text, &mut pieces);
    Ok(pieces)
}

/// Text for the inside of a shell double-quoted string.
fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(t: &str) -> Result<String, String> {
        shell_word(t, "push", "app", "acme/app").map(|s| s.word).map_err(|e| e.0)
    }

    #[test]
    fn plain_fields_become_variables() {
        assert_eq!(w("{{ .Branch }}-{{ .CommitID }}").unwrap(), "${CS_BRANCH}-${CS_COMMIT_ID}");
        assert_eq!(w("v {{- .Timestamp -}} x").unwrap(), "v${CS_TIMESTAMP}x");
        assert_eq!(w("{{ .ServiceName }}-$x").unwrap(), "app-\\$x");
        assert_eq!(w("latest").unwrap(), "latest");
        assert_eq!(w("{{ .CiName }}-{{.Ci}}").unwrap(), "codeship-true");
    }

    #[test]
    fn printf_of_fields_is_translated_and_cut_values_are_checked_for_ascii() {
        let t = shell_word("{{ .Branch }}-{{ printf \"%.7s\" .CommitID }}", "push", "app", "acme/app").map_err(|e| e.0);
        assert_eq!(
            t.unwrap(),
            ShellTag { word: "${CS_BRANCH}-$(printf '%.7s' \"${CS_COMMIT_ID}\")".into(), ascii: vec!["CS_COMMIT_ID"] }
        );
        assert_eq!(w("{{ .CommitID | printf \"%.7s\" }}").unwrap(), "$(printf '%.7s' \"${CS_COMMIT_ID}\")");
        assert_eq!(w("{{ printf \"%s-%d\" .Branch .Timestamp }}").unwrap(), "${CS_BRANCH}-${CS_TIMESTAMP}");
        assert_eq!(w("{{ printf \"v%s_%%\" \"1\" }}").unwrap(), "v1_%");
        assert_eq!(w("{{ printf `%.3s` .StepName }}").unwrap(), "pus");
    }

    #[test]
    fn what_go_would_print_differently_is_refused() {
        for t in [
            "{{ printf \"%d\" .Branch }}",
            "{{ printf \"%s\" .Timestamp }}",
            "{{ printf \"%s %s\" .Branch }}",
            "{{ printf \"%s\" .Branch .CommitID }}",
            "{{ printf \"%5s\" .Branch }}",
            "{{ .Time.Format \"2006\" }}",
            "{{ if .Branch }}x{{ end }}",
            "{{ .Branch | printf \"%s\" | printf \"%s\" }}",
        ] {
            assert!(w(t).is_err(), "{t} was translated: {:?}", w(t));
        }
    }
}
