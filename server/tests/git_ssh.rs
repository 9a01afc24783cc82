//! Repository projects over ssh with a key of their own (`ssh_key_file`, issue 11) against a
//! real OpenSSH server: Debian's `sshd`, started here on a free loopback port with its own
//! config, host key and authorized key, serving a bare repository to `ssh://USER@127.0.0.1`.
//! Nothing is mocked: the mirrors, checkouts, polls and runs go through the server's own code
//! (its git module through the library, or `slipway serve` itself).
//!
//! Needs `/usr/sbin/sshd` (Debian's openssh-server, installed by tests/env/up.sh): without
//! it the tests say so and pass, unless SLIPWAY_TEST_DOCKER is set (CI), where they fail.

mod support;

use git::{GitError, KnownHosts, Mirror, Remote, SshAuth, Update};
use serde_json::Value;
use slipway::git;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::git::{commit, free_port, repo_pair, sh};

const SSHD: &str = "/usr/sbin/sshd";
const API_TOKEN: &str = "api-token-for-the-ssh-tests";

/// Whether sshd is here; when it is not, a loud skip outside CI and a failure in it.
fn have_sshd() -> bool {
    if Path::new(SSHD).is_file() {
        return true;
    }
    assert!(
        std::env::var("SLIPWAY_TEST_DOCKER").is_err(),
        "{SSHD} is missing: tests/env/up.sh installs Debian's openssh-server"
    );
    eprintln!("\n*** SKIPPED: {SSHD} is not installed (Debian's openssh-server; tests/env/up.sh installs it) ***\n");
    false
}

fn docker() -> bool {
    std::env::var("SLIPWAY_TEST_DOCKER").is_ok_and(|v| v == "1")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A new ed25519 key pair at `path` (and `path.pub`), mode 600 as ssh-keygen writes it.
fn keygen(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    run_ok(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "slipway-test", "-f"]).arg(path));
}

fn public_key(path: &Path) -> String {
    let mut p = path.as_os_str().to_owned();
    p.push(".pub");
    std::fs::read_to_string(p).unwrap()
}

/// The secret part of a private key file, as it would show up if copied or logged.
fn key_body(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().filter(|l| !l.starts_with("-----")).collect::<String>()
}

fn user() -> String {
    run_ok(Command::new("id").arg("-un"))
}

