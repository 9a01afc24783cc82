//! A manual group of a run on the swarm (issue 22): it waits on its node until the run is
//! approved on the server, as on one engine (the approval reaches the agent as a tag in the
//! cluster registry), and no approval tag is left on the manager. Skips without a swarm, as
//! swarm_run.rs.

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::swarm::{docker, swarm_env, swarm_server};

#[test]
fn a_manual_group_on_the_swarm_waits_for_the_servers_approval() {
    let Some(env) = swarm_env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let base = format!("{}/slipway-test/busybox:latest", env["SLIPWAY_SWARM_REGISTRY"]);
    std::fs::write(dir.path().join("codeship-services.yml"), format!("app:\n  image: {base}\n")).unwrap();
    std::fs::write(
        dir.path().join("codeship-steps.yml"),
        "- name: first\n  service: app\n  command: echo before\n\
         - type: manual\n  steps:\n  - name: gated\n    service: app\n    command: echo approved\n",
    )
    .unwrap();
    let server = swarm_server(&env, dir.path(), &[]);
    let id = server.start_run(json!({"project": "demo"}));

    // The first step done, the group waits (it is not skipped) until the approval.
    let started = Instant::now();
    loop {
        let run: Value = serde_json::from_str(&server.get_text(&format!("/api/runs/{id}"))).unwrap();
        let first_done =
            run["steps"].as_array().into_iter().flatten().any(|s| s["name"] == "first" && s["status"] == "success");
        assert_eq!(run["status"], "running", "the run ended before its approval: {}", server.everything(&id));
        if first_done {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "the first step never ran: {run}");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    let waiting: Value = serde_json::from_str(&server.get_text(&format!("/api/runs/{id}"))).unwrap();
    assert_eq!(waiting["status"], "running", "the manual group did not wait: {}", server.everything(&id));
    server.approve(&id);
    let run = server.finished(&id, Duration::from_secs(120));
    assert_eq!(run["status"], "success", "{}", server.everything(&id));
    let gated = run["steps"].as_array().unwrap().iter().find(|s| s["name"] == "gated").cloned();
    assert_eq!(gated.map(|s| s["status"].clone()), Some(json!("success")), "{run}");
    assert!(server.log(&id).contains("approved"), "{}", server.log(&id));

    // The approval's tag is gone from the manager with the run's image.
    let manager = &env["SLIPWAY_SWARM_MANAGER"];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tags = docker(manager, &["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
        let left: Vec<&str> = tags.lines().filter(|t| t.contains(&id)).collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the run's tags left on the manager: {left:?}");
        std::thread::sleep(Duration::from_secs(1));
    }
}
