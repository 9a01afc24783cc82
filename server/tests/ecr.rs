//! Issue 23, part 1: CodeShip's ECR and GCR dockercfg generators, built in. A
//! `dockercfg_service` whose image is `codeship/aws-ecr-dockercfg-generator` gets its token
//! from ECR's API with no image pulled and no container; `slipway dockercfg` does the same on
//! its own.
//!
//! ECR is `moto` (PyPI `moto[server]`, installed by tests/env/moto.sh), AWS's API emulator, run
//! as `moto_server` on 127.0.0.1: a real HTTP server that answers `GetAuthorizationToken` and
//! STS's `AssumeRole`, and with its IAM checks on (`INITIAL_NO_AUTH_ACTION_COUNT`) verifies
//! the SigV4 signature and the caller's policy. Facts of moto 5.2.5 the tests rely on: its
//! token for account A is `AWS:A-auth-token` (its default account is 123456789012; after
//! `AssumeRole` into account B, B's), its registry is `A.dkr.ecr.REGION.amazonaws.com`, and its
//! `expiresAt` lies in 2015 (which must not be refused).
//!
//! moto's registry host cannot be pushed to here, so the end-to-end run pushes to a registry
//! of the test's own (Debian's docker-registry on a free port) whose only user is `AWS` with
//! moto's token as the password, and the push step's `registry:` names moto's ECR host: the
//! push succeeds only if the dockercfg the generator handed it holds exactly moto's token for
//! that host.

mod support;

use base64::Engine;
use serde_json::Value;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::project::Project;
use support::server::{Server, project_args};

