//! The studio on the project it serves: loading the project's files, and the token it asks for.
//! Real headless Chromium against `slipway serve` serving the built studio (support/browser.rs);
//! `cargo xtask test` builds the studio first, and these tests say so when it has not been built.

mod support;

use fantoccini::{Locator, key::Key};
use serde_json::{Value, json};
use std::time::Duration;
use support::browser::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_project_files_asks_then_replaces_the_editors_undoably_and_never_sends_the_key() {
    let _serial = SERIAL.lock().await;
    let (server, project) = with_sample_no_engine();
    // A key in the project folder must never leave the server.
    std::fs::write(project.path().join("codeship.aes"), "a-key-that-stays-on-the-server\n").unwrap();
    let sample_steps = std::fs::read_to_string(project.path().join("codeship-steps.yml")).unwrap();
    let sample_services = std::fs::read_to_string(project.path().join("codeship-services.yml")).unwrap();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;

    // The endpoint: behind the token, 404 for an unknown project, the two texts only.
    assert_eq!(b.xhr("GET", "/api/projects/sample/files", false, None).await.0, 401);
    let (status, body) = b.xhr("GET", "/api/projects/nope/files", true, None).await;
    assert_eq!((status, body.contains("no project `nope`")), (404, true), "{body}");
    let (status, body) = b.xhr("GET", "/api/projects/sample/files", true, None).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["steps"], json!({"name": "codeship-steps.yml", "text": sample_steps}));
    assert_eq!(v["services"]["text"], json!(sample_services));
    assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["project", "services", "steps"]);
    assert!(!body.contains("a-key-that-stays") && !body.contains(&project.path().display().to_string()), "{body}");

    let mine = "- name: mine\n  service: app\n  command: true\n";
    b.set_editor("steps", mine).await;
    // Asks first; declining keeps the edits.
    b.click("run-load-files").await;
    b.wait("the question", Duration::from_secs(5), || async { b.client.get_alert_text().await.is_ok() }).await;
    b.client.dismiss_alert().await.unwrap();
    assert_eq!(b.editor_text("steps").await, mine);
    b.click("run-load-files").await;
    b.wait("the question", Duration::from_secs(5), || async { b.client.get_alert_text().await.is_ok() }).await;
    b.client.accept_alert().await.unwrap();
    b.wait("the project's files in the editors", Duration::from_secs(5), || async {
        b.editor_text("steps").await == sample_steps && b.editor_text("services").await == sample_services
    })
    .await;
    assert!(b.texts("[data-testid=run-info]").await[0].contains("Loaded project sample's files"));
    // One change in each editor's history.
    b.type_in("steps", &format!("{}z{}", Key::Control, Key::Null)).await;
    assert_eq!(b.editor_text("steps").await, mine);
    b.close().await;
}

/// A refused token on "Load project files" brings the token field back, like any refusal;
/// a link opened with a stale token opens once the right one is entered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_asks_again_and_the_linked_run_opens_after_it() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = with_sample_no_engine();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    // A run to link to (cancelled at once: only its existence matters).
    let (status, created) = b.xhr("POST", "/api/runs", true, Some(r#"{"project":"sample"}"#)).await;
    assert_eq!(status, 202, "{created}");
    let id = serde_json::from_str::<Value>(&created).unwrap()["id"].as_str().unwrap().to_string();
    b.xhr("POST", &format!("/api/runs/{id}/cancel"), true, None).await;

    b.js("sessionStorage.setItem('slipway.token', JSON.stringify('stale-token'))").await;
    b.client.goto("about:blank").await.unwrap();
    b.open(&server.url).await;
    b.wait("the Run panel", Duration::from_secs(5), || async {
        b.client.find(Locator::Css("[data-testid=run-load-files]")).await.is_ok()
    })
    .await;
    b.click("run-load-files").await;
    b.wait("the token prompt after Load project files", Duration::from_secs(10), || async {
        b.client.find(Locator::Css("[data-testid=token-input]")).await.is_ok()
    })
    .await;

    b.js("sessionStorage.setItem('slipway.token', JSON.stringify('stale-token'))").await;
    b.client.goto("about:blank").await.unwrap();
    b.open(&format!("{}#/runs/{id}", server.url)).await;
    b.wait("the token prompt for the linked run", Duration::from_secs(10), || async {
        b.client.find(Locator::Css("[data-testid=token-input]")).await.is_ok()
    })
    .await;
    b.set_value("token-input", "studio-test-token").await;
    b.click("token-save").await;
    b.wait("the linked run, opened after the token", Duration::from_secs(20), || async {
        // Followed, so its end is known (a run shown but not followed stays `queued`).
        let (status, _, _) = b.run_snapshot().await;
        b.current_run_id().await == id && !["", "queued", "running"].contains(&status.as_str())
    })
    .await;
    b.close().await;
}
