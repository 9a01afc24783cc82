//! Issue 19, finding 4: a pull request from a fork is untrusted code whatever its branch is
//! called. Before, `Build::branch()` was the head branch the fork chose: a fork's pull request
//! from a branch named `main` passed `branches = ["main"]`, got `CI_BRANCH=main`, ran the
//! `tag: main` deploy step with the decrypted secret and printed it base64-encoded (masking
//! saw nothing). Now a fork's pull request gets no secret (a step that needs one fails the run
//! before any container starts, naming the setting) and runs no push step; a project can turn
//! them off, or give them secrets, only by saying so (`fork_pull_requests`).
//!
//! No forge runs here (see `support/hook_project.rs`): the deliveries are GitHub's documented
//! `pull_request` payloads, signed as GitHub signs them, and a local receiver stands in for
//! the status API. The runs use the real Docker engine and the test registry (tests/env/up.sh).

#[path = "support/hook_project.rs"]
mod hook_project;
mod support;

use base64::Engine;
use hook_project::{HookProject, docker, github_pull_request};
use serde_json::{Value, json};
use slipway::forge;
use slipway_core::crypto::{self, Format, Key};
use std::time::Duration;

const DEPLOY_TOKEN: &str = "dEpl0y-t0ken-of-acme-1337";

fn env(name: &str) -> String {
    support::env_up().into_iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("up.sh sets {name}")).1
}

struct Fixture {
    p: HookProject,
    /// The registry repository the push step pushes to.
    repo: String,
}

/// A project whose `deploy` step (only on `main` and `hotfix`) needs the decrypted
/// `DEPLOY_TOKEN`, whose `publish` push step runs on every branch, and whose `test` step needs
/// nothing; one `[[project]]` per `(name, extra keys)`, all on the same repository.
fn fixture(projects: &[(&str, &str)]) -> Fixture {
    let base = support::base_image();
    let registry = env("SLIPWAY_TEST_REGISTRY");
    let mut rand = [0u8; 4];
    getrandom::fill(&mut rand).unwrap();
    let repo = format!("slipway-forks/web-{}", rand.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let key = Key::from_bytes([0x19; 32]);
    let env_file =
        crypto::encrypt(&key, format!("DEPLOY_TOKEN={DEPLOY_TOKEN}\n").as_bytes(), Format::Aead, &[4; 16]).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        env("SLIPWAY_TEST_REGISTRY_USER"),
        env("SLIPWAY_TEST_REGISTRY_PASSWORD")
    ));
    let cfg = format!("{{\"auths\": {{\"{registry}\": {{\"auth\": \"{auth}\"}}}}}}");
    let cfg = crypto::encrypt(&key, cfg.as_bytes(), Format::Aead, &[5; 16]).unwrap();
    let services =
        format!("app:\n  image: {base}\n  encrypted_env_file: deploy.env.encrypted\nplain:\n  image: {base}\n");
    let steps = format!(
        "- name: test\n  service: plain\n  command: sh -c 'echo \"tested branch=$CI_BRANCH pr=$CI_PR_NUMBER\"'\n\
         - name: deploy\n  tag: ^(main|hotfix)$\n  service: app\n  command: sh -c 'echo \"deploy=$(printf %s \"$DEPLOY_TOKEN\" | base64)\"'\n\
         - name: publish\n  type: push\n  service: plain\n  image_name: {registry}/{repo}\n  registry: {registry}\n  \
         image_tag: \"{{{{ .Branch }}}}\"\n  encrypted_dockercfg_path: dockercfg.encrypted\n"
    );
    let env_text = String::from_utf8(env_file).unwrap();
    let cfg_text = String::from_utf8(cfg).unwrap();
    let files = [
        ("codeship-services.yml", services.as_str()),
        ("codeship-steps.yml", steps.as_str()),
        ("deploy.env.encrypted", env_text.as_str()),
        ("dockercfg.encrypted", cfg_text.as_str()),
    ];
    let with_key: Vec<(String, String)> =
        projects.iter().map(|(n, extra)| (n.to_string(), format!("key = \"web.aes\"\n{extra}"))).collect();
    let with_key: Vec<(&str, &str)> = with_key.iter().map(|(n, e)| (n.as_str(), e.as_str())).collect();
    let key_text = key.to_file_text();
    let p = HookProject::start(&files, &with_key, &[("web.aes", key_text.as_bytes())], &["--max-concurrent-runs", "2"]);
    Fixture { p, repo }
}

