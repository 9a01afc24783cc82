//! `.gitlab-ci.yml`: Slipway mode runs `slipway steps`; native mode is a stage per top-level
//! step with `rules:` from the filters (GitLab's `=~` is RE2, as Codeship's filters were).
//! The shell every job starts with is `default: before_script`, written once; the images are
//! built once in the `.pre` stage and passed on as an artifact, and removed in `.post`.

use super::layout::{self, Job};
use super::tree::Node;
use super::yaml::{comments, item, scalar};
use super::{Cx, Mode, SecretSource, header, script, slipway_mode};
use crate::plan::filter::Filter;
use std::fmt::Write;

/// GitLab writes a File variable to a file of its own and removes it after the job, so
/// `cs_secret_file` only prints that path. Images are named for the pipeline (`CS_IMAGES`),
/// whose id is unique on the GitLab instance; containers and networks for the job.
const PRELUDE: &str = r#"CS_TAG="$CI_COMMIT_REF_NAME"
CS_RUN="gl-${CI_JOB_ID}"
CS_IMAGES="gl-${CI_PIPELINE_ID}"
CS_PROJECT_ID="$CI_PROJECT_ID"
CS_BUILD_ID="$CI_PIPELINE_ID"
CS_REPO_NAME="$CI_PROJECT_NAME"
CS_BRANCH="$CI_COMMIT_REF_NAME"
CS_COMMIT_ID="$CI_COMMIT_SHA"
CS_COMMIT_MESSAGE=$(git log -1 --format=%B 2>/dev/null)
CS_COMMIT_DESCRIPTION=$(git describe --abbrev=1 --tags --always 2>/dev/null)
CS_COMMITTER_NAME=$(git log -1 --format=%cn 2>/dev/null)
CS_COMMITTER_EMAIL=$(git log -1 --format=%ce 2>/dev/null)
CS_COMMITTER_USERNAME=""
CS_TIMESTAMP=$(date +%s)
cs_secret_file() { eval "printf '%s' \"\$$1\""; }
"#;

/// Where the images job saves the images, as a shell word and as the artifact's path.
const ARCHIVE: &str = "\"$CI_PROJECT_DIR/codeship-images.tar.gz\"";
const ARCHIVE_PATH: &str = "codeship-images.tar.gz";

pub fn slipway(cx: &mut Cx) -> String {
    let mut out = header(cx, Mode::Slipway);
    let needs_key = slipway_mode::needs_key(cx);
    out.push_str(
        "# Slipway talks to the Docker engine of the `docker:dind` service; on a shell runner with\n\
         # Docker, remove `image`, `services` and `variables`.\n",
    );
    if needs_key {
        let name = cx.secret(SecretSource::Key);
        let _ = writeln!(
            out,
            "# Needs the CI/CD variable {name} (the project key), made with:\n#   {}",
            cx.secrets.iter().find(|s| s.name == name).map_or("", |s| s.command.as_str())
        );
    }
    out.push_str(
        "# Manual groups run when the pipeline is started with the variable CODESHIP_APPROVE=1.\n\
         stages:\n  - codeship\n\ncodeship:\n  stage: codeship\n  image: rust:1.95\n  services:\n    - docker:27-dind\n  variables:\n    DOCKER_HOST: tcp://docker:2375\n    DOCKER_TLS_CERTDIR: \"\"\n",
    );
    if let Some(i) = cx.input.install {
        // The cache holds the installed binary, keyed by the pin: one build per pin, not per pipeline.
        let _ = writeln!(out, "  cache:\n    key: {}\n    paths:\n      - .slipway/", i.cache_key());
    }
    let mut s = slipway_mode::install_script(cx, "\"$CI_PROJECT_DIR/.slipway\"", "export PATH=\"$root/bin:$PATH\"");
    let mut flags = slipway_mode::flags(cx);
    if needs_key {
        s.push_str("key=$(mktemp)\n(umask 077; printf '%s' \"$CODESHIP_AES\" > \"$key\")\n");
        flags.push_str(" --key-path \"$key\"");
    }
    let _ = writeln!(
        s,
        "slipway steps{flags} --tag \"$CI_COMMIT_REF_NAME\" --ci-commit-id \"$CI_COMMIT_SHA\" --ci-build-id \"$CI_PIPELINE_ID\" --ci-project-id \"$CI_PROJECT_ID\" --ci-repo-name \"$CI_PROJECT_NAME\" --push ${{CODESHIP_APPROVE:+--approve}}"
    );
    out.push_str("  script:\n");
    item(&mut out, 4, &s);
    out
}

