//! A server restarted while swarm runs go on (issue 22). A run whose service is still on the
//! manager is followed again: it ends with its real outcome, its log has every line once, and
//! a cancel after the restart stops it on its node. A run whose service went away while the
//! server was down is recorded `interrupted`, and the new server stops it on its node (the
//! cancel tag) and removes its swarm objects. Nothing is left either way. Skips as
//! swarm_run.rs does.

mod support;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use support::server::Server;
use support::swarm::{assert_nothing_left, docker, pairs, step_lines, swarm_env, swarm_server_in};

/// A project whose one step `nap` runs `script`.
fn project(env: &BTreeMap<String, String>, script: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| std::fs::write(dir.path().join(rel), text).unwrap();
    w(
        "codeship-services.yml",
        &format!("app:\n  image: {}/slipway-test/busybox:latest\n", env["SLIPWAY_SWARM_REGISTRY"]),
    );
    w("codeship-steps.yml", &format!("- name: nap\n  service: app\n  command: sh -c '{script}'\n"));
    dir
}

/// Start a run on a server with its data in `data`, and SIGKILL the server (as a crash) once
/// the run is on a node and its step's line `start` is stored; the run's id.
fn start_then_crash(env: &BTreeMap<String, String>, data: &Path, dir: &Path) -> String {
    let server = swarm_server_in(Some(data), env, dir, &[]);
    let id = server.start_run(json!({"project": "demo"}));
    let started = Instant::now();
    loop {
        let record: Value = serde_json::from_str(&server.get_text(&format!("/api/runs/{id}"))).unwrap();
        let log = server.try_get_text(&format!("/api/runs/{id}/log")).unwrap_or_default();
        if record["node"].is_string() && log.lines().any(|l| l.ends_with(") start")) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the run did not start on a node: {record} {log}");
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(server); // SIGKILL, as a crash
    id
}

fn restarted(env: &BTreeMap<String, String>, data: &Path, dir: &Path) -> Server {
    swarm_server_in(Some(data), env, dir, &[])
}

/// The run goes on while the server is down; the new server follows it to its end: the
/// agent's lines logged before the crash are not stored again, those after it are stored.
#[test]
fn a_restart_follows_a_swarm_run_that_goes_on_to_its_real_end() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let dir = project(&env, "echo start; sleep 10; echo end");
    let data = tempfile::tempdir().unwrap();
    let id = start_then_crash(&env, data.path(), dir.path());
    let crashed = Instant::now();
    let server = restarted(&env, data.path(), dir.path());
    eprintln!("crash to a new server answering: {} ms", crashed.elapsed().as_millis());
    let run = server.finished(&id, Duration::from_secs(90));
    assert_eq!(run["status"], "success", "{}", server.everything(&id));
    assert!(run["node"].is_string(), "the node stays on record: {run}");
    assert_eq!(step_lines(&server.events(&id)), ["nap: start", "nap: end"], "{}", server.everything(&id));
    let log = server.log(&id);
    assert_eq!(log.lines().filter(|l| l.ends_with(") start")).count(), 1, "{log}");
    assert_nothing_left(&env, std::slice::from_ref(&id), &hosts);
}

/// A cancel sent to the new server reaches the run on its node: it ends `cancelled`.
#[test]
fn a_cancel_after_a_restart_stops_the_swarm_run_on_its_node() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let dir = project(&env, "echo start; sleep 300");
    let data = tempfile::tempdir().unwrap();
    let id = start_then_crash(&env, data.path(), dir.path());
    let server = restarted(&env, data.path(), dir.path());
    let asked = Instant::now();
    server.cancel(&id);
    let run = server.finished(&id, Duration::from_secs(120));
    eprintln!("cancel after a restart to cancelled: {} ms", asked.elapsed().as_millis());
    assert_eq!(run["status"], "cancelled", "{}", server.everything(&id));
    assert_nothing_left(&env, std::slice::from_ref(&id), &hosts);
}

/// The run's service removed (with the manager's CLI) while the server was down: the run is
/// interrupted, stopped on its node and removed.
#[test]
fn a_restart_interrupts_a_swarm_run_whose_service_is_gone_and_removes_it_from_its_node() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let dir = project(&env, "echo start; sleep 300");
    let data = tempfile::tempdir().unwrap();
    let id = start_then_crash(&env, data.path(), dir.path());
    let manager = &env["SLIPWAY_SWARM_MANAGER"];
    let services = docker(manager, &["service", "ls", "--format", "{{.Name}}"]);
    let service = services.lines().find(|s| s.contains(id.as_str())).expect("the run's service");
    docker(manager, &["service", "rm", service]);
    let server = restarted(&env, data.path(), dir.path());
    let run = server.finished(&id, Duration::from_secs(10));
    assert_eq!(run["status"], "interrupted", "{run}");
    assert!(run["node"].is_string(), "the node stays on record: {run}");
    assert_nothing_left(&env, std::slice::from_ref(&id), &hosts);
}

/// The run's service removed (with the manager's CLI) while the server follows it, as when
/// someone cleans up by hand or the swarm is made anew: the run ends `interrupted` within
/// seconds (it waited for ever before), and is stopped on its node.
#[test]
fn a_swarm_run_whose_service_is_removed_while_followed_ends_interrupted() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let dir = project(&env, "echo start; sleep 300");
    let server = swarm_server_in(None, &env, dir.path(), &[]);
    let id = server.start_run(json!({"project": "demo"}));
    let started = Instant::now();
    while !server.log(&id).lines().any(|l| l.ends_with(") start")) {
        assert!(started.elapsed() < Duration::from_secs(120), "the run did not start: {}", server.everything(&id));
        std::thread::sleep(Duration::from_millis(250));
    }
    let manager = &env["SLIPWAY_SWARM_MANAGER"];
    let services = docker(manager, &["service", "ls", "--format", "{{.Name}}"]);
    let service = services.lines().find(|s| s.contains(id.as_str())).expect("the run's service");
    docker(manager, &["service", "rm", service]);
    let removed = Instant::now();
    let run = server.finished(&id, Duration::from_secs(60));
    assert_eq!(run["status"], "interrupted", "{}", server.everything(&id));
    eprintln!("service removed to interrupted: {} ms", removed.elapsed().as_millis());
    assert!(server.log(&id).contains("its service is gone from the swarm"), "{}", server.log(&id));
    assert_nothing_left(&env, std::slice::from_ref(&id), &hosts);
}
