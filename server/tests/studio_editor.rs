//! The studio's editors end to end: diagnostics, completion, hovers, quick fixes, jumps, the
//! preview of which steps run, drafts, and the analysis worker.
//! Real headless Chromium against `slipway serve` serving the built studio (support/browser.rs);
//! `cargo xtask test` builds the studio first, and these tests say so when it has not been built.

mod support;

use fantoccini::actions::{Actions, InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::{Locator, key::Key};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use support::browser::*;

/// A small text is checked on the page's thread right after each edit: its underline is there
/// before the page runs its next task (no round trip through the worker, which waits for a
/// core on a busy machine). A large text's diagnostics come from the worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_texts_underlines_come_in_the_edits_own_task_and_a_large_ones_from_the_worker() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    b.set_editor("services", "app:\n  image: busybox\n").await;
    b.set_editor("steps", "- service: app\n  command: echo ok\n").await;
    b.wait("a clean check", Duration::from_secs(5), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.is_empty()
    })
    .await;
    // Only microtasks between the edit and the look: no message from the worker can arrive.
    let seen = b
        .js("const s = window.slipwayStudio; s.setText('steps', '- service: nope\\n  command: x\\n'); \
             return new Promise(r => queueMicrotask(() => r([s.diagnosticsVersion === s.edits(), s.diagnosticsThread, \
               [...document.querySelectorAll('[data-testid=steps-editor] [data-testid=diagnostic-mark]')].map(m => m.textContent)])))")
        .await;
    assert_eq!(seen, json!([true, "main", ["nope"]]), "the underline of the edit, checked on the page");
    // A whole-text replacement (Reset, an opened file) whose diagnostics are the same list as
    // before: the replacement dropped the old marks, so the list must be shown again.
    let again = b
        .js("const s = window.slipwayStudio; s.setText('steps', '- service: nope\\n  command: y\\n'); \
             return new Promise(r => queueMicrotask(() => r( \
               [...document.querySelectorAll('[data-testid=steps-editor] [data-testid=diagnostic-mark]')].map(m => m.textContent))))")
        .await;
    assert_eq!(again, json!(["nope"]), "the underline after a replacement with the same diagnostics");
    // Completion of a small text comes from the same check on the page, not from the worker.
    let asked = b
        .js("const s = window.slipwayStudio; s.setText('steps', '- service: a'); \
             return s.ask('complete', 'steps', 12).then(a => [s.answeredOn, JSON.parse(a).options.map(o => o.label)])")
        .await;
    assert_eq!(asked, json!(["main", ["app"]]), "completion of a small text");
    // ~40 KB of steps: the worker checks, the page does not.
    let mut large = String::new();
    for i in 0..800 {
        large.push_str(&format!("- name: step{i}\n  service: app\n  command: echo {i}\n"));
    }
    large.push_str("- service: nope\n  command: x\n");
    assert!(large.len() > 32 * 1024);
    b.set_editor("steps", &large).await;
    b.wait("the large text's diagnostics", Duration::from_secs(20), || async {
        b.js("const s = window.slipwayStudio; return s.diagnosticsVersion === s.edits()").await == json!(true)
    })
    .await;
    assert_eq!(b.js("return window.slipwayStudio.diagnosticsThread").await, json!("worker"));
    let asked = b
        .js("const s = window.slipwayStudio; const at = s.getText('steps').lastIndexOf('nope') + 2; \
             return s.ask('complete', 'steps', at).then(a => [s.answeredOn, JSON.parse(a).options.map(o => o.label)])")
        .await;
    assert_eq!(asked, json!(["worker", ["app"]]), "completion of a large text");
    // (Its underline is out of view; the Problems list has it, once typing pauses.)
    b.wait("the large text's problem", Duration::from_secs(20), || async {
        b.attr_list("[data-testid=diagnostics] li[data-code=SW102]", "data-line").await == ["2401"]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_an_error_shows_the_diagnostic_at_its_line() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    b.set_editor("services", "app:\n  image: busybox\n").await;
    // Non-ASCII before the error: the core's byte spans must land on the right UTF-16 offsets.
    let clean = "# café 🚀\n- service: app\n  command: echo ok\n";
    b.set_editor("steps", clean).await;
    b.wait("a clean check", Duration::from_secs(5), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.is_empty()
    })
    .await;

    // Type an unknown service on line 4. Ctrl+End (then release the modifier with NULL) puts
    // the cursor at the end; Enter indents the next line of the list item by itself.
    b.type_in("steps", &format!("{}{}{}", Key::Control, Key::End, Key::Null)).await;
    b.type_in("steps", &format!("- service: nope{}{}command: x", Key::Escape, Key::Enter)).await;
    let typed = Instant::now();
    b.wait("the SW102 diagnostic", Duration::from_secs(1), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.contains(&"SW102".to_string())
    })
    .await;
    let within = typed.elapsed();
    assert!(within < Duration::from_secs(1), "diagnostic took {within:?}");
    assert_eq!(b.editor_text("steps").await, format!("{clean}- service: nope\n  command: x"));
    let item = "[data-testid=diagnostics] li[data-code=SW102]";
    assert_eq!(b.attr_list(item, "data-line").await, ["4"]);
    assert_eq!(b.attr_list(item, "data-column").await, ["12"]);
    assert_eq!(b.attr_list(item, "data-severity").await, ["error"]);
    // Underlined in the editor at exactly the misspelt name, with a gutter marker.
    let mark = "[data-testid=steps-editor] [data-testid=diagnostic-mark]";
    b.wait("the underline", Duration::from_secs(2), || async { !b.texts(mark).await.is_empty() }).await;
    assert_eq!(b.texts(mark).await, ["nope"]);
    assert_eq!(b.attr_list(mark, "data-line").await, ["4"]);
    assert_eq!(b.attr_list(mark, "data-severity").await, ["error"]);
    assert_eq!(b.texts("[data-testid=steps-editor] .cm-lint-marker-error").await.len(), 1);
    // Clicking the diagnostic puts the cursor there: line 4, column 12 (in UTF-16 units).
    b.client.find(Locator::Css(item)).await.unwrap().click().await.unwrap();
    let expected = clean.encode_utf16().count() + 11;
    assert_eq!(b.cursor("steps").await, json!([expected, true]));
    // From the keyboard too: the entry takes focus and Enter moves the cursor.
    b.type_in("steps", &format!("{}{}", Key::Control, Key::Home)).await;
    b.js("document.querySelector('[data-testid=diagnostics] li').focus()").await;
    b.client.find(Locator::Css(item)).await.unwrap().send_keys(&Key::Enter.to_string()).await.unwrap();
    assert_eq!(b.cursor("steps").await, json!([expected, true]));
    b.close().await;
}

