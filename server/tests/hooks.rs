//! Builds from git, end to end (issue 11): `slipway serve` with a repository project, a bare
//! repository served by `git daemon`, real `git push`es of new commits, then webhook
//! deliveries to `POST /hooks/{project}`.
//!
//! No forge runs here. The deliveries are built from the forges' documentation (GitHub's
//! "Webhook events and payloads" for `push`, signed as "Validating webhook deliveries"
//! describes: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`; GitLab's "Push
//! events" with its `X-Gitlab-Token`), and the commit statuses go to a local HTTP receiver
//! standing in for the forge's status API (`support::forge_api`). Runs need the Docker engine
//! and the busybox base image (tests/env/up.sh).

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use hook_project::{Answer, HOOK_SECRET, all_bytes_under, docker, http, sign, wait_for, wait_run_status};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};
use support::forge_api::StatusApi;
use support::git::{Daemon, commit, repo_pair, sh};

const API_TOKEN: &str = "api-token-for-the-hooks-tests";
/// The forge token (statuses; git over https would carry it too): must never show up.
const FORGE_TOKEN: &str = "ghp_f0rgeT0kenThatMustNeverLeak42";

/// A GitHub `push` delivery as GitHub's documentation shows it (trimmed to the documented
/// fields a receiver reads; GitHub sends more).
fn github_push(branch: &str, before: &str, after: &str, message: &str) -> Value {
    let commit = json!({
        "id": after,
        "tree_id": "0000000000000000000000000000000000000000",
        "distinct": true,
        "message": message,
        "timestamp": "2026-12-01T15:00:00+00:00",
        "url": format!("https://github.com/acme/web/commit/{after}"),
        "author": {"name": "Ada Lovelace", "email": "ada@example.com", "username": "ada"},
        "committer": {"name": "Ada Lovelace", "email": "ada@example.com", "username": "ada"},
        "added": [], "removed": [], "modified": ["version.txt"]
    });
    json!({
        "ref": format!("refs/heads/{branch}"),
        "before": before,
        "after": after,
        "created": false,
        "deleted": false,
        "forced": false,
        "base_ref": null,
        "compare": format!("https://github.com/acme/web/compare/{}...{}", &before[..12], &after[..12]),
        "commits": [commit.clone()],
        "head_commit": commit,
        "repository": {"id": 1296269, "name": "web", "full_name": "acme/web", "private": true,
                       "html_url": "https://github.com/acme/web", "default_branch": "main"},
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "sender": {"login": "ada", "id": 1, "type": "User"}
    })
}

/// A GitHub `pull_request` delivery (action `opened`) as GitHub's documentation shows it,
/// trimmed to the documented fields a receiver reads.
fn github_pull_request(number: u64, head_branch: &str, head_sha: &str) -> Value {
    json!({
        "action": "opened",
        "number": number,
        "pull_request": {
            "url": format!("https://api.github.com/repos/acme/web/pulls/{number}"),
            "html_url": format!("https://github.com/acme/web/pull/{number}"),
            "number": number,
            "state": "open",
            "title": "Fix the thing",
            "user": {"login": "grace", "id": 2},
            "head": {"label": format!("grace:{head_branch}"), "ref": head_branch, "sha": head_sha,
                     "repo": {"name": "web", "full_name": "grace/web"}},
            "base": {"label": "acme:main", "ref": "main", "sha": "0000000000000000000000000000000000000001",
                     "repo": {"name": "web", "full_name": "acme/web"}}
        },
        "repository": {"id": 1296269, "name": "web", "full_name": "acme/web", "private": true},
        "sender": {"login": "grace", "id": 2, "type": "User"}
    })
}

/// The server, its data folder, the served repository and its work tree, and the status API.
struct Setup {
    tmp: tempfile::TempDir,
    work: PathBuf,
    _daemon: Daemon,
    api: StatusApi,
    server: Option<Child>,
    url: String,
    /// The commit on `main` the forge last told about (`before` of the next push).
    head: String,
    /// Where the project's repository is served from when not `git daemon`.
    _http: Option<support::git::HttpServer>,
}

impl Setup {
    /// `steps`: the project's steps file; `forge_answers`: the status API's code for all.
    /// `extra`: more keys for the project in slipway.toml.
    fn start(steps: &str, forge_answers: Option<u16>, max_concurrent: usize, extra: &str) -> Setup {
        Setup::start_on(steps, forge_answers, max_concurrent, extra, "github")
    }

