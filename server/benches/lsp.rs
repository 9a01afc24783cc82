//! `slipway lsp` latency over stdio, as an editor sees it (run `cargo bench -p slipway --bench
//! lsp`). For the aggregate example and a ~5,000-step project: didChange (one character typed
//! into a step name, then removed) → publishDiagnostics of the steps file, and a completion
//! request after `service: ` → its response. Prints medians and the 90th percentile, for
//! docs/perf.md. Both files are re-checked on every change, so the time covers both.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

const ROUNDS: usize = 40;

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: u64,
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
            .arg("lsp")
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
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
                r.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut c = Client { child, stdin, incoming, next_id: 0 };
        c.request("initialize", json!({ "capabilities": {}, "rootUri": null }));
        c.notify("initialized", json!({}));
        c
    }

    fn send(&mut self, v: Value) {
        let body = v.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        self.wait(|m| m["id"] == id)
    }

    fn wait(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let m = self.incoming.recv_timeout(Duration::from_secs(60)).expect("the server answered");
            if pred(&m) {
                return m;
            }
        }
    }

    fn diagnostics_of(&mut self, uri: &str) -> Value {
        self.wait(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri)
    }
}

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!("median {:.2} ms, p90 {:.2} ms", ms(v[v.len() / 2]), ms(v[v.len() * 9 / 10]))
}

/// The 0-based line and column just after the first `needle` in `text` (ASCII lines).
fn after(text: &str, needle: &str) -> (usize, usize) {
    text.lines().enumerate().find_map(|(i, l)| l.find(needle).map(|c| (i, c + needle.len()))).expect(needle)
}

fn measure(label: &str, services: &str, steps: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("codeship-services.yml"), services).unwrap();
    let steps_path = dir.path().join("codeship-steps.yml");
    std::fs::write(&steps_path, steps).unwrap();
    let uri = format!("file://{}", steps_path.display());
    let mut c = Client::start(dir.path());

    let t = Instant::now();
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "yaml", "version": 0, "text": steps } }),
    );
    c.diagnostics_of(&uri);
    let open = t.elapsed();

    let (line, col) = after(steps, "name: ");
    let mut changes = Vec::new();
    for round in 0..ROUNDS {
        // Type `x` at the name, then delete it: the text alternates between two states.
        let (range, text) = if round % 2 == 0 {
            (json!({ "start": { "line": line, "character": col }, "end": { "line": line, "character": col } }), "x")
        } else {
            (json!({ "start": { "line": line, "character": col }, "end": { "line": line, "character": col + 1 } }), "")
        };
        let t = Instant::now();
        c.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": round + 1 }, "contentChanges": [{ "range": range, "text": text }] }),
        );
        c.diagnostics_of(&uri);
        changes.push(t.elapsed());
    }

    let (sl, sc) = after(steps, "service: ");
    let mut completions = Vec::new();
    let mut items = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let r = c.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": { "line": sl, "character": sc } }),
        );
        completions.push(t.elapsed());
        items = r["result"]["items"].as_array().map_or(0, Vec::len);
    }
    c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    assert!(c.child.wait().unwrap().success(), "slipway lsp exited with an error");

    println!("{label}: {} steps-file bytes", steps.len());
    println!("  didOpen → publishDiagnostics: {:.2} ms", open.as_secs_f64() * 1000.0);
    println!("  didChange → publishDiagnostics ({ROUNDS}): {}", percentiles(changes));
    println!("  completion after `service: ` ({ROUNDS}, {items} items): {}", percentiles(completions));
}

fn main() {
    let aggregate = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/examples/00.aggregate");
    let read = |f: &str| std::fs::read_to_string(aggregate.join(f)).unwrap();
    measure("00.aggregate", &read("codeship-services.yml"), &read("codeship-steps.yml"));
    let (services, steps) = slipway_core::synth::large_project(5000);
    measure("synth 5,000 steps", &services, &steps);
}
