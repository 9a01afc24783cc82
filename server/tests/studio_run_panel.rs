//! The Run panel as the Run page of a CI its users know (GitLab's pipeline page, GitHub
//! Actions' run page): a stage graph with edges, queued / running / done at a glance, the
//! run's time, commit, trigger and files, image builds in their own lane, a log with line
//! numbers, search and a jump to the first error that follows the window's height, named
//! approval, and a confirmation before Cancel.
//! Real headless Chromium against `slipway serve` with the Docker engine (support/browser.rs).

mod support;

use fantoccini::Locator;
use serde_json::{Value, json};
use std::time::Duration;
use support::browser::*;

const SECS_60: Duration = Duration::from_secs(60);

/// The texts of `.what` under the graph node named `name`, itself only.
async fn what_of(b: &Browser, name: &str) -> String {
    b.texts(&format!("[data-testid=run-graph] [data-step-name={name}] > .what")).await.pop().unwrap_or_default()
}

async fn start_sample(b: &Browser, url: &str) {
    b.open_with_token(url).await;
    b.click("run-start").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_names_the_group_and_an_approved_group_no_longer_waits() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    start_sample(&b, &server.url).await;
    b.wait("the release to wait", SECS_60, || async { b.run_snapshot().await.2.contains(&"release=waiting".into()) })
        .await;
    assert_eq!(b.texts("[data-testid=run-approve]").await, ["Approve release"]);
    assert_eq!(what_of(&b, "release").await, "manual · waits for approval");
    b.click("run-approve").await;
    b.wait("the run to succeed", SECS_60, || async { b.run_snapshot().await.0 == "success" }).await;
    assert_eq!(what_of(&b, "release").await, "manual · approved");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_asks_first_and_a_cancelled_run_says_cancelled_once() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    start_sample(&b, &server.url).await;
    b.wait("`unit` to run", SECS_60, || async { b.run_snapshot().await.2.contains(&"unit=running".into()) }).await;
    // Saying no to the question leaves the run alone.
    b.js("window.asked = []; window.confirm = m => { window.asked.push(m); return false; }").await;
    b.click("run-cancel").await;
    let asked = b.js("return window.asked").await;
    assert!(asked[0].as_str().is_some_and(|m| m.starts_with("Cancel run ")), "no question before cancelling: {asked}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(b.run_snapshot().await.0, "running", "cancelled without a yes");
    b.js("window.confirm = m => true").await;
    b.click("run-cancel").await;
    b.wait("the run to be cancelled", Duration::from_secs(30), || async { b.run_snapshot().await.0 == "cancelled" })
        .await;
    let (_, text, _) = b.run_snapshot().await;
    assert!(!text.contains("cancelled: cancelled"), "{text}");
    assert!(text.contains("unit | cancelled"), "the running step does not say it was cancelled: {text}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_running_and_done_steps_look_different_at_a_glance() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    start_sample(&b, &server.url).await;
    b.wait("`unit` to run", SECS_60, || async { b.run_snapshot().await.2.contains(&"unit=running".into()) }).await;
    let look = b
        .js("const s = n => document.querySelector(`[data-testid=run-graph] [data-step-name=${n}]`); \
             const st = n => { const e = s(n), c = getComputedStyle(e), m = getComputedStyle(e.querySelector(':scope > .name')); \
               return [e.dataset.runStatus, c.borderTopStyle, c.borderTopColor, m.backgroundColor, !!e.querySelector(':scope > [data-testid=step-spinner]')]; }; \
             return [st('unit'), st('package'), !!document.querySelector('[data-testid=run-current] .badge .spinner')]")
        .await;
    let (unit, package) = (&look[0], &look[1]);
    assert_eq!((unit[0].clone(), package[0].clone()), (json!("running"), json!("pending")), "{look}");
    assert_eq!(
        (unit[4].clone(), package[4].clone()),
        (json!(true), json!(false)),
        "a spinner on the running step only: {look}"
    );
    assert_eq!(package[1], json!("dashed"), "a pending step is dashed: {look}");
    assert!(unit[2] != package[2] && unit[3] != package[3], "running and pending look alike: {look}");
    assert_eq!(look[2], json!(true), "no spinner on the running run's badge: {look}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_shows_its_time_commit_trigger_and_whether_it_ran_edited_files() {
    use support::git::{commit, sh};
    let _serial = SERIAL.lock().await;
    let (server, project) = Server::with_sample();
    sh(project.path(), &["init", "-q"]);
    let steps = "- name: hello\n  service: app\n  command: echo from-the-project\n";
    let head = commit(
        project.path(),
        &[("codeship-services.yml", BUSYBOX_SERVICES), ("codeship-steps.yml", steps)],
        "the project",
    );
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    b.set_value("run-branch", "main").await;
    b.set_editor("steps", "- name: hello\n  service: app\n  command: echo hi\n").await;
    // The project's files first (the editors hold other steps, unsent).
    b.click("run-start").await;
    b.wait("the project's run to succeed", SECS_60, || async { b.run_snapshot().await.0 == "success" }).await;
    let first = b.current_run_id().await;
    b.wait("the run's time", Duration::from_secs(10), || async {
        !b.texts("[data-testid=run-duration]").await.is_empty()
    })
    .await;
    let took = b.texts("[data-testid=run-duration]").await.remove(0);
    assert!(took.starts_with("took ") && took.chars().any(|c| c.is_ascii_digit()), "{took}");
    assert_eq!(b.texts("[data-testid=run-commit]").await, [head[..7].to_string()]);
    assert_eq!(b.attr_list("[data-testid=run-current] [data-testid=run-trigger]", "data-kind").await, ["manual"]);
    assert_eq!(b.attr_list("[data-testid=run-files]", "data-edited").await, ["false"]);

    // The editors' files, unsaved: marked as such.
    run_edited(&b, BUSYBOX_SERVICES, "- name: hello\n  service: app\n  command: echo edited\n").await;
    b.wait("the edited run to succeed", SECS_60, || async {
        b.current_run_id().await != first && b.run_snapshot().await.0 == "success"
    })
    .await;
    assert_eq!(b.attr_list("[data-testid=run-files]", "data-edited").await, ["true"]);
    assert!(b.texts("[data-testid=run-files]").await[0].contains("edited files"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_builds_are_logged_in_their_own_lane_not_under_the_first_step() {
    let _serial = SERIAL.lock().await;
    let (server, project) = Server::with_sample();
    std::fs::write(
        project.path().join("Dockerfile"),
        format!("FROM {}\nRUN echo built-into-the-image\n", support::base_image()),
    )
    .unwrap();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    let services = "app:\n  build:\n    context: .\n    dockerfile: Dockerfile\n";
    run_edited(&b, services, "- name: hello\n  service: app\n  command: echo hi\n").await;
    b.wait("the run to succeed", SECS_60, || async { b.run_snapshot().await.0 == "success" }).await;
    let (_, text, _) = b.run_snapshot().await;
    assert!(text.contains("build app | "), "no build lines: {text}");
    assert!(!text.lines().any(|l| l.contains("hello | ") && l.contains("Step ")), "a build line under `hello`: {text}");
    b.click("run-build-lane").await;
    b.wait("the build lane's log", Duration::from_secs(5), || async {
        b.texts("[data-testid=run-log-title]").await == ["Image builds"]
    })
    .await;
    let (_, lane, _) = b.run_snapshot().await;
    assert!(
        lane.contains("RUN echo built-into-the-image") && !lane.contains("hi\n") && !lane.contains(" | "),
        "{lane}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_has_line_numbers_a_search_with_next_and_previous_and_the_windows_height() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    run_edited(
        &b,
        BUSYBOX_SERVICES,
        "- name: count\n  service: app\n  command: sh -c 'for i in 1 2 3 4 5; do echo \"unit test $i ok\"; done'\n",
    )
    .await;
    b.wait("the run to succeed", SECS_60, || async { b.run_snapshot().await.0 == "success" }).await;
    // Numbers drawn beside the lines, not in their text.
    let numbers = b
        .js("return [...document.querySelectorAll('[data-testid=run-log] .line')].slice(0, 3) \
             .map(l => getComputedStyle(l, '::before').content)")
        .await;
    assert_eq!(numbers, json!(["\"1\"", "\"2\"", "\"3\""]));

    b.set_value("run-log-search", "Unit Test").await;
    let state = || async {
        let v = b
            .js("return [document.querySelector('[data-testid=run-log-matches]').textContent, \
                 document.querySelectorAll('[data-testid=run-log] mark').length, \
                 (document.querySelector('[data-testid=run-log] mark.current') || {}).parentElement?.textContent]")
            .await;
        (v[0].as_str().unwrap_or("").to_string(), v[1].as_u64().unwrap_or(0), v[2].as_str().unwrap_or("").to_string())
    };
    b.wait("five matches", Duration::from_secs(5), || async { state().await.0 == "1 of 5" }).await;
    let (_, marks, line) = state().await;
    assert_eq!(marks, 5);
    assert!(line.ends_with("count | unit test 1 ok\n"), "{line:?}");
    b.click("run-log-next").await;
    b.wait("the second match", Duration::from_secs(5), || async { state().await.2.ends_with("unit test 2 ok\n") })
        .await;
    b.click("run-log-prev").await;
    b.click("run-log-prev").await;
    b.wait("round to the last match", Duration::from_secs(5), || async { state().await.0 == "5 of 5" }).await;
    assert!(state().await.2.ends_with("unit test 5 ok\n"));

    // The log's height follows the window's.
    let height = || async {
        b.js("return document.querySelector('[data-testid=run-log]').getBoundingClientRect().height")
            .await
            .as_f64()
            .unwrap()
    };
    let tall = height().await;
    b.client.set_window_size(1400, 700).await.unwrap();
    b.wait("the log to shrink with the window", Duration::from_secs(5), || async { tall - height().await > 300.0 })
        .await;
    assert!(tall > 600.0, "the log is {tall} px in a 1100 px window");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jump_to_the_first_error_shows_the_failed_steps_first_lines() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    let steps = concat!(
        "- name: noisy\n  service: app\n  command: sh -c 'for i in $(seq 1 1200); do echo \"noise $i\"; done'\n",
        "- name: broken\n  service: app\n  command: sh -c 'for i in $(seq 1 80); do echo \"broken line $i\"; done; exit 3'\n",
    );
    run_edited(&b, BUSYBOX_SERVICES, steps).await;
    b.wait("the run to fail", SECS_60, || async { b.run_snapshot().await.0 == "failed" }).await;
    assert_eq!(b.texts("[data-testid=run-jump-error]").await, ["Jump to the first error (broken)"]);
    b.click("run-jump-error").await;
    b.wait("the failed step's log", Duration::from_secs(5), || async {
        b.texts("[data-testid=run-log-title]").await == ["Step broken"]
    })
    .await;
    let v = b
        .js("const l = document.querySelector('[data-testid=run-log]'); const first = l.querySelector('.line'); \
             return [first.dataset.n, first.textContent, l.scrollTop, \
               first.getBoundingClientRect().top >= l.getBoundingClientRect().top - 1]")
        .await;
    assert_eq!(v[0], json!("1"), "{v}");
    assert!(v[1].as_str().unwrap().ends_with("broken line 1\n"), "{v}");
    assert_eq!((v[2].clone(), v[3].clone()), (json!(0), json!(true)), "the first line is not in view: {v}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_draws_stages_in_order_with_edges_from_each_parallel_step() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    start_sample(&b, &server.url).await;
    b.wait("the release to wait", SECS_60, || async { b.run_snapshot().await.2.contains(&"release=waiting".into()) })
        .await;
    let edges: Value = b
        .js("return [...document.querySelectorAll('[data-testid=run-graph] [data-testid=graph-edge]')] \
             .map(e => [e.dataset.from, e.dataset.to, e.querySelectorAll('line').length])")
        .await;
    assert_eq!(edges, json!([["lint unit", "package", 2], ["package", "release", 1]]));
    let node = |name: &str| format!("[data-testid=run-graph] [data-step-name={name}]");
    let (lint, unit, package) =
        (b.rect(&node("lint")).await, b.rect(&node("unit")).await, b.rect(&node("package")).await);
    let edge = b.rect("[data-testid=graph-edge]").await;
    assert!((lint.0 - unit.0).abs() < 1.0, "parallel steps side by side: {lint:?} {unit:?}");
    assert!(
        lint.1 <= edge.0 + 1.0 && edge.1 <= package.0 + 1.0,
        "the edge is not between the stages: {lint:?} {edge:?} {package:?}"
    );
    b.click("run-approve").await;
    b.wait("the run to succeed", SECS_60, || async { b.run_snapshot().await.0 == "success" }).await;
    b.js("document.querySelector('[data-testid=run-panel]').scrollIntoView()").await;
    let panel = b.client.find(Locator::Css("[data-testid=run-panel]")).await.unwrap();
    save_screenshot("studio-run-panel.png", &panel.screenshot().await.unwrap());
    b.close().await;
}
