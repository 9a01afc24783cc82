//! `export gitlab-ci` writes a step's `tag` regex as a GitLab `/…/` literal that means the same
//! regex (issue 19, finding 13: `^release\/v[0-9]+$` became `/^release\\/v[0-9]+$/`, which
//! gitlab-ci-local reads as "a backslash, then a slash", so the job never ran on
//! `release/v12`). gitlab-ci-local lists, on a checkout of `release/v12`, exactly the jobs
//! `slipway plan` runs there. Needs `SLIPWAY_GITLAB_CI_LOCAL` (tests/env/export-tools.sh).

use assert_cmd::Command;
use std::path::Path;

const STEPS: &str = r#"- name: escaped-slash
  service: app
  tag: ^release\/v[0-9]+$
  command: echo 1
- name: bare-slash
  service: app
  tag: ^release/v[0-9]+$
  command: echo 2
- name: main-only
  service: app
  tag: ^main$
  command: echo 3
- name: either-prefix
  service: app
  tag: ^(feature|release)/
  command: echo 4
- name: backslash-then-slash
  service: app
  tag: ^release\\/
  command: echo 5
- name: class-with-slash
  service: app
  tag: ^release[/]v1[0-9]$
  command: echo 6
- name: not-v1
  service: app
  exclude: ^release\/v1
  command: echo 7
"#;

fn git(dir: &Path, args: &[&str]) {
    let s = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(s.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&s.stderr));
}

#[test]
fn gitlab_ci_local_runs_the_jobs_slipway_plan_runs_on_a_branch_with_a_slash() {
    let Ok(gitlab) = std::env::var("SLIPWAY_GITLAB_CI_LOCAL") else {
        eprintln!("\n*** SKIPPED: SLIPWAY_GITLAB_CI_LOCAL is not set; run `eval \"$(bash tests/env/up.sh)\"` ***\n");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
    std::fs::write(p.join("codeship-steps.yml"), STEPS).unwrap();
    let branch = "release/v12";
    git(p, &["init", "-q", "-b", branch]);
    git(p, &["add", "-A"]);
    git(p, &["-c", "user.name=Slipway Test", "-c", "user.email=test@slipway.invalid", "commit", "-qm", "regexes"]);

    let plan = Command::cargo_bin("slipway")
        .unwrap()
        .env_remove("SOURCE_DATE_EPOCH")
        .current_dir(p)
        .args(["plan", "--format", "json", "--tag", branch])
        .output()
        .unwrap();
    assert!(plan.status.success(), "{}", String::from_utf8_lossy(&plan.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let all = [
        "escaped-slash",
        "bare-slash",
        "main-only",
        "either-prefix",
        "backslash-then-slash",
        "class-with-slash",
        "not-v1",
    ];
    let runs =
        |name: &str| plan["steps"].as_array().unwrap().iter().any(|s| s["name"] == name && s["status"] == "will-run");
    let want: Vec<&str> = all.iter().copied().filter(|n| runs(n)).collect();
    assert_eq!(want, ["escaped-slash", "bare-slash", "either-prefix", "class-with-slash"], "slipway plan: {plan}");

    Command::cargo_bin("slipway")
        .unwrap()
        .current_dir(p)
        .args(["export", "gitlab-ci", "--mode", "native"])
        .assert()
        .success();
    let out = std::process::Command::new(&gitlab)
        .current_dir(p)
        .env("HOME", p.join(".home"))
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0")
        .arg("--list")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "gitlab-ci-local --list failed:\n{listed}\n{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<&str> =
        all.iter().copied().filter(|n| listed.lines().any(|l| l.split_whitespace().next() == Some(n))).collect();
    let file = std::fs::read_to_string(p.join(".gitlab-ci.yml")).unwrap();
    assert_eq!(got, want, "gitlab-ci-local lists other jobs than slipway plan runs:\n{listed}\n{file}");
}
