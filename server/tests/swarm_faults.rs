//! The swarm engine under load and faults (issue 22), on tests/env/swarm.sh's real swarm: six
//! runs at once succeed over at least two nodes; a cancelled run stops and leaves nothing; a
//! node whose dockerd is SIGKILLed mid-run interrupts its run within 60 s while the others
//! succeed. One test, in phases: they share the swarm, which cannot take them side by side on
//! this machine. Skips as swarm_run.rs does.

mod support;

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::swarm::{assert_nothing_left, pairs, swarm_env, swarm_server};

/// A project whose one step sleeps `secs` and says so.
fn sleeper(registry: &str, secs: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| std::fs::write(dir.path().join(rel), text).unwrap();
    w("codeship-services.yml", &format!("app:\n  image: {registry}/slipway-test/busybox:latest\n"));
    w(
        "codeship-steps.yml",
        &format!("- name: nap\n  service: app\n  command: sh -c 'echo start; sleep {secs}; echo slept'\n"),
    );
    dir
}

fn record(server: &support::server::Server, id: &str) -> Value {
    serde_json::from_str(&server.get_text(&format!("/api/runs/{id}"))).unwrap()
}

/// Wait until run `id` is placed (its record names a node) and its step is running; the node.
fn placed(server: &support::server::Server, id: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let v = record(server, id);
        if let Some(node) = v["node"].as_str()
            && server.try_get_text(&format!("/api/runs/{id}/log")).is_ok_and(|l| l.contains("start"))
        {
            return node.to_string();
        }
        assert!(start.elapsed() < limit, "run {id} was not placed and started: {v}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn six_runs_spread_a_cancel_cleans_up_and_a_dead_node_interrupts_only_its_run() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let registry = env["SLIPWAY_SWARM_REGISTRY"].clone();

    // Six at once, on at least two nodes, all successful; wall time for docs/perf.md.
    let dir = sleeper(&registry, 5);
    let server = swarm_server(&env, dir.path(), &["--max-concurrent-runs", "6"]);
    let started = Instant::now();
    let ids: Vec<String> = (0..6).map(|_| server.start_run(json!({"project": "demo"}))).collect();
    let mut nodes = BTreeSet::new();
    for id in &ids {
        let run = server.finished(id, Duration::from_secs(300));
        assert_eq!(run["status"], "success", "{}", server.everything(id));
        assert!(server.log(id).contains("slept"), "{}", server.log(id));
        nodes.insert(run["node"].as_str().unwrap().to_string());
    }
    eprintln!("six runs of `sleep 5` on the swarm: {} ms, on nodes {nodes:?}", started.elapsed().as_millis());
    assert!(nodes.len() >= 2, "six runs all on {nodes:?}");
    assert_nothing_left(&env, &ids, &hosts);

    // A cancel: the run ends as cancelled, its step's container and everything else go.
    let long = sleeper(&registry, 120);
    let server = swarm_server(&env, long.path(), &["--max-concurrent-runs", "6"]);
    let id = server.start_run(json!({"project": "demo"}));
    placed(&server, &id, Duration::from_secs(120));
    let asked = Instant::now();
    server.cancel(&id);
    let run = server.finished(&id, Duration::from_secs(30));
    assert_eq!(run["status"], "cancelled", "{run}");
    eprintln!("cancel to cancelled: {} ms", asked.elapsed().as_millis());
    assert_nothing_left(&env, std::slice::from_ref(&id), &hosts);

    // A node's dockerd killed mid-run: its run is interrupted within 60 s, the others succeed.
    let dir = sleeper(&registry, 40);
    let server = swarm_server(&env, dir.path(), &["--max-concurrent-runs", "6"]);
    let ids: Vec<String> = (0..3).map(|_| server.start_run(json!({"project": "demo"}))).collect();
    let placed_on: Vec<String> = ids.iter().map(|id| placed(&server, id, Duration::from_secs(120))).collect();
    let manager_node = "slw-n1";
    let Some(victim_index) = placed_on.iter().position(|n| n != manager_node) else {
        panic!("all three runs on the manager node ({placed_on:?}): no worker to kill")
    };
    let victim = placed_on[victim_index].clone();
    let pids = pairs(&env["SLIPWAY_SWARM_NODE_PIDS"]);
    let pid = &pids[&victim];
    assert!(std::process::Command::new("kill").args(["-9", pid]).status().unwrap().success());
    let killed = Instant::now();
    let lost = server.finished(&ids[victim_index], Duration::from_secs(75));
    let took = killed.elapsed();
    assert_eq!(lost["status"], "interrupted", "{}", server.everything(&ids[victim_index]));
    assert!(took < Duration::from_secs(60), "interrupted after {took:?}");
    eprintln!("node {victim} killed: its run interrupted after {} ms", took.as_millis());
    for (i, id) in ids.iter().enumerate() {
        if placed_on[i] != victim {
            let run = server.finished(id, Duration::from_secs(180));
            assert_eq!(run["status"], "success", "a run on {}: {}", placed_on[i], server.everything(id));
        }
    }
    // The swarm back for whatever runs next (swarm.sh brings the killed node back).
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/env/swarm.sh");
    let out = std::process::Command::new("bash").arg(script).arg("up").output().unwrap();
    assert!(out.status.success(), "swarm.sh up after the kill: {}", String::from_utf8_lossy(&out.stderr));
}
