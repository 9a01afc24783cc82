//! A push step on a swarm node (issue 22): the run builds its image on the node and pushes it
//! with the credentials its project keeps encrypted (`encrypted_dockercfg_path`), which only
//! the agent decrypts, on the node. The image arrives in the authenticated registry of the
//! test swarm; the password is in no service or secret spec and in nothing the server says.
//! Skips as swarm_run.rs does.

mod support;

use base64::Engine;
use serde_json::json;
use slipway_core::crypto::{self, Format, Key};
use std::time::{Duration, Instant};
use support::swarm::{assert_nothing_left, docker, docker_if_there, pairs, swarm_env, swarm_server};

#[test]
fn a_push_step_on_a_node_pushes_with_the_projects_decrypted_credentials() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let manager = env["SLIPWAY_SWARM_MANAGER"].clone();
    let (registry, user, password) =
        (&env["SLIPWAY_SWARM_AUTH_REGISTRY"], &env["SLIPWAY_SWARM_AUTH_USER"], &env["SLIPWAY_SWARM_AUTH_PASS"]);
    let mut id = [0u8; 4];
    getrandom::fill(&mut id).unwrap();
    let repo = format!("slipway-pushed/node-{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>());

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    let key = Key::from_bytes(bytes);
    std::fs::write(p.join("codeship.aes"), key.to_file_text()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let cfg = format!("{{\"auths\": {{\"{registry}\": {{\"auth\": \"{auth}\"}}}}}}");
    std::fs::write(
        p.join("dockercfg.encrypted"),
        crypto::encrypt(&key, cfg.as_bytes(), Format::Aead, &[5; 16]).unwrap(),
    )
    .unwrap();
    let base = format!("{}/slipway-test/busybox:latest", env["SLIPWAY_SWARM_REGISTRY"]);
    std::fs::write(p.join("Dockerfile"), format!("FROM {base}\nRUN echo pushed-from-a-node > /made.txt\n")).unwrap();
    std::fs::write(p.join("codeship-services.yml"), "app:\n  build:\n    dockerfile: Dockerfile\n").unwrap();
    std::fs::write(
        p.join("codeship-steps.yml"),
        format!(
            "- name: check\n  service: app\n  command: cat /made.txt\n\
             - name: ship\n  type: push\n  service: app\n  image_name: {registry}/{repo}\n  image_tag: node-push\n  \
             registry: {registry}\n  encrypted_dockercfg_path: dockercfg.encrypted\n"
        ),
    )
    .unwrap();

    let server = swarm_server(&env, p, &[]);
    let run_id = server.start_run(json!({"project": "demo", "push": true}));
    let started = Instant::now();
    while server.finished_within(&run_id, Duration::from_millis(10)).is_none() {
        assert!(started.elapsed() < Duration::from_secs(300), "the run did not end");
        // While it runs: the password (and its base64) in no service, task or secret spec.
        for s in docker(&manager, &["service", "ls", "-q", "--filter", "label=slipway.run"]).split_whitespace() {
            let mut all = docker_if_there(&manager, &["service", "inspect", s]).unwrap_or_default();
            for t in docker_if_there(&manager, &["service", "ps", "-q", "--no-trunc", s])
                .unwrap_or_default()
                .split_whitespace()
            {
                all.push_str(&docker_if_there(&manager, &["inspect", t]).unwrap_or_default());
            }
            assert!(!all.contains(password.as_str()) && !all.contains(&auth), "the password in a spec: {all}");
        }
        for s in docker(&manager, &["secret", "ls", "-q"]).split_whitespace() {
            let spec = docker_if_there(&manager, &["secret", "inspect", s]).unwrap_or_default();
            assert!(!spec.contains(password.as_str()) && !spec.contains(&auth), "the password in a secret: {spec}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let run = server.finished(&run_id, Duration::from_secs(5));
    let everything = server.everything(&run_id);
    assert_eq!(run["status"], "success", "{everything}");
    assert!(run["node"].is_string(), "{run}");
    assert!(everything.contains("pushed-from-a-node"), "{everything}");
    assert!(everything.contains(&format!("{registry}/{repo}:node-push")), "the push is not in the log: {everything}");
    assert!(!everything.contains(password.as_str()) && !everything.contains(&auth), "{everything}");

    // The image is in the registry: the manager pulls it with a login of its own (a CLI config
    // in a temporary folder, so no engine keeps the credentials), and it is the run's build.
    let cli = tempfile::tempdir().unwrap();
    let config = cli.path().to_str().unwrap();
    let login = std::process::Command::new("docker")
        .args(["--config", config, "-H", &manager, "login", "-u", user, "--password-stdin", registry])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(password.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(login.success(), "docker login to the test swarm's authenticated registry");
    let pushed = format!("{registry}/{repo}:node-push");
    let pull = std::process::Command::new("docker")
        .args(["--config", config, "-H", &manager, "pull", "-q", &pushed])
        .output()
        .unwrap();
    assert!(
        pull.status.success(),
        "the pushed image is not in the registry: {}",
        String::from_utf8_lossy(&pull.stderr)
    );
    let made = docker(&manager, &["run", "--rm", &pushed, "cat", "/made.txt"]);
    assert_eq!(made.trim(), "pushed-from-a-node");
    docker(&manager, &["rmi", &pushed]);
    assert_nothing_left(&env, std::slice::from_ref(&run_id), &hosts);
}