/// OpenSSH's sshd on 127.0.0.1, in the foreground (`-D -e`) with a config of its own: one host
/// key, public-key logins only, for the keys in `authorized`. Killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sshd {
    fn start(dir: &Path, authorized: &Path) -> Sshd {
        std::fs::create_dir_all(dir).unwrap();
        let host_key = dir.join("host_ed25519");
        if !host_key.exists() {
            keygen(&host_key);
        }
        let port = free_port();
        Sshd { child: Sshd::spawn(dir, authorized, port), port, dir: dir.to_path_buf() }
    }

    fn spawn(dir: &Path, authorized: &Path, port: u16) -> Child {
        // Privilege separation as root needs its empty folder (the package makes it at boot).
        if run_ok(Command::new("id").arg("-u")) == "0" {
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {auth}\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nPidFile none\nLogLevel VERBOSE\n",
            host = dir.join("host_ed25519").display(),
            auth = authorized.display(),
        );
        let cfg = dir.join("sshd_config");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("sshd.log")).unwrap();
        let mut child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
            assert!(child.try_wait().unwrap().is_none(), "sshd exited: {log}");
            assert!(Instant::now() < deadline, "sshd does not listen on {port}: {log}");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    /// The same server on the same port with a new host key: what a man in the middle (or a
    /// reinstalled host) looks like to a client that has met the old one.
    fn restart_with_new_host_key(&mut self, authorized: &Path) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        keygen(&self.dir.join("host_ed25519"));
        self.child = Sshd::spawn(&self.dir, authorized, self.port);
    }

    fn url(&self, repo: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", user(), self.port, repo.display())
    }

    /// A `known_hosts` line for this server's current host key.
    fn known_hosts_line(&self) -> String {
        let key = public_key(&self.dir.join("host_ed25519"));
        let mut parts = key.split_whitespace();
        format!("[127.0.0.1]:{} {} {}\n", self.port, parts.next().unwrap(), parts.next().unwrap())
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare repository served by sshd, the key that may log in and one that may not. Paths of the
/// keys hold a space, a quote and a `%`: GIT_SSH_COMMAND goes through a shell, then ssh.
struct Served {
    tmp: tempfile::TempDir,
    sshd: Sshd,
    work: PathBuf,
    url: String,
    bare: PathBuf,
    key: PathBuf,
    wrong_key: PathBuf,
    authorized: PathBuf,
}

fn served() -> Served {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("served");
    std::fs::create_dir(&root).unwrap();
    let work = repo_pair(&root, "app.git");
    let keys = tmp.path().join("it's 100% a key dir");
    std::fs::create_dir(&keys).unwrap();
    let (key, wrong_key) = (keys.join("id ed25519"), keys.join("wrong key"));
    keygen(&key);
    keygen(&wrong_key);
    let authorized = tmp.path().join("authorized_keys");
    std::fs::write(&authorized, public_key(&key)).unwrap();
    let sshd = Sshd::start(&tmp.path().join("sshd"), &authorized);
    let bare = root.join("app.git");
    let url = sshd.url(&bare);
    Served { tmp, sshd, work, url, bare, key, wrong_key, authorized }
}

impl Served {
    /// Commit and push straight into the bare repository (the server side of the test).
    fn push(&self, files: &[(&str, &str)], message: &str) -> String {
        let id = commit(&self.work, files, message);
        sh(&self.work, &["push", "-q", self.bare.to_str().unwrap(), "HEAD:main"]);
        id
    }
}

fn first_use(path: &Path) -> KnownHosts {
    KnownHosts::FirstUse(path.to_path_buf())
}

/// Every file under `dir`, as text (binary ones lossily).
fn all_text_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.push((e.path(), String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned()));
            }
        }
    }
    out
}

#[test]
fn a_project_key_mirrors_and_checks_out_exactly_the_pushed_commit() {
    if !have_sshd() {
        return;
    }
    let s = served();
    let first = s.push(&[("README", "one\n")], "one");
    // The data dir's path has a space, quotes and a `%` too (the known_hosts file lives in it).
    let data = s.tmp.path().join("data o'brien \"%h\"");
    let known = data.join("ssh/app.known_hosts");
    std::fs::create_dir_all(known.parent().unwrap()).unwrap();
    let remote = Remote::new(&s.url, None).with_ssh(Some(SshAuth::new(&s.key, first_use(&known))));
    let mirror = Mirror::new(&data, "app", remote.clone());

    let started = Instant::now();
    assert!(matches!(mirror.update().unwrap(), Update::Cloned(_)));
    let cloned = started.elapsed();
    let ws = mirror.checkout(&first, &data.join("checkouts")).unwrap();
    assert_eq!(sh(ws.path(), &["rev-parse", "HEAD"]), first);
    assert_eq!(std::fs::read_to_string(ws.path().join("README")).unwrap(), "one\n");
    assert_eq!(sh(ws.path(), &["remote", "get-url", "origin"]), s.url);
    let heads = git::ls_remote(&remote, |_| true).unwrap();
    assert_eq!(heads, [git::Head { branch: "main".into(), commit: first.clone() }]);

    // Trust on first use: the host key met is the one recorded, in the project's file.
    let recorded = std::fs::read_to_string(&known).unwrap();
    let host = s.sshd.known_hosts_line();
    let host_key = host.split_whitespace().nth(2).unwrap();
    assert!(recorded.contains(host_key), "{recorded} lacks {host}");

    let second = s.push(&[("README", "two\n")], "two");
    let started = Instant::now();
    assert!(matches!(mirror.update().unwrap(), Update::Fetched(_)));
    let fetched = started.elapsed();
    let ws2 = mirror.checkout(&second, &data.join("checkouts")).unwrap();
    assert_eq!(sh(ws2.path(), &["rev-parse", "HEAD"]), second);
    assert_eq!(std::fs::read_to_string(ws2.path().join("README")).unwrap(), "two\n");
    println!("over sshd: first clone of the mirror {cloned:?}, fetch of one commit {fetched:?}");

    // The key stays where it is: not in the mirror's or a checkout's config, nowhere in data.
    let body = key_body(&s.key);
    for (path, text) in all_text_under(&data) {
        assert!(!text.contains(&body), "the private key is in {}", path.display());
        assert!(!text.contains("id ed25519") && !text.contains("sshCommand"), "{}: {text}", path.display());
    }
}

