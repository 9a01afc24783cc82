//! `slipway agent-image`: the tar `docker import` turns into the run agent's image (issue 22:
//! no base image can be pulled, so the agent is this binary and its libraries alone). Checked
//! on the real engine: the imported image runs `slipway --version`.

mod support;

use std::process::Command;

fn slipway(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_slipway")).args(args).current_dir(dir).output().unwrap()
}

#[test]
fn the_agent_image_runs_this_slipway_and_an_existing_tar_is_kept_without_force() {
    support::env_up();
    let dir = tempfile::tempdir().unwrap();
    let out = slipway(&["agent-image", "--out", "agent.tar"], dir.path());
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{said}");
    let tag = said.split("slipway-agent:").nth(1).and_then(|t| t.split('`').next()).expect("the tag to import as");
    assert_eq!(tag.len(), 12, "{said}");

    // Again without --force: refused, the file untouched, no temporary file left.
    let size = std::fs::metadata(dir.path().join("agent.tar")).unwrap().len();
    let again = slipway(&["agent-image", "--out", "agent.tar"], dir.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::metadata(dir.path().join("agent.tar")).unwrap().len(), size);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only agent.tar");

    let image = format!("slipway-test/agent:{tag}-{}", std::process::id());
    let import = Command::new("docker").args(["import", "agent.tar", &image]).current_dir(dir.path()).output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let run = Command::new("docker")
        .args(["run", "--rm", "--network", "none", &image, "/usr/local/bin/slipway", "--version"])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", &image]).output();
    let version = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(run.status.success(), "{version}{}", String::from_utf8_lossy(&run.stderr));
    let ours =
        String::from_utf8_lossy(&Command::new(env!("CARGO_BIN_EXE_slipway")).arg("--version").output().unwrap().stdout)
            .to_string();
    assert_eq!(version, ours);
}
