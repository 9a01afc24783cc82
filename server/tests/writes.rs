//! Commands that write files (issue 19, finding 14): `encrypt`, `decrypt` and `export`
//! (`--out`, `--secrets-to`) never replace a file without `--force` and never write through a
//! symlink; `generate` never writes a key through one; `rekey` removes the staging files a
//! killed run left, says which, and refuses to run twice on one project at once.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

/// A pinned Slipway for `--mode slipway` exports (which need one).
const PINNED: &str = "git+https://git.example.com/acme/slipway.git#0123456789abcdef0123456789abcdef01234567";

fn slipway() -> Command {
    let mut c = Command::cargo_bin("slipway").unwrap();
    c.env_remove("SLIPWAY_KEY_PATH").env_remove("SOURCE_DATE_EPOCH").env("NO_COLOR", "1");
    c
}

fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// `slipway CMD --key-path KEY INPUT OUTPUT`, for `encrypt` and `decrypt`.
fn crypt(cmd: &str, key: &Path, input: &Path, output: &Path) -> Command {
    let mut c = slipway();
    c.arg(cmd).arg("--key-path").arg(key).arg(input).arg(output);
    c
}

/// `slipway rekey --dir DIR --new-key-path DIR/new.aes`.
fn rekey(dir: &Path) -> Command {
    let mut c = slipway();
    c.arg("rekey").arg("--dir").arg(dir).arg("--new-key-path").arg(dir.join("new.aes"));
    c
}

/// A folder with a key and an encrypted env file.
fn keyed() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    slipway().arg("generate").arg("--key-path").arg(p.join("codeship.aes")).assert().success();
    std::fs::write(p.join("env"), "TOKEN=s3cr3t-value\n").unwrap();
    crypt("encrypt", &p.join("codeship.aes"), &p.join("env"), &p.join("env.encrypted")).assert().success();
    d
}

