//! Server runs against the real server and engine, with steps acting as the untrusted code
//! they are: nothing a step writes may change what the host later runs, the project key is
//! never visible to a step, and what the server stores on disk is owner-only.

mod support;

use slipway_core::crypto::{self, Format, Key};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::server::{Server, project_args};

const TOKEN: &str = "isolation-token-5d2a";

/// How long a run may take.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// `slipway serve` with `project` as project `demo`.
fn serve(data: &Path, project: &Path) -> Server {
    Server::start(data, &project_args("demo", project), TOKEN)
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text.replace("BASE", &support::base_image())).unwrap();
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A git work tree whose HEAD carries a (fake) signature, as anyone can push: with
/// `log.showSignature` set, `git log` hands it to `gpg.program`.
fn signed_looking_repo(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "."]);
    git(dir, &["-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", "init"]);
    let tree = git(dir, &["rev-parse", "HEAD^{tree}"]);
    let parent = git(dir, &["rev-parse", "HEAD"]);
    let commit = format!(
        "tree {tree}\nparent {parent}\nauthor Mallory <m@example.com> 1700000000 +0000\n\
         committer Mallory <m@example.com> 1700000000 +0000\n\
         gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEEc2lnbmVkLWxvb2tpbmc=\n -----END PGP SIGNATURE-----\n\n\
         looks signed\n"
    );
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["hash-object", "-t", "commit", "-w", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), commit.as_bytes()).unwrap();
    let sha = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    git(dir, &["update-ref", "refs/heads/main", sha.trim()]);
}

