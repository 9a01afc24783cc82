//! Runner figures on the real engine (run `cargo bench -p slipway --bench runner`; it starts
//! the engine and registry through tests/env/up.sh). Prints, for docs/perf.md:
//! 1. the same work (build one image, 10 run steps, one push) through `slipway steps --push`
//!    and through an equivalent shell script of `docker` CLI calls, and their ratio;
//! 2. the per-step overhead of `slipway` against `docker run --rm`;
//! 3. 8 parallel `sleep 1` steps.
//!
//! Each figure is the median of several runs, interleaved so both sides see the same load.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;

fn sh(cmd: &mut Command) {
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().expect("spawn");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn timed(mut cmd: Command) -> Duration {
    let t = Instant::now();
    sh(&mut cmd);
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let env = support::env_up();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).expect(k);
    let (base, registry, user, pass) = (
        get("SLIPWAY_TEST_BASE_IMAGE"),
        get("SLIPWAY_TEST_REGISTRY"),
        get("SLIPWAY_TEST_REGISTRY_USER"),
        get("SLIPWAY_TEST_REGISTRY_PASSWORD"),
    );
    let slipway = env!("CARGO_BIN_EXE_slipway");
    let dir = tempfile::Builder::new().prefix("slipwaybench").tempdir().unwrap();
    let d = dir.path();
    let image = format!("{registry}/bench/app");
    std::fs::write(d.join("Dockerfile"), format!("FROM {base}\nRUN echo built > /built\n")).unwrap();
    std::fs::write(
        d.join("codeship-services.yml"),
        format!("app:\n  build:\n    image: {image}\nbox:\n  image: {base}\n"),
    )
    .unwrap();
    let mut steps = String::new();
    for i in 1..=10 {
        steps.push_str(&format!("- name: s{i}\n  service: app\n  command: echo step {i}\n"));
    }
    steps.push_str(&format!(
        "- name: push\n  type: push\n  service: app\n  image_name: {image}\n  image_tag: bench\n  registry: {registry}\n  encrypted_dockercfg_path: dockercfg.encrypted\n"
    ));
    std::fs::write(d.join("codeship-steps.yml"), &steps).unwrap();
    sh(Command::new(slipway).args(["generate", "--key-path"]).arg(d.join("codeship.aes")));
    let cfg = {
        use std::io::Write;
        let auth = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' '{user}:{pass}' | base64"))
            .output()
            .unwrap()
            .stdout;
        let auth = String::from_utf8_lossy(&auth).trim().to_string();
        let mut f = std::fs::File::create(d.join("dockercfg.json")).unwrap();
        write!(f, "{{\"auths\":{{\"{registry}\":{{\"auth\":\"{auth}\"}}}}}}").unwrap();
        d.join("dockercfg.json")
    };
    sh(Command::new(slipway)
        .arg("encrypt")
        .arg("--key-path")
        .arg(d.join("codeship.aes"))
        .arg(&cfg)
        .arg(d.join("dockercfg.encrypted")));
    let docker_cfg = d.join("docker-config");
    std::fs::create_dir_all(&docker_cfg).unwrap();
    let script = format!(
        "set -e\n\
         docker build -q -t {image} {dir} >/dev/null\n\
         for i in 1 2 3 4 5 6 7 8 9 10; do docker run --rm {image} echo step $i; done\n\
         echo '{pass}' | docker --config {cfgdir} login -u {user} --password-stdin {registry} >/dev/null 2>&1\n\
         docker tag {image} {image}:bench\n\
         docker --config {cfgdir} push -q {image}:bench >/dev/null\n\
         docker --config {cfgdir} logout {registry} >/dev/null\n",
        dir = d.display(),
        cfgdir = docker_cfg.display()
    );
    std::fs::write(d.join("script.sh"), &script).unwrap();

    let slipway_steps = || {
        let mut c = Command::new(slipway);
        c.args(["steps", "--push", "--tag", "bench", "--ci-timestamp", "0", "--dir"]).arg(d);
        c
    };
    // Warm both paths once (image layers cached, registry has the blobs) so rounds compare
    // steady states.
    timed(slipway_steps());
    timed({
        let mut c = Command::new("bash");
        c.arg(d.join("script.sh"));
        c
    });
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(timed(slipway_steps()));
        let mut c = Command::new("bash");
        c.arg(d.join("script.sh"));
        theirs.push(timed(c));
    }
    let (o, t) = (median(ours), median(theirs));
    println!("pipeline (build + 10 run steps + push), median of {ROUNDS}:");
    println!("  slipway steps --push : {:>7.2} s", o.as_secs_f64());
    println!("  docker CLI script    : {:>7.2} s", t.as_secs_f64());
    println!("  ratio slipway/script : {:>7.2}  (goal <= 0.90)", o.as_secs_f64() / t.as_secs_f64());

    // Per-step overhead: 10 `true` steps on a pulled image vs 10 `docker run --rm`.
    let mut one = String::new();
    for i in 1..=10 {
        one.push_str(&format!("- name: t{i}\n  service: box\n  command: \"true\"\n"));
    }
    let d2 = tempfile::Builder::new().prefix("slipwaybench").tempdir().unwrap();
    std::fs::write(d2.path().join("codeship-services.yml"), format!("box:\n  image: {base}\n")).unwrap();
    std::fs::write(d2.path().join("codeship-steps.yml"), one).unwrap();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let mut c = Command::new(slipway);
        c.args(["steps", "--ci-timestamp", "0", "--dir"]).arg(d2.path());
        ours.push(timed(c));
        let mut c = Command::new("bash");
        c.arg("-c").arg(format!("for i in 1 2 3 4 5 6 7 8 9 10; do docker run --rm {base} true; done"));
        theirs.push(timed(c));
    }
    let (o, t) = (median(ours) / 10, median(theirs) / 10);
    println!("per step (10 x `true`), median of {ROUNDS}:");
    println!("  slipway step         : {:>7.0} ms", o.as_secs_f64() * 1000.0);
    println!("  docker run --rm      : {:>7.0} ms", t.as_secs_f64() * 1000.0);

    // 8 parallel `sleep 1` steps.
    let mut par = String::from("- type: parallel\n  steps:\n");
    for i in 1..=8 {
        par.push_str(&format!("    - name: p{i}\n      service: box\n      command: sleep 1\n"));
    }
    std::fs::write(d2.path().join("codeship-steps.yml"), par).unwrap();
    for parallelism in [None, Some("8")] {
        let mut runs = Vec::new();
        for _ in 0..ROUNDS {
            let mut c = Command::new(slipway);
            c.args(["steps", "--ci-timestamp", "0", "--dir"]).arg(d2.path());
            if let Some(p) = parallelism {
                c.args(["--parallelism", p]);
            }
            runs.push(timed(c));
        }
        println!(
            "8 parallel `sleep 1` steps ({}), median of {ROUNDS}: {:.2} s  (goal < 1.5 s)",
            parallelism.map_or("default parallelism".to_string(), |p| format!("--parallelism {p}")),
            median(runs).as_secs_f64()
        );
    }
}
