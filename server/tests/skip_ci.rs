//! Issue 23, part 2: `[skip ci]`. A head commit whose message holds one of CodeShip's skip
//! directives starts no run: no record, no commit status; the webhook answer and the server's
//! log say why. The message is read from the commit object in the mirror, not from the
//! delivery; polling honours it too.
//!
//! No forge runs here (see `support/hook_project.rs`): the deliveries are GitHub's documented
//! `push` and `pull_request` payloads signed as GitHub signs them, the repository is served by
//! `git daemon` and pushed to for real, and a local HTTP receiver stands in for GitHub's status
//! API (so "no status" is what a real receiver did not get).

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use hook_project::{HookProject, github_pull_request, github_push, wait_for};
use serde_json::json;
use std::time::Duration;

const FILES: [(&str, &str); 2] = [
    ("codeship-services.yml", "app:\n  image: busybox\n"),
    ("codeship-steps.yml", "- service: app\n  command: 'true'\n"),
];

fn runs(p: &HookProject) -> serde_json::Value {
    p.get("/api/runs")
}

#[test]
fn a_skip_directive_in_the_head_commit_starts_no_run_and_sends_no_status() {
    let mut p = HookProject::start(&FILES, &[("web", "")], &[], &[]);
    let zero = "0000000000000000000000000000000000000000";

    // The commit and the delivery both say it.
    let a = p.push("main", &[("README", "docs\n")], "Update the docs [skip ci]");
    let answer = p.deliver(
        "web",
        "push",
        github_push("main", zero, &a, "Update the docs [skip ci]").to_string().as_bytes(),
        "d-a",
    );
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    assert_eq!((&answer.body["queued"], &answer.body["skipped"]), (&json!(false), &json!(true)), "{:?}", answer.body);
    let reason = answer.body["reason"].as_str().unwrap();
    assert!(reason.contains("`[skip ci]`") && reason.contains(&a[..12]), "{reason}");
    assert!(answer.body.get("id").is_none(), "a skipped push has no run: {:?}", answer.body);

    // The commit says `--ci-skip`, the delivery does not: the commit object decides.
    let b = p.push("main", &[("README", "more docs\n")], "Typos\n\nNothing to build here --ci-skip\n");
    let answer = p.deliver("web", "push", github_push("main", &a, &b, "Typos").to_string().as_bytes(), "d-b");
    assert_eq!(answer.body["skipped"], json!(true), "the commit's own message was not read: {:?}", answer.body);
    assert!(answer.body["reason"].as_str().unwrap().contains("`--ci-skip`"), "{:?}", answer.body);

    // A pull request's event carries no message: its head commit's is read.
    let c = p.push_to_ref("refs/pull/7/head", &[("x", "1\n")], "WIP [ci skip]");
    let pr = github_pull_request(7, "acme/web", "feature", &c).to_string();
    let answer = p.deliver("web", "pull_request", pr.as_bytes(), "d-c");
    assert_eq!(answer.body["skipped"], json!(true), "{:?}", answer.body);

    // A commit without a directive builds (the set-up does build), and gets its statuses.
    let d = p.push("main", &[("README", "code\n")], "Fix the build (skip-ci is not a directive)");
    let answer = p.deliver("web", "push", github_push("main", &b, &d, "Fix the build").to_string().as_bytes(), "d-d");
    assert_eq!(answer.body["queued"], json!(true), "{:?}", answer.body);
    wait_for("the built commit's pending status", Duration::from_secs(20), || {
        (!p.statuses(&d).is_empty()).then_some(())
    });
    // The statuses of one project go out in order: none came for the skipped commits.
    std::thread::sleep(Duration::from_millis(500));
    for skipped in [&a, &b, &c] {
        assert_eq!(p.statuses(skipped), Vec::<(String, String)>::new(), "a status for skipped {skipped}");
    }
    let list = runs(&p);
    assert_eq!(list["total"], json!(1), "only the built commit has a run: {list}");
    assert_eq!(list["runs"][0]["id"], answer.body["id"]);
    // The log says why, for each.
    let log = p.log();
    for (sha, directive) in [(&a, "[skip ci]"), (&b, "--ci-skip"), (&c, "[ci skip]")] {
        assert!(
            log.lines().any(|l| l.contains(&sha[..12]) && l.contains(&format!("`{directive}`"))),
            "the log does not say why {sha} was skipped:\n{log}"
        );
    }
}

#[test]
fn polling_skips_a_head_whose_commit_says_so() {
    let mut p = HookProject::start(&FILES, &[("web", "poll = \"1s\"")], &[], &[]);
    wait_for("the first poll", Duration::from_secs(30), || p.log().contains("first poll").then_some(()));
    let skipped = p.push("main", &[("README", "docs\n")], "Docs only [skip ci]");
    wait_for("the poll to see the skipped head", Duration::from_secs(30), || {
        p.log().lines().any(|l| l.contains(&skipped[..12]) && l.contains("`[skip ci]`")).then_some(())
    });
    assert_eq!(runs(&p)["total"], json!(0));
    // The next head builds: polling works, and the skipped head is not built later either.
    let built = p.push("main", &[("README", "code\n")], "Real work");
    let list = wait_for("the poll to build the next head", Duration::from_secs(30), || {
        let list = runs(&p);
        (list["total"] == json!(1)).then_some(list)
    });
    assert_eq!(list["runs"][0]["trigger"]["commit_id"], json!(built));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(runs(&p)["total"], json!(1), "{}", runs(&p));
    assert!(p.statuses(&skipped).is_empty());
}
