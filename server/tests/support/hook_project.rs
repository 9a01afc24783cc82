//! A repository project for the tests of issue 19 (forks, late deliveries, webhook limits):
//! a bare repository served by `git daemon`, `slipway serve` with one or more `[[project]]`s
//! on it, and GitHub deliveries signed as GitHub signs them.
//!
//! No forge runs here. The payloads are built from GitHub's documentation ("Webhook events and
//! payloads": `push`, `pull_request`, trimmed to the documented fields a receiver reads) and
//! signed as "Validating webhook deliveries" describes (`X-Hub-Signature-256: sha256=<hex
//! HMAC-SHA256 of the raw body>`); commit statuses go to a local HTTP receiver standing in for
//! GitHub's status API (`support::forge_api`).
//!
//! Included with `#[path]` by the test files that use it (next to `mod support;`).
#![allow(dead_code)]

use crate::support;
use crate::support::forge_api::StatusApi;
use crate::support::git::{Daemon, commit, repo_pair, sh};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

pub const API_TOKEN: &str = "api-token-for-the-issue-19-tests";
pub const HOOK_SECRET: &str = "It's a Secret to Everybody";
pub const FORGE_TOKEN: &str = "ghp_f0rgeT0kenOfTheIssue19Tests";

pub fn docker() -> bool {
    std::env::var("SLIPWAY_TEST_DOCKER").is_ok_and(|v| v == "1")
}

pub fn sign(body: &[u8]) -> String {
    sign_with(HOOK_SECRET, body)
}

/// `X-Hub-Signature-256` of `body` under `secret`.
pub fn sign_with(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A `push` delivery of `after` on `branch`, which moved from `before`.
pub fn github_push(branch: &str, before: &str, after: &str, message: &str) -> Value {
    let commit = json!({
        "id": after, "tree_id": "0000000000000000000000000000000000000000", "distinct": true,
        "message": message, "timestamp": "2026-12-07T10:00:00+00:00",
        "url": format!("https://github.com/acme/web/commit/{after}"),
        "author": {"name": "Ada Lovelace", "email": "ada@example.com", "username": "ada"},
        "committer": {"name": "Ada Lovelace", "email": "ada@example.com", "username": "ada"},
        "added": [], "removed": [], "modified": ["version.txt"]
    });
    json!({
        "ref": format!("refs/heads/{branch}"), "before": before, "after": after,
        "created": false, "deleted": false, "forced": false, "base_ref": null,
        "commits": [commit.clone()], "head_commit": commit,
        "repository": {"id": 1296269, "name": "web", "full_name": "acme/web", "private": true,
                       "html_url": "https://github.com/acme/web", "default_branch": "main"},
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "sender": {"login": "ada", "id": 1, "type": "User"}
    })
}

/// A Gitea (or Forgejo) `push` delivery of a new annotated tag, as Gitea sends it: `after` is
/// the tag object's id, no `commits` and no `head_commit` ("Webhooks", Gitea's docs; the
/// fields a receiver reads).
pub fn gitea_tag_push(tag: &str, tag_object: &str) -> Value {
    let user = json!({"id": 1, "login": "ada", "full_name": "Ada Lovelace", "email": "ada@example.com",
                      "username": "ada"});
    json!({
        "ref": format!("refs/tags/{tag}"), "before": "0000000000000000000000000000000000000000",
        "after": tag_object, "compare_url": "", "commits": [], "total_commits": 0, "head_commit": null,
        "repository": {"id": 140, "owner": user.clone(), "name": "web", "full_name": "acme/web",
                       "private": true, "html_url": "http://localhost:3000/acme/web",
                       "clone_url": "http://localhost:3000/acme/web.git", "default_branch": "main"},
        "pusher": user.clone(), "sender": user
    })
}

/// A `pull_request` delivery (`opened`) whose head is `head_branch` at `sha` in the repository
/// `head_repo` (`acme/web` itself, or a fork such as `mallory/web`), with GitHub's ids.
pub fn github_pull_request(number: u64, head_repo: &str, head_branch: &str, sha: &str) -> Value {
    let head_id = if head_repo == "acme/web" { 1296269 } else { 7_000_001 };
    json!({
        "action": "opened",
        "number": number,
        "pull_request": {
            "url": format!("https://api.github.com/repos/acme/web/pulls/{number}"),
            "html_url": format!("https://github.com/acme/web/pull/{number}"),
            "number": number, "state": "open", "title": "Improve things",
            "user": {"login": "mallory", "id": 66},
            "head": {"label": format!("{}:{head_branch}", head_repo.split('/').next().unwrap()),
                     "ref": head_branch, "sha": sha,
                     "repo": {"id": head_id, "name": "web", "full_name": head_repo, "fork": head_repo != "acme/web"}},
            "base": {"label": "acme:main", "ref": "main", "sha": "0000000000000000000000000000000000000001",
                     "repo": {"id": 1296269, "name": "web", "full_name": "acme/web", "fork": false}}
        },
        "repository": {"id": 1296269, "name": "web", "full_name": "acme/web", "private": true},
        "sender": {"login": "mallory", "id": 66, "type": "User"}
    })
}

pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Value,
}

