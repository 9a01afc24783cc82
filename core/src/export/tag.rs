//! A push step's `image_tag` template as a shell expression over the job's build values.
//!
//! Exact for templates made of text and plain fields (`{{ .Branch }}`, with `{{-`/`-}}`
//! trimming): the core's renderer runs with a marker in each field, and each marker becomes
//! the job's variable. Anything else (functions, pipelines, conditions, `.Time`) depends on
//! the values in ways a shell word cannot say, and is reported.

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

/// Fields whose value the export knows (the step's own), and `.Ci`/`.CiName`.
const KNOWN: &[&str] = &["StepName", "ServiceName", "ImageName", "Ci", "CiName"];

const TIMESTAMP_MARK: i64 = 7_340_271_113_009;

fn mark(field: &str) -> String {
    format!("@@slipway-{field}@@")
}

/// Why a template cannot be a shell word.
pub struct Inexpressible(pub String);

/// The template as the inside of a shell double-quoted string, e.g. `v-${CS_BRANCH}`.
pub fn shell_word(template: &str, step: &str, service: &str, image: &str) -> Result<String, Inexpressible> {
    if let Some(action) = complex_action(template) {
        return Err(Inexpressible(format!(
            "`{action}` in image_tag `{template}` is more than a plain field; the forge's shell cannot compute it the way Go's template did"
        )));
    }
    let t = Template::parse(template).map_err(|e| Inexpressible(e.message))?;
    let vars = BuildVars {
        project_id: mark("ProjectID"),
        build_id: mark("BuildID"),
        repo_name: mark("RepoName"),
        branch: mark("Branch"),
        commit_id: mark("CommitID"),
        commit_message: mark("CommitMessage"),
        commit_description: mark("CommitDescription"),
        committer_name: mark("CommitterName"),
        committer_email: mark("CommitterEmail"),
        committer_username: mark("CommitterUsername"),
        timestamp: TIMESTAMP_MARK,
        step_name: step.to_string(),
        service_name: service.to_string(),
        image_name: image.to_string(),
        ci_name: "codeship".to_string(),
    };
    let rendered = t.render(&vars).map_err(|e| Inexpressible(e.message))?;
    let mut out = escape(&rendered);
    for (field, var) in FIELDS {
        let m = if *field == "Timestamp" { TIMESTAMP_MARK.to_string() } else { escape(&mark(field)) };
        out = out.replace(&m, &format!("${{{var}}}"));
    }
    Ok(out)
}

/// The first `{{ … }}` that is not a plain known field, if any.
fn complex_action(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        let inner = after[..end].trim_start_matches('-').trim_end_matches('-').trim();
        let plain =
            inner.strip_prefix('.').is_some_and(|f| FIELDS.iter().any(|(name, _)| *name == f) || KNOWN.contains(&f));
        if !plain {
            return Some(format!("{{{{{}}}}}", &after[..end]));
        }
        rest = &after[end + 2..];
    }
    None
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

    #[test]
    fn plain_fields_become_variables() {
        let w = |t| shell_word(t, "push", "app", "acme/app").map_err(|e| e.0);
        assert_eq!(w("{{ .Branch }}-{{ .CommitID }}").unwrap(), "${CS_BRANCH}-${CS_COMMIT_ID}");
        assert_eq!(w("v {{- .Timestamp -}} x").unwrap(), "v${CS_TIMESTAMP}x");
        assert_eq!(w("{{ .ServiceName }}-$x").unwrap(), "app-\\$x");
        assert_eq!(w("latest").unwrap(), "latest");
        assert!(w("{{ printf \"%.7s\" .CommitID }}").unwrap_err().contains("printf"));
        assert!(w("{{ .Time.Format \"2006\" }}").is_err());
    }
}
