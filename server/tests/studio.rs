//! The studio end to end: real headless Chromium (Debian's chromium + chromedriver) through
//! WebDriver, against `slipway serve` serving the built studio. `cargo xtask test` builds the
//! studio first; these tests fail with a clear message when it has not been built.

mod support;

use fantoccini::actions::{Actions, InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::{Client, Locator, key::Key};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use std::time::{Duration, Instant};

/// One browser at a time: the build machine has two cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Server {
    child: Child,
    url: String,
    log: PathBuf,
    /// The `serve` arguments, for a restart on the same port with the same data.
    args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Server::start_with(&[])
    }

    /// With extra `slipway serve` arguments (projects).
    fn start_with(extra: &[String]) -> Server {
        let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/index.html");
        let index = std::fs::read_to_string(&dist).unwrap_or_default();
        assert!(
            index.contains(".wasm"),
            "the studio is not built ({}); run `cargo xtask studio` or `cargo xtask test`",
            dist.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        // A fixed port (rather than 0) so that a restart keeps the page's origin.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut args = vec!["--addr".to_string(), format!("127.0.0.1:{port}")];
        args.extend(["--request-log".to_string(), log.display().to_string()]);
        args.extend(["--data-dir".to_string(), dir.path().display().to_string()]);
        args.extend(extra.iter().cloned());
        let (child, url) = support::serve(&args, "studio-test-token");
        Server { child, url, log, args, _dir: dir }
    }

    /// With the Docker engine up and a copy of examples/sample registered as `sample`.
    fn with_sample() -> (Server, tempfile::TempDir) {
        support::env_up();
        let project = sample_project();
        (Server::start_with(&["--project".into(), format!("sample={}", project.path().display())]), project)
    }

    /// SIGKILL (a crash: no cleanup), then start again on the same port with the same data.
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.child, self.url) = support::serve(&self.args, "studio-test-token");
    }

    fn requests(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The raw response headers of `GET /`.
    fn index_headers(&self) -> String {
        let addr = self.url.trim_start_matches("http://").trim_end_matches('/');
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split("\r\n\r\n").next().unwrap_or("").to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Browser {
    client: Client,
    chromium: support::Chromium,
}

impl Browser {
    async fn start() -> Browser {
        let chromium = support::Chromium::start().await;
        Browser { client: chromium.client.clone(), chromium }
    }

    async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        // Interactive once the editors exist.
        self.wait("the studio to load", Duration::from_secs(20), || async {
            self.client.find(Locator::Css("[data-testid=steps-editor]")).await.is_ok()
        })
        .await;
    }

    async fn wait<F, Fut>(&self, what: &str, timeout: Duration, mut cond: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        loop {
            if cond().await {
                return start.elapsed();
            }
            assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    async fn value(&self, testid: &str) -> String {
        self.js(&format!("return document.querySelector('[data-testid={testid}]').value"))
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    async fn set_value(&self, testid: &str, text: &str) {
        // Clear, then type for real (keystrokes, input events).
        let el = self.client.find(Locator::Css(&format!("[data-testid={testid}]"))).await.unwrap();
        el.click().await.unwrap();
        el.send_keys(&format!("{}a{}", Key::Control, Key::Null)).await.unwrap();
        el.send_keys(&Key::Backspace.to_string()).await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// An editor's text, through the page's automation hook.
    async fn editor_text(&self, name: &str) -> String {
        self.js(&format!("return window.slipwayStudio.getText('{name}')")).await.as_str().unwrap_or("").to_string()
    }

    /// Replace an editor's text through the automation hook (for the setup; typing is `type_in`).
    async fn set_editor(&self, name: &str, text: &str) {
        self.client
            .execute("window.slipwayStudio.setText(arguments[0], arguments[1])", vec![json!(name), json!(text)])
            .await
            .unwrap();
    }

    /// Type into an editor, key by key, as a person does: keyboard actions at the cursor (an
    /// element's send_keys would first move the cursor to the end of the element). As with
    /// send_keys, a modifier stays pressed until `Key::Null`.
    async fn type_in(&self, name: &str, keys: &str) {
        self.js(&format!("document.querySelector('[data-testid={name}-editor] .cm-content').focus()")).await;
        let modifiers = [Key::Control, Key::Shift, Key::Alt, Key::Meta].map(char::from);
        let mut held = Vec::new();
        let mut actions = KeyActions::new("keyboard".into());
        for c in keys.chars() {
            if modifiers.contains(&c) {
                actions = actions.then(KeyAction::Down { value: c });
                held.push(c);
            } else if c == char::from(Key::Null) {
                for m in held.drain(..) {
                    actions = actions.then(KeyAction::Up { value: m });
                }
            } else {
                actions = actions.then(KeyAction::Down { value: c }).then(KeyAction::Up { value: c });
            }
        }
        for m in held {
            actions = actions.then(KeyAction::Up { value: m });
        }
        self.client.perform_actions(actions).await.unwrap();
    }

    /// Move the mouse over the element at `xpath` (hover tooltips open on a pause there).
    async fn hover(&self, xpath: &str) {
        let el = self.client.find(Locator::XPath(xpath)).await.unwrap();
        let mouse = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element: el,
            duration: Some(Duration::from_millis(50)),
            x: 0.0,
            y: 0.0,
        });
        self.client.perform_actions(mouse).await.unwrap();
    }

    /// Texts of the hover tooltips once one shows.
    async fn hover_texts(&self) -> Vec<String> {
        self.wait("a hover tooltip", Duration::from_secs(5), || async {
            !self.texts("[data-testid=hover]").await.is_empty()
        })
        .await;
        self.texts("[data-testid=hover]").await
    }

    /// The cursor of an editor: UTF-16 offset and whether the editor has focus.
    async fn cursor(&self, name: &str) -> Value {
        self.js(&format!("const c = window.slipwayStudio.cursor('{name}'); return [c.head, c.focused]")).await
    }

    async fn attr_list(&self, selector: &str, attr: &str) -> Vec<String> {
        let v = self
            .js(&format!("return [...document.querySelectorAll('{selector}')].map(e => e.getAttribute('{attr}'))"))
            .await;
        v.as_array().unwrap().iter().map(|x| x.as_str().unwrap_or("").to_string()).collect()
    }

    async fn texts(&self, selector: &str) -> Vec<String> {
        let v = self.js(&format!("return [...document.querySelectorAll('{selector}')].map(e => e.textContent)")).await;
        v.as_array().unwrap().iter().map(|x| x.as_str().unwrap_or("").to_string()).collect()
    }

    /// Open the studio with the API token already in the tab's session storage, and wait for
    /// the Run panel.
    async fn open_with_token(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        self.js("sessionStorage.setItem('slipway.token', JSON.stringify('studio-test-token'))").await;
        self.open(url).await;
        self.wait("the Run button", Duration::from_secs(5), || async {
            self.client.find(Locator::Css("[data-testid=run-start]")).await.is_ok()
        })
        .await;
    }

    /// The Run panel's current run: its status, the log as shown, and `step=status` for every
    /// node of the graph; read in one script so the three agree.
    async fn run_snapshot(&self) -> (String, String, Vec<String>) {
        let v = self
            .js("const c = document.querySelector('[data-testid=run-current]'); \
                 const l = document.querySelector('[data-testid=run-log]'); \
                 return [c ? c.dataset.runStatus : '', l ? l.textContent : '', \
                   [...document.querySelectorAll('[data-testid=run-graph] li')].map(e => e.dataset.stepName + '=' + e.dataset.runStatus)]")
            .await;
        let graph: Vec<String> = v[2].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
        (v[0].as_str().unwrap().to_string(), v[1].as_str().unwrap().to_string(), graph)
    }

    /// A request from the page (same origin, as the studio makes them), with the token or
    /// without: the status and the body.
    async fn xhr(&self, method: &str, path: &str, token: bool, body: Option<&str>) -> (u64, String) {
        let v = self
            .client
            .execute(
                "const x = new XMLHttpRequest(); x.open(arguments[0], arguments[1], false); \
                 if (arguments[2]) x.setRequestHeader('Authorization', 'Bearer studio-test-token'); \
                 if (arguments[3] !== null) x.setRequestHeader('Content-Type', 'application/json'); \
                 x.send(arguments[3]); return [x.status, x.responseText];",
                vec![json!(method), json!(path), json!(token), json!(body)],
            )
            .await
            .unwrap();
        (v[0].as_u64().unwrap(), v[1].as_str().unwrap().to_string())
    }

    /// The `top` and `bottom` of an element's box in the viewport, and the viewport's height.
    async fn rect(&self, css: &str) -> (f64, f64, f64) {
        let v = self
            .client
            .execute(
                "const r = document.querySelector(arguments[0]).getBoundingClientRect(); \
                 return [r.top, r.bottom, window.innerHeight];",
                vec![json!(css)],
            )
            .await
            .unwrap();
        (v[0].as_f64().unwrap(), v[1].as_f64().unwrap(), v[2].as_f64().unwrap())
    }

    async fn current_run_id(&self) -> String {
        self.attr_list("[data-testid=run-current]", "data-run-id").await.pop().unwrap_or_default()
    }

    async fn click_css(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    async fn click(&self, testid: &str) {
        self.client.find(Locator::Css(&format!("[data-testid={testid}]"))).await.unwrap().click().await.unwrap();
    }

    async fn close(self) {
        self.chromium.close().await;
    }
}

/// Screenshots go to target/screenshots/; with `SLIPWAY_UPDATE_SCREENSHOTS=1` also to docs/,
/// where the README shows them (so a plain test run leaves the work tree clean).
fn save_screenshot(name: &str, png: &[u8]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
    if std::env::var_os("SLIPWAY_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(root.join("docs").join(name), png).unwrap();
    }
}

fn slipway(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_slipway")).args(args).output().unwrap();
    assert!(out.status.success(), "slipway {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

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
async fn encryption_round_trips_with_the_cli_and_nothing_leaves_the_page() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("codeship.aes");
    slipway(&["generate", "--key-path", key_path.to_str().unwrap()]);
    let key = std::fs::read_to_string(&key_path).unwrap().trim().to_string();
    let plaintext = "API_TOKEN=page-secret-7f3a9\nDB_PASSWORD=correct horse battery\n";

    let b = Browser::start().await;
    b.open(&server.url).await;
    b.set_value("key-input", &key).await;
    // The key is hidden like a password until asked for; Decrypt's arrow points where it writes.
    let key_type = || b.js("return document.querySelector('[data-testid=key-input]').type");
    assert_eq!(key_type().await, "password");
    b.click("key-show").await;
    assert_eq!(key_type().await, "text");
    assert_eq!(b.value("key-input").await, key);
    b.click("key-show").await;
    assert_eq!(key_type().await, "password");
    assert!(b.texts("[data-testid=decrypt-button]").await[0].contains('↓'));
    b.set_value("plaintext-input", plaintext).await;
    b.client.find(Locator::Css("[data-testid=encrypt-button]")).await.unwrap().click().await.unwrap();
    b.wait("ciphertext", Duration::from_secs(2), || async {
        b.value("ciphertext-output").await.starts_with("slipway:aead1\n")
    })
    .await;
    let cipher = b.value("ciphertext-output").await;
    let enc = dir.path().join("page.encrypted");
    std::fs::write(&enc, &cipher).unwrap();
    let out = dir.path().join("page.decrypted");
    slipway(&["decrypt", "--key-path", key_path.to_str().unwrap(), enc.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), plaintext);

    // The other way: the CLI encrypts (both formats), the page decrypts.
    for format in ["v2", "aead"] {
        let src = dir.path().join("cli.env");
        std::fs::write(&src, "FROM_CLI=cli-secret-42\n").unwrap();
        let enc = dir.path().join(format!("cli.{format}.encrypted"));
        slipway(&[
            "encrypt",
            "--format",
            format,
            "--key-path",
            key_path.to_str().unwrap(),
            src.to_str().unwrap(),
            enc.to_str().unwrap(),
        ]);
        b.set_value("ciphertext-output", std::fs::read_to_string(&enc).unwrap().trim_end()).await;
        b.client.find(Locator::Css("[data-testid=decrypt-button]")).await.unwrap().click().await.unwrap();
        b.wait("plaintext", Duration::from_secs(2), || async {
            b.value("plaintext-output").await == "FROM_CLI=cli-secret-42\n"
        })
        .await;
        assert_eq!(
            b.texts("[data-testid=plaintext-kind]").await[0].split(" · ").next().unwrap(),
            "env file with 1: FROM_CLI"
        );
    }

    // No request carried the key or a plaintext, and the page may only talk to its origin.
    let log = server.requests();
    assert!(log.contains("\"uri\":\"/\""), "the request log is empty: {log}");
    for secret in [key.as_str(), "page-secret-7f3a9", "correct horse battery", "cli-secret-42", &cipher[14..40]] {
        assert!(!log.contains(secret), "a request carried {secret:?}");
    }
    let headers = server.index_headers().to_ascii_lowercase();
    let csp = headers.lines().find(|l| l.starts_with("content-security-policy:")).expect("CSP header");
    assert!(csp.contains("connect-src 'self'") && csp.contains("default-src 'self'"), "{csp}");
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

/// examples/sample copied to a temporary folder, so runs never write into the repository.
fn sample_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample");
    for name in ["codeship-services.yml", "codeship-steps.yml"] {
        std::fs::copy(sample.join(name), dir.path().join(name)).unwrap();
    }
    dir
}

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

/// The editor's figures for docs/perf.md (`cargo test -p slipway --test studio -- --ignored
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

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures/vectors");

/// Set a text field's value as a paste does (one input event), faster than typing a file.
async fn paste(b: &Browser, testid: &str, text: &str) {
    b.client
        .execute(
            "const e = document.querySelector(`[data-testid=${arguments[0]}]`); e.value = arguments[1]; \
             e.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![json!(testid), json!(text)],
        )
        .await
        .unwrap();
}

/// Drop files (name, text) on an element, as a drag from the file manager does.
async fn drop_files(b: &Browser, testid: &str, files: &[(&str, String)]) {
    let files: Vec<Value> = files.iter().map(|(n, t)| json!([n, t])).collect();
    b.client
        .execute(
            "const dt = new DataTransfer(); for (const [n, t] of arguments[1]) dt.items.add(new File([t], n)); \
             document.querySelector(`[data-testid=${arguments[0]}]`)\
               .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));",
            vec![json!(testid), json!(files)],
        )
        .await
        .unwrap();
}

/// Decrypt `cipher` with `key` in the page's crypto panel: the plaintext, or the error shown.
async fn decrypt_in_page(b: &Browser, key: &str, cipher: &str) -> Result<String, String> {
    paste(b, "key-input", key).await;
    paste(b, "ciphertext-output", cipher).await;
    // The callers alternate success and failure, so each decryption changes the message.
    let before = b.texts("[data-testid=crypto-message]").await;
    b.click("decrypt-button").await;
    b.wait("the decryption", Duration::from_secs(2), || async {
        let now = b.texts("[data-testid=crypto-message]").await;
        !now.is_empty() && now != before
    })
    .await;
    let message = b.texts("[data-testid=crypto-message]").await.join("");
    let ok = b.attr_list("[data-testid=crypto-message]", "class").await.join("").contains("ok");
    if ok { Ok(b.value("plaintext-output").await) } else { Err(message) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_in_the_page_keeps_formats_and_is_all_or_nothing() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let read = |name: &str| std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap();
    let key_a = read("jet-v2-generated/codeship.aes").trim().to_string();
    let env = read("jet-v2-generated/env");

    let b = Browser::start().await;
    b.open(&server.url).await;
    let steps = b.editor_text("steps").await;
    // Key A encrypts a file in the page (aead); jet's vectors add a v2 and a v1 file under it.
    paste(&b, "key-input", &key_a).await;
    paste(&b, "plaintext-input", "PAGE_SECRET=made-in-the-page\n").await;
    b.click("encrypt-button").await;
    b.wait("ciphertext", Duration::from_secs(2), || async {
        b.value("ciphertext-output").await.starts_with("slipway:aead1\n")
    })
    .await;
    let files = [
        ("env.encrypted", read("jet-v2-generated/env.encrypted")),
        ("env.v1.encrypted", read("jet-v2-generated/env.v1.encrypted")),
        ("page.encrypted", b.value("ciphertext-output").await),
    ];
    let originals = [env.as_str(), env.as_str(), "PAGE_SECRET=made-in-the-page\n"];

    // Key B, generated in the page.
    b.click("rekey-generate").await;
    let key_b = b.value("rekey-new-key").await;
    assert_eq!(key_b.len(), 44, "{key_b:?}");
    assert_ne!(key_b, key_a);

    drop_files(&b, "rekey-drop", &files).await;
    b.wait("three rekeyed files", Duration::from_secs(5), || async {
        b.texts("[data-testid=rekey-result]").await.len() == 3
    })
    .await;
    // The drop was the panel's: the studio did not take the files for configuration files
    // (it would say "Ignored env.encrypted: not a Codeship services or steps file").
    assert_eq!(b.editor_text("steps").await, steps);
    assert_eq!(b.texts("header.top .notice").await, Vec::<String>::new());
    let item = "[data-testid=rekey-result]";
    assert_eq!(b.attr_list(item, "data-name").await, files.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    assert_eq!(b.attr_list(item, "data-from").await, ["v2", "v1", "aead"]);
    // v2 and aead kept; v1 upgraded (to aead by default), and the page says so.
    assert_eq!(b.attr_list(item, "data-to").await, ["v2", "aead", "aead"]);
    assert!(b.texts(item).await[1].contains("v1 upgraded to aead"), "{:?}", b.texts(item).await);
    let outputs: Vec<String> = b
        .js("return [...document.querySelectorAll('[data-testid=rekey-output]')].map(e => e.value)")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(outputs[0].starts_with("codeship:v2\n") && outputs[2].starts_with("slipway:aead1\n"), "{outputs:?}");

    // Key B opens each result to the original bytes; key A opens none of them.
    for ((name, _), (out, original)) in files.iter().zip(outputs.iter().zip(originals)) {
        assert_eq!(decrypt_in_page(&b, &key_b, out).await.as_deref(), Ok(original), "{name} with the new key");
        let err = decrypt_in_page(&b, &key_a, out).await.expect_err("the old key still opens it");
        assert!(err.contains("checksum") || err.contains("authentication failed"), "{name}: {err}");
    }

    // v1 can become jet v2 instead (the key field holds key A again after the loop).
    b.js("const s = document.querySelector('[data-testid=rekey-v1-format]'); s.value = 'v2'; \
          s.dispatchEvent(new Event('change', { bubbles: true }))")
        .await;
    b.wait("v1 written as v2", Duration::from_secs(5), || async {
        b.attr_list(item, "data-to").await == ["v2", "v2", "aead"]
    })
    .await;

    // A wrong old key: an error naming the first file that fails, and nothing offered.
    let key_c = read("negative/wrong-key.aes").trim().to_string();
    paste(&b, "key-input", &key_c).await;
    drop_files(&b, "rekey-drop", &files).await;
    b.wait("the rekey error", Duration::from_secs(5), || async {
        !b.texts("[data-testid=rekey-error]").await.is_empty()
    })
    .await;
    let error = b.texts("[data-testid=rekey-error]").await.join("");
    assert!(error.starts_with("Nothing was rekeyed: env.encrypted: does not decrypt with the old key"), "{error}");
    assert!(b.texts(item).await.is_empty(), "files were offered despite the error");

    // Neither key nor any plaintext left the page.
    let log = server.requests();
    assert!(log.contains("\"uri\":\"/\""), "the request log is empty: {log}");
    for secret in [key_a.as_str(), key_b.as_str(), "made-in-the-page", "www.example.com"] {
        assert!(!log.contains(secret), "a request carried {secret:?}");
    }
    b.client.set_window_size(800, 900).await.unwrap();
    paste(&b, "key-input", &key_a).await;
    b.wait("the rekeyed files again", Duration::from_secs(5), || async {
        b.texts("[data-testid=rekey-result]").await.len() == 3
    })
    .await;
    b.js("document.querySelector('[data-testid=rekey]').scrollIntoView()").await;
    save_screenshot("studio-rekey.png", &b.client.screenshot().await.unwrap());
    b.close().await;
}

// The Run panel as a new user needs it (issue 9 part 3, issue 11 part 6).

/// A registered copy of examples/sample without the Docker engine: enough for what happens
/// before a run starts.
fn with_sample_no_engine() -> (Server, tempfile::TempDir) {
    let project = sample_project();
    (Server::start_with(&["--project".into(), format!("sample={}", project.path().display())]), project)
}

const BUSYBOX_SERVICES: &str = "app:\n  image: slipway-test/busybox:latest\n";

/// Start a run of the editors' files from the page, once the page shows them clean.
async fn run_edited(b: &Browser, services: &str, steps: &str) {
    b.set_editor("services", services).await;
    b.set_editor("steps", steps).await;
    b.wait("a clean check", Duration::from_secs(10), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.is_empty()
    })
    .await;
    if b.js("return document.querySelector('[data-testid=run-edits]').checked").await != json!(true) {
        b.click("run-edits").await;
    }
    b.click("run-start").await;
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

/// Wait for an editor's cursor to be `want` (`[offset, focused]`): a jump to a definition
/// waits for the analysis worker's answer.
async fn cursor_reaches(b: &Browser, name: &str, want: Value) {
    let start = Instant::now();
    while b.cursor(name).await != want && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(b.cursor(name).await, want);
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

// The Run panel's review fixes (s17).

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
    // A repository project's runs start from a push: the page offers no Run, Load or Rerun.
    let disabled = |testid: &'static str| {
        let b = &b;
        async move { b.js(&format!("return document.querySelector('[data-testid={testid}]').disabled")).await }
    };
    assert_eq!((disabled("run-start").await, disabled("run-load-files").await), (json!(true), json!(true)));
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
