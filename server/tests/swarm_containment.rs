//! What the untrusted-code rules require of a run (issue 19) holds on a swarm node too (issue
//! 22): the steps of a run the agent runs on a node see neither the key, nor the decrypted
//! files, nor the node's Docker socket, nor the agent's secrets or work folder; a step that
//! swaps a bound folder for a symlink to `/` between two steps does not get the node's root
//! mounted; a step over its time limit is stopped on the node. The same attacks as
//! isolation.rs, containment.rs and run_limits.rs play on one engine, through `slipway serve
//! --engine swarm` on the real swarm of tests/env/swarm.sh. Skips as swarm_run.rs does.

mod support;

use serde_json::{Value, json};
use slipway_core::crypto::{self, Format, Key};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use support::swarm::{assert_nothing_left, pairs, swarm_env, swarm_server};

const RUN_LIMIT: Duration = Duration::from_secs(240);

fn write(dir: &Path, rel: &str, text: &str, base: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text.replace("BASE", base)).unwrap();
}

fn base(env: &BTreeMap<String, String>) -> String {
    format!("{}/slipway-test/busybox:latest", env["SLIPWAY_SWARM_REGISTRY"])
}

/// The lines a step printed (`(step: S) (service: X) LINE` in the log), builds left out.
fn printed(log: &str, step: &str) -> Vec<String> {
    let prefix = format!("(step: {step}) (service: ");
    log.lines()
        .filter(|l| l.starts_with(&prefix) && !l.contains("(build)"))
        .filter_map(|l| Some(l.split_once(") ")?.1.split_once(") ")?.1.to_string()))
        .collect()
}

#[test]
fn steps_on_a_node_see_no_key_no_decrypted_file_no_socket_and_no_agent_secret() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    let key = Key::from_bytes(bytes);
    let key_text = key.to_file_text().trim().to_string();
    let key_hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(p.join("codeship.aes"), key.to_file_text()).unwrap();
    let enc = crypto::encrypt(&key, b"SECRET=node-s3cret-41d\n", Format::Aead, &[7; 16]).unwrap();
    std::fs::write(p.join("s.encrypted"), enc).unwrap();
    // The plaintext next to it, as `slipway decrypt` leaves it, and the key in an env file.
    std::fs::write(p.join("s.env"), "SECRET=node-s3cret-41d\n").unwrap();
    std::fs::write(p.join("k.env"), format!("PROJECT_KEY={key_text}\n")).unwrap();
    let (socket, work) = (&env["SLIPWAY_SWARM_NODE_SOCKET"], &env["SLIPWAY_SWARM_NODE_WORK"]);
    let b = base(&env);
    write(
        p,
        "codeship-services.yml",
        "a:\n  image: BASE\n  volumes:\n    - ./:/src\n  encrypted_env_file: s.encrypted\n  env_file: k.env\n",
        &b,
    );
    write(
        p,
        "codeship-steps.yml",
        &format!(
            "- name: peek\n  service: a\n  command: sh -c 'ls -a /src; cat /src/codeship.aes /src/s.env; \
             for f in /run/secrets {socket} /var/run/docker.sock {work}; do [ -e $f ] && echo \"seen $f\" || echo \"absent $f\"; done; \
             echo \"secret=$SECRET\"; echo key=$PROJECT_KEY'\n"
        ),
        &b,
    );
    let server = swarm_server(&env, p, &[]);
    let id = server.start_run(json!({"project": "demo"}));
    let run = server.finished(&id, RUN_LIMIT);
    let log = server.log(&id);
    assert_eq!(run["status"], "success", "{run}\n{log}");
    assert!(run["node"].is_string(), "{run}");
    let lines = printed(&log, "peek");
    assert!(lines.contains(&"codeship-services.yml".to_string()), "{lines:?}\n{log}");
    assert!(lines.contains(&"s.encrypted".to_string()), "{lines:?}");
    for hidden in ["codeship.aes", "s.env"] {
        assert!(!lines.contains(&hidden.to_string()), "the step sees {hidden} on its node: {lines:?}");
    }
    for path in ["/run/secrets", socket.as_str(), "/var/run/docker.sock", work.as_str()] {
        assert!(lines.contains(&format!("absent {path}")), "a step on a node sees {path}: {lines:?}");
    }
    // The decrypted variable reaches the step (masked in the log), the key never unmasked.
    assert!(lines.contains(&"secret=***".to_string()), "{lines:?}");
    assert!(lines.contains(&"key=***".to_string()), "{lines:?}");
    let everything = server.everything(&id);
    for secret in [key_text.as_str(), &key_hex, "node-s3cret-41d"] {
        assert!(!everything.contains(secret), "a secret in the run's record, events or log:\n{everything}");
    }
    assert_nothing_left(&env, std::slice::from_ref(&id), &hosts);
}

