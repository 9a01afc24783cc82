//! The forge building blocks of issue 11: webhook verification, payload parsing and commit
//! statuses. No forge runs here: the payloads under `tests/fixtures/forge/` are built from the
//! forges' documentation (see the README there), and a local HTTP server (`support::forge_api`)
//! stands in for the forge's status API, recording every request.

mod support;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use forge::status::{Outcome, Retry, State, StatusClient, Update};
use forge::trigger::{self, Build, CommitInfo, Event, Trigger};
use forge::verify::{self, DEFAULT_MAX_BODY_BYTES, Refused};
use forge::{Forge, Secret};
use slipway::forge;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use support::forge_api::StatusApi;

const SECRET: &str = "It's a Secret to Everybody";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forge").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    h
}

fn secret() -> Secret {
    Secret::new(SECRET).unwrap()
}

/// Headers as the forge sends them for `event`, signed with `SECRET` the way it signs.
fn signed(forge: Forge, event: &str, body: &[u8]) -> HeaderMap {
    let sig = verify::sign(SECRET, body);
    match forge {
        Forge::GitHub => headers(&[
            ("X-GitHub-Event", event),
            ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ("X-Hub-Signature-256", &format!("sha256={sig}")),
        ]),
        Forge::Gitea => headers(&[
            ("X-Gitea-Event", event),
            ("X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"),
            ("X-Gitea-Signature", &sig),
        ]),
        Forge::GitLab => headers(&[
            ("X-Gitlab-Event", event),
            ("X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"),
            ("X-Gitlab-Token", SECRET),
        ]),
    }
}

fn parse(forge: Forge, event: &str, file: &str) -> Trigger {
    let body = fixture(file);
    let h = signed(forge, event, &body);
    let v = verify::verify(forge, &secret(), &h, &body, DEFAULT_MAX_BODY_BYTES).expect("signed delivery");
    trigger::parse(&v).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn build(t: Trigger) -> Build {
    match t {
        Trigger::Build(b) => *b,
        other => panic!("expected a build, got {other:?}"),
    }
}

// ---- verification ----

#[test]
fn github_signature_matches_the_example_in_githubs_documentation() {
    // "Validating webhook deliveries" gives this secret, payload and signature as a test vector.
    assert_eq!(
        verify::sign(SECRET, b"Hello, World!"),
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    let h = headers(&[
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
    ]);
    let v = verify::verify(Forge::GitHub, &secret(), &h, b"Hello, World!", 1024).unwrap();
    assert_eq!((v.event.as_str(), v.delivery), ("push", None));
}

#[test]
fn a_wrong_missing_or_malformed_signature_is_refused_with_401() {
    let body = fixture("github/push.json");
    let good = verify::sign(SECRET, &body);
    let other = verify::sign("another secret", &body);
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let cases: Vec<(HeaderMap, &[u8], Refused)> = vec![
        (
            headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &format!("sha256={other}"))]),
            &body,
            Refused::WrongSignature { header: "X-Hub-Signature-256" },
        ),
        (
            headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &format!("sha256={good}"))]),
            &tampered,
            Refused::WrongSignature { header: "X-Hub-Signature-256" },
        ),
        (headers(&[("X-GitHub-Event", "push")]), &body, Refused::MissingSignature { header: "X-Hub-Signature-256" }),
        (
            // The legacy SHA-1 header alone is not enough.
            headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature", "sha1=0123")]),
            &body,
            Refused::MissingSignature { header: "X-Hub-Signature-256" },
        ),
        (
            headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &good)]),
            &body,
            Refused::MalformedSignature { header: "X-Hub-Signature-256" },
        ),
        (
            headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &format!("sha256=+{}", &good[1..]))]),
            &body,
            Refused::MalformedSignature { header: "X-Hub-Signature-256" },
        ),
    ];
    for (h, b, want) in cases {
        let got = verify::verify(Forge::GitHub, &secret(), &h, b, DEFAULT_MAX_BODY_BYTES).unwrap_err();
        assert_eq!(got, want);
        assert_eq!(got.status(), StatusCode::UNAUTHORIZED);
        assert!(!got.to_string().contains(SECRET) && !got.to_string().contains(&good), "{got}");
    }
}

#[test]
fn a_body_over_the_limit_is_refused_with_413_before_its_signature_is_checked() {
    let body = vec![b' '; 1025];
    let h = headers(&[
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", &format!("sha256={}", verify::sign(SECRET, &body))),
    ]);
    let err = verify::verify(Forge::GitHub, &secret(), &h, &body, 1024).unwrap_err();
    assert_eq!(err, Refused::TooLarge { limit: 1024, size: 1025 });
    assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Unsigned, too: the size is checked first, so a huge unsigned body is not even hashed.
    let err = verify::verify(Forge::GitHub, &secret(), &HeaderMap::new(), &body, 1024).unwrap_err();
    assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(verify::verify(Forge::GitHub, &secret(), &h, &body, 1025).is_ok());
}

