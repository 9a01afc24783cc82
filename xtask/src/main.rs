//! Project automation: `cargo xtask test` runs every check CI runs; `cargo xtask studio`
//! builds and starts the studio; `cargo xtask conformance` regenerates the Go template table;
//! `cargo xtask fuzz` runs the fuzz targets in `fuzz/`.

mod fuzz;

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
    // fuzz/ is a workspace of its own, which `--all` does not reach.
    run("cargo", &["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"])?;
    run("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    let mut envs = build_studio()?;
    envs.extend(test_env()?);
    // The swarm tests (server/tests/swarm_*.rs) bring tests/env/swarm.sh's swarm up
    // themselves when asked to; it is taken down after, whatever the tests did.
    envs.push(("SLIPWAY_TEST_SWARM".into(), "1".into()));
    // --no-fail-fast: one failing test binary must not hide the others' results in CI's log.
    let tests = run_with("cargo", &["test", "--workspace", "--no-fail-fast"], &envs);
    let _ = run("bash", &["tests/env/swarm.sh", "down"]);
    tests?;
    // The core's tests again, compiled to wasm32 and run in headless Chromium. The runner
    // starts chromedriver without a profile, so chromedriver makes one per test binary in
    // TMPDIR and leaves it behind (~25 MB each): give it a TMPDIR of its own, removed after.
    let tmp = root().join("target/tmp/wasm-tests");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let mut wasm_envs = envs.clone();
    wasm_envs.push(("TMPDIR".into(), tmp.display().to_string()));
    let wasm =
        run_with("cargo", &["test", "-p", "slipway-core", "--target", "wasm32-unknown-unknown", "--tests"], &wasm_envs);
    let _ = std::fs::remove_dir_all(&tmp);
    wasm?;
    readme_install()?;
    // Every fuzz target briefly, so a new panic on fixture-like input fails CI.
    fuzz::run_all(fuzz::SMOKE_SECS)?;
    Ok(())
}

