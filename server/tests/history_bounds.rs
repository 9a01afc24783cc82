//! Issue 19, finding 8: the run history had no bounds: one step printing 200 MB grew
//! slipway.sqlite by 266 MB, and nothing was ever deleted. Now a run keeps at most
//! `--max-run-log-mb` (default 50) of step output, with a line saying what was cut, and each
//! project keeps its newest `--keep-runs` (default 200) runs: older ended runs go with their
//! logs, and the database file shrinks.
//!
//! Against `slipway serve` and the real Docker engine (tests/env/up.sh), through the run API.

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use hook_project::{db_size, docker, http, wait_for};
use serde_json::{Value, json};
use std::process::Child;
use std::time::{Duration, Instant};

const TOKEN: &str = "history-bounds-token";

struct Server {
    _dir: tempfile::TempDir,
    data: tempfile::TempDir,
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder project `demo` whose steps file is `steps`, served with `flags`.
fn serve(steps: &str, flags: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let services = format!("app:\n  image: {}\n", support::base_image());
    std::fs::write(dir.path().join("codeship-services.yml"), services).unwrap();
    std::fs::write(dir.path().join("codeship-steps.yml"), steps).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--data-dir".to_string(),
        data.path().display().to_string(),
        "--project".to_string(),
        format!("demo={}", dir.path().display()),
    ];
    args.extend(flags.iter().map(|f| f.to_string()));
    let (child, url) = support::serve_logged(&args, TOKEN, &data.path().join("server.log"));
    Server { _dir: dir, data, child, url }
}

impl Server {
    fn db(&self) -> std::path::PathBuf {
        self.data.path().join("slipway.sqlite")
    }

    fn auth(&self) -> [(&'static str, String); 2] {
        [("Authorization", format!("Bearer {TOKEN}")), ("Content-Type", "application/json".to_string())]
    }

    /// Starts a run with these edited steps (or the project's); its id.
    fn start(&self, steps: Option<&str>) -> String {
        let body = json!({"project": "demo", "steps": steps}).to_string();
        let a = http(&self.url, "POST", "/api/runs", &self.auth(), body.as_bytes());
        assert_eq!(a.status, 202, "{:?}", a.body);
        a.body["id"].as_str().unwrap().to_string()
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let a = http(&self.url, "GET", path, &self.auth(), b"");
        (a.status, a.body)
    }

    fn finished(&self, id: &str) -> Value {
        wait_for(&format!("run {id}"), Duration::from_secs(600), || {
            let (_, v) = self.get(&format!("/api/runs/{id}"));
            v["finished_at"].is_i64().then_some(v)
        })
    }

    fn log(&self, id: &str) -> String {
        match http(&self.url, "GET", &format!("/api/runs/{id}/log"), &self.auth(), b"").body {
            Value::String(s) => s,
            v => v.to_string(),
        }
    }
}

/// A step printing `mb` MB of 100-byte lines.
fn printing(mb: u64) -> String {
    let line = "0123456789".repeat(10);
    format!("- name: chatty\n  service: app\n  command: sh -c 'yes {line} | head -c {}'\n", mb * 1_000_000)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

#[test]
fn a_runs_log_is_capped_with_a_line_saying_what_was_cut() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    // The default cap (50 MB), a step printing 60 MB.
    let s = serve(&printing(60), &[]);
    let before = db_size(&s.db());
    let id = s.start(None);
    let run = s.finished(&id);
    assert_eq!(run["status"], "success", "{run}");
    let grown = db_size(&s.db()).saturating_sub(before);
    assert!(grown < 56_000_000, "the database grew by {:.1} MB for a run capped at 50 MB", mb(grown));
    let log = s.log(&id);
    let cut = log.find("slipway: the run's log reached its cap of 50.0 MB").expect("a line where the log was cut");
    assert!(log[cut..].contains("lines of output ("), "{}", &log[cut..]);
    assert!(log.contains("(step: chatty) success"), "the step's end is kept after the cut");
    assert!(log.trim_end().ends_with("slipway: run success"), "{}", &log[log.len().saturating_sub(500)..]);
}

#[test]
fn old_runs_go_with_their_logs_and_the_database_shrinks() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let s = serve("- name: quiet\n  service: app\n  command: 'true'\n", &["--keep-runs", "2"]);
    let empty = db_size(&s.db());
    let big = s.start(Some(&printing(8)));
    s.finished(&big);
    let with_big = db_size(&s.db());
    // Clearly more than the 2 MB the file must come back under below (8 MB printed; the file
    // and its WAL measured 6.9 MB once on a loaded machine: pages are checkpointed and reused).
    assert!(with_big > empty + 4_000_000, "{} → {}", empty, with_big);
    let (a, b) = (s.start(None), s.start(None));
    s.finished(&a);
    s.finished(&b);
    // The oldest run and its log are gone (just after the newer runs' ends); the two newest are kept.
    wait_for("the oldest run's deletion", Duration::from_secs(30), || {
        (s.get(&format!("/api/runs/{big}")).0 == 404).then_some(())
    });
    let (_, list) = s.get("/api/runs?project=demo");
    let ids: Vec<&str> = list["runs"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!((ids, list["total"].as_i64()), (vec![b.as_str(), a.as_str()], Some(2)));
    // The file gives the space back (the pruning happens just after the run's end).
    let start = Instant::now();
    while db_size(&s.db()) > empty + 2_000_000 {
        assert!(start.elapsed() < Duration::from_secs(30), "the database stayed at {} bytes", db_size(&s.db()));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// For docs/perf.md: the database before and after one step printing 200 MB, with the default
/// cap. `cargo test -p slipway --test history_bounds -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_the_database_for_a_step_printing_200_mb() {
    let s = serve(&printing(200), &[]);
    let before = db_size(&s.db());
    let started = Instant::now();
    let id = s.start(None);
    let run = s.finished(&id);
    let took = started.elapsed();
    let after = db_size(&s.db());
    println!(
        "200 MB of output ({}): slipway.sqlite {:.1} MB → {:.1} MB (+{:.1} MB) in {took:?}",
        run["status"],
        mb(before),
        mb(after),
        mb(after - before)
    );
}
