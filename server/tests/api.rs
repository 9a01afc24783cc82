//! The run API against the real server, engine and SQLite database: runs started over HTTP,
//! followed over SSE to the end, cancelled, interrupted by a server crash, and run five at once.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token-7c1e";

struct Server {
    child: Child,
    url: String,
    data: PathBuf,
    project: PathBuf,
    limit: usize,
}

impl Server {
    fn start(data: &Path, project: &Path, limit: usize) -> Server {
        Server::start_with(data, project, limit, &[])
    }

    fn start_with(data: &Path, project: &Path, limit: usize, extra: &[String]) -> Server {
        let mut args = vec![
            "--max-concurrent-runs".to_string(),
            limit.to_string(),
            "--data-dir".to_string(),
            data.display().to_string(),
            "--project".to_string(),
            format!("demo={}", project.display()),
        ];
        args.extend_from_slice(extra);
        let (child, url) = support::serve(&args, TOKEN);
        Server { child, url, data: data.to_path_buf(), project: project.to_path_buf(), limit }
    }

    fn restart(mut self) -> Server {
        let _ = self.child.kill(); // SIGKILL: a crash, no chance to clean up
        let _ = self.child.wait();
        Server::start(&self.data.clone(), &self.project.clone(), self.limit)
    }

    fn get(&self, path: &str) -> serde_json::Value {
        let mut r = ureq::get(&format!("{}{path}", self.url)).call().unwrap();
        r.body_mut().read_json().unwrap()
    }

