//! Issue 19, finding 7: a captured signed delivery, replayed with a new `X-GitHub-Delivery` id
//! (the id is not signed), re-ran an old commit and cancelled the newest run of `main`. Now a
//! push that queued a run before builds nothing again (push_replays.rs), and a delivery whose
//! commit is no longer its ref's head after the mirror's fetch does not run (late), whatever its
//! delivery id, cancels nothing and sends no commit status; a second delivery of the head under
//! a new id leaves the run building it alone.
//!
//! No forge runs here (see `support/hook_project.rs`): the deliveries are GitHub's documented
//! `push` payloads signed as GitHub signs them, the repository is served by `git daemon` and
//! pushed to for real, and a local receiver stands in for the status API. Runs use the real
//! Docker engine (tests/env/up.sh).
//!
//! Review of 2026-12-07 (attack a2): a Gitea or Forgejo tag push names the annotated tag's
//! object as `after`, with no `head_commit`. The run's checkout replaced its commit id with the
//! commit the tag points to, so a replay of the delivery (its tag object id) matched no run and
//! released again, each time. The tag object's id is kept with the run and matched too. (The
//! Gitea payload is built from Gitea's webhook docs, signed as Gitea signs it.)

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use hook_project::{HookProject, docker, gitea_tag_push, github_push, wait_for};
use serde_json::json;
use std::time::Duration;
use support::git::sh;

const STEPS: &str = "- name: slow\n  service: app\n  command: sh -c 'echo \"content=$(cat /code/version.txt)\"; sleep $(cat /code/delay)'\n";

