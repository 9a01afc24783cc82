//! `cargo xtask fuzz [SECS]`: build the cargo-fuzz targets in `fuzz/` and run each for SECS
//! seconds on a seed corpus made from the repository's fixtures, then report executions,
//! coverage and crashes per target. `cargo xtask test` runs the same briefly (a smoke test).

use crate::{Result, root, run_with, tool_path};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod seeds;

/// Every target in `fuzz/fuzz_targets/`, in the order they run.
pub const TARGETS: &[&str] = &["check", "template", "decrypt", "dockercfg", "envfile"];

/// Seconds per target when `cargo xtask fuzz` is given none.
pub const DEFAULT_SECS: u64 = 60;

/// Seconds per target in `cargo xtask test`: enough to run every seed and a few hundred
/// thousand mutations, so a new panic on a fixture-like input fails CI.
pub const SMOKE_SECS: u64 = 20;

const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// libFuzzer's options for every run. Fork mode with crashes ignored: a run goes on after a
/// crash (saving each input) so one bug does not hide the next. An input that takes 10 s is a
/// finding (the parsers are linear), and so is one that needs 2 GiB.
const LIBFUZZER_OPTIONS: &[&str] =
    &["-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1", "-timeout=10", "-rss_limit_mb=2048"];

/// What one target's run found.
struct Outcome {
    target: &'static str,
    stats: Stats,
    crashes: Vec<Crash>,
    log: PathBuf,
}

#[derive(Default)]
struct Stats {
    executions: u64,
    coverage: u64,
    features: u64,
    corpus: u64,
}

/// A saved input and what it does when run again: the panic's place and message, or
/// libFuzzer's word for a timeout or out-of-memory.
struct Crash {
    reproducer: PathBuf,
    what: String,
}

/// `cargo xtask fuzz [SECS]`.
pub fn command(args: &[String]) -> Result {
    let secs = match args.first() {
        None => DEFAULT_SECS,
        Some(s) => s.parse().map_err(|_| format!("SECS must be a whole number of seconds, not `{s}`"))?,
    };
    run_all(secs)
}

/// Build every target, run each for `secs` seconds (one at a time: fuzzing is CPU-bound),
/// print the table and fail with the reproducers' paths if any target crashed.
pub fn run_all(secs: u64) -> Result {
    let envs = tools()?;
    build(&envs)?;
    let mut outcomes = Vec::new();
    for target in TARGETS {
        outcomes.push(run_one(target, secs)?);
    }
    print_table(&outcomes, secs);
    let crashes: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o.crashes.iter().map(|c| format!("{}: {}\n    {}", o.target, c.reproducer.display(), c.what)))
        .collect();
    if crashes.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzzing found {} crash(es); reproduce with `cargo fuzz run -s none TARGET PATH`, minimise with \
             `cargo fuzz tmin -s none TARGET PATH` (RUSTC_BOOTSTRAP=1 on stable):\n  {}",
            crashes.len(),
            crashes.join("\n  ")
        ))
    }
}

/// cargo-fuzz on the PATH (installed from crates.io when missing), and the environment it runs
/// in: libFuzzer's instrumentation flags are unstable, and RUSTC_BOOTSTRAP=1 lets the stable
/// toolchain the project pins accept them.
fn tools() -> Result<Vec<(String, String)>> {
    let path = tool_path();
    let has = Command::new("cargo")
        .args(["fuzz", "--version"])
        .env("PATH", &path)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_FUZZ_VERSION));
    if !has {
        run_with("cargo", &["install", "cargo-fuzz", "--version", CARGO_FUZZ_VERSION, "--locked"], &[])?;
    }
    Ok(vec![("PATH".into(), path), ("RUSTC_BOOTSTRAP".into(), "1".into())])
}

/// Where the fuzz build goes: `fuzz` under the cargo target directory, apart from the main
/// workspace's artefacts (other flags, another Cargo.lock).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir).join("fuzz"),
        None => root().join("target/fuzz"),
    }
}

/// Build all targets. No sanitizer: the core forbids `unsafe`, and without AddressSanitizer
/// each target runs about twice as many inputs a second; debug assertions and overflow checks
/// stay on (cargo-fuzz's default).
fn build(envs: &[(String, String)]) -> Result {
    let dir = target_dir();
    let dir = dir.to_str().ok_or("the target directory's path is not UTF-8")?;
    run_with("cargo", &["fuzz", "build", "--sanitizer", "none", "--target-dir", dir], envs)
}

fn binary(target: &str) -> Result<PathBuf> {
    let out = Command::new("rustc").arg("-vV").output().map_err(|e| format!("cannot run rustc: {e}"))?;
    let info = String::from_utf8_lossy(&out.stdout);
    let host = info.lines().find_map(|l| l.strip_prefix("host: ")).ok_or("rustc -vV names no host")?;
    Ok(target_dir().join(host).join("release").join(target))
}

