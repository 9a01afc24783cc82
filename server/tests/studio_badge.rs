//! Issue 23, part 3 in the studio: the Run panel shows the Markdown of the picked project's
//! status badge, for the branch in the panel, to copy into a README. Real headless Chromium
//! (support::Chromium) against `slipway serve` serving the built studio (`cargo xtask build`,
//! as for the studio_*.rs tests); the badge the Markdown names is fetched and is an SVG.

mod support;

use fantoccini::{Locator, key::Key};
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "studio-badge-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_panel_shows_the_badge_markdown_for_the_project_and_branch() {
    let index =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/index.html")).unwrap_or_default();
    assert!(index.contains(".wasm"), "the studio is not built; run `cargo xtask build` or `cargo xtask test`");
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
    std::fs::write(project.path().join("codeship-steps.yml"), "- service: app\n  command: 'true'\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = [
        "--data-dir".to_string(),
        data.path().display().to_string(),
        "--project".to_string(),
        format!("web={}", project.path().display()),
    ];
    let (mut server, url) = support::serve(&args, TOKEN);
    let browser = support::Chromium::start().await;
    let c = browser.client.clone();
    c.goto(&url).await.unwrap();
    let markdown = || async {
        let el = c.find(Locator::Css("[data-testid=badge-markdown]")).await.ok()?;
        el.text().await.ok()
    };
    let wait_for = |want: String| {
        let markdown = &markdown;
        async move {
            let start = Instant::now();
            loop {
                let got = markdown().await;
                if got.as_deref() == Some(want.as_str()) {
                    return;
                }
                assert!(start.elapsed() < Duration::from_secs(30), "the badge Markdown is {got:?}, not {want:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let want = |branch: &str| format!("[![build]({url}/api/projects/web/badge.svg?branch={branch})]({url}/)");

    // The panel's branch is the build preview's; another one typed in changes the Markdown.
    let branch_input = loop {
        if let Ok(el) = c.find(Locator::Css("[data-testid=run-branch]")).await {
            break el;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    branch_input.click().await.unwrap();
    branch_input.send_keys(&format!("{}a{}", Key::Control, Key::Null)).await.unwrap();
    branch_input.send_keys(&Key::Backspace.to_string()).await.unwrap();
    wait_for(want("main")).await; // a blank branch: main
    branch_input.send_keys("release/1").await.unwrap();
    wait_for(want("release%2F1")).await;

    // What it names is the badge (with the token: the project is not public).
    let badge = ureq::get(&format!("{url}/api/projects/web/badge.svg?branch=release%2F1"))
        .header("authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(badge.starts_with("<svg") && badge.contains("build: unknown"), "{badge}");

    browser.close().await;
    let _ = server.kill();
    let _ = server.wait();
}
