//! Issue 23, parts 3 and 4: status badges and notifications, end to end through
//! `slipway serve` with real runs on the real Docker engine (tests/env/up.sh).
//!
//! The receivers are local stand-ins, since Slack and the teams' webhook endpoints cannot run
//! here: plain HTTP listeners (`support::forge_api::StatusApi`, which records every request)
//! stand in for Slack's incoming webhook and for a team's webhook receiver, one answers 500 to
//! everything (a receiver that is down) and one takes requests and never answers (a receiver
//! that hangs). E-mail goes to a real SMTP server, aiosmtpd from PyPI (tests/env/aiosmtpd.sh),
//! listening on loopback and printing every mail it receives.
//!
//! Checked: each kind delivered once per matching run and event (a fixed run is one message,
//! not a `fixed` and a `success`), nothing for a branch or an event a target does not take, no
//! secret in any body, a webhook signed with HMAC-SHA256, a receiver that fails retried and
//! then recorded in the run's record, a run not held up by a receiver that hangs; the badge
//! going from failing to passing after a fixed run, public or behind the token.

mod support;

use serde_json::{Value, json};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::forge_api::{HANG, Received, StatusApi};
use support::server::Server;

const TOKEN: &str = "notifications-test-token";
const SLACK_PATH: &str = "/services/T0000/B0000/SlackUrlSecretXyZ123";
const HOOK_SECRET: &str = "webhook-signing-secret-4f9a";

struct Smtp {
    child: Child,
    out: std::path::PathBuf,
    port: u16,
}

impl Smtp {
    fn start(dir: &std::path::Path) -> Smtp {
        Smtp::start_on(dir, "127.0.0.1")
    }