#[test]
fn a_step_cannot_make_the_host_run_code_through_the_projects_git_config() {
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    let host = tempfile::tempdir().unwrap();
    let marker = host.path().join("x.sh-ran-on-the-host");
    write(p, "codeship-services.yml", "a:\n  image: BASE\n  volumes:\n    - ./:/src\n");
    write(p, "codeship-steps.yml", "- name: plant\n  service: a\n  command: sh /src/plant.sh\n");
    // The step: make the host's next `git log` run .git/x.sh, which leaves a marker on the host.
    write(
        p,
        "plant.sh",
        &format!(
            "mkdir -p /src/.git\n\
             printf '[log]\\n\\tshowSignature = true\\n[gpg]\\n\\tprogram = .git/x.sh\\n' >> /src/.git/config\n\
             printf '#!/bin/sh\\ntouch {}\\n' > /src/.git/x.sh\n\
             chmod +x /src/.git/x.sh\n\
             echo planted; echo \"msg=$CI_COMMIT_MESSAGE\"\n",
            marker.display()
        ),
    );
    signed_looking_repo(p);
    let config_before = std::fs::read(p.join(".git/config")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let s = serve(data.path(), p);

    let first = s.start_run(serde_json::json!({"project": "demo"}));
    let run = s.finished(&first, RUN_LIMIT);
    assert_eq!(run["status"], "success", "{run}\n{}", s.log(&first));
    assert!(s.log(&first).contains("planted"));
    // The second run reads its build values with `git log` in the project folder.
    let second = s.start_run(serde_json::json!({"project": "demo"}));
    s.finished(&second, RUN_LIMIT);
    assert!(!marker.exists(), "x.sh, written by a step, ran on the host");
    // The step worked on a copy: the project's own repository is untouched.
    assert_eq!(std::fs::read(p.join(".git/config")).unwrap(), config_before, "a step changed .git/config");
    assert!(!p.join(".git/x.sh").exists(), "a step wrote into the project's .git");
    // The build values still come from the repository.
    assert!(s.log(&second).contains("msg=looks signed"), "{}", s.log(&second));
}

/// The project key and what it decrypts, and where they must never show up.
struct KeyedProject {
    dir: tempfile::TempDir,
    key_text: String,
    key_hex: String,
}

fn keyed_project(services: &str, steps: &str) -> KeyedProject {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    let key = Key::from_bytes(bytes);
    std::fs::write(p.join("codeship.aes"), key.to_file_text()).unwrap();
    let enc = crypto::encrypt(&key, b"SECRET=isolated-s3cret-7e1\n", Format::Aead, &[9; 16]).unwrap();
    std::fs::write(p.join("s.encrypted"), enc).unwrap();
    // The plaintext lying next to it, as `slipway decrypt s.encrypted s.env` leaves it.
    std::fs::write(p.join("s.env"), "SECRET=isolated-s3cret-7e1\n").unwrap();
    write(p, "codeship-services.yml", services);
    write(p, "codeship-steps.yml", steps);
    let key_text = key.to_file_text().trim().to_string();
    let key_hex = bytes.iter().map(|b| format!("{b:02x}")).collect();
    KeyedProject { dir, key_text, key_hex }
}

#[test]
fn the_project_key_and_decrypted_files_are_invisible_to_steps_and_builds() {
    let kp = keyed_project(
        "a:\n  image: BASE\n  volumes:\n    - ./:/src\n  encrypted_env_file: s.encrypted\n\
         img:\n  build:\n    context: .\n    dockerfile: Dockerfile\n",
        "- name: peek\n  service: a\n  command: sh -c 'cat /src/codeship.aes; cat /src/s.env; ls -a /src'\n\
         - name: built\n  service: img\n  command: ls -a /app\n",
    );
    let p = kp.dir.path();
    write(p, "Dockerfile", "FROM BASE\nCOPY . /app\nRUN cat /app/codeship.aes /app/s.env || true\n");
    let data = tempfile::tempdir().unwrap();
    let s = serve(data.path(), p);
    let id = s.start_run(serde_json::json!({"project": "demo"}));
    let run = s.finished(&id, RUN_LIMIT);
    assert_eq!(run["status"], "success", "{run}\n{}", s.log(&id));
    let log = s.log(&id);
    let listing = |step: &str| -> Vec<String> {
        let prefix = format!("(step: {step}) (service: ");
        log.lines()
            .filter(|l| l.starts_with(&prefix) && !l.contains("(build)"))
            .filter_map(|l| Some(l.split_once(") ")?.1.split_once(") ")?.1.to_string()))
            .collect()
    };
    for step in ["peek", "built"] {
        let files = listing(step);
        assert!(files.contains(&"codeship-services.yml".to_string()), "{step}: {files:?}\n{log}");
        assert!(files.contains(&"s.encrypted".to_string()), "{step}: {files:?}");
        for hidden in ["codeship.aes", "s.env"] {
            assert!(!files.contains(&hidden.to_string()), "{step} sees {hidden}: {files:?}");
        }
    }
    assert!(!log.contains("SECRET="), "a step printed the decrypted file:\n{log}");
    assert_nothing_secret(&s, &id, &kp, data.path());
}

#[test]
fn the_key_text_is_masked_wherever_a_step_prints_it() {
    let kp = keyed_project(
        "a:\n  image: BASE\n  env_file: k.env\n",
        "- name: show\n  service: a\n  command: sh -c 'echo key=$PROJECT_KEY; echo $PROJECT_KEY | base64 -d | od -An -tx1 | tr -d \" \\n\"; echo'\n",
    );
    // A user who passed the key to a build through an env file.
    write(kp.dir.path(), "k.env", &format!("PROJECT_KEY={}\n", kp.key_text));
    let data = tempfile::tempdir().unwrap();
    let s = serve(data.path(), kp.dir.path());
    let id = s.start_run(serde_json::json!({"project": "demo"}));
    let run = s.finished(&id, RUN_LIMIT);
    assert_eq!(run["status"], "success", "{run}");
    let log = s.log(&id);
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with("(step: show) (service: a) ")).collect();
    assert_eq!(lines, ["(step: show) (service: a) key=***", "(step: show) (service: a) ***"], "{log}");
    assert_nothing_secret(&s, &id, &kp, data.path());
}

