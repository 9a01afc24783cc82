//! Issue 19, a gap found after finding 6 was fixed: with `--request-log` on, the log's
//! middleware read every request body (up to 25 MiB) to log it, before the hooks handler looked
//! at the signature header, so an unsigned 20 MB POST was taken whole again. Now the log keeps a
//! copy of what the handler reads, as it reads it: an unsigned delivery is refused before a
//! byte of its body is read, log or no log.
//!
//! No forge runs here and no run starts (no Docker needed): the requests are written on raw
//! sockets, with GitHub's headers as its "Validating webhook deliveries" documents them.

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use hook_project::{HookProject, answer_within, sign};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const MB: usize = 1_000_000;

#[test]
fn an_unsigned_delivery_is_refused_before_its_body_is_read_with_the_request_log_on() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("requests.log");
    let steps = "- name: t\n  service: app\n  command: 'true'\n";
    let files = [("codeship-services.yml", "app:\n  image: busybox\n"), ("codeship-steps.yml", steps)];
    let p = HookProject::start(&files, &[("web", "")], &[], &["--request-log", log.to_str().unwrap()]);

    // 20 MB announced, 1 MB of it sent, no signature: the answer must not wait for the rest.
    let addr = p.url.strip_prefix("http://").unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /hooks/web HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n\
         X-GitHub-Delivery: unsigned-20mb\r\nContent-Length: {}\r\n\r\n",
        20 * MB
    );
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(&vec![b' '; MB]).unwrap();
    let a = answer_within(&mut c, Duration::from_secs(5)).expect("an answer before the body was sent");
    assert_eq!(a.status, 401, "{:?}", a.body);
    assert!(a.body["error"].as_str().unwrap().contains("X-Hub-Signature-256"), "{:?}", a.body);
    drop(c);

    // A signed delivery is read by its handler, and logged with what the handler read.
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let headers = [
        ("Content-Type", "application/json".to_string()),
        ("X-GitHub-Event", "ping".to_string()),
        ("X-GitHub-Delivery", "signed-ping".to_string()),
        ("X-Hub-Signature-256", sign(body)),
    ];
    let ping = hook_project::http(&p.url, "POST", "/hooks/web", &headers, body);
    assert_eq!(ping.status, 202, "{:?}", ping.body);

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let line_of = |delivery: &str| {
        lines
            .iter()
            .find(|l| l["headers"]["x-github-delivery"] == delivery)
            .unwrap_or_else(|| panic!("no line for {delivery}: {text}"))
            .clone()
    };
    let unsigned = line_of("unsigned-20mb");
    assert_eq!(unsigned["uri"], "/hooks/web");
    assert_eq!((&unsigned["body"], &unsigned["body_unread"]), (&"".into(), &true.into()), "{unsigned}");
    let signed = line_of("signed-ping");
    assert_eq!(signed["body"], String::from_utf8_lossy(body).as_ref(), "{signed}");
    assert!(signed.get("body_unread").is_none(), "{signed}");
    assert_eq!(signed["headers"]["x-hub-signature-256"], "***");
}

/// The server's peak memory under 40 concurrent unsigned 20 MB POSTs with `--request-log` on,
/// for docs/perf.md: `cargo test -p slipway --test webhook_request_log -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_peak_memory_of_unsigned_deliveries_with_the_request_log_on() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("requests.log");
    let steps = "- name: t\n  service: app\n  command: 'true'\n";
    let files = [("codeship-services.yml", "app:\n  image: busybox\n"), ("codeship-steps.yml", steps)];
    let p = HookProject::start(&files, &[("web", "")], &[], &["--request-log", log.to_str().unwrap()]);
    let peak = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().to_string();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
    };
    let before = peak();
    let started = Instant::now();
    let threads: Vec<_> = (0..40)
        .map(|_| {
            let addr = p.url.strip_prefix("http://").unwrap().to_string();
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(&addr).unwrap();
                let head = format!(
                    "POST /hooks/web HTTP/1.1\r\nHost: {addr}\r\nX-GitHub-Event: push\r\nContent-Length: {}\r\n\r\n",
                    20 * MB
                );
                c.write_all(head.as_bytes()).unwrap();
                let chunk = vec![b' '; MB];
                for _ in 0..20 {
                    if c.write_all(&chunk).is_err() {
                        break;
                    }
                }
                let mut answer = Vec::new();
                let _ = c.read_to_end(&mut answer);
                String::from_utf8_lossy(&answer).split(' ').nth(1).unwrap_or("-").to_string()
            })
        })
        .collect();
    let mut codes: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    codes.sort();
    codes.dedup();
    println!(
        "--request-log on, 40 × 20 MB unsigned in {:?}; answers {codes:?}; server peak RSS {} MiB (before: {before} MiB)",
        started.elapsed(),
        peak()
    );
}

/// Found by an adversarial pass: unauthenticated requests grew the request log without end.
/// Past its cap the log keeps each request's line, not its body. (The cap is 256 MiB: the test
/// starts from a sparse file just over it.)
#[test]
fn past_its_cap_the_request_log_keeps_lines_not_bodies() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("requests.log");
    std::fs::File::create(&log).unwrap().set_len(257 * 1024 * 1024).unwrap();
    let steps = "- name: t\n  service: app\n  command: 'true'\n";
    let files = [("codeship-services.yml", "app:\n  image: busybox\n"), ("codeship-steps.yml", steps)];
    let p = HookProject::start(&files, &[("web", "")], &[], &["--request-log", log.to_str().unwrap()]);
    let body = br#"{"zen":"a-body-past-the-cap","hook_id":1}"#;
    let headers = [
        ("Content-Type", "application/json".to_string()),
        ("X-GitHub-Event", "ping".to_string()),
        ("X-GitHub-Delivery", "past-the-cap".to_string()),
        ("X-Hub-Signature-256", sign(body)),
    ];
    let ping = hook_project::http(&p.url, "POST", "/hooks/web", &headers, body);
    assert_eq!(ping.status, 202, "{:?}", ping.body);
    let text = std::fs::read(&log).unwrap();
    let tail = String::from_utf8_lossy(&text[257 * 1024 * 1024..]).into_owned();
    assert!(tail.contains("past-the-cap"), "the request's line is kept: {tail}");
    assert!(!tail.contains("a-body-past-the-cap") && tail.contains("not logged"), "{tail}");
}