pub fn native(cx: &mut Cx, nodes: &[Node]) -> String {
    let jobs = layout::jobs(cx, nodes);
    let mut stages: Vec<&str> = Vec::new();
    for j in &jobs {
        if !stages.contains(&j.stage_name.as_str()) {
            stages.push(&j.stage_name);
        }
    }
    let mut body = String::new();
    // The images, built once in GitLab's first stage (`.pre`) and passed to the jobs as an
    // artifact (`docker save`), which every runner can do without a registry.
    let roots: Vec<&Node> = jobs.iter().map(|j| j.root).collect();
    let mut notes = Vec::new();
    let build = script::build(cx, &roots, ARCHIVE, &mut notes);
    cx.job_notes(notes);
    if let Some(build) = &build {
        let _ = writeln!(body, "\n{}:\n  stage: .pre\n  script:", layout::IMAGES_JOB);
        item(&mut body, 4, build);
        let _ = writeln!(
            body,
            "  # Raise the instance's maximum artifacts size if the images are larger.\n  artifacts:\n    paths:\n      - {ARCHIVE_PATH}\n    expire_in: 1 week"
        );
    }
    for j in &jobs {
        body.push('\n');
        job(cx, j, build.is_some(), &mut body);
    }
    if build.is_some() {
        // `.post` runs last, whatever failed; on a shell runner the images would stay.
        let _ = writeln!(
            body,
            "\n{}:\n  stage: .post\n  when: always\n  dependencies: []\n  before_script: []\n  script:",
            layout::CLEANUP_JOB
        );
        item(&mut body, 4, &format!("CS_IMAGES=\"gl-${{CI_PIPELINE_ID}}\"\n{}", script::cleanup(cx)));
    }

    let mut out = header(cx, Mode::Native);
    out.push_str(
        "# Jobs need a POSIX shell, git and a Docker engine (a shell runner with Docker, or an image\n\
         # with the docker CLI and a docker:dind service).\n",
    );
    if !cx.secrets.is_empty() {
        out.push_str("# CI/CD variables of type File this pipeline reads (create them with):\n");
        for s in &cx.secrets {
            let _ = writeln!(out, "#   {}", s.command);
        }
    }
    super::shared_notes(cx, &mut out);
    out.push_str("stages:\n");
    for s in &stages {
        let _ = writeln!(out, "  - {}", scalar(s));
    }
    out.push_str("\n# The shell every job's script starts with: build values, helpers, the project folder.\ndefault:\n  before_script:\n");
    item(&mut out, 4, &script::preamble(cx, PRELUDE));
    out + &body
}

fn job(cx: &mut Cx, j: &Job, images: bool, out: &mut String) {
    let mut notes = Vec::new();
    let load = format!("docker load -q -i {ARCHIVE} >/dev/null || exit 1");
    let script = script::job(cx, j.root, &load, &mut notes);
    let rules = rules(j);
    let notes = cx.job_notes(notes);
    comments(out, 0, &notes);
    let _ = writeln!(out, "{}:\n  stage: {}", scalar(&j.name), scalar(&j.stage_name));
    if images && !script::uses_built_images(cx, j.root) {
        // Not the images' artifact: this job runs none of them.
        out.push_str("  dependencies: []\n");
    }
    if !rules.is_empty() || j.manual {
        out.push_str("  rules:\n");
        let when = if j.manual { "manual" } else { "on_success" };
        if rules.is_empty() {
            let _ = writeln!(out, "    - when: {when}");
        } else {
            let _ = writeln!(out, "    - if: {}\n      when: {when}\n    - when: never", scalar(&rules.join(" && ")));
        }
        if j.manual {
            out.push_str("  allow_failure: false\n");
        }
    }
    out.push_str("  script:\n");
    item(out, 4, &script);
}

