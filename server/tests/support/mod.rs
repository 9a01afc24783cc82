//! What the integration tests and the benches share: the test environment (tests/env/up.sh),
//! `slipway serve` as a child process, and headless Chromium through chromedriver. Each test
//! file or bench uses only part of it, hence `dead_code` is allowed.
#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bring up the Docker engine, base image and registry (idempotent); their `export` lines.
pub fn env_up() -> Vec<(String, String)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/env/up.sh");
    let out = Command::new("bash").arg(script).stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "tests/env/up.sh failed: these tests need a Docker engine");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The busybox base image tests/env/up.sh imports.
pub fn base_image() -> String {
    env_up().into_iter().find(|(k, _)| k == "SLIPWAY_TEST_BASE_IMAGE").expect("up.sh names the base image").1
}

/// `slipway serve ARGS…` (on any free loopback port unless ARGS has `--addr`) with
/// `SLIPWAY_TOKEN=token`; the child and its URL (without a trailing slash), read from the line
/// it prints first.
pub fn serve(args: &[String], token: &str) -> (Child, String) {
    spawn_serve(args, token, Stdio::null(), &[])
}

/// Start `slipway serve` with `stderr` for its log and `envs` besides the token; the child and
/// its URL, read from the first line it prints.
fn spawn_serve(args: &[String], token: &str, stderr: Stdio, envs: &[(&str, &str)]) -> (Child, String) {
    let any_port = ["--addr", "127.0.0.1:0"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("serve")
        .args(if args.iter().any(|a| a == "--addr") { &[][..] } else { &any_port[..] })
        .args(args)
        .env("SLIPWAY_TOKEN", token)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("Slipway studio: ").expect("serve prints its URL").trim_end_matches('/');
    (child, url.to_string())
}

/// Debian's Chromium, headless, with a fresh profile, driven through chromedriver.
pub struct Chromium {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub async fn start() -> Chromium {
        // Two TLS backends are linked in (bollard's and fantoccini's); pick one explicitly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) must be installed; `cargo xtask test` installs it");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1400,1100",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::rustls()
                .unwrap()
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => panic!("cannot start Chromium through chromedriver: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Chromium { client, driver, _profile: profile }
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub mod browser;
pub mod forge_api;
pub mod git;
pub mod project;
pub mod server;
pub mod swarm;

/// [`serve`], with the server's log (stderr) appended to `log`: tests read it for secrets.
pub fn serve_logged(args: &[String], token: &str, log: &Path) -> (Child, String) {
    serve_logged_with(args, token, log, &[])
}

/// [`serve_logged`], with `envs` in the server's environment besides the token.
pub fn serve_logged_with(args: &[String], token: &str, log: &Path, envs: &[(&str, &str)]) -> (Child, String) {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut all = vec![("RUST_LOG", "debug")];
    all.extend_from_slice(envs);
    spawn_serve(args, token, Stdio::from(log), &all)
}

/// What the server names a project's build of `service` (and its cache image): the readable
/// `PROJECT-SERVICE` and 8 hex digits of a SHA-256 of the exact pair, as `names::build_repo`
/// computes it in the binary (which tests cannot link): a change there shows here as a test
/// that looks for the wrong name.
pub fn build_repo(project: &str, service: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update((project.len() as u64).to_be_bytes());
    h.update(project.as_bytes());
    h.update(service.as_bytes());
    let hash: String = h.finalize()[..4].iter().map(|b| format!("{b:02x}")).collect();
    let words = format!("{project}-{service}").to_ascii_lowercase();
    let words: Vec<&str> = words.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    format!("{}-{hash}", words.join("-"))
}
