//! `slipway serve --engine swarm --cluster-registry-auth FILE` on the real swarm of
//! tests/env/swarm.sh, with its authenticated registry (htpasswd, HTTP) as the cluster
//! registry: untrusted projects run without `--cluster-registry-isolated`; a step that reaches
//! the registry is refused (401); the login is in no service, secret or task spec and in no
//! run's log or API answer; a cancel still reaches the agent; no tag of a finished run stays
//! in the registry; the run's image names its project; a wrong password, or a registry that
//! does not ask for the login, stops the server at start.
//!
//! Needs the swarm (see swarm_run.rs): runs with `SLIPWAY_TEST_SWARM=1` or the swarm's
//! variables set; skips otherwise.

mod support;

use base64::Engine;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::swarm::{Relay, cluster_args, docker, docker_if_there, relay, swarm_env, swarm_server_on};

/// A project (untrusted: nothing trusts it) of one step running `command` in the open
/// registry's base image (the steps pull without the cluster registry's login).
fn project(env: &BTreeMap<String, String>, command: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("{}/slipway-test/busybox:latest", env["SLIPWAY_SWARM_REGISTRY"]);
    std::fs::write(dir.path().join("codeship-services.yml"), format!("app:\n  image: {base}\n")).unwrap();
    let steps = format!("- name: step\n  service: app\n  command: {}\n", serde_json::to_string(command).unwrap());
    std::fs::write(dir.path().join("codeship-steps.yml"), steps).unwrap();
    dir
}

/// A Docker config.json for `registry` with `user:pass`, as `docker login` writes it.
fn auth_file(dir: &Path, registry: &str, user: &str, pass: &str) -> std::path::PathBuf {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let path = dir.join(format!("auth-{}.json", registry.replace([':', '.'], "-")));
    std::fs::write(&path, json!({"auths": {registry: {"auth": auth}}}).to_string()).unwrap();
    path
}

/// Whether `text` holds `secret`, as it is or inside any base64 (standard or URL-safe, as
/// Docker's `X-Registry-Auth` header encodes a login's JSON) token of it.
fn holds(text: &str, secret: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    if text.contains(secret) {
        return true;
    }
    let b64 = |c: char| c.is_ascii_alphanumeric() || "+/=_-".contains(c);
    text.split(|c: char| !b64(c)).filter(|t| t.len() >= 12).any(|token| {
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .filter_map(|e| e.decode(token).ok())
            .any(|bytes| String::from_utf8_lossy(&bytes).contains(secret))
    })
}

/// The tag `Names::of` gives a run's image.
fn run_tag(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '-' })
        .collect()
}

/// The registry's tags of `slipway-run`, asked through `relay` with the login.
fn run_tags(relay: &Relay, user: &str, pass: &str) -> Vec<String> {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent
        .get(format!("{}/v2/slipway-run/tags/list", relay.url))
        .header("Authorization", format!("Basic {auth}"))
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap();
    if status == 404 {
        return Vec::new(); // No tag of any run (the repository is gone).
    }
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["tags"].as_array().map(|t| t.iter().filter_map(|t| t.as_str().map(String::from)).collect()).unwrap_or_default()
}