#[test]
fn a_key_the_server_refuses_fails_with_ssh_s_own_words_and_never_the_key() {
    if !have_sshd() {
        return;
    }
    let s = served();
    s.push(&[("README", "one\n")], "one");
    let data = s.tmp.path().join("data");
    let known = s.tmp.path().join("known_hosts");
    let remote = Remote::new(&s.url, None).with_ssh(Some(SshAuth::new(&s.wrong_key, first_use(&known))));
    let mirror = Mirror::new(&data, "app", remote.clone());
    let err = mirror.update().unwrap_err();
    assert!(matches!(err, GitError::Failed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("Permission denied (publickey)"), "{text}");
    assert!(!text.contains(&key_body(&s.wrong_key)) && !text.contains(&key_body(&s.key)), "{text}");
    assert!(!mirror.dir().exists(), "a failed clone leaves no mirror");
    let err = git::ls_remote(&remote, |_| true).unwrap_err().to_string();
    assert!(err.contains("Permission denied (publickey)"), "{err}");
}

#[test]
fn a_changed_host_key_fails_after_first_use_and_a_pinned_file_is_the_only_trust() {
    if !have_sshd() {
        return;
    }
    let mut s = served();
    let first = s.push(&[("README", "one\n")], "one");
    let data = s.tmp.path().join("data");
    let known = s.tmp.path().join("first-use known_hosts");
    let tofu = Remote::new(&s.url, None).with_ssh(Some(SshAuth::new(&s.key, first_use(&known))));
    let mirror = Mirror::new(&data, "app", tofu.clone());
    mirror.update().unwrap();
    // A pinned file with the host's key: accepted, and nothing is added to it.
    let pinned = s.tmp.path().join("pinned known_hosts");
    std::fs::write(&pinned, s.sshd.known_hosts_line()).unwrap();
    let pin = |file: &Path| {
        Remote::new(&s.url, None).with_ssh(Some(SshAuth::new(&s.key, KnownHosts::Pinned(file.to_path_buf()))))
    };
    assert_eq!(git::ls_remote(&pin(&pinned), |_| true).unwrap()[0].commit, first);
    // A pinned file without this host: no trust on first use, and the file stays as it was.
    let empty = s.tmp.path().join("empty known_hosts");
    std::fs::write(&empty, "").unwrap();
    let err = git::ls_remote(&pin(&empty), |_| true).unwrap_err().to_string();
    assert!(err.contains("Host key verification failed"), "{err}");
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), "");

    s.sshd.restart_with_new_host_key(&s.authorized);
    s.push(&[("README", "two\n")], "two");
    let err = mirror.update().unwrap_err().to_string();
    assert!(err.contains("Host key verification failed"), "{err}");
    assert!(err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), "{err}");
    let err = git::ls_remote(&pin(&pinned), |_| true).unwrap_err().to_string();
    assert!(err.contains("Host key verification failed"), "{err}");
}

/// `text` as `slipway.toml` in `dir`, parsed as `slipway serve` parses it.
fn parse(dir: &Path, text: &str) -> Result<Vec<slipway::config::ProjectSource>, String> {
    let path = dir.join("slipway.toml");
    std::fs::write(&path, text).unwrap();
    slipway::config::read(&path).map_err(|e| e.to_string())
}

