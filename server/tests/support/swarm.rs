//! The cluster tests' swarm (tests/env/swarm.sh) and `slipway serve --engine swarm` on it.

use super::server::Server;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The swarm's variables (tests/env/swarm.sh's `export` lines), or `None`: skip.
pub fn swarm_env() -> Option<BTreeMap<String, String>> {
    let from_env: BTreeMap<String, String> =
        std::env::vars().filter(|(k, _)| k.starts_with("SLIPWAY_SWARM_")).collect();
    if from_env.contains_key("SLIPWAY_SWARM_MANAGER") {
        return Some(from_env);
    }
    if std::env::var("SLIPWAY_TEST_SWARM").as_deref() != Ok("1") {
        eprintln!("skipped: no swarm (set SLIPWAY_TEST_SWARM=1, or eval \"$(bash tests/env/swarm.sh up)\" first)");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/env/swarm.sh");
    let out = Command::new("bash").arg(script).arg("up").output().unwrap();
    assert!(out.status.success(), "swarm.sh up: {}", String::from_utf8_lossy(&out.stderr));
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect(),
    )
}

/// `docker ARGS` of an object that may go away meanwhile (a run ending between a listing and
/// an inspection): `None` when Docker no longer has it.
pub fn docker_if_there(host: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("docker").arg("-H").arg(host).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // (Docker says "no such service" of a service and "… not found" of a secret.)
    let gone = ["no such", "not found"].iter().any(|w| err.to_ascii_lowercase().contains(w));
    if !out.status.success() && gone {
        return None;
    }
    assert!(out.status.success(), "docker {args:?}: {err}");
    Some(String::from_utf8_lossy(&out.stdout).to_string())
}

