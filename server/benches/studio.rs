//! Studio figures in headless Chromium (run `cargo bench -p slipway --bench studio` after
//! `cargo xtask studio` or `cargo xtask test` built the studio). Prints, for docs/perf.md:
//! bundle size (raw and gzip), navigation to interactive, validation time per keystroke for
//! the aggregate example and a ~5,000-step project, encrypt+decrypt of 1 MiB, and a chatty
//! run followed live in the Run panel (needs the Docker engine: tests/env/up.sh is run first).

#[path = "../tests/support/mod.rs"]
mod support;

use fantoccini::Locator;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn gzip_len(bytes: &[u8]) -> usize {
    let mut child = Command::new("gzip").arg("-9c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("gzip");
    // Feed stdin from another thread: gzip's output would otherwise fill the pipe and stall.
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap().stdout.len();
    feeder.join().unwrap().unwrap();
    out
}

/// Lines the chatty step prints, as fast as `seq` writes them.
const CHATTY_LINES: usize = 50_000;

#[tokio::main]
async fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist");
    let (mut raw, mut gz) = (0, 0);
    for entry in std::fs::read_dir(&dist).unwrap() {
        let p = entry.unwrap().path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "wasm" || ext == "js" {
            let bytes = std::fs::read(&p).unwrap();
            let z = gzip_len(&bytes);
            println!("  {:<48} raw {:>8} B   gzip {:>7} B", p.file_name().unwrap().to_string_lossy(), bytes.len(), z);
            raw += bytes.len();
            gz += z;
        }
    }
    println!("bundle (wasm + js): raw {raw} B, gzip {gz} B  (goal < 350 KB gzip)");

    let base = support::base_image();
    let chatty = tempfile::tempdir().unwrap();
    std::fs::write(chatty.path().join("codeship-services.yml"), format!("app:\n  image: {base}\n")).unwrap();
    std::fs::write(
        chatty.path().join("codeship-steps.yml"),
        format!("- name: chatty\n  service: app\n  command: sh -c 'seq 1 {CHATTY_LINES}'\n"),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = [
        "--data-dir".to_string(),
        data.path().display().to_string(),
        "--project".to_string(),
        format!("chatty={}", chatty.path().display()),
    ];
    let (mut server, url) = support::serve(&args, "bench-token");
    let chromium = support::Chromium::start().await;
    let c = chromium.client.clone();
    let mut interactive = Vec::new();
    for _ in 0..5 {
        c.goto(&url).await.unwrap();
        c.wait().for_element(Locator::Css("[data-testid=steps-editor]")).await.unwrap();
        let v = c.execute("return window.slipwayInteractiveMs", vec![]).await.unwrap();
        interactive.push(v.as_f64().unwrap_or(f64::NAN));
    }
    interactive.sort_by(|a, b| a.total_cmp(b));
    println!("navigation to interactive (localhost, median of 5): {:.0} ms", interactive[2]);
    let call = |script: String| {
        let c = c.clone();
        async move { c.execute(&script, vec![]).await.unwrap().as_f64().unwrap_or(f64::NAN) }
    };
    let (services, steps) = aggregate();
    let agg = c
        .execute("return window.wasmBindings.bench_validate(arguments[0], arguments[1], 50)", vec![services, steps])
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(f64::NAN);
    let large = call(
        "const f = window.wasmBindings.bench_files('large'); return window.wasmBindings.bench_validate(f[0], f[1], 5)"
            .into(),
    )
    .await;
    println!(
        "validation per keystroke: aggregate {agg:.2} ms (goal < 4 ms), ~5,000 steps {large:.1} ms (goal < 40 ms)"
    );
    let mut crypto = Vec::new();
    for _ in 0..5 {
        crypto.push(call("return window.wasmBindings.bench_crypto(1048576)".into()).await);
    }
    crypto.sort_by(|a, b| a.total_cmp(b));
    println!("encrypt + decrypt 1 MiB (aead, median of 5): {:.1} ms", crypto[2]);
    chatty_run(&c, &url).await;
    chromium.close().await;
    let _ = server.kill();
    let _ = server.wait();
}

/// Start the chatty project from the Run panel and follow it to the end, recording every
/// animation frame's gap meanwhile: a frozen page shows as a long gap.
async fn chatty_run(c: &fantoccini::Client, url: &str) {
    c.goto(url).await.unwrap();
    c.execute("sessionStorage.setItem('slipway.token', JSON.stringify('bench-token'))", vec![]).await.unwrap();
    c.goto(url).await.unwrap();
    c.wait().for_element(Locator::Css("[data-testid=run-start]")).await.unwrap();
    c.execute(
        "window.gaps = []; let last = performance.now(); \
         const f = t => { window.gaps.push(t - last); last = t; if (!window.stopFrames) requestAnimationFrame(f); }; \
         requestAnimationFrame(f);",
        vec![],
    )
    .await
    .unwrap();
    let started = Instant::now();
    c.find(Locator::Css("[data-testid=run-start]")).await.unwrap().click().await.unwrap();
    let status = "const c = document.querySelector('[data-testid=run-current]'); return c ? c.dataset.runStatus : ''";
    loop {
        let s = c.execute(status, vec![]).await.unwrap();
        if matches!(s.as_str(), Some("success" | "failed")) {
            assert_eq!(s, "success", "the chatty run failed");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the chatty run did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let v = c
        .execute(
            "window.stopFrames = true; const g = window.gaps.slice(1).sort((a, b) => a - b); \
             return [g.length, g[Math.floor(g.length * 0.99)], g[g.length - 1], \
               document.querySelector('[data-testid=run-log]').textContent.split('\\n').length - 1, \
               document.body.innerText.match(/(\\d+) log lines/)[1] * 1]",
            vec![],
        )
        .await
        .unwrap();
    println!(
        "chatty run ({CHATTY_LINES} lines, as fast as `seq` prints): click to green {:.2} s = {:.0} lines/s; \
         {} frames, frame gap p99 {:.0} ms, max {:.0} ms; lines in the page {} (rendered {})",
        took.as_secs_f64(),
        CHATTY_LINES as f64 / took.as_secs_f64(),
        v[0],
        v[1].as_f64().unwrap_or(f64::NAN),
        v[2].as_f64().unwrap_or(f64::NAN),
        v[4],
        v[3],
    );
}

/// Codeship's 00.aggregate, as JSON strings for the page (it is not shipped in the wasm).
fn aggregate() -> (serde_json::Value, serde_json::Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/examples/00.aggregate");
    let read = |f: &str| serde_json::Value::from(std::fs::read_to_string(dir.join(f)).unwrap());
    (read("codeship-services.yml"), read("codeship-steps.yml"))
}