#[test]
fn a_replayed_delivery_of_an_old_commit_runs_nothing_and_cancels_nothing() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let base = support::base_image();
    let services = format!("app:\n  image: {base}\n  volumes:\n    - ./:/code\n");
    let files = [("codeship-services.yml", services.as_str()), ("codeship-steps.yml", STEPS), ("version.txt", "0\n")];
    let mut p = HookProject::start(&files, &[("web", "")], &[], &["--max-concurrent-runs", "2"]);
    // A, delivered and built; then B and C, C still running.
    let zero = "0000000000000000000000000000000000000000";
    let a = p.push("main", &[("version.txt", "A\n"), ("delay", "0\n")], "A");
    let a_body = github_push("main", zero, &a, "A").to_string();
    let answer = p.deliver("web", "push", a_body.as_bytes(), "d-a");
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    let run_a = answer.body["id"].as_str().unwrap().to_string();
    p.wait_status(&run_a, "success", Duration::from_secs(120));
    let b = p.push("main", &[("version.txt", "B\n")], "B");
    let run_b = p.deliver("web", "push", github_push("main", &a, &b, "B").to_string().as_bytes(), "d-b");
    p.wait_status(run_b.body["id"].as_str().unwrap(), "success", Duration::from_secs(120));
    let c = p.push("main", &[("version.txt", "C\n"), ("delay", "120\n")], "C");
    let c_body = github_push("main", &b, &c, "C").to_string();
    let answer = p.deliver("web", "push", c_body.as_bytes(), "d-c");
    let run_c = answer.body["id"].as_str().unwrap().to_string();
    p.step_running(&run_c);
    let a_statuses = wait_for("A's statuses", Duration::from_secs(20), || {
        let s = p.statuses(&a);
        (s.len() == 3).then_some(s)
    });

    // The attacker replays A's delivery, byte for byte (signature included), with a new id:
    // the server knows the push (see push_replays.rs) and queues nothing.
    let replay = p.deliver("web", "push", a_body.as_bytes(), "d-a-replayed-9f1e");
    assert_eq!(
        (replay.status, &replay.body["replayed"], &replay.body["id"]),
        (200, &json!(true), &json!(run_a)),
        "{:?}",
        replay.body
    );
    // A delivery of A the server has not had (a forge's late one, or a replay whose record
    // was forgotten: another push time): the head check finds main at C.
    let mut unseen = github_push("main", zero, &a, "A");
    unseen["repository"]["pushed_at"] = json!(1_765_000_000);
    let replay = p.deliver("web", "push", unseen.to_string().as_bytes(), "d-a-late-9f1e");
    assert_eq!(replay.status, 202, "{:?}", replay.body);
    assert_eq!(replay.body["late"], json!(true), "{:?}", replay.body);
    assert_eq!(replay.body["superseded"], json!([]), "{:?}", replay.body);
    let reason = replay.body["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("refs/heads/main is at {}", &c[..12])), "{reason}");
    // Its run never started a step, and says why; C goes on.
    let replayed = replay.body["id"].as_str().unwrap().to_string();
    let r = p.wait_status(&replayed, "cancelled", Duration::from_secs(30));
    // (The scheduler may have given it a slot while the fetch went on: its checkout waited.)
    assert!(r["steps"].as_array().is_none_or(|s| s.is_empty()), "{r}");
    assert!(r["error"].as_str().unwrap().contains("older commit"), "{r}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(p.get(&format!("/api/runs/{run_c}"))["status"], "running");
    // The old commit's status on the forge is left as it was.
    assert_eq!(p.statuses(&a), a_statuses, "the replay changed the old commit's status");

    // C's own delivery again under a new id: C is building that commit already.
    let again = p.deliver("web", "push", c_body.as_bytes(), "d-c-replayed-77aa");
    assert_eq!((again.status, &again.body["duplicate"], &again.body["id"]), (200, &json!(true), &json!(run_c)));
    assert_eq!(p.get(&format!("/api/runs/{run_c}"))["status"], "running");

    // In order, a newer push still supersedes the running one (the head check is not all-or-nothing).
    let d = p.push("main", &[("version.txt", "D\n"), ("delay", "0\n")], "D");
    let answer = p.deliver("web", "push", github_push("main", &c, &d, "D").to_string().as_bytes(), "d-d");
    assert_eq!(answer.body["superseded"], json!([run_c]), "{:?}", answer.body);
    assert_eq!(answer.body["head_checked"], json!(true), "{:?}", answer.body);
    p.wait_status(&run_c, "cancelled", Duration::from_secs(60));
    let run_d = answer.body["id"].as_str().unwrap().to_string();
    p.wait_status(&run_d, "success", Duration::from_secs(120));
    let log = p.text(&format!("/api/runs/{run_d}/log"));
    assert!(log.lines().any(|l| l.trim_end().ends_with("content=D")), "{log}");
}

#[test]
fn a_replayed_annotated_tag_delivery_does_not_release_again() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let base = support::base_image();
    let services = format!("app:\n  image: {base}\n");
    let steps =
        "- name: release\n  service: app\n  tag: ^v\n  command: sh -c 'echo DEPLOYING $CI_BRANCH $CI_COMMIT_ID'\n";
    let files = [("codeship-services.yml", services.as_str()), ("codeship-steps.yml", steps)];
    let p = HookProject::start_on("gitea", &files, &[("web", "")], &[], &[]);
    sh(&p.work, &["tag", "-a", "v1", "-m", "release 1"]);
    sh(&p.work, &["push", "-q", &p.daemon.url("web.git"), "v1"]);
    let (tag_object, commit) = (sh(&p.work, &["rev-parse", "v1"]), sh(&p.work, &["rev-parse", "v1^{commit}"]));
    assert_ne!(tag_object, commit, "an annotated tag");
    let body = gitea_tag_push("v1", &tag_object).to_string();
    let first = p.deliver("web", "push", body.as_bytes(), "tag-v1");
    assert_eq!((first.status, &first.body["queued"]), (202, &json!(true)), "{:?}", first.body);
    let run = first.body["id"].as_str().unwrap().to_string();
    let ended = p.wait_status(&run, "success", Duration::from_secs(120));
    assert_eq!(ended["trigger"]["commit_id"], json!(commit), "the checkout names the tagged commit: {ended}");
    let log = p.text(&format!("/api/runs/{run}/log"));
    assert!(log.contains(&format!("DEPLOYING v1 {commit}")), "{log}");

    // The same signed delivery again, under new ids: the release ran already.
    for i in 0..2 {
        let again = p.deliver("web", "push", body.as_bytes(), &format!("tag-v1-replayed-{i}"));
        assert_eq!(
            (again.status, &again.body["duplicate"], &again.body["id"]),
            (200, &json!(true), &json!(run)),
            "replay {i} released again: {:?}",
            again.body
        );
    }
    assert_eq!(p.get("/api/runs")["total"], json!(1));
}
