//! `--engine swarm` refuses to run untrusted projects unless the cluster registry has a login
//! the steps never get (`--cluster-registry-auth`), or the operator says the steps on the
//! nodes cannot reach it: found on the test swarm, a step container on a node can list the
//! registry's catalog, so with an unauthenticated registry it could read other runs' images
//! and push the tags that cancel or approve runs. A login file that cannot be used stops the
//! server, naming it. Needs no swarm: all of this comes before the server reaches the manager
//! (whether the registry really requires the login is checked at start, on the real swarm:
//! swarm_registry_auth.rs).

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
        err.contains("would run untrusted projects (demo)")
            && err.contains("--cluster-registry-isolated")
            && err.contains("--cluster-registry-auth"),
        "{err}"
    );

    // Said, a login given, or the project trusted: the check passes (and the unreachable
    // manager stops it).
    let auth = dir.path().join("cluster-auth.json");
    std::fs::write(&auth, r#"{"auths": {"10.255.255.1:5000": {"auth": "dTpw"}}}"#).unwrap();
    let auth_arg = auth.display().to_string();
    for extra in [
        &["--cluster-registry-isolated"][..],
        &["--trust", "demo"][..],
        &["--cluster-registry-auth", auth_arg.as_str()][..],
    ] {
        let (ok, err) = serve(extra, dir.path());
        assert!(!ok, "the server started without a manager");
        assert!(!err.contains("would run untrusted projects"), "{extra:?}: {err}");
    }
}

#[test]
fn a_cluster_registry_login_that_cannot_be_used_stops_the_server_naming_its_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
    std::fs::write(dir.path().join("codeship-steps.yml"), "- name: a\n  service: app\n  command: true\n").unwrap();
    let file = dir.path().join("cluster-auth.json");
    let arg = file.display().to_string();
    let cases = [
        (None, "cannot read it"),
        (Some("user:password"), "not JSON"),
        (
            Some(r#"{"auths": {"other:5000": {"auth": "dTpw"}}}"#),
            "no user name and password for the cluster registry 10.255.255.1:5000 (it has entries for: other:5000)",
        ),
    ];
    for (text, expected) in cases {
        if let Some(text) = text {
            std::fs::write(&file, text).unwrap();
        }
        let (ok, err) = serve(&["--cluster-registry-auth", &arg], dir.path());
        assert!(!ok, "the server started");
        assert!(err.contains(&arg) && err.contains(expected), "{expected}: {err}");
        assert!(!err.contains("dTpw") && !err.contains("user:password"), "{err}");
    }
}