const IDE_SERVICES: &str = "app:\n  build:\n    image: acme/app\n    context: .\ndb:\n  image: postgres\n";
const IDE_STEPS: &str = "- name: one\n  service: app\n  command: true\n- name: push\n  type: push\n  service: app\n  image_name: acme/app\n  image_tag: \"{{ .Branch }}-{{ printf \\\"%.7s\\\" .CommitID }}\"\n";

/// The studio with both IDE files loaded and checked clean.
async fn ide_page(server: &Server) -> Browser {
    let b = Browser::start().await;
    b.open(&server.url).await;
    b.set_editor("services", IDE_SERVICES).await;
    b.set_editor("steps", IDE_STEPS).await;
    // These files checked (the example project has no step `one`), and clean.
    b.wait("a clean check of these files", Duration::from_secs(5), || async {
        !b.texts("[data-testid=plan] [data-step-name=one]").await.is_empty()
            && b.attr_list("[data-testid=diagnostics] li", "data-code").await.is_empty()
    })
    .await;
    b
}

const STEPS_LINES: &str = "//*[@data-testid='steps-editor']//*[contains(concat(' ', @class, ' '), ' cm-line ')]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_offers_the_services_and_a_pick_inserts_one() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = ide_page(&server).await;
    b.type_in("steps", &format!("{}{}{}", Key::Control, Key::End, Key::Null)).await;
    b.type_in("steps", &format!("- name: two{}{}service: ", Key::Escape, Key::Enter)).await;
    let typed = Instant::now();
    let items = "[data-testid=completion-item]";
    b.wait("the completion list", Duration::from_secs(2), || async { !b.texts(items).await.is_empty() }).await;
    eprintln!("completion popup after {:?} (WebDriver round trips included)", typed.elapsed());
    assert_eq!(b.texts(items).await, ["app", "db"]);
    save_screenshot("studio-completion.png", &b.client.screenshot().await.unwrap());
    b.client
        .find(Locator::XPath("//*[@data-testid='completion-item' and text()='app']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(b.editor_text("steps").await, format!("{IDE_STEPS}- name: two\n  service: app"));
    // From the keyboard: a new step (Shift+Tab takes the indent back), then Ctrl+Space opens
    // the list, Down and Enter pick the second item.
    b.type_in("steps", &format!("{}{}{}{}{}- name: three", Key::Escape, Key::Enter, Key::Shift, Key::Tab, Key::Null))
        .await;
    b.type_in("steps", &format!("{}{}service: ", Key::Escape, Key::Enter)).await;
    b.type_in("steps", &format!("{}{} {}", Key::Escape, Key::Control, Key::Null)).await;
    b.wait("the completion list", Duration::from_secs(2), || async { !b.texts(items).await.is_empty() }).await;
    // A person reads the list first; CodeMirror ignores keys in its first 75 ms, so that a
    // list popping up under fast typing does not swallow an Enter.
    tokio::time::sleep(Duration::from_millis(150)).await;
    b.type_in("steps", &format!("{}{}", Key::Down, Key::Enter)).await;
    let two = "- name: two\n  service: app\n";
    assert_eq!(b.editor_text("steps").await, format!("{IDE_STEPS}{two}- name: three\n  service: db"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_service_is_underlined_at_its_line_and_the_quick_fix_corrects_it() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = ide_page(&server).await;
    b.set_editor("steps", &IDE_STEPS.replacen("service: app", "service: ap", 1)).await;
    let mark = "[data-testid=steps-editor] [data-testid=diagnostic-mark][data-severity=error]";
    b.wait("the underline", Duration::from_secs(5), || async { !b.texts(mark).await.is_empty() }).await;
    assert_eq!(b.texts(mark).await, ["ap"]);
    assert_eq!(b.attr_list(mark, "data-line").await, ["2"]);
    b.hover("//*[@data-testid='steps-editor']//*[@data-testid='diagnostic-mark' and @data-severity='error']").await;
    let fix = "//*[contains(@class, 'cm-tooltip')]//*[@data-testid='quick-fix']";
    b.wait("the quick fix", Duration::from_secs(5), || async { b.client.find(Locator::XPath(fix)).await.is_ok() })
        .await;
    save_screenshot("studio-quick-fix.png", &b.client.screenshot().await.unwrap());
    b.client.find(Locator::XPath(fix)).await.unwrap().click().await.unwrap();
    assert_eq!(b.editor_text("steps").await, IDE_STEPS);
    b.wait("a clean check", Duration::from_secs(5), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.is_empty()
    })
    .await;
    // The fix is one undoable change; the Problems list offers it too.
    b.type_in("steps", &format!("{}z{}", Key::Control, Key::Null)).await;
    assert_eq!(b.editor_text("steps").await, IDE_STEPS.replacen("service: app", "service: ap", 1));
    let listed = "[data-testid=diagnostics] [data-testid=quick-fix]";
    b.wait("the listed fix", Duration::from_secs(5), || async { !b.texts(listed).await.is_empty() }).await;
    b.click_css(listed).await;
    assert_eq!(b.editor_text("steps").await, IDE_STEPS);
    b.close().await;
}

/// On an error, one tooltip: the hover (the message, its help and `slipway explain` text) with
/// the quick fix — not a lint tooltip stacked on a hover saying the same, which together
/// reached over the page's header; tooltips live under <body>, inside the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_shows_one_tooltip_with_the_fix_clear_of_the_header() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = ide_page(&server).await;
    b.set_editor("steps", &IDE_STEPS.replacen("service: app", "service: ap", 1)).await;
    let mark = "[data-testid=steps-editor] [data-testid=diagnostic-mark][data-severity=error]";
    b.wait("the underline", Duration::from_secs(5), || async { !b.texts(mark).await.is_empty() }).await;
    b.hover("//*[@data-testid='steps-editor']//*[@data-testid='diagnostic-mark' and @data-severity='error']").await;
    let texts = b.hover_texts().await;
    assert!(texts.iter().any(|t| t.contains("unknown service ap") && t.contains("SW102")), "{texts:?}");
    // Let any second tooltip appear, then count them.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let shown = b
        .js("const m = document.querySelector('header.top').getBoundingClientRect(); \
             const t = [...document.querySelectorAll('.cm-tooltip')].filter(e => e.offsetParent !== null || e.getClientRects().length > 0); \
             return t.map(e => { const r = e.getBoundingClientRect(); \
               return [!e.closest('.cm-editor'), r.top >= m.bottom - 0.5, e.querySelectorAll('[data-testid=quick-fix]').length, r.right <= window.innerWidth + 0.5, r.top, m.bottom]; })")
        .await;
    let shown = shown.as_array().cloned().unwrap_or_default();
    assert_eq!(shown.len(), 1, "one tooltip, not a hover and a lint tooltip: {shown:?}");
    assert_eq!(shown[0][0], true, "the tooltip is under <body>, not clipped by the editor: {shown:?}");
    assert_eq!(shown[0][1], true, "the tooltip covers the page's header: {shown:?}");
    assert_eq!(shown[0][2], 1, "the quick fix is in it: {shown:?}");
    assert_eq!(shown[0][3], true, "inside the window: {shown:?}");
    b.click_css(".cm-tooltip [data-testid=quick-fix]").await;
    assert_eq!(b.editor_text("steps").await, IDE_STEPS);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hovers_render_the_image_tag_and_document_keys() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = ide_page(&server).await;
    // The build preview's values: branch master, commit 4f1c2a9….
    b.hover(&format!("{STEPS_LINES}//*[contains(text(), '.CommitID')]")).await;
    let texts = b.hover_texts().await;
    assert!(texts.iter().any(|t| t.contains("renders to acme/app:master-4f1c2a9")), "{texts:?}");
    save_screenshot("studio-hover.png", &b.client.screenshot().await.unwrap());
    // Template spans have their own colour on top of the YAML string's.
    let templates = b.texts("[data-testid=steps-editor] .cm-template").await;
    assert_eq!(templates, ["{{ .Branch }}", "{{ printf \\\"%.7s\\\" .CommitID }}"]);
    // Away and onto a key: its documentation.
    b.hover("//header[contains(@class, 'top')]//h1").await;
    b.wait("the tooltip to close", Duration::from_secs(5), || async {
        b.texts("[data-testid=hover]").await.is_empty()
    })
    .await;
    b.hover(&format!("({STEPS_LINES}//*[text()='command'])[1]")).await;
    let texts = b.hover_texts().await;
    assert!(texts.iter().any(|t| t.starts_with("command")), "{texts:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f12_or_ctrl_click_on_a_service_jumps_to_its_definition() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = ide_page(&server).await;
    // The cursor on `app` of line 2 (`  service: app`), then F12.
    b.type_in("steps", &format!("{}{}", Key::Control, Key::Home)).await;
    b.type_in("steps", &format!("{}{}{}{}", Key::Null, Key::Down, Key::End, Key::Left)).await;
    b.type_in("steps", &Key::F12.to_string()).await;
    // `app` is defined on line 1 of the services file.
    cursor_reaches(&b, "services", json!([0, true])).await;
    // And `db` on line 3.
    b.set_editor("steps", &IDE_STEPS.replacen("service: app", "service: db", 1)).await;
    b.type_in("steps", &format!("{}{}", Key::Control, Key::Home)).await;
    b.type_in("steps", &format!("{}{}{}{}", Key::Null, Key::Down, Key::End, Key::Left)).await;
    b.type_in("steps", &Key::F12.to_string()).await;
    cursor_reaches(&b, "services", json!([IDE_SERVICES.find("db:").unwrap(), true])).await;
    // Ctrl+click on `app` of the push step (line 6) goes to line 1 again.
    let app = b.client.find(Locator::XPath(&format!("({STEPS_LINES})[6]"))).await.unwrap();
    let width = b
        .js("return document.querySelectorAll('[data-testid=steps-editor] .cm-line')[5].getBoundingClientRect().width")
        .await
        .as_f64()
        .unwrap();
    // `  service: app` in a monospace font: the pointer goes to the middle of its 13th character,
    // the second `p`, measured from the line's centre (where WebDriver offsets start).
    let char_w = b
        .js("const l = document.querySelectorAll('[data-testid=steps-editor] .cm-line')[5]; const r = document.createRange(); \
             r.setStart(l.firstChild, 0); r.setEnd(l.firstChild, 1); return r.getBoundingClientRect().width")
        .await
        .as_f64()
        .unwrap();
    let x = 12.5 * char_w - width / 2.0;
    let keys = KeyActions::new("ctrl".into())
        .then(KeyAction::Down { value: char::from(Key::Control) })
        .then(KeyAction::Pause { duration: Duration::from_millis(30) })
        .then(KeyAction::Pause { duration: Duration::from_millis(30) })
        .then(KeyAction::Pause { duration: Duration::from_millis(30) })
        .then(KeyAction::Up { value: char::from(Key::Control) });
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::Pause { duration: Duration::from_millis(30) })
        .then(PointerAction::MoveToElement { element: app, duration: None, x, y: 0.0 })
        .then(PointerAction::Down { button: fantoccini::actions::MOUSE_BUTTON_LEFT })
        .then(PointerAction::Up { button: fantoccini::actions::MOUSE_BUTTON_LEFT });
    b.client.perform_actions(Actions::from(keys).and(mouse)).await.unwrap();
    cursor_reaches(&b, "services", json!([0, true])).await;

    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tab_indents_in_the_editor_and_escape_then_tab_leaves_it() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    b.set_editor("steps", "- service: app\n").await;
    b.type_in("steps", &format!("{}{}{}x", Key::Control, Key::End, Key::Null)).await;
    b.type_in("steps", &format!("{}", Key::Tab)).await;
    let in_editor = "return document.activeElement.closest('[data-testid=steps-editor]') !== null";
    assert_eq!(b.js(in_editor).await, json!(true), "Tab left the editor");
    assert_eq!(b.editor_text("steps").await, "- service: app\n  x");
    // Undo takes the indent back.
    b.type_in("steps", &format!("{}z{}", Key::Control, Key::Null)).await;
    assert_eq!(b.editor_text("steps").await, "- service: app\nx");
    // Escape, then Tab: the keyboard moves on (CodeMirror's standard way out).
    b.type_in("steps", &format!("{}{}", Key::Escape, Key::Tab)).await;
    assert_eq!(b.js(in_editor).await, json!(false), "Escape then Tab did not leave the editor");
    assert_eq!(b.editor_text("steps").await, "- service: app\nx");
    // Pasted YAML lands as it was copied: no re-indenting, no closed brackets added.
    let pasted = "  - name: nested\n    steps:\n      - service: app\n        command: echo [a, {b\n";
    b.type_in("steps", &format!("{}{}{}", Key::Control, Key::End, Key::Null)).await;
    b.type_in("steps", &Key::Enter.to_string()).await;
    b.client
        .execute(
            "const dt = new DataTransfer(); dt.setData('text/plain', arguments[0]); \
             document.querySelector('[data-testid=steps-editor] .cm-content') \
               .dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}))",
            vec![json!(pasted)],
        )
        .await
        .unwrap();
    assert_eq!(b.editor_text("steps").await, format!("- service: app\nx\n{pasted}"));
    // At 800 px the editors stack and neither overflows the page.
    b.client.set_window_size(800, 900).await.unwrap();
    let rects = b
        .js("return ['services', 'steps'].map(n => document.querySelector(`[data-testid=${n}-editor]`).getBoundingClientRect()) \
             .map(r => [r.left, r.top, r.right]).concat([[document.documentElement.scrollWidth, window.innerWidth, 0]])")
        .await;
    let (sv, st, page) = (&rects[0], &rects[1], &rects[2]);
    assert!(st[1].as_f64() > sv[1].as_f64() && st[0] == sv[0], "not stacked: {rects}");
    assert!(page[0].as_f64() <= page[1].as_f64(), "the page scrolls sideways: {rects}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_errors_the_last_plan_stays_marked_stale_and_commands_keep_their_quotes() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    b.set_editor("services", "app:\n  image: busybox\n").await;
    b.set_editor("steps", "- name: probe\n  service: app\n  command: sh -c 'sleep 1; wget -qO- http://app/'\n").await;
    let what = "[data-testid=plan] [data-step-name=probe] .what";
    b.wait("the plan", Duration::from_secs(5), || async { !b.texts(what).await.is_empty() }).await;
    assert_eq!(b.texts(what).await, ["app · sh -c 'sleep 1; wget -qO- http://app/'"]);
    assert_eq!(b.attr_list("[data-testid=plan]", "data-stale").await, ["false"]);

    b.set_editor("steps", "- name: probe\n  service: nope\n  command: true\n").await;
    b.wait("the stale mark", Duration::from_secs(5), || async {
        b.attr_list("[data-testid=plan]", "data-stale").await == ["true"]
    })
    .await;
    // Still the last valid plan, with a note that says why it did not change.
    assert_eq!(b.texts(what).await, ["app · sh -c 'sleep 1; wget -qO- http://app/'"]);
    assert!(b.texts("[data-testid=plan-stale]").await[0].contains("errors"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_changes_which_steps_run_and_the_tags() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    b.click("reset-button").await;
    b.client.accept_alert().await.unwrap();
    let status = |name: &'static str| {
        let b = &b;
        async move { b.attr_list(&format!("[data-testid=plan] [data-step-name={name}]"), "data-status").await }
    };
    b.set_value("branch-input", "master").await;
    b.wait("push_app to run on master", Duration::from_secs(2), || async { status("push_app").await == ["will-run"] })
        .await;
    assert_eq!(status("deploy_production").await, ["will-run"]);
    assert_eq!(b.texts("[data-testid=tag-preview] li").await, ["registry.example.com/acme/app:master-4f1c2a9"]);

    b.set_value("branch-input", "release/1.2").await;
    b.wait("the release tag", Duration::from_secs(2), || async {
        b.texts("[data-testid=tag-preview] li").await == ["registry.example.com/acme/app:release1.2-4f1c2a9"]
    })
    .await;
    assert_eq!(status("deploy_production").await, ["skipped"]);

    b.set_value("branch-input", "feature/x").await;
    b.wait("push_app skipped", Duration::from_secs(2), || async { status("push_app").await == ["skipped"] }).await;
    assert_eq!(status("lint").await, ["will-run"]);
    // A push that does not run lists no tag: it is named as not pushed.
    b.wait("no tag listed", Duration::from_secs(2), || async {
        b.texts("[data-testid=tag-preview] li").await.is_empty()
    })
    .await;
    let skipped = b.texts("[data-testid=tag-skipped]").await;
    assert!(skipped.len() == 1 && skipped[0].contains("push_app"), "{skipped:?}");
    // No problems: the Problems list takes no room.
    let height =
        b.js("return document.querySelector('[data-testid=diagnostics]').getBoundingClientRect().height").await;
    assert_eq!(height.as_f64(), Some(0.0), "the empty Problems list takes room");
    // Push off: the push step is skipped whatever the branch.
    b.set_value("branch-input", "master").await;
    b.client.find(Locator::Css("[data-testid=push-toggle]")).await.unwrap().click().await.unwrap();
    b.wait("push_app skipped without push", Duration::from_secs(2), || async {
        status("push_app").await == ["skipped"]
    })
    .await;

    // Keep the README's screenshot current.
    b.client.find(Locator::Css("[data-testid=push-toggle]")).await.unwrap().click().await.unwrap();
    save_screenshot("studio.png", &b.client.screenshot().await.unwrap());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_draft_and_reset_asks_restores_the_example_and_can_be_undone() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    let draft = "drafted:\n  image: busybox\n";
    b.set_editor("services", draft).await;
    b.client.refresh().await.unwrap();
    b.open(&server.url).await;
    assert_eq!(b.editor_text("services").await, draft);
    // Reset asks first; declining keeps the draft.
    b.click("reset-button").await;
    b.client.dismiss_alert().await.unwrap();
    assert_eq!(b.editor_text("services").await, draft);
    b.click("reset-button").await;
    b.client.accept_alert().await.unwrap();
    b.wait("the example", Duration::from_secs(2), || async { b.editor_text("services").await.contains("postgres") })
        .await;
    b.client.refresh().await.unwrap();
    b.open(&server.url).await;
    assert!(b.editor_text("services").await.contains("postgres"), "reset did not clear the draft");
    // Reset is one change in each editor's history: Ctrl+Z brings the draft back.
    b.set_editor("services", draft).await;
    b.click("reset-button").await;
    b.client.accept_alert().await.unwrap();
    b.wait("the example", Duration::from_secs(2), || async { b.editor_text("services").await.contains("postgres") })
        .await;
    b.type_in("services", &format!("{}z{}", Key::Control, Key::Null)).await;
    assert_eq!(b.editor_text("services").await, draft);
    b.close().await;
}

/// The editor's figures for docs/perf.md (`cargo test -p slipway --test studio_editor -- --ignored
/// editor_latency --nocapture`): keystroke → diagnostics in the view, keystroke → next frame
/// (text and highlighting), keystroke → completion popup, and the longest task meanwhile, for
/// 00.aggregate and ~5,000 steps. Times are the page's own clock (`performance.now()`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn editor_latency() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    for which in ["aggregate", "large"] {
        let files = match which {
            // Not shipped in the wasm: read here.
            "aggregate" => {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/examples/00.aggregate");
                let read = |f: &str| json!(std::fs::read_to_string(dir.join(f)).unwrap());
                json!([read("codeship-services.yml"), read("codeship-steps.yml")])
            }
            _ => b.js(&format!("return window.wasmBindings.bench_files('{which}')")).await,
        };
        let (services, steps) = (files[0].as_str().unwrap(), files[1].as_str().unwrap());
        let first = services.lines().next().unwrap().trim_end_matches(':').to_string();
        b.set_editor("services", services).await;
        // A last step whose service name the typing below breaks and mends.
        b.set_editor("steps", &format!("{steps}- command: \"true\"\n  service: {first}")).await;
        b.wait("a clean check", Duration::from_secs(20), || async {
            b.attr_list("[data-testid=diagnostics] li[data-severity=error]", "data-code").await.is_empty()
        })
        .await;
        // CodeMirror parses a large text in the background (idle slices) once, after it is
        // loaded: the typing below measures the steady state after it.
        b.type_in("steps", &format!("{}{}{}", Key::Control, Key::End, Key::Null)).await;
        let parse = b
            .wait("CodeMirror's parse of both texts", Duration::from_secs(120), || async {
                // (Builds from before the hook: no wait.)
                b.js("const s = slipwayStudio; return !s.parsed || (s.parsed('services') && s.parsed('steps'))").await
                    == json!(true)
            })
            .await;
        eprintln!("editor {which}: CodeMirror's background parse done {parse:?} after the clean check");
        // The page takes a text 1 s after its last change (Problems list, preview, drafts,
        // Export panel: tens of ms at 5,000 steps). That belongs to the pause after loading,
        // not to the typing measured next, which pauses less: wait it out.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // One observer and one listener for both projects (the editor stays the same).
        b.js("window.__longs = []; if (!window.__observing) { window.__observing = true; \
              new PerformanceObserver(l => l.getEntries().forEach(e => \
              window.__longs.push([e.startTime, e.duration]))).observe({type: 'longtask'}); \
              document.querySelector('[data-testid=steps-editor] .cm-content').addEventListener('keydown', () => { \
                window.__t0 = performance.now(); requestAnimationFrame(() => window.__frame = performance.now()); }, true); }")
            .await;
        b.type_in("steps", &format!("{}{}{}", Key::Control, Key::End, Key::Null)).await;
        let (mut diag, mut frame, mut edit) = (Vec::new(), Vec::new(), Vec::new());
        let edits_before = b.js("return window.slipwayStudio.edits ? window.slipwayStudio.edits() : 0").await;
        for i in 0..20 {
            b.js("window.slipwayStudio.diagnosticsAt = 0; window.__frame = 0").await;
            let key = if i % 2 == 0 { "x".to_string() } else { Key::Backspace.to_string() };
            b.type_in("steps", &key).await;
            b.wait("the diagnostics", Duration::from_secs(5), || async {
                b.js("return window.slipwayStudio.diagnosticsAt > window.__t0 && window.__frame > 0").await
                    == json!(true)
            })
            .await;
            let t =
                b.js("const s = window.slipwayStudio; \
                      return [s.diagnosticsAt - window.__t0, window.__frame - window.__t0, (s.editAt || 0) - window.__t0]")
                    .await;
            if i >= 18 {
                let hops = b.js("return JSON.stringify(window.slipwayStudio.hops)").await;
                eprintln!("editor {which}: keystroke {i}: {} ms to diagnostics, hops {hops}", t[0]);
            }
            diag.push(t[0].as_f64().unwrap());
            frame.push(t[1].as_f64().unwrap());
            edit.push(t[2].as_f64().unwrap());
        }
        let edits = b.js("return window.slipwayStudio.edits ? window.slipwayStudio.edits() : 0").await;
        eprintln!(
            "editor {which}: {} edits sent to the worker for 20 keystrokes",
            edits.as_i64().unwrap_or(0) - edits_before.as_i64().unwrap_or(0)
        );
        // Completion: the service name typed afresh after `service: `.
        for _ in 0..first.len() {
            b.type_in("steps", &Key::Backspace.to_string()).await;
        }
        let letter = first.chars().next().unwrap().to_string();
        let mut popup = Vec::new();
        for _ in 0..10 {
            b.type_in("steps", &Key::Escape.to_string()).await;
            b.js("window.__popup = 0; const o = new MutationObserver(() => { \
                  if (document.querySelector('.cm-tooltip-autocomplete') && !window.__popup) { window.__popup = performance.now(); o.disconnect(); } }); \
                  o.observe(document.body, {childList: true, subtree: true})")
                .await;
            b.type_in("steps", &letter).await;
            b.wait("the popup", Duration::from_secs(5), || async {
                b.js("return window.__popup > 0").await == json!(true)
            })
            .await;
            popup.push(b.js("return window.__popup - window.__t0").await.as_f64().unwrap());
            b.type_in("steps", &format!("{}{}", Key::Escape, Key::Backspace)).await;
        }
        // Long tasks while typing, and (after the typing) while the page takes the settled
        // text and the worker's report: the Problems list, the preview, the drafts, the
        // Export panel.
        let typed = b.js("return performance.now()").await.as_f64().unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let longs = b.js("return window.__longs").await;
        let longs: Vec<(f64, f64)> =
            longs.as_array().unwrap().iter().map(|e| (e[0].as_f64().unwrap(), e[1].as_f64().unwrap())).collect();
        let longest =
            |typing: bool| longs.iter().filter(|(at, _)| (*at < typed) == typing).map(|(_, d)| *d).fold(0.0, f64::max);
        let (long, long_after) = (longest(true), longest(false));
        let report = b
            .js("const s = window.slipwayStudio; \
                 return [s.reportMs, s.reportPageMs, s.checkMs, s.checkedMs, s.diagnosticsMs, s.showMs]")
            .await;
        // The bare check, in the same page at the same time: how loaded the machine is.
        let check = b
            .client
            .execute(
                "return window.wasmBindings.bench_validate(arguments[0], arguments[1], 5)",
                vec![files[0].clone(), files[1].clone()],
            )
            .await
            .unwrap();
        let med = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2], v[v.len() - 1])
        };
        let (d, f, p, e) = (med(&mut diag), med(&mut frame), med(&mut popup), med(&mut edit));
        eprintln!(
            "editor {which}: keystroke → its transaction (CodeMirror has the edit) median {:.1} ms (max {:.1})",
            e.0, e.1
        );
        eprintln!(
            "editor {which}: keystroke → diagnostics median {:.1} ms (max {:.1}); → next frame median {:.1} ms (max {:.1}); \
             → completion popup median {:.1} ms (max {:.1}); longest task {long:.0} ms while typing, {long_after:.0} ms \
             after; {} long tasks; last check in the worker {} ms ({} ms with its copies, then {} ms for the \
             diagnostics there and {} ms to show them), its report {} ms there and {} ms on the page; bare check {check} ms",
            d.0,
            d.1,
            f.0,
            f.1,
            p.0,
            p.1,
            longs.len(),
            report[2],
            report[3],
            report[4],
            report[5],
            report[0],
            report[1]
        );
    }
    b.close().await;
}

