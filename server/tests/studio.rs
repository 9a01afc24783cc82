//! The studio end to end: real headless Chromium (Debian's chromium + chromedriver) through
//! WebDriver, against `slipway serve` serving the built studio. `cargo xtask test` builds the
//! studio first; these tests fail with a clear message when it has not been built.

mod support;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_an_error_shows_the_diagnostic_at_its_line() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    b.set_value("services-editor", "app:\n  image: busybox\n").await;
    b.set_value("steps-editor", "- service: app\n  command: echo ok\n").await;
    b.wait("a clean check", Duration::from_secs(5), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.is_empty()
    })
    .await;

    // Type an unknown service on line 3.
    let steps = b.client.find(Locator::Css("[data-testid=steps-editor]")).await.unwrap();
    // Ctrl+End (then release the modifier with NULL) puts the caret at the end; then type.
    steps.send_keys(&format!("{}{}{}", Key::Control, Key::End, Key::Null)).await.unwrap();
    steps.send_keys("- service: nope\n  command: x").await.unwrap();
    let typed = Instant::now();
    b.wait("the SW102 diagnostic", Duration::from_secs(1), || async {
        b.attr_list("[data-testid=diagnostics] li", "data-code").await.contains(&"SW102".to_string())
    })
    .await;
    let within = typed.elapsed();
    assert!(within < Duration::from_secs(1), "diagnostic took {within:?}");
    let item = "[data-testid=diagnostics] li[data-code=SW102]";
    assert_eq!(b.attr_list(item, "data-line").await, ["3"]);
    assert_eq!(b.attr_list(item, "data-column").await, ["12"]);
    assert_eq!(b.attr_list(item, "data-severity").await, ["error"]);
    // The gutter marks line 3.
    assert_eq!(b.attr_list(".editor .gutter .mark-error", "data-line").await, ["3"]);
    // Clicking the diagnostic puts the caret there: line 3, column 12.
    b.client.find(Locator::Css(item)).await.unwrap().click().await.unwrap();
    let caret = b.js("const t = document.querySelector('[data-testid=steps-editor]'); return [t.selectionStart, document.activeElement === t]").await;
    let expected = "- service: app\n  command: echo ok\n".len() + 11;
    assert_eq!(caret, json!([expected, true]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_changes_which_steps_run_and_the_tags() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    b.client.find(Locator::Css("[data-testid=reset-button]")).await.unwrap().click().await.unwrap();
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
async fn a_reload_keeps_the_draft_and_reset_restores_the_example() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let b = Browser::start().await;
    b.open(&server.url).await;
    b.set_value("services-editor", "drafted:\n  image: busybox\n").await;
    b.client.refresh().await.unwrap();
    b.open(&server.url).await;
    assert_eq!(b.value("services-editor").await, "drafted:\n  image: busybox\n");
    b.client.find(Locator::Css("[data-testid=reset-button]")).await.unwrap().click().await.unwrap();
    b.wait("the example", Duration::from_secs(2), || async { b.value("services-editor").await.contains("postgres") })
        .await;
    b.client.refresh().await.unwrap();
    b.open(&server.url).await;
    assert!(b.value("services-editor").await.contains("postgres"), "reset did not clear the draft");
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
        t.starts_with("lint pass 1") && !t.contains("unit test")
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
        const steps = document.querySelector('[data-testid=steps-editor]');
        steps.value = "- name: edited\n  service: nope\n  command: echo from-the-editor\n";
        steps.dispatchEvent(new InputEvent('input', { bubbles: true }));
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
    b.set_value("services-editor", "app:\n  image: slipway-test/busybox:latest\n").await;
    b.set_value("steps-editor", "- name: edited\n  service: nope\n  command: echo from-the-editor\n").await;
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

    b.set_value("steps-editor", "- name: edited\n  service: app\n  command: echo from-the-editor\n").await;
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