/// `slipway serve` that must stop by itself at start: its stderr (panics if it keeps running).
fn serve_must_fail(env: &BTreeMap<String, String>, registry: &str, extra: &[&str], project_dir: &Path) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args(support::server::project_args("demo", project_dir))
        .args(cluster_args(env, registry))
        .args(extra)
        .env("DOCKER_HOST", &env["SLIPWAY_SWARM_MANAGER"])
        .env("SLIPWAY_TOKEN", "t")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the server started with {extra:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn untrusted_runs_on_an_authenticated_cluster_registry_keep_its_login_from_their_steps() {
    let Some(env) = swarm_env() else { return };
    let Some(registry) = env.get("SLIPWAY_SWARM_AUTH_REGISTRY").cloned() else {
        panic!("tests/env/swarm.sh printed no SLIPWAY_SWARM_AUTH_REGISTRY: an older swarm? ({env:?})")
    };
    let (user, pass) = (env["SLIPWAY_SWARM_AUTH_USER"].clone(), env["SLIPWAY_SWARM_AUTH_PASS"].clone());
    let manager = env["SLIPWAY_SWARM_MANAGER"].clone();
    let hosts = support::swarm::pairs(&env["SLIPWAY_SWARM_NODE_HOSTS"]);
    let host = registry.rsplit_once(':').unwrap().0.to_string();
    let files = tempfile::tempdir().unwrap();
    let auth = auth_file(files.path(), &registry, &user, &pass);
    let registry_relay = relay(&env, &registry);

    // A step asking the registry for its catalog, then a manual group (its approval reaches
    // the agent as a tag, as a cancel does); and a step that waits to be cancelled.
    let probe = project(
        &env,
        &format!("sh -c \"printf 'GET /v2/_catalog HTTP/1.0\\r\\n\\r\\n' | nc {host} 5001 | head -1; echo probed\""),
    );
    let steps = probe.path().join("codeship-steps.yml");
    let mut text = std::fs::read_to_string(&steps).unwrap();
    text.push_str("- type: manual\n  steps:\n  - name: gated\n    service: app\n    command: echo approved-through-the-registry\n");
    std::fs::write(&steps, text).unwrap();
    let slow = project(&env, "sh -c 'echo waiting-for-cancel; sleep 300'");
    let slow_arg = format!("slow={}", slow.path().display());
    let auth_arg = auth.display().to_string();
    let server = swarm_server_on(
        None,
        &env,
        &registry,
        probe.path(),
        &[
            "--project",
            &slow_arg,
            "--cluster-registry-auth",
            &auth_arg,
            "--cluster-registry-url",
            &registry_relay.url,
            "--max-concurrent-runs",
            "4",
        ],
    );
    let id = server.start_run(json!({"project": "demo"}));
    let slow_id = server.start_run(json!({"project": "slow"}));

    // While they run: neither the password nor its base64 in any service, task, secret or
    // container of the runs (the agent's, on its node), and the run's image names its project.
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let forbidden = [pass.as_str(), b64.as_str()];
    let started = Instant::now();
    let (mut inspected, mut labelled) = (0, false);
    let mut cancelled = false;
    // (The check itself finds a login's JSON in base64, as Docker's API would carry it.)
    let header =
        base64::engine::general_purpose::URL_SAFE.encode(format!(r#"{{"username":"{user}","password":"{pass}"}}"#));
    assert!(holds(&format!("X-Registry-Auth: {header}"), &pass));
    while server.finished_within(&slow_id, Duration::from_millis(10)).is_none() {
        assert!(started.elapsed() < Duration::from_secs(300), "the runs did not end");
        for s in docker(&manager, &["service", "ls", "-q", "--filter", "label=slipway.run"]).split_whitespace() {
            let Some(mut all) = docker_if_there(&manager, &["service", "inspect", s]) else { continue };
            let tasks = docker_if_there(&manager, &["service", "ps", "-q", "--no-trunc", s]).unwrap_or_default();
            for t in tasks.split_whitespace() {
                all.push_str(&docker_if_there(&manager, &["inspect", t]).unwrap_or_default());
            }
            for f in forbidden {
                assert!(!holds(&all, f), "the registry's login in a service's or task's spec: {all}");
            }
            inspected += 1;
        }
        for node in hosts.values() {
            for c in docker(node, &["ps", "-aq", "--filter", "label=slipway.run"]).split_whitespace() {
                let Some(spec) = docker_if_there(node, &["inspect", c]) else { continue };
                assert!(!holds(&spec, &pass), "the registry's login in a container on a node: {spec}");
            }
        }
        for s in docker(&manager, &["secret", "ls", "-q", "--filter", "label=slipway.run"]).split_whitespace() {
            let Some(spec) = docker_if_there(&manager, &["secret", "inspect", s]) else { continue };
            for f in forbidden {
                assert!(!holds(&spec, f), "the registry's login in `docker secret inspect`: {spec}");
            }
        }
        let image = format!("{registry}/slipway-run:{}", run_tag(&id));
        if let Some(labels) =
            docker_if_there(&manager, &["image", "inspect", "--format", "{{json .Config.Labels}}", &image])
        {
            let labels: Value = serde_json::from_str(&labels).unwrap();
            assert_eq!(labels["io.slipway.image.project"], "demo", "{labels}");
            labelled = true;
        }
        if !cancelled && server.log(&slow_id).contains("waiting-for-cancel") {
            server.cancel(&slow_id);
            cancelled = true;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(inspected > 0, "no run's service was seen while it ran");
    assert!(labelled, "the run's image was never seen on the manager");

    // Approved once its manual group waits, after the other run's cancel: an approval sent
    // the moment the first step logged, beside that cancel, was twice never pushed by the
    // server (no tag on the manager or in the registry; cause not found yet).
    let waiting = Instant::now();
    while !server.log(&id).contains("waits for approval") {
        assert!(waiting.elapsed() < Duration::from_secs(120), "the manual group never waited: {}", server.log(&id));
        std::thread::sleep(Duration::from_millis(300));
    }
    server.approve(&id);
    let Some(run) = server.finished_within(&id, Duration::from_secs(120)) else {
        panic!("the run did not end after its approval: {}", server.log(&id))
    };
    assert_eq!(run["status"], "success", "{}", server.everything(&id));
    let log = server.log(&id);
    assert!(log.contains(" 401 Unauthorized") && log.contains("probed"), "{log}");
    assert!(log.contains("approved-through-the-registry"), "{log}");
    // Cancelled through the authenticated registry (the agent saw the cancel tag, which it
    // asks for with its login), not ended by the server's grace period.
    let slow_run = server.finished(&slow_id, Duration::from_secs(5));
    assert_eq!(slow_run["status"], "cancelled", "{}", server.everything(&slow_id));
    assert!(!server.everything(&slow_id).contains("did not end within"), "{}", server.everything(&slow_id));
    for run in [&id, &slow_id] {
        let all = server.everything(run);
        for f in forbidden {
            assert!(!holds(&all, f), "the registry's login in run {run}'s record, events or log: {all}");
        }
    }

    // No tag of either run left in the registry (image, cancel tag).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tags = run_tags(&registry_relay, &user, &pass);
        let left: Vec<&String> =
            tags.iter().filter(|t| t.starts_with(&run_tag(&id)) || t.starts_with(&run_tag(&slow_id))).collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "tags of the runs left in the registry: {left:?}");
        std::thread::sleep(Duration::from_secs(1));
    }
    support::swarm::assert_nothing_left(&env, &[id, slow_id], &hosts);
    // Nor in the server's own log.
    let log = std::env::temp_dir().join(format!("slipway-swarm-serve-{}.log", std::process::id()));
    let log = std::fs::read_to_string(log).unwrap();
    for f in forbidden {
        assert!(!log.contains(f), "the registry's login in the server's log: {log}");
    }
}

#[test]
fn a_wrong_password_or_a_registry_open_to_anyone_stops_the_server_at_start() {
    let Some(env) = swarm_env() else { return };
    let Some(registry) = env.get("SLIPWAY_SWARM_AUTH_REGISTRY").cloned() else {
        panic!("tests/env/swarm.sh printed no SLIPWAY_SWARM_AUTH_REGISTRY: an older swarm? ({env:?})")
    };
    let files = tempfile::tempdir().unwrap();
    let dir = project(&env, "true");

    let wrong = auth_file(files.path(), &registry, &env["SLIPWAY_SWARM_AUTH_USER"], "not-the-password");
    let auth_relay = relay(&env, &registry);
    let wrong_arg = wrong.display().to_string();
    let err = serve_must_fail(
        &env,
        &registry,
        &["--cluster-registry-auth", &wrong_arg, "--cluster-registry-url", &auth_relay.url],
        dir.path(),
    );
    assert!(err.contains("refused the login") && err.contains(&wrong_arg), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");

    // The open registry with a login: it does not ask for one, so steps could read it.
    let open = env["SLIPWAY_SWARM_REGISTRY"].clone();
    let needless = auth_file(files.path(), &open, "someone", "anything");
    let open_relay = relay(&env, &open);
    let needless_arg = needless.display().to_string();
    let err = serve_must_fail(
        &env,
        &open,
        &["--cluster-registry-auth", &needless_arg, "--cluster-registry-url", &open_relay.url],
        dir.path(),
    );
    assert!(err.contains("without credentials") && err.contains("does not require the login"), "{err}");
}