    fn post(&self, path: &str, body: serde_json::Value, token: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = ureq::post(&format!("{}{path}", self.url)).config().http_status_as_error(false).build();
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        let mut r = req.send_json(body).unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or(serde_json::Value::Null))
    }

    /// Any request; the status, the headers' `content-type` and `retry-after`, and the body.
    fn request(&self, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String, String, String) {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        let uri = format!("{}{path}", self.url);
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(&uri)
            .header("content-type", content_type)
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(body.to_string())
            .unwrap();
        let mut r = agent.run(req).unwrap();
        let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let (ct, retry) = (header("content-type"), header("retry-after"));
        (r.status().as_u16(), ct, retry, r.body_mut().read_to_string().unwrap_or_default())
    }

    /// POST a JSON body of `len` bytes, ignoring write errors once the server has stopped
    /// reading; the status, content type and body of its answer.
    fn send_oversized(&self, path: &str, len: usize) -> (u16, String, String) {
        use std::io::Write;
        let addr = self.url.strip_prefix("http://").unwrap();
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        );
        c.write_all(head.as_bytes()).unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..len / chunk.len() {
            if c.write_all(&chunk).is_err() {
                break;
            }
        }
        let mut answer = Vec::new();
        let _ = c.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let content_type = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_string))
            .unwrap_or_default();
        (status, content_type, body.to_string())
    }

    fn start_run(&self, body: serde_json::Value) -> String {
        let (status, v) = self.post("/api/runs", body, Some(TOKEN));
        assert_eq!(status, 202, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// Follow a run's events to its end; returns the raw SSE text.
    fn follow(&self, id: &str, last_event_id: Option<u64>) -> String {
        let mut req = ureq::get(&format!("{}/api/runs/{id}/events", self.url))
            .header("authorization", &format!("Bearer {TOKEN}"));
        if let Some(n) = last_event_id {
            req = req.header("last-event-id", &n.to_string());
        }
        let mut body = String::new();
        req.call().unwrap().into_body().into_reader().read_to_string(&mut body).unwrap();
        body
    }

    fn wait_status(&self, id: &str, want: &str, timeout: Duration) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let v = self.get(&format!("/api/runs/{id}"));
            if v["status"] == want {
                return v;
            }
            assert!(start.elapsed() < timeout, "run {id} never became {want}: {v}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn project(steps: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let p = tempfile::tempdir().unwrap();
    let base = support::base_image();
    std::fs::write(
        p.path().join("codeship-services.yml"),
        format!("a:\n  image: {base}\n  encrypted_env_file: s.encrypted\n"),
    )
    .unwrap();
    std::fs::write(p.path().join("codeship-steps.yml"), steps).unwrap();
    let key = slipway_core::crypto::Key::from_bytes([3; 32]);
    std::fs::write(p.path().join("codeship.aes"), key.to_file_text()).unwrap();
    let enc =
        slipway_core::crypto::encrypt(&key, b"SECRET=api-s3cret-91f\n", slipway_core::crypto::Format::Aead, &[5; 16])
            .unwrap();
    std::fs::write(p.path().join("s.encrypted"), enc).unwrap();
    (p, tempfile::tempdir().unwrap())
}

/// The data of the last event in an SSE text.
fn last_event(events: &str) -> serde_json::Value {
    let data = events.lines().rev().find_map(|l| l.strip_prefix("data: ")).unwrap_or("null");
    serde_json::from_str(data).unwrap()
}

/// A project folder with files that need no engine to validate (tests of the HTTP layer).
fn plain_project() -> (tempfile::TempDir, tempfile::TempDir) {
    let p = tempfile::tempdir().unwrap();
    std::fs::write(p.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
    std::fs::write(p.path().join("codeship-steps.yml"), "- service: app\n  command: 'true'\n").unwrap();
    (p, tempfile::tempdir().unwrap())
}

/// A services file of one mapping with 100,000 keys (just under the core's 1 MiB limit).
fn services_with_100_000_keys() -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut text = String::from("app:\n image: busybox\n environment:\n");
    for i in 0..100_000usize {
        // `k` and at most three base-62 digits: 10 bytes a line.
        let (a, b, c) = (i / (62 * 62), i / 62 % 62, i % 62);
        let key: String = [a, b, c].iter().skip_while(|&&d| d == 0).map(|&d| DIGITS[d] as char).collect();
        text.push_str(&format!("  k{key}: v\n"));
    }
    assert!(text.len() <= 1024 * 1024);
    text
}

fn leftovers(run_id: &str) -> usize {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=io.slipway.run={run_id}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn unauthenticated_requests_are_refused() {
    let (p, d) = project("- service: a\n  command: echo hi\n");
    let s = Server::start(d.path(), p.path(), 2);
    let (status, v) = s.post("/api/runs", serde_json::json!({"project": "demo"}), None);
    assert_eq!(status, 401, "{v}");
    let (status, _) = s.post("/api/runs", serde_json::json!({"project": "demo"}), Some("wrong"));
    assert_eq!(status, 401);
    for path in ["events", "log"] {
        let r = ureq::get(&format!("{}/api/runs/x/{path}", s.url))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
    assert_eq!(s.get("/api/health")["status"], "ok");
    assert_eq!(s.get("/api/projects")["projects"][0]["name"], "demo");
    // The key file's path is not exposed.
    assert!(!s.get("/api/projects").to_string().contains(&p.path().display().to_string()));
}

#[test]
fn a_run_succeeds_and_its_events_resume_and_secrets_stay_masked() {
    let (p, d) =
        project("- name: hello\n  service: a\n  command: sh -c 'echo hi; echo token=$SECRET; sleep 1; echo bye'\n");
    let s = Server::start(d.path(), p.path(), 2);
    let id = s.start_run(serde_json::json!({"project": "demo", "tag": "main"}));
    let events = s.follow(&id, None);
    assert!(events.contains("\"line\":\"hi\"") && events.contains("\"line\":\"bye\""), "{events}");
    assert!(events.contains("\"line\":\"token=***\""), "{events}");
    // The last event ends the run, successfully (a step's `"status":"success"` is not that).
    let last = last_event(&events);
    assert_eq!((last["event"].as_str(), last["status"].as_str()), (Some("run_finished"), Some("success")), "{events}");
    let run = s.get(&format!("/api/runs/{id}"));
    assert_eq!(run["status"], "success");
    assert_eq!(run["steps"][0]["name"], "hello");
    // Resume from event 2: exactly the later events come back.
    let resumed = s.follow(&id, Some(2));
    assert!(!resumed.contains("id: 1\n") && !resumed.contains("id: 2\n") && resumed.contains("id: 3\n"), "{resumed}");
    // The full log, as the CLI prints it.
    let mut r = ureq::get(&format!("{}/api/runs/{id}/log", s.url))
        .header("authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    let disposition = r.headers().get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert_eq!(disposition, format!("attachment; filename=\"slipway-run-{id}.log\""));
    let log = r.body_mut().read_to_string().unwrap();
    for line in ["(step: hello) (service: a) hi", "(step: hello) (service: a) token=***", "(step: hello) success"] {
        assert!(log.lines().any(|l| l.starts_with(line)), "no {line:?} in\n{log}");
    }
    assert_eq!(log.lines().last(), Some("slipway: run success"));
    // The secret is in no response and not in the database file.
    for text in [events, resumed, log, s.get("/api/runs").to_string(), run.to_string()] {
        assert!(!text.contains("api-s3cret-91f"));
    }
    let db = std::fs::read(d.path().join("slipway.sqlite")).unwrap();
    let wal = std::fs::read(d.path().join("slipway.sqlite-wal")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&db).contains("api-s3cret-91f")
            && !String::from_utf8_lossy(&wal).contains("api-s3cret-91f")
    );
}

#[test]
fn a_failing_run_reports_the_failing_step() {
    let (p, d) = project(
        "- name: ok\n  service: a\n  command: echo fine\n- name: broken\n  service: a\n  command: sh -c 'exit 7'\n",
    );
    let s = Server::start(d.path(), p.path(), 2);
    let id = s.start_run(serde_json::json!({"project": "demo"}));
    s.follow(&id, None);
    let run = s.wait_status(&id, "failed", Duration::from_secs(60));
    let broken = run["steps"].as_array().unwrap().iter().find(|x| x["name"] == "broken").unwrap().clone();
    assert_eq!(broken["status"], "failed");
    assert!(broken["message"].as_str().unwrap().contains("status 7"), "{broken}");
}

#[test]
fn edited_files_cannot_reach_outside_the_project_or_the_host() {
    let (p, d) = project("- name: s\n  service: a\n  command: echo hi\n");
    let s = Server::start(d.path(), p.path(), 2);
    let base = support::base_image();
    let cases = [
        (format!("a:\n  image: {base}\n  env_file: ../../../../../etc/hostname\n"), "outside the project folder"),
        (format!("a:\n  image: {base}\n  volumes:\n    - /etc:/host-etc\n"), "is absolute"),
        // The host's Docker engine only when the server allows it (this one does not).
        (format!("a:\n  image: {base}\n  add_docker: true\n"), "--allow-add-docker"),
        // Caught by validation already, with its position.
        (format!("a:\n  image: {base}\n  volumes:\n    - ../..:/up\n"), "codeship-services.yml:4:"),
    ];
    for (services, expected) in cases {
        let id = s.start_run(serde_json::json!({"project": "demo", "services": services}));
        s.follow(&id, None);
        let run = s.wait_status(&id, "failed", Duration::from_secs(60));
        assert!(run.to_string().contains(expected), "{services}: {run}");
    }
}

#[test]
fn cancel_stops_the_containers() {
    let (p, d) = project("- name: long\n  service: a\n  command: sleep 300\n");
    let s = Server::start(d.path(), p.path(), 2);
    let id = s.start_run(serde_json::json!({"project": "demo"}));
    let start = Instant::now();
    while leftovers(&id) == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "the run never started a container");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, _) = s.post(&format!("/api/runs/{id}/cancel"), serde_json::json!({}), Some(TOKEN));
    assert_eq!(status, 200);
    s.wait_status(&id, "cancelled", Duration::from_secs(60));
    assert_eq!(leftovers(&id), 0);
}

