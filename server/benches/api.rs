//! Server load figures (run `cargo bench -p slipway --bench api`; needs `wrk` and the test
//! environment of tests/env/up.sh). Prints, for docs/perf.md:
//! 1. `POST /api/validate` with the 00.aggregate example under `wrk` on loopback: requests per
//!    second and p99 latency;
//! 2. the delay from a line written in a container to its arrival at an SSE client (p50, p99),
//!    both clocks being the host's `/proc/uptime` (10 ms resolution);
//! 3. `POST /api/validate` of a services file with one mapping of 100,000 keys (median of 5),
//!    and `/api/health` latency while 4 clients send such validations back to back for 10 s.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime").unwrap().split_whitespace().next().unwrap().parse().unwrap()
}

fn main() {
    let base = support::base_image();
    let project = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("codeship-services.yml"), format!("a:\n  image: {base}\n")).unwrap();
    std::fs::write(
        project.path().join("codeship-steps.yml"),
        "- name: chatty\n  service: a\n  command: sh -c 'for i in $(seq 300); do cut -d\" \" -f1 /proc/uptime; sleep 0.02; done'\n",
    )
    .unwrap();
    let args = [
        "--data-dir".to_string(),
        data.path().display().to_string(),
        "--project".to_string(),
        format!("bench={}", project.path().display()),
    ];
    let (mut server, url) = support::serve(&args, "bench");

    // 1. /api/validate under wrk.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/examples/00.aggregate");
    let body = serde_json::json!({
        "services": std::fs::read_to_string(fixtures.join("codeship-services.yml")).unwrap(),
        "steps": std::fs::read_to_string(fixtures.join("codeship-steps.yml")).unwrap(),
    });
    let lua = data.path().join("post.lua");
    std::fs::write(
        &lua,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = {}\n",
            serde_json::to_string(&body.to_string()).unwrap()
        ),
    )
    .unwrap();
    let wrk = Command::new("wrk")
        .args(["-t2", "-c16", "-d10s", "--latency", "-s"])
        .arg(&lua)
        .arg(format!("{url}/api/validate"))
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&wrk.stdout);
    let rps = text.lines().find(|l| l.starts_with("Requests/sec")).unwrap_or("Requests/sec: ?").trim().to_string();
    let p99 = text.lines().find(|l| l.trim_start().starts_with("99%")).unwrap_or("99% ?").trim().to_string();
    let errors = text.lines().find(|l| l.contains("Non-2xx")).unwrap_or("no non-2xx responses").trim().to_string();
    println!("POST /api/validate (00.aggregate, wrk -t2 -c16 -d10s): {rps}; latency {p99}; {errors}");

    // 2. Container line → SSE client delay.
    let id: String = {
        let mut r = ureq::post(&format!("{url}/api/runs"))
            .header("authorization", "Bearer bench")
            .send_json(serde_json::json!({"project": "bench"}))
            .unwrap();
        r.body_mut().read_json::<serde_json::Value>().unwrap()["id"].as_str().unwrap().to_string()
    };
    let resp =
        ureq::get(&format!("{url}/api/runs/{id}/events")).header("authorization", "Bearer bench").call().unwrap();
    let mut delays = Vec::new();
    for l in BufReader::new(resp.into_body().into_reader()).lines() {
        let l = l.unwrap();
        let Some(data) = l.strip_prefix("data: ") else { continue };
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        if v["event"] == "log"
            && let Some(t) = v["line"].as_str().and_then(|s| s.parse::<f64>().ok())
        {
            delays.push(((uptime() - t) * 1000.0).max(0.0));
        }
        if v["event"] == "run_finished" {
            break;
        }
    }
    delays.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| delays[((delays.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "container line → SSE client: {} lines, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (goal p99 < 200 ms; clock resolution 10 ms)",
        delays.len(),
        pct(0.5),
        pct(0.99),
        delays.last().unwrap()
    );
    big_validations(&url);
    let _ = server.kill();
    let _ = server.wait();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// 3. What one request may cost the server, and what that does to everyone else's requests.
fn big_validations(url: &str) {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut services = String::from("app:\n image: busybox\n environment:\n");
    for i in 0..100_000usize {
        // `k` and at most three base-62 digits: 10 bytes a line, under the core's 1 MiB limit.
        let (a, b, c) = (i / (62 * 62), i / 62 % 62, i % 62);
        let key: String = [a, b, c].iter().skip_while(|&&d| d == 0).map(|&d| DIGITS[d] as char).collect();
        services.push_str(&format!("  k{key}: v\n"));
    }
    let body = serde_json::json!({"services": services, "steps": "- service: app\n  command: 'true'\n"}).to_string();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let post = |agent: &ureq::Agent| {
        agent
            .post(&format!("{url}/api/validate"))
            .content_type("application/json")
            .send(&body)
            .unwrap()
            .status()
            .as_u16()
    };
    let mut alone: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(post(&agent), 200);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    alone.sort_by(f64::total_cmp);
    println!("POST /api/validate, one mapping of 100,000 keys (1 MB): median {:.0} ms of 5", alone[2]);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, busy) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let (stop, ok, busy, agent, post) = (stop.clone(), ok.clone(), busy.clone(), agent.clone(), &post);
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match post(&agent) {
                        200 => ok.fetch_add(1, Ordering::SeqCst),
                        503 => busy.fetch_add(1, Ordering::SeqCst),
                        other => panic!("validate answered {other}"),
                    };
                }
            });
        }
        let mut health = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let t = Instant::now();
            assert_eq!(agent.get(&format!("{url}/api/health")).call().unwrap().status().as_u16(), 200);
            health.push(t.elapsed().as_secs_f64() * 1000.0);
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::SeqCst);
        health.sort_by(f64::total_cmp);
        println!(
            "GET /api/health while 4 clients send 100,000-key validations for 10 s: {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            health.len(),
            percentile(&health, 0.5),
            percentile(&health, 0.99),
            health.last().unwrap()
        );
    });
    println!(
        "… meanwhile {} validations answered, {} told to retry (503)",
        ok.load(Ordering::SeqCst),
        busy.load(Ordering::SeqCst)
    );
}
