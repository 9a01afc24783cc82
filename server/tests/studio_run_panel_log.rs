//! The Run panel's log under a chatty run: it draws only the lines in view (and a small margin
//! around them), so a run printing 50,000 lines keeps the page smooth; search still reaches a
//! line far from the view, the end stays in view while the run goes on, the numbers are
//! right wherever the reader scrolls, and a copied selection has the lines without numbers.
//! Real headless Chromium against `slipway serve` with the Docker engine (support/browser.rs).

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::browser::*;

/// Lines the chatty step prints (the figure).
const CHATTY_LINES: usize = 50_000;

/// More `.line` elements than this in the log means it draws lines far out of view. The
/// window is 1100 px high: about 50 rows in view, and the margin above and below.
const MAX_DRAWN: u64 = 250;

/// One step printing every line at once and exiting (the executor once lost the end of such
/// output: see runner.rs's `every_line_of_chatty_steps_that_exit_at_once_is_logged`).
fn chatty_steps() -> String {
    format!("- name: count\n  service: app\n  command: seq 1 {CHATTY_LINES}\n")
}

/// The log's drawn lines: how many, the first's and last's numbers, and whether the last one
/// drawn is inside the log's box.
async fn drawn(b: &Browser) -> Value {
    b.js("const l = document.querySelector('[data-testid=run-log]'), ls = l.querySelectorAll('.line'); \
          const last = ls[ls.length - 1], r = l.getBoundingClientRect(); \
          return [ls.length, ls[0] ? +ls[0].dataset.n : 0, last ? +last.dataset.n : 0, \
            last ? last.getBoundingClientRect().bottom <= r.bottom + 1 : false, last ? last.textContent : '']")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatty_log_draws_only_the_lines_in_view_and_search_scrolls_to_a_line_far_away() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    run_edited(&b, BUSYBOX_SERVICES, &chatty_steps()).await;
    b.wait("the chatty run to succeed", Duration::from_secs(120), || async { b.run_snapshot().await.0 == "success" })
        .await;
    // The end drawn and in view: the log followed its tail.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let count = || async { b.js("return +document.body.innerText.match(/(\\d+) log lines/)[1]").await };
    let lines = count().await;
    assert!(lines.as_u64() > Some(2000), "too few lines to test with: {lines}");
    b.wait("the log's end", Duration::from_secs(5), || async { drawn(&b).await[2] == lines }).await;
    let d = drawn(&b).await;
    assert!(d[0].as_u64().unwrap() <= MAX_DRAWN, "{} lines drawn, most of them out of view: {d}", d[0]);
    assert_eq!(d[3], json!(true), "the last line is not in view: {d}");

    // A line about 900 lines above the view: found, drawn, in view, current. `| N` is found in
    // that line only: no number printed has more digits than N and starts with N's.
    let printed = b
        .js("return Math.max(...[...document.querySelectorAll('[data-testid=run-log] .line')] \
               .map(l => +((l.textContent.match(/count \\| (\\d+)\\n$/) || [0, 0])[1])))")
        .await;
    let far = printed.as_u64().unwrap() - 900;
    b.set_value("run-log-search", &format!("| {far}")).await;
    let found = || async {
        b.js("const l = document.querySelector('[data-testid=run-log]'), m = l.querySelector('mark.current'); \
              if (!m) return ['', '', false, document.querySelector('[data-testid=run-log-matches]')?.textContent]; \
              const r = l.getBoundingClientRect(), mr = m.getBoundingClientRect(); \
              return [m.parentElement.textContent, m.parentElement.dataset.n, \
                mr.top >= r.top - 1 && mr.bottom <= r.bottom + 1, \
                document.querySelector('[data-testid=run-log-matches]').textContent]")
            .await
    };
    b.wait("the match far up to be drawn in view", Duration::from_secs(5), || async {
        found().await[2] == json!(true)
    })
    .await;
    let f = found().await;
    assert!(f[0].as_str().unwrap().ends_with(&format!("count | {far}\n")) && f[3] == json!("1 of 1"), "{f}");
    let d = drawn(&b).await;
    assert!(d[0].as_u64().unwrap() <= MAX_DRAWN, "{d}");

    // Scrolled to the top of what is shown: its first lines are drawn there, numbered.
    b.set_value("run-log-search", "").await;
    b.js("document.querySelector('[data-testid=run-log]').scrollTop = 0").await;
    let top = || async {
        b.js("const l = document.querySelector('[data-testid=run-log]'), f = l.querySelector('.line'); \
              const bar = document.querySelector('.log-bar').textContent.match(/(\\d+) earlier lines not shown/); \
              return [f.textContent, +f.dataset.n, getComputedStyle(f, '::before').content, l.scrollTop, \
                f.getBoundingClientRect().top - l.getBoundingClientRect().top, bar ? +bar[1] : 0]")
            .await
    };
    b.wait("the first shown line at the top", Duration::from_secs(5), || async {
        top().await[4].as_f64().is_some_and(|y| (0.0..10.0).contains(&y))
    })
    .await;
    let v = top().await;
    let n = v[1].as_u64().unwrap();
    assert!(v[0].as_str().unwrap().contains("count | "), "{v}");
    assert_eq!((n, v[2].clone()), (v[5].as_u64().unwrap() + 1, json!(format!("\"{n}\""))), "{v}");
    assert_eq!(v[3], json!(0), "the log did not stay where the reader scrolled: {v}");

    // Copying lines gives their text, one a line, without the numbers.
    let copied = b
        .js("const ls = document.querySelectorAll('[data-testid=run-log] .line'); const r = document.createRange(); \
             r.setStartBefore(ls[0]); r.setEndAfter(ls[2]); const s = getSelection(); s.removeAllRanges(); s.addRange(r); \
             return [s.toString(), ls[0].textContent + ls[1].textContent + ls[2].textContent]")
        .await;
    assert_eq!(copied[0], copied[1], "{copied}");
    assert!(!copied[0].as_str().unwrap().starts_with(&n.to_string()), "{copied}");
    b.close().await;
}

