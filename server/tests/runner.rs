//! The runner against a real Docker engine and a real password-protected registry
//! (`tests/env/up.sh` brings both up; `cargo xtask test` runs it first). Nothing is mocked.
//! Every test checks that nothing labelled with its project is left behind.

mod support;

use slipway_core::crypto::{self, Format, Key};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

struct TestEnv {
    base_image: String,
    registry: String,
    user: String,
    password: String,
}

/// The engine and registry, started once (idempotent) if the caller has not already.
fn env() -> &'static TestEnv {
    static ENV: OnceLock<TestEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/env/up.sh");
        let out = Command::new("bash").arg(&script).stderr(Stdio::inherit()).output().expect("run tests/env/up.sh");
        assert!(
            out.status.success(),
            "tests/env/up.sh failed: these tests need a Docker engine and a registry (run `cargo xtask test`)"
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {k}=")))
                .unwrap_or_else(|| panic!("{k} missing from up.sh output"))
                .to_string()
        };
        TestEnv {
            base_image: get("SLIPWAY_TEST_BASE_IMAGE"),
            registry: get("SLIPWAY_TEST_REGISTRY"),
            user: get("SLIPWAY_TEST_REGISTRY_USER"),
            password: get("SLIPWAY_TEST_REGISTRY_PASSWORD"),
        }
    })
}

struct Project {
    dir: tempfile::TempDir,
    key: Key,
}

impl Project {
    fn new(services: &str, steps: &str) -> Project {
        let dir = tempfile::Builder::new().prefix("slipwaytest").tempdir().unwrap();
        let key = Key::from_bytes(rand_bytes());
        std::fs::write(dir.path().join("codeship.aes"), key.to_file_text()).unwrap();
        let p = Project { dir, key };
        p.write("codeship-services.yml", &services.replace("BASE", &env().base_image));
        p.write("codeship-steps.yml", steps);
        p
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn name(&self) -> String {
        self.path().file_name().unwrap().to_string_lossy().into_owned()
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text.replace("BASE", &env().base_image)).unwrap();
    }

    fn encrypt(&self, rel: &str, plaintext: &str) {
        let enc = crypto::encrypt(&self.key, plaintext.as_bytes(), Format::V2, &rand_bytes()[..16].try_into().unwrap())
            .unwrap();
        std::fs::write(self.path().join(rel), enc).unwrap();
    }

    fn steps(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        Run::from(out)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_slipway"));
        c.arg("steps").arg("--dir").arg(self.path()).args(["--ci-timestamp", "1709211909"]).args(args);
        c.env_remove("SLIPWAY_KEY_PATH").env("NO_COLOR", "1");
        c
    }

    /// Containers, networks and volumes of this project still present.
    fn leftovers(&self) -> Vec<String> {
        let label = format!("label=io.slipway.project={}", self.name());
        let mut all = Vec::new();
        for kind in [["ps", "-a"].as_slice(), &["network", "ls"], &["volume", "ls"]] {
            let out = Command::new("docker").args(kind).args(["-q", "--filter", &label]).output().unwrap();
            all.extend(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string));
        }
        all
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        // Tests check leftovers explicitly; this only keeps a failed test from polluting others.
        let label = format!("label=io.slipway.project={}", self.name());
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", &label])
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        for id in String::from_utf8_lossy(&ids).lines() {
            let _ = Command::new("docker").args(["rm", "-fv", id]).output();
        }
        for kind in ["network", "volume"] {
            let ids = Command::new("docker")
                .args([kind, "ls", "-q", "--filter", &label])
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default();
            for id in String::from_utf8_lossy(&ids).lines() {
                let _ = Command::new("docker").args([kind, "rm", id]).output();
            }
        }
    }
}

struct Run {
    code: i32,
    out: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        let mut out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.push_str(&String::from_utf8_lossy(&o.stderr));
        Run { code: o.status.code().unwrap_or(-1), out }
    }
}

