//! `slipway lsp` never dies or hangs on what it reads (issue 19, finding 12): the real binary
//! over stdio, fed malformed frames, a lone UTF-16 surrogate, and project folders whose
//! sibling file is a FIFO or a symlink to the server's own stdin. After each, a plain request
//! must still be answered and `shutdown`/`exit` must end the process cleanly.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long an answer may take (a debug build on a shared machine).
const PATIENCE: Duration = Duration::from_secs(20);

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: u64,
    /// Everything received so far, for failure messages.
    seen: Vec<Value>,
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
            .arg("lsp")
            .current_dir(root)
            .env_remove("SOURCE_DATE_EPOCH")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start slipway lsp");
        let stdout = child.stdout.take().unwrap();
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                if r.read_exact(&mut body).is_err() || tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut c = Client { child, stdin, incoming, next_id: 0, seen: Vec::new() };
        let init = c.request("initialize", json!({ "capabilities": {}, "rootUri": null }));
        assert!(init["result"]["capabilities"].is_object(), "{init}");
        c.notify("initialized", json!({}));
        c
    }

    fn raw(&mut self, bytes: &[u8]) {
        // A server that died makes this fail; the waits below then say so.
        let _ = self.stdin.write_all(bytes).and_then(|()| self.stdin.flush());
    }

    fn send_text(&mut self, body: &str) {
        self.raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send_text(&json!({ "jsonrpc": "2.0", "method": method, "params": params }).to_string());
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send_text(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string());
        self.wait(&format!("the answer to `{method}`"), |m| m["id"] == id)
    }

    /// The first message (from now on) that `want` accepts; fails after [`PATIENCE`], or
    /// at once if the server has ended.
    fn wait(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(m) => {
                    self.seen.push(m.clone());
                    if want(&m) {
                        return m;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{what}: no answer in {PATIENCE:?} (the server hangs); received {:#?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!("{what}: the server ended ({status:?}); received {:#?}", self.seen)
                }
            }
        }
    }

    /// A request any working server answers: the outline of a document.
    fn still_answers(&mut self, uri: &str) {
        let r = self.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
        assert!(r.get("result").is_some(), "{r}");
    }

    /// `shutdown`, `exit`, and the process ends with success.
    fn finish(mut self) {
        let r = self.request("shutdown", Value::Null);
        assert!(r.get("error").is_none(), "{r}");
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "slipway lsp exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "slipway lsp did not exit after `exit`");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
    std::fs::write(d.path().join("codeship-steps.yml"), "- service: app\n  command: true\n").unwrap();
    d
}

fn open(c: &mut Client, path: &Path, text: &str) {
    let params = json!({ "textDocument": { "uri": uri(path), "languageId": "yaml", "version": 1, "text": text } });
    c.notify("textDocument/didOpen", params);
}

fn diagnostics_for(uri: String) -> impl Fn(&Value) -> bool {
    move |m: &Value| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
}

fn log_says(words: &'static str) -> impl Fn(&Value) -> bool {
    move |m: &Value| m["method"] == "window/logMessage" && m["params"]["message"].as_str().unwrap_or("").contains(words)
}

#[test]
fn malformed_frames_are_answered_and_the_session_goes_on() {
    let d = project();
    let steps = d.path().join("codeship-steps.yml");
    let mut c = Client::start(d.path());
    open(&mut c, &steps, "- service: app\n  command: true\n");
    c.wait("the first diagnostics", diagnostics_for(uri(&steps)));

    // Not JSON: logged (JSON-RPC would want `"id": null`).
    c.send_text("{\"jsonrpc\": \"2.0\", \"id\": 40, \"method\": ");
    c.wait("the log of a body that is not JSON", log_says("not JSON"));
    c.still_answers(&uri(&steps));

    // JSON, but not a message: "invalid request" for its id.
    c.send_text(r#"{"jsonrpc":"2.0","id":41,"method":["not","a","name"]}"#);
    let r = c.wait("the answer to an invalid request", |m| m["id"] == 41);
    assert_eq!(r["error"]["code"], -32600, "{r}");
    c.still_answers(&uri(&steps));

    // Broken headers, then a body whose length was never given.
    c.raw(b"Content-Length: lots\r\n\r\n");
    c.wait("the log of a bad Content-Length", log_says("bad Content-Length"));
    c.raw(b"Content-Type: application/json\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}");
    c.wait("the log of a frame without a length", log_says("without Content-Length"));
    c.still_answers(&uri(&steps));

    // A body longer than the server reads: skipped, logged.
    let big = 16 * 1024 * 1024 + 1;
    c.raw(format!("Content-Length: {big}\r\n\r\n").as_bytes());
    c.raw(&vec![b' '; big]);
    c.wait("the log of an oversized body", log_says("over the limit"));
    c.still_answers(&uri(&steps));
    c.finish();
}

/// `"\ud83d"` alone (half of an emoji, as a JavaScript client sends a buffer holding one) is
/// not a Rust string; it becomes U+FFFD, one UTF-16 unit too, so positions stay right.
#[test]
fn a_lone_surrogate_in_a_document_is_replaced_not_fatal() {
    let d = project();
    let steps = d.path().join("codeship-steps.yml");
    let mut c = Client::start(d.path());
    let body = format!(
        r#"{{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{{"textDocument":{{"uri":"{}","languageId":"yaml","version":1,"text":"- name: \ud83d x\n  service: ap\n  command: true\n"}}}}}}"#,
        uri(&steps)
    );
    c.send_text(&body);
    let published = c.wait("diagnostics of the document with a lone surrogate", diagnostics_for(uri(&steps)));
    let sw102 = published["params"]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "SW102")
        .unwrap_or_else(|| panic!("SW102 for `ap`: {published}"))
        .clone();
    assert_eq!(sw102["range"]["start"], json!({"line": 1, "character": 11}), "{sw102}");
    // The name, as the server now holds it, has U+FFFD where the half emoji was.
    let outline = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri(&steps) } }));
    assert!(outline.to_string().contains('\u{fffd}'), "{outline}");
    c.finish();
}

