//! `slipway serve --engine swarm` on the real 3-node swarm of tests/env/swarm.sh (issue 22):
//! a run with a build, a linked service, an encrypted variable and a step runs on a node, its
//! step output equals a local run's, `"node"` names a swarm node; no key or secret value is in
//! any service, secret or task spec while it runs; nothing of it is left on any node after.
//!
//! Needs the swarm: runs when `SLIPWAY_TEST_SWARM=1` (it brings the swarm up, and leaves it up
//! for the next test: `swarm.sh down` takes it down) or when the swarm's variables are set
//! (`eval "$(bash tests/env/swarm.sh up)"`); skips with a message otherwise.

mod support;

use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::server::Server;
use support::swarm::{docker, docker_if_there, leftovers, step_lines, swarm_env, swarm_server};

const SECRET: &str = "s3cr3t-swarm-value-4711";

/// A project using `base` as its image: a built service linked to a server, an encrypted
/// variable, one step.
fn project(base: &str) -> (tempfile::TempDir, slipway_core::crypto::Key) {
    let dir = tempfile::tempdir().unwrap();
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    let key = slipway_core::crypto::Key::from_bytes(b);
    let w = |rel: &str, text: &str| std::fs::write(dir.path().join(rel), text).unwrap();
    w("codeship.aes", &key.to_file_text());
    w("Dockerfile", &format!("FROM {base}\nRUN echo built-in-the-image > /built.txt\n"));
    w(
        "codeship-services.yml",
        &format!(
            "app:\n  build:\n    dockerfile: Dockerfile\n  encrypted_env_file: secret.env.encrypted\n  links:\n    - db\n\
             db:\n  image: {base}\n  command: sh -c 'echo pong-from-db | nc -l -p 7000'\n"
        ),
    );
    w(
        "codeship-steps.yml",
        "- name: check\n  service: app\n  command: sh -c 'cat /built.txt; echo \"secret is $SECRET\"; \
         until nc db 7000 </dev/null 2>/dev/null; do sleep 0.2; done; echo done'\n",
    );
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).unwrap();
    let enc = slipway_core::crypto::encrypt(
        &key,
        format!("SECRET={SECRET}\n").as_bytes(),
        slipway_core::crypto::Format::V2,
        &nonce,
    )
    .unwrap();
    std::fs::write(dir.path().join("secret.env.encrypted"), enc).unwrap();
    (dir, key)
}

#[test]
fn a_run_on_the_swarm_matches_a_local_run_hides_its_secrets_and_leaves_nothing() {
    let Some(env) = swarm_env() else { return };
    let manager = env["SLIPWAY_SWARM_MANAGER"].clone();
    let hosts: BTreeMap<String, String> = support::swarm::pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);

    // The same project locally, on the tests' own engine, for the expected log.
    let (local_dir, _) = project(&support::base_image());
    let local = Server::start_temp(&support::server::project_args("demo", local_dir.path()), "local-token");
    let local_id = local.start_run(json!({"project": "demo"}));
    let local_run = local.finished(&local_id, Duration::from_secs(180));
    assert_eq!(local_run["status"], "success", "{}", local.everything(&local_id));
    let expected = step_lines(&local.events(&local_id));
    assert!(expected.iter().any(|l| l.ends_with("built-in-the-image")), "{expected:?}");
    assert!(expected.iter().any(|l| l.ends_with("pong-from-db")), "{expected:?}");
    assert!(local_run.get("node").is_none(), "a local run names no node: {local_run}");

    let (dir, key) = project(&format!("{}/slipway-test/busybox:latest", env["SLIPWAY_SWARM_REGISTRY"]));
    let server = swarm_server(&env, dir.path(), &[]);
    let id = server.start_run(json!({"project": "demo"}));

    // While it runs: no secret value, no form of the key in any service, secret or task spec.
    let forbidden: Vec<String> = {
        let mut f = vec![SECRET.to_string(), key.to_file_text().trim().to_string()];
        f.extend(key.to_file_text().lines().map(|l| l.trim().to_string()).filter(|l| l.len() >= 16));
        f
    };
    let started = Instant::now();
    let mut inspected = 0;
    while server.finished_within(&id, Duration::from_millis(10)).is_none() {
        assert!(started.elapsed() < Duration::from_secs(300), "the swarm run did not end");
        let services = docker(&manager, &["service", "ls", "-q", "--filter", "label=slipway.run"]);
        let secrets = docker(&manager, &["secret", "ls", "-q", "--filter", "label=slipway.run"]);
        // (The run may end, and its objects go, between the listing and an inspection.)
        for s in services.split_whitespace() {
            let Some(spec) = docker_if_there(&manager, &["service", "inspect", s]) else { continue };
            let tasks = docker_if_there(&manager, &["service", "ps", "-q", "--no-trunc", s]).unwrap_or_default();
            let mut all = spec;
            for t in tasks.split_whitespace() {
                all.push_str(&docker_if_there(&manager, &["inspect", t]).unwrap_or_default());
            }
            for f in &forbidden {
                assert!(!all.contains(f.as_str()), "a secret in the service's or tasks' spec: {all}");
            }
            inspected += 1;
        }
        for s in secrets.split_whitespace() {
            let Some(spec) = docker_if_there(&manager, &["secret", "inspect", s]) else { continue };
            for f in &forbidden {
                assert!(!spec.contains(f.as_str()), "a secret in `docker secret inspect`: {spec}");
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(inspected > 0, "the run's service was never seen while it ran");
    let run = server.finished(&id, Duration::from_secs(5));
    assert_eq!(run["status"], "success", "{}", server.everything(&id));
    let node = run["node"].as_str().unwrap_or_else(|| panic!("no node in {run}"));
    assert!(hosts.contains_key(node), "{node} is not one of the swarm's nodes {hosts:?}");
    assert_eq!(step_lines(&server.events(&id)), expected, "the swarm run's step output differs from the local run's");
    let everything = server.everything(&id);
    assert!(!everything.contains(SECRET), "the secret in the run's record: {everything}");

    // Nothing left: no service or secret on the manager, nothing of the run on any node.
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let mut left = Vec::new();
        for s in docker(&manager, &["service", "ls", "--format", "{{.Name}}"]).lines() {
            if s.contains(&id) {
                left.push(format!("service {s}"));
            }
        }
        for s in docker(&manager, &["secret", "ls", "--format", "{{.Name}}"]).lines() {
            if s.contains(&id) {
                left.push(format!("secret {s}"));
            }
        }
        for (node, host) in &hosts {
            left.extend(leftovers(host, &id).into_iter().map(|l| format!("{node}: {l}")));
        }
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left after the run: {left:#?}");
        std::thread::sleep(Duration::from_secs(1));
    }
}