#[test]
fn a_key_ssh_would_refuse_or_cannot_use_stops_the_config_with_the_project_and_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("secrets")).unwrap();
    let key = dir.join("secrets/web.ssh");
    keygen(&key);
    let project = |repo: &str, extra: &str| format!("[[project]]\nname = \"web\"\nrepo = \"{repo}\"\n{extra}");
    let with_key = |repo: &str| project(repo, "ssh_key_file = \"secrets/web.ssh\"\n");

    // Accepted: ssh:// and scp-like URLs, the path made absolute relative to the file's folder.
    for repo in ["ssh://git@git.example.com/acme/web.git", "git@git.example.com:acme/web.git"] {
        let got = parse(dir, &with_key(repo)).unwrap();
        let Some(slipway::config::ProjectSource::Repo(r)) = got.first() else { panic!("{got:?}") };
        assert_eq!(r.ssh_key.as_deref(), Some(key.as_path()));
        assert_eq!(r.ssh_known_hosts, None);
    }

    let err = |text: &str| parse(dir, text).unwrap_err();
    let shown = key.display().to_string();
    // Not an ssh URL.
    for repo in ["https://github.com/acme/web.git", "git://127.0.0.1/web.git", "/srv/git/web.git"] {
        let e = err(&with_key(repo));
        assert!(e.contains("project `web`") && e.contains("`ssh_key_file` applies only to ssh URLs"), "{e}");
        assert!(e.contains(":4:"), "the position of ssh_key_file: {e}");
    }
    assert!(err(&with_key("https://github.com/acme/web.git")).contains("token_file"));
    let ssh = "ssh://git@git.example.com/acme/web.git";
    // Readable by others: ssh's "UNPROTECTED PRIVATE KEY FILE", and the fix.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = err(&with_key(ssh));
    assert!(e.contains("project `web`") && e.contains(&format!("run `chmod 600 {shown}`")), "{e}");
    assert!(e.contains("mode 644") && e.contains("UNPROTECTED PRIVATE KEY FILE"), "{e}");
    assert!(!e.contains(&key_body(&key)), "{e}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Missing, a folder, the public half.
    let e = err(&project(ssh, "ssh_key_file = \"secrets/nope\"\n"));
    assert!(e.contains("project `web`: cannot read the ssh key file") && e.contains("secrets/nope"), "{e}");
    let e = err(&project(ssh, "ssh_key_file = \"secrets\"\n"));
    assert!(e.contains("is not a file"), "{e}");
    let public = dir.join("secrets/web.ssh.pub");
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = err(&project(ssh, "ssh_key_file = \"secrets/web.ssh.pub\"\n"));
    assert!(e.contains("does not hold a private key") && e.contains("web.ssh.pub"), "{e}");
    // A key with a passphrase: the server's batch-mode ssh could never use it.
    let locked = dir.join("secrets/locked");
    run_ok(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "a passphrase", "-f"]).arg(&locked));
    let e = err(&project(ssh, "ssh_key_file = \"secrets/locked\"\n"));
    assert!(e.contains("project `web`") && e.contains("protected by a passphrase"), "{e}");
    assert!(e.contains(&locked.display().to_string()) && !e.contains("a passphrase\""), "{e}");
    // A symlink to the key is fine, as for token files.
    std::os::unix::fs::symlink(&key, dir.join("secrets/link")).unwrap();
    assert!(parse(dir, &project(ssh, "ssh_key_file = \"secrets/link\"\n")).is_ok());
    // The key inline, a known_hosts file that is not there or without a key, a folder project.
    let e = err(&project(ssh, "ssh_key = \"-----BEGIN OPENSSH PRIVATE KEY-----\"\n"));
    assert!(e.contains("`ssh_key` would keep the private key in the config file") && !e.contains("BEGIN"), "{e}");
    let e = err(&project(ssh, "ssh_key_file = \"secrets/web.ssh\"\nssh_known_hosts_file = \"secrets/hosts\"\n"));
    assert!(e.contains("project `web`: cannot read the ssh_known_hosts_file") && e.contains("secrets/hosts"), "{e}");
    std::fs::write(dir.join("secrets/hosts"), "").unwrap();
    let got =
        parse(dir, &project(ssh, "ssh_key_file = \"secrets/web.ssh\"\nssh_known_hosts_file = \"secrets/hosts\"\n"));
    let Some(slipway::config::ProjectSource::Repo(r)) = got.unwrap().pop() else { panic!() };
    assert_eq!(r.ssh_known_hosts, Some(dir.join("secrets/hosts")));
    let e = err(&project(ssh, "ssh_key_file = \"secrets/${HOME}.key\"\n"));
    assert!(e.contains("as the start of an environment variable"), "{e}");
    let e = err(&project(ssh, "ssh_known_hosts_file = \"secrets/hosts\"\n"));
    assert!(e.contains("`ssh_known_hosts_file` goes with `ssh_key_file`"), "{e}");
    let e = err("[[project]]\nname = \"web\"\npath = \".\"\nssh_key_file = \"secrets/web.ssh\"\n");
    assert!(e.contains("`ssh_key_file` applies to repository projects"), "{e}");
}

