//! `cargo xtask fuzz [SECS] [TARGET…]`: build the cargo-fuzz targets in `fuzz/` and run each
//! (or the ones named) for SECS seconds on a seed corpus made from the repository's fixtures, then report executions,
//! coverage and crashes per target. `cargo xtask test` runs the same briefly (a smoke test).

use crate::{Result, root, run_with, tool_path};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod seeds;

/// Every target in `fuzz/fuzz_targets/`, in the order they run.
pub const TARGETS: &[&str] = &["check", "reparse", "template", "decrypt", "dockercfg", "envfile"];

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

/// `cargo xtask fuzz [SECS] [TARGET…]`.
pub fn command(args: &[String]) -> Result {
    let (secs, names) = match args.split_first() {
        None => (DEFAULT_SECS, args),
        Some((s, rest)) => (s.parse().map_err(|_| format!("SECS must be a whole number of seconds, not `{s}`"))?, rest),
    };
    let mut targets = Vec::new();
    for name in names {
        let t = TARGETS
            .iter()
            .find(|t| *t == name)
            .ok_or_else(|| format!("no fuzz target `{name}`; the targets are {}", TARGETS.join(", ")))?;
        targets.push(*t);
    }
    run(secs, if targets.is_empty() { TARGETS } else { &targets })
}

/// Every target for `secs` seconds (CI's smoke run).
pub fn run_all(secs: u64) -> Result {
    run(secs, TARGETS)
}

/// Build every target, run each of `targets` for `secs` seconds (one at a time: fuzzing is
/// CPU-bound), print the table and fail with the reproducers' paths if any crashed.
fn run(secs: u64, targets: &[&'static str]) -> Result {
    let envs = tools()?;
    build(&envs)?;
    let mut outcomes = Vec::new();
    for target in targets {
        outcomes.push(run_one(target, secs)?);
    }
    print_table(&outcomes, secs);
    let found: usize = outcomes.iter().map(|o| o.crashes.len()).sum();
    if found == 0 {
        return Ok(());
    }
    let mut report = Vec::new();
    for o in &outcomes {
        report.extend(group_crashes(&o.crashes).into_iter().map(|(what, inputs)| {
            let more =
                if inputs.len() > 1 { format!(" (and {} more like it)", inputs.len() - 1) } else { String::new() };
            format!("{}: {what}\n    {}{more}", o.target, inputs[0].display())
        }));
    }
    Err(format!(
        "fuzzing found {found} crashing input(s); reproduce with `cargo fuzz run -s none TARGET PATH`, minimise with \
         `cargo fuzz tmin -s none TARGET PATH`:\n  {}",
        report.join("\n  ")
    ))
}

/// Crashes with the same panic (place and message) together, in the order first seen.
fn group_crashes(crashes: &[Crash]) -> Vec<(&str, Vec<&Path>)> {
    let mut groups: Vec<(&str, Vec<&Path>)> = Vec::new();
    for c in crashes {
        match groups.iter_mut().find(|(what, _)| *what == c.what) {
            Some((_, inputs)) => inputs.push(&c.reproducer),
            None => groups.push((&c.what, vec![&c.reproducer])),
        }
    }
    groups
}

/// cargo-fuzz on the PATH (installed from crates.io when missing), and the environment it runs
/// in: RUSTC_BOOTSTRAP=1 lets the stable toolchain accept the `-Z` flags cargo-fuzz passes with
/// a sanitizer (none are needed with `--sanitizer none`, but a newer cargo-fuzz may add some).
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

/// Run a saved input once more and say what it does: the panic's message and place (or an
/// allocation failure), with the first frame in our code when the place is in std; or
/// libFuzzer's summary (timeout, out-of-memory).
fn replay(bin: &Path, input: &Path) -> String {
    let out =
        Command::new(bin).arg(input).args(["-timeout=10", "-rss_limit_mb=2048"]).env("RUST_BACKTRACE", "1").output();
    let Ok(out) = out else { return "could not be run again".into() };
    let text = String::from_utf8_lossy(&out.stderr);
    let root = format!("{}/", root().display());
    // Backtrace frames name our files from the root or as `./core/…`.
    let ours = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("at "))
        .map(|at| at.strip_prefix(&root).or_else(|| at.strip_prefix("./")).unwrap_or(at))
        .find(|at| at.starts_with("core/"))
        .unwrap_or("?");
    let lines: Vec<&str> = text.lines().collect();
    let what = lines.iter().enumerate().find_map(|(i, l)| {
        if let Some((_, at)) = l.split_once("panicked at ") {
            let at = at.trim_end_matches(':');
            let at = at.strip_prefix(&root).unwrap_or(at);
            Some(format!("panicked at {at}: {}", lines.get(i + 1).unwrap_or(&"")))
        } else {
            l.starts_with("memory allocation of").then(|| l.to_string())
        }
    });
    match what {
        // A panic inside std (`capacity overflow`) or an allocation failure: name our frame.
        Some(what) if what.starts_with("memory") || what.contains(" at /") => format!("{what} (in {ours})"),
        Some(what) => what,
        None => text
            .lines()
            .find(|l| l.contains("ERROR: libFuzzer") || l.starts_with("SUMMARY:"))
            .map_or_else(|| "did not fail when run again (flaky?)".to_string(), |l| l.trim().to_string()),
    }
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