impl Fixture {
    fn tags(&self) -> String {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-u",
                &format!("{}:{}", env("SLIPWAY_TEST_REGISTRY_USER"), env("SLIPWAY_TEST_REGISTRY_PASSWORD")),
            ])
            .arg(format!("http://{}/v2/{}/tags/list", env("SLIPWAY_TEST_REGISTRY"), self.repo))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A pull request `number` from `head_repo`'s `head_branch`, its commit pushed where
    /// GitHub keeps it; the run (once ended) and its log.
    fn pull_request(&mut self, project: &str, number: u64, head_repo: &str, head_branch: &str) -> (Value, String) {
        let sha = self.p.push_to_ref(
            &format!("refs/pull/{number}/head"),
            &[("version.txt", &format!("pr {number}\n"))],
            "PR",
        );
        let body = github_pull_request(number, head_repo, head_branch, &sha).to_string();
        let a = self.p.deliver(project, "pull_request", body.as_bytes(), &format!("pr-{project}-{number}"));
        assert_eq!((a.status, &a.body["queued"]), (202, &json!(true)), "{:?}", a.body);
        let id = a.body["id"].as_str().unwrap().to_string();
        let run = hook_project::wait_for("the run's end", Duration::from_secs(180), || {
            let v = self.p.get(&format!("/api/runs/{id}"));
            v["finished_at"].is_i64().then_some(v)
        });
        let log = self.p.text(&format!("/api/runs/{id}/log"));
        (run, log)
    }

    fn assert_secret_nowhere(&self) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(DEPLOY_TOKEN);
        let all = self.p.everything_written();
        assert!(!all.contains(DEPLOY_TOKEN), "the deploy token was decrypted for a fork");
        assert!(!all.contains(&b64), "the deploy token was printed base64-encoded by a fork's step");
    }
}

fn step_status(run: &Value, name: &str) -> Option<String> {
    run["steps"].as_array()?.iter().find(|s| s["name"] == name).map(|s| s["status"].as_str().unwrap().to_string())
}

#[test]
fn a_forks_pull_request_gets_no_secret_and_pushes_nothing_whatever_its_branch_is_called() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut f = fixture(&[("web", "branches = [\"main\", \"hotfix\", \"feature/*\"]\n")]);
    // The attack: a fork's branch named `main` passes the branch filter and matches `tag: main`.
    let (run, log) = f.pull_request("web", 7, "mallory/web", "main");
    assert_eq!(run["status"], "failed", "{run}\n{log}");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("step `deploy` needs `encrypted_env_file` deploy.env.encrypted of service `app`")
            && error.contains("pull request from a fork")
            && error.contains("fork_pull_requests = \"with-secrets\""),
        "{error}"
    );
    assert!(run["steps"].as_array().is_none_or(|s| s.is_empty()), "a step ran: {run}");
    f.assert_secret_nowhere();
    // A fork's ordinary branch: the steps that need nothing run; the push step is skipped,
    // saying why, and nothing reaches the registry.
    let (run, log) = f.pull_request("web", 8, "mallory/web", "feature/x");
    assert_eq!(run["status"], "success", "{run}\n{log}");
    assert!(log.contains("tested branch=feature/x pr=8"), "{log}");
    assert!(log.contains("pull request from a fork: no secret is decrypted and push steps are skipped"), "{log}");
    assert_eq!(step_status(&run, "publish").as_deref(), Some("skipped"), "{run}");
    assert_eq!(step_status(&run, "deploy").as_deref(), Some("skipped"), "{run}");
    let id = run["id"].as_str().unwrap();
    let events = f.p.text(&format!("/api/runs/{id}/events"));
    assert!(events.contains("a pull request from a fork runs no push steps"), "{events}");
    assert!(!log.contains("pushing"), "{log}");
    f.assert_secret_nowhere();
    assert!(!f.tags().contains("main") && !f.tags().contains("featurex"), "a fork pushed: {}", f.tags());
    // A pull request from a branch of the repository itself keeps today's behaviour: secrets
    // and pushes.
    let (run, log) = f.pull_request("web", 9, "acme/web", "hotfix");
    assert_eq!(run["status"], "success", "{run}\n{log}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(DEPLOY_TOKEN);
    assert!(log.contains(&format!("deploy={b64}")), "{log}");
    assert!(f.tags().contains("\"hotfix\""), "tags: {}", f.tags());
}