/// `slipway serve` refuses such a config at start, before it listens.
#[test]
fn serve_stops_at_start_on_a_key_others_can_read() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("web.ssh");
    keygen(&key);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let config = tmp.path().join("slipway.toml");
    std::fs::write(
        &config,
        "[[project]]\nname = \"web\"\nrepo = \"git@git.example.com:acme/web.git\"\nssh_key_file = \"web.ssh\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .env("SLIPWAY_TOKEN", API_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("slipway serve started with a key others can read");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(err.contains("project `web`") && err.contains(&format!("chmod 600 {}", key.display())), "{err}");
}

/// `slipway serve` with its log (debug) in `log` and `envs` besides the API token; the child and
/// its URL.
fn serve(config: &Path, data: &Path, log: &Path, envs: &[(&str, &str)]) -> (Child, String) {
    let args = ["--config".to_string(), config.display().to_string(), "--data-dir".into(), data.display().to_string()];
    support::serve_logged_with(&args, API_TOKEN, log, envs)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (at most `limit`) for the log event of `project` whose message starts with `message`;
/// its text. An event may span lines (git's stderr); its fields, `project="…"`, end it.
fn log_event(log: &Path, project: &str, message: &str, limit: Duration) -> String {
    log_event_containing(log, project, message, "", limit)
}

/// [`log_event`], the first such event whose text also contains `needle`.
fn log_event_containing(log: &Path, project: &str, message: &str, needle: &str, limit: Duration) -> String {
    let start = Instant::now();
    let field = format!("project=\"{project}\"");
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let found = lines.iter().enumerate().filter(|(_, l)| l.contains(message)).find_map(|(i, _)| {
            let end = lines[i..].iter().position(|l| l.contains(" project="))?;
            let event = lines[i..=i + end].join("\n");
            (lines[i + end].contains(&field) && event.contains(needle)).then_some(event)
        });
        if let Some(event) = found {
            return event;
        }
        assert!(start.elapsed() < limit, "no `{message}` for {project} within {limit:?}:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The account's own ssh setup (here: an agent holding the authorized key, and a
/// GIT_SSH_COMMAND in the server's environment) serves a project without a key
/// of its own, and never stands in for a project's key: a project whose key is refused fails,
/// with ssh's reason in the poll error.
#[test]
fn the_servers_own_agent_and_ssh_command_never_stand_in_for_a_projects_key() {
    if !have_sshd() {
        return;
    }
    let s = served();
    s.push(&[("README", "one\n")], "one");
    let sock = s.tmp.path().join("agent.sock");
    let agent = Killed(Command::new("ssh-agent").arg("-D").arg("-a").arg(&sock).stdout(Stdio::null()).spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "ssh-agent made no socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    run_ok(Command::new("ssh-add").arg(&s.key).env("SSH_AUTH_SOCK", &sock));
    let own_known = s.tmp.path().join("own_known_hosts");
    // Either would log the keyed project in, were it used: the agent holds the authorized key.
    let own_ssh = format!(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={}",
        own_known.display()
    );
    let config = s.tmp.path().join("slipway.toml");
    let wrong = s.wrong_key.file_name().unwrap().to_str().unwrap();
    std::fs::write(
        &config,
        format!(
            "[[project]]\nname = \"own\"\nrepo = \"{url}\"\npoll = \"1s\"\n\n\
             [[project]]\nname = \"refused\"\nrepo = \"{url}\"\npoll = \"1s\"\nssh_key_file = \"it's 100% a key dir/{wrong}\"\n",
            url = s.url
        ),
    )
    .unwrap();
    let (data, log) = (s.tmp.path().join("data"), s.tmp.path().join("server.log"));
    let sock = sock.to_str().unwrap();
    let (child, _url) = serve(&config, &data, &log, &[("SSH_AUTH_SOCK", sock), ("GIT_SSH_COMMAND", &own_ssh)]);
    let _server = Killed(child);
    let limit = Duration::from_secs(60);
    log_event(&log, "own", "first poll: 1 branch heads recorded", limit);
    let failed = log_event(&log, "refused", "polling failed", limit);
    assert!(failed.contains("Permission denied (publickey)"), "{failed}");
    assert!(!failed.contains(&key_body(&s.wrong_key)), "{failed}");
    drop(agent);
}

const HOOK_SECRET: &str = "ssh-test-hook-secret";

/// A signed GitHub `push` delivery of `after` on main (the fields a receiver reads, as GitHub's
/// "Webhook events and payloads" shows them); the id of the run it queued.
fn deliver_push(url: &str, before: &str, after: &str) -> String {
    deliver_push_as(url, "5e1f0a3c-ssh0-11ef-8000-000000000001", before, after)
}

/// [`deliver_push`] with its own delivery id (the server ignores a delivery it has seen).
fn deliver_push_as(url: &str, delivery: &str, before: &str, after: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let commit = serde_json::json!({
        "id": after, "message": "after", "url": format!("https://github.com/acme/web/commit/{after}"),
        "committer": {"name": "Ada Lovelace", "email": "ada@example.com", "username": "ada"}
    });
    let body = serde_json::json!({
        "ref": "refs/heads/main", "before": before, "after": after, "deleted": false,
        "head_commit": commit, "commits": [commit],
        "repository": {"name": "web", "full_name": "acme/web"},
        "pusher": {"name": "ada"}, "sender": {"login": "ada"}
    })
    .to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let answer: Value = ureq::post(&format!("{url}/hooks/web"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", &format!("sha256={hex}"))
        .send(body)
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    answer["id"].as_str().unwrap_or_else(|| panic!("no run queued: {answer}")).to_string()
}

fn get(url: &str, path: &str) -> Value {
    ureq::get(&format!("{url}{path}"))
        .header("authorization", &format!("Bearer {API_TOKEN}"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

fn get_text(url: &str, path: &str) -> String {
    ureq::get(&format!("{url}{path}"))
        .header("authorization", &format!("Bearer {API_TOKEN}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// `slipway serve` for one project `web` of the served repository, signed in with the
/// served key (whose folder holds a space, a quote and a `%`), with GitHub webhooks and the
/// `extra` lines of its config; the server, its URL, its data folder and its log.
fn serve_web(s: &Served, extra: &str) -> (Killed, String, PathBuf, PathBuf) {
    let config = s.tmp.path().join("slipway.toml");
    let key = s.key.file_name().unwrap().to_str().unwrap();
    std::fs::write(
        &config,
        format!(
            "[[project]]\nname = \"web\"\nrepo = \"{}\"\nssh_key_file = \"it's 100% a key dir/{key}\"\n\
             forge = \"github\"\nwebhook_secret_file = \"hook\"\n{extra}",
            s.url
        ),
    )
    .unwrap();
    std::fs::write(s.tmp.path().join("hook"), HOOK_SECRET).unwrap();
    let (data, log) = (s.tmp.path().join("data"), s.tmp.path().join("server.log"));
    let (child, url) = serve(&config, &data, &log, &[]);
    (Killed(child), url, data, log)
}

/// The run `id` once it has finished (waiting at most `limit`).
fn finished_run(url: &str, id: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let v = get(url, &format!("/api/runs/{id}"));
        if !matches!(v["status"].as_str(), Some("queued" | "running")) {
            return v;
        }
        assert!(start.elapsed() < limit, "run {id} did not finish: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// End to end: `slipway serve` polls the repository over ssh with the project's key, builds a
/// pushed commit (the step shows the file as committed), keeps the host key it met in
/// `DATA_DIR/ssh/`, and, once the host key changes, polling fails with ssh's host-key error.
#[test]
fn a_polled_push_over_ssh_builds_exactly_its_commit_and_a_changed_host_key_stops_polling() {
    if !have_sshd() {
        return;
    }
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut s = served();
    let base = support::base_image();
    let services = format!("app:\n  image: {base}\n  volumes:\n    - ./:/code\n");
    let steps = "- name: show\n  service: app\n  command: sh -c 'echo \"content=$(cat /code/version.txt)\"'\n";
    s.push(
        &[("codeship-services.yml", &services), ("codeship-steps.yml", steps), ("version.txt", "first\n")],
        "the pipeline",
    );
    let (_server, url, data, log) = serve_web(&s, "poll = \"1s\"\n");
    log_event(&log, "web", "first poll: 1 branch heads recorded", Duration::from_secs(60));

    let wanted = s.push(&[("version.txt", "the wanted commit c0ffee\n")], "Make it c0ffee");
    let pushed = Instant::now();
    let start = Instant::now();
    let id = loop {
        let runs = get(&url, "/api/runs");
        if let Some(r) = runs["runs"].as_array().and_then(|r| r.first()) {
            break r["id"].as_str().unwrap().to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no run queued: {runs}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = finished_run(&url, &id, Duration::from_secs(180).saturating_sub(start.elapsed()));
    println!("push → polled, cloned over ssh and built: {:?}", pushed.elapsed());
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["trigger"]["commit_id"], wanted.as_str(), "{run}");
    let run_log = get_text(&url, &format!("/api/runs/{id}/log"));
    let committed = sh(&s.work, &["show", &format!("{wanted}:version.txt")]);
    assert!(run_log.contains(&format!("content={committed}")), "{run_log}");
    let known = std::fs::read_to_string(data.join("ssh/web.known_hosts")).unwrap();
    assert!(known.contains(s.sshd.known_hosts_line().split_whitespace().nth(2).unwrap()), "{known}");

    s.sshd.restart_with_new_host_key(&s.authorized);
    let after = s.push(&[("version.txt", "after the host changed\n")], "after");
    // A poll that was connected to the old sshd as it was killed fails first, with
    // "Connection reset by peer": the host-key failure is the one after.
    let changed = "REMOTE HOST IDENTIFICATION HAS CHANGED";
    let failed = log_event_containing(&log, "web", "polling failed", changed, Duration::from_secs(60));
    assert!(failed.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), "{failed}");
    assert!(failed.contains("Host key verification failed"), "{failed}");
    // A forge's webhook still queues the run; its fetch fails, and the run says why.
    let hooked = deliver_push(&url, &wanted, &after);
    let run2 = finished_run(&url, &hooked, Duration::from_secs(240).saturating_sub(start.elapsed()));
    let error = run2["error"].as_str().unwrap_or_default();
    assert_eq!(run2["status"], "failed", "{run2}");
    assert!(error.contains("Host key verification failed"), "{run2}");
    assert!(error.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), "{run2}");

    // The key was never copied or logged: not in the data dir, the log, or the run's answers.
    let body = key_body(&s.key);
    let mut texts = all_text_under(&data);
    texts.push((log.clone(), std::fs::read_to_string(&log).unwrap()));
    texts.push(("runs".into(), run.to_string() + &run_log + &run2.to_string()));
    for (path, text) in texts {
        assert!(!text.contains(&body), "the private key is in {}", path.display());
    }
}

/// A `.gitmodules` (a pull request's, say) naming a submodule on another ssh host: with the
/// project's own key the checkout refuses it before any ssh to that host (the key is offered
/// to the repository's own host only), and nothing is left behind or trusted.
#[test]
fn a_submodule_on_another_ssh_host_is_refused_with_the_projects_key() {
    if !have_sshd() {
        return;
    }
    let s = served();
    let gitlink = |path: &str| {
        sh(&s.work, &["update-index", "--add", "--cacheinfo", &format!("160000,{},{path}", "a".repeat(40))]);
    };
    gitlink("evil");
    let evil = s.push(
        &[(".gitmodules", "[submodule \"evil\"]\n\tpath = evil\n\turl = git@elsewhere.example:acme/evil.git\n")],
        "a submodule elsewhere",
    );
    let data = s.tmp.path().join("data");
    let known = data.join("ssh/app.known_hosts");
    std::fs::create_dir_all(known.parent().unwrap()).unwrap();
    let remote = Remote::new(&s.url, None).with_ssh(Some(SshAuth::new(&s.key, first_use(&known))));
    let mirror = Mirror::new(&data, "app", remote);
    mirror.update().unwrap();
    let err = mirror.checkout(&evil, &data.join("checkouts")).map(|_| ()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("submodule `evil` is on another ssh host (elsewhere.example)"), "{text}");
    let trusted = std::fs::read_to_string(&known).unwrap_or_default();
    assert!(!trusted.contains("elsewhere.example"), "the other host was trusted: {trusted}");
    assert!(std::fs::read_dir(data.join("checkouts")).map_or(true, |mut d| d.next().is_none()), "a checkout was left");
}

/// What ssh says when it cannot use the project's key or its pinned host keys names their
/// files; a run's error (which `GET /api/runs/{id}` shows without a token) names them as "the
/// project's ssh key" and "the project's known_hosts file" instead, and keeps ssh's words.
#[test]
fn a_run_error_names_the_projects_key_and_known_hosts_file_not_their_paths() {
    if !have_sshd() {
        return;
    }
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let s = served();
    let first = s.push(&[("README", "one\n")], "one");
    let known = s.tmp.path().join("it's 100% a key dir/pinned hosts");
    std::fs::write(&known, s.sshd.known_hosts_line()).unwrap();
    let (_server, url, _, _) = serve_web(&s, "ssh_known_hosts_file = \"it's 100% a key dir/pinned hosts\"\n");
    let finished = |id: &str| finished_run(&url, id, Duration::from_secs(120));
    // (The repository's URL, which the error names too, is the project's configuration.)
    let paths =
        [s.key.display().to_string(), known.display().to_string(), s.key.parent().unwrap().display().to_string()];

    // Another host key pinned than the server's: ssh names the file with the offending key.
    let other = s.tmp.path().join("other_host_key");
    keygen(&other);
    let other_key: Vec<String> = public_key(&other).split_whitespace().take(2).map(str::to_string).collect();
    std::fs::write(&known, format!("[127.0.0.1]:{} {}\n", s.sshd.port, other_key.join(" "))).unwrap();
    let second = s.push(&[("README", "two\n")], "two");
    let run = finished(&deliver_push_as(&url, "5e1f0a3c-ssh1-11ef-8000-000000000001", &first, &second));
    let error = run["error"].as_str().unwrap_or_default();
    assert_eq!(run["status"], "failed", "{run}");
    assert!(error.contains("Offending") && error.contains("the project's known_hosts file"), "{error}");
    for p in &paths {
        assert!(!error.contains(p.as_str()), "{p} is in the public error: {error}");
    }

    // The right host key again, and a key file ssh cannot read: ssh names the key's file.
    std::fs::write(&known, s.sshd.known_hosts_line()).unwrap();
    std::fs::write(&s.key, "not a key\n").unwrap();
    let third = s.push(&[("README", "three\n")], "three");
    let run = finished(&deliver_push_as(&url, "5e1f0a3c-ssh2-11ef-8000-000000000001", &second, &third));
    let error = run["error"].as_str().unwrap_or_default();
    assert_eq!(run["status"], "failed", "{run}");
    assert!(error.contains("Load key") && error.contains("the project's ssh key"), "{error}");
    for p in &paths {
        assert!(!error.contains(p.as_str()), "{p} is in the public error: {error}");
    }
}