    /// aiosmtpd on `host` (an address of this machine), without STARTTLS.
    fn start_on(dir: &std::path::Path, host: &str) -> Smtp {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/env/aiosmtpd.sh");
        let out = Command::new("bash").arg(script).stderr(Stdio::inherit()).output().unwrap();
        assert!(out.status.success(), "tests/env/aiosmtpd.sh failed: this test needs aiosmtpd from PyPI");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let aiosmtpd =
            stdout.lines().find_map(|l| l.strip_prefix("export SLIPWAY_TEST_AIOSMTPD=")).expect("the path of aiosmtpd");
        let port = support::git::free_port();
        let file = dir.join("smtp.out");
        let child = Command::new(aiosmtpd)
            .args(["-n", "-l", &format!("{host}:{port}")])
            .env("PYTHONUNBUFFERED", "1")
            .stdout(std::fs::File::create(&file).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect((host, port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd does not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Smtp { child, out: file, port }
    }

    /// Every mail received, as aiosmtpd printed it.
    fn mails(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.split("---------- MESSAGE FOLLOWS ----------").skip(1).map(str::to_string).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Answer {
    status: u16,
    etag: Option<String>,
    cache: Option<String>,
    body: String,
}

fn get(url: &str, token: bool, if_none_match: Option<&str>) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.get(url);
    if token {
        req = req.header("authorization", &format!("Bearer {TOKEN}"));
    }
    if let Some(tag) = if_none_match {
        req = req.header("if-none-match", tag);
    }
    let mut r = req.call().unwrap();
    let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (etag, cache) = (header("etag"), header("cache-control"));
    let status = r.status().as_u16();
    let mut body = String::new();
    let _ = r.body_mut().as_reader().read_to_string(&mut body);
    Answer { status, etag, cache, body }
}

fn badge(server: &Server, project: &str, branch: &str) -> String {
    let a = get(&format!("{}/api/projects/{project}/badge.svg?branch={branch}", server.url()), false, None);
    assert_eq!(a.status, 200, "{}", a.body);
    ["passing", "failing", "running", "unknown"]
        .into_iter()
        .find(|w| a.body.contains(&format!("build: {w}")))
        .unwrap_or_else(|| panic!("no state in {}", a.body))
        .to_string()
}

/// Waits until `f` holds, at most `limit`.
fn eventually(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn events(received: &[Received]) -> Vec<(String, String)> {
    received
        .iter()
        .map(|r| {
            (r.body["run_id"].as_str().unwrap_or("").to_string(), r.body["event"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

#[test]
fn notifications_reach_each_receiver_once_per_matching_run_and_the_badge_follows_the_branch() {
    if std::env::var("SLIPWAY_TEST_DOCKER").is_err() {
        support::env_up();
    }
    let base = support::base_image();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let smtp = Smtp::start(dir);
    let (slack, hook, down, hanging) = (
        StatusApi::start(Vec::new(), 200),
        StatusApi::start(Vec::new(), 200),
        StatusApi::start(Vec::new(), 500),
        StatusApi::start(Vec::new(), HANG),
    );
    std::fs::create_dir(dir.join("web")).unwrap();
    let services = format!("app:\n  image: {base}\n");
    std::fs::write(dir.join("web/codeship-services.yml"), &services).unwrap();
    std::fs::write(dir.join("web/codeship-steps.yml"), "- service: app\n  command: 'true'\n").unwrap();
    std::fs::write(dir.join("slack.url"), format!("{}{SLACK_PATH}\n", slack.url)).unwrap();
    std::fs::write(dir.join("hook.secret"), format!("{HOOK_SECRET}\n")).unwrap();
    let config = format!(
        r#"[smtp]
host = "127.0.0.1"
port = {port}
from = "Slipway CI <ci@example.com>"

[[project]]
name = "web"
path = "web"
public_badge = true

[[project.notify]]
kind = "slack"
url_file = "slack.url"
branches = ["main"]

[[project.notify]]
kind = "webhook"
url = "{hook}/ci"
secret_file = "hook.secret"
on = ["started", "success", "failed", "fixed"]
branches = ["main"]

[[project.notify]]
kind = "email"
to = ["team@example.com"]
exclude = ["dev"]

[[project.notify]]
kind = "webhook"
url = "{down}/down"
on = ["failed"]
branches = ["main"]

[[project.notify]]
kind = "webhook"
url = "{hanging}/hangs"
on = ["started"]
branches = ["main"]

[[project]]
name = "private"
path = "web"
"#,
        port = smtp.port,
        hook = hook.url,
        down = down.url,
        hanging = hanging.url,
    );
    std::fs::write(dir.join("slipway.toml"), config).unwrap();
    let data = dir.join("data");
    let server = Server::start(
        &data,
        &[
            "--config".into(),
            dir.join("slipway.toml").display().to_string(),
            "--public-url".into(),
            "https://ci.example.com".into(),
        ],
        TOKEN,
    );
    let run = |tag: &str, command: &str| {
        server.start_run(json!({"project": "web", "tag": tag,
            "services": services, "steps": format!("- service: app\n  command: '{command}'\n")}))
    };
    assert_eq!(badge(&server, "web", "main"), "unknown");

    // A fails on main. The receiver that hangs takes its `started` and never answers: the run
    // still ends at once (each attempt of it would wait 10 s, four attempts).
    let started = Instant::now();
    let a = run("main", "false");
    assert_eq!(server.finished(&a, Duration::from_secs(120))["status"], "failed");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "the run took {took:?}: it waited for a receiver");
    eventually("the hanging receiver to get A's start", Duration::from_secs(20), || !hanging.received().is_empty());
    assert_eq!(badge(&server, "web", "main"), "failing");

    // B fails on dev: no target takes dev.
    let b = run("dev", "false");
    assert_eq!(server.finished(&b, Duration::from_secs(120))["status"], "failed");

    // C passes on main: fixed. The badge says running while it goes on.
    let c = run("main", "true");
    assert_eq!(badge(&server, "web", "main"), "running");
    assert_eq!(server.finished(&c, Duration::from_secs(120))["status"], "success");
    assert_eq!(badge(&server, "web", "main"), "passing");

    // D passes again: a plain success (Slack and e-mail take only failed and fixed).
    let d = run("main", "true");
    assert_eq!(server.finished(&d, Duration::from_secs(120))["status"], "success");

    eventually("every webhook", Duration::from_secs(30), || hook.received().len() >= 6);
    eventually("every mail", Duration::from_secs(30), || smtp.mails().len() >= 2);
    eventually("the failing receiver's retries", Duration::from_secs(30), || {
        let v: Value = serde_json::from_str(&server.get_text(&format!("/api/runs/{a}"))).unwrap();
        v["undelivered_notifications"].is_array()
    });
    std::thread::sleep(Duration::from_secs(2)); // nothing more comes

    let want = |pairs: &[(&str, &str)]| pairs.iter().map(|(r, e)| (r.to_string(), e.to_string())).collect::<Vec<_>>();
    let mut got = events(&hook.received());
    got.sort();
    let mut expected =
        want(&[(&a, "started"), (&a, "failed"), (&c, "started"), (&c, "fixed"), (&d, "started"), (&d, "success")]);
    expected.sort();
    assert_eq!(got, expected, "the webhook: once per run and event, nothing for dev");
    let slack_texts: Vec<String> =
        slack.received().iter().map(|r| r.body["text"].as_str().unwrap().to_string()).collect();
    assert_eq!(slack_texts.len(), 2, "{slack_texts:?}");
    assert!(slack_texts[0].contains(&format!("run {a}")) && slack_texts[0].contains("failed"), "{slack_texts:?}");
    assert!(slack_texts[1].contains(&format!("run {c}")) && slack_texts[1].contains("fixed"), "{slack_texts:?}");
    assert!(slack.received().iter().all(|r| r.path == SLACK_PATH && r.method == "POST"));
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(mails[0].contains(&format!("Subject: [Slipway] web main: failed (run {a})")), "{}", mails[0]);
    assert!(mails[1].contains(&format!("Subject: [Slipway] web main: fixed (run {c})")), "{}", mails[1]);
    assert!(mails.iter().all(|m| m.contains("To: team@example.com") && m.contains("https://ci.example.com/#/runs/")));

    // The webhook's body: the run's facts and a link, signed with the secret.
    for r in hook.received() {
        let body = &r.body;
        assert_eq!(body["project"], "web");
        assert_eq!(body["branch"], "main");
        assert_eq!(body["link"], json!(format!("https://ci.example.com/#/runs/{}", body["run_id"].as_str().unwrap())));
        let status = if body["event"] == "started" {
            "running"
        } else if body["event"] == "failed" {
            "failed"
        } else {
            "success"
        };
        assert_eq!(body["status"], status, "{body}");
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
        mac.update(body.to_string().as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(r.header("x-slipway-signature-256"), Some(format!("sha256={hex}").as_str()));
    }
    // The receiver that is down: tried 4 times, then recorded on A's record (with the token).
    assert_eq!(down.received().len(), 4, "attempts");
    let record: Value = serde_json::from_str(&server.get_text(&format!("/api/runs/{a}"))).unwrap();
    let undelivered = record["undelivered_notifications"].as_array().unwrap();
    assert_eq!(undelivered.len(), 1, "{record}");
    assert_eq!(
        (&undelivered[0]["kind"], &undelivered[0]["event"], &undelivered[0]["attempts"]),
        (&json!("webhook"), &json!("failed"), &json!(4))
    );
    assert!(undelivered[0]["error"].as_str().unwrap().contains("HTTP 500"), "{record}");
    let public = get(&format!("{}/api/runs/{a}", server.url()), false, None);
    assert!(!public.body.contains("undelivered"), "shown without the token: {}", public.body);

    // No secret anywhere a notification went, nor in what the API shows.
    let mut everything: Vec<String> =
        slack.received().iter().chain(hook.received().iter()).map(|r| r.body.to_string()).collect();
    everything.extend(mails);
    everything.push(record.to_string());
    for text in &everything {
        for secret in [SLACK_PATH.trim_start_matches('/'), "SlackUrlSecretXyZ123", HOOK_SECRET] {
            assert!(!text.contains(secret), "a secret went out: {text}");
        }
    }

    // The badge: cache headers, 304 on the same ETag; the token for a project that is not
    // public, and the same 404 for it and for an unknown project without it.
    let url = format!("{}/api/projects/web/badge.svg?branch=main", server.url());
    let first = get(&url, false, None);
    assert_eq!((first.status, first.cache.as_deref()), (200, Some("no-cache")));
    let again = get(&url, false, first.etag.as_deref());
    assert_eq!(again.status, 304);
    let private = get(&format!("{}/api/projects/private/badge.svg?branch=main", server.url()), false, None);
    let unknown = get(&format!("{}/api/projects/zzzzzzz/badge.svg?branch=main", server.url()), false, None);
    assert_eq!((private.status, unknown.status), (404, 404));
    assert_eq!(private.body.replace("private", "X"), unknown.body.replace("zzzzzzz", "X"));
    let with_token = get(&format!("{}/api/projects/private/badge.svg?branch=main", server.url()), true, None);
    // (Its runs are its own: it has none.)
    assert!(with_token.status == 200 && with_token.body.contains("build: unknown"), "{}", with_token.body);
}

/// An address of this machine that is not loopback (the one it would reach the network
/// from), if it has one.
fn non_loopback_address() -> Option<String> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connecting a UDP socket only picks the route.
    probe.connect("192.0.2.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then(|| ip.to_string())
}

/// A relay on another host than this machine that does not offer STARTTLS gets no mail: the
/// mail (and a password) would cross a network in the clear. It is retried, then recorded.
#[test]
fn mail_is_never_sent_in_the_clear_to_a_relay_off_loopback() {
    let Some(address) = non_loopback_address() else {
        eprintln!("skipped: this machine has no address besides loopback");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let smtp = Smtp::start_on(dir, &address);
    std::fs::create_dir(dir.join("web")).unwrap();
    let config = format!(
        "[smtp]\nhost = \"{address}\"\nport = {}\nfrom = \"ci@example.com\"\n\n\
         [[project]]\nname = \"web\"\npath = \"web\"\n\n\
         [[project.notify]]\nkind = \"email\"\nto = [\"team@example.com\"]\n",
        smtp.port
    );
    std::fs::write(dir.join("slipway.toml"), config).unwrap();
    let server =
        Server::start(&dir.join("data"), &["--config".into(), dir.join("slipway.toml").display().to_string()], TOKEN);
    // A run whose files have an error fails before any container: no Docker needed.
    let id = server.start_run(json!({"project": "web", "tag": "main", "services": "app:\n  image: busybox\n",
        "steps": "- service: nope\n  command: 'true'\n"}));
    assert_eq!(server.finished(&id, Duration::from_secs(60))["status"], "failed");
    eventually("the mail to be given up on", Duration::from_secs(60), || {
        let v: Value = serde_json::from_str(&server.get_text(&format!("/api/runs/{id}"))).unwrap();
        v["undelivered_notifications"].is_array()
    });
    let v: Value = serde_json::from_str(&server.get_text(&format!("/api/runs/{id}"))).unwrap();
    let entry = &v["undelivered_notifications"][0];
    assert_eq!(
        (&entry["kind"], &entry["event"], &entry["attempts"]),
        (&json!("email"), &json!("failed"), &json!(4)),
        "{v}"
    );
    let error = entry["error"].as_str().unwrap();
    assert!(error.contains("STARTTLS") && error.contains("in the clear only to a relay on this machine"), "{v}");
    assert!(smtp.mails().is_empty(), "a mail went in the clear: {:?}", smtp.mails());
}
