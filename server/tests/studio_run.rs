//! The studio's Run panel end to end: runs started in the page, their live logs and graph,
//! cancel, approval, reruns, links to runs and the run list.
//! Real headless Chromium against `slipway serve` serving the built studio (support/browser.rs);
//! `cargo xtask test` builds the studio first, and these tests say so when it has not been built.

mod support;

use fantoccini::{Locator, key::Key};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::browser::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_in_the_studio_streams_its_log_live_and_the_graph_turns_green() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.open(&server.url).await;

    // The panel asks for the token once; it goes to session storage, nowhere else.
    b.wait("the token prompt", Duration::from_secs(5), || async {
        b.client.find(Locator::Css("[data-testid=token-input]")).await.is_ok()
    })
    .await;
    // A wrong token is refused with a message that says what to do, and forgotten.
    b.set_value("token-input", "not-the-token").await;
    b.client.find(Locator::Css("[data-testid=token-save]")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("[data-testid=run-start]")).await.unwrap().click().await.unwrap();
    b.wait("the refusal", Duration::from_secs(5), || async {
        b.texts("[data-testid=run-message]").await.first().is_some_and(|m| m.contains("refused the token"))
    })
    .await;
    assert_eq!(b.js("return sessionStorage.getItem('slipway.token')").await, Value::Null);
    b.set_value("token-input", "studio-test-token").await;
    b.client.find(Locator::Css("[data-testid=token-save]")).await.unwrap().click().await.unwrap();
    let stored = b
        .js("return [JSON.parse(sessionStorage.getItem('slipway.token')), \
             Object.keys(localStorage).some(k => (localStorage.getItem(k) || '').includes('studio-test-token'))]")
        .await;
    assert_eq!(stored, json!(["studio-test-token", false]));
    assert_eq!(b.attr_list("[data-testid=run-project] option", "value").await, ["sample"]);

    b.set_value("run-branch", "main").await;
    b.client.find(Locator::Css("[data-testid=run-start]")).await.unwrap().click().await.unwrap();
    let snapshot = || b.run_snapshot();

    // Live: the first line of `unit` shows while the run is still going and before its last
    // line was even written (the step prints one line every 0.5 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    let live = loop {
        let s = snapshot().await;
        if s.1.contains("unit | unit test 1 ok") {
            break s;
        }
        assert!(Instant::now() < deadline, "no log line of `unit` after 60 s: {s:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let (status, text, graph) = live;
    assert_eq!(status, "running", "the run had already ended when its first line arrived: {text}");
    assert!(!text.contains("unit test 6 ok"), "all lines arrived at once, not live: {text}");
    assert!(graph.contains(&"unit=running".to_string()), "graph while running: {graph:?}");
    assert!(graph.contains(&"package=pending".to_string()), "graph while running: {graph:?}");

    // The manual group waits for approval, shown in the graph, until Approve is pressed.
    b.wait("the release to wait for approval", Duration::from_secs(60), || async {
        snapshot().await.2.contains(&"release=waiting".to_string())
    })
    .await;
    let (status, _, graph) = snapshot().await;
    assert_eq!(status, "running");
    assert!(
        graph.contains(&"package=success".to_string()) && graph.contains(&"announce=pending".to_string()),
        "{graph:?}"
    );
    b.client.find(Locator::Css("[data-testid=run-approve]")).await.unwrap().click().await.unwrap();

    b.wait("the run to succeed", Duration::from_secs(60), || async { snapshot().await.0 == "success" }).await;
    let (_, text, graph) = snapshot().await;
    assert_eq!(
        graph,
        ["checks=success", "lint=success", "unit=success", "package=success", "release=success", "announce=success"]
    );
    for line in ["lint | lint pass 3", "unit | unit test 6 ok", "package | packaged build", "announce | released"] {
        assert!(text.contains(line), "log lacks {line:?}: {text}");
    }
    // Green, as drawn.
    let colour = b
        .js("return getComputedStyle(document.querySelector('[data-testid=run-graph] [data-step-name=unit] > .name')).backgroundColor")
        .await;
    assert_eq!(colour, json!("rgb(47, 107, 58)"));

    // The full log comes from the server, as the CLI prints it. (The download's Blob is caught
    // on its way to the page's anchor, since headless Chromium saves no files.)
    b.js("window.caught = ''; const orig = URL.createObjectURL; \
          URL.createObjectURL = blob => { blob.text().then(t => window.caught = t); return orig(blob); }")
        .await;
    b.click("run-download").await;
    let caught = || async { b.js("return window.caught").await.as_str().unwrap_or("").to_string() };
    b.wait("the downloaded log", Duration::from_secs(5), || async { !caught().await.is_empty() }).await;
    let downloaded = caught().await;
    assert!(downloaded.contains("(step: unit) (service: app) unit test 6 ok\n"), "{downloaded}");
    assert!(downloaded.ends_with("slipway: run success\n"), "{downloaded}");

    // One step's log: pick it in the graph, from the keyboard (nodes are buttons).
    b.client
        .find(Locator::Css("[data-testid=run-graph] [data-step-name=lint] > .name"))
        .await
        .unwrap()
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    b.wait("lint's own log", Duration::from_secs(2), || async {
        let t = snapshot().await.1;
        // Each line starts with its time (`15:04:05 `).
        t.get(9..).is_some_and(|l| l.starts_with("lint pass 1")) && !t.contains("unit test")
    })
    .await;

    b.js("document.querySelector('[data-testid=run-panel]').scrollIntoView()").await;
    let panel = b.client.find(Locator::Css("[data-testid=run-panel]")).await.unwrap();
    save_screenshot("studio-run.png", &panel.screenshot().await.unwrap());

    // The history lists the run as a success.
    let id = b.attr_list("[data-testid=run-current]", "data-run-id").await.remove(0);
    b.wait("the run in the history", Duration::from_secs(5), || async {
        b.texts(&format!("[data-testid=run-history] tr[data-run-id=\"{id}\"] .badge")).await == ["success"]
    })
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_in_the_studio_stops_a_run_waiting_for_approval() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    // A token already in the tab's session storage is used without asking.
    b.open_with_token(&server.url).await;
    assert!(b.client.find(Locator::Css("[data-testid=token-input]")).await.is_err(), "asked for the token again");
    b.click("run-start").await;
    b.wait("the release to wait for approval", Duration::from_secs(60), || async {
        b.run_snapshot().await.2.contains(&"release=waiting".to_string())
    })
    .await;
    // Cancel asks first (studio_run_panel.rs tests the question): yes.
    b.js("window.confirm = () => true").await;
    b.click("run-cancel").await;
    b.wait("the run to be cancelled", Duration::from_secs(30), || async { b.run_snapshot().await.0 == "cancelled" })
        .await;
    let (_, text, graph) = b.run_snapshot().await;
    assert!(graph.contains(&"announce=skipped".to_string()), "{graph:?}");
    assert!(!text.contains("released"), "the manual step ran: {text}");
    // Neither Approve nor Cancel is offered for an ended run.
    for gone in ["run-approve", "run-cancel"] {
        assert!(b.client.find(Locator::Css(&format!("[data-testid={gone}]"))).await.is_err(), "{gone} still shown");
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_reconnects_after_a_server_crash_and_shows_the_run_interrupted() {
    let _serial = SERIAL.lock().await;
    let (mut server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    b.click("run-start").await;
    b.wait("`unit` to be running with output", Duration::from_secs(60), || async {
        let (_, text, graph) = b.run_snapshot().await;
        graph.contains(&"unit=running".to_string()) && text.contains("unit test 1 ok")
    })
    .await;
    server.restart();
    // The page reconnects, gets the rest of the events (the restarted server ends the run as
    // interrupted) and shows the end, without repeating what it already had.
    b.wait("the run to show as interrupted", Duration::from_secs(30), || async {
        b.run_snapshot().await.0 == "interrupted"
    })
    .await;
    let (_, text, _) = b.run_snapshot().await;
    assert_eq!(text.matches("unit test 1 ok").count(), 1, "{text}");
    assert!(!text.contains("announce |"), "{text}");
    b.close().await;
}

/// The Run button reads the editors' files as they are when it is clicked. Here the edit, the
/// tick and the click happen in one task, so the page cannot render in between: the button
/// used to send the files of the previous render (the sample's, which are valid).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_button_reads_the_files_as_they_are_at_the_click() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    b.js(r#"
        window.slipwayStudio.setText("steps", "- name: edited\n  service: nope\n  command: echo from-the-editor\n");
        document.querySelector('[data-testid=run-edits]').click();
        document.querySelector('[data-testid=run-start]').click();
    "#)
        .await;
    b.wait("the refusal to run files with errors", Duration::from_secs(15), || async {
        b.texts("[data-testid=run-message]").await.first().is_some_and(|m| m.contains("1 error(s)"))
    })
    .await;
    assert!(b.client.find(Locator::Css("[data-testid=run-current]")).await.is_err(), "a run started anyway");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_can_use_the_editors_files_once_they_are_valid() {
    let _serial = SERIAL.lock().await;
    let (server, project) = Server::with_sample();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    b.set_editor("services", "app:\n  image: slipway-test/busybox:latest\n").await;
    b.set_editor("steps", "- name: edited\n  service: nope\n  command: echo from-the-editor\n").await;
    // As a person would: once the page shows the error. Clicking within the same frame as the
    // edit raced the re-render on a loaded machine (the click saw the previous files).
    b.wait("the error to show", Duration::from_secs(15), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.contains(&"SW102".to_string())
    })
    .await;
    b.click("run-edits").await;
    b.click("run-start").await;
    b.wait("the refusal to run files with errors", Duration::from_secs(15), || async {
        b.texts("[data-testid=run-message]").await.first().is_some_and(|m| m.contains("1 error(s)"))
    })
    .await;
    assert!(b.client.find(Locator::Css("[data-testid=run-current]")).await.is_err(), "a run started anyway");

    b.set_editor("steps", "- name: edited\n  service: app\n  command: echo from-the-editor\n").await;
    b.wait("a clean check", Duration::from_secs(5), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.is_empty()
    })
    .await;
    b.click("run-start").await;
    b.wait("the edited run to succeed", Duration::from_secs(60), || async { b.run_snapshot().await.0 == "success" })
        .await;
    let (_, text, graph) = b.run_snapshot().await;
    assert_eq!(graph, ["edited=success"]);
    assert!(text.contains("edited | from-the-editor"), "{text}");
    // For that run only: the project's own files are untouched.
    let steps = std::fs::read_to_string(project.path().join("codeship-steps.yml")).unwrap();
    assert!(steps.contains("name: checks") && !steps.contains("from-the-editor"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_and_the_run_panel_share_one_branch_and_push() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = with_sample_no_engine();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    assert_eq!(b.value("run-branch").await, b.value("branch-input").await);
    b.set_value("branch-input", "feature/x").await;
    b.wait("the Run panel to follow the preview", Duration::from_secs(5), || async {
        b.value("run-branch").await == "feature/x"
    })
    .await;
    b.set_value("run-branch", "main").await;
    b.wait("the preview to follow the Run panel", Duration::from_secs(5), || async {
        b.value("branch-input").await == "main"
    })
    .await;
    let checked = "return ['push-toggle', 'run-push'].map(t => document.querySelector(`[data-testid=${t}]`).checked)";
    let before = b.js(checked).await;
    b.click("run-push").await;
    b.wait("one push toggle for both", Duration::from_secs(5), || async {
        let now = b.js(checked).await;
        now[0] == now[1] && now != before
    })
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_for_editor_errors_leads_to_the_first_error() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = with_sample_no_engine();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    let steps = "- name: ok\n  service: app\n  command: true\n- name: edited\n  service: nope\n  command: echo hi\n";
    b.set_editor("services", BUSYBOX_SERVICES).await;
    b.set_editor("steps", steps).await;
    b.wait("the error to show", Duration::from_secs(15), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.contains(&"SW102".to_string())
    })
    .await;
    b.click("run-edits").await;
    b.click("run-start").await;
    b.wait("the refusal", Duration::from_secs(15), || async {
        b.texts("[data-testid=run-message]").await.first().is_some_and(|m| m.contains("1 error(s)"))
    })
    .await;
    // The way to the error has the keyboard: Enter goes there.
    b.wait("focus on the way to the error", Duration::from_secs(5), || async {
        b.js("return document.activeElement.dataset.testid").await == json!("run-goto-error")
    })
    .await;
    assert!(b.texts("[data-testid=run-goto-error]").await[0].contains("codeship-steps.yml line 5"));
    b.client.active_element().await.unwrap().send_keys(&Key::Enter.to_string()).await.unwrap();
    let nope = steps.find("nope").unwrap() as u64;
    b.wait("the cursor at the error, in the steps editor", Duration::from_secs(5), || async {
        b.cursor("steps").await == json!([nope, true])
    })
    .await;
    b.close().await;
}

/// At 800 px the page is much taller than the window: the header's link reaches the Run
/// panel, and a run's graph and log come into view when Run is pressed. In the graph, the
/// three parallel checks share one row and the serial step after them has its own below
/// (the third check used to wrap onto a row of its own, as if it ran after the others).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_800_px_the_run_comes_into_view_and_parallel_steps_share_a_row() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.client.set_window_size(800, 700).await.unwrap();
    b.open_with_token(&server.url).await;
    let (top, _, height) = b.rect("[data-testid=run-panel]").await;
    assert!(top > height, "the Run panel is not below the fold at 800 px ({top} of {height}): test the wrong thing");
    b.click("nav-run").await;
    b.wait("the Run panel in view", Duration::from_secs(5), || async {
        let (top, _, height) = b.rect("[data-testid=run-panel]").await;
        (-2.0..height / 2.0).contains(&top)
    })
    .await;

    let steps = concat!(
        "- name: checks\n  type: parallel\n  steps:\n",
        "  - name: lint\n    service: app\n    command: sh -c 'echo linting the whole tree; sleep 0.2'\n",
        "  - name: unit\n    service: app\n    command: sh -c 'echo running the unit tests; sleep 0.2'\n",
        "  - name: integration\n    service: app\n    command: sh -c 'echo running the integration tests; sleep 0.2'\n",
        "- name: package\n  service: app\n  command: echo packaged\n",
    );
    run_edited(&b, BUSYBOX_SERVICES, steps).await;
    b.wait("the run's graph and log in view", Duration::from_secs(30), || async {
        if b.client.find(Locator::Css("[data-testid=run-graph] [data-step-name=package]")).await.is_err() {
            return false;
        }
        let (top, _, height) = b.rect("[data-testid=run-current]").await;
        let (log_top, _, _) = b.rect("[data-testid=run-log]").await;
        (-2.0..60.0).contains(&top) && log_top < height
    })
    .await;
    b.wait("the run to succeed", Duration::from_secs(60), || async { b.run_snapshot().await.0 == "success" }).await;
    let node = |name: &str| format!("[data-testid=run-graph] [data-step-name={name}] > .name");
    let (lint, unit) = (b.rect(&node("lint")).await, b.rect(&node("unit")).await);
    let (integration, package) = (b.rect(&node("integration")).await, b.rect(&node("package")).await);
    assert!((lint.0 - unit.0).abs() < 1.0 && (lint.0 - integration.0).abs() < 1.0, "{lint:?} {unit:?} {integration:?}");
    assert!(package.0 >= lint.1.max(unit.1).max(integration.1), "package is not below the checks: {package:?}");
    // Nothing in the panel is wider than the window.
    let wide =
        b.js("const p = document.querySelector('[data-testid=run-panel]'); return p.scrollWidth - p.clientWidth").await;
    assert!(wide.as_f64().unwrap() <= 0.0, "the Run panel scrolls sideways by {wide}");
    save_screenshot("studio-run-800.png", &b.client.screenshot().await.unwrap());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_show_their_durations_lines_their_times_and_rerun_asks_the_server_to_rerun() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    run_edited(&b, BUSYBOX_SERVICES, "- name: hello\n  service: app\n  command: sh -c 'echo hi; sleep 0.3'\n").await;
    b.wait("the run to succeed", Duration::from_secs(60), || async { b.run_snapshot().await.0 == "success" }).await;
    let first = b.current_run_id().await;
    let took = b.texts("[data-testid=run-graph] [data-step-name=hello] [data-testid=step-duration]").await;
    let ms = |t: &str| -> Option<f64> {
        let (n, unit) = t.split_once(' ')?;
        Some(
            n.parse::<f64>().ok()?
                * if unit == "s" {
                    1000.0
                } else if unit == "ms" {
                    1.0
                } else {
                    return None;
                },
        )
    };
    // The step sleeps 0.3 s.
    assert!(took.len() == 1 && ms(&took[0]).is_some_and(|ms| ms >= 300.0), "{took:?}");
    let log = b.run_snapshot().await.1;
    let line = log.lines().find(|l| l.ends_with("hello | hi")).unwrap_or_else(|| panic!("{log}"));
    let time = &line[..8];
    assert!(
        time.len() == 8
            && time.bytes().enumerate().all(|(i, c)| if i % 3 == 2 { c == b':' } else { c.is_ascii_digit() }),
        "no time before the line: {line:?}"
    );
    assert_eq!(b.js("return location.hash").await, json!(format!("#/runs/{first}")));

    b.click("run-rerun").await;
    b.wait("a second run", Duration::from_secs(10), || async {
        let id = b.current_run_id().await;
        !id.is_empty() && id != first
    })
    .await;
    b.wait("the rerun to succeed", Duration::from_secs(60), || async { b.run_snapshot().await.0 == "success" }).await;
    assert!(b.run_snapshot().await.1.contains("hello | hi"));
    let second = b.current_run_id().await;
    assert_eq!(b.js("return location.hash").await, json!(format!("#/runs/{second}")));
    // One request to start, one to rerun (the server re-queues the request it stored).
    let posts: Vec<String> = server
        .requests()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["method"] == "POST")
        .map(|r| r["uri"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(posts, ["/api/runs".to_string(), format!("/api/runs/{first}/rerun")]);
    b.close().await;
}

/// `/#/runs/{id}` opens that run live in a fresh page; the run list filters by project and
/// branch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_link_opens_a_run_live_and_the_run_list_filters_by_project_and_branch() {
    let _serial = SERIAL.lock().await;
    support::env_up();
    let (sample, other) = (sample_project(), sample_project());
    let server = Server::start_with(&[
        "--project".into(),
        format!("sample={}", sample.path().display()),
        "--project".into(),
        format!("other={}", other.path().display()),
        "--max-concurrent-runs".into(),
        "4".into(),
    ]);
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    b.set_value("run-branch", "main").await;
    b.click("run-start").await;
    b.wait("the run to wait for approval", Duration::from_secs(60), || async {
        b.run_snapshot().await.2.contains(&"release=waiting".to_string())
    })
    .await;
    let id = b.current_run_id().await;
    assert_eq!(b.js("return location.hash").await, json!(format!("#/runs/{id}")));

    // The link in a new tab (a commit status's link: no token in that tab yet) asks for the
    // token, then shows the run, live (it still waits, and goes on when approved).
    b.js("sessionStorage.clear()").await;
    b.client.goto("about:blank").await.unwrap();
    b.open(&format!("{}#/runs/{id}", server.url)).await;
    b.wait("the token prompt for the linked run", Duration::from_secs(10), || async {
        b.texts("[data-testid=run-message]").await.first().is_some_and(|m| m.contains(&format!("open run {id}")))
    })
    .await;
    b.set_value("token-input", "studio-test-token").await;
    b.click("token-save").await;
    b.wait("the linked run", Duration::from_secs(20), || async {
        b.current_run_id().await == id && b.run_snapshot().await.2.contains(&"release=waiting".to_string())
    })
    .await;
    assert!(b.run_snapshot().await.1.contains("unit | unit test 6 ok"));
    b.click("run-approve").await;
    b.wait("the run to succeed", Duration::from_secs(60), || async { b.run_snapshot().await.0 == "success" }).await;

    // More runs: other@dev twice, sample@dev once; cancelled at once (only the list matters).
    let mut ids = vec![id.clone()];
    for (project, tag) in [("other", "dev"), ("sample", "dev"), ("other", "dev")] {
        let body = json!({ "project": project, "tag": tag }).to_string();
        let (status, created) = b.xhr("POST", "/api/runs", true, Some(&body)).await;
        assert_eq!(status, 202, "{created}");
        let new: Value = serde_json::from_str(&created).unwrap();
        let new = new["id"].as_str().unwrap().to_string();
        b.xhr("POST", &format!("/api/runs/{new}/cancel"), true, None).await;
        ids.push(new);
    }
    let rows = || async {
        let v = b
            .js("return [...document.querySelectorAll('[data-testid=run-history] tr')] \
                 .map(r => [r.dataset.runId, r.children[1].textContent, r.children[2].textContent])")
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {} {}", r[0].as_str().unwrap(), r[1].as_str().unwrap(), r[2].as_str().unwrap()))
            .collect::<Vec<_>>()
    };
    let row = |i: usize, project: &str, tag: &str| format!("{} {project} {tag}", ids[i]);
    b.click_css("[data-testid=run-panel] h3 button").await;
    b.wait("all four runs", Duration::from_secs(5), || async { rows().await.len() == 4 }).await;
    b.client.find(Locator::Css("[data-testid=history-project]")).await.unwrap().select_by_value("other").await.unwrap();
    b.wait("other's runs only", Duration::from_secs(5), || async {
        rows().await == [row(3, "other", "dev"), row(1, "other", "dev")]
    })
    .await;
    b.client.find(Locator::Css("[data-testid=history-project]")).await.unwrap().select_by_value("").await.unwrap();
    b.set_value("history-branch", "main").await;
    b.client
        .find(Locator::Css("[data-testid=history-branch]"))
        .await
        .unwrap()
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    b.wait("main's runs only", Duration::from_secs(5), || async { rows().await == [row(0, "sample", "main · push")] })
        .await;
    b.client
        .find(Locator::Css("[data-testid=history-project]"))
        .await
        .unwrap()
        .select_by_value("sample")
        .await
        .unwrap();
    b.set_value("history-branch", "dev").await;
    b.client
        .find(Locator::Css("[data-testid=history-branch]"))
        .await
        .unwrap()
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    b.wait("sample's dev runs only", Duration::from_secs(5), || async { rows().await == [row(2, "sample", "dev")] })
        .await;
    // The API itself, with both filters and a page.
    let (_, body) = b.xhr("GET", "/api/runs?project=other&branch=dev&per_page=1", false, None).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((v["total"].clone(), v["runs"][0]["id"].clone()), (json!(2), json!(ids[3])), "{body}");
    b.close().await;
}

/// A server run of encrypted values without a key says what to do in the server's terms, not
/// the CLI's (`--key-path` is a flag of `slipway steps`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_encrypted_values_without_a_key_says_how_to_give_the_server_one() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    let services = "app:\n  image: slipway-test/busybox:latest\n  encrypted_environment: c2VjcmV0\n";
    run_edited(&b, services, "- name: hello\n  service: app\n  command: echo hi\n").await;
    b.wait("the run to end", Duration::from_secs(60), || async {
        !b.texts("[data-testid=run-error]").await.is_empty()
    })
    .await;
    let error = b.texts("[data-testid=run-error]").await.remove(0);
    assert!(error.contains("no key on the server") && error.contains("slipway serve` with --key NAME=PATH"), "{error}");
    assert!(!error.contains("--key-path"), "{error}");
    b.close().await;
}