/// One HTTP request over a fresh connection, with exactly these headers and body bytes.
pub fn http(url: &str, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Answer {
    let addr = url.strip_prefix("http://").unwrap();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    // A body framed by the caller (either header) gets no Content-Length of ours.
    let framed = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !framed("content-length") && !framed("transfer-encoding") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    c.write_all(head.as_bytes()).unwrap();
    let _ = c.write_all(body);
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer);
    parse_answer(&answer)
}

/// The answer on `c`, if one comes within `wait` (read as it arrives: the server may answer
/// before the client has sent its whole body).
pub fn answer_within(c: &mut std::net::TcpStream, wait: Duration) -> Option<Answer> {
    let deadline = Instant::now() + wait;
    let mut buf = vec![0; 64 * 1024];
    let mut got = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        c.set_read_timeout(Some(left)).unwrap();
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") && got.ends_with(b"}") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    (!got.is_empty()).then(|| parse_answer(&got))
}

pub fn parse_answer(raw: &[u8]) -> Answer {
    let answer = String::from_utf8_lossy(raw).into_owned();
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let text =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(rest) } else { rest.into() };
    Answer { status, head: head.to_string(), body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The served repository, the server and the status API.
pub struct HookProject {
    pub tmp: tempfile::TempDir,
    pub work: PathBuf,
    pub daemon: Daemon,
    pub api: StatusApi,
    pub server: Option<Child>,
    pub url: String,
    /// Passed to every start of the server.
    pub serve_args: Vec<String>,
    /// `github` (the default) or `gitea`: the projects' forge, and how deliveries are signed.
    pub forge: &'static str,
}

impl HookProject {
    /// `files`: the repository's first commit on `main`; `projects`: `(name, extra keys)` for
    /// each `[[project]]` on that repository (GitHub, webhook secret, token, statuses to the
    /// stand-in); `config_files`: files beside slipway.toml (a key, say).
    pub fn start(
        files: &[(&str, &str)],
        projects: &[(&str, &str)],
        config_files: &[(&str, &[u8])],
        serve_args: &[&str],
    ) -> HookProject {
        HookProject::start_on("github", files, projects, config_files, serve_args)
    }

    /// [`HookProject::start`] for `forge` (`github` or `gitea`, whose API is under `/api/v1`).
    pub fn start_on(
        forge: &'static str,
        files: &[(&str, &str)],
        projects: &[(&str, &str)],
        config_files: &[(&str, &[u8])],
        serve_args: &[&str],
    ) -> HookProject {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("served");
        std::fs::create_dir(&root).unwrap();
        let work = repo_pair(&root, "web.git");
        let daemon = Daemon::start(&root);
        commit(&work, files, "the pipeline");
        sh(&work, &["push", "-q", &daemon.url("web.git"), "main"]);
        let api = StatusApi::start(Vec::new(), 201);
        std::fs::write(tmp.path().join("hook"), format!("{HOOK_SECRET}\n")).unwrap();
        std::fs::write(tmp.path().join("token"), format!("{FORGE_TOKEN}\n")).unwrap();
        for (name, bytes) in config_files {
            std::fs::write(tmp.path().join(name), bytes).unwrap();
        }
        let mut config = String::new();
        for (name, extra) in projects {
            config.push_str(&format!(
                "[[project]]\nname = \"{name}\"\nrepo = \"{}\"\nforge = \"{forge}\"\napi_url = \"{}{}\"\n\
                 webhook_secret_file = \"hook\"\ntoken_file = \"token\"\n{extra}\n",
                daemon.url("web.git"),
                api.url,
                if forge == "gitea" { "/api/v1" } else { "" }
            ));
        }
        std::fs::write(tmp.path().join("slipway.toml"), config).unwrap();
        let mut p = HookProject {
            tmp,
            work,
            daemon,
            api,
            server: None,
            url: String::new(),
            serve_args: serve_args.iter().map(|s| s.to_string()).collect(),
            forge,
        };
        p.launch();
        p
    }

    pub fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("server.log")).unwrap_or_default()
    }

    fn launch(&mut self) {
        let mut args: Vec<String> = [
            "--config",
            self.tmp.path().join("slipway.toml").to_str().unwrap(),
            "--data-dir",
            self.data().to_str().unwrap(),
            "--public-url",
            "https://ci.example.com/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(self.serve_args.iter().cloned());
        let (child, url) = support::serve_logged(&args, API_TOKEN, &self.tmp.path().join("server.log"));
        self.server = Some(child);
        self.url = url;
    }

    /// The server's process id (for its memory).
    pub fn pid(&self) -> u32 {
        self.server.as_ref().unwrap().id()
    }

    /// Commit `files` on `branch` (made from main if new) and push it; the commit id.
    pub fn push(&mut self, branch: &str, files: &[(&str, &str)], message: &str) -> String {
        sh(&self.work, &["checkout", "-q", "-B", branch]);
        let id = commit(&self.work, files, message);
        sh(&self.work, &["push", "-q", "-f", &self.daemon.url("web.git"), branch]);
        sh(&self.work, &["checkout", "-q", "main"]);
        id
    }

    /// A commit on no branch, pushed to `git_ref` only (where GitHub keeps a pull request's
    /// head: `refs/pull/N/head`, a fork's commits included).
    pub fn push_to_ref(&mut self, git_ref: &str, files: &[(&str, &str)], message: &str) -> String {
        sh(&self.work, &["checkout", "-q", "--detach", "main"]);
        let id = commit(&self.work, files, message);
        sh(&self.work, &["push", "-q", "-f", &self.daemon.url("web.git"), &format!("{id}:{git_ref}")]);
        sh(&self.work, &["checkout", "-q", "main"]);
        id
    }

    /// A signed delivery of `event` to `/hooks/{project}`: as GitHub signs it, or as Gitea
    /// and Forgejo do (`X-Gitea-Signature`: the HMAC-SHA256 in plain hex).
    pub fn deliver(&self, project: &str, event: &str, body: &[u8], delivery: &str) -> Answer {
        let headers = match self.forge {
            "gitea" => vec![
                ("Content-Type", "application/json".to_string()),
                ("User-Agent", "Go-http-client/1.1".to_string()),
                ("X-Gitea-Event", event.to_string()),
                ("X-Gitea-Delivery", delivery.to_string()),
                ("X-Gitea-Signature", sign(body).trim_start_matches("sha256=").to_string()),
            ],
            _ => vec![
                ("Content-Type", "application/json".to_string()),
                ("User-Agent", "GitHub-Hookshot/044aadd".to_string()),
                ("X-GitHub-Event", event.to_string()),
                ("X-GitHub-Delivery", delivery.to_string()),
                ("X-Hub-Signature-256", sign(body)),
            ],
        };
        http(&self.url, "POST", &format!("/hooks/{project}"), &headers, body)
    }

    pub fn get(&self, path: &str) -> Value {
        let a = http(&self.url, "GET", path, &[("Authorization", format!("Bearer {API_TOKEN}"))], b"");
        assert_eq!(a.status, 200, "GET {path}: {:?}", a.body);
        a.body
    }

    pub fn post(&self, path: &str) -> Answer {
        http(&self.url, "POST", path, &[("Authorization", format!("Bearer {API_TOKEN}"))], b"")
    }

    pub fn text(&self, path: &str) -> String {
        match http(&self.url, "GET", path, &[("Authorization", format!("Bearer {API_TOKEN}"))], b"").body {
            Value::String(s) => s,
            v => v.to_string(),
        }
    }

    /// Wait (at most `timeout`) for run `id`'s status to be `want`; its record.
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) -> Value {
        wait_run_status(|path| self.get(path), id, want, timeout)
    }

    /// Waits until a step of the run is running.
    pub fn step_running(&self, id: &str) {
        let start = Instant::now();
        loop {
            let v = self.get(&format!("/api/runs/{id}"));
            if v["steps"].as_array().is_some_and(|s| s.iter().any(|s| s["status"] == "running")) {
                return;
            }
            assert!(!v["finished_at"].is_i64(), "the run ended before a step ran: {v}");
            assert!(start.elapsed() < Duration::from_secs(120), "no step started: {v}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The statuses the stand-in received for `sha`, as (state, description).
    pub fn statuses(&self, sha: &str) -> Vec<(String, String)> {
        self.api
            .received()
            .into_iter()
            .filter(|r| r.path == format!("/repos/acme/web/statuses/{sha}"))
            .map(|r| {
                let s = |k: &str| r.body[k].as_str().unwrap_or_default().to_string();
                (s("state"), s("description"))
            })
            .collect()
    }

    /// Every byte the server wrote: its log, and every file of its data folder (database,
    /// mirror, checkouts).
    pub fn everything_written(&self) -> String {
        self.log() + &all_bytes_under(&self.data())
    }
}

impl Drop for HookProject {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Poll `get("/api/runs/ID")` every 50 ms until run `id`'s status is `want`; its record. Panics,
/// with the last record, after `timeout`.
pub fn wait_run_status(get: impl Fn(&str) -> Value, id: &str, want: &str, timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        let v = get(&format!("/api/runs/{id}"));
        if v["status"] == want {
            return v;
        }
        assert!(start.elapsed() < timeout, "run {id} never became {want}: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The bytes of every file below `dir` (lossily as UTF-8), one after another.
pub fn all_bytes_under(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    out
}

/// Call `f` every 50 ms until it gives a value; that value. Panics after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Size of the file and its `-wal`, in bytes.
pub fn db_size(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|s| {
            let mut p = path.as_os_str().to_owned();
            p.push(s);
            std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0)
        })
        .sum()
}