/// Run one target for `secs` seconds on its corpus (`fuzz/corpus/TARGET`, kept between runs)
/// and a fresh seed directory; libFuzzer's output goes to a log file, each crash's input to
/// `fuzz/artifacts/TARGET/`.
fn run_one(target: &'static str, secs: u64) -> Result<Outcome> {
    let fuzz = root().join("fuzz");
    let corpus = fuzz.join("corpus").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    let seed_dir = target_dir().join("seeds").join(target);
    let log = target_dir().join("logs").join(format!("{target}.log"));
    for dir in [&corpus, &artifacts, log.parent().expect("logs/")] {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let seeded = seeds::write(target, &seed_dir)?;
    let before = list(&artifacts)?;
    eprintln!("xtask: fuzzing `{target}` for {secs} s ({seeded} seeds; log: {})", log.display());
    let log_file = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let stdout = log_file.try_clone().map_err(|e| e.to_string())?;
    let bin = binary(target)?;
    let status = Command::new(&bin)
        .arg(&corpus)
        .arg(&seed_dir)
        .arg(format!("-max_total_time={secs}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args(LIBFUZZER_OPTIONS)
        .current_dir(root())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(log_file))
        .status()
        .map_err(|e| format!("cannot run the `{target}` fuzz target (is it built?): {e}"))?;
    let text = std::fs::read_to_string(&log).map_err(|e| format!("cannot read {}: {e}", log.display()))?;
    let new: Vec<PathBuf> = list(&artifacts)?.into_iter().filter(|p| !before.contains(p)).collect();
    if !status.success() && new.is_empty() {
        return Err(format!("the `{target}` fuzz target failed ({status}) and saved no input; see {}", log.display()));
    }
    let crashes = new.into_iter().map(|reproducer| Crash { what: replay(&bin, &reproducer), reproducer }).collect();
    Ok(Outcome { target, stats: parse_stats(&text), crashes, log })
}

fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
}

/// Run a saved input once more and say what it does: the panic's place and message, or
/// libFuzzer's summary (timeout, out-of-memory).
fn replay(bin: &Path, input: &Path) -> String {
    let Ok(out) = Command::new(bin).arg(input).arg("-timeout=10").arg("-rss_limit_mb=2048").output() else {
        return "could not be run again".into();
    };
    let text = String::from_utf8_lossy(&out.stderr);
    let mut lines = text.lines();
    if let Some(at) = lines.by_ref().find_map(|l| l.split_once("panicked at ").map(|(_, at)| at.to_string())) {
        let at = at.strip_prefix(&format!("{}/", root().display())).unwrap_or(&at).to_string();
        return format!("panicked at {at} {}", lines.next().unwrap_or_default());
    }
    let summary = text.lines().find(|l| l.contains("ERROR: libFuzzer") || l.starts_with("SUMMARY:"));
    summary.map_or_else(|| "did not fail when run again (flaky?)".to_string(), |l| l.trim().to_string())
}

/// The totals on libFuzzer's last fork-mode status line
/// (`#EXECS: cov: C ft: F corp: K exec/s: … oom/timeout/crash: …`).
fn parse_stats(log: &str) -> Stats {
    let field = |line: &str, name: &str| -> Option<u64> {
        let mut words = line.split_whitespace();
        words.find(|w| *w == name)?;
        words.next()?.split('/').next()?.parse().ok()
    };
    let Some(last) = log.lines().rev().find(|l| l.starts_with('#') && l.contains(" cov: ")) else {
        return Stats::default();
    };
    let executions = last[1..].split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok());
    Stats {
        executions: executions.unwrap_or(0),
        coverage: field(last, "cov:").unwrap_or(0),
        features: field(last, "ft:").unwrap_or(0),
        corpus: field(last, "corp:").unwrap_or(0),
    }
}

fn print_table(outcomes: &[Outcome], secs: u64) {
    println!("\nfuzzing, {secs} s per target (sanitizer: none; debug assertions on)");
    println!("{:<10} {:>12} {:>8} {:>8} {:>7} {:>8}  log", "target", "executions", "cov", "ft", "corpus", "crashes");
    for o in outcomes {
        let s = &o.stats;
        println!(
            "{:<10} {:>12} {:>8} {:>8} {:>7} {:>8}  {}",
            o.target,
            s.executions,
            s.coverage,
            s.features,
            s.corpus,
            o.crashes.len(),
            relative(&o.log).display()
        );
    }
}

fn relative(path: &Path) -> &Path {
    path.strip_prefix(root()).unwrap_or(path)
}