/// The key (as in the file and hex-encoded) and the decrypted value are in no response and
/// not in the database's bytes.
fn assert_nothing_secret(s: &Server, id: &str, kp: &KeyedProject, data: &Path) {
    let texts = [s.events(id), s.log(id), s.get_text("/api/runs"), s.get_text(&format!("/api/runs/{id}"))];
    let mut files = Vec::new();
    for name in ["slipway.sqlite", "slipway.sqlite-wal"] {
        files.push(String::from_utf8_lossy(&std::fs::read(data.join(name)).unwrap_or_default()).into_owned());
    }
    for (i, text) in texts.iter().chain(&files).enumerate() {
        for secret in [kp.key_text.as_str(), &kp.key_hex, "isolated-s3cret-7e1"] {
            assert!(!text.contains(secret), "text {i} holds a secret:\n{text}");
        }
    }
}

#[test]
fn steps_work_on_a_copy_that_is_removed_at_the_end() {
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    write(p, "codeship-services.yml", "a:\n  image: BASE\n  volumes:\n    - ./:/src\n    - ./out:/out\n");
    write(
        p,
        "codeship-steps.yml",
        "- name: change\n  service: a\n  command: sh -c 'echo step > /src/made-by-step; echo x >> /src/codeship-steps.yml; echo between > /out/f; ls /src/sub'\n\
         - name: later\n  service: a\n  command: sh -c 'cat /out/f /src/made-by-step'\n",
    );
    write(p, "sub/kept.txt", "kept");
    let steps_before = std::fs::read(p.join("codeship-steps.yml")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let s = serve(data.path(), p);
    let id = s.start_run(serde_json::json!({"project": "demo"}));
    let run = s.finished(&id, RUN_LIMIT);
    assert_eq!(run["status"], "success", "{run}\n{}", s.log(&id));
    let log = s.log(&id);
    // Later steps of the same run see what earlier ones wrote, as with jet.
    assert!(log.contains("(step: change) (service: a) kept.txt"), "{log}");
    assert!(log.contains("(step: later) (service: a) between") && log.contains("(step: later) (service: a) step"));
    // The project folder is as it was, and the copy is gone.
    assert!(!p.join("made-by-step").exists() && !p.join("out").exists());
    assert_eq!(std::fs::read(p.join("codeship-steps.yml")).unwrap(), steps_before);
    let left: Vec<PathBuf> = std::fs::read_dir(data.path().join("workspaces"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "workspaces left behind: {left:?}");
}

fn mode(path: &Path) -> String {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode();
    format!("{:o}", m & 0o777)
}

#[test]
fn the_data_dir_database_and_token_are_owner_only() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("fresh/data");
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "codeship-services.yml", "a:\n  image: BASE\n");
    write(project.path(), "codeship-steps.yml", "- service: a\n  command: echo hi\n");
    // No SLIPWAY_TOKEN: the server makes a token and stores it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--project")
        .arg(format!("demo={}", project.path().display()))
        .env_remove("SLIPWAY_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("Slipway studio: ") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "serve ended before printing its URL");
    }
    let modes: Vec<(&str, String)> =
        ["", "token", "slipway.sqlite", "slipway.sqlite-wal", "slipway.sqlite-shm", "workspaces"]
            .iter()
            .map(|f| (*f, mode(&data.join(f))))
            .collect();
    let _ = child.kill();
    let _ = child.wait();
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    assert_eq!(
        modes,
        [("", "700"), ("token", "600"), ("slipway.sqlite", "600"), ("slipway.sqlite-wal", "600")]
            .into_iter()
            .chain([("slipway.sqlite-shm", "600"), ("workspaces", "700")])
            .map(|(f, m)| (f, m.to_string()))
            .collect::<Vec<_>>()
    );
}
