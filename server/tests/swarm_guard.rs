//! `--engine swarm` refuses to run untrusted projects unless the operator says the steps on
//! the nodes cannot reach the cluster registry: found on the test swarm, a step container on a
//! node can list the registry's catalog, so with an unauthenticated registry it could read
//! other runs' images and push the tags that cancel or approve runs. Needs no swarm: the
//! refusal comes before the server reaches the manager.

use std::process::Command;

fn serve(extra: &[&str], project: &std::path::Path) -> (bool, String) {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .arg("--project")
        .arg(format!("demo={}", project.display()))
        .args(["--engine", "swarm", "--cluster-registry", "10.255.255.1:5000"])
        .args(extra)
        // A manager that does not answer: a server that got past the check fails on it instead.
        .env("DOCKER_HOST", "unix:///nonexistent/slipway-test.sock")
        .env("SLIPWAY_TOKEN", "t")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn the_swarm_engine_refuses_untrusted_projects_unless_the_registry_is_out_of_the_steps_reach() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
    std::fs::write(dir.path().join("codeship-steps.yml"), "- name: a\n  service: app\n  command: true\n").unwrap();

    let (ok, err) = serve(&[], dir.path());
    assert!(!ok, "the server started");
    assert!(
        err.contains("would run untrusted projects (demo)") && err.contains("--cluster-registry-isolated"),
        "{err}"
    );

    // Said, or the project trusted: the check passes (and the unreachable manager stops it).
    for extra in [&["--cluster-registry-isolated"][..], &["--trust", "demo"][..]] {
        let (ok, err) = serve(extra, dir.path());
        assert!(!ok, "the server started without a manager");
        assert!(!err.contains("would run untrusted projects"), "{extra:?}: {err}");
    }
}
