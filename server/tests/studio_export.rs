//! The studio's Export panel end to end: both forges previewed live with their warnings.
//! Real headless Chromium against `slipway serve` serving the built studio (support/browser.rs);
//! `cargo xtask test` builds the studio first, and these tests say so when it has not been built.

mod support;

use std::time::Duration;
use support::browser::*;

/// The Export panel's text for one forge (`github-actions` or `gitlab-ci`).
async fn export_text(b: &Browser, forge: &str) -> String {
    let v = b.js(&format!("const e = document.querySelector('[data-testid=export-{forge}] [data-testid=export-text]'); return e ? e.textContent : ''")).await;
    v.as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_panel_previews_both_forges_live_with_their_warnings() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    // The example project, exported in Slipway mode: a workflow and a GitLab file running it.
    b.wait("both exports of the example", Duration::from_secs(5), || async {
        export_text(&b, "github-actions").await.contains("slipway steps")
            && export_text(&b, "gitlab-ci").await.contains("slipway steps")
    })
    .await;
    let github = export_text(&b, "github-actions").await;
    let gitlab = export_text(&b, "gitlab-ci").await;
    assert!(github.contains("\njobs:") && github.contains("runs-on:"), "{github}");
    assert!(gitlab.contains("script:") && !gitlab.contains("runs-on:"), "{gitlab}");
    assert_eq!(
        b.texts("[data-testid=export-github-actions] [data-testid=export-path]").await,
        [".github/workflows/codeship.yml"]
    );
    assert_eq!(b.texts("[data-testid=export-gitlab-ci] [data-testid=export-path]").await, [".gitlab-ci.yml"]);
    // The studio does not know where the team installs Slipway from: until a pinned source is
    // given, the Slipway-mode job cannot install it (SW502); with one, it installs and checks it.
    for forge in ["github-actions", "gitlab-ci"] {
        let item = format!("[data-testid=export-{forge}] [data-testid=export-warning]");
        assert!(b.attr_list(&item, "data-code").await.contains(&"SW502".to_string()), "{forge}");
    }
    paste(&b, "export-source", "https://x.example/slipway#sha256=nothex").await;
    b.wait("the source's error", Duration::from_secs(5), || async {
        !b.texts("[data-testid=export-source-error]").await.is_empty()
    })
    .await;
    paste(&b, "export-source", &format!("https://releases.example.com/slipway#sha256={}", "ab".repeat(32))).await;
    b.wait("a pinned install in both exports", Duration::from_secs(5), || async {
        export_text(&b, "github-actions").await.contains("sha256sum -c")
            && export_text(&b, "gitlab-ci").await.contains("sha256sum -c")
            && b.texts("[data-testid=export-source-error]").await.is_empty()
    })
    .await;
    for forge in ["github-actions", "gitlab-ci"] {
        let item = format!("[data-testid=export-{forge}] [data-testid=export-warning]");
        assert!(!b.attr_list(&item, "data-code").await.contains(&"SW502".to_string()), "{forge}");
    }

    // Native mode translates the steps into jobs: the step names appear, and what Docker or
    // the forge's shell does differently is listed as SW501 with its file and line.
    b.click("export-native").await;
    b.wait("native exports", Duration::from_secs(5), || async {
        export_text(&b, "gitlab-ci").await.contains("deploy_production")
            && !export_text(&b, "gitlab-ci").await.contains("slipway steps")
    })
    .await;
    for forge in ["github-actions", "gitlab-ci"] {
        let item = format!("[data-testid=export-{forge}] [data-testid=export-warning]");
        assert!(b.attr_list(&item, "data-code").await.iter().all(|c| c == "SW501"));
        let at: Vec<String> = b
            .attr_list(&item, "data-file")
            .await
            .into_iter()
            .zip(b.attr_list(&item, "data-line").await)
            .map(|(f, l)| format!("{f}:{l}"))
            .collect();
        // The example's `environment` beside an env file (services line 2), as `slipway export
        // --mode native` reports it. Its `printf` image tag (steps line 16) is translated now.
        assert!(at.contains(&"codeship-services.yml:2".to_string()), "{forge}: {at:?}");
        assert!(!at.contains(&"codeship-steps.yml:16".to_string()), "{forge}: {at:?}");
        assert!(export_text(&b, forge).await.contains("$(printf '%."), "{forge}: the printf tag is not translated");
    }
    let text = export_text(&b, "github-actions").await;
    assert!(text.contains("deploy_production"), "{text}");

    // Editing the steps file updates both previews (a step first: a manual group must be last).
    let steps = b.editor_text("steps").await;
    b.set_editor("steps", &format!("- name: smoke_after_edit\n  service: app\n  command: ./bin/smoke\n{steps}")).await;
    b.wait("the new step in both exports", Duration::from_secs(5), || async {
        export_text(&b, "github-actions").await.contains("smoke_after_edit")
            && export_text(&b, "gitlab-ci").await.contains("smoke_after_edit")
    })
    .await;
    // Back to Slipway mode: the workflow runs `slipway steps` again and has no per-step jobs.
    b.click("export-native").await;
    b.wait("slipway-mode exports", Duration::from_secs(5), || async {
        let t = export_text(&b, "github-actions").await;
        t.contains("slipway steps") && !t.contains("smoke_after_edit")
    })
    .await;
    // An error in the files: no export, and the panel says why.
    b.set_editor("steps", "- service: nope\n  command: x\n").await;
    b.wait("the exports withheld", Duration::from_secs(5), || async {
        export_text(&b, "github-actions").await.is_empty() && !b.texts("[data-testid=export-blocked]").await.is_empty()
    })
    .await;

    // Readable at 800 px: nothing wider than the window.
    b.set_editor("steps", &steps).await;
    b.click("export-native").await;
    b.client.set_window_size(800, 900).await.unwrap();
    b.wait("native exports again", Duration::from_secs(5), || async {
        export_text(&b, "gitlab-ci").await.contains("deploy_production")
    })
    .await;
    let widths = b
        .js("const p = document.querySelector('[data-testid=export-panel]'); \
             return [document.documentElement.clientWidth, p.getBoundingClientRect().right, \
               document.documentElement.scrollWidth, getComputedStyle(p).backgroundColor]")
        .await;
    let client = widths[0].as_f64().unwrap();
    assert!(widths[1].as_f64().unwrap() <= client + 0.5, "the panel overflows 800 px: {widths}");
    assert!(widths[2].as_f64().unwrap() <= client + 0.5, "the page scrolls sideways at 800 px: {widths}");
    // The dark theme's panel colour (--panel), like the other panels.
    assert_eq!(widths[3], "rgb(22, 28, 36)");
    b.js("document.querySelector('[data-testid=export-panel]').scrollIntoView()").await;
    save_screenshot("studio-export.png", &b.client.screenshot().await.unwrap());
    b.close().await;
}
