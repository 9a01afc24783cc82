//! The status codes `slipway serve` answers with (issue 21), asked of the app itself: the
//! server is built by `App::build` exactly as `serve` builds it, and each request goes through
//! its router with `oneshot`, without a socket or a process. What needs a real connection (a
//! body that ends early, a restart, runs on the engine) stays in the end-to-end tests
//! (`hooks.rs`, `api.rs`).
//!
//! The repository is real (a bare repository served by `git daemon`, a real `git push`), so the
//! accepted delivery's head check fetches it; the commit-status API is the local stand-in of
//! `support::forge_api`. Nothing runs: the scheduler is not started, so a queued run stays
//! queued. The deliveries are GitHub's, signed as GitHub signs them (`support/hook_project.rs`).

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use hmac::{Hmac, KeyInit, Mac};
use hook_project::{HOOK_SECRET, github_push, sign};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use slipway::app::{App, Settings};
use std::path::Path;
use support::forge_api::StatusApi;
use support::git::{Daemon, commit, repo_pair, sh};
use tower::ServiceExt;

const API_TOKEN: &str = "api-token-for-the-http-status-tests";
/// Over GitHub's 25 MiB cap (the server's default limit for a delivery).
const TOO_BIG: usize = 26 * 1024 * 1024;

/// A server with a repository project `web` (GitHub, webhook secret, builds `main` and
/// `feature/*`) and a folder project `site`.
struct Server {
    _tmp: tempfile::TempDir,
    _daemon: Daemon,
    statuses: StatusApi,
    router: axum::Router,
    /// `main`'s first commit, and a second one pushed after it.
    first: String,
    pushed: String,
}

