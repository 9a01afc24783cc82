//! Only the Docker backend talks to Docker: no file under `server/src` outside
//! `server/src/executor/docker/` names bollard (the Docker client crate), but for the swarm
//! engine's client, `server/src/cluster/swarm/`: it drives swarm objects (services, tasks,
//! secrets, nodes) that no step engine has, and runs whole runs, never steps, so it sits
//! beside the step engine's boundary rather than behind it (issue 22).
//!
//! The executor's orchestration drives engines through one trait (`executor/engine.rs`); a
//! bollard type or call anywhere else would tie that code to Docker again, and the next
//! engine (a node's agent, a cluster) would have to work through it. Tests' own support
//! (`server/tests/support/`) may use bollard to look at the engine directly.
//!
//! How: every `.rs` file's text, `//` comments left out, searched for the word `bollard`.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `path:line: text` of each line that names bollard outside a comment.
fn mentions(path: &Path, text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.find("//").map_or(*line, |i| &line[..i]);
            code.contains("bollard")
        })
        .map(|(i, line)| format!("{}:{}: {}", path.display(), i + 1, line.trim()))
        .collect()
}

#[test]
fn bollard_is_used_only_by_the_docker_backend() {
    let src = root().join("server/src");
    let backend = src.join("executor/docker");
    let swarm = src.join("cluster/swarm");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.iter().any(|f| f.starts_with(&backend)), "no Docker backend at {}", backend.display());
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&backend) && !f.starts_with(&swarm)) {
        let text = std::fs::read_to_string(file).unwrap();
        found.extend(mentions(file.strip_prefix(root()).unwrap(), &text));
    }
    assert!(
        found.is_empty(),
        "bollard outside server/src/executor/docker/ (move the Docker code into the backend, behind \
         `executor::engine::Engine`):\n{}",
        found.join("\n")
    );
}

#[test]
fn a_mention_in_code_is_found_and_one_in_a_comment_is_not() {
    let text = "//! Docker through bollard.\nuse bollard::Docker; // the client\nlet x = 1; // bollard\n";
    assert_eq!(mentions(Path::new("f.rs"), text), ["f.rs:2: use bollard::Docker; // the client"]);
}