/// The steps file is open; the services file beside it is a FIFO nobody writes to, or a
/// symlink to `/proc/self/fd/0` (the server's stdin, where the editor's messages arrive).
/// Reading either would block for ever; the server logs why it did not and checks the steps.
#[test]
fn a_sibling_that_is_a_fifo_or_a_link_to_stdin_is_not_read() {
    fn fifo(p: &Path) {
        let made = Command::new("mkfifo").arg(p).status().expect("mkfifo runs");
        assert!(made.success());
    }
    fn link_to_stdin(p: &Path) {
        std::os::unix::fs::symlink("/proc/self/fd/0", p).unwrap();
    }
    fn link_outside(p: &Path) {
        std::os::unix::fs::symlink("/etc/hostname", p).unwrap();
    }
    type Make = fn(&Path);
    let cases: [(&str, Make); 3] =
        [("a FIFO", fifo), ("a symlink to stdin", link_to_stdin), ("a symlink outside the project", link_outside)];
    for (what, make) in cases {
        let d = tempfile::tempdir().unwrap();
        let steps = d.path().join("codeship-steps.yml");
        std::fs::write(&steps, "- service: app\n  command: true\n").unwrap();
        make(&d.path().join("codeship-services.yml"));
        let mut c = Client::start(d.path());
        open(&mut c, &steps, "- service: app\n  command: true\n");
        let published = c.wait(&format!("diagnostics with {what} beside"), diagnostics_for(uri(&steps)));
        // Read as empty: `app` is then unknown.
        assert!(published.to_string().contains("SW102"), "{what}: {published}");
        let log = c.seen.iter().find(|m| log_says("not read")(m)).cloned();
        assert!(log.is_some() || c.seen.iter().any(log_says("outside the project")), "{what}: {:#?}", c.seen);
        c.still_answers(&uri(&steps));
        c.finish();
    }
}

impl Client {
    /// The process's exit code once it ends (within [`PATIENCE`]).
    fn exit_code(mut self) -> Option<i32> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "slipway lsp did not exit after `exit`");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A request after `shutdown` ended the process with code 2 (lsp-server's `handle_shutdown`
/// took it for a protocol error). The spec (LSP 3.17, "shutdown" and "exit"): requests after
/// `shutdown` get an `InvalidRequest` error, and `exit` then ends the server with 0.
#[test]
fn a_request_after_shutdown_gets_an_error_and_exit_then_ends_with_success() {
    let d = project();
    let steps = d.path().join("codeship-steps.yml");
    let mut c = Client::start(d.path());
    let r = c.request("shutdown", Value::Null);
    assert_eq!(r["result"], Value::Null, "{r}");
    assert!(r.get("error").is_none(), "{r}");
    for _ in 0..2 {
        let r = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri(&steps) } }));
        assert_eq!(r["error"]["code"], -32600, "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("shutting down"), "{r}");
    }
    // A notification in between changes nothing and ends nothing.
    open(&mut c, &steps, "- service: app\n  command: true\n");
    let r = c.request("shutdown", Value::Null);
    assert_eq!(r["error"]["code"], -32600, "a second shutdown: {r}");
    c.notify("exit", Value::Null);
    assert_eq!(c.exit_code(), Some(0));
}

/// `exit` without `shutdown` first: exit code 1, as the spec says.
#[test]
fn exit_without_shutdown_ends_with_code_1() {
    let d = project();
    let mut c = Client::start(d.path());
    c.still_answers(&uri(&d.path().join("codeship-steps.yml")));
    c.notify("exit", Value::Null);
    assert_eq!(c.exit_code(), Some(1));
}
