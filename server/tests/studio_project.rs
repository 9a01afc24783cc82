//! The studio on the project it serves: the project it opens (the first, or the address's), its
//! name in the header, its files loaded unless the editors hold a draft, its commit's build
//! values in the preview, the token asked once per browser session; the example without one.
//! Real headless Chromium against `slipway serve` serving the built studio (support/browser.rs);
//! `cargo xtask test` builds the studio first, and these tests say so when it has not been built.

mod support;

use fantoccini::{Locator, key::Key};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Duration;
use support::browser::*;

const BETA_STEPS: &str = "- name: beta-only\n  service: app\n  command: echo beta\n";

/// Two folder projects: `alpha` (examples/sample) and `beta` (its own steps), in that order.
fn two_projects() -> (Server, tempfile::TempDir, tempfile::TempDir) {
    let alpha = sample_project();
    let beta = sample_project();
    std::fs::write(beta.path().join("codeship-steps.yml"), BETA_STEPS).unwrap();
    let args: Vec<String> = [("alpha", alpha.path()), ("beta", beta.path())]
        .iter()
        .flat_map(|(n, p)| ["--project".to_string(), format!("{n}={}", p.display())])
        .collect();
    (Server::start_with(&args), alpha, beta)
}

fn sample_steps() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample/codeship-steps.yml"))
        .unwrap()
}

fn example_steps() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/src/example/codeship-steps.yml"))
        .unwrap()
}

async fn wait_steps(b: &Browser, what: &str, want: &str) {
    b.wait(what, Duration::from_secs(10), || async { b.editor_text("steps").await == want }).await;
}

async fn present(b: &Browser, testid: &str) -> bool {
    b.client.find(Locator::Css(&format!("[data-testid={testid}]"))).await.is_ok()
}

