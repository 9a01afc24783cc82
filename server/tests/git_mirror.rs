//! Mirrors and checkouts for repository projects (issue 11) against real git: bare
//! repositories served by `git daemon` (git's own protocol) and by `git http-backend` behind
//! Debian's lighttpd (for a token over HTTP basic auth), real `git push`es, then a mirror and
//! a checkout that must hold exactly the pushed commit. Nothing is mocked.

mod support;

use git::{GitError, HttpAuth, Mirror, Remote, Update};
use slipway::{forge, git, gitinfo};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use support::git::{Daemon, HttpServer, repo_pair, sh};

/// What most tests start from: `app.git` served by `git daemon`, with a work tree to commit
/// in. The temporary folder and the daemon live as long as their bindings (bind them as
/// `_tmp`/`_daemon`, never `_`, or they are gone at once).
struct Served {
    tmp: tempfile::TempDir,
    work: PathBuf,
    daemon: Daemon,
    url: String,
}

fn served_app() -> Served {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("served");
    std::fs::create_dir(&root).unwrap();
    let work = repo_pair(&root, "app.git");
    let daemon = Daemon::start(&root);
    let url = daemon.url("app.git");
    Served { tmp, work, daemon, url }
}

fn commit(work: &Path, file: &str, text: &str) -> String {
    std::fs::write(work.join(file), text).unwrap();
    sh(work, &["add", file]);
    sh(work, &["commit", "-qm", &format!("change {file}")]);
    sh(work, &["rev-parse", "HEAD"])
}

/// (loose objects, packs) in a repository.
fn object_counts(repo: &Path) -> (u64, u64) {
    let text = sh(repo, &["count-objects", "-v"]);
    let get = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)).unwrap().trim().parse::<u64>().unwrap();
    (get("count:"), get("packs:"))
}

#[test]
fn mirror_and_checkout_give_exactly_the_pushed_commit_and_a_fetch_is_incremental() {
    let Served { tmp, work, daemon: _daemon, url } = served_app();
    let first = commit(&work, "README", "one\n");
    sh(&work, &["push", "-q", &url, "main"]);
    sh(&work, &["push", "-q", &url, "main:feature/old"]);

    let data = tmp.path().join("data");
    let runs = tmp.path().join("runs");
    let mirror = Mirror::new(&data, "app", Remote::new(&url, None));
    assert!(matches!(mirror.update().unwrap(), Update::Cloned(_)));
    assert_eq!(mirror.dir(), data.join("mirrors/app.git"));
    assert_eq!(sh(mirror.dir(), &["rev-parse", "refs/heads/feature/old"]), first);

    let ws = mirror.checkout(&first, &runs).unwrap();
    assert_eq!(sh(ws.path(), &["rev-parse", "HEAD"]), first);
    assert_eq!(std::fs::read_to_string(ws.path().join("README")).unwrap(), "one\n");
    assert_eq!(sh(ws.path(), &["status", "--porcelain"]), "", "a clean work tree");
    assert_eq!(sh(ws.path(), &["remote", "get-url", "origin"]), url, "origin is the project, not the mirror");
    assert!(!ws.path().join(".git/objects/info/alternates").exists(), "self-contained: no alternates");
    // What the run reads its CI values from when the event had none.
    let info = gitinfo::GitInfo::read(ws.path());
    assert_eq!(info.commit_id.as_deref(), Some(first.as_str()));
    assert_eq!(info.committer_name.as_deref(), Some("Ada Lovelace"));

    // A new commit, pushed for real; the branch `feature/old` is deleted on the remote.
    let second = commit(&work, "README", "two\n");
    sh(&work, &["push", "-q", &url, "main"]);
    sh(&work, &["push", "-q", &url, ":feature/old"]);
    assert_eq!(object_counts(mirror.dir()), (0, 1), "a fresh mirror is one pack");
    assert!(matches!(mirror.update().unwrap(), Update::Fetched(_)));
    // Incremental: only the new commit, its tree and its blob came (unpacked, being few).
    assert_eq!(object_counts(mirror.dir()), (3, 1));
    assert!(
        Command::new("git")
            .arg("-C")
            .arg(mirror.dir())
            .args(["rev-parse", "--verify", "-q", "refs/heads/feature/old"])
            .output()
            .unwrap()
            .stdout
            .is_empty(),
        "the deleted branch was pruned"
    );

    let ws2 = mirror.checkout(&second, &runs).unwrap();
    assert_eq!(sh(ws2.path(), &["rev-parse", "HEAD"]), second);
    assert_eq!(std::fs::read_to_string(ws2.path().join("README")).unwrap(), "two\n");
    // The first run's checkout still has its own commit.
    assert_eq!(sh(ws.path(), &["rev-parse", "HEAD"]), first);

    let gone = ws.path().to_path_buf();
    drop(ws);
    assert!(!gone.exists(), "a workspace is removed when its run ends");
    let kept = ws2.keep();
    assert!(kept.join("README").exists(), "keep_workspaces keeps it");
    assert_eq!(git::prune_kept(&runs, 0).unwrap(), 1);
    assert!(!kept.exists());
}