/// GitLab's condition for each filtered step's `tag`/`exclude`.
fn rules(j: &Job) -> Vec<String> {
    let mut out = Vec::new();
    for n in &j.filtered {
        if let Some(t) = &n.model.tag {
            out.push(test(&t.value, true));
        }
        if let Some(e) = &n.model.exclude {
            out.push(test(&e.value, false));
        }
    }
    out
}

fn test(pattern: &str, wanted: bool) -> String {
    match Filter::compile(pattern) {
        Ok(Filter::Exact(s)) => {
            let op = if wanted { "==" } else { "!=" };
            format!("$CI_COMMIT_REF_NAME {op} \"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        }
        _ => {
            let op = if wanted { "=~" } else { "!~" };
            format!("$CI_COMMIT_REF_NAME {op} {}", regex_literal(pattern))
        }
    }
}

/// A Go (RE2) pattern as a GitLab `/…/` literal that means the same regex. GitLab ends the
/// literal at the first `/` without a backslash before it and then turns every `\/` into `/`
/// (gitlab-ci-local hands the text to RE2, where `\/` is `/` too). So a bare `/` becomes
/// `\/`, an escaped one (`\/`) stays as it is, and an escaped backslash `\\` becomes `\x5c`:
/// written as `\\`, a `\\/` would lose its backslash to that replacement and a trailing `\\`
/// would hide the closing `/`. Every other escape is copied as written.
fn regex_literal(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 2);
    out.push('/');
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push_str("\\x5c"),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                // A pattern that ends in a lone `\` does not compile; the check refused it.
                None => out.push_str("\\x5c"),
            },
            '/' => out.push_str("\\/"),
            c => out.push(c),
        }
    }
    out.push('/');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::filter::Filter;

    /// The text of a `/…/` literal, up to the first `/` without a backslash before it (GitLab's
    /// `Lexeme::Pattern::PATTERN` and gitlab-ci-local's `evaluateRuleIf` both end it there).
    fn body(literal: &str) -> &str {
        let body = literal.strip_prefix('/').expect("starts with /");
        let bytes = body.as_bytes();
        let end = (0..bytes.len()).find(|&i| bytes[i] == b'/' && (i == 0 || bytes[i - 1] != b'\\')).expect("closed");
        assert_eq!(end + 1, body.len(), "{literal}: the literal ends early, at byte {end}");
        &body[..end]
    }

    /// The regex GitLab reads: every `\/` turned into `/` (`Lexeme::Pattern#initialize`).
    fn read_as_gitlab(literal: &str) -> String {
        body(literal).replace("\\/", "/")
    }

    /// The regex gitlab-ci-local reads: the text as it is, compiled by RE2JS.
    fn read_as_gitlab_ci_local(literal: &str) -> String {
        body(literal).to_string()
    }

    #[test]
    fn a_regex_means_the_same_in_gitlab() {
        let names =
            ["release/v1", "release/v12", "release\\/v1", "releasev1", "a/b/c", "a\\b", "feature/x", "x/", "/x", "v1"];
        for pattern in [
            "^release\\/v[0-9]+$",
            "^release/v[0-9]+$",
            "^a/b/c$",
            "^a\\\\b$",
            "^[a-z]+[/][a-z]$",
            "^(feature|fix)/",
            "/$",
            "^/",
            "\\\\$",
            "^x\\\\/",
            "^v\\d+$",
        ] {
            let literal = regex_literal(pattern);
            let Ok(Filter::Pattern(want)) = Filter::compile(pattern) else { panic!("{pattern}: not a regex") };
            for read in [read_as_gitlab(&literal), read_as_gitlab_ci_local(&literal)] {
                let Ok(Filter::Pattern(got)) = Filter::compile(&read) else {
                    panic!("{pattern} → {literal} → {read}: not a regex");
                };
                for name in names {
                    assert_eq!(got.is_match(name), want.is_match(name), "{pattern} → {literal} → {read}: {name}");
                }
            }
        }
    }

    #[test]
    fn the_finding() {
        assert_eq!(regex_literal("^release\\/v[0-9]+$"), "/^release\\/v[0-9]+$/");
        assert_eq!(test("^release\\/v[0-9]+$", true), "$CI_COMMIT_REF_NAME =~ /^release\\/v[0-9]+$/");
        assert_eq!(regex_literal("^a/b$"), "/^a\\/b$/");
    }
}