const TOKEN: &str = "ecr-test-token-5b1d";
const ACCOUNT: &str = "123456789012";
const SECRET_KEY: &str = "ecr-test-secret-key-0f9e8d";
const ECR_IMAGE: &str = "codeship/aws-ecr-dockercfg-generator";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn hex() -> String {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn wait_for_port(port: u16, what: &str) {
    let start = Instant::now();
    // A TCP connection only: an HTTP request would count against moto's unauthenticated ones.
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what} did not listen on 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `moto_server` on a free port of 127.0.0.1, killed when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start(envs: &[(&str, &str)]) -> Moto {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/env/moto.sh");
        let out = Command::new("bash").arg(script).stderr(Stdio::inherit()).output().unwrap();
        assert!(out.status.success(), "tests/env/moto.sh failed: this test needs moto from PyPI");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let moto = stdout
            .lines()
            .find_map(|l| l.strip_prefix("export SLIPWAY_TEST_MOTO="))
            .expect("moto.sh names moto_server");
        let port = free_port();
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, "moto_server");
        Moto { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// An IAM request while moto still takes them unauthenticated (its first
    /// `INITIAL_NO_AUTH_ACTION_COUNT`): the credential scope only routes it to IAM.
    fn iam(&self, form: &[(&str, &str)]) -> String {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .chain(["Version=2010-05-08".to_string()])
            .collect::<Vec<_>>()
            .join("&");
        let auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00";
        ureq::post(&format!("{}/", self.url))
            .header("authorization", auth)
            .header("content-type", "application/x-www-form-urlencoded")
            .send(body)
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn xml(text: &str, tag: &str) -> String {
    let start = text.find(&format!("<{tag}>")).unwrap_or_else(|| panic!("no <{tag}> in {text}")) + tag.len() + 2;
    text[start..start + text[start..].find('<').unwrap()].to_string()
}

/// A registry of the test's own on a free port whose only user is `user`:`password`.
struct Registry {
    child: Child,
    addr: String,
    user: String,
    password: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(user: &str, password: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("htpasswd").args(["-Bbn", user, password]).output().unwrap();
        assert!(out.status.success(), "htpasswd: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: ecr-test\n    path: {}\n",
            dir.path().join("data").display(),
            dir.path().join("htpasswd").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, "docker-registry");
        Registry { child, addr, user: user.into(), password: password.into(), _dir: dir }
    }

    fn tags(&self, repo: &str) -> String {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.user, self.password));
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        agent
            .get(&format!("http://{}/v2/{repo}/tags/list", self.addr))
            .header("authorization", &format!("Basic {auth}"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Project {
    /// `slipway dockercfg ARGS…` in this project, with no Docker engine reachable: a built-in
    /// generator must not need one.
    fn dockercfg(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_slipway"))
            .arg("dockercfg")
            .arg("--dir")
            .arg(self.path())
            .args(args)
            .env_remove("SLIPWAY_KEY_PATH")
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }
}

/// The ECR generator service, its secret key in an encrypted env file as CodeShip's docs said.
fn ecr_service(name: &str, image: &str, endpoint: &str, extra: &str) -> String {
    format!(
        "{name}:\n  image: {image}\n  add_docker: true\n  encrypted_env_file: aws.env.encrypted\n  environment:\n    AWS_REGION: us-east-1\n    AWS_ENDPOINT_URL: {endpoint}\n{extra}"
    )
}

fn aws_env(key_id: &str, secret: &str) -> String {
    format!("AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n")
}

/// The (user, password) of `registry`'s entry in the dockercfg file at `path`.
fn entry(path: &Path, registry: &str) -> (String, String) {
    let cfg: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let auth = cfg["auths"][registry]["auth"].as_str().unwrap_or_else(|| panic!("no entry for {registry}: {cfg}"));
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(auth).unwrap()).unwrap();
    let (u, p) = text.split_once(':').unwrap();
    (u.to_string(), p.to_string())
}

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `serve` arguments `args` with `--generator-endpoint url`: an untrusted run's generator may
/// be sent there.
fn allowing(url: &str, mut args: Vec<String>) -> Vec<String> {
    args.extend(["--generator-endpoint".to_string(), url.to_string()]);
    args
}

/// A TCP relay on a free port of 127.0.0.1 to `target` that counts the connections it was
/// asked for: whether the server sent anything to an endpoint at all.
struct Relay {
    url: String,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Relay {
    fn start(target: &str) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = target.trim_start_matches("http://").to_string();
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connections.clone();
        // Ends with the test process; each connection is piped both ways until either side closes.
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(upstream) = TcpStream::connect(&target) else { continue };
                for (mut from, mut to) in
                    [(client.try_clone().unwrap(), upstream.try_clone().unwrap()), (upstream, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Relay { url, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn a_push_step_gets_the_emulators_ecr_token_with_no_image_and_no_container() {
    let moto = Moto::start(&[]);
    let token = format!("{ACCOUNT}-auth-token");
    let registry = Registry::start("AWS", &token);
    let id = hex();
    let project = format!("ecr-{id}");
    let repo = format!("ecr-{id}/app");
    let ecr_host = format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com");
    let p = Project::new(
        &format!(
            "app:\n  build:\n    image: {}/{repo}\n{}",
            registry.addr,
            ecr_service("aws_dockercfg", ECR_IMAGE, &moto.url, "")
        ),
        &format!(
            "- name: publish\n  type: push\n  service: app\n  image_name: {}/{repo}\n  image_tag: main\n  registry: https://{ecr_host}\n  dockercfg_service: aws_dockercfg\n",
            registry.addr
        ),
    );
    p.write("Dockerfile", "FROM BASE\nRUN echo pushed > /marker\n");
    p.encrypt("aws.env.encrypted", &aws_env("AKIAECRTEST", SECRET_KEY));
    let since = unix_now();
    // An untrusted server run (the default): the generator's `add_docker` would be refused if
    // it ran as a container. moto's endpoint is one the server allows.
    let server = Server::start_temp(&allowing(&moto.url, project_args(&project, p.path())), TOKEN);
    let run = server.start_run(serde_json::json!({"project": project, "push": true, "tag": "main"}));
    let record = server.finished(&run, Duration::from_secs(300));
    let log = server.log(&run);
    let _ = docker(&["rmi", &format!("slipway/{}", support::build_repo(&project, "app"))]);
    assert_eq!(record["status"], "success", "{record}\n{log}");

    // The push authenticated with moto's token: the registry has the tag.
    assert!(registry.tags(&repo).contains("\"main\""), "tags: {}", registry.tags(&repo));
    // The log says which built-in ran and for which registry, and holds no credential.
    assert!(log.contains("built-in ECR generator"), "{log}");
    assert!(log.contains(&format!("credentials for {ecr_host}")), "{log}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{token}"));
    for secret in [token.as_str(), b64.as_str(), SECRET_KEY] {
        assert!(!server.everything(&run).contains(secret), "`{secret}` is in the run's record:\n{log}");
    }
    // No image pulled, no container made of it.
    assert!(!docker(&["image", "inspect", ECR_IMAGE]).0, "{ECR_IMAGE} is on the engine");
    let (ok, events) = docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &unix_now().to_string(),
        "--filter",
        &format!("image={ECR_IMAGE}"),
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.ID}}",
    ]);
    assert!(ok && events.trim().is_empty(), "the engine saw the generator image: {events}");
}

#[test]
fn slipway_dockercfg_writes_the_token_for_the_account_and_the_role() {
    let moto = Moto::start(&[]);
    let role = "AWS_STS_ROLE: deployer\n    AWS_STS_ACCOUNT: \"222233334444\"\n";
    let p = Project::new(
        &format!(
            "{}{}",
            ecr_service("aws_dockercfg", &format!("{ECR_IMAGE}:latest"), &moto.url, ""),
            ecr_service("cross_account", ECR_IMAGE, &moto.url, &format!("    {role}"))
        ),
        "- name: x\n  service: aws_dockercfg\n  command: true\n",
    );
    p.encrypt("aws.env.encrypted", &aws_env("AKIAECRTEST", SECRET_KEY));
    let out_file = p.path().join("out/dockercfg.json");
    std::fs::create_dir(p.path().join("out")).unwrap();
    let out = p.dockercfg(&["aws_dockercfg", "--out", out_file.to_str().unwrap()]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    let ecr_host = format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com");
    assert_eq!(entry(&out_file, &ecr_host), ("AWS".to_string(), format!("{ACCOUNT}-auth-token")));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(text.contains("built-in ECR generator") && text.contains(&ecr_host), "{text}");
    assert!(!text.contains("auth-token") && !text.contains(SECRET_KEY), "{text}");

    // Not replaced without --force; replaced with it.
    let out = p.dockercfg(&["cross_account", "--out", out_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --force"));
    // AWS_STS_ROLE/AWS_STS_ACCOUNT: the token is the assumed role's, for its account's registry.
    let out = p.dockercfg(&["cross_account", "--out", out_file.to_str().unwrap(), "--force"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    let role_host = "222233334444.dkr.ecr.us-east-1.amazonaws.com";
    assert_eq!(entry(&out_file, role_host), ("AWS".to_string(), "222233334444-auth-token".to_string()));
    assert!(text.contains("assumed role arn:aws:iam::222233334444:role/deployer"), "{text}");
}

#[test]
fn the_signature_is_checked_and_a_refusal_or_no_answer_writes_nothing() {
    // IAM on after three requests: a user, its key and a policy allowing the token.
    let moto = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    moto.iam(&[("Action", "CreateUser"), ("UserName", "ci")]);
    let key = moto.iam(&[("Action", "CreateAccessKey"), ("UserName", "ci")]);
    let (key_id, secret) = (xml(&key, "AccessKeyId"), xml(&key, "SecretAccessKey"));
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}"#;
    moto.iam(&[("Action", "PutUserPolicy"), ("UserName", "ci"), ("PolicyName", "ecr"), ("PolicyDocument", policy)]);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let p = Project::new(
        &format!(
            "{}{}",
            ecr_service("aws_dockercfg", ECR_IMAGE, &moto.url, ""),
            ecr_service("gone", ECR_IMAGE, &closed, "")
        ),
        "- name: x\n  service: aws_dockercfg\n  command: true\n",
    );
    let out_file = p.path().join("dockercfg.json");
    let out_arg = out_file.to_str().unwrap();

    // Signed with the right secret: moto checks the signature and the policy, and answers.
    p.encrypt("aws.env.encrypted", &aws_env(&key_id, &secret));
    let out = p.dockercfg(&["aws_dockercfg", "--out", out_arg]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        entry(&out_file, &format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com")).1,
        format!("{ACCOUNT}-auth-token")
    );
    std::fs::remove_file(&out_file).unwrap();

    // A wrong secret: refused, with ECR's reason and endpoint, and nothing written.
    p.encrypt("aws.env.encrypted", &aws_env(&key_id, "not-the-secret"));
    let out = p.dockercfg(&["aws_dockercfg", "--out", out_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("ECR at {}/ refused the request (HTTP 403: SignatureDoesNotMatch", moto.url)),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"), "{err}");
    assert!(!out_file.exists());

    // No answer at all.
    let out = p.dockercfg(&["gone", "--out", out_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("cannot reach ECR at {closed}/")), "{err}");
    assert!(!out_file.exists());
}

#[test]
fn a_refused_token_fails_the_run_before_the_push() {
    // IAM on from the first request: any key is unknown to moto.
    let moto = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let registry = Registry::start("AWS", "unused");
    let id = hex();
    let project = format!("ecr-refused-{id}");
    let p = Project::new(
        &format!("app:\n  image: BASE\n{}", ecr_service("aws_dockercfg", ECR_IMAGE, &moto.url, "")),
        &format!(
            "- name: publish\n  type: push\n  service: app\n  image_name: {}/ecr-{id}/app\n  registry: https://{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com\n  dockercfg_service: aws_dockercfg\n",
            registry.addr
        ),
    );
    p.encrypt("aws.env.encrypted", &aws_env("AKIAUNKNOWN", SECRET_KEY));
    let server = Server::start_temp(&allowing(&moto.url, project_args(&project, p.path())), TOKEN);
    let run = server.start_run(serde_json::json!({"project": project, "push": true}));
    let record = server.finished(&run, Duration::from_secs(120));
    let all = server.everything(&run);
    assert_eq!(record["status"], "failed", "{all}");
    assert!(
        all.contains(&format!("ECR at {}/ refused the request (HTTP 403: InvalidClientTokenId", moto.url)),
        "{all}"
    );
    assert!(!all.contains(SECRET_KEY), "{all}");
    assert!(!registry.tags(&format!("ecr-{id}/app")).contains("latest"));
}

#[test]
fn slipway_dockercfg_writes_the_gcr_key_for_googles_registries() {
    let key = r#"{"type": "service_account", "project_id": "acme-1", "private_key_id": "k1", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----\n", "client_email": "ci@acme-1.iam.gserviceaccount.com"}"#;
    let p = Project::new(
        "gcr_dockercfg:\n  image: codeship/gcr-dockercfg-generator\n  add_docker: true\n  encrypted_env_file: gcr.env.encrypted\n",
        "- name: x\n  service: gcr_dockercfg\n  command: true\n",
    );
    p.encrypt(
        "gcr.env.encrypted",
        &format!(
            "GOOGLE_AUTH_EMAIL=ci@acme-1.iam.gserviceaccount.com\nGOOGLE_PROJECT_ID=acme-1\nGOOGLE_AUTH_JSON={key}\n"
        ),
    );
    let out_file = p.path().join("gcr.json");
    let out = p.dockercfg(&["gcr_dockercfg", "--out", out_file.to_str().unwrap()]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    for host in ["gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io", "b.gcr.io", "bucket.gcr.io", "appengine.gcr.io"] {
        assert_eq!(entry(&out_file, host), ("_json_key".to_string(), key.to_string()), "{host}");
    }
    // The log names the registries; the account is a decrypted value, so it is masked.
    assert!(text.contains("built-in GCR generator") && text.contains("credentials for gcr.io, us.gcr.io"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}

#[test]
fn slipway_dockercfg_runs_an_image_generator_as_a_run_would() {
    let p = Project::new(
        "gen:\n  build:\n    context: gen\n  encrypted_env_file: gen.env.encrypted\n",
        "- name: x\n  service: gen\n  command: true\n",
    );
    std::fs::create_dir(p.path().join("gen")).unwrap();
    p.write("gen/Dockerfile", "FROM BASE\nCOPY gen.sh /gen.sh\nENTRYPOINT [\"/bin/sh\", \"/gen.sh\"]\n");
    // Writes the file it is given, with a password from its encrypted environment.
    p.write(
        "gen/gen.sh",
        "AUTH=$(printf 'robot:%s' \"$PASS\" | base64)\nprintf '{\"auths\": {\"quay.io\": {\"auth\": \"%s\"}}}' \"$AUTH\" > \"$1\"\n",
    );
    p.encrypt("gen.env.encrypted", "PASS=image-generator-pass\n");
    let out_file = p.path().join("cfg.json");
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["dockercfg", "--dir"])
        .arg(p.path())
        .args(["gen", "--out", out_file.to_str().unwrap()])
        .env_remove("SLIPWAY_KEY_PATH")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let project = p.path().file_name().unwrap().to_string_lossy().into_owned();
    let _ = docker(&["rmi", &format!("slipway/{}", support::build_repo(&project, "gen"))]);
    assert!(out.status.success(), "{text}");
    assert_eq!(entry(&out_file, "quay.io"), ("robot".to_string(), "image-generator-pass".to_string()));
    let (_, left) = docker(&["ps", "-aq", "--filter", &format!("label=io.slipway.project={project}")]);
    let (_, volumes) = docker(&["volume", "ls", "-q", "--filter", &format!("label=io.slipway.project={project}")]);
    assert!(left.trim().is_empty() && volumes.trim().is_empty(), "left behind: {left} {volumes}");
}

/// Found by review: a project's `AWS_ENDPOINT_URL` (its own configuration, which any push
/// controls) made the server itself POST to any host, its own loopback and private networks
/// included. In an untrusted run an endpoint the server does not allow now fails the run
/// before any request, saying which variable, which URL and which setting allows it; a trusted
/// project's run may use it. The endpoint is a relay to moto that counts connections.
#[test]
fn an_endpoint_the_server_does_not_allow_is_not_asked_unless_the_project_is_trusted() {
    let moto = Moto::start(&[]);
    let relay = Relay::start(&moto.url);
    let token = format!("{ACCOUNT}-auth-token");
    let registry = Registry::start("AWS", &token);
    let id = hex();
    let ecr_host = format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com");
    let project = |name: &str| {
        let p = Project::new(
            &format!("app:\n  image: BASE\n{}", ecr_service("aws_dockercfg", ECR_IMAGE, &relay.url, "")),
            &format!(
                "- name: publish\n  type: push\n  service: app\n  image_name: {}/{name}/app\n  image_tag: main\n  registry: https://{ecr_host}\n  dockercfg_service: aws_dockercfg\n",
                registry.addr
            ),
        );
        p.encrypt("aws.env.encrypted", &aws_env("AKIAECRTEST", SECRET_KEY));
        p
    };
    let (untrusted, trusted) = (format!("ecr-untrusted-{id}"), format!("ecr-trusted-{id}"));
    let (pu, pt) = (project(&untrusted), project(&trusted));
    let mut args = project_args(&untrusted, pu.path());
    args.extend(project_args(&trusted, pt.path()));
    // Another endpoint is allowed: the relay's must be allowed by itself.
    args = allowing(&moto.url, args);
    args.extend(["--trust".to_string(), trusted.clone()]);
    let server = Server::start_temp(&args, TOKEN);

    let run = server.start_run(serde_json::json!({"project": untrusted, "push": true}));
    let record = server.finished(&run, Duration::from_secs(120));
    let all = server.everything(&run);
    assert_eq!(record["status"], "failed", "{all}");
    // (Checked in two parts: the record's JSON escapes the quotes between them.)
    let refusal = format!(
        "AWS_ENDPOINT_URL `{0}` would make the server itself send the ECR request to {0}, which this server does not allow for an untrusted run (nothing was sent); the server's operator can allow it with `slipway serve --generator-endpoint {0}` or `endpoints = [",
        relay.url
    );
    assert!(all.contains(&refusal), "{refusal}\n{all}");
    assert!(all.contains("` under `[generators]` in slipway.toml, or trust the project (`trusted = true`)"), "{all}");
    assert_eq!(relay.connections(), 0, "the server connected to an endpoint it does not allow");
    assert!(!registry.tags(&format!("{untrusted}/app")).contains("main"));

    // The same endpoint in a trusted project's run: asked, and its token pushes.
    let run = server.start_run(serde_json::json!({"project": trusted, "push": true}));
    let record = server.finished(&run, Duration::from_secs(300));
    let all = server.everything(&run);
    assert_eq!(record["status"], "success", "{all}");
    assert!(relay.connections() > 0, "{all}");
    assert!(all.contains(&format!("credentials for {ecr_host} (ECR at {}/", relay.url)), "{all}");
    assert!(
        registry.tags(&format!("{trusted}/app")).contains("\"main\""),
        "{}",
        registry.tags(&format!("{trusted}/app"))
    );
}