    /// `forge`: `github` or `gitea`, the repository served by `git daemon`; `gitlab`, served
    /// over HTTP by `git http-backend` behind basic auth with GitLab's `oauth2` user and the
    /// forge token.
    fn start_on(steps: &str, forge_answers: Option<u16>, max_concurrent: usize, extra: &str, forge: &str) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("served");
        std::fs::create_dir(&root).unwrap();
        let work = repo_pair(&root, "web.git");
        let daemon = Daemon::start(&root);
        let base = support::base_image();
        let services = format!("app:\n  image: {base}\n  volumes:\n    - ./:/code\n");
        let head = commit(
            &work,
            &[("codeship-services.yml", &services), ("codeship-steps.yml", steps), ("version.txt", "first\n")],
            "the pipeline",
        );
        sh(&work, &["push", "-q", &daemon.url("web.git"), "main"]);
        let api = StatusApi::start(Vec::new(), forge_answers.unwrap_or(201));
        let secrets = tmp.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        std::fs::write(secrets.join("hook"), format!("{HOOK_SECRET}\n")).unwrap();
        std::fs::write(secrets.join("token"), format!("{FORGE_TOKEN}\n")).unwrap();
        let http = (forge == "gitlab").then(|| {
            let conf = tmp.path().join("lighttpd");
            std::fs::create_dir(&conf).unwrap();
            support::git::HttpServer::start(&root, &conf, "oauth2", FORGE_TOKEN)
        });
        let (repo, api_url) = match (&http, forge) {
            (Some(h), _) => (h.url("web.git"), format!("{}/api/v4", api.url)),
            (None, "gitea") => (daemon.url("web.git"), format!("{}/api/v1", api.url)),
            (None, _) => (daemon.url("web.git"), api.url.clone()),
        };
        let config = format!(
            "[[project]]\nname = \"web\"\nrepo = \"{repo}\"\nforge = \"{forge}\"\napi_url = \"{api_url}\"\n\
             branches = [\"main\", \"feature/*\"]\n\
             webhook_secret_file = \"secrets/hook\"\ntoken_file = \"secrets/token\"\n{extra}",
        );
        std::fs::write(tmp.path().join("slipway.toml"), config).unwrap();
        let mut s = Setup { tmp, work, _daemon: daemon, api, server: None, url: String::new(), head, _http: http };
        s.launch(max_concurrent);
        s
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn launch(&mut self, max_concurrent: usize) {
        let args: Vec<String> = [
            "--config",
            self.tmp.path().join("slipway.toml").to_str().unwrap(),
            "--data-dir",
            self.data().to_str().unwrap(),
            "--max-concurrent-runs",
            &max_concurrent.to_string(),
            "--public-url",
            "https://ci.example.com/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (child, url) = support::serve_logged(&args, API_TOKEN, &self.tmp.path().join("server.log"));
        self.server = Some(child);
        self.url = url;
    }

    /// SIGKILL: a crash, no chance to clean up; then start again on the same data.
    fn restart(&mut self, max_concurrent: usize) {
        let mut child = self.server.take().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        self.launch(max_concurrent);
    }

    /// Commit `files` on `branch` (created from main if new) and `git push` it; the commit id.
    fn push(&mut self, branch: &str, files: &[(&str, &str)], message: &str) -> String {
        sh(&self.work, &["checkout", "-q", "-B", branch]);
        let id = commit(&self.work, files, message);
        sh(&self.work, &["push", "-q", "-f", &self._daemon.url("web.git"), branch]);
        sh(&self.work, &["checkout", "-q", "main"]);
        id
    }

    /// A signed GitHub push delivery of `after` on `branch`.
    fn deliver(&self, branch: &str, after: &str, message: &str, delivery: &str) -> Answer {
        let body = github_push(branch, &self.head, after, message).to_string();
        self.deliver_raw(body.as_bytes(), &sign(body.as_bytes()), delivery)
    }

    fn deliver_raw(&self, body: &[u8], signature: &str, delivery: &str) -> Answer {
        let headers = [
            ("Content-Type", "application/json".to_string()),
            ("User-Agent", "GitHub-Hookshot/044aadd".to_string()),
            ("X-GitHub-Event", "push".to_string()),
            ("X-GitHub-Delivery", delivery.to_string()),
            ("X-GitHub-Hook-ID", "292430182".to_string()),
            ("X-Hub-Signature-256", signature.to_string()),
        ];
        http(&self.url, "POST", "/hooks/web", &headers, body)
    }

    /// A GET with the API token (without it, runs are listed without their triggers).
    fn get(&self, path: &str) -> Value {
        let a = http(&self.url, "GET", path, &[("Authorization", format!("Bearer {API_TOKEN}"))], b"");
        assert_eq!(a.status, 200, "GET {path}: {:?}", a.body);
        a.body
    }

    fn get_public(&self, path: &str) -> Value {
        let a = http(&self.url, "GET", path, &[], b"");
        assert_eq!(a.status, 200, "GET {path}: {:?}", a.body);
        a.body
    }

    fn get_text(&self, path: &str) -> String {
        let a = http(&self.url, "GET", path, &[("Authorization", format!("Bearer {API_TOKEN}"))], b"");
        match a.body {
            Value::String(s) => s,
            v => v.to_string(),
        }
    }

    fn total_runs(&self) -> i64 {
        self.get("/api/runs")["total"].as_i64().unwrap()
    }

    fn wait_status(&self, id: &str, want: &str, timeout: Duration) -> Value {
        wait_run_status(|path| self.get(path), id, want, timeout)
    }

    /// How long after `since` the run's first step was recorded as running (polled every
    /// 10 ms: the event stream looks for a queued run's start only every 250 ms).
    fn first_step_started(&self, id: &str, since: Instant) -> Duration {
        loop {
            let v = self.get(&format!("/api/runs/{id}"));
            if v["steps"].as_array().is_some_and(|s| !s.is_empty()) {
                return since.elapsed();
            }
            assert!(!v["finished_at"].is_i64(), "the run ended before a step ran: {v}");
            assert!(since.elapsed() < Duration::from_secs(120), "no step started: {v}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The checkouts and workspaces folders hold nothing (once every run has ended).
    fn assert_no_workspaces_left(&self) {
        for dir in ["checkouts/web", "workspaces"] {
            let path = self.data().join(dir);
            let left: Vec<_> =
                std::fs::read_dir(&path).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default();
            assert!(left.is_empty(), "left in {}: {left:?}", path.display());
        }
    }

    /// Everything a token could have leaked into: the server's log, the database files, the
    /// data folder's other files (mirror config, kept checkouts), and the API's answers.
    fn assert_token_nowhere(&self, ids: &[&str]) {
        let mut texts = vec![
            std::fs::read_to_string(self.tmp.path().join("server.log")).unwrap(),
            self.get("/api/runs").to_string(),
        ];
        for id in ids {
            texts.push(self.get(&format!("/api/runs/{id}")).to_string());
            texts.push(self.get_text(&format!("/api/runs/{id}/events")));
            texts.push(self.get_text(&format!("/api/runs/{id}/log")));
        }
        texts.push(all_bytes_under(&self.data()));
        // The forms git's basic auth would carry it in, too.
        let b64: Vec<String> =
            ["x-access-token", "oauth2"].iter().map(|u| support_base64(&format!("{u}:{FORGE_TOKEN}"))).collect();
        for t in &texts {
            assert!(
                !t.contains(FORGE_TOKEN) && !b64.iter().any(|b| t.contains(b)),
                "the forge token leaked: {}",
                &t[..t.len().min(2000)]
            );
            assert!(!t.contains(HOOK_SECRET), "the webhook secret leaked");
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn support_base64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The statuses the stand-in received for `sha`, as (state, description, context, target_url).
fn statuses(api: &StatusApi, sha: &str) -> Vec<(String, String, String, String)> {
    api.received()
        .into_iter()
        .filter(|r| r.path == format!("/repos/acme/web/statuses/{sha}"))
        .map(|r| {
            let s = |k: &str| r.body[k].as_str().unwrap_or_default().to_string();
            (s("state"), s("description"), s("context"), s("target_url"))
        })
        .collect()
}

/// The step shows what the run checked out: the pushed file's content (the base image has
/// no git), the CI values, and whether a `.git` is in the workspace.
const SHOW_STEPS: &str = "- name: show\n  service: app\n  command: sh -c 'echo \"content=$(cat /code/version.txt)\"; \
echo \"commit=$CI_COMMIT_ID branch=$CI_BRANCH pr=$CI_PULL_REQUEST/$CI_PR_NUMBER repo=$CI_REPO_NAME\"; \
echo \"message=$CI_COMMIT_MESSAGE by=$CI_COMMITTER_NAME <$CI_COMMITTER_EMAIL> @$CI_COMMITTER_USERNAME\"; \
ls -a /code | tr \"\\n\" \" \"; echo'\n";

#[test]
fn a_pushed_commit_is_built_exactly_with_statuses_in_order_and_nothing_left_behind() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut s = Setup::start(SHOW_STEPS, None, 2, "");
    // The delivery names the head; a later commit is pushed right after it is answered. The
    // run must build the delivered commit, not whatever the branch's head is by the time it
    // runs. (A delivery of a commit that is no longer the head when it arrives does not run:
    // tests/late_deliveries.rs.)
    let wanted = s.push("main", &[("version.txt", "the wanted commit 7f3a\n")], "Make it 7f3a");
    let sent = Instant::now();
    let a = s.deliver("main", &wanted, "Make it 7f3a", "b1e8c6a0-1111-11ef-8000-000000000001");
    let answered = sent.elapsed();
    assert_eq!(a.status, 202, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    // Queue, then work: the answer came before the run had a step (its time is recorded in
    // docs/perf.md, not asserted). Asked at once: the run goes on while the test pushes.
    let at_answer = s.get(&format!("/api/runs/{id}"));
    assert!(at_answer["steps"].as_array().is_none_or(|st| st.is_empty()), "answered after the work: {at_answer}");
    let later = s.push("main", &[("version.txt", "a later commit\n")], "Later");
    let cold = s.first_step_started(&id, sent);
    let run = s.wait_status(&id, "success", Duration::from_secs(120));
    let log = s.get_text(&format!("/api/runs/{id}/log"));
    let shown = |key: &str| log.lines().find_map(|l| l.split_once(key).map(|(_, v)| v.trim().to_string()));
    // The content the step saw is the wanted commit's, as git itself has it.
    let committed = sh(&s.work, &["show", &format!("{wanted}:version.txt")]);
    assert_eq!(shown("content=").as_deref(), Some(committed.as_str()), "{log}");
    assert_ne!(committed, sh(&s.work, &["show", &format!("{later}:version.txt")]));
    let ci = shown("commit=").unwrap();
    assert_eq!(ci, format!("{wanted} branch=main pr=false/0 repo=web"), "{log}");
    assert_eq!(shown("message=").unwrap(), "Make it 7f3a by=Ada Lovelace <ada@example.com> @ada", "{log}");
    let listing = log.lines().find(|l| l.contains("codeship-steps.yml")).unwrap_or_default().to_string();
    assert!(!listing.split_whitespace().any(|n| n == ".git"), "the workspace has .git: {listing}");

    // The trigger, in exactly the shape the studio reads.
    let t = &run["trigger"];
    let mut keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["author", "branch", "commit_id", "commit_message", "commit_url", "delivery", "kind", "pr_number", "tag"]
    );
    assert_eq!(t["kind"], "push");
    assert_eq!((t["branch"].as_str(), t["tag"].as_str()), (Some("main"), None));
    assert_eq!(t["commit_id"], wanted.as_str());
    assert_eq!(t["commit_message"], "Make it 7f3a");
    assert_eq!(t["author"], "Ada Lovelace");
    // The repository is on 127.0.0.1: a link to another host is not shown (the studio would
    // link to whatever site a delivery names).
    assert_eq!(t["commit_url"], Value::Null);
    assert_eq!(t["delivery"], "b1e8c6a0-1111-11ef-8000-000000000001");
    assert!(t["pr_number"].is_null());
    // Without the token a private repository's commit message, author and links stay hidden.
    let public = s.get_public(&format!("/api/runs/{id}"));
    assert!(public["trigger"].is_null() && public["status_error"].is_null(), "{public}");
    assert_eq!(public["status"], run["status"]);
    let listed = s.get_public("/api/runs");
    assert!(listed["runs"].as_array().unwrap().iter().all(|r| r["trigger"].is_null()), "{listed}");
    assert!(!listed.to_string().contains("Make it 7f3a"), "{listed}");

    // pending (queued) → pending "Running" (GitHub has no running state) → success, each
    // with the context and a deep link to the run.
    let link = format!("https://ci.example.com/#/runs/{id}");
    let got = wait_for("the final status", Duration::from_secs(20), || {
        let got = statuses(&s.api, &wanted);
        (got.len() == 3).then_some(got)
    });
    let expected: Vec<(String, String, String, String)> =
        [("pending", "Queued on Slipway"), ("pending", "Running on Slipway"), ("success", "The pipeline passed")]
            .iter()
            .map(|(st, d)| (st.to_string(), d.to_string(), "slipway/web".to_string(), link.clone()))
            .collect();
    assert_eq!(got, expected);
    let first = &s.api.received()[0];
    assert_eq!(first.header("authorization"), Some(format!("Bearer {FORGE_TOKEN}").as_str()));
    let after = s.get(&format!("/api/runs/{id}"));
    assert!(after.as_object().unwrap().contains_key("status_error") && after["status_error"].is_null(), "{after}");

    // A replay of the same delivery (the forge's "Redeliver") queues nothing.
    let total = s.total_runs();
    let replay = s.deliver("main", &wanted, "Make it 7f3a", "b1e8c6a0-1111-11ef-8000-000000000001");
    assert_eq!((replay.status, &replay.body["duplicate"], &replay.body["id"]), (200, &json!(true), &json!(id)));
    assert_eq!(s.total_runs(), total);

    // Warm mirror: the next push is fetched, not cloned.
    s.head = later.clone();
    let next = s.push("main", &[("version.txt", "warm\n")], "Warm");
    let sent = Instant::now();
    let a = s.deliver("main", &next, "Warm", "b1e8c6a0-1111-11ef-8000-000000000002");
    let id2 = a.body["id"].as_str().unwrap().to_string();
    let warm = s.first_step_started(&id2, sent);
    s.wait_status(&id2, "success", Duration::from_secs(120));
    println!(
        "webhook answered in {answered:?}; webhook → first step started: {cold:?} (first clone of the mirror), {warm:?} (warm mirror)"
    );
    // Timings are measured and recorded (docs/perf.md), not asserted: a loaded CI machine
    // would make a timed assertion flaky without anything being wrong.
    wait_for("the second run's final status", Duration::from_secs(20), || {
        (statuses(&s.api, &next).len() == 3).then_some(())
    });
    s.assert_no_workspaces_left();
    s.assert_token_nowhere(&[&id, &id2]);
}

/// A good delivery is built end to end over a real connection, a fork's pull request from the
/// ref GitHub keeps for it, and a delivery id is remembered across a restart. (Each status
/// code of a refused or ignored delivery is in `http_status.rs`, asked of the app itself.)
#[test]
fn a_delivery_and_a_forks_pull_request_build_and_a_delivery_id_survives_a_restart() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut s = Setup::start(SHOW_STEPS, None, 1, "");
    let sha = s.push("main", &[("version.txt", "x\n")], "x");
    let a = s.deliver("main", &sha, "x", "good-1");
    assert_eq!(a.status, 202, "{:?}", a.body);
    s.wait_status(a.body["id"].as_str().unwrap(), "success", Duration::from_secs(120));

    // A pull request from a fork: its head commit is on no branch of the repository, only
    // under the ref GitHub keeps for it (refs/pull/7/head), which a real push puts there.
    sh(&s.work, &["checkout", "-q", "-b", "fork-work"]);
    let pr_sha = commit(&s.work, &[("version.txt", "from a fork\n")], "Fix the thing");
    sh(&s.work, &["push", "-q", &s._daemon.url("web.git"), &format!("{pr_sha}:refs/pull/7/head")]);
    sh(&s.work, &["checkout", "-q", "main"]);
    let pr = github_pull_request(7, "feature/fix", &pr_sha).to_string();
    let headers = [
        ("Content-Type", "application/json".to_string()),
        ("X-GitHub-Event", "pull_request".to_string()),
        ("X-GitHub-Delivery", "pr-7-opened".to_string()),
        ("X-Hub-Signature-256", sign(pr.as_bytes())),
    ];
    let a = http(&s.url, "POST", "/hooks/web", &headers, pr.as_bytes());
    assert_eq!(a.status, 202, "{:?}", a.body);
    let pr_run = s.wait_status(a.body["id"].as_str().unwrap(), "success", Duration::from_secs(120));
    let log = s.get_text(&format!("/api/runs/{}/log", pr_run["id"].as_str().unwrap()));
    assert!(log.contains("content=from a fork"), "{log}");
    let url = "https://github.com/acme/web/pull/7";
    assert!(log.contains(&format!("commit={pr_sha} branch=feature/fix pr={url}/7 repo=web")), "{log}");
    // The event names no message or committer: they come from the commit itself.
    assert!(log.contains("message=Fix the thing by=Ada Lovelace <ada@example.com> @grace"), "{log}");
    let t = &pr_run["trigger"];
    assert_eq!((t["kind"].as_str(), t["pr_number"].as_u64()), (Some("pull_request"), Some(7)), "{t}");
    assert_eq!((t["commit_message"].as_str(), t["author"].as_str()), (Some("Fix the thing"), Some("Ada Lovelace")));
    s.restart(1);
    // The delivery id is remembered across a restart.
    let again = s.deliver("main", &sha, "x", "good-1");
    assert_eq!((again.status, again.body["duplicate"].as_bool()), (200, Some(true)), "{:?}", again.body);
    assert_eq!(s.total_runs(), 2);
}

const SLOW_STEPS: &str = "- name: slow\n  service: app\n  command: sh -c 'echo \"content=$(cat /code/version.txt)\"; sleep $(cat /code/delay)'\n";

#[test]
fn a_second_push_cancels_the_first_a_failing_forge_fails_no_run_and_a_restart_keeps_the_queue() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    // The forge's status API answers 500 to everything.
    let mut s = Setup::start(SLOW_STEPS, Some(500), 1, "");
    let a_sha = s.push("main", &[("version.txt", "A\n"), ("delay", "120\n")], "A");
    let a = s.deliver("main", &a_sha, "A", "d-a").body["id"].as_str().unwrap().to_string();
    s.first_step_started(&a, Instant::now());
    // A new push to main supersedes A, which is running.
    s.head = a_sha.clone();
    let b_sha = s.push("main", &[("version.txt", "B\n"), ("delay", "120\n")], "B");
    let answer = s.deliver("main", &b_sha, "B", "d-b");
    assert_eq!(answer.body["superseded"], json!([a]), "{:?}", answer.body);
    let b = answer.body["id"].as_str().unwrap().to_string();
    s.wait_status(&a, "cancelled", Duration::from_secs(60));
    s.first_step_started(&b, Instant::now());
    // Another branch's push waits for the one slot.
    let q_sha = s.push("feature/q", &[("version.txt", "Q\n"), ("delay", "0\n")], "Q");
    let q = s.deliver("feature/q", &q_sha, "Q", "d-q").body["id"].as_str().unwrap().to_string();
    assert_eq!(s.get(&format!("/api/runs/{q}"))["status"], "queued");
    // (Let A's statuses go out first: after a restart only the newest waiting one is sent.)
    // Every status was tried, and retried, in order; A's ended as an error (GitHub has no
    // "cancelled").
    let a_states = wait_for("A's final status", Duration::from_secs(60), || {
        let got: Vec<String> = statuses(&s.api, &a_sha).into_iter().map(|t| t.1).collect();
        (got.iter().filter(|d| *d == "The run was canceled").count() == 4).then_some(got)
    });
    let mut distinct = a_states.clone();
    distinct.dedup();
    assert_eq!(distinct, ["Queued on Slipway", "Running on Slipway", "The run was canceled"], "{a_states:?}");
    assert_eq!(a_states.len(), 12, "4 attempts for each of the 3 statuses: {a_states:?}");
    // The server dies during B: B is interrupted, Q is still queued and runs after the restart.
    s.restart(1);
    let b_run = s.get(&format!("/api/runs/{b}"));
    assert_eq!(b_run["status"], "interrupted", "{b_run}");
    let q_run = s.wait_status(&q, "success", Duration::from_secs(120));
    let log = s.get_text(&format!("/api/runs/{q}/log"));
    assert!(log.lines().any(|l| l.trim_end().ends_with("content=Q")), "{log}");
    // The forge never took a status, and no run failed for it; the failure is on the run.
    let error = wait_for("Q's status error", Duration::from_secs(60), || {
        let v = s.get(&format!("/api/runs/{q}"));
        v["status_error"].as_str().map(str::to_string)
    });
    assert_eq!(q_run["status"], "success");
    assert!(error.contains("HTTP 500") && error.contains("4 attempts"), "{error}");
    wait_for("B's error status after the restart", Duration::from_secs(60), || {
        statuses(&s.api, &b_sha).iter().any(|t| t.0 == "error" && t.1 == "The run could not complete").then_some(())
    });
    s.assert_no_workspaces_left();
    s.assert_token_nowhere(&[&a, &b, &q]);
}

#[test]
fn polling_builds_each_new_head_once_keeps_the_last_checkouts_and_survives_a_restart() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut s = Setup::start(SHOW_STEPS, None, 1, "poll = \"1s\"\nkeep_workspaces = 1\n");
    // The first poll only records the heads (main's first commit builds nothing).
    wait_for("the first poll", Duration::from_secs(20), || {
        std::fs::read_to_string(s.tmp.path().join("server.log")).unwrap().contains("first poll").then_some(())
    });
    assert_eq!(s.total_runs(), 0);
    let one = s.push("main", &[("version.txt", "polled one\n")], "Polled one");
    let two = s.push("feature/p", &[("version.txt", "polled two\n")], "Polled two");
    let untracked = s.push("experiment", &[("version.txt", "not built\n")], "Filtered out");
    let runs = wait_for("two polled runs", Duration::from_secs(30), || {
        let v = s.get("/api/runs");
        (v["total"] == 2).then_some(v["runs"].as_array().unwrap().clone())
    });
    let mut built: Vec<(String, String, String)> = runs
        .iter()
        .map(|r| {
            let t = &r["trigger"];
            (
                t["kind"].as_str().unwrap().into(),
                t["branch"].as_str().unwrap().into(),
                t["commit_id"].as_str().unwrap().into(),
            )
        })
        .collect();
    built.sort();
    assert_eq!(built, [("poll".into(), "feature/p".into(), two.clone()), ("poll".into(), "main".into(), one.clone())]);
    assert!(!built.iter().any(|b| b.2 == untracked));
    for r in &runs {
        let id = r["id"].as_str().unwrap();
        let run = s.wait_status(id, "success", Duration::from_secs(120));
        let message = run["trigger"]["commit_message"].as_str().unwrap().to_string();
        assert!(message == "Polled one" || message == "Polled two", "{run}");
    }
    // Later polls, and a restart, build nothing again.
    s.restart(1);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(s.total_runs(), 2);
    // keep_workspaces = 1: the last checkout is kept (without .git), the other removed.
    let kept: Vec<PathBuf> =
        std::fs::read_dir(s.data().join("kept/web")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let content = std::fs::read_to_string(kept[0].join("version.txt")).unwrap();
    assert!(content == "polled one\n" || content == "polled two\n", "{content}");
    assert!(!kept[0].join(".git").exists());
    s.assert_no_workspaces_left();
}

/// A GitLab push delivery as GitLab's "Push events" documentation shows it, trimmed to the
/// documented fields a receiver reads.
fn gitlab_push(branch: &str, before: &str, after: &str, message: &str) -> Value {
    json!({
        "object_kind": "push",
        "event_name": "push",
        "before": before,
        "after": after,
        "ref": format!("refs/heads/{branch}"),
        "ref_protected": true,
        "checkout_sha": after,
        "user_id": 4,
        "user_name": "Ada Lovelace",
        "user_username": "ada",
        "user_email": "",
        "project_id": 15,
        "project": {"id": 15, "name": "web", "path_with_namespace": "acme/web", "default_branch": "main",
                    "web_url": "https://gitlab.example.com/acme/web"},
        "commits": [{
            "id": after,
            "message": message,
            "title": message,
            "timestamp": "2026-12-01T15:00:00+00:00",
            "url": format!("https://gitlab.example.com/acme/web/-/commit/{after}"),
            "author": {"name": "Ada Lovelace", "email": "ada@example.com"},
            "added": [], "modified": ["version.txt"], "removed": []
        }],
        "total_commits_count": 1
    })
}

/// GitLab: the token is the git password (HTTP basic auth with GitLab's `oauth2` user) as well
/// as the status API's `PRIVATE-TOKEN`, and the repository is only reachable with it.
#[test]
fn a_gitlab_push_over_authenticated_http_builds_and_reports_without_leaking_the_token() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut s = Setup::start_on(SHOW_STEPS, None, 1, "", "gitlab");
    let repo_url = s._http.as_ref().unwrap().url("web.git");
    let anonymous = std::process::Command::new("git")
        .args(["ls-remote", &repo_url])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(!anonymous.status.success(), "the repository is readable without the token");
    let sha = s.push("main", &[("version.txt", "over http\n")], "Over HTTP");
    let body = gitlab_push("main", &s.head, &sha, "Over HTTP").to_string();
    let headers = |token: &str| {
        [
            ("Content-Type", "application/json".to_string()),
            ("User-Agent", "GitLab/17.5.0".to_string()),
            ("X-Gitlab-Event", "Push Hook".to_string()),
            ("X-Gitlab-Token", token.to_string()),
            ("X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e".to_string()),
            ("Idempotency-Key", "f5e5f430-f57b-4e6e-9fac-d9128cd7232f".to_string()),
        ]
    };
    let wrong = http(&s.url, "POST", "/hooks/web", &headers("not the secret"), body.as_bytes());
    assert_eq!(wrong.status, 401, "{:?}", wrong.body);
    let a = http(&s.url, "POST", "/hooks/web", &headers(HOOK_SECRET), body.as_bytes());
    assert_eq!(a.status, 202, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    let run = s.wait_status(&id, "success", Duration::from_secs(120));
    let log = s.get_text(&format!("/api/runs/{id}/log"));
    assert!(log.contains("content=over http"), "{log}");
    assert!(log.contains(&format!("commit={sha} branch=main pr=false/0 repo=web")), "{log}");
    // The link points at another host than the repository's (127.0.0.1): not shown.
    assert_eq!(run["trigger"]["commit_url"], Value::Null);
    assert_eq!(run["trigger"]["delivery"], "f5e5f430-f57b-4e6e-9fac-d9128cd7232f", "GitLab's retry-stable id");
    // GitLab has a running state; the project is named by its encoded path.
    let got = wait_for("three GitLab statuses", Duration::from_secs(20), || {
        let got: Vec<_> = s.api.received().into_iter().filter(|r| r.path.contains("/statuses/")).collect();
        (got.len() == 3).then_some(got)
    });
    for r in &got {
        assert_eq!(r.path, format!("/api/v4/projects/acme%2Fweb/statuses/{sha}"));
        assert_eq!(r.header("private-token"), Some(FORGE_TOKEN));
        assert_eq!(r.body["name"], "slipway/web");
    }
    let states: Vec<&str> = got.iter().map(|r| r.body["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["pending", "running", "success"]);
    s.assert_no_workspaces_left();
    s.assert_token_nowhere(&[&id]);
    // The mirror is where a token would most easily end up (a remote URL carrying it).
    let config = std::fs::read_to_string(s.data().join("mirrors/web.git/config")).unwrap();
    assert!(config.contains(&repo_url) && !config.contains(FORGE_TOKEN), "{config}");
}

/// Webhooks and polling together: a head a webhook built is not built again by the next poll
/// (here the poll at start, after a restart: `poll = "1h"` keeps it out of the way before).
#[test]
fn a_head_a_webhook_built_is_not_built_again_by_polling() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut s = Setup::start(SHOW_STEPS, None, 1, "poll = \"1h\"\n");
    let log = s.tmp.path().join("server.log");
    let polls = || std::fs::read_to_string(&log).unwrap().matches("polled").count();
    wait_for("the first poll", Duration::from_secs(20), || {
        std::fs::read_to_string(&log).unwrap().contains("first poll").then_some(())
    });
    let sha = s.push("main", &[("version.txt", "hooked\n")], "Hooked");
    let a = s.deliver("main", &sha, "Hooked", "hooked-1");
    s.wait_status(a.body["id"].as_str().unwrap(), "success", Duration::from_secs(120));
    let before = polls();
    s.restart(1);
    wait_for("the poll after the restart", Duration::from_secs(20), || (polls() > before).then_some(()));
    assert_eq!(s.total_runs(), 1, "polling built the webhook's commit again");
}

/// A repository project's secrets are read at start: a missing one stops `slipway serve` with
/// the file's name (not the first run), and so does a `--public-url` that is no address.
#[test]
fn serve_refuses_to_start_without_a_projects_secret_or_with_a_bad_public_url() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("slipway.toml");
    std::fs::write(
        &config,
        "[[project]]\nname = \"web\"\nrepo = \"https://github.com/acme/web.git\"\nwebhook_secret_file = \"missing.hook\"\n",
    )
    .unwrap();
    let serve = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(["serve", "--addr", "127.0.0.1:0", "--config", config.to_str().unwrap()])
            .args(["--data-dir", tmp.path().join("data").to_str().unwrap()])
            .args(extra)
            .env("SLIPWAY_TOKEN", API_TOKEN)
            .output()
            .unwrap()
    };
    let out = serve(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("project `web`") && stderr.contains("missing.hook"), "{stderr}");
    std::fs::write(tmp.path().join("missing.hook"), "s3cret\n").unwrap();
    let out = serve(&["--public-url", "ci.example.com"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--public-url \"ci.example.com\""), "{stderr}");
}

/// Forgejo (Gitea's fork; same events and API): a push delivery as Forgejo's webhook
/// documentation shows it, signed in `X-Forgejo-Signature` (hex HMAC-SHA256, no prefix); the
/// statuses go to `/api/v1/repos/{owner}/{repo}/statuses/{sha}` with a `token` header.
#[test]
fn a_forgejo_push_builds_and_reports_with_giteas_api() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut s = Setup::start_on(SHOW_STEPS, None, 1, "", "gitea");
    let sha = s.push("main", &[("version.txt", "forged\n")], "Forged");
    // Gitea and Forgejo send GitHub's push shape, users with `login`/`username`.
    let mut body = github_push("main", &s.head, &sha, "Forged");
    body["pusher"] = json!({"id": 1, "login": "ada", "username": "ada", "email": "ada@example.com"});
    body["commits"][0]["url"] = json!(format!("https://codeberg.org/acme/web/commit/{sha}"));
    body["head_commit"]["url"] = body["commits"][0]["url"].clone();
    let body = body.to_string();
    let hex = sign(body.as_bytes()).trim_start_matches("sha256=").to_string();
    let headers = [
        ("Content-Type", "application/json".to_string()),
        ("X-Forgejo-Event", "push".to_string()),
        ("X-Forgejo-Delivery", "8d3c7bd1-5d0a-4e5e-9c43-4c3f1d2b1a09".to_string()),
        ("X-Forgejo-Signature", hex.clone()),
        ("X-Gitea-Event", "push".to_string()),
        ("X-Gitea-Delivery", "8d3c7bd1-5d0a-4e5e-9c43-4c3f1d2b1a09".to_string()),
        ("X-Gitea-Signature", hex),
    ];
    let a = http(&s.url, "POST", "/hooks/web", &headers, body.as_bytes());
    assert_eq!(a.status, 202, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    s.wait_status(&id, "success", Duration::from_secs(120));
    let log = s.get_text(&format!("/api/runs/{id}/log"));
    assert!(log.contains("content=forged") && log.contains(&format!("commit={sha} branch=main")), "{log}");
    let got = wait_for("three Gitea statuses", Duration::from_secs(20), || {
        let got: Vec<_> = s.api.received().into_iter().filter(|r| r.path.contains("/statuses/")).collect();
        (got.len() == 3).then_some(got)
    });
    for r in &got {
        assert_eq!(r.path, format!("/api/v1/repos/acme/web/statuses/{sha}"));
        assert_eq!(r.header("authorization"), Some(format!("token {FORGE_TOKEN}").as_str()));
        assert_eq!(r.body["context"], "slipway/web");
    }
    let states: Vec<&str> = got.iter().map(|r| r.body["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["pending", "pending", "success"]);
    let replay = http(&s.url, "POST", "/hooks/web", &headers, body.as_bytes());
    assert_eq!(replay.status, 200, "{:?}", replay.body);
    s.assert_token_nowhere(&[&id]);
}

/// An annotated tag pushed to GitHub: the delivery's `after` is the tag object's id and its
/// `head_commit` the tagged commit (GitHub's documentation of `push`, a tag created). The run
/// must build the commit: `CI_COMMIT_ID` is what `git rev-parse HEAD` says, and the statuses
/// go to the commit (GitHub refuses a status on a tag object).
#[test]
fn an_annotated_tag_builds_and_reports_the_tagged_commit() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let steps = "- name: show\n  service: app\n  command: sh -c 'echo \"commit=$CI_COMMIT_ID\"; \
                 echo \"head=$(cat /code/version.txt)\"'\n";
    let s = Setup::start(steps, None, 1, "");
    // The project builds `main` and `feature/*`; the tag's name passes that filter.
    let tag = "feature/v1.0";
    sh(&s.work, &["tag", "-a", "-m", "Release 1.0", tag]);
    sh(&s.work, &["push", "-q", &s._daemon.url("web.git"), &format!("refs/tags/{tag}")]);
    let tag_object = sh(&s.work, &["rev-parse", &format!("refs/tags/{tag}")]);
    let commit_id = sh(&s.work, &["rev-parse", &format!("refs/tags/{tag}^{{commit}}")]);
    assert_ne!(tag_object, commit_id, "an annotated tag is an object of its own");

    let mut body = github_push("main", "0000000000000000000000000000000000000000", &commit_id, "the pipeline");
    body["ref"] = json!(format!("refs/tags/{tag}"));
    body["after"] = json!(tag_object);
    body["created"] = json!(true);
    body["commits"] = json!([]);
    let body = body.to_string();
    let a = s.deliver_raw(body.as_bytes(), &sign(body.as_bytes()), "b1e8c6a0-5555-11ef-8000-000000000001");
    assert_eq!(a.status, 202, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    let run = s.wait_status(&id, "success", Duration::from_secs(120));
    let log = s.get_text(&format!("/api/runs/{id}/log"));
    assert!(log.contains(&format!("commit={commit_id}")), "{log}");
    assert_eq!(run["trigger"]["commit_id"], commit_id.as_str());
    assert_eq!(run["trigger"]["tag"], tag);
    let got = wait_for("the final status", Duration::from_secs(20), || {
        let got = statuses(&s.api, &commit_id);
        (got.len() == 3).then_some(got)
    });
    assert_eq!(got.last().unwrap().0, "success", "{got:?}");
    assert!(statuses(&s.api, &tag_object).is_empty(), "a status went to the tag object");
}

/// A delivery whose connection breaks before the body is all there (the sender stops after
/// 100 of the 5,000 bytes it announced) is told so with 400, not "larger than the limit";
/// a body over the limit still gets 413 (`bad_deliveries_are_refused_and_queue_nothing`).
#[test]
fn a_body_that_ends_early_is_not_called_too_large() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let s = Setup::start(SHOW_STEPS, None, 1, "");
    let addr = s.url.strip_prefix("http://").unwrap().to_string();
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /hooks/web HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n\
         X-Hub-Signature-256: {}\r\nContent-Length: 5000\r\n\r\n",
        sign(b"")
    );
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(&[b' '; 100]).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("the body ended early"), "{answer}");
    assert_eq!(s.total_runs(), 0);
}

/// A push to a branch with an open pull request from the same repository: GitHub sends a
/// `push` and a `pull_request` (`synchronize`) for the same commit, and both run (their CI
/// values differ). Each reports under its own context, `slipway/web` and `slipway/web/pr`, so
/// the pull request's checks show both and neither run's result overwrites the other's.
#[test]
fn a_push_and_its_pull_request_report_under_their_own_contexts() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut s = Setup::start(SHOW_STEPS, None, 2, "");
    let sha = s.push("feature/fix", &[("version.txt", "the fix\n")], "Fix the thing");
    let a = s.deliver("feature/fix", &sha, "Fix the thing", "b1e8c6a0-7777-11ef-8000-000000000001");
    assert_eq!(a.status, 202, "{:?}", a.body);
    let push_run = a.body["id"].as_str().unwrap().to_string();
    // GitHub keeps the pull request's head under refs/pull/9/head (the server checks that
    // the delivered commit is still there).
    sh(&s.work, &["push", "-q", &s._daemon.url("web.git"), &format!("{sha}:refs/pull/9/head")]);
    let mut pr = github_pull_request(9, "feature/fix", &sha);
    pr["action"] = json!("synchronize");
    pr["pull_request"]["head"]["repo"] = json!({"name": "web", "full_name": "acme/web"});
    let pr = pr.to_string();
    let headers = [
        ("Content-Type", "application/json".to_string()),
        ("X-GitHub-Event", "pull_request".to_string()),
        ("X-GitHub-Delivery", "b1e8c6a0-7777-11ef-8000-000000000002".to_string()),
        ("X-Hub-Signature-256", sign(pr.as_bytes())),
    ];
    let a = http(&s.url, "POST", "/hooks/web", &headers, pr.as_bytes());
    assert_eq!(a.status, 202, "{:?}", a.body);
    let pr_run = a.body["id"].as_str().unwrap().to_string();
    s.wait_status(&push_run, "success", Duration::from_secs(120));
    s.wait_status(&pr_run, "success", Duration::from_secs(120));
    let got = wait_for("both runs' final statuses", Duration::from_secs(20), || {
        let got = statuses(&s.api, &sha);
        (got.len() == 6).then_some(got)
    });
    for (context, run) in [("slipway/web", &push_run), ("slipway/web/pr", &pr_run)] {
        let mine: Vec<_> = got.iter().filter(|g| g.2 == context).collect();
        let states: Vec<&str> = mine.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(states, ["pending", "pending", "success"], "{context}: {got:?}");
        assert!(mine.iter().all(|g| g.3.ends_with(&format!("/#/runs/{run}"))), "{context}: {got:?}");
    }
}

/// Two quick pushes whose deliveries arrive the wrong way round (a forge retries the first
/// after the second went through): the late, older push must not cancel the newer run. Its
/// own run is cancelled at once, as it would have been, had it arrived first.
#[test]
fn a_late_delivery_of_an_older_push_does_not_cancel_the_newer_run() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut s = Setup::start(SLOW_STEPS, None, 1, "");
    let first = s.head.clone();
    let a_sha = s.push("main", &[("version.txt", "A\n"), ("delay", "0\n")], "A");
    s.head = a_sha.clone();
    let b_sha = s.push("main", &[("version.txt", "B\n"), ("delay", "0\n")], "B");
    // B (before = A) is delivered first, then A (before = the first commit).
    let b = s.deliver("main", &b_sha, "B", "d-b").body["id"].as_str().unwrap().to_string();
    s.head = first;
    let late = s.deliver("main", &a_sha, "A", "d-a");
    assert_eq!(late.body["superseded"], json!([]), "{:?}", late.body);
    assert_eq!(late.body["superseded_by"], json!(b), "{:?}", late.body);
    let a = late.body["id"].as_str().unwrap().to_string();
    let a_run = s.wait_status(&a, "cancelled", Duration::from_secs(30));
    assert!(a_run["error"].as_str().is_some_and(|e| e.contains(&b)), "{a_run}");
    s.wait_status(&b, "success", Duration::from_secs(120));
    let log = s.get_text(&format!("/api/runs/{b}/log"));
    assert!(log.lines().any(|l| l.trim_end().ends_with("content=B")), "{log}");
    // In order, the newer push still cancels the older one (the check above is not all-or-nothing).
    s.head = b_sha.clone();
    let c_sha = s.push("main", &[("version.txt", "C\n"), ("delay", "120\n")], "C");
    let c = s.deliver("main", &c_sha, "C", "d-c").body["id"].as_str().unwrap().to_string();
    s.first_step_started(&c, Instant::now());
    s.head = c_sha;
    let d_sha = s.push("main", &[("version.txt", "D\n"), ("delay", "0\n")], "D");
    let d = s.deliver("main", &d_sha, "D", "d-d");
    assert_eq!(d.body["superseded"], json!([c]), "{:?}", d.body);
    assert!(d.body.get("superseded_by").is_none(), "{:?}", d.body);
    s.wait_status(&c, "cancelled", Duration::from_secs(60));
}