/// A link to a run the server does not have shows no run, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_to_a_missing_run_shows_no_run_and_says_to_check_the_link() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = with_sample_no_engine();
    let b = Browser::start().await;
    b.open_with_token(&format!("{}#/runs/nosuchrun", server.url)).await;
    b.wait("the missing run's message", Duration::from_secs(10), || async {
        b.texts("[data-testid=run-message]").await == ["no run nosuchrun (check the link)"]
    })
    .await;
    assert_eq!(b.current_run_id().await, "", "a phantom run is on show");
    b.close().await;
}

/// With the server gone, a request says what to do rather than `{}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_server_down_the_panel_says_to_check_slipway_serve() {
    let _serial = SERIAL.lock().await;
    let (mut server, _project) = with_sample_no_engine();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    let _ = server.child.kill();
    let _ = server.child.wait();
    b.click("run-load-files").await;
    b.wait("the message", Duration::from_secs(10), || async { !b.texts("[data-testid=run-message]").await.is_empty() })
        .await;
    let m = b.texts("[data-testid=run-message]").await.remove(0);
    assert!(m.contains("is `slipway serve` still running? Reload when it is.") && !m.contains("{}"), "{m}");
    b.close().await;
}

/// Rerun of a run this page did not start (another tab's, a link's) runs the same files: the
/// server re-queues the request it stored, edited files and all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_of_a_run_started_elsewhere_keeps_its_edited_files() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    let steps = "- name: hello\n  service: app\n  command: echo edited-here\n";
    let body = json!({ "project": "sample", "services": BUSYBOX_SERVICES, "steps": steps }).to_string();
    let (status, created) = b.xhr("POST", "/api/runs", true, Some(&body)).await;
    assert_eq!(status, 202, "{created}");
    let first = serde_json::from_str::<Value>(&created).unwrap()["id"].as_str().unwrap().to_string();
    b.js(&format!("location.hash = '#/runs/{first}'")).await;
    b.wait("the linked run to succeed", Duration::from_secs(60), || async {
        b.current_run_id().await == first && b.run_snapshot().await.0 == "success"
    })
    .await;
    b.click("run-rerun").await;
    b.wait("the rerun to succeed", Duration::from_secs(60), || async {
        let id = b.current_run_id().await;
        !id.is_empty() && id != first && b.run_snapshot().await.0 == "success"
    })
    .await;
    let log = b.run_snapshot().await.1;
    assert!(log.contains("hello | edited-here"), "{log}");
    b.close().await;
}