#[test]
fn a_project_turns_forks_off_or_gives_them_secrets_only_when_it_says_so() {
    if !docker() {
        eprintln!("skipped: needs SLIPWAY_TEST_DOCKER=1 (tests/env/up.sh)");
        return;
    }
    let mut f = fixture(&[
        ("closed", "fork_pull_requests = \"off\"\n"),
        ("trusting", "fork_pull_requests = \"with-secrets\"\n"),
    ]);
    let sha = f.p.push_to_ref("refs/pull/3/head", &[("version.txt", "pr 3\n")], "PR");
    let body = github_pull_request(3, "mallory/web", "main", &sha).to_string();
    let a = f.p.deliver("closed", "pull_request", body.as_bytes(), "pr-closed-3");
    assert_eq!((a.status, &a.body["queued"]), (202, &json!(false)), "{:?}", a.body);
    assert!(a.body["reason"].as_str().unwrap().contains("fork_pull_requests = \"off\""), "{:?}", a.body);
    assert_eq!(f.p.get("/api/runs?project=closed")["total"], 0);
    // Told explicitly: a fork's pull request runs as the repository's own branches do.
    let (run, log) = f.pull_request("trusting", 4, "mallory/web", "main");
    assert_eq!(run["status"], "success", "{run}\n{log}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(DEPLOY_TOKEN);
    assert!(log.contains(&format!("deploy={b64}")), "{log}");
    assert!(f.tags().contains("\"main\""), "tags: {}", f.tags());
    // A value that is none of the three stops the server with where it is and what to write.
    let text = "[[project]]\nname = \"w\"\nrepo = \"https://github.com/acme/web.git\"\nfork_pull_requests = \"yes\"\n";
    let e = slipway::config::parse(std::path::Path::new("slipway.toml"), text).unwrap_err().to_string();
    assert!(e.starts_with("slipway.toml:4:22: project `w`: `fork_pull_requests = \"yes\"`: expected \"off\""), "{e}");
}

/// Where each forge's payload says "fork" (payloads as the forges document them): GitHub and
/// Gitea name the head's and the base's repositories, GitLab the source and target projects.
/// A head the event does not place (GitHub sends `"repo": null` once a fork is deleted) is a fork.
#[test]
fn each_forges_payload_says_whether_a_pull_request_comes_from_a_fork() {
    use forge::trigger::{self, Origin, Trigger};
    use forge::{Forge, Secret, verify};
    let parse = |forge: Forge, event: &str, body: &Value| -> Origin {
        let bytes = body.to_string().into_bytes();
        let sig = verify::sign("s3cret", &bytes);
        let mut h = axum::http::HeaderMap::new();
        let pairs: Vec<(&str, String)> = match forge {
            Forge::GitHub => vec![("X-GitHub-Event", event.into()), ("X-Hub-Signature-256", format!("sha256={sig}"))],
            Forge::Gitea => vec![("X-Gitea-Event", event.into()), ("X-Gitea-Signature", sig)],
            Forge::GitLab => vec![("X-Gitlab-Event", event.into()), ("X-Gitlab-Token", "s3cret".into())],
        };
        for (k, v) in pairs {
            h.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        let v = verify::verify(forge, &Secret::new("s3cret").unwrap(), &h, &bytes, 1 << 20).unwrap();
        match trigger::parse(&v).unwrap() {
            Trigger::Build(b) => b.origin,
            other => panic!("{other:?}"),
        }
    };
    let sha = "8a4f2c9b1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a";
    assert_eq!(
        parse(Forge::GitHub, "pull_request", &github_pull_request(1, "mallory/web", "main", sha)),
        Origin::Fork { repo: Some("mallory/web".into()) }
    );
    assert_eq!(
        parse(Forge::GitHub, "pull_request", &github_pull_request(1, "acme/web", "fix", sha)),
        Origin::Repository
    );
    let mut deleted = github_pull_request(1, "mallory/web", "main", sha);
    deleted["pull_request"]["head"]["repo"] = Value::Null;
    assert_eq!(parse(Forge::GitHub, "pull_request", &deleted), Origin::Fork { repo: None });
    // Same owner/name but another id (a renamed fork took the name): ids decide.
    let mut renamed = github_pull_request(1, "acme/web", "main", sha);
    renamed["pull_request"]["head"]["repo"]["id"] = json!(42);
    assert!(parse(Forge::GitHub, "pull_request", &renamed).is_fork());
    // Gitea's PullRequestPayload: `head.repo_id` / `base.repo_id`.
    let gitea = |head_id: u64| {
        json!({"action": "opened", "number": 3,
               "pull_request": {"id": 27, "number": 3, "html_url": "http://localhost:3000/gitea/webhooks/pulls/3",
                   "base": {"label": "master", "ref": "master", "sha": sha, "repo_id": 140},
                   "head": {"label": "main", "ref": "main", "sha": sha, "repo_id": head_id}},
               "repository": {"id": 140, "name": "webhooks", "full_name": "gitea/webhooks"},
               "sender": {"id": 2, "login": "alice", "username": "alice"}})
    };
    assert_eq!(parse(Forge::Gitea, "pull_request", &gitea(140)), Origin::Repository);
    assert!(parse(Forge::Gitea, "pull_request", &gitea(141)).is_fork());
    // GitLab's Merge Request Hook: `object_attributes.source_project_id` / `target_project_id`.
    let gitlab = |source: u64| {
        json!({"object_kind": "merge_request", "user": {"username": "root"},
               "project": {"name": "Gitlab Test", "path_with_namespace": "gitlabhq/gitlab-test"},
               "object_attributes": {"iid": 1, "action": "open", "source_branch": "main", "target_branch": "master",
                   "source_project_id": source, "target_project_id": 14,
                   "source": {"path_with_namespace": "mallory/gitlab-test"},
                   "url": "http://example.com/diaspora/merge_requests/1",
                   "last_commit": {"id": sha, "message": "m", "author": {"name": "n", "email": "e"}}}})
    };
    assert_eq!(parse(Forge::GitLab, "Merge Request Hook", &gitlab(14)), Origin::Repository);
    assert_eq!(
        parse(Forge::GitLab, "Merge Request Hook", &gitlab(15)),
        Origin::Fork { repo: Some("mallory/gitlab-test".into()) }
    );
}
