//! Project automation: `cargo xtask test` runs every check CI runs; `cargo xtask studio`
//! builds and starts the studio; `cargo xtask conformance` regenerates the Go template table.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Run a command from the workspace root, echoing it; fail with its name on a non-zero exit.
fn run(program: &str, args: &[&str]) -> Result {
    run_with(program, args, &[])
}

fn run_with(program: &str, args: &[&str], envs: &[(String, String)]) -> Result {
    eprintln!("xtask: $ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{program} {}` failed ({status})", args.join(" "))) }
}

/// Start the Docker engine, base image and registry the integration tests use; returns the
/// environment variables that describe them.
fn test_env() -> Result<Vec<(String, String)>> {
    eprintln!("xtask: $ bash tests/env/up.sh");
    let out = Command::new("bash")
        .arg(root().join("tests/env/up.sh"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run tests/env/up.sh: {e}"))?;
    if !out.status.success() {
        return Err("tests/env/up.sh failed: the integration tests need a Docker engine and a registry".into());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

fn test() -> Result {
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    run("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    let envs = test_env()?;
    run_with("cargo", &["test", "--workspace"], &envs)?;
    // The core must keep compiling for the browser.
    run("rustup", &["target", "add", "wasm32-unknown-unknown"])?;
    run("cargo", &["build", "-p", "slipway-core", "--target", "wasm32-unknown-unknown"])?;
    Ok(())
}

fn conformance() -> Result {
    let dir = root().join("core/tests/fixtures/templates");
    let cases = dir.join("cases.json");
    let expected = dir.join("expected.json");
    eprintln!("xtask: regenerating {} with real Go (needs golang-go)", expected.display());
    let status = Command::new("go")
        .args(["run", "."])
        .arg(&cases)
        .arg(&expected)
        .current_dir(root().join("tools/go-conformance"))
        .status()
        .map_err(|e| format!("cannot run `go` ({e}); install it with `apt-get install golang-go`"))?;
    if status.success() { Ok(()) } else { Err("go-conformance failed".into()) }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: cargo xtask <command>\n\n\
         commands:\n  \
         test         run every check CI runs: fmt, clippy, all tests (starting Docker and a registry via tests/env/up.sh), wasm build\n  \
         conformance  regenerate the Go text/template conformance table (needs golang-go)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("conformance") => conformance(),
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