/// Frame gaps while the chatty run streams, click to green (`cargo test -p slipway --test
/// studio_run_panel_log -- --ignored --nocapture`); figures in docs/perf.md, "Studio log view".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints figures, asserts nothing about them"]
async fn measure_frame_gaps_of_a_chatty_run() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = Server::with_sample();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    b.set_editor("services", BUSYBOX_SERVICES).await;
    b.set_editor("steps", &chatty_steps()).await;
    b.wait("a clean check", Duration::from_secs(10), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.is_empty()
    })
    .await;
    if b.js("return document.querySelector('[data-testid=run-edits]').checked").await != json!(true) {
        b.click("run-edits").await;
    }
    b.js("window.gaps = []; let last = performance.now(); \
          const f = t => { window.gaps.push(t - last); last = t; if (!window.stopFrames) requestAnimationFrame(f); }; \
          requestAnimationFrame(f);")
        .await;
    let started = Instant::now();
    b.click("run-start").await;
    b.wait("the chatty run to succeed", Duration::from_secs(300), || async { b.run_snapshot().await.0 == "success" })
        .await;
    let took = started.elapsed();
    let v = b
        .js("window.stopFrames = true; const g = window.gaps.slice(1).sort((a, b) => a - b); \
             return [g.length, g[Math.floor(g.length * 0.99)], g[g.length - 1], \
               document.querySelectorAll('[data-testid=run-log] .line').length]")
        .await;
    println!(
        "chatty run ({CHATTY_LINES} lines): click to green {:.2} s; {} frames, gap p99 {:.0} ms, max {:.0} ms; \
         {} line elements drawn",
        took.as_secs_f64(),
        v[0],
        v[1].as_f64().unwrap_or(f64::NAN),
        v[2].as_f64().unwrap_or(f64::NAN),
        v[3]
    );
    b.close().await;
}