pub fn docker(host: &str, args: &[&str]) -> String {
    let out = Command::new("docker").arg("-H").arg(host).args(args).output().unwrap();
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The step output lines (not builds') of a run's events, in order: `step: line`.
pub fn step_lines(events: &str) -> Vec<String> {
    events
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .filter(|e| e["event"] == "log" && e["build"] != true)
        .map(|e| format!("{}: {}", e["step"].as_str().unwrap_or(""), e["line"].as_str().unwrap_or("")))
        .collect()
}

pub fn swarm_server(env: &BTreeMap<String, String>, project_dir: &Path, extra: &[&str]) -> Server {
    swarm_server_in(None, env, project_dir, extra)
}

/// [`swarm_server`] with its data in `data` (kept over a restart), or a temporary folder.
pub fn swarm_server_in(
    data: Option<&Path>,
    env: &BTreeMap<String, String>,
    project_dir: &Path,
    extra: &[&str],
) -> Server {
    let mut extra: Vec<&str> = extra.to_vec();
    // Not true of the test swarm (its steps can reach the registry): said so that these
    // tests' own projects, untrusted as a server's are by default, may run.
    extra.push("--cluster-registry-isolated");
    swarm_server_on(data, env, &env["SLIPWAY_SWARM_REGISTRY"], project_dir, &extra)
}

/// `slipway serve --engine swarm` with `registry` as its cluster registry and `extra`
/// arguments only (no `--cluster-registry-isolated`).
pub fn swarm_server_on(
    data: Option<&Path>,
    env: &BTreeMap<String, String>,
    registry: &str,
    project_dir: &Path,
    extra: &[&str],
) -> Server {
    let mut args = super::server::project_args("demo", project_dir);
    args.extend(cluster_args(env, registry));
    args.extend(extra.iter().map(|a| a.to_string()));
    // The server's engine is the manager's; its log goes beside the test binary's.
    let log = std::env::temp_dir().join(format!("slipway-swarm-serve-{}.log", std::process::id()));
    eprintln!("the swarm server's log: {}", log.display());
    let envs = [("DOCKER_HOST", env["SLIPWAY_SWARM_MANAGER"].as_str())];
    match data {
        Some(data) => Server::start_logged(data, &args, "swarm-token", &log, &envs),
        None => Server::start_temp_logged(&args, "swarm-token", &log, &envs),
    }
}

/// `--engine swarm` and the test swarm's cluster flags, with `registry` as the cluster registry.
pub fn cluster_args(env: &BTreeMap<String, String>, registry: &str) -> Vec<String> {
    [
        "--engine",
        "swarm",
        "--cluster-registry",
        registry,
        "--cluster-node-socket",
        &env["SLIPWAY_SWARM_NODE_SOCKET"],
        "--cluster-node-work",
        &env["SLIPWAY_SWARM_NODE_WORK"],
    ]
    .map(String::from)
    .to_vec()
}

/// A port on 127.0.0.1 of this network namespace that reaches `target` (`HOST:PORT`, one of
/// the test swarm's registries) from a node's namespace. A stand-in for a route: on real hosts
/// the server reaches the cluster registry itself, but the test swarm's registries live on a
/// bridge the root namespace has no route to (tests/env/swarm.sh). A Python relay runs in the
/// namespace of a node (`ip netns exec`) and accepts on a socket bound here, in this one,
/// given to it as its stdin; it is killed when dropped.
pub struct Relay {
    child: std::process::Child,
    pub url: String,
}

const RELAY: &str = r#"
import socket, sys, threading
host, port = sys.argv[1].rsplit(":", 1)
listener = socket.socket(fileno=0)
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass
while True:
    c, _ = listener.accept()
    try:
        u = socket.create_connection((host, int(port)), timeout=10)
    except OSError:
        c.close()
        continue
    u.settimeout(None)
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
"#;

pub fn relay(env: &BTreeMap<String, String>, target: &str) -> Relay {
    let pid = pairs(&env["SLIPWAY_SWARM_NODE_PIDS"]).into_values().next().expect("a node's pid");
    let out = Command::new("ip").args(["netns", "identify", &pid]).output().unwrap();
    let netns = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!netns.is_empty(), "no network namespace for pid {pid}: {}", String::from_utf8_lossy(&out.stderr));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let fd: std::os::fd::OwnedFd = listener.into();
    let child = Command::new("ip")
        .args(["netns", "exec", &netns, "python3", "-c", RELAY, target])
        .stdin(std::process::Stdio::from(fd))
        .spawn()
        .unwrap();
    Relay { child, url }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything the run `id` could have left on `host`: containers (the agent's task, the
/// reaper, the steps'), networks, volumes and images naming it.
pub fn leftovers(host: &str, id: &str) -> Vec<String> {
    let id = id.to_ascii_lowercase();
    let mut left = Vec::new();
    for (what, args) in [
        ("container", &["ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.Labels}}"][..]),
        ("network", &["network", "ls", "--format", "{{.Name}} {{.Labels}}"][..]),
        ("volume", &["volume", "ls", "--format", "{{.Name}} {{.Labels}}"][..]),
        ("image", &["images", "--format", "{{.Repository}}:{{.Tag}}"][..]),
    ] {
        for line in docker(host, args).lines() {
            if line.to_ascii_lowercase().contains(&id) || line.contains("slipway-reaper") {
                left.push(format!("{what} {line}"));
            }
        }
    }
    // The run's image, also untagged (a dangling image keeps its label).
    let label = format!("label=slipway.run={id}");
    for image in docker(host, &["images", "-a", "-q", "--filter", &label]).split_whitespace() {
        left.push(format!("image {image} (labelled with the run)"));
    }
    left
}

/// `HOSTNAME=VALUE …` as a map.
pub fn pairs(s: &str) -> BTreeMap<String, String> {
    s.split_whitespace().filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Wait (up to 60 s) until nothing of runs `ids` is left: no service or secret on the manager,
/// nothing on any node; panics with what is left.
pub fn assert_nothing_left(env: &BTreeMap<String, String>, ids: &[String], hosts: &BTreeMap<String, String>) {
    let manager = &env["SLIPWAY_SWARM_MANAGER"];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut left = Vec::new();
        let services = docker(manager, &["service", "ls", "--format", "{{.Name}}"]);
        let secrets = docker(manager, &["secret", "ls", "--format", "{{.Name}}"]);
        for id in ids {
            left.extend(services.lines().filter(|s| s.contains(id.as_str())).map(|s| format!("service {s}")));
            left.extend(secrets.lines().filter(|s| s.contains(id.as_str())).map(|s| format!("secret {s}")));
            for (node, host) in hosts {
                left.extend(leftovers(host, id).into_iter().map(|l| format!("{node}: {l}")));
            }
        }
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left after the runs: {left:#?}");
        std::thread::sleep(Duration::from_secs(1));
    }
}