async fn header_project(b: &Browser) -> String {
    b.texts("[data-testid=project-name]").await.first().cloned().unwrap_or_default()
}

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
    assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["build", "project", "services", "steps"]);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_with_projects_the_page_opens_the_first_project() {
    let _serial = SERIAL.lock().await;
    let (server, _alpha, _beta) = two_projects();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    wait_steps(&b, "alpha's files in the editors", &sample_steps()).await;
    // The Run panel starts on the same project.
    b.wait("the Run panel on alpha", Duration::from_secs(5), || async { b.value("run-project").await == "alpha" })
        .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_picks_another_project_and_switching_names_it_there() {
    let _serial = SERIAL.lock().await;
    let (server, _alpha, _beta) = two_projects();
    let b = Browser::start().await;
    b.client.goto(&server.url).await.unwrap();
    b.js("sessionStorage.setItem('slipway.token', JSON.stringify('studio-test-token'))").await;
    b.open(&format!("{}#/projects/beta", server.url)).await;
    wait_steps(&b, "beta's files in the editors", BETA_STEPS).await;
    assert_eq!(header_project(&b).await, "beta");
    b.wait("the Run panel on beta", Duration::from_secs(5), || async { b.value("run-project").await == "beta" }).await;
    // Switching in the header loads the other project and names it in the address.
    b.js("const s = document.querySelector('[data-testid=project-select]'); s.value = 'alpha'; \
          s.dispatchEvent(new Event('change', { bubbles: true }))")
        .await;
    wait_steps(&b, "alpha's files after the switch", &sample_steps()).await;
    let hash = b.js("return location.hash").await;
    assert_eq!(hash, json!("#/projects/alpha"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_asked_once_per_browser_session() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = with_sample_no_engine();
    let b = Browser::start().await;
    b.open(&server.url).await;
    b.wait("the header's token field", Duration::from_secs(10), || async { present(&b, "project-token-input").await })
        .await;
    assert_eq!(b.editor_text("steps").await, example_steps(), "no files without the token");
    b.set_value("project-token-input", "studio-test-token").await;
    b.click("project-token-save").await;
    wait_steps(&b, "the project's files after the token", &sample_steps()).await;
    // The Run panel has it too: no second field there.
    b.wait("the Run panel with the token", Duration::from_secs(5), || async { present(&b, "run-start").await }).await;
    assert!(!present(&b, "token-input").await, "the Run panel asked again");

    // A reload does not ask again.
    b.client.refresh().await.unwrap();
    b.open(&server.url).await;
    b.wait("the project opened after a reload", Duration::from_secs(10), || async {
        present(&b, "project-note").await
    })
    .await;
    assert!(!present(&b, "project-token-input").await && !present(&b, "token-input").await);

    // Nor does a second tab (its own session storage is empty: the first tab answers it).
    let first = b.client.window().await.unwrap();
    let tab = b.client.new_window(true).await.unwrap();
    b.client.switch_to_window(tab.handle).await.unwrap();
    // Same origin, before the studio runs: the new tab's session storage has no token.
    b.client.goto(&format!("{}/api/health", server.url)).await.unwrap();
    assert_eq!(b.js("return sessionStorage.getItem('slipway.token')").await, Value::Null);
    b.open(&server.url).await;
    // Opened with a token (the editors alone prove nothing: drafts are shared between tabs).
    b.wait("the project opened in a second tab", Duration::from_secs(10), || async {
        present(&b, "project-note").await
    })
    .await;
    b.wait("the second tab's Run panel with the token", Duration::from_secs(5), || async {
        present(&b, "run-start").await
    })
    .await;
    assert!(!present(&b, "project-token-input").await && !present(&b, "token-input").await);
    b.client.switch_to_window(first).await.unwrap();
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_asked_for_again_in_the_header() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = with_sample_no_engine();
    let b = Browser::start().await;
    b.client.goto(&server.url).await.unwrap();
    b.js("sessionStorage.setItem('slipway.token', JSON.stringify('stale-token'))").await;
    b.open(&server.url).await;
    b.wait("the refusal and the token field", Duration::from_secs(10), || async {
        present(&b, "project-token-refused").await && present(&b, "project-token-input").await
    })
    .await;
    assert_eq!(b.js("return sessionStorage.getItem('slipway.token')").await, Value::Null, "the refused token is kept");
    b.set_value("project-token-input", "studio-test-token").await;
    b.click("project-token-save").await;
    wait_steps(&b, "the project's files after the right token", &sample_steps()).await;
    assert!(!present(&b, "project-token-input").await);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_names_the_project() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = with_sample_no_engine();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    b.wait("the project's name in the header", Duration::from_secs(10), || async {
        header_project(&b).await == "sample"
    })
    .await;
    assert_eq!(b.js("return document.title").await, json!("sample · Slipway studio"));
    // One project: a name, not a list; a folder outside git says its values are examples.
    assert!(!present(&b, "project-select").await);
    b.wait("the note on build values", Duration::from_secs(5), || async {
        b.texts("[data-testid=project-note]").await.first().is_some_and(|t| t.contains("not a git checkout"))
    })
    .await;
    b.close().await;
}

/// The preview plans with the project's commit: its image tag is the one a server run of the
/// same commit pushes (read from the run's own plan, which its push step tags from).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_values_come_from_the_projects_commit_and_the_preview_tags_what_a_run_pushes() {
    let _serial = SERIAL.lock().await;
    support::env_up();
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("demo");
    std::fs::create_dir(&work).unwrap();
    support::git::sh(&work, &["init", "-q"]);
    let steps = "- name: publish\n  type: push\n  service: app\n  image_name: 127.0.0.1:5000/studio-project/app\n  \
                 image_tag: \"{{ .Branch }}-{{ printf \\\"%.7s\\\" .CommitID }}\"\n  registry: 127.0.0.1:5000\n";
    let commit = support::git::commit(
        &work,
        &[("codeship-services.yml", BUSYBOX_SERVICES), ("codeship-steps.yml", steps)],
        "Ship the demo",
    );
    let server = Server::start_with(&["--project".into(), format!("demo={}", work.display())]);
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    b.wait("the commit's values in the preview", Duration::from_secs(10), || async {
        b.value("commit-input").await == commit
    })
    .await;
    assert_eq!(b.value("branch-input").await, "main");
    assert_eq!(b.value("committer-input").await, "Ada Lovelace");
    assert_eq!(b.value("message-input").await, "Ship the demo");
    assert_eq!(b.texts("[data-testid=project-commit]").await, [format!("main · {}", &commit[..7])]);
    let want = format!("127.0.0.1:5000/studio-project/app:main-{}", &commit[..7]);
    b.wait("the preview's tag", Duration::from_secs(10), || async {
        b.texts("[data-testid=tag-preview] li").await == [want.clone()]
    })
    .await;

    // A run of the project from the page, with push: its plan's push is tagged the same.
    b.click("run-start").await;
    b.wait("the run's push tag", Duration::from_secs(60), || async {
        b.texts("[data-testid=run-graph] li[data-step-name=publish] .what").await == [format!("push {want}")]
    })
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pristine_editor_loads_the_project_but_a_draft_is_kept_and_offered() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = with_sample_no_engine();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    wait_steps(&b, "the project's files in the pristine editors", &sample_steps()).await;
    assert!(!present(&b, "project-offer").await);

    // A draft survives a reload: kept, and the project's files offered.
    let mine = "- name: mine\n  service: app\n  command: true\n";
    b.set_editor("steps", mine).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.client.refresh().await.unwrap();
    b.open(&server.url).await;
    b.wait("the offer", Duration::from_secs(10), || async { present(&b, "project-offer").await }).await;
    assert_eq!(b.editor_text("steps").await, mine);
    // Asks first; declining keeps the draft; accepting loads, undoably.
    b.click("project-load-offered").await;
    b.wait("the question", Duration::from_secs(5), || async { b.client.get_alert_text().await.is_ok() }).await;
    b.client.dismiss_alert().await.unwrap();
    assert_eq!(b.editor_text("steps").await, mine);
    b.click("project-load-offered").await;
    b.wait("the question", Duration::from_secs(5), || async { b.client.get_alert_text().await.is_ok() }).await;
    b.client.accept_alert().await.unwrap();
    wait_steps(&b, "the project's files", &sample_steps()).await;
    assert!(!present(&b, "project-offer").await);
    b.type_in("steps", &format!("{}z{}", Key::Control, Key::Null)).await;
    assert_eq!(b.editor_text("steps").await, mine);
    b.close().await;
}

/// `dist/` served by a plain file server (no run API): a static page, as a CDN would serve it.
/// A stand-in for any static host; the studio's files are the built ones.
fn static_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let dist = dist.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                let mut reader = BufReader::new(&stream);
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                while let Ok(n) = reader.read_line(&mut String::new()) {
                    if n <= 2 {
                        break;
                    }
                }
                let path = line.split(' ').nth(1).unwrap_or("/").split(['?', '#']).next().unwrap_or("/").to_string();
                let rel = if path == "/" { "index.html".to_string() } else { path.trim_start_matches('/').to_string() };
                let file = (!rel.contains("..")).then(|| std::fs::read(dist.join(&rel)).ok()).flatten();
                let mut s = &stream;
                let _ = match file {
                    Some(body) => {
                        let kind = match rel.rsplit('.').next() {
                            Some("wasm") => "application/wasm",
                            Some("js") => "text/javascript",
                            Some("css") => "text/css",
                            _ => "text/html",
                        };
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        s.write_all(head.as_bytes()).and_then(|_| s.write_all(&body))
                    }
                    None => s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                };
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_projects_or_without_a_server_the_page_keeps_the_example() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    for url in [server.url.clone(), static_server()] {
        b.client.goto(&url).await.unwrap();
        b.js("sessionStorage.setItem('slipway.token', JSON.stringify('studio-test-token'))").await;
        b.open(&url).await;
        b.wait("the Run panel's verdict", Duration::from_secs(10), || async { present(&b, "run-unavailable").await })
            .await;
        assert_eq!(b.editor_text("steps").await, example_steps(), "{url}");
        assert!(!present(&b, "project-bar").await, "{url}");
        b.wait("the example's tag", Duration::from_secs(10), || async {
            b.texts("[data-testid=tag-preview] li").await.iter().any(|t| t.contains("registry.example.com/acme/app"))
        })
        .await;
    }
    b.close().await;
}