#[test]
fn a_commit_id_is_checked_before_git_sees_it() {
    let tmp = tempfile::tempdir().unwrap();
    let work = repo_pair(tmp.path(), "app.git");
    commit(&work, "f", "x");
    let bare = tmp.path().join("app.git");
    sh(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
    let mirror = Mirror::new(&tmp.path().join("data"), "app", Remote::new(bare.to_str().unwrap(), None));
    mirror.update().unwrap();
    let runs = tmp.path().join("runs");
    for bad in ["--upload-pack=touch /tmp/x", "HEAD", "main", "abc"] {
        assert!(matches!(mirror.checkout(bad, &runs), Err(GitError::BadCommitId(_))), "{bad}");
    }
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    let err = mirror.checkout(unknown, &runs).err().unwrap();
    assert!(matches!(err, GitError::MissingCommit(_)), "{err}");
    assert!(err.to_string().contains(unknown));
    assert_eq!(std::fs::read_dir(&runs).map(|d| d.count()).unwrap_or(0), 0, "nothing left behind");
}

#[test]
fn ls_remote_lists_the_heads_the_filter_wants() {
    let Served { tmp: _tmp, work, daemon, url } = served_app();
    let main = commit(&work, "a", "1");
    sh(&work, &["push", "-q", &url, "main"]);
    let feature = commit(&work, "b", "2");
    sh(&work, &["push", "-q", &url, "HEAD:feature/x", "HEAD:release/1.0"]);
    sh(&work, &["tag", "v1"]);
    sh(&work, &["push", "-q", &url, "v1"]);
    let heads = git::ls_remote(&Remote::new(&url, None), |b| !b.starts_with("feature/")).unwrap();
    let got: Vec<_> = heads.iter().map(|h| (h.branch.as_str(), h.commit.as_str())).collect();
    assert_eq!(got, [("main", main.as_str()), ("release/1.0", feature.as_str())], "no tags, no excluded branch");
    let err = git::ls_remote(&Remote::new(&daemon.url("missing.git"), None), |_| true).unwrap_err();
    assert!(err.to_string().contains("git ls-remote"), "{err}");
}

#[test]
fn submodules_are_checked_out_at_their_pinned_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("served");
    std::fs::create_dir(&root).unwrap();
    let daemon = Daemon::start(&root);
    let sub_work = repo_pair(&root, "lib.git");
    let pinned = commit(&sub_work, "lib.txt", "v1\n");
    sh(&sub_work, &["push", "-q", &daemon.url("lib.git"), "main"]);
    commit(&sub_work, "lib.txt", "v2, not pinned\n");
    sh(&sub_work, &["push", "-q", &daemon.url("lib.git"), "main"]);

    let work = repo_pair(&root, "app.git");
    commit(&work, "README", "app\n");
    sh(&work, &["submodule", "add", "-q", &daemon.url("lib.git"), "vendor/lib"]);
    sh(&work.join("vendor/lib"), &["checkout", "-q", &pinned]);
    sh(&work, &["add", "vendor/lib"]);
    sh(&work, &["commit", "-qm", "pin lib"]);
    let head = sh(&work, &["rev-parse", "HEAD"]);
    sh(&work, &["push", "-q", &daemon.url("app.git"), "main"]);

    let mirror = Mirror::new(&tmp.path().join("data"), "app", Remote::new(&daemon.url("app.git"), None));
    mirror.update().unwrap();
    let ws = mirror.checkout(&head, &tmp.path().join("runs")).unwrap();
    assert_eq!(sh(ws.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(sh(&ws.path().join("vendor/lib"), &["rev-parse", "HEAD"]), pinned);
    assert_eq!(std::fs::read_to_string(ws.path().join("vendor/lib/lib.txt")).unwrap(), "v1\n");
}

fn all_text_under(dir: &Path) -> String {
    let mut text = String::new();
    for e in ignore::WalkBuilder::new(dir).hidden(false).ignore(false).git_ignore(false).build().flatten() {
        if e.file_type().is_some_and(|t| t.is_file()) && e.path().components().all(|c| c.as_os_str() != "objects") {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()));
        }
    }
    text
}

