//! The key a delivery's push is remembered by (issue 19: replays after retention): the same
//! for the same signed payload under any delivery id, different for any change of the fields
//! that tell one push from another: the ref, `before`, `after` (and GitLab's `checkout_sha`),
//! GitHub's `repository.pushed_at`; for a pull request its number, action, `before`, head and
//! `updated_at`. Payloads are the documented ones under `tests/fixtures/forge/`.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use forge::trigger::{self, Trigger};
use forge::verify::{self, DEFAULT_MAX_BODY_BYTES};
use forge::{Forge, Secret};
use serde_json::{Value, json};
use slipway::forge;
use std::path::Path;

const SECRET: &str = "It's a Secret to Everybody";

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forge").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The event key of `body` delivered as `event` under the delivery id `delivery`.
fn key(forge: Forge, event: &str, body: &Value, delivery: &str) -> String {
    let bytes = body.to_string().into_bytes();
    let sig = verify::sign(SECRET, &bytes);
    let pairs: Vec<(&str, String)> = match forge {
        Forge::GitHub => vec![
            ("X-GitHub-Event", event.into()),
            ("X-GitHub-Delivery", delivery.into()),
            ("X-Hub-Signature-256", format!("sha256={sig}")),
        ],
        Forge::Gitea => {
            vec![("X-Gitea-Event", event.into()), ("X-Gitea-Delivery", delivery.into()), ("X-Gitea-Signature", sig)]
        }
        Forge::GitLab => vec![
            ("X-Gitlab-Event", event.into()),
            ("X-Gitlab-Event-UUID", delivery.into()),
            ("X-Gitlab-Token", SECRET.into()),
        ],
    };
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(&v).unwrap());
    }
    let secret = Secret::new(SECRET).unwrap();
    let v = verify::verify(forge, &secret, &h, &bytes, DEFAULT_MAX_BODY_BYTES).unwrap();
    match trigger::parse(&v).unwrap() {
        Trigger::Build(b) => b.event_key,
        other => panic!("expected a build, got {other:?}"),
    }
}

/// `body` with the JSON pointer `at` set to `to` (made if missing).
fn with(body: &Value, at: &str, to: Value) -> Value {
    let mut b = body.clone();
    let (parent, field) = at.rsplit_once('/').unwrap();
    let slot = if parent.is_empty() { &mut b } else { b.pointer_mut(parent).unwrap_or_else(|| panic!("{at}")) };
    slot[field] = to;
    b
}

/// Each case: forge, event, fixture, and the fields whose change makes another push.
const CASES: &[(Forge, &str, &str, &[&str])] = &[
    (Forge::GitHub, "push", "github/push.json", &["/ref", "/before", "/after", "/repository/pushed_at"]),
    (Forge::GitHub, "push", "github/push_tag.json", &["/ref", "/before", "/after", "/repository/pushed_at"]),
    (
        Forge::GitHub,
        "pull_request",
        "github/pull_request_opened.json",
        &["/number", "/action", "/before", "/pull_request/head/sha", "/pull_request/updated_at"],
    ),
    (Forge::Gitea, "push", "gitea/push.json", &["/ref", "/before", "/after"]),
    (Forge::Gitea, "pull_request", "gitea/pull_request.json", &["/number", "/before", "/pull_request/head/sha"]),
    (Forge::GitLab, "Push Hook", "gitlab/push.json", &["/ref", "/before", "/after", "/checkout_sha"]),
    (Forge::GitLab, "Tag Push Hook", "gitlab/tag_push.json", &["/ref", "/before", "/after", "/checkout_sha"]),
    (
        Forge::GitLab,
        "Merge Request Hook",
        "gitlab/merge_request_update_commits.json",
        &[
            "/object_attributes/iid",
            "/object_attributes/oldrev",
            "/object_attributes/last_commit/id",
            "/object_attributes/updated_at",
        ],
    ),
];

#[test]
fn a_replay_has_the_same_key_and_another_push_another() {
    for (forge, event, file, fields) in CASES {
        let body = fixture(file);
        let first = key(*forge, event, &body, "delivery-1");
        assert_eq!(first.len(), 64, "{file}: {first}");
        assert_eq!(key(*forge, event, &body, "delivery-2-replayed"), first, "{file}: a new delivery id");
        for field in *fields {
            let current = body.pointer(field).cloned().unwrap_or(Value::Null);
            let other = match current {
                Value::Number(n) => json!(n.as_u64().unwrap_or(0) + 1),
                Value::String(s) if s.len() == 40 => json!(format!("{}1", &s[..39].replace('1', "2"))),
                Value::String(s) if s.starts_with("refs/") => json!(format!("{s}-other")),
                Value::String(s) if *field == "/action" => json!(if s == "opened" { "reopened" } else { "opened" }),
                Value::String(s) => json!(format!("{s}1")),
                // A field the fixture lacks (GitHub's `pushed_at`, `before` of an opened PR).
                _ => json!(if field.ends_with("pushed_at") { json!(1_765_000_000) } else { json!("5".repeat(40)) }),
            };
            let changed = with(&body, field, other.clone());
            assert_ne!(key(*forge, event, &changed, "delivery-3"), first, "{file}: {field} → {other}");
        }
    }
}

/// A push and a pull request of the same commit are different events.
#[test]
fn a_push_and_a_pull_request_of_one_commit_have_different_keys() {
    let push = fixture("github/push.json");
    let sha = push["after"].clone();
    let pr = with(&fixture("github/pull_request_opened.json"), "/pull_request/head/sha", sha);
    assert_ne!(key(Forge::GitHub, "push", &push, "a"), key(Forge::GitHub, "pull_request", &pr, "b"));
}