/// A polled repository project's run shows what started it (the commit's first line, its
/// author) in the run list and on the opened run: the studio sends its token on the GETs, as
/// the server shows triggers only with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_runs_trigger_shows_with_the_token_and_the_page_offers_no_run_load_or_rerun() {
    use support::git::{Daemon, commit, repo_pair, sh};
    let _serial = SERIAL.lock().await;
    support::env_up();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("served");
    std::fs::create_dir(&root).unwrap();
    let work = repo_pair(&root, "web.git");
    let daemon = Daemon::start(&root);
    let services = format!("app:\n  image: {}\n", support::base_image());
    let steps = "- name: hello\n  service: app\n  command: echo hi\n";
    commit(&work, &[("codeship-services.yml", &services), ("codeship-steps.yml", steps)], "the pipeline");
    sh(&work, &["push", "-q", &daemon.url("web.git"), "main"]);
    let api = support::forge_api::StatusApi::start(Vec::new(), 201);
    std::fs::create_dir(tmp.path().join("secrets")).unwrap();
    std::fs::write(tmp.path().join("secrets/hook"), "hook-secret\n").unwrap();
    std::fs::write(tmp.path().join("secrets/token"), "forge-token\n").unwrap();
    let config = format!(
        "[[project]]\nname = \"web\"\nrepo = \"{}\"\nforge = \"github\"\napi_url = \"{}\"\nbranches = [\"main\"]\n\
         webhook_secret_file = \"secrets/hook\"\ntoken_file = \"secrets/token\"\npoll = \"1s\"\n",
        daemon.url("web.git"),
        api.url
    );
    std::fs::write(tmp.path().join("slipway.toml"), config).unwrap();
    let log = tmp.path().join("server.log");
    let args: Vec<String> = [
        "--config",
        tmp.path().join("slipway.toml").to_str().unwrap(),
        "--data-dir",
        tmp.path().join("data").to_str().unwrap(),
        "--public-url",
        "https://ci.example.com/",
    ]
    .map(String::from)
    .into();
    let (child, url) = support::serve_logged(&args, "studio-test-token", &log);
    // Killed on drop, also when the test fails.
    struct Serving(std::process::Child);
    impl Drop for Serving {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _serving = Serving(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("first poll") {
        assert!(Instant::now() < deadline, "no first poll");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sh(&work, &["commit", "-q", "--allow-empty", "-m", "Show the trigger\n\nThe long story."]);
    sh(&work, &["push", "-q", &daemon.url("web.git"), "main"]);

    let b = Browser::start().await;
    b.open_with_token(&url).await;
    let trigger = "[data-testid=run-history] [data-testid=run-trigger]";
    b.wait("the polled run's trigger in the list", Duration::from_secs(30), || async {
        b.click_css("[data-testid=run-panel] h3 button").await;
        b.texts(trigger).await.first().is_some_and(|t| t.contains("Show the trigger"))
    })
    .await;
    let shown = b.texts(trigger).await.remove(0);
    assert!(shown.contains("poll of main") && shown.contains("by Ada Lovelace"), "{shown}");
    b.click_css("[data-testid=run-history] tr[data-run-id]").await;
    b.wait("the trigger on the opened run", Duration::from_secs(10), || async {
        b.texts("[data-testid=run-current] [data-testid=run-trigger]")
            .await
            .first()
            .is_some_and(|t| t.contains("Show the trigger"))
    })
    .await;
    // A repository project's runs start from a push: the page offers no Run or Rerun, but
    // loads its files (from the server's copy of the repository).
    let disabled = |testid: &'static str| {
        let b = &b;
        async move { b.js(&format!("return document.querySelector('[data-testid={testid}]').disabled")).await }
    };
    assert_eq!((disabled("run-start").await, disabled("run-load-files").await), (json!(true), json!(false)));
    assert_eq!(
        b.texts("[data-testid=run-repo-note]").await,
        ["runs of repository projects start from a push; see the README"]
    );
    b.wait("the run to end, with Rerun off", Duration::from_secs(60), || async {
        b.client.find(Locator::Css("[data-testid=run-rerun]")).await.is_ok()
            && disabled("run-rerun").await == json!(true)
    })
    .await;
    b.close().await;
}