#[test]
fn a_token_reaches_the_https_server_and_nowhere_else() {
    const TOKEN: &str = "glpat-Th1sT0kenMustN0tLeak";
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("served");
    let conf = tmp.path().join("conf");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&conf).unwrap();
    let work = repo_pair(&root, "app.git");
    let head = commit(&work, "README", "private\n");
    sh(&work, &["push", "-q", root.join("app.git").to_str().unwrap(), "main"]);
    let server = HttpServer::start(&root, &conf, "oauth2", TOKEN);
    let url = server.url("app.git");

    // Without the token, or with a wrong one, the server refuses; the error says so and
    // carries neither token.
    let data = tmp.path().join("data");
    let err = Mirror::new(&data, "anon", Remote::new(&url, None)).update().unwrap_err();
    assert!(matches!(err, GitError::Failed { .. }), "{err}");
    let wrong = "glpat-wrong-token-value";
    let err =
        Mirror::new(&data, "wrong", Remote::new(&url, Some(HttpAuth::new("oauth2", wrong)))).update().unwrap_err();
    assert!(!err.to_string().contains(wrong), "{err}");
    assert!(!data.join("mirrors/wrong.git").exists() && !data.join("mirrors/anon.git").exists());

    let remote = Remote::new(&url, Some(HttpAuth::new("oauth2", TOKEN)));
    assert!(!format!("{remote:?}").contains(TOKEN));
    let mirror = Mirror::new(&data, "app", remote.clone());
    assert!(matches!(mirror.update().unwrap(), Update::Cloned(_)));
    commit(&work, "README", "more\n");
    sh(&work, &["push", "-q", root.join("app.git").to_str().unwrap(), "main"]);
    assert!(matches!(mirror.update().unwrap(), Update::Fetched(_)));
    let ws = mirror.checkout(&head, &tmp.path().join("runs")).unwrap();
    assert_eq!(sh(ws.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(git::ls_remote(&remote, |_| true).unwrap().len(), 1);

    let basic = base64_of(&format!("oauth2:{TOKEN}"));
    for dir in [mirror.dir(), ws.path()] {
        let text = all_text_under(dir);
        assert!(text.contains("[core]"), "read the config of {}", dir.display());
        assert!(!text.contains(TOKEN) && !text.contains(&basic), "the token is in {}", dir.display());
        assert!(!text.contains("oauth2@"), "no credentials in a URL");
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A repository with 1,000 commits (written with `git fast-import`), served by `git daemon`:
/// the first `update` clones it, the second (after one more pushed commit) only fetches.
/// `cargo test --test git_mirror -- --nocapture clone_vs_fetch` prints the times.
#[test]
fn clone_vs_fetch_on_a_repository_with_1000_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("served");
    std::fs::create_dir(&root).unwrap();
    sh(&root, &["init", "-q", "--bare", "big.git"]);
    let mut stream = String::new();
    for i in 1..=1000u32 {
        let msg = format!("commit {i}\n");
        let content = format!("line {i}\n").repeat(20);
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{i}\ncommitter Ada <ada@example.com> {} +0000\ndata {}\n{msg}",
            1_700_000_000 + i,
            msg.len()
        ));
        if i > 1 {
            stream.push_str(&format!("from :{}\n", i - 1));
        }
        stream.push_str(&format!("M 644 inline src/file{}.txt\ndata {}\n{content}\n", i % 50, content.len()));
    }
    let mut fi = Command::new("git")
        .arg("-C")
        .arg(root.join("big.git"))
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    fi.stdin.take().unwrap().write_all(stream.as_bytes()).unwrap();
    assert!(fi.wait().unwrap().success());
    sh(&root.join("big.git"), &["repack", "-adq"]);
    assert_eq!(sh(&root.join("big.git"), &["rev-list", "--count", "main"]), "1000");

    let daemon = Daemon::start(&root);
    let url = daemon.url("big.git");
    let mirror = Mirror::new(&tmp.path().join("data"), "big", Remote::new(&url, None));
    let Update::Cloned(clone) = mirror.update().unwrap() else { panic!("expected a clone") };

    let work = tmp.path().join("work");
    sh(tmp.path(), &["clone", "-q", &url, work.to_str().unwrap()]);
    let new = commit(&work, "src/file1.txt", "changed\n");
    sh(&work, &["push", "-q", &url, "main"]);
    let Update::Fetched(fetch) = mirror.update().unwrap() else { panic!("expected a fetch") };
    let Update::Fetched(noop) = mirror.update().unwrap() else { panic!("expected a fetch") };

    let started = Instant::now();
    let ws = mirror.checkout(&new, &tmp.path().join("runs")).unwrap();
    let checkout = started.elapsed();
    assert_eq!(sh(ws.path(), &["rev-parse", "HEAD"]), new);
    let size = sh(mirror.dir(), &["count-objects", "-v"]);
    let kib = size.lines().find_map(|l| l.strip_prefix("size-pack: ")).unwrap().to_string();
    eprintln!(
        "1,000 commits ({kib} KiB packed) over git://: clone --mirror {:.0} ms, fetch of 1 new commit {:.0} ms, fetch with nothing new {:.0} ms, checkout {:.0} ms",
        clone.as_secs_f64() * 1e3,
        fetch.as_secs_f64() * 1e3,
        noop.as_secs_f64() * 1e3,
        checkout.as_secs_f64() * 1e3
    );
    // Not a timing assertion (the machine is shared): the fetch brought the new commit's four
    // objects (commit, root tree, `src` tree, blob) and nothing of the history.
    assert_eq!(object_counts(mirror.dir()), (4, 1));
}

