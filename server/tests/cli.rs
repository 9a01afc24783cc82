//! The `slipway` binary, run for real: exit codes, output shapes, and files on disk.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn slipway() -> Command {
    let mut c = Command::cargo_bin("slipway").unwrap();
    c.env_remove("SLIPWAY_KEY_PATH").env_remove("SOURCE_DATE_EPOCH");
    c
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures")
}

fn project(services: &str, steps: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("codeship-services.yml"), services).unwrap();
    std::fs::write(d.path().join("codeship-steps.yml"), steps).unwrap();
    d
}

#[test]
fn validate_clean_project_exits_zero() {
    slipway()
        .args(["validate", "--dir"])
        .arg(fixtures().join("examples/00.aggregate"))
        .assert()
        .success()
        .stdout(predicate::str::contains("0 errors"));
}

#[test]
fn validate_reports_errors_with_caret_and_exit_one() {
    let d = project("app:\n  image: busybox\n", "- service: ap\n  command: x\n");
    slipway()
        .args(["validate", "--dir"])
        .arg(d.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[SW102]: this step names unknown service `ap`"))
        .stdout(predicate::str::is_match(r"(?m)^ --> \S*codeship-steps\.yml:1:12$").unwrap())
        .stdout(predicate::str::contains("1 | - service: ap\n  |            ^^"))
        .stdout(predicate::str::contains("  = help: did you mean `app`?"))
        .stdout(predicate::str::contains("1 error, 0 warnings"));
}

#[test]
fn validate_json_shape() {
    let d = project("app:\n  image: busybox\n  enviroment: {}\n", "- service: ap\n  command: x\n");
    let out = slipway()
        .args(["validate", "--format", "json", "--dir"])
        .arg(d.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["errors"], 1);
    assert_eq!(v["warnings"], 1);
    let d0 = &v["diagnostics"][0];
    for key in ["severity", "code", "message", "file", "line", "column", "help"] {
        assert!(d0.get(key).is_some(), "missing {key} in {d0}");
    }
}

#[test]
fn validate_missing_files_exits_two_and_says_where() {
    let d = tempfile::tempdir().unwrap();
    slipway()
        .args(["validate", "--dir"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("codeship-services.yml").and(predicate::str::contains("docker-compose.yml")));
}

#[test]
fn docker_compose_and_json_steps_fallbacks() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("docker-compose.yml"), "version: '2'\nservices:\n  app:\n    image: busybox\n")
        .unwrap();
    std::fs::write(d.path().join("codeship-steps.json"), "[{\"service\": \"app\", \"command\": \"true\"}]").unwrap();
    slipway().args(["validate", "--dir"]).arg(d.path()).assert().success();
}

