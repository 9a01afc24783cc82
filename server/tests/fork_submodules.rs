//! Issue 19, review of 2026-12-07 (attack a8): a fork's pull request read another private
//! repository with the project's forge token. It added a `.gitmodules` entry for a repository
//! on the same host as the project's; the checkout ran `git submodule update` with the token
//! header scoped to the whole host, and the fork's step printed that repository's content.
//! Now a fork's pull request fetches its submodules with no credentials at all, and the error
//! says why; the repository's own pull requests (and branches) fetch them as before.
//!
//! No forge runs here: git is served over HTTP by `git http-backend` behind lighttpd's basic
//! auth (how a forge serves git over https, minus the TLS), both repositories private (the
//! token's user only); the deliveries are GitHub's documented `pull_request` payloads, signed
//! as GitHub signs them (`support/hook_project.rs`), and a local receiver stands in for the
//! status API. The steps run on the real Docker engine (tests/env/up.sh).

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use hook_project::{API_TOKEN, FORGE_TOKEN, HOOK_SECRET, docker, github_pull_request, http, sign, wait_for};
use serde_json::{Value, json};
use std::time::Duration;
use support::forge_api::StatusApi;
use support::git::{HttpServer, commit, repo_pair, sh};

const PRIVATE: &str = "PRIVATE-REPO-CONTENT-42";

#[test]
fn a_forks_submodule_is_fetched_without_the_projects_token() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("served");
    std::fs::create_dir(&root).unwrap();
    let conf = tmp.path().join("lighttpd");
    std::fs::create_dir(&conf).unwrap();
    // GitHub's user for a token over https (`forge::Forge::git_username`).
    let http_server = HttpServer::start(&root, &conf, "x-access-token", FORGE_TOKEN);

    // Another private repository of the organisation, on the same host.
    let private_work = repo_pair(&root, "private.git");
    let private_sha = commit(&private_work, &[("secret.txt", &format!("{PRIVATE}\n"))], "secret");
    sh(&private_work, &["push", "-q", root.join("private.git").to_str().unwrap(), "main"]);

    let work = repo_pair(&root, "web.git");
    let bare = root.join("web.git");
    let services = format!("app:\n  image: {}\n  volumes:\n    - ./:/code\n", support::base_image());
    let steps =
        "- name: show\n  service: app\n  command: sh -c 'cat /code/private/secret.txt; echo listed; ls /code'\n";
    commit(&work, &[("codeship-services.yml", &services), ("codeship-steps.yml", steps)], "the pipeline");
    sh(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
    // The pull request's commit: a submodule on the project's own host.
    let gitmodules = format!("[submodule \"private\"]\n\tpath = private\n\turl = {}\n", http_server.url("private.git"));
    std::fs::write(work.join(".gitmodules"), gitmodules).unwrap();
    sh(&work, &["add", ".gitmodules"]);
    sh(&work, &["update-index", "--add", "--cacheinfo", &format!("160000,{private_sha},private")]);
    let fork_sha = commit(&work, &[("fix.txt", "fork\n")], "innocent fix");
    sh(&work, &["push", "-q", bare.to_str().unwrap(), &format!("{fork_sha}:refs/pull/5/head")]);
    let own_sha = commit(&work, &[("fix.txt", "own\n")], "a fix on a branch of the repository");
    sh(&work, &["push", "-q", bare.to_str().unwrap(), &format!("{own_sha}:refs/pull/6/head")]);
    sh(&work, &["push", "-q", bare.to_str().unwrap(), &format!("{own_sha}:refs/heads/fix-submodule")]);

    let api = StatusApi::start(Vec::new(), 201);
    std::fs::write(tmp.path().join("hook"), format!("{HOOK_SECRET}\n")).unwrap();
    std::fs::write(tmp.path().join("token"), format!("{FORGE_TOKEN}\n")).unwrap();
    std::fs::write(
        tmp.path().join("slipway.toml"),
        format!(
            "[[project]]\nname = \"web\"\nrepo = \"{}\"\nforge = \"github\"\napi_url = \"{}\"\n\
             webhook_secret_file = \"hook\"\ntoken_file = \"token\"\n",
            http_server.url("web.git"),
            api.url
        ),
    )
    .unwrap();
    let args: Vec<String> = [
        "--config",
        tmp.path().join("slipway.toml").to_str().unwrap(),
        "--data-dir",
        tmp.path().join("data").to_str().unwrap(),
        "--public-url",
        "https://ci.example.com/",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (mut server, url) = support::serve_logged(&args, API_TOKEN, &tmp.path().join("server.log"));

    let run_of = |number: u64, head_repo: &str, branch: &str, sha: &str| -> (Value, String) {
        let body = github_pull_request(number, head_repo, branch, sha).to_string();
        let headers = [
            ("Content-Type", "application/json".to_string()),
            ("User-Agent", "GitHub-Hookshot/044aadd".to_string()),
            ("X-GitHub-Event", "pull_request".to_string()),
            ("X-GitHub-Delivery", format!("pr-{number}")),
            ("X-Hub-Signature-256", sign(body.as_bytes())),
        ];
        let a = http(&url, "POST", "/hooks/web", &headers, body.as_bytes());
        assert_eq!((a.status, &a.body["queued"]), (202, &json!(true)), "{:?}", a.body);
        let id = a.body["id"].as_str().unwrap().to_string();
        let auth = [("Authorization", format!("Bearer {API_TOKEN}"))];
        let run = wait_for("the run's end", Duration::from_secs(180), || {
            let v = http(&url, "GET", &format!("/api/runs/{id}"), &auth, b"").body;
            v["finished_at"].is_i64().then_some(v)
        });
        let log = match http(&url, "GET", &format!("/api/runs/{id}/log"), &auth, b"").body {
            Value::String(s) => s,
            v => v.to_string(),
        };
        (run, log)
    };
    let private_requests = || -> Vec<String> {
        let log = std::fs::read_to_string(conf.join("access.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains("/git/private.git")).map(str::to_string).collect()
    };

    // The attack: the fork's pull request names the private repository as its submodule.
    let (run, log) = run_of(5, "mallory/web", "fix", &fork_sha);
    // lighttpd writes its access log in batches.
    let requests = wait_for("the access log", Duration::from_secs(15), || {
        let r = private_requests();
        (!r.is_empty()).then_some(r)
    });
    let everything = format!("{run}\n{log}\n{}", std::fs::read_to_string(tmp.path().join("server.log")).unwrap());
    assert!(!everything.contains(PRIVATE), "the fork read the private repository:\n{everything}");
    assert_ne!(run["status"], "success", "{run}\n{log}");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("fork") && error.contains("without the project's token"),
        "the error does not say why the submodule failed: {run}\n{log}"
    );
    for r in &requests {
        assert!(r.contains("user=- authorization=-"), "a request for the private repository carried credentials: {r}");
    }

    // The repository's own pull request (same host, same submodule) keeps its credentials.
    let (run, log) = run_of(6, "acme/web", "fix-submodule", &own_sha);
    assert_eq!(run["status"], "success", "{run}\n{log}");
    assert!(log.contains(PRIVATE), "the repository's own pull request lost its submodule: {log}");
    let _ = server.kill();
    let _ = server.wait();
}