/// The blocks together: a real push, then the delivery GitHub would send for it (the
/// documented `push` payload of `tests/fixtures/forge/github/push.json` with the pushed commit
/// in it, signed as GitHub signs), verified and parsed, then the mirror and a checkout of
/// exactly the commit the event names. A pull request's head, pushed only to
/// `refs/pull/7/head`, comes through the mirror too.
#[test]
fn a_signed_push_delivery_leads_to_a_checkout_of_exactly_the_pushed_commit() {
    use forge::{Forge, Secret, trigger, verify};
    let Served { tmp, work, daemon: _daemon, url } = served_app();
    commit(&work, "README", "one\n");
    sh(&work, &["push", "-q", &url, "main"]);
    let mirror = Mirror::new(&tmp.path().join("data"), "app", Remote::new(&url, None));
    mirror.update().unwrap();

    let pushed = commit(&work, "README", "two\n");
    sh(&work, &["push", "-q", &url, "main"]);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forge/github/push.json");
    let body = std::fs::read_to_string(fixture).unwrap().replace("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", &pushed);
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("X-GitHub-Event", "push".parse().unwrap());
    headers.insert(
        "X-Hub-Signature-256",
        format!("sha256={}", verify::sign("hook secret", body.as_bytes())).parse().unwrap(),
    );
    let secret = Secret::new("hook secret").unwrap();
    let delivery =
        verify::verify(Forge::GitHub, &secret, &headers, body.as_bytes(), verify::DEFAULT_MAX_BODY_BYTES).unwrap();
    let trigger::Trigger::Build(build) = trigger::parse(&delivery).unwrap() else { panic!("a build") };
    assert_eq!(build.commit_id, pushed);

    assert!(!mirror.has_commit(&build.commit_id), "not fetched yet");
    assert!(matches!(mirror.update().unwrap(), Update::Fetched(_)));
    let ws = mirror.checkout(&build.commit_id, &tmp.path().join("runs")).unwrap();
    assert_eq!(sh(ws.path(), &["rev-parse", "HEAD"]), pushed);
    assert_eq!(std::fs::read_to_string(ws.path().join("README")).unwrap(), "two\n");

    // A pull request from a fork: its head exists on the forge only as refs/pull/7/head.
    sh(&work, &["checkout", "-qb", "fork-work"]);
    let head = commit(&work, "FORK", "from a fork\n");
    sh(&work, &["push", "-q", &url, "HEAD:refs/pull/7/head"]);
    mirror.fetch_ref("refs/pull/7/head").unwrap();
    assert!(mirror.has_commit(&head));
    for bad in ["main", "refs/../x", "refs/a:refs/b"] {
        assert!(mirror.fetch_ref(bad).is_err(), "{bad}");
    }
}

