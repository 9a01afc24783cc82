//! The studio's browser harness: `slipway serve` serving the built studio, and real headless
//! Chromium (Debian's chromium + chromedriver) through WebDriver. The studio tests
//! (`studio_*.rs`, one file per part of the page) share it.

use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::{Client, Locator, key::Key};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// One browser at a time: the build machine has two cores.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Server {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
    /// The `serve` arguments, for a restart on the same port with the same data.
    pub args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// With extra `slipway serve` arguments (projects).
    pub fn start_with(extra: &[String]) -> Server {
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
        let (child, url) = super::serve(&args, "studio-test-token");
        Server { child, url, log, args, _dir: dir }
    }

    /// With the Docker engine up and a copy of examples/sample registered as `sample`.
    pub fn with_sample() -> (Server, tempfile::TempDir) {
        super::env_up();
        let project = sample_project();
        (Server::start_with(&["--project".into(), format!("sample={}", project.path().display())]), project)
    }

    /// SIGKILL (a crash: no cleanup), then start again on the same port with the same data.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.child, self.url) = super::serve(&self.args, "studio-test-token");
    }

    pub fn requests(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The raw response headers of `GET /`.
    pub fn index_headers(&self) -> String {
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

pub struct Browser {
    pub client: Client,
    pub chromium: super::Chromium,
}

impl Browser {
    pub async fn start() -> Browser {
        let chromium = super::Chromium::start().await;
        Browser { client: chromium.client.clone(), chromium }
    }

    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        // Interactive once the editors exist.
        self.wait("the studio to load", Duration::from_secs(20), || async {
            self.client.find(Locator::Css("[data-testid=steps-editor]")).await.is_ok()
        })
        .await;
    }

    pub async fn wait<F, Fut>(&self, what: &str, timeout: Duration, mut cond: F) -> Duration
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

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    pub async fn value(&self, testid: &str) -> String {
        self.js(&format!("return document.querySelector('[data-testid={testid}]').value"))
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub async fn set_value(&self, testid: &str, text: &str) {
        // Clear, then type for real (keystrokes, input events).
        let el = self.client.find(Locator::Css(&format!("[data-testid={testid}]"))).await.unwrap();
        el.click().await.unwrap();
        el.send_keys(&format!("{}a{}", Key::Control, Key::Null)).await.unwrap();
        el.send_keys(&Key::Backspace.to_string()).await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// An editor's text, through the page's automation hook.
    pub async fn editor_text(&self, name: &str) -> String {
        self.js(&format!("return window.slipwayStudio.getText('{name}')")).await.as_str().unwrap_or("").to_string()
    }

    /// Replace an editor's text through the automation hook (for the setup; typing is `type_in`).
    pub async fn set_editor(&self, name: &str, text: &str) {
        self.client
            .execute("window.slipwayStudio.setText(arguments[0], arguments[1])", vec![json!(name), json!(text)])
            .await
            .unwrap();
    }

    /// Type into an editor, key by key, as a person does: keyboard actions at the cursor (an
    /// element's send_keys would first move the cursor to the end of the element). As with
    /// send_keys, a modifier stays pressed until `Key::Null`.
    pub async fn type_in(&self, name: &str, keys: &str) {
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
    pub async fn hover(&self, xpath: &str) {
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
    pub async fn hover_texts(&self) -> Vec<String> {
        self.wait("a hover tooltip", Duration::from_secs(5), || async {
            !self.texts("[data-testid=hover]").await.is_empty()
        })
        .await;
        self.texts("[data-testid=hover]").await
    }

    /// The cursor of an editor: UTF-16 offset and whether the editor has focus.
    pub async fn cursor(&self, name: &str) -> Value {
        self.js(&format!("const c = window.slipwayStudio.cursor('{name}'); return [c.head, c.focused]")).await
    }

    pub async fn attr_list(&self, selector: &str, attr: &str) -> Vec<String> {
        let v = self
            .js(&format!("return [...document.querySelectorAll('{selector}')].map(e => e.getAttribute('{attr}'))"))
            .await;
        v.as_array().unwrap().iter().map(|x| x.as_str().unwrap_or("").to_string()).collect()
    }

    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let v = self.js(&format!("return [...document.querySelectorAll('{selector}')].map(e => e.textContent)")).await;
        v.as_array().unwrap().iter().map(|x| x.as_str().unwrap_or("").to_string()).collect()
    }

    /// Open the studio with the API token already in the tab's session storage, and wait for
    /// the Run panel.
    pub async fn open_with_token(&self, url: &str) {
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
    pub async fn run_snapshot(&self) -> (String, String, Vec<String>) {
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
    pub async fn xhr(&self, method: &str, path: &str, token: bool, body: Option<&str>) -> (u64, String) {
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
    pub async fn rect(&self, css: &str) -> (f64, f64, f64) {
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

    pub async fn current_run_id(&self) -> String {
        self.attr_list("[data-testid=run-current]", "data-run-id").await.pop().unwrap_or_default()
    }

    pub async fn click_css(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    pub async fn click(&self, testid: &str) {
        self.client.find(Locator::Css(&format!("[data-testid={testid}]"))).await.unwrap().click().await.unwrap();
    }

    pub async fn close(self) {
        self.chromium.close().await;
    }
}

/// Screenshots go to target/screenshots/; with `SLIPWAY_UPDATE_SCREENSHOTS=1` also to docs/,
/// where the README shows them (so a plain test run leaves the work tree clean).
pub fn save_screenshot(name: &str, png: &[u8]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
    if std::env::var_os("SLIPWAY_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(root.join("docs").join(name), png).unwrap();
    }
}

pub fn slipway(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_slipway")).args(args).output().unwrap();
    assert!(out.status.success(), "slipway {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// examples/sample copied to a temporary folder, so runs never write into the repository.
pub fn sample_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample");
    for name in ["codeship-services.yml", "codeship-steps.yml"] {
        std::fs::copy(sample.join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Set a text field's value as a paste does (one input event), faster than typing a file.
pub async fn paste(b: &Browser, testid: &str, text: &str) {
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
pub async fn drop_files(b: &Browser, testid: &str, files: &[(&str, String)]) {
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

/// A registered copy of examples/sample without the Docker engine: enough for what happens
/// before a run starts.
pub fn with_sample_no_engine() -> (Server, tempfile::TempDir) {
    let project = sample_project();
    (Server::start_with(&["--project".into(), format!("sample={}", project.path().display())]), project)
}

pub const BUSYBOX_SERVICES: &str = "app:\n  image: slipway-test/busybox:latest\n";

/// Start a run of the editors' files from the page, once the page shows them clean.
pub async fn run_edited(b: &Browser, services: &str, steps: &str) {
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

/// Wait for an editor's cursor to be `want` (`[offset, focused]`): a jump to a definition
/// waits for the analysis worker's answer.
pub async fn cursor_reaches(b: &Browser, name: &str, want: Value) {
    let start = Instant::now();
    while b.cursor(name).await != want && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(b.cursor(name).await, want);
}