fn server() -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("served");
    std::fs::create_dir(&root).unwrap();
    let work = repo_pair(&root, "web.git");
    let daemon = Daemon::start(&root);
    let first = commit(&work, &[("version.txt", "first\n")], "the pipeline");
    let pushed = commit(&work, &[("version.txt", "second\n")], "x");
    sh(&work, &["push", "-q", &daemon.url("web.git"), "main"]);
    let statuses = StatusApi::start(Vec::new(), 201);
    std::fs::write(tmp.path().join("hook"), format!("{HOOK_SECRET}\n")).unwrap();
    std::fs::write(tmp.path().join("token"), "ghp_f0rgeT0kenOfTheHttpStatusTests\n").unwrap();
    let config = format!(
        "[[project]]\nname = \"web\"\nrepo = \"{}\"\nforge = \"github\"\napi_url = \"{}\"\n\
         branches = [\"main\", \"feature/*\"]\nwebhook_secret_file = \"hook\"\ntoken_file = \"token\"\n",
        daemon.url("web.git"),
        statuses.url
    );
    std::fs::write(tmp.path().join("slipway.toml"), config).unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
    std::fs::write(site.join("codeship-steps.yml"), "- name: hi\n  service: app\n  command: echo hi\n").unwrap();
    // The token as an operator keeps it: in the data folder, owner-only.
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("token"), API_TOKEN).unwrap();
    set_mode(&data, 0o700);
    set_mode(&data.join("token"), 0o600);
    let mut settings = Settings::new(data, "https://ci.example.com".into());
    settings.config = Some(tmp.path().join("slipway.toml"));
    settings.folders = vec![("site".into(), site)];
    let router = App::build(settings).unwrap().router().unwrap();
    Server { _tmp: tmp, _daemon: daemon, statuses, router, first, pushed }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl Server {
    /// The answer's status and its body as JSON (or as a string when it is not JSON).
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A GitHub `push` delivery to `/hooks/{project}` with the given signature header (none
    /// when empty), `headers` added.
    async fn deliver(
        &self,
        project: &str,
        event: &str,
        body: Vec<u8>,
        signature: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = Request::post(format!("/hooks/{project}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("User-Agent", "GitHub-Hookshot/044aadd")
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Hook-ID", "292430182");
        if !signature.is_empty() {
            req = req.header("X-Hub-Signature-256", signature);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    async fn push(&self, branch: &str, delivery: &str) -> (StatusCode, Value) {
        let body = github_push(branch, &self.first, &self.pushed, "x").to_string();
        let sig = sign(body.as_bytes());
        self.deliver("web", "push", body.into_bytes(), &sig, &[("X-GitHub-Delivery", delivery)]).await
    }

    async fn api(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    async fn total_runs(&self) -> i64 {
        self.api("GET", "/api/runs", None, None).await.1["total"].as_i64().unwrap()
    }
}

/// A project that takes no webhooks, or none at all: 404, whatever the delivery.
#[tokio::test]
async fn a_delivery_for_an_unknown_project_is_404() {
    let s = server();
    for project in ["nope", "site"] {
        let (status, body) = s.deliver(project, "push", b"{}".to_vec(), &sign(b"{}"), &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{project}: {body}");
        assert!(body["error"].as_str().unwrap().contains(&format!("`{project}`")), "{body}");
    }
    assert_eq!(s.total_runs().await, 0);
}

/// Signed with another secret, signed but altered after, not signed at all: 401 naming the
/// header, and nothing queued.
#[tokio::test]
async fn a_delivery_with_a_bad_signature_is_401() {
    let s = server();
    let body = github_push("main", &s.first, &s.pushed, "x").to_string();
    let signed_other = {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"not the secret").unwrap();
        mac.update(body.as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256={hex}")
    };
    let altered = body.replace("refs/heads/main", "refs/heads/evil");
    let cases = [
        (body.clone(), signed_other),
        (altered, sign(body.as_bytes())),
        (body.clone(), String::new()),
        (body.clone(), "sha256=not-hex".to_string()),
    ];
    for (i, (b, sig)) in cases.into_iter().enumerate() {
        let (status, answer) = s.deliver("web", "push", b.into_bytes(), &sig, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "case {i}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains("X-Hub-Signature-256"), "case {i}: {answer}");
    }
    assert_eq!(s.total_runs().await, 0);
    assert!(s.statuses.received().is_empty(), "statuses were sent for nothing");
}

/// Over the limit: refused on its Content-Length before a byte of the body is read, and
/// without one (a chunked body) once the limit is read.
#[tokio::test]
async fn a_delivery_over_the_limit_is_413() {
    let s = server();
    let declared = TOO_BIG.to_string();
    let (status, body) =
        s.deliver("web", "push", b"{".to_vec(), &sign(b""), &[(header::CONTENT_LENGTH.as_str(), &declared)]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("larger than the limit"), "{body}");
    let (status, body) = s.deliver("web", "push", vec![b' '; TOO_BIG], &sign(b""), &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(s.total_runs().await, 0);
}

/// Signed, but not the JSON GitHub documents for its event: 400 saying where it went wrong.
#[tokio::test]
async fn a_signed_delivery_that_is_not_the_documented_json_is_400() {
    let s = server();
    for body in [&b"{}"[..], b"not json"] {
        let (status, answer) = s.deliver("web", "push", body.to_vec(), &sign(body), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(!answer["error"].as_str().unwrap().is_empty(), "{answer}");
    }
    assert_eq!(s.total_runs().await, 0);
}

/// A push of a branch the project builds is queued (202, with the run's id, its head
/// checked against the repository); events that build nothing are accepted too, with the
/// reason, and queue nothing; the same delivery again is 200 `duplicate`.
#[tokio::test]
async fn an_accepted_delivery_is_202() {
    let s = server();
    let ping = json!({"zen": "Keep it logically awesome.", "hook_id": 1}).to_string();
    let (status, body) = s.deliver("web", "ping", ping.clone().into_bytes(), &sign(ping.as_bytes()), &[]).await;
    assert_eq!((status, body["queued"].as_bool()), (StatusCode::ACCEPTED, Some(false)), "{body}");
    let mut deleted = github_push("feature/x", &s.pushed, "0000000000000000000000000000000000000000", "x");
    deleted["deleted"] = json!(true);
    deleted["head_commit"] = Value::Null;
    let d = deleted.to_string();
    let (status, body) = s.deliver("web", "push", d.clone().into_bytes(), &sign(d.as_bytes()), &[]).await;
    assert_eq!((status, body["queued"].as_bool()), (StatusCode::ACCEPTED, Some(false)), "{body}");
    assert!(body["reason"].as_str().unwrap().contains("deleted"), "{body}");
    let (status, body) = s.push("experiment", "filtered-1").await;
    assert_eq!((status, body["queued"].as_bool()), (StatusCode::ACCEPTED, Some(false)), "{body}");
    assert!(body["reason"].as_str().unwrap().contains("experiment"), "{body}");
    assert_eq!(s.total_runs().await, 0, "an event that builds nothing queued a run");
    assert!(s.statuses.received().is_empty(), "statuses were sent for nothing");

    let (status, body) = s.push("main", "good-1").await;
    assert_eq!((status, body["queued"].as_bool()), (StatusCode::ACCEPTED, Some(true)), "{body}");
    assert_eq!(body["head_checked"].as_bool(), Some(true), "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let (status, run) = s.api("GET", &format!("/api/runs/{id}"), Some(API_TOKEN), None).await;
    assert_eq!((status, run["status"].as_str()), (StatusCode::OK, Some("queued")), "{run}");
    assert_eq!(run["trigger"]["commit_id"].as_str(), Some(s.pushed.as_str()), "{run}");
    let (status, again) = s.push("main", "good-1").await;
    assert_eq!((status, again["duplicate"].as_bool(), again["id"].as_str()), (StatusCode::OK, Some(true), Some(&*id)));
    assert_eq!(s.total_runs().await, 1);
}

/// The endpoints behind the token: without it or with another one 401 (JSON, nothing done),
/// with it the endpoint's own answer.
#[tokio::test]
async fn the_api_token_is_required_where_the_api_needs_it() {
    let s = server();
    let run = json!({"project": "site"});
    for token in [None, Some("not-the-token"), Some("")] {
        let (status, body) = s.api("POST", "/api/runs", token, Some(run.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}: {body}");
        assert!(body["error"].is_string(), "{body}");
        let (status, body) = s.api("GET", "/api/projects/site/files", token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}: {body}");
    }
    assert_eq!(s.total_runs().await, 0);
    let (status, body) = s.api("GET", "/api/projects/site/files", Some(API_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["services"]["name"].as_str(), Some("codeship-services.yml"), "{body}");
    let (status, body) = s.api("POST", "/api/runs", Some(API_TOKEN), Some(run)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body["id"].is_string(), "{body}");
    // A repository project's runs come from its forge, not from POST /api/runs.
    let (status, body) = s.api("POST", "/api/runs", Some(API_TOKEN), Some(json!({"project": "web"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // What the public may read needs no token.
    let (status, body) = s.api("GET", "/api/projects", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["projects"], json!([{"name": "web", "kind": "repo"}, {"name": "site", "kind": "folder"}]));
    assert_eq!(s.total_runs().await, 1);
}

/// The studio's validation: files that do not parse, or hold a key Codeship does not know,
/// are answered 200 with diagnostics (an error, a warning) that name the file, line and column; a request that is
/// not the endpoint's JSON is the error.
#[tokio::test]
async fn validation_errors_have_positions() {
    let s = server();
    let steps = "- name: hi\n  service: app\n  command: echo hi\n";
    let (status, report) = s
        .api(
            "POST",
            "/api/validate",
            None,
            Some(json!({"services": "app:\n  image: busybox\n  bogus_key: 1\n", "steps": steps})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["warnings"].as_u64(), Some(1), "{report}");
    let d = &report["diagnostics"][0];
    assert_eq!(
        (d["file"].as_str(), d["line"].as_u64(), d["column"].as_u64()),
        (Some("codeship-services.yml"), Some(3), Some(3)),
        "{report}"
    );
    assert!(d["message"].as_str().unwrap().contains("bogus_key"), "{report}");
    let (status, report) = s
        .api("POST", "/api/validate", None, Some(json!({"services": "app:\n  image: [busybox\n", "steps": steps})))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(report["errors"].as_u64().unwrap() >= 1, "{report}");
    let d = &report["diagnostics"][0];
    assert_eq!(d["file"].as_str(), Some("codeship-services.yml"), "{report}");
    assert!(d["line"].as_u64().unwrap() >= 2 && d["column"].as_u64().unwrap() >= 1, "{report}");
    let (status, body) = s.api("POST", "/api/validate", None, Some(json!({"services": 1}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}