/// Runs of one project start together (a push to two branches): their mirror updates take
/// turns instead of racing for the first clone's folder or git's ref locks.
#[test]
fn concurrent_updates_of_one_mirror_take_turns() {
    let Served { tmp, work, daemon: _daemon, url } = served_app();
    let head = commit(&work, "README", "one\n");
    sh(&work, &["push", "-q", &url, "main"]);
    let data = tmp.path().join("data");
    let results: Vec<Result<Update, GitError>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..4).map(|_| s.spawn(|| Mirror::new(&data, "app", Remote::new(&url, None)).update())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let cloned = results.iter().filter(|r| matches!(r, Ok(Update::Cloned(_)))).count();
    let fetched = results.iter().filter(|r| matches!(r, Ok(Update::Fetched(_)))).count();
    assert_eq!((cloned, fetched), (1, 3), "{results:?}");
    assert!(Mirror::new(&data, "app", Remote::new(&url, None)).has_commit(&head));
}

/// A forge may name an annotated tag by its tag object's id: the checkout is of the commit it
/// tags, and says which commit that is (the run's CI values and statuses use it).
#[test]
fn a_checkout_of_an_annotated_tags_id_is_of_the_tagged_commit() {
    let Served { tmp, work, daemon: _daemon, url } = served_app();
    let tagged = commit(&work, "README", "one\n");
    sh(&work, &["tag", "-a", "-m", "Release 1", "v1"]);
    sh(&work, &["push", "-q", &url, "main", "refs/tags/v1"]);
    let tag_object = sh(&work, &["rev-parse", "refs/tags/v1"]);
    assert_ne!(tag_object, tagged);
    let mirror = Mirror::new(&tmp.path().join("data"), "app", Remote::new(&url, None));
    mirror.update().unwrap();
    let ws = mirror.checkout(&tag_object, &tmp.path().join("runs")).unwrap();
    assert_eq!(sh(ws.path(), &["rev-parse", "HEAD"]), tagged);
    assert_eq!(ws.commit(), tagged);
}

/// A "forge" that accepts connections, reads what it is sent and never answers (how a hung
/// server or a black-holing proxy looks to git). The connections stay open while it lives.
fn silent_forge() -> (String, std::net::TcpListener) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/git/app.git", listener.local_addr().unwrap().port());
    let l = listener.try_clone().unwrap();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while std::io::Read::read(&mut stream, &mut buf).is_ok_and(|n| n > 0) {}
            });
        }
    });
    (url, listener)
}

/// Processes of this test's user whose command line names `needle`.
fn processes_naming(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle))
        .collect()
}

