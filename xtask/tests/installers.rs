//! tests/env/lib.sh's installers run from several tests at once and after being killed half-way.
//! A fresh machine once failed because two tests ran the same installer at the same moment and
//! one `rm -rf`'d the virtualenv the other was installing into. These run the real lib.sh
//! functions with a state folder of their own, installing a small real package from PyPI (six,
//! the one this machine kind is known to reach).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str = "six==1.16.0";

/// `bash -c` with lib.sh sourced and SLIPWAY_TEST_STATE=state.
fn lib(state: &Path, script: &str) -> Command {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/env/lib.sh");
    let mut c = Command::new("bash");
    c.arg("-c").arg(format!("set -euo pipefail; . '{}'; {script}", lib.display())).env("SLIPWAY_TEST_STATE", state);
    c
}

fn imports_six(venv: &Path) -> bool {
    Command::new(venv.join("bin/python")).args(["-c", "import six"]).status().is_ok_and(|s| s.success())
}

#[test]
fn two_installs_of_one_virtualenv_at_once_both_succeed_and_install_once() {
    let state = tempfile_dir("concurrent");
    let venv = state.join("venv");
    let script = format!("venv_install '{}' '{SPEC}'", venv.display());
    let spawn = || lib(&state, &script).stderr(Stdio::piped()).spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let logs = format!("{}{}", String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
    assert!(a.status.success() && b.status.success(), "an installer failed: {logs}");
    assert_eq!(logs.matches("installing six").count(), 1, "the second must wait and find it done: {logs}");
    assert!(imports_six(&venv));
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn an_install_killed_half_way_is_redone_by_the_next_run() {
    let state = tempfile_dir("killed");
    let venv = state.join("venv");
    let script = format!("venv_install '{}' '{SPEC}'", venv.display());
    // Kill the installer (and its pip) once the virtualenv exists but before it is stamped.
    let mut child = lib(&state, &script).process_group(0).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !venv.join("bin/python").exists() {
        assert!(Instant::now() < deadline, "the virtualenv was never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", child.id())]).status().unwrap();
    assert!(killed.success(), "kill of the installer's process group failed");
    let _ = child.wait();
    assert!(!venv.join(".slipway-complete").exists(), "killed before the end, yet stamped complete");
    // The lock died with its holder; the next run does the whole install again.
    let out = lib(&state, &script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(imports_six(&venv));
    assert_eq!(std::fs::read_to_string(venv.join(".slipway-complete")).unwrap().trim(), SPEC);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn need_refuses_a_program_the_table_does_not_name() {
    let state = tempfile_dir("need");
    let out = lib(&state, "need slipway-no-such-program").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("slipway-no-such-program is missing and tests/env/programs.tsv names no Debian package"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&state);
}

/// A fresh folder under target/tmp (xtask has no tempfile dependency).
fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/tmp/installers")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