#[test]
fn plan_json_is_reproducible_with_timestamp() {
    let d = project(
        "app:\n  build:\n    image: acme/app\n",
        "- name: t\n  service: app\n  command: echo 'a b'\n- name: p\n  type: push\n  service: app\n  image_name: acme/app\n  image_tag: \"{{ .Branch }}-{{ .Time.Format \\\"2006\\\" }}\"\n",
    );
    let run = || {
        slipway()
            .args(["plan", "--format", "json", "--push", "--tag", "main", "--ci-timestamp", "1709211909", "--dir"])
            .arg(d.path())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    let a = run();
    assert_eq!(a, run());
    let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(v["steps"][0]["command"], serde_json::json!(["echo", "a b"]));
    assert_eq!(v["steps"][1]["image_tag"], "main-2024");
    assert_eq!(v["steps"][1]["registry"], "docker.io");
}

#[test]
fn plan_text_shows_skipped_push_reason() {
    let d = project(
        "app:\n  build:\n    image: acme/app\n",
        "- name: p\n  type: push\n  service: app\n  image_name: acme/app\n",
    );
    slipway()
        .args(["plan", "--ci-timestamp", "0", "--dir"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("skipped: push steps run only with --push"));
}

/// `plan` shows a command as it is written, quotes and all, as the studio does: joined without
/// them, `sh -c 'echo deploying $CI_COMMIT_ID'` read as `sh -c echo deploying $CI_COMMIT_ID`.
#[test]
fn plan_text_shows_commands_with_their_quotes() {
    let d = project(
        "app:\n  image: busybox\n",
        "- name: deploy\n  service: app\n  command: sh -c 'echo deploying $CI_COMMIT_ID'\n\
         - name: quoted\n  service: app\n  command: [\"echo\", \"it's\", \"\"]\n",
    );
    slipway()
        .args(["plan", "--ci-timestamp", "0", "--dir"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("run  app `sh -c 'echo deploying $CI_COMMIT_ID'`"))
        .stdout(predicate::str::contains(r#"run  app `echo 'it'\''s' ''`"#));
}

#[test]
fn encrypt_decrypt_round_trip_in_both_formats() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("codeship.aes");
    slipway().args(["generate", "--key-path"]).arg(&key).assert().success();
    let plain = d.path().join("env");
    std::fs::write(&plain, "SECRET=hunter2\n").unwrap();
    for format in ["aead", "v2"] {
        let enc = d.path().join(format!("env.{format}.encrypted"));
        let back = d.path().join(format!("env.{format}.out"));
        slipway()
            .args(["encrypt", "--format", format, "--key-path"])
            .arg(&key)
            .arg(&plain)
            .arg(&enc)
            .assert()
            .success();
        let text = std::fs::read_to_string(&enc).unwrap();
        assert!(!text.contains("hunter2"));
        assert!(text.starts_with(if format == "v2" { "codeship:v2\n" } else { "slipway:aead1\n" }));
        slipway().args(["decrypt", "--key-path"]).arg(&key).arg(&enc).arg(&back).assert().success();
        assert_eq!(std::fs::read(&back).unwrap(), b"SECRET=hunter2\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&back).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}

#[test]
fn decrypt_official_jet_v1_vector() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("environment");
    let v = fixtures().join("vectors/jet-v1-official");
    slipway()
        .args(["decrypt", "--key-path"])
        .arg(v.join("codeship.aes"))
        .arg(v.join("environment.encrypted"))
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(v.join("environment.expected")).unwrap());
}

#[test]
fn decrypt_with_wrong_key_fails_and_leaves_no_output() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("env");
    let v = fixtures().join("vectors");
    slipway()
        .args(["decrypt", "--key-path"])
        .arg(v.join("negative/wrong-key.aes"))
        .arg(v.join("jet-v2-generated/env.encrypted"))
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("checksum for decrypted data is invalid, corrupt AES key or data"));
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "no temporary files left behind");
}

#[test]
fn bad_key_files_are_explained() {
    let d = tempfile::tempdir().unwrap();
    let v = fixtures().join("vectors");
    let out = d.path().join("x");
    slipway()
        .args(["decrypt", "--key-path"])
        .arg(v.join("negative/short-key.aes"))
        .arg(v.join("jet-v2-generated/env.encrypted"))
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("16 bytes"));
    slipway()
        .current_dir(d.path())
        .args(["encrypt", "in", "out"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no key: looked for").and(predicate::str::contains("codeship.aes")));
}

#[test]
fn generate_never_overwrites_and_respects_git() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("codeship.aes");
    slipway().args(["generate", "--key-path"]).arg(&key).assert().success();
    let before = std::fs::read(&key).unwrap();
    slipway()
        .args(["generate", "--key-path"])
        .arg(&key)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(std::fs::read(&key).unwrap(), before);
    assert!(slipway_core::crypto::Key::parse(&before).is_ok());

    if std::process::Command::new("git").arg("--version").output().is_err() {
        return;
    }
    let repo = tempfile::tempdir().unwrap();
    assert!(std::process::Command::new("git").arg("init").arg("-q").arg(repo.path()).status().unwrap().success());
    let key = repo.path().join("codeship.aes");
    slipway()
        .args(["generate", "--key-path"])
        .arg(&key)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(".gitignore"));
    assert!(!key.exists());
    std::fs::write(repo.path().join(".gitignore"), "codeship.aes\n").unwrap();
    slipway().args(["generate", "--key-path"]).arg(&key).assert().success();
}

#[test]
fn explain_lists_and_explains_codes() {
    let list = slipway().args(["explain"]).assert().success().get_output().stdout.clone();
    let list = String::from_utf8(list).unwrap();
    for code in slipway_core::Code::ALL {
        assert!(list.lines().any(|l| l.starts_with(code.as_str()) && l.contains(code.name())), "{code} in\n{list}");
    }
    slipway()
        .args(["explain", "push-without-build"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("# SW206 (push-without-build)\n"))
        .stdout(predicate::str::contains("## Example"))
        .stdout(predicate::str::contains("warning[SW206]: service `db` does not build an image"))
        .stdout(predicate::str::contains(" --> codeship-steps.yml:2:12"))
        .stdout(predicate::str::contains("Use instead:"));
    slipway().args(["explain", "nope"]).assert().code(2).stderr(predicate::str::contains("unknown code `nope`"));
}

/// The example `explain` shows, saved as a project, fails `validate` with that code, and the fix passes.
#[test]
fn explained_examples_validate_as_they_say() {
    for code in slipway_core::Code::ALL {
        let Some(ex) = code.example() else { continue };
        let bad = project(ex.services, ex.steps);
        let out = slipway().args(["validate", "--dir"]).arg(bad.path()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("[{code}]: ")), "{code}: {stdout}");
        let fixed = project(ex.fixed_services, ex.fixed_steps);
        slipway().args(["validate", "--dir"]).arg(fixed.path()).assert().success().stdout("no problems found\n");
    }
}

/// A git work tree on `branch` with one commit, holding the two files.
fn git_project(branch: &str, services: &str, steps: &str) -> Option<tempfile::TempDir> {
    std::process::Command::new("git").arg("--version").output().ok()?;
    let d = project(services, steps);
    let git = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .arg("-C")
            .arg(d.path())
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", branch]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);
    Some(d)
}

const TAGGED_SERVICES: &str = "app:\n  build: .\n";
const TAGGED_STEPS: &str = "\
- name: only-on-feature
  tag: feature-x
  service: app
  command: \"true\"
- name: p
  type: push
  service: app
  image_name: acme/app
  image_tag: \"{{ .Branch }}\"
";

#[test]
fn plan_and_steps_default_to_the_checked_out_branch() {
    let Some(d) = git_project("feature-x", TAGGED_SERVICES, TAGGED_STEPS) else { return };
    let out = slipway()
        .args(["plan", "--format", "json", "--push", "--ci-timestamp", "0", "--dir"])
        .arg(d.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["tag"], "feature-x", "{v}");
    assert_eq!(v["steps"][0]["status"], "will-run", "{v}");
    assert_eq!(v["steps"][1]["image_tag"], "feature-x", "{v}");
    slipway()
        .args(["plan", "--ci-timestamp", "0", "--dir"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("plan for build tag `feature-x`"));
    // `steps` announces the same build tag before it needs an engine (here: none answers).
    slipway()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["steps", "--ci-timestamp", "0", "--dir"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("slipway: build tag `feature-x` (from the checked-out branch)"));
    // --ci-branch names the build for both, and --tag wins over it.
    let plan_tag = |extra: &[&str]| {
        let out = slipway()
            .args(["plan", "--format", "json", "--push", "--ci-timestamp", "0"])
            .args(extra)
            .arg("--dir")
            .arg(d.path())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        (v["tag"].as_str().unwrap_or_default().to_string(), v["steps"][1]["image_tag"].as_str().unwrap().to_string())
    };
    assert_eq!(plan_tag(&["--ci-branch", "release"]), ("release".into(), "release".into()));
    assert_eq!(plan_tag(&["--tag", "v1.2"]), ("v1.2".into(), "v1.2".into()));
    slipway()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["steps", "--ci-branch", "release", "--dir"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("slipway: build tag `release` (from --ci-branch)"));
}

#[test]
fn steps_run_and_load_exit_one_on_configuration_errors() {
    let d = project("app:\n  image: busybox\n", "- service: ap\n  command: x\n");
    for args in [vec!["steps"], vec!["run", "app"], vec!["load", "app"]] {
        slipway()
            // No engine is needed to find the errors, and none is contacted.
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .args(&args)
            .arg("--dir")
            .arg(d.path())
            .assert()
            .code(1)
            .stderr(predicate::str::contains("error[SW102]: this step names unknown service `ap`"))
            .stderr(predicate::str::contains("fix them first"));
    }
}

/// The engine, base image and registry of `tests/env/up.sh` (idempotent), as its `export` lines.
fn docker_env() -> std::collections::HashMap<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/env/up.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run tests/env/up.sh");
    assert!(out.status.success(), "tests/env/up.sh failed: this test needs a Docker engine and a registry");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A service built without `build.image` is pushed under the step's `image_name`, on the build
/// tag taken from the checked-out branch (no --tag), to a real password-protected registry.
#[test]
fn steps_push_an_unnamed_build_under_image_name_on_the_checked_out_branch() {
    let env = docker_env();
    let (registry, user, password) =
        (&env["SLIPWAY_TEST_REGISTRY"], &env["SLIPWAY_TEST_REGISTRY_USER"], &env["SLIPWAY_TEST_REGISTRY_PASSWORD"]);
    let mut id = [0u8; 4];
    getrandom::fill(&mut id).unwrap();
    let repo = format!("slipwaytest/renamed-{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let steps = format!(
        "- name: push\n  type: push\n  tag: feature-x\n  service: app\n  image_name: {registry}/{repo}\n  registry: {registry}\n  image_tag: \"{{{{ .Branch }}}}\"\n  encrypted_dockercfg_path: dockercfg.encrypted\n"
    );
    let d = project("app:\n  build: .\n", &steps);
    std::fs::write(d.path().join("Dockerfile"), format!("FROM {}\n", env["SLIPWAY_TEST_BASE_IMAGE"])).unwrap();
    let key = d.path().join("codeship.aes");
    slipway().args(["generate", "--key-path"]).arg(&key).assert().success();
    let plain = d.path().join("dockercfg.json");
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(&plain, format!("{{\"auths\": {{\"{registry}\": {{\"auth\": \"{auth}\"}}}}}}")).unwrap();
    slipway()
        .args(["encrypt", "--key-path"])
        .arg(&key)
        .arg(&plain)
        .arg(d.path().join("dockercfg.encrypted"))
        .assert()
        .success();
    std::fs::remove_file(&plain).unwrap();
    std::fs::write(d.path().join(".gitignore"), "codeship.aes\n").unwrap();
    let git = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .arg("-C")
            .arg(d.path())
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "feature-x"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);

    let out = slipway().env("NO_COLOR", "1").args(["steps", "--push", "--dir"]).arg(d.path()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("pushing {registry}/{repo}:feature-x to {registry}")), "{text}");
    assert!(!text.contains(password.as_str()), "password leaked:\n{text}");
    let tags = std::process::Command::new("curl")
        .args(["-s", "-u", &format!("{user}:{password}")])
        .arg(format!("http://{registry}/v2/{repo}/tags/list"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&tags.stdout).trim(),
        format!("{{\"name\":\"{repo}\",\"tags\":[\"feature-x\"]}}")
    );
}

