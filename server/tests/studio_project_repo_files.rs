//! `GET /api/projects/{name}/files` for a repository project (issue 20, item 4): the services
//! and steps files and build values of one commit, read from the server's mirror of the
//! repository without a checkout. A real repository served by `git daemon`, real pushes, and
//! GitHub push deliveries that make the server fetch its mirror (support/hook_project.rs).
//! The runs those deliveries queue are cancelled at once: only the mirror matters here.

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use hook_project::{API_TOKEN, Answer, HookProject, github_push, http, wait_for};
use serde_json::json;
use std::time::Duration;
use support::git::sh;

/// A project key (base64 of 32 bytes), committed to the repository as some teams do: it must
/// never be in an answer.
const KEY: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";
const SERVICES: &str = "app:\n  image: busybox\n";
const STEPS: &str = "- name: publish\n  type: push\n  service: app\n  image_name: acme/app\n  \
                     image_tag: \"{{ .Branch }}-{{ printf \\\"%.7s\\\" .CommitID }}\"\n  registry: registry.example.com\n";

fn files(p: &HookProject, project: &str) -> Answer {
    http(
        &p.url,
        "GET",
        &format!("/api/projects/{project}/files"),
        &[("Authorization", format!("Bearer {API_TOKEN}"))],
        b"",
    )
}

/// Deliver a push of `commit` on `branch` to `project`'s hook, cancel the run it queues, and
/// wait until the files answer is about `commit` (the delivery's head check fetched the mirror).
fn deliver(p: &HookProject, project: &str, branch: &str, before: &str, commit: &str, n: u32) -> Answer {
    let body = serde_json::to_vec(&github_push(branch, before, commit, "a push")).unwrap();
    let a = p.deliver(project, "push", &body, &format!("0000000{n}-2020-11ef-8000-000000000000"));
    assert_eq!(a.status, 202, "{:?}", a.body);
    if let Some(id) = a.body["id"].as_str() {
        p.post(&format!("/api/runs/{id}/cancel"));
    }
    wait_for("the files of the delivered commit", Duration::from_secs(60), || {
        let a = files(p, project);
        (a.body.to_string().contains(&commit[..7])).then_some(a)
    })
}

/// Commit a symbolic link `name` → `target` on `branch` of the work tree, and push it.
fn push_link(p: &HookProject, branch: &str, name: &str, target: &str) -> String {
    sh(&p.work, &["checkout", "-q", branch]);
    let path = p.work.join(name);
    let _ = std::fs::remove_file(&path);
    std::os::unix::fs::symlink(target, &path).unwrap();
    sh(&p.work, &["add", name]);
    sh(&p.work, &["commit", "-qm", &format!("{name} is a link to {target}")]);
    sh(&p.work, &["push", "-q", "-f", &p.daemon.url("web.git"), branch]);
    sh(&p.work, &["rev-parse", "HEAD"])
}

