//! docs/perf.md's "Swarm engine" figures (issue 22): submit-to-first-step latency of a run on
//! the swarm and on the local engine (the median of five each, after one run that warms the
//! agent image and the base image up), and the wall time of six runs of `sleep 5` at once.
//! Prints them (ignored: run it by hand); asserts only that every run succeeds. And one test of
//! placement constraints. Skips without a swarm, as swarm_run.rs.

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::server::Server;
use support::swarm::{swarm_env, swarm_server};

fn project(base: &str, step: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| std::fs::write(dir.path().join(rel), text).unwrap();
    w("codeship-services.yml", &format!("app:\n  image: {base}\n"));
    w("codeship-steps.yml", &format!("- name: go\n  service: app\n  command: {step}\n"));
    dir
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Milliseconds from the POST to the first line of the step's output (its `at_ms`).
fn latency(server: &Server) -> u64 {
    let submitted = now_ms();
    let id = server.start_run(json!({"project": "demo"}));
    let run = server.finished(&id, Duration::from_secs(300));
    assert_eq!(run["status"], "success", "{}", server.everything(&id));
    let first = server
        .events(&id)
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|e| e["event"] == "log" && e["build"] != true)
        .and_then(|e| e["at_ms"].as_u64())
        .expect("a step line with its time");
    first.saturating_sub(submitted)
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort();
    v[v.len() / 2]
}

/// The wall time of six runs submitted at once, and the nodes they ran on.
fn six_at_once(server: &Server) -> (u128, std::collections::BTreeSet<String>) {
    let started = Instant::now();
    let ids: Vec<String> = (0..6).map(|_| server.start_run(json!({"project": "demo"}))).collect();
    let mut nodes = std::collections::BTreeSet::new();
    for id in &ids {
        let run = server.finished(id, Duration::from_secs(300));
        assert_eq!(run["status"], "success");
        nodes.extend(run["node"].as_str().map(str::to_string));
    }
    (started.elapsed().as_millis(), nodes)
}

#[test]
#[ignore = "a measurement for docs/perf.md: cargo test -p slipway --test swarm_perf -- --ignored --nocapture"]
fn submit_to_first_step_on_the_swarm_and_locally() {
    let Some(env) = swarm_env() else { return };
    let swarm_base = format!("{}/slipway-test/busybox:latest", env["SLIPWAY_SWARM_REGISTRY"]);
    let local_base = support::base_image();

    let dir = project(&local_base, "echo first");
    let local = Server::start_temp(&support::server::project_args("demo", dir.path()), "t");
    latency(&local);
    let local_ms: Vec<u64> = (0..5).map(|_| latency(&local)).collect();

    let dir = project(&swarm_base, "echo first");
    let swarm = swarm_server(&env, dir.path(), &[]);
    let cold = latency(&swarm);
    let swarm_ms: Vec<u64> = (0..5).map(|_| latency(&swarm)).collect();
    eprintln!("submit to first step, local: {local_ms:?} ms, median {}", median(local_ms.clone()));
    eprintln!(
        "submit to first step, swarm: {swarm_ms:?} ms, median {} (first run, agent image pushed: {cold})",
        median(swarm_ms.clone())
    );

    let dir = project(&local_base, "sleep 5");
    let local = Server::start_temp(
        &[support::server::project_args("demo", dir.path()), vec!["--max-concurrent-runs".into(), "6".into()]].concat(),
        "t",
    );
    eprintln!("six runs of `sleep 5` at once, local engine: {} ms", six_at_once(&local).0);
    let dir = project(&swarm_base, "sleep 5");
    let swarm = swarm_server(&env, dir.path(), &["--max-concurrent-runs", "6"]);
    let (ms, nodes) = six_at_once(&swarm);
    eprintln!("six runs of `sleep 5` at once, 3-node swarm: {ms} ms on {nodes:?}");
    // The same on one node: a placement constraint pins every run there.
    let one = swarm_server(
        &env,
        dir.path(),
        &["--max-concurrent-runs", "6", "--cluster-constraint", "node.hostname==slw-n2"],
    );
    let (ms, nodes) = six_at_once(&one);
    eprintln!("six runs of `sleep 5` at once, 1 node of the swarm: {ms} ms");
    assert_eq!(nodes.into_iter().collect::<Vec<_>>(), ["slw-n2"], "the constraint placed runs elsewhere");
}

/// `--cluster-constraint` pins every run to the node it names (unpinned, six runs at once
/// spread over the nodes: swarm_faults.rs).
#[test]
fn a_placement_constraint_pins_every_run_to_its_node() {
    let Some(env) = swarm_env() else { return };
    let dir = project(&format!("{}/slipway-test/busybox:latest", env["SLIPWAY_SWARM_REGISTRY"]), "echo pinned");
    let one = swarm_server(
        &env,
        dir.path(),
        &["--max-concurrent-runs", "6", "--cluster-constraint", "node.hostname==slw-n2"],
    );
    let (_, nodes) = six_at_once(&one);
    assert_eq!(nodes.into_iter().collect::<Vec<_>>(), ["slw-n2"], "the constraint placed runs elsewhere");
}
