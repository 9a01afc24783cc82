//! Issue 19, gaps left after finding 7: a signed push delivery captured and replayed under a
//! new `X-GitHub-Delivery` id was refused only because its commit was no longer its ref's head,
//! or because a run of it existed. So
//! 1. after retention (`--keep-runs`) deleted a tag's run (and its delivery id), a replay of
//!    the tag's push released again: a tag stays at its commit for ever;
//! 2. a replay of the current head's push ran it again once nothing of it was queued or running.
//!
//! Now the store keeps a small record of the pushes that queued a run (ref, `before`, `after`
//! and GitHub's `repository.pushed_at`), beyond retention: a replay builds nothing; a new push
//! — a force-push back to an older commit (another `before`), or the same move made again
//! later (another `pushed_at`) — builds.
//!
//! No forge runs here (see `support/hook_project.rs`): the deliveries are GitHub's documented
//! `push` payloads signed as GitHub signs them, and the repository is served by `git daemon`
//! and pushed to for real. Runs use the real Docker engine (tests/env/up.sh).

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use hook_project::{API_TOKEN, HookProject, docker, github_push, http, wait_for};
use serde_json::{Value, json};
use std::time::Duration;
use support::git::sh;

const ZERO: &str = "0000000000000000000000000000000000000000";

/// `github_push` with the push's time, as GitHub sends it (`repository.pushed_at`, seconds).
fn push_at(branch: &str, before: &str, after: &str, message: &str, pushed_at: u64) -> Value {
    let mut v = github_push(branch, before, after, message);
    v["repository"]["pushed_at"] = json!(pushed_at);
    v
}

fn queued(answer: &hook_project::Answer) -> String {
    assert_eq!((answer.status, &answer.body["queued"]), (202, &json!(true)), "{:?}", answer.body);
    answer.body["id"].as_str().unwrap().to_string()
}

fn refused_as_replay(answer: &hook_project::Answer, first: &str) {
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        (&answer.body["queued"], &answer.body["replayed"], &answer.body["id"]),
        (&json!(false), &json!(true), &json!(first)),
        "{:?}",
        answer.body
    );
}

#[test]
fn a_replayed_tag_push_does_not_release_again_after_retention_deleted_its_run() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let base = support::base_image();
    let services = format!("app:\n  image: {base}\n");
    let steps = "- name: build\n  service: app\n  command: 'true'\n\
                 - name: release\n  service: app\n  tag: ^v\n  command: sh -c 'echo DEPLOYING $CI_BRANCH'\n";
    let files = [("codeship-services.yml", services.as_str()), ("codeship-steps.yml", steps)];
    let mut p = HookProject::start(&files, &[("web", "")], &[], &["--keep-runs", "1"]);
    let v1 = sh(&p.work, &["rev-parse", "main"]);
    sh(&p.work, &["tag", "v1"]);
    sh(&p.work, &["push", "-q", &p.daemon.url("web.git"), "v1"]);
    let mut tag_push = push_at("main", ZERO, &v1, "the pipeline", 1_765_000_000);
    tag_push["ref"] = json!("refs/tags/v1");
    tag_push["base_ref"] = json!("refs/heads/main");
    let tag_body = tag_push.to_string();
    let release = queued(&p.deliver("web", "push", tag_body.as_bytes(), "tag-v1"));
    p.wait_status(&release, "success", Duration::from_secs(120));
    assert!(p.text(&format!("/api/runs/{release}/log")).contains("DEPLOYING v1"));

    // A push to main, built; `--keep-runs 1` then deletes the release's run.
    let b = p.push("main", &[("b.txt", "B\n")], "B");
    let run_b =
        queued(&p.deliver("web", "push", push_at("main", &v1, &b, "B", 1_765_000_100).to_string().as_bytes(), "b"));
    p.wait_status(&run_b, "success", Duration::from_secs(120));
    wait_for("retention to delete the release's run", Duration::from_secs(30), || {
        let a = http(
            &p.url,
            "GET",
            &format!("/api/runs/{release}"),
            &[("Authorization", format!("Bearer {API_TOKEN}"))],
            b"",
        );
        (a.status == 404).then_some(())
    });

    // The captured tag delivery, byte for byte, under new ids: nothing is released.
    for i in 0..2 {
        refused_as_replay(&p.deliver("web", "push", tag_body.as_bytes(), &format!("tag-v1-replayed-{i}")), &release);
    }
    std::thread::sleep(Duration::from_secs(1));
    let runs = p.get("/api/runs");
    assert_eq!(runs["total"], json!(1), "{runs}");
    assert_eq!(runs["runs"][0]["id"], json!(run_b), "{runs}");
}

#[test]
fn a_replayed_push_of_the_head_does_not_run_again_but_a_new_push_of_the_same_commits_does() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let base = support::base_image();
    let services = format!("app:\n  image: {base}\n  volumes:\n    - ./:/code\n");
    let steps = "- name: show\n  service: app\n  command: sh -c 'echo \"content=$(cat /code/version.txt)\"'\n";
    let files = [("codeship-services.yml", services.as_str()), ("codeship-steps.yml", steps), ("version.txt", "A\n")];
    let mut p = HookProject::start(&files, &[("web", "")], &[], &[]);
    let url = p.daemon.url("web.git");
    let a = sh(&p.work, &["rev-parse", "main"]);
    let b = p.push("main", &[("version.txt", "B\n")], "B");
    let b_body = push_at("main", &a, &b, "B", 1_765_000_000).to_string();
    let run_b = queued(&p.deliver("web", "push", b_body.as_bytes(), "d-b"));
    p.wait_status(&run_b, "success", Duration::from_secs(120));

    // B is main's head and nothing of it is queued or running: its delivery replayed under a
    // new id builds nothing.
    refused_as_replay(&p.deliver("web", "push", b_body.as_bytes(), "d-b-replayed"), &run_b);

    // A real force-push of main back to A (its `before` is B): a new push, built.
    sh(&p.work, &["push", "-q", "-f", &url, &format!("{a}:refs/heads/main")]);
    let back_body = push_at("main", &b, &a, "A", 1_765_000_100).to_string();
    let answer = p.deliver("web", "push", back_body.as_bytes(), "d-back");
    let run_back = queued(&answer);
    assert_eq!(answer.body["head_checked"], json!(true), "{:?}", answer.body);
    p.wait_status(&run_back, "success", Duration::from_secs(120));
    assert!(p.text(&format!("/api/runs/{run_back}/log")).contains("content=A"));
    refused_as_replay(&p.deliver("web", "push", back_body.as_bytes(), "d-back-replayed"), &run_back);

    // A to B again, as the first push did, but later (GitHub's `pushed_at`): built too.
    sh(&p.work, &["push", "-q", "-f", &url, &format!("{b}:refs/heads/main")]);
    let again =
        queued(&p.deliver("web", "push", push_at("main", &a, &b, "B", 1_765_000_200).to_string().as_bytes(), "d-b2"));
    p.wait_status(&again, "success", Duration::from_secs(120));
    assert!(p.text(&format!("/api/runs/{again}/log")).contains("content=B"));
    assert_eq!(p.get("/api/runs")["total"], json!(3));
}
