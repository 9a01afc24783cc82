//! tests/env/swarm.sh, the cluster tests' swarm (issue 22): three real dockerds in network
//! namespaces joined into a swarm, and a cluster registry holding the base image. Checked here
//! as the cluster tests will use it: `up` is idempotent, brings a killed node back, and `down`
//! leaves no namespace, cgroup or process behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn swarm(verb: &str) -> BTreeMap<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/env/swarm.sh");
    let out = Command::new("bash").arg(script).arg(verb).output().unwrap();
    assert!(out.status.success(), "swarm.sh {verb}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

fn docker(host: &str, args: &[&str]) -> String {
    let out = Command::new("docker").arg("-H").arg(host).args(args).output().unwrap();
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `HOSTNAME=VALUE …` as a map.
fn pairs(s: &str) -> BTreeMap<String, String> {
    s.split_whitespace().filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn ready_nodes(manager: &str) -> Vec<String> {
    let ls = docker(manager, &["node", "ls", "--format", "{{.Hostname}} {{.Status}}"]);
    let mut ready: Vec<String> = ls.lines().filter_map(|l| l.strip_suffix(" Ready")).map(str::to_string).collect();
    ready.sort();
    ready
}

/// Whether `pid` runs (a zombie waiting for its reaper does not).
fn alive(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z'))
}

#[test]
fn up_is_idempotent_brings_a_killed_node_back_and_down_leaves_nothing() {
    let env = swarm("up");
    let manager = env["SLIPWAY_SWARM_MANAGER"].clone();
    let registry = env["SLIPWAY_SWARM_REGISTRY"].clone();
    let pids = pairs(&env["SLIPWAY_SWARM_NODE_PIDS"]);
    assert_eq!(ready_nodes(&manager), pids.keys().cloned().collect::<Vec<_>>(), "three Ready nodes, named as printed");
    assert_eq!(pids.len(), 3);

    // The registry serves the base image to the nodes: a job of it runs and logs.
    let image = format!("{registry}/slipway-test/busybox:latest");
    let name = format!("swarm-env-{}", std::process::id());
    docker(
        &manager,
        &[
            "service",
            "create",
            "-d",
            "--name",
            &name,
            "--mode",
            "replicated-job",
            "--restart-condition",
            "none",
            "--endpoint-mode",
            "dnsrr",
            &image,
            "echo",
            "from-the-cluster-registry",
        ],
    );
    let mut logs = String::new();
    for _ in 0..120 {
        logs = docker(&manager, &["service", "logs", "--raw", &name]);
        if logs.contains("from-the-cluster-registry") {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    docker(&manager, &["service", "rm", &name]);
    assert!(logs.contains("from-the-cluster-registry"), "the job's log: {logs:?}");

    // Again: nothing restarts (the same dockerds).
    assert_eq!(swarm("up")["SLIPWAY_SWARM_NODE_PIDS"], env["SLIPWAY_SWARM_NODE_PIDS"]);

    // A node killed as a test kills it: `up` brings a whole swarm back.
    let (victim, pid) = pids.iter().nth(1).unwrap();
    assert!(Command::new("kill").args(["-9", pid]).status().unwrap().success());
    let again = swarm("up");
    let new_pids = pairs(&again["SLIPWAY_SWARM_NODE_PIDS"]);
    assert_ne!(new_pids[victim], *pid, "{victim} runs a new dockerd");
    assert_eq!(ready_nodes(&again["SLIPWAY_SWARM_MANAGER"]).len(), 3);

    swarm("down");
    let netns =
        String::from_utf8_lossy(&Command::new("ip").args(["netns", "list"]).output().unwrap().stdout).to_string();
    assert!(!netns.contains("slw-"), "namespaces left: {netns}");
    for (node, pid) in &new_pids {
        assert!(!alive(pid), "{node}'s dockerd still runs");
        assert!(!Path::new(&format!("/sys/fs/cgroup/pids/{node}")).exists(), "{node}'s cgroups left");
    }
}