/// The editors' analysis runs in the worker, never on the page's thread. In the ~5,000-step
/// project (a whole check there is tens of milliseconds, enough to be felt in every
/// keystroke), a misspelt service typed at the end gets its underline and its Problems entry,
/// and the page records which thread made the diagnostics it shows: the wasm module's own
/// view of its global (a window, or a worker's scope). That is a fact of the page, not a time,
/// so it holds on a loaded machine where a long-task or latency bound would not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editors_analysis_runs_in_a_worker_not_on_the_page_thread() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    let files = b.js("return window.wasmBindings.bench_files('large')").await;
    let (services, steps) = (files[0].as_str().unwrap(), files[1].as_str().unwrap());
    let first = services.lines().next().unwrap().trim_end_matches(':').to_string();
    let steps = format!("{steps}- command: \"true\"\n  service: {first}");
    b.set_editor("services", services).await;
    b.set_editor("steps", &steps).await;
    b.wait("a clean check of 5,000 steps", Duration::from_secs(30), || async {
        b.js("return window.slipwayStudio.diagnosticsAt > 0").await == json!(true)
            && b.attr_list("[data-testid=diagnostics] li", "data-code").await.is_empty()
    })
    .await;

    b.type_in("steps", &format!("{}{}{}zz", Key::Control, Key::End, Key::Null)).await;
    let last = steps.lines().count().to_string();
    let mark = "[data-testid=steps-editor] [data-testid=diagnostic-mark]";
    b.wait("the underline of the misspelt service", Duration::from_secs(10), || async {
        b.texts(mark).await == [format!("{first}zz")]
    })
    .await;
    assert_eq!(b.attr_list(mark, "data-line").await, std::slice::from_ref(&last));
    assert_eq!(b.js("return window.slipwayStudio.diagnosticsThread").await, json!("worker"));
    // The Problems list gets the worker's report of the same check once typing pauses.
    let item = "[data-testid=diagnostics] li[data-code=SW102]";
    b.wait("the Problems entry", Duration::from_secs(10), || async {
        !b.attr_list(item, "data-line").await.is_empty()
    })
    .await;
    assert_eq!(b.attr_list(item, "data-line").await, [last]);
    b.close().await;
}

/// The header's jump buttons move the focus, not only the view, and leave the address alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_jumps_move_the_focus_to_their_part_of_the_page() {
    let _serial = SERIAL.lock().await;
    let (server, _project) = with_sample_no_engine();
    let b = Browser::start().await;
    b.open_with_token(&server.url).await;
    b.click("nav-run").await;
    b.wait("the focus in the Run panel", Duration::from_secs(5), || async {
        b.js("return document.activeElement.id").await == json!("run-panel")
    })
    .await;
    b.click_css("nav.jump button:first-child").await;
    b.wait("the focus on Problems", Duration::from_secs(5), || async {
        b.js("return document.activeElement.dataset.testid").await == json!("diagnostics")
    })
    .await;
    assert_eq!(b.js("return location.hash").await, json!(""));
    b.close().await;
}