/// The `wasm-bindgen` version Cargo.lock resolved: the CLI must match it exactly.
fn wasm_bindgen_version() -> Result<String> {
    let lock =
        std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

const TRUNK_VERSION: &str = "0.21.14";
const BINARYEN_VERSION: &str = "132";

/// Where npm-installed tools (binaryen's wasm-opt) live, under target/.
fn tools_bin() -> PathBuf {
    root().join("target/tools/node_modules/.bin")
}

/// A PATH with our tool folders first.
fn tool_path() -> String {
    let cargo_bin = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    format!(
        "{}:{}:{}",
        tools_bin().display(),
        cargo_bin.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Install what building the studio needs, when missing: the wasm target, trunk, the
/// matching wasm-bindgen-cli, and wasm-opt from npm (Debian's binaryen is too old).
fn studio_tools() -> Result<Vec<(String, String)>> {
    let path = tool_path();
    let envs = vec![("PATH".to_string(), path.clone())];
    let has = |program: &str, args: &[&str], want: &str| {
        Command::new(program)
            .args(args)
            .env("PATH", &path)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains(want))
    };
    run("rustup", &["target", "add", "wasm32-unknown-unknown"])?;
    if !has("trunk", &["--version"], TRUNK_VERSION) {
        run("cargo", &["install", "trunk", "--version", TRUNK_VERSION, "--locked"])?;
    }
    let wb = wasm_bindgen_version()?;
    if !has("wasm-bindgen", &["--version"], &wb) {
        // Without --locked: the CLI's own lock file pins crates that need a newer rustc.
        run("cargo", &["install", "wasm-bindgen-cli", "--version", &wb])?;
    }
    if !has("wasm-opt", &["--version"], &format!("version {BINARYEN_VERSION}")) {
        let dir = root().join("target/tools");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", &format!("binaryen@{BINARYEN_VERSION}")])
            .current_dir(&dir)
            .status()
            .map_err(|e| format!("cannot run npm ({e}); install Node.js and npm"))?;
        if !status.success() {
            return Err("npm install binaryen failed".into());
        }
    }
    Ok(envs)
}

/// The newest modification time under `path` (a file or a folder), skipping `skip` folders.
fn newest(path: &Path, skip: &[&str]) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .flatten()
        .filter(|e| !skip.iter().any(|s| e.file_name() == *s))
        .filter_map(|e| newest(&e.path(), skip))
        .max()
}

/// Whether `output` is missing or older than any of `inputs`.
fn stale(output: &Path, inputs: &[PathBuf], skip: &[&str]) -> bool {
    let Some(built) = std::fs::metadata(output).and_then(|m| m.modified()).ok() else { return true };
    inputs.iter().filter_map(|p| newest(p, skip)).any(|t| t > built)
}

/// CodeMirror: `npm ci` when package-lock.json changed since the last install, then esbuild's
/// bundle (frontend/editor/dist/editor.js) when its sources changed. Nothing touches the
/// network when both are current.
fn editor_bundle() -> Result {
    let dir = root().join("frontend/editor");
    let npm = |args: &[&str]| -> Result {
        eprintln!("xtask: $ (cd frontend/editor && npm {})", args.join(" "));
        let status = Command::new("npm")
            .args(args)
            .current_dir(&dir)
            .status()
            .map_err(|e| format!("cannot run npm ({e}); install Node.js and npm"))?;
        if status.success() { Ok(()) } else { Err(format!("`npm {}` failed in frontend/editor", args.join(" "))) }
    };
    // npm writes node_modules/.package-lock.json on every install.
    if stale(&dir.join("node_modules/.package-lock.json"), &[dir.join("package-lock.json")], &[]) {
        npm(&["ci", "--prefer-offline", "--no-audit", "--no-fund"])?;
    }
    let inputs = ["editor.js", "analysis.js", "package.json", "package-lock.json"].map(|f| dir.join(f));
    if stale(&dir.join("dist/editor.js"), &inputs, &[]) {
        npm(&["run", "--silent", "build"])?;
    }
    Ok(())
}

/// The wasm's panic locations name source files; without the folders they live in (this
/// checkout, cargo's registry) they are 1.8 KB less gzip in the bundle (docs/perf.md) and say
/// nothing about the machine that built it. With `--target` (trunk's), rustflags reach the
/// wasm crates only, not build scripts. Encoded (one flag per 0x1f-separated field), so a
/// folder with a space in its name stays one flag; the caller's own rustflags are kept.
fn studio_rustflags() -> (String, String) {
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    let mut flags: Vec<String> = match std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        Ok(e) if !e.is_empty() => e.split('\x1f').map(str::to_string).collect(),
        _ => std::env::var("RUSTFLAGS").unwrap_or_default().split_whitespace().map(str::to_string).collect(),
    };
    // Each registry's own folder (`index.crates.io-…`). (The standard library's paths,
    // `/rustc/<commit>/…`, come precompiled: remapping them changes nothing.)
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cargo_home.join("registry/src"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.extend([cargo_home.join("git/checkouts"), root()]);
    for dir in dirs {
        flags.push(format!("--remap-path-prefix={}=", dir.display()));
    }
    ("CARGO_ENCODED_RUSTFLAGS".to_string(), flags.join("\x1f"))
}

/// Build the studio into dist/ (release, optimised), unless dist/ is newer than everything it
/// is built from: trunk always rewrites dist/, which would make cargo rebuild the server that
/// embeds it.
fn build_studio() -> Result<Vec<(String, String)>> {
    let envs = studio_tools()?;
    editor_bundle()?;
    let r = root();
    let inputs = ["frontend", "core", "index.html", "Trunk.toml", "Cargo.toml", "Cargo.lock"].map(|p| r.join(p));
    // Older server build scripts wrote a placeholder index.html into dist/: not a studio.
    let placeholder = std::fs::read_to_string(r.join("dist/index.html"))
        .is_ok_and(|index| index.contains("The studio has not been built"));
    if placeholder || stale(&r.join("dist/index.html"), &inputs, &["node_modules", "target"]) {
        let mut trunk_envs = envs.clone();
        trunk_envs.push(studio_rustflags());
        run_with("trunk", &["build", "--release", "--offline"], &trunk_envs)?;
    } else {
        eprintln!("xtask: dist/ is up to date");
    }
    Ok(envs)
}

/// Build the studio and serve it with the run API. Without `--project` arguments the sample
/// project (examples/sample) is registered, and the Docker engine and the busybox base image it
/// runs on are brought up, so the Run panel works on a fresh machine.
fn studio(args: &[String]) -> Result {
    build_studio()?;
    run("cargo", &["build", "--release", "-p", "slipway"])?;
    let (addr, extra) = match args.first() {
        Some(a) if !a.starts_with('-') => (a.clone(), &args[1..]),
        _ => ("127.0.0.1:7878".to_string(), args),
    };
    let mut serve: Vec<String> = vec!["serve".into(), "--addr".into(), addr];
    if !extra.iter().any(|a| a == "--project") {
        if let Err(e) = test_env() {
            eprintln!("xtask: {e}\nxtask: serving anyway; runs will fail until a Docker engine is running");
        }
        serve.push("--project".into());
        serve.push(format!("sample={}", root().join("examples/sample").display()));
    }
    serve.extend(extra.iter().cloned());
    let serve: Vec<&str> = serve.iter().map(String::as_str).collect();
    run(root().join("target/release/slipway").to_str().expect("utf-8 path"), &serve)
}

/// Build the studio, then `cargo install` the server with it embedded. `args` go to
/// `cargo install` (`--root DIR`, `--force`, …).
fn install(args: &[String]) -> Result {
    build_studio()?;
    let mut cargo: Vec<&str> = vec!["install", "--path", "server", "--locked"];
    cargo.extend(args.iter().map(String::as_str));
    run("cargo", &cargo)
}

/// The README's Install section, tested: its commands, run as written into a folder of our own
/// (`--root`), must give a `slipway` whose page is the studio, not the page of a build without
/// it. Only the release profile's optimisation is turned down (the build is what is tested,
/// not its speed): a full release build takes minutes more on a 2-core machine.
fn readme_install() -> Result {
    let readme =
        std::fs::read_to_string(root().join("README.md")).map_err(|e| format!("cannot read README.md: {e}"))?;
    let section = readme.split("\n## Install\n").nth(1).ok_or("README.md has no `## Install` section")?;
    let block =
        section.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).ok_or("no ```sh block in Install")?;
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or(l).trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let prefix = root().join("target/tmp/readme-install");
    let _ = std::fs::remove_dir_all(&prefix);
    let bin = prefix.join("bin");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let quick = [("LTO", "false"), ("CODEGEN_UNITS", "256"), ("OPT_LEVEL", "0"), ("DEBUG", "false")]
        .map(|(k, v)| (format!("CARGO_PROFILE_RELEASE_{k}"), v.to_string()));
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        let (program, args) = words.split_first().ok_or("an empty command")?;
        let mut args: Vec<&str> = args.to_vec();
        if args.contains(&"install") {
            args.extend(["--root", prefix.to_str().ok_or("a non-UTF-8 path")?]);
        }
        let mut envs = quick.to_vec();
        envs.push(("PATH".into(), path.clone()));
        run_with(program, &args, &envs).map_err(|e| format!("README's Install: {e}"))?;
    }
    let slipway = bin.join("slipway");
    let page = studio_page(&slipway)?;
    if !page.contains("<script") || page.contains("has no studio") {
        return Err(format!("README's Install gave a slipway without the studio; its page:\n{page}"));
    }
    eprintln!("xtask: README's Install gives a slipway with the studio ({})", slipway.display());
    let _ = std::fs::remove_dir_all(&prefix);
    Ok(())
}