impl Run {
    fn lines_of(&self, step: &str) -> Vec<&str> {
        let prefix = format!("(step: {step}) (service: ");
        self.out
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .map(|l| l.split_once(") ").unwrap().1.split_once(") ").unwrap().1)
            .filter(|l| !l.starts_with("(build) "))
            .collect()
    }
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

fn registry_tags(repo: &str) -> String {
    let e = env();
    let out = Command::new("curl")
        .args(["-s", "-u", &format!("{}:{}", e.user, e.password)])
        .arg(format!("http://{}/v2/{repo}/tags/list", e.registry))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dockercfg(registry: &str, user: &str, password: &str) -> String {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("{{\"auths\": {{\"{registry}\": {{\"auth\": \"{auth}\"}}}}}}")
}

#[test]
fn build_args_encrypted_args_and_masking() {
    let p = Project::new(
        "app:\n  build:\n    image: slipwaytest/args\n    args:\n      BRANCH_ARG: \"b-{{ .Branch }}\"\n    encrypted_args_file: args.encrypted\n",
        "- name: show\n  service: app\n  command: cat /built\n",
    );
    p.write(
        "Dockerfile",
        "FROM BASE\nARG BRANCH_ARG\nARG SECRET_ARG\nRUN echo \"branch=$BRANCH_ARG secret=$SECRET_ARG\" > /built\n",
    );
    p.encrypt("args.encrypted", "SECRET_ARG=build-time-s3cret\n");
    let r = p.steps(&["--tag", "feature-7"]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(r.lines_of("show"), ["branch=b-feature-7 secret=***"]);
    assert!(!r.out.contains("build-time-s3cret"), "secret leaked:\n{}", r.out);
    assert!(p.leftovers().is_empty());
}

#[test]
fn env_precedence_and_ci_values() {
    let p = Project::new(
        "app:\n  image: BASE\n  environment:\n    A: env\n    B: env\n    C: env\n    D: env\n  env_file: plain.env\n  encrypted_env_file: secret.env.encrypted\n",
        "- name: env\n  service: app\n  command: sh -c 'echo A=$A B=$B C=$C D=$D CI=$CI CI_BRANCH=$CI_BRANCH CI_COMMIT_ID=$CI_COMMIT_ID CI_NAME=$CI_NAME TS=$CI_TIMESTAMP'\n",
    );
    p.write("plain.env", "B=file\nC=file\nD=file\n");
    p.encrypt("secret.env.encrypted", "C=encrypted-value\nD=encrypted-value\n");
    let r = p.steps(&["--tag", "main", "--ci-commit-id", "abc123", "-e", "D=flag"]);
    assert_eq!(r.code, 0, "{}", r.out);
    // environment < env_file < encrypted_env_file < -e; the decrypted value is masked.
    assert_eq!(
        r.lines_of("env"),
        ["A=env B=file C=*** D=flag CI=true CI_BRANCH=main CI_COMMIT_ID=abc123 CI_NAME=codeship TS=1709211909"]
    );
    assert!(!r.out.contains("encrypted-value"));
    assert!(p.leftovers().is_empty());
}

#[test]
fn dependencies_by_name_and_healthcheck_wait() {
    let p = Project::new(
        "app:\n  image: BASE\n  depends_on: [web]\n  links: [slow:slowpoke]\nweb:\n  image: BASE\n  command: sh -c 'echo ok > /tmp/index.html; httpd -f -p 8080 -h /tmp'\nslow:\n  build:\n    context: slow\n  environment:\n    MODE: patient\n",
        "- name: reach\n  service: app\n  command: sh -c 'wget -qO- http://web:8080/index.html; wget -qO- http://slowpoke:8081/ready; echo $SLOWPOKE_PORT $SLOWPOKE_ENV_MODE'\n",
    );
    // Healthy only after 3 s; a step started earlier would not find /ready.
    p.write(
        "slow/Dockerfile",
        "FROM BASE\nEXPOSE 8081\nHEALTHCHECK --interval=1s --retries=30 CMD test -f /tmp/ready\nCMD sh -c 'sleep 3; echo ready > /tmp/ready; httpd -f -p 8081 -h /tmp'\n",
    );
    let r = p.steps(&[]);
    assert_eq!(r.code, 0, "{}", r.out);
    // Docker's legacy link variables for `links: [slow:slowpoke]`.
    assert_eq!(r.lines_of("reach"), ["ok", "ready", "tcp://slowpoke:8081 patient"]);
    assert!(p.leftovers().is_empty());
}

#[test]
fn volumes_between_steps_and_host_volumes() {
    let p = Project::new(
        "data:\n  image: BASE\n  volumes:\n    - /shared\n    - ./out:/out\nw:\n  image: BASE\n  volumes_from: [data]\n",
        "- name: write\n  service: w\n  command: sh -c 'echo shared > /shared/f; echo host > /out/f'\n- name: read\n  service: w\n  command: cat /shared/f\n",
    );
    let r = p.steps(&[]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(r.lines_of("read"), ["shared"]);
    assert_eq!(std::fs::read_to_string(p.path().join("out/f")).unwrap(), "host\n");
    assert!(p.leftovers().is_empty());
}

#[test]
fn parallel_steps_overlap_in_time() {
    let p = Project::new(
        "a:\n  image: BASE\n",
        "- type: parallel\n  steps:\n    - name: one\n      service: a\n      command: sh -c 'cut -d\" \" -f1 /proc/uptime; sleep 2; cut -d\" \" -f1 /proc/uptime'\n    - name: two\n      service: a\n      command: sh -c 'cut -d\" \" -f1 /proc/uptime; sleep 2; cut -d\" \" -f1 /proc/uptime'\n",
    );
    let r = p.steps(&["--parallelism", "2"]);
    assert_eq!(r.code, 0, "{}", r.out);
    let span = |s: &str| -> (f64, f64) {
        let l = r.lines_of(s);
        (l[0].parse().unwrap(), l[1].parse().unwrap())
    };
    let (a, b) = (span("one"), span("two"));
    assert!(a.0 < b.1 && b.0 < a.1, "no overlap: one {a:?}, two {b:?}");
    assert!(p.leftovers().is_empty());
}

/// Real projects repeat sub-step names under different groups. The runner tells the steps
/// apart by their id: both run at once (their containers used to be named after the step and
/// collided), and each reports its own status.
#[test]
fn steps_with_the_same_name_under_different_groups_both_run() {
    let p = Project::new(
        "a:\n  image: BASE\n",
        "- type: parallel\n  service: a\n  steps:\n\
         \x20   - name: staging\n      type: serial\n      steps:\n        - name: deploy\n          command: sh -c 'sleep 1; echo to-staging'\n\
         \x20   - name: production\n      type: serial\n      steps:\n        - name: deploy\n          command: sh -c 'sleep 1; echo to-production'\n",
    );
    let r = p.steps(&["--parallelism", "2"]);
    assert_eq!(r.code, 0, "{}", r.out);
    let mut lines = r.lines_of("deploy");
    lines.sort();
    assert_eq!(lines, ["to-production", "to-staging"], "{}", r.out);
    assert_eq!(r.out.matches("(step: deploy) success").count(), 2, "{}", r.out);
    assert!(r.out.contains("2 succeeded, 0 failed, 0 skipped"), "{}", r.out);
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}

#[test]
fn failing_step_stops_the_pipeline_and_on_fail_runs() {
    let p = Project::new(
        "a:\n  image: BASE\n",
        "- name: ok\n  service: a\n  command: echo fine\n- name: bad\n  service: a\n  command: sh -c 'echo failing; exit 4'\n  on_fail:\n    - command: echo rescue\n- name: after\n  service: a\n  command: echo never\n",
    );
    let r = p.steps(&[]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("(step: bad) failed") && r.out.contains("exited with status 4"), "{}", r.out);
    assert_eq!(r.lines_of("bad_on_fail_1"), ["rescue"]);
    assert!(r.lines_of("after").is_empty());
    assert!(r.out.contains("(step: after) skipped: an earlier step failed"));
    assert!(p.leftovers().is_empty(), "left after failure: {:?}", p.leftovers());
}

/// Every sibling of a parallel group runs to its own result, however few run at once:
/// CodeShip started them all. With one slot, `lint` fails while `unit` and `integration`
/// still wait for it; they used to be skipped ("an earlier step failed"). What comes after the
/// group is skipped, and inside a sibling that is a serial line, a failure stops that line only.
#[test]
fn a_failing_parallel_step_does_not_skip_its_queued_siblings() {
    let p = Project::new(
        "a:\n  image: BASE\n",
        "- name: tests\n  type: parallel\n  service: a\n  steps:\n\
         \x20   - name: lint\n      command: sh -c 'echo linting; exit 2'\n\
         \x20   - name: unit\n      command: echo unit-ran\n\
         \x20   - name: integration\n      command: echo integration-ran\n\
         \x20   - name: line\n      type: serial\n      steps:\n\
         \x20       - name: first\n          command: sh -c 'exit 5'\n\
         \x20       - name: second\n          command: echo never\n\
         - name: deploy\n  service: a\n  command: echo never\n",
    );
    let r = p.steps(&["--parallelism", "1"]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("(step: lint) failed"), "{}", r.out);
    assert_eq!(r.lines_of("unit"), ["unit-ran"], "{}", r.out);
    assert_eq!(r.lines_of("integration"), ["integration-ran"], "{}", r.out);
    assert!(r.out.contains("(step: unit) success") && r.out.contains("(step: integration) success"), "{}", r.out);
    assert!(r.out.contains("(step: first) failed"), "{}", r.out);
    assert!(r.out.contains("(step: second) skipped: an earlier step failed"), "{}", r.out);
    assert!(r.out.contains("(step: deploy) skipped: an earlier step failed"), "{}", r.out);
    assert!(r.out.contains("2 succeeded, 2 failed, 2 skipped"), "{}", r.out);
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}

/// The summary lists steps in the order of the pipeline, not the order they ended in.
#[test]
fn the_summary_follows_the_pipeline_not_the_finish_order() {
    let p = Project::new(
        "a:\n  image: BASE\n",
        "- type: parallel\n  service: a\n  steps:\n\
         \x20   - name: slow\n      command: sh -c 'sleep 1.5'\n\
         \x20   - name: fast\n      command: 'true'\n\
         - name: last\n  service: a\n  command: 'true'\n",
    );
    let r = p.steps(&["--parallelism", "2"]);
    assert_eq!(r.code, 0, "{}", r.out);
    let ended = |step: &str| r.out.find(&format!("(step: {step}) success")).unwrap();
    assert!(ended("fast") < ended("slow"), "fast must end first for this test to mean anything: {}", r.out);
    let summary = &r.out[r.out.find("summary:").expect("a summary")..];
    let at = |step: &str| summary.find(&format!("  {step} ")).unwrap_or_else(|| panic!("{step} in {summary}"));
    assert!(at("slow") < at("fast") && at("fast") < at("last"), "{summary}");
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}

#[test]
fn a_groups_on_fail_runs_when_a_step_inside_it_fails() {
    let p = Project::new(
        "a:\n  image: BASE\n",
        "- name: fine\n  type: parallel\n  service: a\n  steps:\n    - command: echo fine\n  on_fail:\n    - name: fine_rescue\n      command: echo not-needed\n\
         - name: outer\n  type: serial\n  service: a\n  steps:\n    - name: one\n      command: echo one\n\
         \x20   - name: inner\n      type: parallel\n      steps:\n        - name: two\n          command: sh -c 'exit 3'\n        - name: two_b\n          command: echo two-b\n\
         \x20   - name: three\n      command: echo never\n\
         \x20 on_fail:\n    - name: rescue\n      command: sh -c 'echo rescued $CI_BRANCH'\n\
         - name: after\n  service: a\n  command: echo never\n",
    );
    let r = p.steps(&["--tag", "main"]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("(step: two) failed"), "{}", r.out);
    // The group's service runs its on_fail steps, once the group is done.
    assert_eq!(r.lines_of("rescue"), ["rescued main"], "{}", r.out);
    assert_eq!(r.lines_of("two_b"), ["two-b"]);
    let rescue_at = r.out.find("(step: rescue) started").unwrap();
    assert!(r.out.find("(step: two_b) success").is_some_and(|i| i < rescue_at), "{}", r.out);
    // A group that succeeded does not run its on_fail; later steps are skipped.
    assert!(r.lines_of("fine_rescue").is_empty() && r.lines_of("three").is_empty() && r.lines_of("after").is_empty());
    assert!(r.out.contains("(step: after) skipped: an earlier step failed"), "{}", r.out);
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}

#[test]
fn tag_and_exclude_filters() {
    let p = Project::new(
        "a:\n  image: BASE\n",
        "- name: master_only\n  service: a\n  tag: master\n  command: echo m\n- name: releases\n  service: a\n  tag: ^release/\n  command: echo r\n- name: not_wip\n  service: a\n  exclude: ^wip\n  command: echo n\n",
    );
    let r = p.steps(&["--tag", "release/2"]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(r.lines_of("master_only").is_empty());
    assert_eq!(r.lines_of("releases"), ["r"]);
    assert_eq!(r.lines_of("not_wip"), ["n"]);
    let r = p.steps(&["--tag", "wip-x"]);
    assert!(r.lines_of("not_wip").is_empty() && r.lines_of("releases").is_empty(), "{}", r.out);
}

fn push_project(extra_services: &str, push_step_extra: &str) -> (Project, String) {
    let e = env();
    let repo = format!("slipwaytest/push-{}", &hex(&rand_bytes()[..4]));
    let image = format!("{}/{repo}", e.registry);
    let p = Project::new(
        &format!("app:\n  build:\n    image: {image}\n{extra_services}"),
        &format!(
            "- name: push\n  type: push\n  service: app\n  image_name: {image}\n  registry: {}\n  image_tag: \"{{{{ .Branch }}}}-{{{{ .Time.Format \\\"20060102\\\" }}}}\"\n{push_step_extra}",
            e.registry
        ),
    );
    p.write("Dockerfile", "FROM BASE\nRUN echo pushed > /marker\n");
    (p, repo)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn push_with_encrypted_dockercfg_lands_in_the_registry() {
    let e = env();
    let (p, repo) = push_project("", "  encrypted_dockercfg_path: dockercfg.encrypted\n");
    p.encrypt("dockercfg.encrypted", &dockercfg(&e.registry, &e.user, &e.password));
    let r = p.steps(&["--tag", "feature/x"]);
    assert!(r.out.contains("push steps are skipped"), "{}", r.out);
    assert!(!registry_tags(&repo).contains("featurex"));
    let r = p.steps(&["--tag", "feature/x", "--push"]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(registry_tags(&repo).contains("\"featurex-20240229\""), "tags: {}", registry_tags(&repo));
    assert!(!r.out.contains(&e.password));
    assert!(p.leftovers().is_empty());
}

#[test]
fn wrong_registry_password_fails_clearly() {
    let e = env();
    let (p, repo) = push_project("", "  encrypted_dockercfg_path: dockercfg.encrypted\n");
    p.encrypt("dockercfg.encrypted", &dockercfg(&e.registry, &e.user, "not-the-password"));
    let r = p.steps(&["--tag", "main", "--push"]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains(&format!("push to registry {} failed", e.registry)), "{}", r.out);
    assert!(r.out.contains("check the username and password"), "{}", r.out);
    assert!(!r.out.contains("not-the-password"), "password leaked:\n{}", r.out);
    assert!(!registry_tags(&repo).contains("main"));
}

#[test]
fn missing_registry_entry_names_the_registry() {
    let e = env();
    let (p, _) = push_project("", "  encrypted_dockercfg_path: dockercfg.encrypted\n");
    p.encrypt("dockercfg.encrypted", &dockercfg("quay.io", "u", "p4ssword"));
    let r = p.steps(&["--tag", "main", "--push"]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains(&format!("no credentials for registry `{}`", e.registry)), "{}", r.out);
}

#[test]
fn push_with_a_dockercfg_generator_service() {
    let e = env();
    let (p, repo) = push_project(
        "gen:\n  build:\n    context: gen\n  encrypted_env_file: gen.env.encrypted\n",
        "  dockercfg_service: gen\n",
    );
    // Like the ECR/GCR generators: log in with a secret from the environment, write the file.
    p.write("gen/Dockerfile", "FROM BASE\nCOPY gen.sh /gen.sh\nENTRYPOINT [\"/bin/sh\", \"/gen.sh\"]\n");
    p.write(
        "gen/gen.sh",
        &format!(
            "echo generating \"$1\"\nAUTH=$(printf '%s:%s' \"$REG_USER\" \"$REG_PASS\" | base64)\nprintf '{{\"auths\": {{\"{}\": {{\"auth\": \"%s\"}}}}}}' \"$AUTH\" > \"$1\"\n",
            e.registry
        ),
    );
    p.encrypt("gen.env.encrypted", &format!("REG_USER={}\nREG_PASS={}\n", e.user, e.password));
    let r = p.steps(&["--tag", "gen", "--push"]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(r.out.contains("generating /opt/data/dockercfg"), "{}", r.out);
    assert!(registry_tags(&repo).contains("\"gen-20240229\""), "tags: {}", registry_tags(&repo));
    assert!(!r.out.contains(&e.password));
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}

#[test]
fn build_from_a_private_base_image() {
    let e = env();
    let base = format!("{}/slipwaytest/private-base:{}", e.registry, hex(&rand_bytes()[..4]));
    // Put a base image only in the password-protected registry.
    let docker = |args: &[&str]| {
        let o = Command::new("docker").args(args).output().unwrap();
        assert!(o.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let cfg = tempfile::tempdir().unwrap();
    let with_cfg = |args: &[&str]| {
        let o = Command::new("docker").arg("--config").arg(cfg.path()).args(args).output().unwrap();
        assert!(o.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    docker(&["tag", &e.base_image, &base]);
    with_cfg(&["login", "-u", &e.user, "-p", &e.password, &e.registry]);
    with_cfg(&["push", &base]);
    docker(&["rmi", &base]);
    let p = Project::new(
        "app:\n  build:\n    image: slipwaytest/from-private\n  encrypted_dockercfg_path: dockercfg.encrypted\n",
        "- name: check\n  service: app\n  command: echo built-from-private\n",
    );
    p.write("Dockerfile", &format!("FROM {base}\n"));
    p.encrypt("dockercfg.encrypted", &dockercfg(&e.registry, &e.user, &e.password));
    let r = p.steps(&[]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(r.lines_of("check"), ["built-from-private"]);
    assert!(!r.out.contains(&e.password));
    let _ = Command::new("docker").args(["rmi", &base]).output();
}

#[test]
fn secrets_are_masked_in_split_and_multiline_output() {
    let p = Project::new(
        "app:\n  image: BASE\n  encrypted_env_file: s.encrypted\n",
        "- name: leak\n  service: app\n  command: sh -c 'printf \"start %s\" \"$TOKEN\"; sleep 1; printf \" end\\n\"; echo \"$TOKEN\" | cut -c1-100; printf \"%s\\n\" \"$MULTI\"; echo \"$TOKEN\" >&2'\n",
    );
    p.encrypt("s.encrypted", "TOKEN=tok-4f8a9b2c1d\nMULTI=\"first-secret-line\\nsecond-secret-line\"\n");
    let r = p.steps(&[]);
    assert_eq!(r.code, 0, "{}", r.out);
    for s in ["tok-4f8a9b2c1d", "first-secret-line", "second-secret-line"] {
        assert!(!r.out.contains(s), "{s} leaked:\n{}", r.out);
    }
    // Docker copies stdout and stderr separately: the stderr line may come first under load.
    assert!(r.lines_of("leak").contains(&"start *** end"), "{}", r.out);
}

#[test]
fn a_secret_across_the_cut_of_a_long_line_is_masked() {
    // Lines over 64 KiB reach the log in pieces. Each line here puts the secret at another
    // offset past 64 KiB (2 KiB apart), so one of them straddles wherever the cut falls.
    let p = Project::new(
        "app:\n  image: BASE\n  encrypted_env_file: s.encrypted\n  volumes:\n    - ./:/src\n",
        "- name: long\n  service: app\n  command: sh /src/long.sh\n",
    );
    p.write(
        "long.sh",
        "i=0\nwhile [ $i -lt 32 ]; do\n  printf 'L%s:' $i\n  head -c $((65536 + 2048 * i - 3 - 2 - ${#i})) /dev/zero | tr '\\0' a\n  printf '%s' \"$TOKEN\"\n  head -c 100 /dev/zero | tr '\\0' b\n  echo\n  i=$((i + 1))\ndone\n",
    );
    p.encrypt("s.encrypted", "TOKEN=tok-7c3e9d0b5a\n");
    let r = p.steps(&[]);
    assert_eq!(r.code, 0, "{}", r.out.chars().take(2000).collect::<String>());
    // Rejoin the pieces: each line starts with its marker.
    let mut lines: Vec<String> = Vec::new();
    for piece in r.lines_of("long") {
        match lines.last_mut() {
            Some(last) if !piece.starts_with('L') => last.push_str(piece),
            _ => lines.push(piece.to_string()),
        }
    }
    assert_eq!(lines.len(), 32);
    for (i, line) in lines.iter().enumerate() {
        let prefix = format!("L{i}:");
        let want = format!("{prefix}{}***{}", "a".repeat(65536 + 2048 * i - 3 - prefix.len()), "b".repeat(100));
        assert!(*line == want, "line {i} is not masked whole (length {} vs {})", line.len(), want.len());
    }
}

#[test]
fn interrupt_stops_the_run_and_cleans_up() {
    // SIGINT, as Ctrl-C sends.
    stopped_by_signal("INT");
}

/// A closed terminal or dropped SSH session (SIGHUP) stops the run the same way; it used to
/// kill slipway outright and leave the run's containers behind.
#[test]
fn hangup_stops_the_run_and_cleans_up() {
    stopped_by_signal("HUP");
}

fn stopped_by_signal(signal: &str) {
    let p = Project::new(
        "a:\n  image: BASE\n  depends_on: [dep]\ndep:\n  image: BASE\n  command: sleep 300\n",
        "- name: long\n  service: a\n  command: sh -c 'echo started-long; sleep 300'\n",
    );
    let mut child = p.command(&[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.leftovers().len() < 3 {
        assert!(Instant::now() < deadline, "the run never started its containers");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap().success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "slipway did not stop after SIG{signal}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = Run::from(child.wait_with_output().unwrap());
    assert_eq!(status.code(), Some(130), "SIG{signal}: {}", out.out);
    assert!(p.leftovers().is_empty(), "left after SIG{signal}: {:?}", p.leftovers());
}

#[test]
fn an_interrupt_while_containers_are_being_created_leaves_nothing() {
    // Ctrl-C at different moments right after the step starts: while its network, its
    // dependency and its own container are being created. Cleanup must wait for Docker's
    // answers, or what Docker creates after cleanup looked is left behind.
    let p = Project::new(
        "a:\n  image: BASE\n  depends_on: [dep]\ndep:\n  image: BASE\n  command: sleep 300\n",
        "- name: long\n  service: a\n  command: sleep 300\n",
    );
    for attempt in 0..12u64 {
        let mut child = p.command(&[]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.starts_with("(step: long) started") {
            line.clear();
            assert!(std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0, "the run ended early");
        }
        std::thread::sleep(Duration::from_millis(attempt * 8));
        assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "attempt {attempt}");
        assert!(p.leftovers().is_empty(), "attempt {attempt} ({} ms) left {:?}", attempt * 8, p.leftovers());
    }
}

/// `slipway cleanup` looks at every labelled object: the tests that run it take turns, or one
/// would remove (or fail on) what the other set up.
static GLOBAL_CLEANUP: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn cleanup_removes_only_labelled_leftovers() {
    let _turn = GLOBAL_CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
    let _ = env();
    remove_stale_holders();
    let p = Project::new("a:\n  image: BASE\n", "- name: keep\n  service: a\n  command: echo kept\n");
    let r = p.steps(&["--no-remove"]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(!p.leftovers().is_empty(), "--no-remove should keep the containers");
    let foreign = Command::new("docker").args(["create", &env().base_image, "true"]).output().unwrap();
    let foreign = String::from_utf8_lossy(&foreign.stdout).trim().to_string();
    let dry = Command::new(env!("CARGO_BIN_EXE_slipway")).args(["cleanup", "--dry-run"]).output().unwrap();
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would remove container"));
    assert!(!p.leftovers().is_empty());
    let real = Command::new(env!("CARGO_BIN_EXE_slipway")).arg("cleanup").output().unwrap();
    assert!(real.status.success());
    assert!(p.leftovers().is_empty());
    let still = Command::new("docker").args(["inspect", &foreign]).output().unwrap();
    assert!(still.status.success(), "cleanup removed a container it did not create");
    let _ = Command::new("docker").args(["rm", "-f", &foreign]).output();
}

/// A volume Docker will not remove (a container of someone else's uses it) is reported, with
/// what was removed before and after it, and the exit code says cleanup is not done. Before,
/// the first refusal was the only output: what had been removed went unsaid.
#[test]
fn cleanup_reports_what_it_removed_and_what_docker_refused() {
    let _turn = GLOBAL_CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
    let base = &env().base_image;
    remove_stale_holders();
    let suffix = format!("{}-{}", std::process::id(), std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos());
    let run = format!("io.slipway.run=refused-{suffix}");
    let (volume, network) = (format!("slipway-test-held-{suffix}"), format!("slipway-test-free-{suffix}"));
    let docker = |args: &[&str]| {
        let out = Command::new("docker").args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    docker(&["volume", "create", "--label", &run, &volume]);
    docker(&["network", "create", "--label", &run, &network]);
    // Not labelled: cleanup leaves it alone, and it holds the volume.
    let name = format!("slipway-test-holder-{suffix}");
    let holder = docker(&["create", "--name", &name, "-v", &format!("{volume}:/held"), base, "true"]);
    let out = Command::new(env!("CARGO_BIN_EXE_slipway")).arg("cleanup").output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let _ = Command::new("docker").args(["rm", "-f", &holder]).output();
    let _ = Command::new("docker").args(["volume", "rm", "-f", &volume]).output();
    let _ = Command::new("docker").args(["network", "rm", &network]).output();
    assert_eq!(out.status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains(&format!("removed network {network}")), "{stdout}");
    assert!(stderr.contains(&format!("cannot remove volume {volume}")) && stderr.contains("in use"), "{stderr}");
    assert!(stderr.contains(&format!("docker ps -a --filter volume={volume}")), "{stderr}");
}

/// What a killed run of the test above leaves (its holder keeps a labelled volume in use, on
/// which every global cleanup would then fail): removed before either cleanup test starts.
fn remove_stale_holders() {
    let out = Command::new("docker").args(["ps", "-aq", "--filter", "name=slipway-test-holder-"]).output().unwrap();
    for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let _ = Command::new("docker").args(["rm", "-f", id]).output();
    }
}

#[test]
fn run_and_load_commands() {
    let p = Project::new(
        "app:\n  build:\n    image: slipwaytest/load\n  command: echo default-cmd\n",
        "- service: app\n  command: x\n",
    );
    p.write("Dockerfile", "FROM BASE\n");
    let load =
        Command::new(env!("CARGO_BIN_EXE_slipway")).args(["load", "app", "--dir"]).arg(p.path()).output().unwrap();
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    assert!(String::from_utf8_lossy(&load.stdout).contains("slipwaytest/load"));
    let run = |extra: &[&str]| {
        Run::from(
            Command::new(env!("CARGO_BIN_EXE_slipway"))
                .args(["run", "--dir"])
                .arg(p.path())
                .arg("app")
                .args(extra)
                .output()
                .unwrap(),
        )
    };
    let r = run(&[]);
    assert_eq!(r.lines_of("run-app"), ["default-cmd"], "{}", r.out);
    let r = run(&["echo", "a && b"]);
    assert_eq!(r.lines_of("run-app"), ["a && b"], "{}", r.out);
    assert!(p.leftovers().is_empty());
}

#[test]
fn cached_services_push_and_reuse_their_cache_image() {
    let e = env();
    let p = Project::new(
        "app:\n  build:\n    image: slipwaytest/cached\n  cached: true\n  default_cache_branch: main\n  encrypted_dockercfg_path: dockercfg.encrypted\n",
        "- name: t\n  service: app\n  command: cat /layer\n",
    );
    p.write("Dockerfile", "FROM BASE\nRUN echo cached-layer > /layer\n");
    p.encrypt("dockercfg.encrypted", &dockercfg(&e.registry, &e.user, &e.password));
    let cache = format!("{}/slipwaytest-cache", e.registry);
    let repo = format!("slipwaytest-cache/{}", support::build_repo(&p.name(), "app"));
    // First build on `main`: no cache yet; afterwards the cache image is in the registry.
    let r = p.steps(&["--tag", "main", "--cache-registry", &cache]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(r.out.contains("no cache image yet"), "{}", r.out);
    assert!(registry_tags(&repo).contains("\"main\""), "tags: {}", registry_tags(&repo));
    // A new branch falls back to `default_cache_branch`.
    let r = p.steps(&["--tag", "feature-9", "--cache-registry", &cache]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(r.out.contains(&format!("using cache image {}/{}:main", e.registry, repo)), "{}", r.out);
    assert!(registry_tags(&repo).contains("\"feature-9\""));
    assert!(!r.out.contains(&e.password));
}

/// Docker 20.10's followed log stream can end with the container before it has passed on all
/// the container wrote: a step printing 50,000 lines at once lost its last tens of thousands
/// about one run in six on a busy machine. Every line of such steps arrives, in order, on
/// stdout and on stderr, run after run (three chatty steps at once, to make the race likely).
#[test]
fn every_line_of_chatty_steps_that_exit_at_once_is_logged() {
    const LINES: usize = 40_000;
    let p = Project::new(
        "app:\n  image: BASE\n",
        &format!(
            "- type: parallel\n  steps:\n  - name: out1\n    service: app\n    command: seq 1 {LINES}\n  \
             - name: out2\n    service: app\n    command: seq 1 {LINES}\n  \
             - name: err\n    service: app\n    command: sh -c 'seq 1 {LINES} >&2'\n"
        ),
    );
    let want: Vec<String> = (1..=LINES).map(|n| n.to_string()).collect();
    for attempt in 1..=3 {
        let r = p.steps(&[]);
        assert_eq!(r.code, 0, "attempt {attempt}: {}", &r.out[r.out.len().saturating_sub(2000)..]);
        for step in ["out1", "out2", "err"] {
            let got = r.lines_of(step);
            assert!(
                got == want,
                "attempt {attempt}: step {step} logged {} of {LINES} lines, the last `{}`",
                got.len(),
                got.last().unwrap_or(&"")
            );
        }
    }
    assert!(p.leftovers().is_empty());
}