/// The sample project's `package` step prints the commit it packaged, not `$CI_COMMIT_ID`.
#[test]
fn sample_project_expands_the_commit_id() {
    docker_env();
    let d = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample");
    for name in ["codeship-services.yml", "codeship-steps.yml"] {
        std::fs::copy(sample.join(name), d.path().join(name)).unwrap();
    }
    slipway()
        .env("NO_COLOR", "1")
        .args(["steps", "--ci-commit-id", "abc123", "--dir"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("(step: package) (service: app) packaged build abc123"));
}

/// Input is read through its size limit, not by trusting the file's reported size: `/dev/zero`
/// reports 0 bytes and never ends (it used to be read until memory ran out), and so would a
/// FIFO. Each is an error naming the file; `timeout` turns the old hang into a failure.
#[test]
fn endless_inputs_are_cut_at_the_limit() {
    let d = project("app:\n  image: busybox\n", "- service: app\n  command: x\n");
    let key = d.path().join("codeship.aes");
    std::fs::write(&key, slipway_core::crypto::Key::from_bytes([7; 32]).to_file_text()).unwrap();
    for args in [
        vec!["validate", "--dir", ".", "--services-path", "/dev/zero"],
        vec!["decrypt", "--key-path", "/dev/zero", "/dev/null", "out.txt"],
        vec!["decrypt", "/dev/zero", "out.txt"],
    ] {
        slipway()
            .args(&args)
            .current_dir(d.path())
            .env("SLIPWAY_KEY_PATH", &key)
            .timeout(std::time::Duration::from_secs(60))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("/dev/zero is larger than"));
        assert!(!d.path().join("out.txt").exists(), "{args:?} left an output file");
    }
}

/// `tag:`/`exclude:` matching costs time with the tag's length: a build tag over 255 bytes
/// (`--tag` of `plan` and `steps`, or `--ci-branch`, which becomes the tag) is a usage error.
#[test]
fn build_tags_over_255_bytes_are_usage_errors() {
    let d = project("app:\n  image: busybox\n", "- service: app\n  tag: ^a+$\n  command: 'true'\n");
    let long = "a".repeat(256);
    for args in [["plan", "--tag"], ["steps", "--tag"], ["plan", "--ci-branch"]] {
        slipway().args(args).arg(&long).arg("--dir").arg(d.path()).assert().code(2).stderr(predicate::str::contains(
            "the build tag is 256 bytes long; a branch or tag name has at most 255 bytes",
        ));
    }
    // 255 bytes is a tag like any other, and the pattern matches it.
    let out = slipway()
        .args(["plan", "--format", "json", "--tag"])
        .arg("a".repeat(255))
        .arg("--dir")
        .arg(d.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["steps"][0]["status"], "will-run", "{v}");
}