/// The server stops while a run's final status is still being retried against a forge that
/// is down: after the restart (the forge is back) that status goes out, alone; before, it was
/// lost and the commit showed "pending" for ever.
#[test]
fn a_status_still_waiting_at_a_restart_is_sent_after_it() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    // The forge takes each status request and never answers: the first (pending) waits for
    // its 10 s timeout four times, so the run's "passed" is still queued behind it.
    let mut s = Setup::start(SHOW_STEPS, Some(support::forge_api::HANG), 1, "");
    let sha = s.push("main", &[("version.txt", "A\n")], "A");
    let id = s.deliver("main", &sha, "A", "d-a").body["id"].as_str().unwrap().to_string();
    s.wait_status(&id, "success", Duration::from_secs(30));
    let before_restart = statuses(&s.api, &sha).len();
    s.api.answer_from_now_on(201);
    s.restart(1);
    // The restarted server has already queued it; a second restart once it is sent sends nothing.
    let sent = wait_for("the final status after the restart", Duration::from_secs(60), || {
        let got = statuses(&s.api, &sha);
        got.last().is_some_and(|t| t.1 == "The pipeline passed" && got.len() > before_restart).then_some(got)
    });
    let after: Vec<&str> = sent[before_restart..].iter().map(|t| t.1.as_str()).collect();
    assert!(after.iter().all(|d| *d == "The pipeline passed"), "only the newest status is sent again: {after:?}");
    assert_eq!(sent.last().unwrap().0, "success");
    // (Recorded as sent once the forge's answer is in: give it time.)
    std::thread::sleep(Duration::from_millis(1500));
    let settled = statuses(&s.api, &sha).len();
    s.restart(1);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(statuses(&s.api, &sha).len(), settled, "a status that went out is not sent again");
}