/// containment.rs's finding 1 on a node: `holder` binds `./data`, `app` mounts it through
/// `volumes_from`, and a step replaces `data` with a symlink to `/` between two `app` steps.
/// On a node that `/` would be the node's root (here: this machine's, with the test swarm's
/// sockets): the later step must never get it.
#[test]
fn a_symlink_swapped_in_for_a_bound_folder_does_not_mount_the_nodes_root() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    let host = tempfile::tempdir().unwrap();
    let secret = "node-host-only-5e2a";
    std::fs::write(host.path().join("secret.txt"), secret).unwrap();
    let hostdir = host.path().display().to_string();
    let b = base(&env);
    write(
        p,
        "codeship-services.yml",
        "holder:\n  image: BASE\n  volumes:\n    - ./data:/hostroot\n\
         app:\n  image: BASE\n  volumes_from:\n    - holder\n\
         swapper:\n  image: BASE\n  volumes:\n    - ./:/src\n",
        &b,
    );
    write(
        p,
        "codeship-steps.yml",
        &format!(
            "- name: first\n  service: app\n  command: ls /hostroot\n\
             - name: swap\n  service: swapper\n  command: sh -c 'mv /src/data /src/data.old && ln -s / /src/data && ls -l /src'\n\
             - name: third\n  service: app\n  command: sh -c 'ls /hostroot; cat /hostroot{hostdir}/secret.txt; echo pwned > /hostroot{hostdir}/written; true'\n"
        ),
        &b,
    );
    write(p, "data/original.txt", "original data", &b);
    let server = swarm_server(&env, p, &[]);
    let id = server.start_run(json!({"project": "demo"}));
    let run = server.finished(&id, RUN_LIMIT);
    let seen = server.everything(&id);
    assert!(run["node"].is_string(), "{run}");
    assert!(seen.contains("(step: first) (service: app) original.txt"), "{seen}");
    assert!(!host.path().join("written").exists(), "a step on a node wrote into a host folder:\n{seen}");
    assert!(!seen.contains(secret), "a step on a node read a host file:\n{seen}");
    assert!(!seen.contains("(step: third) (service: app) proc"), "the node's / was mounted:\n{seen}");
    // The runner pins binds on its node as the server does on its engine: the later step
    // sees the folder as it was when the holder was made.
    assert_eq!(run["status"], "success", "{seen}");
    assert!(seen.contains("(step: third) (service: app) original.txt"), "{seen}");
    assert_nothing_left(&env, std::slice::from_ref(&id), &hosts);
}

/// run_limits.rs's step limit on a node: the step is stopped there, the run fails naming the
/// limit, later steps are skipped and nothing of the run is left on any node.
#[test]
fn a_step_over_its_time_limit_is_stopped_on_its_node() {
    let Some(env) = swarm_env() else { return };
    let hosts = pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let dir = tempfile::tempdir().unwrap();
    let b = base(&env);
    write(dir.path(), "codeship-services.yml", "app:\n  image: BASE\n", &b);
    write(
        dir.path(),
        "codeship-steps.yml",
        "- name: unit\n  service: app\n  command: sleep 120\n- name: after\n  service: app\n  command: 'true'\n",
        &b,
    );
    let server = swarm_server(&env, dir.path(), &["--step-timeout", "3s"]);
    let started = Instant::now();
    let id = server.start_run(json!({"project": "demo"}));
    let run = server.finished(&id, RUN_LIMIT);
    assert_eq!(run["status"], "failed", "a limit fails the run: {}", server.everything(&id));
    let steps: Vec<(String, String, String)> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s: &Value| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (text("name"), text("status"), text("message"))
        })
        .collect();
    assert_eq!((steps[0].0.as_str(), steps[0].1.as_str()), ("unit", "failed"), "{steps:?}");
    assert!(steps[0].2.contains("ran longer than its limit of 3 s (--step-timeout)"), "{steps:?}");
    assert_eq!((steps[1].0.as_str(), steps[1].1.as_str()), ("after", "skipped"), "{steps:?}");
    // Far below the step's own 120 s: the limit stopped it on the node.
    assert!(started.elapsed() < Duration::from_secs(100), "took {:?}", started.elapsed());
    assert_nothing_left(&env, std::slice::from_ref(&id), &hosts);
}
