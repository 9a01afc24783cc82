//! The trust policy and the per-step limits, on the real server and engine (issue 19,
//! findings 2 and 11): an untrusted server run is refused every key that gives its steps power
//! over the host, with the key, its position and the setting that allows it; a trusted project
//! gets them; every step container of a server run is limited (memory, processes, CPU); the
//! compose limit keys are applied; `slipway steps` stays as permissive as jet was.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::server::{Server, project_args};

const TOKEN: &str = "trust-token-7c1e";

/// How long a run may take.
const RUN_LIMIT: Duration = Duration::from_secs(180);

/// Start a run of `project` with `services` as the edited services file; its id.
fn start_run(s: &Server, project: &str, services: &str) -> String {
    s.start_run(json!({"project": project, "services": services.replace("BASE", &support::base_image())}))
}

/// Wait for a run to end: its record and its log.
fn finished(s: &Server, id: &str) -> (Value, String) {
    (s.finished(id, RUN_LIMIT), s.log(id))
}

/// Run `project` with `services` as the edited services file, to its end: its record and log.
fn run_to_end(s: &Server, project: &str, services: &str) -> (Value, String) {
    finished(s, &start_run(s, project, services))
}

/// `slipway steps --dir DIR` without colours: whether it succeeded, and its stdout and stderr.
fn slipway_steps(dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["steps", "--dir"])
        .arg(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// A project folder: one step `check` of service `app` running `/src/check.sh`, with the
/// project mounted at /src (the services file is given per run).
fn project(script: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("slipwaytrust").tempdir().unwrap();
    std::fs::write(dir.path().join("codeship-services.yml"), services("")).unwrap();
    std::fs::write(
        dir.path().join("codeship-steps.yml"),
        "- name: check\n  service: app\n  command: sh /src/check.sh\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("check.sh"), script).unwrap();
    dir
}

/// The services file: `app` from the base image with the project at /src, plus `extra` keys.
fn services(extra: &str) -> String {
    format!("app:\n  image: {}\n  volumes:\n    - ./:/src\n{extra}", support::base_image())
}

/// Containers still labelled with the run.
fn containers_of(run: &str) -> String {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=io.slipway.run={run}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Prints the container's cgroup limits (v1 or v2) as `pids=… mem=… cpu=…`.
const LIMITS_SCRIPT: &str = r#"cg=/sys/fs/cgroup
if [ -f $cg/pids.max ]; then
  pids=$(cat $cg/pids.max); mem=$(cat $cg/memory.max); cpu=$(cut -d' ' -f1 $cg/cpu.max)
  swap=$(cat $cg/memory.swap.max 2>/dev/null)
else
  pids=$(cat $cg/pids/pids.max); mem=$(cat $cg/memory/memory.limit_in_bytes); cpu=$(cat $cg/cpu/cpu.cfs_quota_us)
  swap=$(cat $cg/memory/memory.memsw.limit_in_bytes 2>/dev/null)
fi
echo "pids=$pids mem=$mem cpu=$cpu"
echo "nofile=$(ulimit -n)"
echo "shm=$(df -k /dev/shm | tail -1 | awk '{print $2}')k"
touch /rootfs-write 2>/dev/null && echo rootfs=rw || echo rootfs=ro
echo "tmpfs=$(grep -c ' /scratch tmpfs ' /proc/mounts)"
"#;

#[test]
fn an_untrusted_run_is_refused_host_access_naming_the_key_and_the_setting() {
    let data = tempfile::tempdir().unwrap();
    let p = project("grep CapEff /proc/self/status\n");
    let s = Server::start(data.path(), &project_args("demo", p.path()), TOKEN);
    // Each key that gives a step power over the host, and the text the refusal quotes.
    let cases = [
        (
            "  cap_add:\n    - DAC_READ_SEARCH\n",
            "codeship-services.yml:6:7: service `app` asks for `cap_add: DAC_READ_SEARCH`",
        ),
        ("  privileged: true\n", "codeship-services.yml:5:15: service `app` asks for `privileged: true`"),
        ("  devices:\n    - /dev/fuse\n", "`devices: /dev/fuse`"),
        ("  network_mode: host\n", "codeship-services.yml:5:17: service `app` asks for `network_mode: host`"),
        ("  pid: host\n", "`pid: host`"),
        ("  ipc: host\n", "`ipc: host`"),
        ("  security_opt:\n    - seccomp:unconfined\n", "`security_opt: seccomp:unconfined`"),
        ("  sysctls:\n    net.ipv4.ip_forward: 1\n", "`sysctls: net.ipv4.ip_forward=1`"),
        ("  add_docker: true\n", "`add_docker: true`"),
        ("  ulimits:\n    rtprio: 99\n", "`ulimits: rtprio`"),
    ];
    for (extra, quoted) in cases {
        let id = start_run(&s, "demo", &services(extra));
        let (run, log) = finished(&s, &id);
        assert_eq!(run["status"], "failed", "{extra}: {run}\n{log}");
        let error = run["error"].as_str().unwrap_or_default();
        assert!(error.contains(quoted), "{extra}: {error}");
        assert!(error.contains("`trusted = true`") && error.contains("--trust demo"), "{extra}: {error}");
        assert!(run["steps"].as_array().is_none_or(|s| s.is_empty()), "{extra}: a step ran: {run}");
        assert_eq!(containers_of(&id), "", "{extra}: a container was created");
    }
    // An absolute host volume is refused too (before any folder is made).
    let id =
        start_run(&s, "demo", &format!("app:\n  image: {}\n  volumes:\n    - /etc:/host-etc\n", support::base_image()));
    let error = finished(&s, &id).0["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("codeship-services.yml:4:7:") && error.contains("`/etc`, which is absolute"), "{error}");
    // What gives no power is allowed: a capability Docker grants anyway, no-new-privileges,
    // a relative volume, no network at all.
    let harmless = "  cap_add: [CHOWN]\n  security_opt: [no-new-privileges]\n  network_mode: none\n";
    let (run, log) = run_to_end(&s, "demo", &services(harmless));
    assert_eq!(run["status"], "success", "{run}\n{log}");
}

#[test]
fn a_trusted_project_gets_what_it_asks_for() {
    let data = tempfile::tempdir().unwrap();
    // CapEff's bit 2 is CAP_DAC_READ_SEARCH; the host's network has the engine's bridge.
    let script = "cap=$(awk '/CapEff/ {print $2}' /proc/self/status)\n\
                  [ $(( 0x$cap & 4 )) -ne 0 ] && echo dac_read_search=yes || echo dac_read_search=no\n\
                  grep -q docker0 /proc/net/dev && echo network=host || echo network=own\n";
    let (trusted, plain, flagged) = (project(script), project(script), project(script));
    let config = data.path().join("slipway.toml");
    std::fs::write(
        &config,
        format!(
            "[[project]]\nname = \"trusted\"\npath = \"{}\"\ntrusted = true\n\n[[project]]\nname = \"plain\"\npath = \"{}\"\n",
            trusted.path().display(),
            plain.path().display()
        ),
    )
    .unwrap();
    let s = Server::start(
        data.path(),
        &[
            "--config".to_string(),
            config.display().to_string(),
            "--project".to_string(),
            format!("flagged={}", flagged.path().display()),
            "--trust".to_string(),
            "flagged".to_string(),
        ],
        TOKEN,
    );
    let asks = services("  cap_add:\n    - DAC_READ_SEARCH\n  network_mode: host\n");
    for project in ["trusted", "flagged"] {
        let (run, log) = run_to_end(&s, project, &asks);
        assert_eq!(run["status"], "success", "{project}: {run}\n{log}");
        assert!(log.contains("dac_read_search=yes") && log.contains("network=host"), "{project}: {log}");
    }
    let (run, _) = run_to_end(&s, "plain", &asks);
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("--trust plain"), "{run}");
    // An absolute host folder too: the policy lets a trusted run have it, and so must the bind
    // (it used to refuse every absolute path of a server run).
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("marker"), "from-the-host\n").unwrap();
    let mounts = services(&format!("    - {}:/hostdir:ro\n", host.path().display()));
    let script = "cat /hostdir/marker\n";
    std::fs::write(trusted.path().join("check.sh"), script).unwrap();
    let (run, log) = run_to_end(&s, "trusted", &mounts);
    assert_eq!(run["status"], "success", "{run}\n{log}");
    assert!(log.contains("from-the-host"), "{log}");
}

#[test]
fn server_runs_get_the_default_limits() {
    let data = tempfile::tempdir().unwrap();
    let p = project(LIMITS_SCRIPT);
    let s = Server::start(data.path(), &project_args("demo", p.path()), TOKEN);
    let (run, log) = run_to_end(&s, "demo", &services(""));
    assert_eq!(run["status"], "success", "{run}\n{log}");
    // 2048 processes, 4 GiB, 4 CPUs (a CFS quota of 400 ms per 100 ms).
    assert!(log.contains("pids=2048 mem=4294967296 cpu=400000"), "{log}");
    assert!(log.contains("each step container gets at most 4g of memory, 2048 processes, 4 CPUs"), "{log}");
}

#[test]
fn a_step_starting_500_processes_is_bounded_by_the_servers_limit() {
    let data = tempfile::tempdir().unwrap();
    // Start 500 sleeping processes (in a subshell, which dies at the first fork refused),
    // then count the container's processes with builtins only (no fork is left).
    let p = project(
        "( i=0; while [ $i -lt 500 ]; do sleep 60 & i=$((i+1)); done ) 2>/dev/null\n\
         f=/sys/fs/cgroup/pids.current; [ -f $f ] || f=/sys/fs/cgroup/pids/pids.current\n\
         read n < $f\necho processes=$n\nkill -9 -1 2>/dev/null\nexit 0\n",
    );
    let args =
        ["--project".to_string(), format!("demo={}", p.path().display()), "--step-pids".to_string(), "100".to_string()];
    let s = Server::start(data.path(), &args, TOKEN);
    let (run, log) = run_to_end(&s, "demo", &services(""));
    assert_eq!(run["status"], "success", "{run}\n{log}");
    let count: usize = log
        .split("processes=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {log}"));
    assert!(count <= 100, "{count} processes ran under a limit of 100:\n{log}");
}

#[test]
fn the_compose_limit_keys_are_applied_and_capped_in_an_untrusted_run() {
    let data = tempfile::tempdir().unwrap();
    let p = project(LIMITS_SCRIPT);
    let config = data.path().join("slipway.toml");
    std::fs::write(
        &config,
        format!(
            "[step_limits]\nmemory = \"256m\"\n\n[[project]]\nname = \"demo\"\npath = \"{}\"\n",
            p.path().display()
        ),
    )
    .unwrap();
    let s = Server::start(data.path(), &["--config".to_string(), config.display().to_string()], TOKEN);
    let keys = "  mem_limit: 64m\n  memswap_limit: 64m\n  pids_limit: 50\n  cpus: 0.5\n  read_only: true\n\
                \x20 shm_size: 16m\n  ulimits:\n    nofile: 1000\n  tmpfs: /scratch\n";
    let (run, log) = run_to_end(&s, "demo", &services(keys));
    assert_eq!(run["status"], "success", "{run}\n{log}");
    for want in ["pids=50 mem=67108864 cpu=50000", "nofile=1000", "shm=16384k", "rootfs=ro", "tmpfs=1"] {
        assert!(log.contains(want), "want {want} in\n{log}");
    }
    // Above the server's limit (slipway.toml's `[step_limits]`): lowered to it, and said so.
    let (run, log) = run_to_end(&s, "demo", &services("  mem_limit: 8g\n"));
    assert_eq!(run["status"], "success", "{run}\n{log}");
    assert!(log.contains("mem=268435456"), "{log}");
    assert!(log.contains("lowered `mem_limit` of service `app` (8g) to 256m"), "{log}");
}

#[test]
fn slipway_steps_on_a_developers_machine_stays_as_permissive_as_jet() {
    let p = project(
        "cap=$(awk '/CapEff/ {print $2}' /proc/self/status)\n[ $(( 0x$cap & 4 )) -ne 0 ] && echo dac=yes\ncat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null\nexit 0\n",
    );
    std::fs::write(
        p.path().join("codeship-services.yml"),
        services("  cap_add:\n    - DAC_READ_SEARCH\n  pids_limit: 77\n"),
    )
    .unwrap();
    let (ok, text) = slipway_steps(p.path());
    assert!(ok, "{text}");
    assert!(text.contains("dac=yes") && text.contains("77"), "{text}");
}

#[test]
fn a_compose_healthcheck_is_waited_for_like_a_dockerfile_one() {
    // `web` serves only after 2 s; its compose healthcheck (no HEALTHCHECK in the image)
    // makes the step wait for it.
    let p = project("wget -qO- http://web:8080/ready\n");
    let web = format!(
        "web:\n  image: {}\n  command: sh -c 'sleep 2; echo up > /tmp/ready; httpd -f -p 8080 -h /tmp'\n\
         \x20 healthcheck:\n    test: test -f /tmp/ready\n    interval: 500ms\n    retries: 40\n",
        support::base_image()
    );
    std::fs::write(p.path().join("codeship-services.yml"), services("  depends_on: [web]\n") + &web).unwrap();
    let (ok, text) = slipway_steps(p.path());
    assert!(ok && text.contains("(service: app) up"), "{text}");
}

#[test]
fn run_during_a_build_gets_the_steps_memory_and_cpu_limits() {
    let data = tempfile::tempdir().unwrap();
    let p = project(LIMITS_SCRIPT);
    std::fs::write(
        p.path().join("Dockerfile"),
        "FROM BASE\nCOPY check.sh /check.sh\nRUN sh /check.sh\n".replace("BASE", &support::base_image()),
    )
    .unwrap();
    let mut args = vec!["--project".to_string(), format!("demo={}", p.path().display())];
    args.extend(["--step-memory", "256m", "--step-cpus", "1"].map(String::from));
    let s = Server::start(data.path(), &args, TOKEN);
    let (run, log) = run_to_end(&s, "demo", "app:\n  build: .\n  volumes:\n    - ./:/src\n");
    // The build's image (its own name, `slipway/demo-app-HASH`) is left to no one.
    if let Some(tag) = log.split("building image ").nth(1).and_then(|t| t.split_whitespace().next()) {
        let _ = Command::new("docker").args(["rmi", tag]).output();
    }
    assert_eq!(run["status"], "success", "{run}\n{log}");
    // The build's RUN (its output is the build's): 256 MiB, one CPU (100 ms per 100 ms).
    let build: Vec<&str> = log.lines().filter(|l| l.contains("(build)")).collect();
    assert!(build.iter().any(|l| l.contains("mem=268435456 cpu=100000")), "{log}");
}
