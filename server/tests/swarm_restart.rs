//! A server restarted while a swarm run goes on (issue 22): the run is recorded `interrupted`,
//! as on the local engine, and the new server stops it on its node (the cancel tag) and removes
//! its swarm objects: nothing is left. Skips as swarm_run.rs does.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::swarm::{assert_nothing_left, pairs, swarm_env, swarm_server_in};

#[test]
fn a_restart_interrupts_a_swarm_run_and_removes_it_from_its_node() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let dir = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| std::fs::write(dir.path().join(rel), text).unwrap();
    w(
        "codeship-services.yml",
        &format!("app:\n  image: {}/slipway-test/busybox:latest\n", env["SLIPWAY_SWARM_REGISTRY"]),
    );
    w("codeship-steps.yml", "- name: nap\n  service: app\n  command: sh -c 'echo start; sleep 300'\n");
    let data = tempfile::tempdir().unwrap();
    let server = swarm_server_in(Some(data.path()), &env, dir.path(), &[]);
    let id = server.start_run(json!({"project": "demo"}));
    let started = Instant::now();
    loop {
        let record: serde_json::Value = serde_json::from_str(&server.get_text(&format!("/api/runs/{id}"))).unwrap();
        let log = server.try_get_text(&format!("/api/runs/{id}/log")).unwrap_or_default();
        if record["node"].is_string() && log.contains("start") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the run did not start on a node: {record} {log}");
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(server); // SIGKILL, as a crash
    let server = swarm_server_in(Some(data.path()), &env, dir.path(), &[]);
    let run = server.finished(&id, Duration::from_secs(10));
    assert_eq!(run["status"], "interrupted", "{run}");
    assert!(run["node"].is_string(), "the node stays on record: {run}");
    assert_nothing_left(&env, std::slice::from_ref(&id), &hosts);
}
