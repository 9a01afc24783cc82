//! Approvals after a restart (issue 22): a run on the swarm approved once, the server killed
//! while its second manual group waits, the new server's approval reaches the agent (it pushes
//! the second approval tag, having read back that the first was pushed) and the run succeeds.
//! Skips as swarm_run.rs does.

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::swarm::{assert_nothing_left, pairs, step_lines, swarm_env, swarm_server_in};

#[test]
fn an_approval_after_a_restart_reaches_the_swarm_run() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let dir = tempfile::tempdir().unwrap();
    let base = format!("{}/slipway-test/busybox:latest", env["SLIPWAY_SWARM_REGISTRY"]);
    std::fs::write(dir.path().join("codeship-services.yml"), format!("app:\n  image: {base}\n")).unwrap();
    std::fs::write(
        dir.path().join("codeship-steps.yml"),
        "- name: first\n  service: app\n  command: echo before\n\
         - type: manual\n  tag: main\n  steps:\n  - name: one\n    service: app\n    command: echo approved-one\n\
         - type: manual\n  tag: ^main$\n  steps:\n  - name: two\n    service: app\n    command: echo approved-two\n",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = swarm_server_in(Some(data.path()), &env, dir.path(), &[]);
    // Two manual groups: one per set of branches (SW210), both for `main`.
    let id = server.start_run(json!({"project": "demo", "tag": "main"}));
    let step_done = |server: &support::server::Server, name: &str| {
        let started = Instant::now();
        loop {
            let run: Value = serde_json::from_str(&server.get_text(&format!("/api/runs/{id}"))).unwrap();
            if run["steps"].as_array().into_iter().flatten().any(|s| s["name"] == name && s["status"] == "success") {
                return;
            }
            assert_eq!(run["status"], "running", "the run ended: {}", server.everything(&id));
            assert!(started.elapsed() < Duration::from_secs(180), "step {name} never ran: {run}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    step_done(&server, "first");
    server.approve(&id);
    step_done(&server, "one");
    drop(server); // SIGKILL, as a crash, while the second group waits
    let server = swarm_server_in(Some(data.path()), &env, dir.path(), &[]);
    std::thread::sleep(Duration::from_secs(3));
    let waiting: Value = serde_json::from_str(&server.get_text(&format!("/api/runs/{id}"))).unwrap();
    assert_eq!(waiting["status"], "running", "the second group did not wait: {}", server.everything(&id));
    server.approve(&id);
    let run = server.finished(&id, Duration::from_secs(120));
    assert_eq!(run["status"], "success", "{}", server.everything(&id));
    assert_eq!(
        step_lines(&server.events(&id)),
        ["first: before", "one: approved-one", "two: approved-two"],
        "{}",
        server.everything(&id)
    );
    assert_nothing_left(&env, std::slice::from_ref(&id), &hosts);
}
