//! Issue 19: a webhook's commit link is shown (the studio's Run panel makes it a link) only
//! when it points at the repository's own host. Before, any signed delivery could make the
//! panel link to any https site.
//!
//! No forge runs here (see `support/hook_project.rs`): GitHub `push` deliveries as its
//! documentation shows them, signed as GitHub signs them; the repository is served by
//! `git daemon` on 127.0.0.1. Only the recorded trigger is looked at (no Docker needed).

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use hook_project::{HookProject, github_push};
use serde_json::Value;

#[test]
fn a_commit_link_is_kept_only_when_it_points_at_the_repositorys_host() {
    let files = [
        ("codeship-services.yml", "app:\n  image: busybox\n"),
        ("codeship-steps.yml", "- service: app\n  command: 'true'\n"),
    ];
    let mut p = HookProject::start(&files, &[("web", "")], &[], &[]);
    let zero = "0000000000000000000000000000000000000000";
    let mut link = |url: &str, n: u32| -> Value {
        let sha = p.push("main", &[("version.txt", &format!("{n}\n"))], "x");
        let mut body = github_push("main", zero, &sha, "x");
        body["head_commit"]["url"] = Value::String(url.replace("SHA", &sha));
        let body = body.to_string();
        let a = p.deliver("web", "push", body.as_bytes(), &format!("link-{n}"));
        assert_eq!(a.status, 202, "{:?}", a.body);
        let id = a.body["id"].as_str().unwrap().to_string();
        p.get(&format!("/api/runs/{id}"))["trigger"]["commit_url"].clone()
    };
    assert_eq!(link("https://evil.example/acme/web/commit/SHA", 1), Value::Null);
    assert_eq!(link("https://127.0.0.1.evil.example/acme/web/commit/SHA", 2), Value::Null);
    assert_eq!(link("https://127.0.0.1@evil.example/acme/web/commit/SHA", 3), Value::Null);
    let own = link("http://127.0.0.1:3000/acme/web/commit/SHA", 4);
    assert!(own.as_str().is_some_and(|u| u.starts_with("http://127.0.0.1:3000/acme/web/commit/")), "{own}");
}