#[test]
fn encrypt_and_decrypt_replace_a_file_only_with_force() {
    let d = keyed();
    let p = d.path();
    let key = p.join("codeship.aes");
    std::fs::write(p.join("out"), "precious\n").unwrap();
    for cmd in ["encrypt", "decrypt"] {
        let input = if cmd == "encrypt" { "env" } else { "env.encrypted" };
        crypt(cmd, &key, &p.join(input), &p.join("out"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("already exists; pass --force to replace it"));
        assert_eq!(std::fs::read_to_string(p.join("out")).unwrap(), "precious\n", "{cmd} wrote over the file");
    }
    crypt("decrypt", &key, &p.join("env.encrypted"), &p.join("out")).arg("--force").assert().success();
    assert_eq!(std::fs::read_to_string(p.join("out")).unwrap(), "TOKEN=s3cr3t-value\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(p.join("out")).unwrap().permissions().mode() & 0o777, 0o600);
    crypt("encrypt", &key, &p.join("env"), &p.join("out")).arg("--force").assert().success();
    assert!(std::fs::read_to_string(p.join("out")).unwrap().starts_with("slipway:aead1\n"));
}

/// A link planted where the plaintext goes (a checkout can hold one) would put the secret
/// wherever it points, `--force` or not.
#[test]
fn decrypt_never_writes_through_a_symlink() {
    let d = keyed();
    let p = d.path();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("public.txt");
    std::fs::write(&target, "public\n").unwrap();
    symlink(&target, &p.join("env.out"));
    symlink(&elsewhere.path().join("new.txt"), &p.join("dangling.out"));
    for (out, force) in [("env.out", false), ("env.out", true), ("dangling.out", true)] {
        let mut c = crypt("decrypt", &p.join("codeship.aes"), &p.join("env.encrypted"), &p.join(out));
        if force {
            c.arg("--force");
        }
        c.assert().code(2).stderr(predicate::str::contains("is a symlink").and(predicate::str::contains(out)));
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "public\n");
    assert!(!elsewhere.path().join("new.txt").exists());
    // A stream the user names under /dev/ is still fine.
    crypt("decrypt", &p.join("codeship.aes"), &p.join("env.encrypted"), Path::new("/dev/null")).assert().success();
}

fn export_project(p: &Path) {
    std::fs::write(p.join("codeship-services.yml"), "app:\n  image: busybox\n  encrypted_env_file: env.encrypted\n")
        .unwrap();
    std::fs::write(p.join("codeship-steps.yml"), "- service: app\n  command: true\n").unwrap();
}

#[test]
fn export_secrets_to_needs_force_and_refuses_a_symlink() {
    let d = keyed();
    let p = d.path();
    export_project(p);
    let export = || {
        let mut c = slipway();
        c.args(["export", "gitlab-ci", "--mode", "native", "--out"]).arg(p.join("ci.yml")).arg("--dir").arg(p);
        c
    };
    // An existing secrets file is kept without --force, and nothing else is written either.
    std::fs::write(p.join("values.json"), "mine\n").unwrap();
    export()
        .arg("--secrets-to")
        .arg(p.join("values.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("values.json already exists; pass --force"));
    assert_eq!(std::fs::read_to_string(p.join("values.json")).unwrap(), "mine\n");
    assert!(!p.join("ci.yml").exists(), "the workflow was written although the export failed");
    export().arg("--force").arg("--secrets-to").arg(p.join("values.json")).assert().success();
    let values: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("values.json")).unwrap()).unwrap();
    assert_eq!(values["CODESHIP_SECRET_ENV"], "TOKEN=s3cr3t-value\n");

    // Through a symlink: refused with --force too; the target keeps its bytes.
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("shared.json");
    std::fs::write(&target, "{}\n").unwrap();
    symlink(&target, &p.join("linked.json"));
    export()
        .arg("--force")
        .arg("--secrets-to")
        .arg(p.join("linked.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("linked.json: it is a symlink"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}\n");
    // And the workflow itself.
    symlink(&target, &p.join("ci-link.yml"));
    slipway()
        .args(["export", "gitlab-ci", "--force", "--slipway-source", PINNED, "--out"])
        .arg(p.join("ci-link.yml"))
        .arg("--dir")
        .arg(p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a symlink"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}\n");
}

/// Found by review: a checkout can plant a symlinked folder (`ci -> ../elsewhere`) and
/// `--secrets-to ci/secrets.json`, given relative to the checkout, wrote the decrypted values
/// through it. A relative output's folders must not be links.
#[test]
fn export_never_writes_through_a_symlinked_folder_of_a_relative_path() {
    let d = keyed();
    let p = d.path();
    export_project(p);
    let elsewhere = tempfile::tempdir().unwrap();
    symlink(elsewhere.path(), &p.join("ci"));
    slipway()
        .current_dir(p)
        .args(["export", "gitlab-ci", "--mode", "native", "--out", "out.yml", "--secrets-to", "ci/secrets.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("its folder ci is a symlink"));
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "something was written through the link");
    // The default output folder too (`.github/workflows`).
    symlink(elsewhere.path(), &p.join(".github"));
    slipway()
        .current_dir(p)
        .args(["export", "github-actions", "--slipway-source", PINNED])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(".github is a symlink"));
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "something was written through the link");
}

#[test]
fn generate_does_not_write_a_key_through_a_dangling_symlink() {
    let d = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    symlink(&elsewhere.path().join("stolen.aes"), &d.path().join("codeship.aes"));
    slipway()
        .arg("generate")
        .arg("--key-path")
        .arg(d.path().join("codeship.aes"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a symlink"));
    assert!(!elsewhere.path().join("stolen.aes").exists());
}

/// A rekey killed while staging (SIGKILL between writing `.slipway-rekey-XXXXXX` and renaming
/// it) leaves the staging file; the next run removes it and names it. A link with such a name
/// is not touched.
#[test]
fn rekey_removes_what_a_killed_run_staged() {
    let d = keyed();
    let p = d.path();
    export_project(p);
    std::fs::write(p.join(".slipway-rekey-Ab12Cd"), "half a ciphertext").unwrap();
    let other = tempfile::NamedTempFile::new().unwrap();
    symlink(other.path(), &p.join(".slipway-rekey-Zz99Zz"));
    std::fs::write(p.join(".slipway-rekey-notes.txt"), "not ours").unwrap();
    rekey(p)
        .assert()
        .success()
        .stderr(predicate::str::contains(".slipway-rekey-Ab12Cd").and(predicate::str::contains("interrupted rekey")));
    assert!(!p.join(".slipway-rekey-Ab12Cd").exists(), "the stale staging file is still there");
    assert!(std::fs::symlink_metadata(p.join(".slipway-rekey-Zz99Zz")).is_ok(), "a link was removed");
    assert!(other.path().exists());
    assert!(p.join(".slipway-rekey-notes.txt").exists());
    let left: Vec<String> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".slipway-") && n != ".slipway-rekey-Zz99Zz" && n != ".slipway-rekey-notes.txt")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// While one rekey holds the project, another is refused before it changes anything (it
/// would otherwise take the first one's staging files for stale ones).
#[test]
fn a_second_rekey_of_the_same_project_is_refused() {
    let d = keyed();
    let p = d.path();
    export_project(p);
    let dir = std::fs::File::open(p).unwrap();
    rustix::fs::flock(&dir, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
    let before = std::fs::read(p.join("env.encrypted")).unwrap();
    rekey(p).assert().code(2).stderr(predicate::str::contains("another `slipway rekey` is running"));
    assert_eq!(std::fs::read(p.join("env.encrypted")).unwrap(), before);
    assert!(!p.join("new.aes").exists());
    drop(dir);
}