#[test]
fn gitea_and_forgejo_signatures_are_plain_hex() {
    let body = fixture("gitea/push.json");
    let sig = verify::sign(SECRET, &body);
    for (sig_header, event_header, delivery_header) in [
        ("X-Gitea-Signature", "X-Gitea-Event", "X-Gitea-Delivery"),
        ("X-Forgejo-Signature", "X-Forgejo-Event", "X-Forgejo-Delivery"),
    ] {
        let h = headers(&[(sig_header, &sig), (event_header, "push"), (delivery_header, "d-1")]);
        let v = verify::verify(Forge::Gitea, &secret(), &h, &body, DEFAULT_MAX_BODY_BYTES).unwrap();
        assert_eq!((v.event.as_str(), v.delivery.as_deref()), ("push", Some("d-1")));
        let wrong = headers(&[(sig_header, &verify::sign("x", &body)), (event_header, "push")]);
        let err = verify::verify(Forge::Gitea, &secret(), &wrong, &body, DEFAULT_MAX_BODY_BYTES).unwrap_err();
        assert_eq!(err, Refused::WrongSignature { header: sig_header });
    }
    let unsigned = headers(&[("X-Gitea-Event", "push")]);
    let err = verify::verify(Forge::Gitea, &secret(), &unsigned, &body, DEFAULT_MAX_BODY_BYTES).unwrap_err();
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn gitlab_token_must_equal_the_secret() {
    let body = fixture("gitlab/push.json");
    for (token, ok) in
        [(SECRET, true), ("It's a Secret to Everybod", false), ("", false), ("x".repeat(400).as_str(), false)]
    {
        let h = headers(&[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", token)]);
        let got = verify::verify(Forge::GitLab, &secret(), &h, &body, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(got.is_ok(), ok, "token {token:?}: {got:?}");
    }
    let none = headers(&[("X-Gitlab-Event", "Push Hook")]);
    let err = verify::verify(Forge::GitLab, &secret(), &none, &body, DEFAULT_MAX_BODY_BYTES).unwrap_err();
    assert_eq!(err, Refused::MissingSignature { header: "X-Gitlab-Token" });
}

#[test]
fn gitlab_prefers_the_idempotency_key_which_survives_retries() {
    let h = headers(&[
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Token", SECRET),
        ("X-Gitlab-Event-UUID", "event-uuid"),
        ("Idempotency-Key", "908a6d9e-45fd-46c8-97e6-c4f350f219dd"),
    ]);
    let v = verify::verify(Forge::GitLab, &secret(), &h, b"{}", 10).unwrap();
    assert_eq!(v.delivery.as_deref(), Some("908a6d9e-45fd-46c8-97e6-c4f350f219dd"));
}

#[test]
fn a_signed_delivery_without_an_event_header_is_a_bad_request() {
    let h = headers(&[("X-Gitlab-Token", SECRET)]);
    let err = verify::verify(Forge::GitLab, &secret(), &h, b"{}", 10).unwrap_err();
    assert_eq!(err, Refused::MissingEvent { header: "X-Gitlab-Event" });
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn secrets_are_never_empty_and_never_printed() {
    assert!(Secret::new("").is_none());
    let s = secret();
    assert_eq!(format!("{s:?}"), "Secret(***)");
    assert_eq!(s.mask(&format!("a {SECRET} b")), "a *** b");
}

// ---- parsing ----

#[test]
fn github_push_to_a_branch() {
    let b = build(parse(Forge::GitHub, "push", "github/push.json"));
    assert_eq!(b.event, Event::Branch("main".into()));
    assert_eq!(b.branch(), "main");
    assert_eq!(b.commit_id, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
    assert_eq!(b.fetch_ref, "refs/heads/main");
    assert_eq!((b.repo_name.as_str(), b.repo_full_name.as_str()), ("hello-world", "octo-org/hello-world"));
    assert_eq!(
        b.commit,
        Some(CommitInfo {
            message: "Update README.md\n\nExplain how to run the tests.".into(),
            committer_name: "Mona Lisa".into(),
            committer_email: "monalisa@github.com".into(),
        })
    );
    assert_eq!(b.username.as_deref(), Some("monalisa"));
    assert_eq!(b.ci_pull_request(), "false");
    assert_eq!(b.ci_pr_number(), 0);
    assert_eq!(b.delivery.as_deref(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
    assert!(b.commit_url.unwrap().ends_with("/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"));
    assert_eq!(b.before.as_deref(), Some("6113728f27ae82c7b1a177c8d03f9e96e0adf246"));
}

/// The head a push moved its ref from tells a late delivery it is the older push; a new
/// ref (all zeros) has none.
#[test]
fn each_forge_names_the_head_a_push_moved_from() {
    for (forge, event, file, want) in [
        (Forge::GitHub, "push", "github/push.json", Some("6113728f27ae82c7b1a177c8d03f9e96e0adf246")),
        (Forge::GitHub, "push", "github/push_tag.json", None),
        (Forge::Gitea, "push", "gitea/push.json", Some("28e1879d029cb852e4844d9c718537df08844e03")),
        (Forge::GitLab, "Push Hook", "gitlab/push.json", Some("95790bf891e76fee5e1747ab589903a6a1f80f22")),
        (Forge::GitLab, "Tag Push Hook", "gitlab/tag_push.json", None),
        (
            Forge::GitLab,
            "Merge Request Hook",
            "gitlab/merge_request_update_commits.json",
            Some("b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327"),
        ),
        (Forge::GitLab, "Merge Request Hook", "gitlab/merge_request_open.json", None),
        (Forge::GitHub, "pull_request", "github/pull_request_opened.json", None),
    ] {
        assert_eq!(build(parse(forge, event, file)).before.as_deref(), want, "{file}");
    }
}

#[test]
fn github_push_of_a_tag_builds_with_the_tag_as_branch() {
    let b = build(parse(Forge::GitHub, "push", "github/push_tag.json"));
    assert_eq!(b.event, Event::Tag("v1.2.0".into()));
    assert_eq!(b.branch(), "v1.2.0");
    assert_eq!(b.fetch_ref, "refs/tags/v1.2.0");
    assert_eq!(b.username.as_deref(), Some("web-flow"), "the committer's login, as the event names it");
}

#[test]
fn deleting_a_branch_builds_nothing() {
    assert_eq!(
        parse(Forge::GitHub, "push", "github/push_deleted.json"),
        Trigger::Deleted { git_ref: "refs/heads/feature/old".into() }
    );
    assert_eq!(
        parse(Forge::GitLab, "Push Hook", "gitlab/push_deleted.json"),
        Trigger::Deleted { git_ref: "refs/heads/feature/old".into() }
    );
}

#[test]
fn github_pull_request_builds_its_head_commit() {
    let b = build(parse(Forge::GitHub, "pull_request", "github/pull_request_opened.json"));
    assert_eq!(
        b.event,
        Event::PullRequest {
            number: 42,
            url: Some("https://github.com/octo-org/hello-world/pull/42".into()),
            head_branch: "feature/ci".into()
        }
    );
    assert_eq!(b.commit_id, "8a4f2c9b1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a");
    assert_eq!(b.fetch_ref, "refs/pull/42/head");
    assert_eq!(b.branch(), "feature/ci");
    assert_eq!(b.ci_pull_request(), "https://github.com/octo-org/hello-world/pull/42");
    assert_eq!(b.ci_pr_number(), 42);
    assert_eq!(b.commit, None, "the event has no commit message: the run reads it from the commit");
    assert_eq!(b.username.as_deref(), Some("hubot"));
}

#[test]
fn other_events_and_actions_are_ignored_with_a_reason() {
    for (forge, event, file, reason) in [
        (Forge::GitHub, "pull_request", "github/pull_request_closed.json", "pull request #42 `closed`"),
        (Forge::GitHub, "issues", "github/issues.json", "`issues` events start no run"),
        (Forge::GitHub, "ping", "github/issues.json", "ping"),
        (Forge::GitLab, "Merge Request Hook", "gitlab/merge_request_update_title.json", "merge request !1 `update`"),
        (Forge::GitLab, "Issue Hook", "gitlab/push.json", "`Issue Hook` events"),
    ] {
        match parse(forge, event, file) {
            Trigger::Ignored(why) => assert!(why.contains(reason), "{file}: {why}"),
            other => panic!("{file}: {other:?}"),
        }
    }
}

#[test]
fn gitlab_push_takes_the_checkout_sha_and_its_commit() {
    let b = build(parse(Forge::GitLab, "Push Hook", "gitlab/push.json"));
    assert_eq!(b.event, Event::Branch("master".into()));
    assert_eq!(b.commit_id, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
    assert_eq!((b.repo_name.as_str(), b.repo_full_name.as_str()), ("Diaspora", "mike/diaspora"));
    let c = b.commit.unwrap();
    assert_eq!((c.message.as_str(), c.committer_name.as_str()), ("fixed readme", "GitLab dev user"));
    assert_eq!(b.username.as_deref(), Some("jsmith"));
    assert_eq!(b.delivery.as_deref(), Some("13792a34-cac6-4fda-95a8-c58e00a3954e"));
}

#[test]
fn gitlab_tag_push() {
    let b = build(parse(Forge::GitLab, "Tag Push Hook", "gitlab/tag_push.json"));
    assert_eq!(b.event, Event::Tag("v1.0.0".into()));
    assert_eq!(b.commit_id, "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7");
    assert_eq!(b.commit, None, "a tag push lists no commits");
}

#[test]
fn gitlab_merge_request_opened_or_given_commits_builds_last_commit() {
    for file in ["gitlab/merge_request_open.json", "gitlab/merge_request_update_commits.json"] {
        let b = build(parse(Forge::GitLab, "Merge Request Hook", file));
        assert_eq!(b.commit_id, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "{file}");
        assert_eq!(b.fetch_ref, "refs/merge-requests/1/head");
        assert_eq!(b.branch(), "ms-viewport");
        assert_eq!(b.ci_pull_request(), "http://example.com/diaspora/merge_requests/1");
        assert_eq!(b.repo_full_name, "gitlabhq/gitlab-test");
        assert_eq!(b.username.as_deref(), Some("root"));
        assert_eq!(b.commit.unwrap().message, "fixed readme");
    }
}

#[test]
fn gitea_push_without_head_commit_uses_the_commit_named_after() {
    let b = build(parse(Forge::Gitea, "push", "gitea/push.json"));
    assert_eq!(b.event, Event::Branch("develop".into()));
    assert_eq!(b.commit_id, "bffeb74224043ba2feb48d137756c8a9331c449a");
    assert_eq!(b.repo_full_name, "gitea/webhooks");
    let c = b.commit.unwrap();
    assert_eq!((c.message.as_str(), c.committer_email.as_str()), ("Webhooks Yay!", "someone@gitea.io"));
    assert_eq!(b.username.as_deref(), Some("gitea"));
    assert_eq!(b.delivery.as_deref(), Some("f6266f16-1bf3-46a5-9ea4-602e06ead473"));
}

#[test]
fn gitea_pull_request_synchronized() {
    let b = build(parse(Forge::Gitea, "pull_request", "gitea/pull_request.json"));
    assert_eq!(b.commit_id, "5f3a7c1e9b2d4f6a8c0e2a4c6e8a0c2e4a6c8e0a");
    assert_eq!(b.fetch_ref, "refs/pull/3/head");
    assert_eq!(b.ci_pull_request(), "http://localhost:3000/gitea/webhooks/pulls/3");
    assert_eq!(b.username.as_deref(), Some("alice"));
}

#[test]
fn a_signed_body_that_is_not_the_documented_json_is_an_error_with_a_position() {
    for body in [&b"{\"ref\": \"refs/heads/main\",\n \"after\": 7}"[..], b"not json", b"{\"ref\": \"x\"}"] {
        let h = signed(Forge::GitHub, "push", body);
        let v = verify::verify(Forge::GitHub, &secret(), &h, body, DEFAULT_MAX_BODY_BYTES).unwrap();
        let err = trigger::parse(&v).unwrap_err().to_string();
        assert!(err.contains("github `push` payload") && err.contains("line"), "{err}");
    }
}

// ---- commit statuses, against a local stand-in for the forge API ----

/// A stand-in for the forge's status API (`support::forge_api`): answers each request with the
/// next code from `answers` (201 once they run out) and records what it received.
fn receiver(answers: Vec<(u16, &'static str)>) -> StatusApi {
    StatusApi::start(answers, 201)
}

const TOKEN: &str = "ghp_s3cr3tT0k3nThatMustNotLeak";
const SHA: &str = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";

fn fast_retry() -> Retry {
    Retry { attempts: 4, first_delay: Duration::from_millis(10), timeout: Duration::from_secs(5) }
}

fn client(forge: Forge, api_url: &str) -> StatusClient {
    StatusClient::new(forge, api_url, "https://ci.example/", Secret::new(TOKEN).unwrap(), fast_retry())
}

fn update(repo: &str, state: State) -> Update {
    Update {
        repo: repo.into(),
        sha: SHA.into(),
        state,
        run_id: "17".into(),
        project: "web".into(),
        pull_request: false,
    }
}

#[test]
fn github_statuses_arrive_in_order_with_the_documented_request() {
    let r = receiver(vec![]);
    let c = client(Forge::GitHub, &r.url);
    for s in [State::Pending, State::Running, State::Success] {
        assert_eq!(c.post(&update("octo-org/hello-world", s)), Outcome::Sent { state: s, attempts: 1 });
    }
    let got = r.received();
    let states: Vec<_> = got.iter().map(|q| q.body["state"].as_str().unwrap().to_string()).collect();
    assert_eq!(states, ["pending", "pending", "success"], "GitHub has no `running`");
    for q in &got {
        assert_eq!(q.method, "POST");
        assert_eq!(q.path, format!("/repos/octo-org/hello-world/statuses/{SHA}"));
        assert_eq!(q.header("Authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(q.header("Accept"), Some("application/vnd.github+json"));
        assert_eq!(q.header("X-GitHub-Api-Version"), Some("2022-11-28"));
        assert!(q.header("User-Agent").unwrap().starts_with("slipway/"));
        assert_eq!(q.body["context"], "slipway/web");
        assert_eq!(q.body["target_url"], "https://ci.example/#/runs/17");
    }
    assert_eq!(got[1].body["description"], "Running on Slipway");
}

#[test]
fn gitea_statuses_use_its_token_header() {
    let r = receiver(vec![]);
    let c = client(Forge::Gitea, &format!("{}/api/v1", r.url));
    for s in [State::Pending, State::Failure] {
        assert!(matches!(c.post(&update("gitea/webhooks", s)), Outcome::Sent { .. }));
    }
    let got = r.received();
    assert_eq!(got[0].path, format!("/api/v1/repos/gitea/webhooks/statuses/{SHA}"));
    assert_eq!(got[0].header("Authorization"), Some(format!("token {TOKEN}").as_str()));
    assert_eq!(got[0].body["context"], "slipway/web");
    let states: Vec<_> = got.iter().map(|q| q.body["state"].clone()).collect();
    assert_eq!(states, ["pending", "failure"]);
}

#[test]
fn gitlab_statuses_name_the_project_by_its_encoded_path() {
    let r = receiver(vec![]);
    let c = client(Forge::GitLab, &format!("{}/api/v4", r.url));
    for s in [State::Pending, State::Running, State::Failure, State::Canceled] {
        assert!(matches!(c.post(&update("group/sub group/diaspora", s)), Outcome::Sent { .. }));
    }
    let got = r.received();
    assert_eq!(got[0].path, format!("/api/v4/projects/group%2Fsub%20group%2Fdiaspora/statuses/{SHA}"));
    assert_eq!(got[0].header("PRIVATE-TOKEN"), Some(TOKEN));
    assert_eq!(got[0].header("Authorization"), None);
    assert_eq!(got[0].body["name"], "slipway/web");
    let states: Vec<_> = got.iter().map(|q| q.body["state"].clone()).collect();
    assert_eq!(states, ["pending", "running", "failed", "canceled"]);
}

#[test]
fn a_500_is_retried_then_the_status_goes_through() {
    let r = receiver(vec![(500, "{\"message\":\"boom\"}"), (502, "bad gateway")]);
    let c = client(Forge::GitHub, &r.url);
    assert_eq!(c.post(&update("o/r", State::Success)), Outcome::Sent { state: State::Success, attempts: 3 });
    assert_eq!(r.received().len(), 3);
}

#[test]
fn a_forge_that_keeps_failing_is_reported_with_the_token_masked() {
    // The forge echoes the token back in its error, as a misconfigured proxy might.
    let echo: &'static str = Box::leak(format!("{{\"message\":\"bad token {TOKEN}\"}}").into_boxed_str());
    let r = receiver(vec![(500, echo); 4]);
    let c = client(Forge::GitHub, &r.url);
    let started = std::time::Instant::now();
    let out = c.post(&update("o/r", State::Failure));
    let Outcome::Failed { state, attempts, reason } = &out else { panic!("{out:?}") };
    assert_eq!((*state, *attempts), (State::Failure, 4));
    assert!(reason.contains("HTTP 500") && reason.contains("bad token ***"), "{reason}");
    assert!(!out.to_string().contains(TOKEN), "{out}");
    assert_eq!(r.received().len(), 4);
    // 10 + 20 + 40 ms of backoff.
    assert!(started.elapsed() >= Duration::from_millis(70), "{:?}", started.elapsed());
}

#[test]
fn a_client_error_is_not_retried() {
    let r = receiver(vec![(422, "{\"message\":\"No commit found for SHA\"}")]);
    let c = client(Forge::GitHub, &r.url);
    let out = c.post(&update("o/r", State::Pending));
    assert!(
        matches!(&out, Outcome::Failed { attempts: 1, reason, .. } if reason.contains("HTTP 422") && reason.contains("No commit found")),
        "{out:?}"
    );
    assert_eq!(r.received().len(), 1);
}

#[test]
fn an_unreachable_forge_is_an_outcome_not_a_panic() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let c = client(Forge::GitLab, &format!("http://127.0.0.1:{port}/api/v4"));
    let out = c.post(&update("a/b", State::Running));
    assert!(matches!(&out, Outcome::Failed { attempts: 4, .. }), "{out:?}");
    let bad = client(Forge::GitHub, "not a url");
    assert!(matches!(bad.post(&update("a/b", State::Running)), Outcome::Failed { .. }));
}

#[tokio::test]
async fn send_runs_on_a_blocking_thread() {
    let r = receiver(vec![]);
    let c = Arc::new(client(Forge::GitHub, &r.url));
    let out = c.clone().send(update("o/r", State::Pending)).await;
    assert_eq!(out, Outcome::Sent { state: State::Pending, attempts: 1 });
}

// ---- `[[project]]` in slipway.toml ----

use slipway::config::{self, BranchFilter, ProjectSource, RepoProject, SecretRef};

fn parse_config(text: &str) -> Result<Vec<ProjectSource>, String> {
    config::parse(Path::new("/etc/slipway/slipway.toml"), text).map_err(|e| e.to_string())
}

fn repo_project(text: &str) -> RepoProject {
    match parse_config(text).unwrap().pop().unwrap() {
        ProjectSource::Repo(r) => *r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn config_reads_repository_projects_beside_folder_projects() {
    let projects = parse_config(
        r#"
[[project]]
name = "sample"
path = "examples/sample"
key = "keys/sample.aes"

[[project]]
name = "web"
repo = "https://github.com/acme/web.git"
branches = ["main", "release/*"]
exclude = ["release/old-*"]
webhook_secret_file = "secrets/web.hook"
token_env = "WEB_TOKEN"
poll = "2m"
keep_workspaces = 3
git_timeout = "45m"
"#,
    )
    .unwrap();
    assert_eq!(
        projects[0],
        ProjectSource::Folder {
            name: "sample".into(),
            path: "/etc/slipway/examples/sample".into(),
            key: Some("/etc/slipway/keys/sample.aes".into())
        }
    );
    let ProjectSource::Repo(web) = &projects[1] else { panic!("{:?}", projects[1]) };
    assert_eq!(web.repo, "https://github.com/acme/web.git");
    assert_eq!(web.forge, Some(Forge::GitHub), "inferred from github.com");
    assert_eq!(web.api_url.as_deref(), Some("https://api.github.com"));
    assert_eq!(web.repo_full_name.as_deref(), Some("acme/web"));
    assert_eq!(web.webhook_secret, Some(SecretRef::File("/etc/slipway/secrets/web.hook".into())));
    assert_eq!(web.token, Some(SecretRef::Env("WEB_TOKEN".into())));
    assert_eq!(web.poll, Some(Duration::from_secs(120)));
    assert_eq!(web.keep_workspaces, 3);
    assert_eq!(web.git_timeout, Duration::from_secs(45 * 60));
    for (branch, builds) in
        [("main", true), ("release/1.2", true), ("release/old-1", false), ("feature/x", false), ("mainline", false)]
    {
        assert_eq!(web.filter.matches(branch), builds, "{branch}");
    }
    assert!(BranchFilter::default().matches("anything/at/all"));
}

#[test]
fn config_defaults_the_api_per_forge_and_host() {
    for (repo, forge, api, full) in [
        ("git@github.example:acme/web.git", "github", "https://github.example/api/v3", "acme/web"),
        ("https://gitlab.com/group/sub/proj.git", "gitlab", "https://gitlab.com/api/v4", "group/sub/proj"),
        ("ssh://git@gitlab.example:2222/g/p.git", "gitlab", "https://gitlab.example/api/v4", "g/p"),
        ("https://git.example:3000/alice/app", "gitea", "https://git.example:3000/api/v1", "alice/app"),
        ("https://codeberg.org/alice/app.git", "forgejo", "https://codeberg.org/api/v1", "alice/app"),
    ] {
        let p = repo_project(&format!("[[project]]\nname = \"p\"\nrepo = \"{repo}\"\nforge = \"{forge}\"\n"));
        assert_eq!(p.api_url.as_deref(), Some(api), "{repo}");
        assert_eq!(p.repo_full_name.as_deref(), Some(full), "{repo}");
    }
    let p = repo_project(
        "[[project]]\nname = \"p\"\nrepo = \"https://ghe.example/a/b\"\nforge = \"github\"\napi_url = \"https://api.ghe.example/\"\n",
    );
    assert_eq!(p.api_url.as_deref(), Some("https://api.ghe.example"));
    // A local path: builds and polls, no forge.
    let p = repo_project("[[project]]\nname = \"p\"\nrepo = \"/srv/git/app.git\"\n");
    assert_eq!((p.forge, p.api_url, p.repo_full_name), (None, None, None));
    assert_eq!(p.git_timeout, config::DEFAULT_GIT_TIMEOUT, "10 minutes unless set");
}

#[test]
fn config_refuses_an_inline_secret_and_says_to_use_a_file() {
    for key in ["webhook_secret", "token"] {
        let text = format!("[[project]]\nname = \"web\"\nrepo = \"https://github.com/a/b\"\n{key} = \"hunter2\"\n");
        let err = parse_config(&text).unwrap_err();
        assert!(err.starts_with("/etc/slipway/slipway.toml:4:"), "{err}");
        assert!(err.contains(&format!("`{key}`")) && err.contains(&format!("{key}_file")), "{err}");
        assert!(!err.contains("hunter2"), "the error repeats the secret: {err}");
    }
}

#[test]
fn config_errors_name_the_file_the_line_and_the_key() {
    let head = "[[project]]\nname = \"web\"\n";
    for (body, want) in [
        ("repo = \"https://github.com/a/b\"\npath = \"x\"\n", ":4:8: project `web`: has both `path`"),
        ("", ":2:8: project `web`: needs `path` (a folder) or `repo`"),
        ("path = \"x\"\npoll = \"60s\"\n", ":4:8: project `web`: `poll` applies to repository projects"),
        ("repo = \"https://github.com/a/b\"\nforge = \"bitbucket\"\n", ":4:9: project `web`: `forge = \"bitbucket\"`"),
        (
            "repo = \"https://github.com/a/b\"\npoll = \"60\"\n",
            ":4:8: project `web`: `poll = \"60\"`: expected a duration",
        ),
        ("repo = \"https://github.com/a/b\"\npoll = \"0s\"\n", "at least 1s"),
        (
            "repo = \"https://github.com/a/b\"\ngit_timeout = \"30\"\n",
            ":4:15: project `web`: `git_timeout = \"30\"`: expected a duration",
        ),
        (
            "repo = \"https://github.com/a/b\"\ngit_timeout = \"90s\"\n",
            ":4:15: project `web`: `git_timeout` is from 2m to 24h",
        ),
        ("path = \"x\"\ngit_timeout = \"30m\"\n", "`git_timeout` applies to repository projects"),
        ("repo = \"https://github.com/a/b\"\nkeep_workspaces = -1\n", ":4:19: project `web`: `keep_workspaces`"),
        (
            "repo = \"https://github.com/a/b\"\ntoken_file = \"t\"\ntoken_env = \"T\"\n",
            ":5:13: project `web`: set `token_file` or `token_env`, not both",
        ),
        ("repo = \"https://github.com/a/b\"\ntoken_env = \"A-B\"\n", "not an environment variable name"),
        ("repo = \"https://u:pw@github.com/a/b\"\n", ":3:8: project `web`: the repo URL carries credentials"),
        // A token as the user name (a form GitHub documents) reached git's error messages.
        ("repo = \"https://ghp_abc123@github.com/a/b\"\n", "the repo URL carries credentials"),
        ("repo = \"http://git.example/a/b\"\nforge = \"gitea\"\ntoken_file = \"t\"\n", "unencrypted over http://"),
        (
            "repo = \"https://git.example/a/b\"\nforge = \"gitea\"\napi_url = \"http://git.example/api/v1\"\ntoken_file = \"t\"\n",
            ":5:11: project `web`: `api_url = \"http://git.example/api/v1\"`: the token would travel unencrypted over http://",
        ),
        ("repo = \"https://git.example/a/b\"\nwebhook_secret_file = \"s\"\n", "need `forge = \"github\"`"),
        ("repo = \"/srv/app.git\"\nforge = \"gitea\"\ntoken_file = \"t\"\n", "statuses need `api_url`"),
        ("repo = \"-oProxyCommand=x\"\n", "is not a clone URL"),
        ("repo = \"https://github.com/a/b\"\nbranches = [\"\"]\n", "empty branch pattern"),
        ("repo = \"https://github.com/a/b\"\nbranch = [\"main\"]\n", "unknown field `branch`"),
    ] {
        let err = parse_config(&format!("{head}{body}")).unwrap_err();
        assert!(err.starts_with("/etc/slipway/slipway.toml:"), "{err}");
        assert!(err.contains(want), "{body:?}: got {err}");
    }
    for (text, want) in [
        ("[[project]]\nname = \"a b\"\npath = \"x\"\n", ":2:8: `name = \"a b\"`"),
        (
            "[[project]]\nname = \"a\"\npath = \"x\"\n[[project]]\nname = \"a\"\nrepo = \"/r\"\n",
            "two projects are named `a`",
        ),
    ] {
        let err = parse_config(text).unwrap_err();
        assert!(err.contains(want), "{err}");
    }
    // A local http forge for tests and a token on loopback are fine, IPv6 loopback with a
    // port included (its host was read as `[`, so it was refused).
    parse_config(&format!("{head}repo = \"http://127.0.0.1:3000/a/b\"\nforge = \"gitea\"\ntoken_file = \"t\"\n"))
        .unwrap();
    parse_config(&format!("{head}repo = \"http://[::1]:3000/a/b\"\nforge = \"gitea\"\ntoken_file = \"t\"\n")).unwrap();
    parse_config(&format!(
        "{head}repo = \"https://git.example/a/b\"\nforge = \"gitea\"\napi_url = \"http://localhost:3000/api/v1\"\ntoken_file = \"t\"\n"
    ))
    .unwrap();
    // Without a token nothing is sent to the API, so http is no risk there.
    parse_config(&format!(
        "{head}repo = \"https://git.example/a/b\"\nforge = \"gitea\"\napi_url = \"http://git.example/api/v1\"\n"
    ))
    .unwrap();
}

#[test]
fn secrets_load_from_their_file_or_variable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hook"), "s3cret\n").unwrap();
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    let toml_path = dir.path().join("slipway.toml");
    std::fs::write(
        &toml_path,
        "[[project]]\nname = \"web\"\nrepo = \"https://github.com/a/b\"\nwebhook_secret_file = \"hook\"\ntoken_env = \"PATH\"\n",
    )
    .unwrap();
    let ProjectSource::Repo(web) = config::read(&toml_path).unwrap().pop().unwrap() else { panic!() };
    let secret = web.webhook_secret.as_ref().unwrap().load().unwrap();
    assert_eq!(secret.expose(), "s3cret", "the trailing newline is not part of it");
    assert_eq!(web.token.as_ref().unwrap().load().unwrap().expose(), std::env::var("PATH").unwrap());
    let empty = SecretRef::File(dir.path().join("empty")).load().unwrap_err();
    assert!(empty.contains("is empty") && empty.contains("empty"), "{empty}");
    let missing = SecretRef::File(dir.path().join("nope")).load().unwrap_err();
    assert!(missing.contains(&dir.path().join("nope").display().to_string()), "{missing}");
    let unset = SecretRef::Env("SLIPWAY_TEST_SURELY_UNSET_VARIABLE".into()).load().unwrap_err();
    assert!(unset.contains("SLIPWAY_TEST_SURELY_UNSET_VARIABLE named in the config is not set"), "{unset}");
    let err = config::read(&dir.path().join("absent.toml")).unwrap_err().to_string();
    assert!(err.contains("absent.toml: cannot read"), "{err}");
}

#[test]
fn config_accepts_every_file_the_current_parser_accepts() {
    // The shape `slipway serve --config` reads today (cli/commands/serve.rs), and an empty file.
    assert_eq!(parse_config("").unwrap(), vec![]);
    let p = parse_config("[[project]]\nname = \"sample\"\npath = \"/abs/sample\"\n").unwrap();
    assert_eq!(p, vec![ProjectSource::Folder { name: "sample".into(), path: "/abs/sample".into(), key: None }]);
}

#[test]
fn config_cancels_superseded_runs_unless_told_not_to() {
    let base = "[[project]]\nname = \"p\"\nrepo = \"https://github.com/a/b\"\n";
    assert!(repo_project(base).cancel_superseded, "on by default");
    assert!(!repo_project(&format!("{base}cancel_superseded = false\n")).cancel_superseded);
    let err = parse_config("[[project]]\nname = \"f\"\npath = \"x\"\ncancel_superseded = false\n").unwrap_err();
    assert!(err.contains(":4:21: project `f`: `cancel_superseded` applies to repository projects"), "{err}");
    let err = parse_config(&format!("{base}cancel_superseded = \"yes\"\n")).unwrap_err();
    assert!(err.contains("line 4, column 21") && err.contains("expected a boolean"), "{err}");
}

/// GitHub's webhook form offers two content types; with `application/x-www-form-urlencoded`
/// the JSON arrives percent-encoded in a `payload=` field. The answer says which setting to
/// change, not where JSON parsing stopped.
#[test]
fn a_form_encoded_delivery_is_told_to_use_application_json() {
    let json = fixture("github/push.json");
    let encoded: String = json
        .iter()
        .map(|&b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let body = format!("payload={encoded}").into_bytes();
    for content_type in [Some("application/x-www-form-urlencoded"), None] {
        let mut h = signed(Forge::GitHub, "push", &body);
        if let Some(ct) = content_type {
            h.insert("Content-Type", HeaderValue::from_static(ct));
        }
        let v = verify::verify(Forge::GitHub, &secret(), &h, &body, DEFAULT_MAX_BODY_BYTES).unwrap();
        let err = trigger::parse(&v).unwrap_err().to_string();
        assert!(err.contains("set the webhook's Content type to application/json"), "{content_type:?}: {err}");
    }
    // A JSON body of the wrong shape still says where it went wrong.
    let h = signed(Forge::GitHub, "push", b"[1]");
    let v = verify::verify(Forge::GitHub, &secret(), &h, b"[1]", DEFAULT_MAX_BODY_BYTES).unwrap();
    let err = trigger::parse(&v).unwrap_err().to_string();
    assert!(err.contains("not what the forge documents") && err.contains("line 1 column"), "{err}");
}
