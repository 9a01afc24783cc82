//! What a step can swap in the run's workspace must not change what the server reads or
//! what a later container mounts (issue 19, findings 1, 9 and 10). Each test plays the
//! attack through `slipway serve` and `POST /api/runs` on the real engine: an earlier step
//! renames folders and plants symlinks and FIFOs, and a later step or the server itself
//! uses the path.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use support::server::{Server, project_args};

const TOKEN: &str = "containment-token-81c4";

/// `slipway serve` with data folder `data` and `project` as project `demo`.
fn serve(data: &Path, project: &Path) -> Server {
    Server::start(data, &project_args("demo", project), TOKEN)
}

/// Serve project `p` (data folder `data`), run it and wait at most two minutes for the run to
/// end; the server, the run's record and [`Server::everything`] about it.
fn run_demo(data: &Path, p: &Path) -> (Server, Value, String) {
    let s = serve(data, p);
    let id = s.start_run(json!({"project": "demo"}));
    let run = s.finished_within(&id, Duration::from_secs(120)).unwrap_or_else(|| panic!("run {id} did not finish"));
    let seen = s.everything(&id);
    (s, run, seen)
}

/// [`run_demo`] for a run a step has planted a FIFO in: it must end within a minute.
fn run_demo_past_fifo(data: &Path, p: &Path) -> (Server, Value, String) {
    let s = serve(data, p);
    let id = s.start_run(json!({"project": "demo"}));
    let run = s
        .finished_within(&id, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("the run hangs on the FIFO: {:?}", s.try_get_text(&format!("/api/runs/{id}"))));
    let seen = s.everything(&id);
    (s, run, seen)
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text.replace("BASE", &support::base_image())).unwrap();
}

/// Finding 1: `holder` binds `./data`, `app` mounts it through `volumes_from`, and a step
/// that mounts the whole workspace replaces `data` with a symlink to `/` between two `app`
/// steps. Docker resolves a bind's source path again at each start; the server hands it a
/// folder pinned when the container was created, so `app` still sees the original folder
/// (or the run fails), never the host's root.
#[test]
fn a_symlink_swapped_in_for_a_bound_folder_does_not_change_what_a_later_step_mounts() {
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    // A host folder the step must neither read nor write.
    let host = tempfile::tempdir().unwrap();
    let secret = "host-only-7f2c91";
    std::fs::write(host.path().join("secret.txt"), secret).unwrap();
    let hostdir = host.path().display().to_string();
    write(
        p,
        "codeship-services.yml",
        "holder:\n  image: BASE\n  volumes:\n    - ./data:/hostroot\n\
         app:\n  image: BASE\n  volumes_from:\n    - holder\n\
         swapper:\n  image: BASE\n  volumes:\n    - ./:/src\n",
    );
    write(
        p,
        "codeship-steps.yml",
        &format!(
            "- name: first\n  service: app\n  command: ls /hostroot\n\
             - name: swap\n  service: swapper\n  command: sh -c 'mv /src/data /src/data.old && ln -s / /src/data && ls -l /src'\n\
             - name: third\n  service: app\n  command: sh -c 'ls /hostroot; cat /hostroot{hostdir}/secret.txt; echo pwned > /hostroot{hostdir}/written; true'\n"
        ),
    );
    write(p, "data/original.txt", "original data");
    let data = tempfile::tempdir().unwrap();
    let (_server, run, seen) = run_demo(data.path(), p);
    assert!(seen.contains("(step: first) (service: app) original.txt"), "{seen}");
    assert!(!host.path().join("written").exists(), "a step wrote into a host folder:\n{seen}");
    assert!(!seen.contains(secret), "a step read a host file:\n{seen}");
    // The host's root has `proc` and `etc`; the data folder has neither.
    assert!(!seen.contains("(step: third) (service: app) proc"), "the host's / was mounted:\n{seen}");
    // On an engine on this host the holder's folder is pinned: the later step sees the folder
    // as it was when the holder was made (renamed, to the step that renamed it).
    assert_eq!(run["status"], "success", "{seen}");
    assert!(seen.contains("(step: third) (service: app) original.txt"), "{seen}");
}