/// `slipway serve` on a free port, the page it serves at `/`, then stopped.
fn studio_page(slipway: &Path) -> Result<String> {
    use std::io::{BufRead, BufReader, Read, Write};
    let data = root().join("target/tmp/readme-install/data");
    let mut child = Command::new(slipway)
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("SLIPWAY_TOKEN", "readme-install-check")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", slipway.display()))?;
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
    let page = (|| {
        let url = line.trim().strip_prefix("Slipway studio: http://").ok_or(format!("serve printed {line:?}"))?;
        let mut conn = std::net::TcpStream::connect(url.trim_end_matches('/')).map_err(|e| e.to_string())?;
        conn.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
        let mut page = String::new();
        conn.read_to_string(&mut page).map_err(|e| e.to_string())?;
        Ok::<_, String>(page)
    })();
    let _ = child.kill();
    let _ = child.wait();
    page
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
         test         run every check CI runs: fmt, clippy, build the studio, all tests (starting Docker, a registry and\n               Chromium via tests/env/up.sh), the core's tests in headless Chromium, and each fuzz target for {} s\n  \
         studio [ADDR] [SERVE ARGS]\n               build the studio (installing trunk, wasm-bindgen-cli, wasm-opt, CodeMirror via npm ci if missing;\n               nothing is rebuilt when nothing changed) and serve it with\n               the run API; without --project, the sample project examples/sample (Docker via tests/env/up.sh);\n               SERVE ARGS go to `slipway serve` (see `slipway serve --help`)\n  \
         build        build the studio into dist/ (as `studio` does) without starting anything\n  \
         install [CARGO INSTALL ARGS]\n               build the studio, then `cargo install --path server --locked` with it embedded\n               (e.g. `cargo xtask install --root ~/.local`); a plain `cargo install` refuses without the studio\n  \
         readme-install\n               run the README's Install commands into target/tmp and check the installed slipway serves the studio\n               (part of `test`)\n  \
         conformance  regenerate the Go text/template conformance table (needs golang-go)\n  \
         fuzz [SECS] [TARGET...]\n               build the fuzz targets in fuzz/ (installing cargo-fuzz if missing) and run each (or those named:\n               \
         check, template, decrypt, dockercfg, envfile) for SECS seconds (default {}), one at a time; prints\n               \
         executions, coverage and crashes per target, and fails with each reproducer's path and panic",
        fuzz::SMOKE_SECS,
        fuzz::DEFAULT_SECS
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--help` anywhere prints the usage and does nothing else (it used to start a build).
    if args.iter().any(|a| a == "--help" || a == "-h") {
        usage();
        return ExitCode::SUCCESS;
    }
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("studio") => studio(&args[1..]),
        Some("build") => build_studio().map(|_| ()),
        Some("install") => install(&args[1..]),
        Some("readme-install") => readme_install(),
        Some("conformance") => conformance(),
        Some("fuzz") => fuzz::command(&args[1..]),
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