#[test]
fn a_restart_keeps_history_and_marks_in_flight_runs_interrupted() {
    let (p, d) = project(
        "- name: quick\n  service: a\n  command: echo done\n- name: long\n  service: a\n  command: sleep 300\n",
    );
    let s = Server::start(d.path(), p.path(), 2);
    let id = s.start_run(serde_json::json!({"project": "demo"}));
    let start = Instant::now();
    // Crash while `long` runs, after `quick` succeeded.
    loop {
        let steps = s.get(&format!("/api/runs/{id}"))["steps"].clone();
        if steps[0]["status"] == "success" && steps[1]["status"] == "running" && leftovers(&id) > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the run never reached its long step: {steps}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let s = s.restart();
    let run = s.wait_status(&id, "interrupted", Duration::from_secs(30));
    assert_eq!(run["steps"][0]["status"], "success", "{run}");
    assert_eq!(leftovers(&id), 0, "the interrupted run's containers were not removed");
    assert_eq!(s.get("/api/runs")["total"], 1);
    // A follower's stream ends with the run's end, interrupted, rather than hanging.
    let events = s.follow(&id, None);
    let last = events.lines().rev().find(|l| l.starts_with("data:")).unwrap_or_default();
    assert!(last.contains(r#""event":"run_finished""#) && last.contains(r#""status":"interrupted""#), "{events}");
}

#[test]
fn five_concurrent_runs_of_one_project_finish() {
    let (p, d) = project("- name: work\n  service: a\n  command: sh -c 'echo run; sleep 1'\n");
    let s = Server::start(d.path(), p.path(), 5);
    let ids: Vec<String> =
        (0..5).map(|i| s.start_run(serde_json::json!({"project": "demo", "tag": format!("b{i}")}))).collect();
    for id in &ids {
        s.wait_status(id, "success", Duration::from_secs(120));
    }
    let list = s.get("/api/runs?per_page=10");
    assert_eq!(list["total"], 5);
    // Newest first.
    assert_eq!(list["runs"][0]["id"], ids[4].as_str());
}

#[test]
fn projects_come_from_a_config_file_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("web")).unwrap();
    let config = dir.path().join("slipway.toml");
    std::fs::write(&config, "[[project]]\nname = \"web\"\npath = \"web\"\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = [
        "--config".to_string(),
        config.display().to_string(),
        "--data-dir".to_string(),
        data.path().display().to_string(),
    ];
    let (mut child, url) = support::serve(&args, TOKEN);
    let mut r = ureq::get(&format!("{url}/api/projects")).call().unwrap();
    let projects: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(projects, serde_json::json!({"projects": [{"name": "web", "kind": "folder"}]}));

    // A mistake is reported with its position, and the server does not start.
    std::fs::write(&config, "[[project]]\nname = \"web\"\npaht = \"web\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("slipway.toml") && err.contains("line 3") && err.contains("paht"), "{err}");
}

#[test]
fn a_long_log_is_replayed_whole_and_in_order() {
    // More events than one page of stored events (2,000), replayed after the run ended.
    let (p, d) = project("- name: chatty\n  service: a\n  command: seq 1 4500\n");
    let s = Server::start(d.path(), p.path(), 2);
    let id = s.start_run(serde_json::json!({"project": "demo"}));
    s.wait_status(&id, "success", Duration::from_secs(60));
    let events = s.follow(&id, None);
    let ids: Vec<u64> = events.lines().filter_map(|l| l.strip_prefix("id: ")?.parse().ok()).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>(), "ids are not 1, 2, 3, …");
    let lines: Vec<&str> = events
        .lines()
        .filter(|l| l.contains(r#""event":"log""#))
        .filter_map(|l| l.split(r#""line":""#).nth(1)?.split('"').next())
        .collect();
    assert_eq!(lines.len(), 4500);
    assert!(lines.iter().enumerate().all(|(i, l)| *l == (i + 1).to_string()), "lines out of order");
}

/// Validation needs no token, so anyone can send big files: they are checked on the blocking
/// pool, a few at a time, and the server's other requests keep being answered. (Two 100,000-key
/// validations used to stall `/api/health` for the 57 s they took.)
#[test]
fn health_answers_while_big_validations_run() {
    let (p, d) = plain_project();
    let s = Server::start(d.path(), p.path(), 2);
    let body =
        serde_json::json!({"services": services_with_100_000_keys(), "steps": "- service: app\n  command: 'true'\n"})
            .to_string();
    assert!(body.len() < 3 * 1024 * 1024);
    let url = s.url.clone();
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let (url, body) = (url.clone(), body.clone());
            std::thread::spawn(move || {
                let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
                let mut r =
                    agent.post(&format!("{url}/api/validate")).content_type("application/json").send(&body).unwrap();
                let status = r.status().as_u16();
                let retry = r.headers().get("retry-after").is_some();
                let v: serde_json::Value = r.body_mut().read_json().unwrap();
                (status, retry, v)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..10 {
        let start = Instant::now();
        assert_eq!(s.get("/api/health")["status"], "ok");
        assert!(start.elapsed() < Duration::from_secs(2), "health took {:?}", start.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    }
    for sender in senders {
        let (status, retry, v) = sender.join().unwrap();
        match status {
            200 => assert_eq!(v["errors"], 0, "{v}"),
            // More at once than the server validates at once: told to come back.
            503 => assert!(retry && v["error"].as_str().unwrap().contains("busy"), "{v}"),
            _ => panic!("{status}: {v}"),
        }
    }
}

/// `--request-log` reads each body to log it; bodies over 1 MiB (the studio's edited files)
/// used to reach the handlers empty.
#[test]
fn the_request_log_passes_big_bodies_on_whole() {
    let (p, d) = plain_project();
    let log = d.path().join("requests.log");
    let s = Server::start_with(d.path(), p.path(), 2, &["--request-log".to_string(), log.display().to_string()]);
    let body =
        serde_json::json!({"services": services_with_100_000_keys(), "steps": "- service: app\n  command: 'true'\n"})
            .to_string();
    assert!(body.len() > 1024 * 1024, "the body must be larger than what is logged");
    let (status, _, _, text) = s.request("POST", "/api/validate", "application/json", &body);
    assert_eq!(status, 200, "{text}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["errors"], 0, "{text}");
    let logged = std::fs::read_to_string(&log).unwrap();
    let line: serde_json::Value =
        serde_json::from_str(logged.lines().find(|l| l.contains("/api/validate")).unwrap()).unwrap();
    let logged_body = line["body"].as_str().unwrap();
    let more = body.len() - 1024 * 1024;
    assert!(logged_body.ends_with(&format!("… ({more} more bytes)")), "{}", &logged_body[logged_body.len() - 60..]);
    assert_eq!(line["headers"]["authorization"], "***");
    // Larger than the server takes: refused as JSON, not passed on cut.
    // A raw socket: the server answers 413 and closes while the body is still being sent,
    // which a client may see as a broken pipe before it reads the answer (ureq then fails).
    let (status, content_type, text) = s.send_oversized("/api/validate", 4 * 1024 * 1024);
    assert_eq!((status, content_type.as_str()), (413, "application/json"), "{text}");
}

/// Every error the API sends is JSON with an `error` message, with the status saying what
/// went wrong: 400 bad input, 404 unknown, 405 wrong method, 409 the run's state, 413, 415, 422.
#[test]
fn errors_are_json_with_their_status() {
    let (p, d) = plain_project();
    let s = Server::start(d.path(), p.path(), 2);
    let cases = [
        ("POST", "/api/validate", "text/plain", "{}", 415),
        ("POST", "/api/validate", "application/json", "{\"services\": ", 400),
        ("POST", "/api/validate", "application/json", "{\"services\": \"\"}", 422),
        ("POST", "/api/runs", "application/json", "{\"project\": \"demo\", \"bogus\": 1}", 422),
        ("POST", "/api/runs", "application/json", "{\"project\": \"nope\"}", 400),
        ("GET", "/api/runs?page=99999999999", "", "", 400),
        ("GET", "/api/runs?per_page=x", "", "", 400),
        ("GET", "/api/runs/nope", "", "", 404),
        ("POST", "/api/runs/nope/cancel", "", "", 404),
        ("POST", "/api/runs/nope/approve", "", "", 404),
        ("GET", "/api/runs/nope/events", "", "", 404),
        ("GET", "/api/nope", "", "", 404),
        ("DELETE", "/api/health", "", "", 405),
    ];
    for (method, path, content_type, body, want) in cases {
        let (status, ct, _, text) = s.request(method, path, content_type, body);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(status, want, "{method} {path}: {text}");
        assert!(ct.starts_with("application/json") && v["error"].is_string(), "{method} {path}: {ct} {text}");
    }
    // The last page there could be is empty, not an overflow.
    assert_eq!(s.get(&format!("/api/runs?page={}", u32::MAX))["runs"], serde_json::json!([]));
}

/// The server's own log goes through `tracing` on stderr: `--log-level` wins over `RUST_LOG`,
/// and a filter that does not parse is a usage error.
#[test]
fn the_server_log_level_comes_from_the_flag_or_rust_log() {
    use std::io::BufRead;
    let (p, d) = plain_project();
    let serve = |flag: Option<&str>, env: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_slipway"));
        c.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"]).arg(d.path()).arg("--project");
        c.arg(format!("demo={}", p.path().display())).env("SLIPWAY_TOKEN", TOKEN).env_remove("RUST_LOG");
        if let Some(f) = flag {
            c.args(["--log-level", f]);
        }
        if let Some(e) = env {
            c.env("RUST_LOG", e);
        }
        c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        (line, out.status, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (url, _, err) = serve(None, None);
    assert!(url.starts_with("Slipway studio: http://"), "{url}");
    assert!(err.contains("INFO") && err.contains("serving on 127.0.0.1:"), "{err}");
    let (_, _, err) = serve(None, Some("warn"));
    assert!(!err.contains("serving on"), "RUST_LOG=warn still logged at info: {err}");
    let (_, _, err) = serve(Some("info"), Some("warn"));
    assert!(err.contains("serving on"), "--log-level did not win over RUST_LOG: {err}");
    let (_, status, err) = serve(Some("slipway=loud"), None);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--log-level `slipway=loud` is not a log filter"), "{err}");
}

/// A decrypted value that also appears in the steps file (pasted into a command) or in the
/// request (an edited file, a build value) is masked in the plan event and in the request
/// stored with the run, as it is in the log.
#[test]
fn the_plan_event_and_the_stored_request_are_masked() {
    let steps = "- name: shout\n  service: a\n  command: echo api-s3cret-91f\n";
    let (p, d) = project(steps);
    let s = Server::start(d.path(), p.path(), 2);
    let id = s.start_run(serde_json::json!({
        "project": "demo",
        "steps": steps,
        "ci": {"commit_message": "rotate api-s3cret-91f"},
    }));
    let run = s.wait_status(&id, "success", Duration::from_secs(120));
    let events = s.follow(&id, None);
    let plan = events.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    assert!(plan.starts_with(r#"{"event":"plan""#), "{plan}");
    assert!(plan.contains(r#""command":["echo","***"]"#), "{plan}");
    assert!(!events.contains("api-s3cret-91f"), "a secret in the events: {events}");
    assert!(!run.to_string().contains("api-s3cret-91f"), "{run}");
    let db = rusqlite::Connection::open(d.path().join("slipway.sqlite")).unwrap();
    let request: String = db.query_row("SELECT request FROM runs WHERE id = ?1", [&id], |r| r.get(0)).unwrap();
    assert!(!request.contains("api-s3cret-91f"), "the stored request holds the secret: {request}");
    let request: serde_json::Value = serde_json::from_str(&request).unwrap();
    assert_eq!(request["ci"]["commit_message"], "rotate ***");
}

/// A build tag (or `ci.branch`, which becomes the tag) over 255 bytes is refused with 422
/// before a run is queued: `tag:`/`exclude:` matching costs time with its length.
#[test]
fn build_tags_over_255_bytes_are_refused() {
    let (p, d) = plain_project();
    let s = Server::start(d.path(), p.path(), 2);
    let long = "a".repeat(256);
    for body in [
        serde_json::json!({"project": "demo", "tag": long}),
        serde_json::json!({"project": "demo", "ci": {"branch": long}}),
    ] {
        let (status, v) = s.post("/api/runs", body, Some(TOKEN));
        assert_eq!(status, 422, "{v}");
        let error = v["error"].as_str().unwrap();
        assert!(
            error.ends_with("the build tag is 256 bytes long; a branch or tag name has at most 255 bytes"),
            "{error}"
        );
    }
    assert_eq!(s.get("/api/runs")["total"], 0, "a refused request queued a run");
    s.start_run(serde_json::json!({"project": "demo", "tag": "a".repeat(255)}));
}

/// Slow clients are cut off: headers must arrive within 10 s, a body within 30 s.
#[test]
fn slow_clients_are_disconnected() {
    use std::io::Write;
    let (p, d) = plain_project();
    let s = Server::start(d.path(), p.path(), 2);
    let addr = s.url.strip_prefix("http://").unwrap().to_string();
    let open = |first: &str| {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
        c.write_all(first.as_bytes()).unwrap();
        c
    };
    let start = Instant::now();
    let mut headers = open("GET /api/health HTTP/1.1\r\nHost: x\r\n");
    let mut body = open(
        "POST /api/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ser",
    );
    let mut answer = String::new();
    body.read_to_string(&mut answer).expect("the server kept waiting for the body");
    assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("did not arrive"), "{answer}");
    let mut rest = Vec::new();
    headers.read_to_end(&mut rest).expect("the server kept waiting for the headers");
    assert!(start.elapsed() < Duration::from_secs(45), "{:?}", start.elapsed());
}

/// Sent right after the run is created (while the server is still starting it): neither is
/// refused nor lost. They used to be answered "run … is running" and dropped.
#[test]
fn a_cancel_or_approve_right_after_create_takes_effect() {
    let (p, d) = project("- name: long\n  service: a\n  command: sleep 300\n");
    let s = Server::start(d.path(), p.path(), 2);
    let id = s.start_run(serde_json::json!({"project": "demo"}));
    let (status, v) = s.post(&format!("/api/runs/{id}/cancel"), serde_json::json!({}), Some(TOKEN));
    assert_eq!(status, 200, "{v}");
    s.wait_status(&id, "cancelled", Duration::from_secs(60));
    // Cancelling it again: it has ended.
    let (status, v) = s.post(&format!("/api/runs/{id}/cancel"), serde_json::json!({}), Some(TOKEN));
    assert_eq!(status, 409, "{v}");
    assert_eq!(leftovers(&id), 0);

    let steps = "- type: manual\n  steps:\n  - name: gated\n    service: a\n    command: echo approved\n";
    std::fs::write(p.path().join("codeship-steps.yml"), steps).unwrap();
    let id = s.start_run(serde_json::json!({"project": "demo"}));
    let (status, v) = s.post(&format!("/api/runs/{id}/approve"), serde_json::json!({}), Some(TOKEN));
    assert_eq!(status, 200, "{v}");
    let run = s.wait_status(&id, "success", Duration::from_secs(60));
    assert_eq!(run["steps"][0]["status"], "success", "{run}");
}

/// `GET /api/runs/{id}` needs no token: its errors and step messages name files as the
/// configuration does, never by their place on the server. A resume point past 2^63 replays nothing.
#[test]
fn a_run_error_shows_no_server_paths_and_huge_resume_points_replay_nothing() {
    let (p, d) = project("- name: s\n  service: a\n  command: echo hi\n");
    let s = Server::start(d.path(), p.path(), 2);
    let base = support::base_image();
    let services = format!("a:\n  image: {base}\n  env_file: missing.env\n");
    let id = s.start_run(serde_json::json!({"project": "demo", "services": services}));
    s.follow(&id, None);
    let run = s.wait_status(&id, "failed", Duration::from_secs(60));
    let message = run["steps"][0]["message"].as_str().unwrap();
    let dir = p.path().canonicalize().unwrap().display().to_string();
    assert!(message.contains("cannot read missing.env"), "{run}");
    assert!(!run.to_string().contains(&dir) && !s.get("/api/runs").to_string().contains(&dir), "{run}");
    // Every event, then none after 2^63 (it used to wrap around to "after -2^63": all of them).
    assert!(s.follow(&id, Some(0)).contains("id: 1\n"));
    let replayed = s.follow(&id, Some(1 << 63));
    assert!(!replayed.contains("data:"), "{replayed}");
}

/// The studio's "Load project files" reads a project's two files for the editors. A steps file
/// that is a symlink to the key (inside the folder) or to a host file (outside it), or a FIFO,
/// is refused with a message naming the file; before, the key and the host file were returned
/// as the "steps" text and a FIFO hung the request.
#[test]
fn project_files_stay_inside_the_project_are_regular_and_never_a_key() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let mk = |name: &str, steps: &dyn Fn(&Path)| {
        let dir = root.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
        steps(&dir);
        format!("{name}={}", dir.display())
    };
    let key_text = "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789+/ABCDE=\n";
    let outside = root.path().join("host-secret.yml");
    std::fs::write(&outside, "- service: app\n  command: echo host-secret\n").unwrap();
    let projects = [
        mk("plain", &|d| std::fs::write(d.join("codeship-steps.yml"), "- service: app\n  command: 'true'\n").unwrap()),
        mk("tokey", &|d| {
            std::fs::write(d.join("codeship.aes"), key_text).unwrap();
            std::os::unix::fs::symlink("codeship.aes", d.join("codeship-steps.yml")).unwrap();
        }),
        mk("outside", &|d| std::os::unix::fs::symlink(&outside, d.join("codeship-steps.yml")).unwrap()),
        mk("fifo", &|d| {
            let ok = Command::new("mkfifo").arg(d.join("codeship-steps.yml")).status().unwrap().success();
            assert!(ok, "mkfifo");
        }),
    ];
    let extra: Vec<String> = projects.iter().flat_map(|p| ["--project".to_string(), p.clone()]).collect();
    let server = Server::start_with(data.path(), &root.path().join("plain"), 1, &extra);
    let (status, _, _, body) = server.request("GET", "/api/projects/plain/files", "application/json", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("command: 'true'"), "{body}");
    for (name, want) in
        [("tokey", "holds a project key"), ("outside", "outside the project folder"), ("fifo", "not a regular file")]
    {
        let start = Instant::now();
        let (status, _, _, body) =
            server.request("GET", &format!("/api/projects/{name}/files"), "application/json", "");
        assert!(start.elapsed() < Duration::from_secs(10), "{name}: the request hung");
        assert_eq!(status, 422, "{name}: {body}");
        assert!(body.contains(want) && body.contains("codeship-steps.yml"), "{name}: {body}");
        assert!(!body.contains(key_text.trim()) && !body.contains("host-secret"), "{name} leaked: {body}");
        assert!(!body.contains(&root.path().display().to_string()), "{name}: a server path in {body}");
    }
}

/// Rerun queues the stored request of a run again: the same edited files and values (here a
/// steps file given in the request, not the project's), under a new id; the token is needed,
/// an unknown run is a 404, and the project list says which kind each project is.
#[test]
fn rerun_queues_the_stored_request_again() {
    let (p, d) = project("- name: from-disk\n  service: a\n  command: echo disk\n");
    let s = Server::start(d.path(), p.path(), 2);
    let edited = "- name: edited\n  service: a\n  command: echo edited-text\n";
    let first = s.start_run(serde_json::json!({"project": "demo", "tag": "feature/x", "steps": edited}));
    s.wait_status(&first, "success", Duration::from_secs(120));
    assert_eq!(s.post(&format!("/api/runs/{first}/rerun"), serde_json::json!({}), None).0, 401);
    assert_eq!(s.post("/api/runs/nope/rerun", serde_json::json!({}), Some(TOKEN)).0, 404);
    let (status, v) = s.post(&format!("/api/runs/{first}/rerun"), serde_json::json!({}), Some(TOKEN));
    assert_eq!(status, 202, "{v}");
    let second = v["id"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    let run = s.wait_status(&second, "success", Duration::from_secs(120));
    assert_eq!(run["tag"], "feature/x");
    assert_eq!(run["steps"][0]["name"], "edited", "{run}");
    let projects = s.get("/api/projects");
    assert_eq!(projects["projects"][0], serde_json::json!({"name": "demo", "kind": "folder"}));
}