/// Finding 1 for a bound file: `holder` binds `./app.conf`, `reader` takes it through
/// `volumes_from`, and a step replaces `app.conf` with a symlink to a host file between two
/// `reader` steps. The server binds a hard link to the very file it opened, so the later
/// step still gets that file (which the earlier one appended to), never the host's.
#[test]
fn a_symlink_swapped_in_for_a_bound_file_does_not_change_what_a_later_step_mounts() {
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    let host = tempfile::tempdir().unwrap();
    let secret = "host-only-file-3b7d";
    std::fs::write(host.path().join("secret.txt"), secret).unwrap();
    write(
        p,
        "codeship-services.yml",
        "holder:\n  image: BASE\n  volumes:\n    - ./app.conf:/app.conf\n\
         reader:\n  image: BASE\n  volumes_from:\n    - holder\n\
         swapper:\n  image: BASE\n  volumes:\n    - ./:/src\n",
    );
    write(
        p,
        "codeship-steps.yml",
        &format!(
            "- name: before\n  service: reader\n  command: sh -c 'cat /app.conf; echo appended >> /app.conf'\n\
             - name: swap\n  service: swapper\n  command: sh -c 'cat /src/app.conf; mv /src/app.conf /src/app.old && ln -s {}/secret.txt /src/app.conf'\n\
             - name: after\n  service: reader\n  command: sh -c 'cat /app.conf; echo pwned >> /app.conf; true'\n\
             - name: bound\n  service: holder\n  command: 'true'\n",
            host.path().display()
        ),
    );
    write(p, "app.conf", "original conf\n");
    let data = tempfile::tempdir().unwrap();
    let (_server, run, seen) = run_demo(data.path(), p);
    assert!(!seen.contains(secret), "a step read a host file:\n{seen}");
    assert_eq!(std::fs::read_to_string(host.path().join("secret.txt")).unwrap(), secret, "a step wrote a host file");
    // A bound file is the file: what a step appends, the next one sees.
    assert!(seen.contains("(step: before) (service: reader) original conf"), "{seen}");
    assert!(seen.contains("(step: swap) (service: swapper) appended"), "{seen}");
    assert!(seen.contains("(step: after) (service: reader) appended"), "{seen}");
    // A new container that binds the path now finds the symlink and is refused.
    assert_eq!(run["status"], "failed", "{seen}");
    assert!(seen.contains("./app.conf") && seen.contains("symbolic link"), "{seen}");
    // The links made for the binds went with the run.
    let left: Vec<_> = std::fs::read_dir(data.path().join("workspaces")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Pinned binds behave as binds did: read-only stays read-only, an empty folder is not
/// filled with the image's files (as a named volume would be), and what a step writes is
/// in the workspace for the next step.
#[test]
fn pinned_binds_behave_as_binds() {
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    write(
        p,
        "codeship-services.yml",
        "a:\n  image: BASE\n  volumes:\n    - ./ro:/ro:ro\n    - ./fresh:/etc\n    - ./out:/out\n\
         b:\n  image: BASE\n  volumes:\n    - ./:/src\n",
    );
    write(
        p,
        "codeship-steps.yml",
        "- name: write\n  service: a\n  command: sh -c 'ls /etc; cat /ro/in.txt; touch /ro/x || echo refused; echo from-a > /out/f'\n\
         - name: read\n  service: b\n  command: sh -c 'cat /src/out/f; ls /src/ro'\n",
    );
    write(p, "ro/in.txt", "read-only input\n");
    let data = tempfile::tempdir().unwrap();
    let (_server, run, seen) = run_demo(data.path(), p);
    assert_eq!(run["status"], "success", "{seen}");
    assert!(seen.contains("(step: write) (service: a) read-only input"), "{seen}");
    assert!(seen.contains("(step: write) (service: a) refused"), "{seen}");
    assert!(!seen.contains("(step: write) (service: a) passwd"), "the image's /etc was copied in:\n{seen}");
    assert!(seen.contains("(step: read) (service: b) from-a"), "{seen}");
    assert!(!seen.contains("(step: read) (service: b) x"), "{seen}");
}

/// Finding 10: a step plants `link -> <host folder>`; a later service's volume
/// `./link/made` must not make the server create `made` in the host folder.
#[test]
fn a_planted_symlink_does_not_make_the_server_create_folders_outside() {
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    let host = tempfile::tempdir().unwrap();
    write(
        p,
        "codeship-services.yml",
        "planter:\n  image: BASE\n  volumes:\n    - ./:/src\n\
         victim:\n  image: BASE\n  volumes:\n    - ./link/made:/x\n",
    );
    write(
        p,
        "codeship-steps.yml",
        &format!(
            "- name: plant\n  service: planter\n  command: ln -s {} /src/link\n\
             - name: mount\n  service: victim\n  command: ls /x\n",
            host.path().display()
        ),
    );
    let data = tempfile::tempdir().unwrap();
    let (_server, run, seen) = run_demo(data.path(), p);
    assert!(!host.path().join("made").exists(), "the server created a folder outside the workspace:\n{seen}");
    assert_eq!(run["status"], "failed", "{seen}");
    assert!(seen.contains("./link/made") && seen.contains("symbolic link"), "{seen}");
}

/// The project and host file of the build-context tests: service `img` is built from
/// `ctx/`, after step `plant` (which mounts the workspace) ran `plant`.
fn build_after(p: &Path, plant: &str) {
    write(
        p,
        "codeship-services.yml",
        "planter:\n  image: BASE\n  volumes:\n    - ./:/src\n\
         img:\n  build:\n    context: ctx\n",
    );
    write(
        p,
        "codeship-steps.yml",
        &format!(
            "- name: plant\n  service: planter\n  command: sh -c '{plant}'\n\
             - name: built\n  service: img\n  command: echo built\n"
        ),
    );
    write(p, "ctx/Dockerfile", "FROM BASE\nCOPY . /app\n");
}

/// Finding 9: a `.dockerignore` that a step replaced by a symlink to a host file is not
/// read (its lines used to come back in the error for an invalid pattern).
#[test]
fn a_symlinked_dockerignore_is_not_read_through() {
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    let host = tempfile::tempdir().unwrap();
    // Not a valid pattern (an unclosed `{`): the old code quoted it in the run's error.
    let secret = "host-only-a93e {unclosed";
    std::fs::write(host.path().join("secret"), secret).unwrap();
    build_after(p, &format!("ln -sf {}/secret /src/ctx/.dockerignore", host.path().display()));
    let data = tempfile::tempdir().unwrap();
    let (_server, run, seen) = run_demo(data.path(), p);
    assert!(!seen.contains("host-only-a93e"), "host file content in the run:\n{seen}");
    assert_eq!(run["status"], "failed", "{seen}");
    assert!(seen.contains(".dockerignore") && seen.contains("symbolic link"), "{seen}");
}

/// Finding 9: a `.dockerignore` that a step replaced by a FIFO does not hang the run, and
/// the server still stops on SIGTERM.
#[test]
fn a_fifo_dockerignore_does_not_hang_the_run() {
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    build_after(p, "rm -f /src/ctx/.dockerignore; mkfifo /src/ctx/.dockerignore");
    let data = tempfile::tempdir().unwrap();
    let (mut s, run, seen) = run_demo_past_fifo(data.path(), p);
    assert_eq!(run["status"], "failed", "{seen}");
    assert!(seen.contains(".dockerignore") && seen.contains("not a regular file"), "{seen}");
    assert!(s.stops_on_sigterm(Duration::from_secs(20)), "the server did not stop on SIGTERM");
}

/// Finding 9, elsewhere: an `env_file` a step replaced by a FIFO (read when a later step's
/// container is created) fails that step instead of hanging the run.
#[test]
fn a_fifo_env_file_does_not_hang_the_run() {
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    write(
        p,
        "codeship-services.yml",
        "planter:\n  image: BASE\n  volumes:\n    - ./:/src\n\
         user:\n  image: BASE\n  env_file: app.env\n",
    );
    write(
        p,
        "codeship-steps.yml",
        "- name: plant\n  service: planter\n  command: sh -c 'rm /src/app.env; mkfifo /src/app.env'\n\
         - name: use\n  service: user\n  command: env\n",
    );
    write(p, "app.env", "A=1\n");
    let data = tempfile::tempdir().unwrap();
    let (mut s, run, seen) = run_demo_past_fifo(data.path(), p);
    assert_eq!(run["status"], "failed", "{seen}");
    assert!(seen.contains("app.env") && seen.contains("not a regular file"), "{seen}");
    assert!(s.stops_on_sigterm(Duration::from_secs(20)), "the server did not stop on SIGTERM");
}
