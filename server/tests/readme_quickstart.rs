//! The README's "Move your CodeShip project in five steps", followed as a new user would: the
//! commands of its code blocks, read from the README itself (so a change there is a change
//! here), run in order on a copy of `examples/sample` as "your-project".
//!
//! What differs from a user's machine, and why:
//! - step 1 (`cargo xtask install`) is not run here: `cargo xtask test` runs the README's
//!   Install section into a folder of its own and checks the installed server has the studio;
//!   here `slipway` is the binary under test;
//! - step 4's `repo` is a local `git daemon` (no forge runs here), and the webhook delivery is
//!   GitHub's documented `push` payload signed as GitHub signs it (support/hook_project.rs);
//!   the server gets `--addr 127.0.0.1:0` and a data folder of the test's, besides the
//!   README's flags;
//! - the sample's `manual` group is approved through the API, as the studio's Approve does.

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use hook_project::{github_push, http, sign_with, wait_run_status};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use support::git::{Daemon, commit, repo_pair, sh};

const TOKEN: &str = "readme-quickstart-token";
const HOOK_SECRET: &str = "the secret given to the webhook";

/// One fenced block of the quick start: its language and text.
struct Block {
    lang: String,
    text: String,
}

/// The fenced blocks of the README's quick-start section, in order.
fn quickstart_blocks() -> Vec<Block> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let section = readme
        .split("\n## Move your CodeShip project in five steps\n")
        .nth(1)
        .expect("the README starts with its five-step quick start")
        .split("\n## ")
        .next()
        .unwrap();
    let mut blocks = Vec::new();
    let mut parts = section.split("```");
    parts.next();
    while let (Some(fenced), _) = (parts.next(), parts.next()) {
        let (lang, text) = fenced.split_once('\n').unwrap_or((fenced, ""));
        blocks.push(Block { lang: lang.trim().to_string(), text: text.to_string() });
    }
    blocks
}

/// A command line's words, its `# comment` dropped (the README's commands need no quoting).
fn words(line: &str) -> Vec<String> {
    line.split(" #").next().unwrap_or(line).split_whitespace().map(str::to_string).collect()
}