#[test]
fn a_repository_projects_files_come_from_its_mirror_and_never_its_key() {
    let mut p = HookProject::start(
        &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", STEPS), ("codeship.aes", KEY)],
        &[("web", ""), ("rel", "branches = [\"release/*\"]")],
        &[],
        &[],
    );
    // Before any fetch: a clear 409 that says when the files will be there.
    let a = files(&p, "web");
    assert_eq!(a.status, 409, "{:?}", a.body);
    let error = a.body["error"].as_str().unwrap();
    assert!(error.contains("has not fetched") && error.contains(&p.daemon.url("web.git")), "{error}");
    assert!(error.contains("webhook or poll"), "{error}");
    // Only registered names: nothing that looks like a path reaches the file system.
    for name in ["..%2F..%2Fetc%2Fpasswd", "%2E%2E", "web%2F..%2F..%2Fdata", "web.git"] {
        let a = files(&p, name);
        assert_eq!(a.status, 404, "{name}: {:?}", a.body);
    }

    // The first push: the default branch's head, with the commit's real values.
    let first = sh(&p.work, &["rev-parse", "HEAD"]);
    let a = deliver(&p, "web", "main", "0000000000000000000000000000000000000000", &first, 1);
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["project"], "web");
    assert_eq!(a.body["services"], json!({"name": "codeship-services.yml", "text": SERVICES}));
    assert_eq!(a.body["steps"], json!({"name": "codeship-steps.yml", "text": STEPS}));
    assert_eq!(
        a.body["build"],
        json!({"source": "git", "branch": "main", "commit_id": first, "commit_message": "the pipeline",
               "committer_name": "Ada Lovelace"})
    );
    assert!(!a.body.to_string().contains(KEY), "the key was sent: {:?}", a.body);

    // A steps file that is a link to the key: refused, and the key not in the refusal.
    let linked = push_link(&p, "main", "codeship-steps.yml", "codeship.aes");
    let a = deliver(&p, "web", "main", &first, &linked, 2);
    assert_eq!(a.status, 422, "{:?}", a.body);
    let error = a.body["error"].as_str().unwrap();
    assert!(error.contains("codeship-steps.yml") && error.contains("holds a project key"), "{error}");
    assert!(!a.body.to_string().contains(KEY), "the key was sent: {:?}", a.body);

    // Links out of the repository are not followed, whether relative or absolute: the file
    // beside the served repository stays unread.
    let outside = p.tmp.path().join("served/outside.txt");
    std::fs::write(&outside, "OUTSIDE-THE-REPOSITORY\n").unwrap();
    let mut before = linked;
    for (n, target) in [(3, "../outside.txt".to_string()), (4, outside.display().to_string())] {
        let commit = push_link(&p, "main", "codeship-steps.yml", &target);
        let a = deliver(&p, "web", "main", &before, &commit, n);
        assert_eq!(a.status, 422, "{target}: {:?}", a.body);
        let error = a.body["error"].as_str().unwrap();
        assert!(error.contains("outside the repository"), "{error}");
        assert!(!a.body.to_string().contains("OUTSIDE-THE-REPOSITORY"), "{:?}", a.body);
        before = commit;
    }

    // A link to another file of the commit is followed, as a checkout's would be.
    std::fs::create_dir_all(p.work.join("ci")).unwrap();
    std::fs::write(p.work.join("ci/steps.yml"), STEPS).unwrap();
    sh(&p.work, &["add", "ci/steps.yml"]);
    let commit = push_link(&p, "main", "codeship-steps.yml", "ci/steps.yml");
    let a = deliver(&p, "web", "main", &before, &commit, 5);
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["steps"], json!({"name": "codeship-steps.yml", "text": STEPS}));

    // A file over the 2 MiB a run reads is refused, not sent.
    let big = format!("# {}\n{STEPS}", "x".repeat(2 * 1024 * 1024));
    sh(&p.work, &["rm", "-q", "codeship-steps.yml"]);
    let huge = p.push("main", &[("codeship-steps.yml", &big)], "A big steps file");
    let a = deliver(&p, "web", "main", &commit, &huge, 6);
    assert_eq!(a.status, 422, "{:?}", a.body.to_string().get(..300));
    assert!(a.body["error"].as_str().unwrap().contains("over the limit"), "{:?}", a.body);

    // A project that builds release branches only is shown its newest one, not main.
    // (Both branch off the first commit, whose files are fine.)
    sh(&p.work, &["checkout", "-q", &first]);
    let r1 = p.push("release/1", &[("version.txt", "1\n")], "Release 1");
    std::thread::sleep(Duration::from_millis(1100)); // a later committer date
    sh(&p.work, &["checkout", "-q", &first]);
    let r2 = p.push("release/2", &[("version.txt", "2\n")], "Release 2");
    let a = deliver(&p, "rel", "release/2", &r1, &r2, 7);
    assert_eq!(a.status, 200, "{:?}", a.body.to_string().get(..300));
    assert_eq!((&a.body["build"]["branch"], &a.body["build"]["commit_id"]), (&json!("release/2"), &json!(r2)));
    assert_eq!(a.body["build"]["commit_message"], "Release 2");

    // Nothing of the key in the server's log either.
    assert!(!p.log().contains(KEY), "the key is in the server's log");
}
