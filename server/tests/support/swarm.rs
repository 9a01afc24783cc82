//! The cluster tests' swarm (tests/env/swarm.sh) and `slipway serve --engine swarm` on it.

use super::server::Server;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

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
    let mut args = super::server::project_args("demo", project_dir);
    args.extend(
        [
            "--engine",
            "swarm",
            "--cluster-registry",
            &env["SLIPWAY_SWARM_REGISTRY"],
            "--cluster-node-socket",
            &env["SLIPWAY_SWARM_NODE_SOCKET"],
            "--cluster-node-work",
            &env["SLIPWAY_SWARM_NODE_WORK"],
        ]
        .map(String::from),
    );
    args.extend(extra.iter().map(|a| a.to_string()));
    // The server's engine is the manager's; its log goes beside the test binary's.
    let log = std::env::temp_dir().join(format!("slipway-swarm-serve-{}.log", std::process::id()));
    eprintln!("the swarm server's log: {}", log.display());
    Server::start_temp_logged(&args, "swarm-token", &log, &[("DOCKER_HOST", &env["SLIPWAY_SWARM_MANAGER"])])
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
    left
}

/// `HOSTNAME=VALUE …` as a map.
pub fn pairs(s: &str) -> BTreeMap<String, String> {
    s.split_whitespace().filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}