fn run(dir: &Path, envs: &[(String, String)], args: &[String]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .current_dir(dir)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "README's `slipway {}` in {} failed:\n{}{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn the_readmes_five_steps_work_as_written_on_the_sample_project() {
    let envs = support::env_up();
    let tmp = tempfile::tempdir().unwrap();
    // The team's repository: the sample, committed, served by git daemon.
    let served = tmp.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let work = repo_pair(&served, "web.git");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample");
    copy_dir(&sample, &work);
    sh(&work, &["add", "."]);
    sh(&work, &["commit", "-qm", "the pipeline"]);
    let daemon = Daemon::start(&served);
    sh(&work, &["push", "-q", &daemon.url("web.git"), "HEAD:main"]);

    let blocks = quickstart_blocks();
    let langs: Vec<&str> = blocks.iter().map(|b| b.lang.as_str()).collect();
    assert_eq!(langs, ["sh", "sh", "sh", "toml", "sh", "sh"], "the quick start's blocks changed: update this test");

    // Steps 1–3 and 5 are shell blocks; step 4 is the toml block and the `serve` after it.
    let server_dir = tmp.path().join("server");
    std::fs::create_dir(&server_dir).unwrap();
    let mut cwd: PathBuf = tmp.path().to_path_buf();
    let mut ran = Vec::new();
    let mut server = None;
    for block in &blocks {
        if block.lang == "toml" {
            // Step 4's slipway.toml, with the repository this test serves.
            let toml: String = block
                .text
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with("repo = ") {
                        format!("repo = \"{}\"", daemon.url("web.git"))
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            assert!(toml.contains("webhook_secret_file = \"web.hook\""), "step 4 names web.hook: {toml}");
            std::fs::write(server_dir.join("slipway.toml"), toml + "\n").unwrap();
            std::fs::write(server_dir.join("web.hook"), format!("{HOOK_SECRET}\n")).unwrap();
            continue;
        }
        for line in block.text.lines() {
            let w = words(line);
            match w.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                [] => {}
                ["cargo", "xtask", "install"] => ran.push("install (by cargo xtask test)".to_string()),
                ["cd", "your-project"] => {
                    cwd = work.clone();
                    ran.push(line.to_string());
                }
                ["slipway", "serve", rest @ ..] => {
                    let mut args: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
                    // Relative to where the user runs it: the server's folder.
                    for a in &mut args {
                        if a == "slipway.toml" {
                            *a = server_dir.join("slipway.toml").display().to_string();
                        }
                    }
                    args.extend(["--data-dir".to_string(), server_dir.join("data").display().to_string()]);
                    server = Some(support::serve(&args, TOKEN));
                    ran.push(line.to_string());
                }
                ["slipway", rest @ ..] => {
                    let args: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
                    let out = run(&cwd, &envs, &args);
                    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
                    ran.push(line.to_string());
                    check_output(&args, &text, &cwd);
                }
                other => panic!("the quick start has a command this test does not know: {other:?}"),
            }
        }
    }
    assert_eq!(
        ran.iter().filter(|r| r.starts_with("slipway")).count(),
        6,
        "validate, plan, steps, serve and two exports: {ran:?}"
    );

    // Step 4, go on: a push to the repository, delivered to /hooks/web as GitHub sends it.
    let (mut child, url) = server.expect("step 4 starts the server");
    let before = sh(&work, &["rev-parse", "HEAD"]);
    let after = commit(&work, &[("VERSION", "2\n")], "Release 2");
    sh(&work, &["push", "-q", &daemon.url("web.git"), "HEAD:main"]);
    let body = serde_json::to_vec(&github_push("main", &before, &after, "Release 2")).unwrap();
    let headers = [
        ("Content-Type", "application/json".to_string()),
        ("X-GitHub-Event", "push".to_string()),
        ("X-GitHub-Delivery", "readme-quickstart-1".to_string()),
        ("X-Hub-Signature-256", sign_with(HOOK_SECRET, &body)),
    ];
    let answer = http(&url, "POST", "/hooks/web", &headers, &body);
    assert_eq!(answer.status, 202, "the webhook delivery: {:?}", answer.body);
    let auth = [("Authorization", format!("Bearer {TOKEN}"))];
    let get = |path: &str| -> Value { http(&url, "GET", path, &auth, b"").body };
    let id = hook_project::wait_for("the pushed commit's run", Duration::from_secs(30), || {
        get("/api/runs?project=web")["runs"][0]["id"].as_str().map(str::to_string)
    });
    // The sample's checks and packaging run, then its manual group waits for Approve.
    hook_project::wait_for("the run to wait for approval", Duration::from_secs(180), || {
        let log = http(&url, "GET", &format!("/api/runs/{id}/log"), &auth, b"").body;
        log.to_string().contains(&format!("packaged build {after}")).then_some(())
    });
    let approved = http(&url, "POST", &format!("/api/runs/{id}/approve"), &auth, b"");
    assert!(approved.status < 300, "approve: {:?}", approved.body);
    let run = wait_run_status(get, &id, "success", Duration::from_secs(120));
    assert_eq!(run["project"], "web");
    let _ = child.kill();
    let _ = child.wait();
}

/// What each of the README's CLI commands must have done.
fn check_output(args: &[String], text: &str, cwd: &Path) {
    match args.first().map(String::as_str) {
        Some("validate") => assert!(!text.contains("error"), "validate: {text}"),
        Some("plan") => {
            for step in ["lint", "unit", "package", "announce"] {
                assert!(text.contains(step), "plan shows {step}: {text}");
            }
        }
        Some("steps") => {
            assert!(text.contains("unit test 6 ok"), "steps ran unit: {text}");
            assert!(text.contains("packaged build"), "steps ran package: {text}");
        }
        Some("export") => {
            let file = match args.get(1).map(String::as_str) {
                Some("github-actions") => cwd.join(".github/workflows/codeship.yml"),
                Some("gitlab-ci") => cwd.join(".gitlab-ci.yml"),
                other => panic!("export to {other:?}"),
            };
            let written = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(written.contains("package"), "{} has the package job: {written}", file.display());
        }
        other => panic!("the quick start runs `slipway {other:?}`, which this test does not check"),
    }
}
