//! Real git for the repository-project tests: `git daemon` serving bare repositories (pushes
//! allowed) and work trees that commit and push to them as a person would.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// git as a person at a terminal runs it (identity given, no global config of this machine).
pub fn sh(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `git daemon` serving every repository under `root`, pushes allowed. Killed on drop.
pub struct Daemon {
    child: Child,
    port: u16,
}

impl Daemon {
    pub fn start(root: &Path) -> Daemon {
        let port = free_port();
        // `git daemon` would run git-daemon as a child that outlives a killed `git`: start it directly.
        let exec_path = Command::new("git").arg("--exec-path").output().unwrap().stdout;
        let daemon = Path::new(String::from_utf8(exec_path).unwrap().trim()).join("git-daemon");
        let mut child = Command::new(daemon)
            .args(["--reuseaddr", "--export-all", "--enable=receive-pack", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(root)
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(child.try_wait().unwrap().is_none(), "git daemon exited");
            assert!(Instant::now() < deadline, "git daemon does not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon { child, port }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare repository `root/name` and a work tree `root/name-work` to commit in.
pub fn repo_pair(root: &Path, name: &str) -> PathBuf {
    sh(root, &["init", "-q", "--bare", name]);
    let work = root.join(format!("{name}-work"));
    sh(root, &["init", "-q", work.to_str().unwrap()]);
    work
}

/// Write `files` in `work`, commit them with `message`; the new commit's id.
pub fn commit(work: &Path, files: &[(&str, &str)], message: &str) -> String {
    for (name, text) in files {
        std::fs::write(work.join(name), text).unwrap();
        sh(work, &["add", name]);
    }
    sh(work, &["commit", "-qm", message]);
    sh(work, &["rev-parse", "HEAD"])
}

/// lighttpd running `git http-backend` for every repository under `root`, behind HTTP basic
/// auth with one user (how a forge serves git over https, minus the TLS). Killed on drop.
/// Every request is logged in `conf_dir/access.log` as `REQUEST-LINE STATUS user=USER
/// authorization=HEADER` (`-` for none).
pub struct HttpServer {
    child: Child,
    pub port: u16,
}

impl HttpServer {
    pub fn start(root: &Path, conf_dir: &Path, user: &str, password: &str) -> HttpServer {
        let port = free_port();
        std::fs::write(conf_dir.join("users"), format!("{user}:{password}\n")).unwrap();
        let conf = format!(
            r#"server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
server.modules = ("mod_alias", "mod_setenv", "mod_cgi", "mod_auth", "mod_authn_file", "mod_accesslog")
accesslog.filename = "{dir}/access.log"
accesslog.format = "%r %s user=%u authorization=%{{Authorization}}i"
auth.backend = "plain"
auth.backend.plain.userfile = "{dir}/users"
auth.require = ("/git/" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
alias.url = ("/git" => "/usr/lib/git-core/git-http-backend")
$HTTP["url"] =~ "^/git" {{
    cgi.assign = ("" => "")
    setenv.add-environment = ("GIT_PROJECT_ROOT" => "{root}", "GIT_HTTP_EXPORT_ALL" => "")
}}
"#,
            root = root.display(),
            dir = conf_dir.display(),
        );
        let path = conf_dir.join("lighttpd.conf");
        std::fs::write(&path, conf).unwrap();
        let mut child = Command::new("lighttpd")
            .arg("-D")
            .arg("-f")
            .arg(&path)
            .stderr(Stdio::null())
            .spawn()
            .expect("lighttpd (Debian's `lighttpd` package)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(child.try_wait().unwrap().is_none(), "lighttpd exited");
            assert!(Instant::now() < deadline, "lighttpd does not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        HttpServer { child, port }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/git/{repo}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