/// A fetch from a forge that never answers ends at its deadline with an error that says so,
/// stops git and everything it started, and frees the mirror: an update waiting for the lock
/// gives up with an error naming the project, and the next fetch of the project works.
#[test]
fn a_fetch_from_a_forge_that_never_answers_times_out_and_blocks_nothing() {
    let Served { tmp, work, daemon: _daemon, url } = served_app();
    let head = commit(&work, "README", "one\n");
    sh(&work, &["push", "-q", &url, "main"]);
    let (silent, _listener) = silent_forge();
    let data = tmp.path().join("data");
    let deadline = std::time::Duration::from_secs(3);
    let started = Instant::now();
    let (hung, waiting) = std::thread::scope(|s| {
        let hung = s.spawn(|| Mirror::new(&data, "app", Remote::new(&silent, None).with_timeout(deadline)).update());
        std::thread::sleep(std::time::Duration::from_millis(500));
        let short = std::time::Duration::from_secs(1);
        let waiting = Mirror::new(&data, "app", Remote::new(&url, None).with_timeout(short)).update();
        (hung.join().unwrap(), waiting)
    });
    let took = started.elapsed();
    let err = hung.unwrap_err();
    assert!(matches!(err, GitError::TimedOut { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out") && err.to_string().contains(&silent), "{err}");
    assert!(took < deadline + std::time::Duration::from_secs(3), "the fetch ended after {took:?}");
    let err = waiting.unwrap_err();
    assert!(matches!(err, GitError::Busy { .. }), "{err:?}");
    assert!(err.to_string().contains("project `app`"), "{err}");

    let port = silent.split(':').nth(2).unwrap().split('/').next().unwrap().to_string();
    let left = processes_naming(&format!("127.0.0.1:{port}"));
    assert!(left.is_empty(), "git still runs: {left:?}");

    let mirror = Mirror::new(&data, "app", Remote::new(&url, None).with_timeout(deadline));
    assert!(matches!(mirror.update(), Ok(Update::Cloned(_))));
    assert!(mirror.has_commit(&head));
    // ls-remote stops at its deadline as well.
    let err = git::ls_remote(&Remote::new(&silent, None).with_timeout(deadline), |_| true).unwrap_err();
    assert!(matches!(err, GitError::TimedOut { .. }), "{err:?}");
    assert!(processes_naming(&format!("127.0.0.1:{port}")).is_empty());
}

/// A cancelled run stops its fetch at once (not at the 9-minute deadline), with everything
/// git started, and the lock files a git stopped mid-fetch can leave are gone: the next fetch
/// updates the refs. A run waiting for the mirror's lock stops waiting too.
#[test]
fn a_cancelled_fetch_stops_at_once_and_leaves_the_mirror_usable() {
    let Served { tmp, work, daemon: _daemon, url } = served_app();
    commit(&work, "README", "one\n");
    sh(&work, &["push", "-q", &url, "main"]);
    let data = tmp.path().join("data");
    assert!(matches!(Mirror::new(&data, "app", Remote::new(&url, None)).update(), Ok(Update::Cloned(_))));
    // What a git stopped while updating `main` leaves behind.
    let mirror_dir = data.join("mirrors/app.git");
    std::fs::write(mirror_dir.join("refs/heads/main.lock"), "").unwrap();
    std::fs::write(mirror_dir.join("packed-refs.lock"), "").unwrap();
    let (silent, _listener) = silent_forge();
    let stop = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let (hung, waiting) = std::thread::scope(|s| {
        let hung_remote = Remote::new(&silent, None).with_stop(stop.clone());
        let hung = s.spawn(|| Mirror::new(&data, "app", hung_remote).update());
        // Once its git talks to the silent forge, it holds the mirror's lock.
        let port = silent.split(':').nth(2).unwrap().split('/').next().unwrap().to_string();
        while processes_naming(&format!("127.0.0.1:{port}")).is_empty() {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "git never started");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let waiting_remote = Remote::new(&url, None).with_stop(stop.clone());
        let waiting = s.spawn(|| Mirror::new(&data, "app", waiting_remote).update());
        std::thread::sleep(std::time::Duration::from_millis(700));
        stop.cancel();
        (hung.join().unwrap(), waiting.join().unwrap())
    });
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "the cancelled fetch ended after {took:?}");
    // The one on the silent forge, and the one waiting for its turn: both stopped.
    for r in [&hung, &waiting] {
        let err = r.as_ref().map(|_| ()).unwrap_err();
        assert!(matches!(err, GitError::Cancelled { .. }), "{err:?}");
        assert!(err.to_string().contains("the run was cancelled"), "{err}");
    }
    let port = silent.split(':').nth(2).unwrap().split('/').next().unwrap().to_string();
    assert!(processes_naming(&format!("127.0.0.1:{port}")).is_empty(), "git still runs");
    // A new commit on main: the next fetch must update the ref whose lock was left behind.
    let head = commit(&work, "README", "two\n");
    sh(&work, &["push", "-q", &url, "main"]);
    let mirror = Mirror::new(&data, "app", Remote::new(&url, None));
    let fetched = mirror.update();
    assert!(matches!(fetched, Ok(Update::Fetched(_))), "{fetched:?}");
    assert!(mirror.has_commit(&head));
    assert_eq!(sh(&mirror_dir, &["rev-parse", "refs/heads/main"]), head);
}

/// A ref lock left by a git that died with the server (a crash, a reboot) does not fail every
/// later fetch of the mirror with "File exists": the next update clears it and fetches.
#[test]
fn a_lock_left_by_a_git_that_died_with_the_server_is_cleared_by_the_next_fetch() {
    let Served { tmp, work, daemon: _daemon, url } = served_app();
    commit(&work, "README", "one\n");
    sh(&work, &["push", "-q", &url, "main"]);
    let data = tmp.path().join("data");
    let mirror = Mirror::new(&data, "app", Remote::new(&url, None));
    assert!(matches!(mirror.update(), Ok(Update::Cloned(_))));
    std::fs::write(mirror.dir().join("refs/heads/main.lock"), "").unwrap();
    let head = commit(&work, "README", "two\n");
    sh(&work, &["push", "-q", &url, "main"]);
    let fetched = mirror.update();
    assert!(matches!(fetched, Ok(Update::Fetched(_))), "{fetched:?}");
    assert_eq!(sh(mirror.dir(), &["rev-parse", "refs/heads/main"]), head);
    assert!(!mirror.dir().join("refs/heads/main.lock").exists());
}
