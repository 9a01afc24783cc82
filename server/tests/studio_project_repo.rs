//! The studio on a repository project (issue 20, item 4): `#/projects/NAME` of a `[[project]]`
//! with a `repo` opens that repository's files and its commit's real build values, read by the
//! server from its mirror, so the preview's image tag is the one a build of that commit pushes;
//! before the server has fetched the repository the header says so. Real headless Chromium
//! against `slipway serve` (support/browser.rs), a real repository served by `git daemon` and
//! a GitHub push delivery that makes the server fetch it (support/hook_project.rs).

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use fantoccini::Locator;
use hook_project::{API_TOKEN, HookProject, github_push, http, wait_for};
use std::time::Duration;
use support::browser::*;
use support::git::sh;

const SERVICES: &str = "app:\n  image: busybox\n";
const STEPS: &str = "- name: publish\n  type: push\n  service: app\n  image_name: registry.example.com/acme/app\n  \
                     image_tag: \"{{ .Branch }}-{{ printf \\\"%.7s\\\" .CommitID }}\"\n  registry: registry.example.com\n";

async fn present(b: &Browser, testid: &str) -> bool {
    b.client.find(Locator::Css(&format!("[data-testid={testid}]"))).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_opens_a_repository_project_with_its_commits_values_and_tag() {
    let _serial = SERIAL.lock().await;
    // `first` comes first in the list: the address, not the default, picks `web`.
    let p = HookProject::start(
        &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", STEPS)],
        &[("first", ""), ("web", "")],
        &[],
        &[],
    );
    let b = Browser::start().await;
    let page = format!("{}#/projects/web", p.url);
    b.client.goto(&p.url).await.unwrap();
    b.js(&format!("sessionStorage.setItem('slipway.token', JSON.stringify('{API_TOKEN}'))")).await;
    b.open(&page).await;
    // Not fetched yet: the header says so, and when it will be.
    b.wait("the note that the repository is not fetched", Duration::from_secs(10), || async {
        b.texts("[data-testid=project-note]").await.first().is_some_and(|t| t.contains("has not fetched"))
    })
    .await;
    let note = b.texts("[data-testid=project-note]").await.remove(0);
    assert!(note.contains("webhook or poll"), "{note}");

    // A push delivered: the server fetches its mirror (the run it queues is cancelled).
    let commit = sh(&p.work, &["rev-parse", "HEAD"]);
    let body = serde_json::to_vec(&github_push("main", &"0".repeat(40), &commit, "the pipeline")).unwrap();
    let a = p.deliver("web", "push", &body, "5e7a1c00-2020-11ef-8000-000000000001");
    assert_eq!(a.status, 202, "{:?}", a.body);
    if let Some(id) = a.body["id"].as_str() {
        p.post(&format!("/api/runs/{id}/cancel"));
    }
    let auth = [("Authorization", format!("Bearer {API_TOKEN}"))];
    wait_for("the mirror", Duration::from_secs(60), || {
        (http(&p.url, "GET", "/api/projects/web/files", &auth, b"").status == 200).then_some(())
    });

    b.client.refresh().await.unwrap();
    b.open(&page).await;
    b.wait("the repository's files in the editors", Duration::from_secs(10), || async {
        b.editor_text("steps").await == STEPS
    })
    .await;
    assert_eq!(b.texts("[data-testid=project-name]").await, ["web"]);
    assert_eq!(b.editor_text("services").await, SERVICES);
    b.wait("the commit's values in the preview", Duration::from_secs(10), || async {
        b.value("commit-input").await == commit
    })
    .await;
    assert_eq!(b.value("branch-input").await, "main");
    assert_eq!(b.value("committer-input").await, "Ada Lovelace");
    assert_eq!(b.value("message-input").await, "the pipeline");
    assert_eq!(b.texts("[data-testid=project-commit]").await, [format!("main · {}", &commit[..7])]);
    let want = format!("registry.example.com/acme/app:main-{}", &commit[..7]);
    b.wait("the preview's tag", Duration::from_secs(10), || async {
        b.texts("[data-testid=tag-preview] li").await == [want.clone()]
    })
    .await;
    // Runs of a repository project start from its forge: the Run panel says so.
    b.wait("the Run panel's note", Duration::from_secs(5), || async { present(&b, "run-repo-note").await }).await;
    let disabled = b.js("return document.querySelector('[data-testid=run-start]').disabled").await;
    assert_eq!(disabled, serde_json::json!(true));
    b.close().await;
}
