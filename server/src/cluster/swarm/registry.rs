//! The cluster registry: its address as Docker names images in it, the login the server was
//! given for it (`--cluster-registry-auth FILE`, a Docker config.json), and the server's own
//! HTTP client for the two things Docker's API cannot do: check at start that the registry
//! really refuses anyone without that login, and delete a finished run's tags.
//!
//! The login is used by the manager's engine (pushes), by swarm for the service's image pull
//! on the node (`--with-registry-auth`), and by the run's agent (its signal tags, the reaper's
//! pull), which gets it as a per-run swarm secret. Steps never get it: they pull with their
//! own project's dockercfg, so a step that reaches the registry is refused (401).
//!
//! Only HTTP basic auth (an htpasswd registry, or any registry that takes the login at
//! `/v2/` directly) is supported; a registry asking for bearer tokens is refused at start,
//! saying so.

use anyhow::{Context, Result};
use base64::Engine;
use bollard::auth::DockerCredentials;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Every request to the registry ends within this (connect included).
const TIMEOUT: Duration = Duration::from_secs(15);
/// The most of an answer's body the server reads (the answers it needs are headers).
const MAX_BODY: u64 = 64 * 1024;
/// The manifest types a run's image is pushed as (Docker's, or OCI from a newer engine): the
/// registry answers a HEAD with the digest of the manifest stored under the tag.
const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.index.v1+json";
/// Approval tags looked for past the last one found (they are numbered from 1, without gaps).
const MAX_APPROVALS: u32 = 1000;

/// A user name and password for the cluster registry, and the file they came from.
#[derive(Clone, PartialEq)]
pub struct Login {
    pub file: PathBuf,
    username: String,
    password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("file", &self.file).field("username", &self.username).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("--cluster-registry-auth {file}: cannot read it: {source}")]
    Read { file: PathBuf, source: std::io::Error },
    #[error(
        "--cluster-registry-auth {file}: {detail}; expected a Docker config.json, {{\"auths\": {{\"HOST:PORT\": {{\"auth\": \"BASE64(USER:PASSWORD)\"}}}}}}"
    )]
    Parse { file: PathBuf, detail: String },
    #[error(
        "--cluster-registry-auth {file}: no user name and password for the cluster registry {registry} (it has entries for: {known})"
    )]
    Missing { file: PathBuf, registry: String, known: String },
}

impl Login {
    /// The entry for `registry` in the Docker config file `file`.
    pub fn load(file: &Path, registry: &str) -> Result<Login, LoginError> {
        let bytes = std::fs::read(file).map_err(|source| LoginError::Read { file: file.to_path_buf(), source })?;
        // The core's parser: its errors say what is wrong with the JSON, never its values.
        let cfg = slipway_core::dockercfg::DockerCfg::parse(&bytes).map_err(|e| LoginError::Parse {
            file: file.to_path_buf(),
            detail: match e {
                slipway_core::dockercfg::DockercfgError::NotJson { .. } => "not JSON".to_string(),
                other => other.to_string(),
            },
        })?;
        let missing = || LoginError::Missing {
            file: file.to_path_buf(),
            registry: registry.to_string(),
            known: if cfg.entries.is_empty() { "none".into() } else { cfg.registries().join(", ") },
        };
        let entry = cfg.lookup(registry).map_err(|_| missing())?;
        match (&entry.username, &entry.password) {
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => {
                Ok(Login { file: file.to_path_buf(), username: u.clone(), password: p.clone() })
            }
            _ => Err(missing()),
        }
    }

    fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

/// Why the registry cannot be the authenticated cluster registry the server was told of.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot reach the cluster registry at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error(
        "the cluster registry {url} answered HTTP {status} without credentials: it does not require the login of \
         --cluster-registry-auth, so steps that reach it could read other runs' images; turn on its authentication \
         (htpasswd) or drop --cluster-registry-auth and keep steps away from it (--cluster-registry-isolated)"
    )]
    NotProtected { url: String, status: u16 },
    #[error(
        "the cluster registry {url} asks for bearer tokens; only registries taking a user name and password \
         (HTTP basic auth, e.g. htpasswd) are supported as a cluster registry with --cluster-registry-auth"
    )]
    Bearer { url: String },
    #[error("the cluster registry {url} refused the login in {file} (HTTP {status}): check its user name and password")]
    Refused { url: String, file: String, status: u16 },
}

/// What became of a finished run's tags in the registry.
#[derive(Debug, PartialEq)]
pub enum Deletion {
    /// This many manifests (with all their tags) deleted.
    Deleted(usize),
    /// The registry does not allow deletes (HTTP 405); whether the server had said so already.
    Refused { said_before: bool },
    /// Something else went wrong (in the server's log).
    Failed,
}

/// The cluster registry, and what the server knows of it.
pub struct ClusterRegistry {
    /// `HOST[:PORT]`, as images in it are named.
    pub host: String,
    login: Option<Login>,
    /// Where this server reaches the registry's HTTP API, when told (else `https://HOST`, or
    /// `http://HOST` when that does not answer as HTTPS, as Docker does for an insecure one).
    url: Option<String>,
    /// The API's base URL, found on first use.
    base: tokio::sync::OnceCell<String>,
    agent: ureq::Agent,
    /// The registry refused a DELETE (405, deletes turned off): said once per server.
    delete_refused: AtomicBool,
    /// The registry's API did not answer this server: said once per server.
    unreachable_said: AtomicBool,
}

impl ClusterRegistry {
    pub fn new(host: String, login: Option<Login>, url: Option<String>) -> ClusterRegistry {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            // A redirect could carry the login elsewhere; the API needs none.
            .max_redirects(0)
            .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        ClusterRegistry {
            host,
            login,
            url: url.map(|u| u.trim_end_matches('/').to_string()),
            base: tokio::sync::OnceCell::new(),
            agent,
            delete_refused: AtomicBool::new(false),
            unreachable_said: AtomicBool::new(false),
        }
    }

    /// The login as Docker's API takes it (pushes, pulls, the service's `--with-registry-auth`).
    pub fn docker_credentials(&self) -> Option<DockerCredentials> {
        self.login.as_ref().map(|l| DockerCredentials {
            username: Some(l.username.clone()),
            password: Some(l.password.clone()),
            serveraddress: Some(self.host.clone()),
            ..Default::default()
        })
    }

    /// The login as a Docker config.json for the agent (the text of its swarm secret).
    pub fn agent_config(&self) -> Option<String> {
        let l = self.login.as_ref()?;
        let entry = slipway_core::dockercfg::Credential::basic(&self.host, &l.username, &l.password);
        Some(slipway_core::dockercfg::DockerCfg { entries: vec![entry] }.to_json())
    }

    /// With a login: the registry must refuse a request without it (401) and take it (200).
    pub async fn check_login(&self) -> Result<(), CheckError> {
        let Some(login) = &self.login else { return Ok(()) };
        let base = self.base().await?;
        let url = format!("{base}/v2/");
        let (status, challenge) = self.get_status(&url, None).await?;
        if status != 401 {
            return Err(CheckError::NotProtected { url, status });
        }
        if challenge.to_ascii_lowercase().starts_with("bearer") {
            return Err(CheckError::Bearer { url });
        }
        let (status, _) = self.get_status(&url, Some(login.basic())).await?;
        if status != 200 {
            return Err(CheckError::Refused { url, file: login.file.display().to_string(), status });
        }
        Ok(())
    }

    /// Delete the run image's manifest from the registry, and with it every tag of the run
    /// (the image, its cancel and approval tags: one manifest). The blobs stay until the
    /// registry's own garbage collection. Failures are the server's log's: the run's result
    /// stands.
    pub async fn delete_run_tags(&self, run_image: &str) -> Deletion {
        match self.try_delete_run_tags(run_image).await {
            Ok(done) => done,
            // A server that cannot reach the registry's API (only the manager's engine can,
            // say) says so once, not at every run's end.
            Err(e) if e.downcast_ref::<CheckError>().is_some() => {
                if !self.unreachable_said.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "finished runs' tags stay in the cluster registry: {e:#}; give this server its API's \
                         address with --cluster-registry-url (docs/cluster.md)"
                    );
                }
                Deletion::Failed
            }
            Err(e) => {
                tracing::warn!("cannot remove the tags of {run_image} from the cluster registry: {e:#}");
                Deletion::Failed
            }
        }
    }

    async fn try_delete_run_tags(&self, run_image: &str) -> Result<Deletion> {
        let Some((repo, tag)) = run_image.strip_prefix(&format!("{}/", self.host)).and_then(|r| r.rsplit_once(':'))
        else {
            anyhow::bail!("{run_image} is not an image of the cluster registry {}", self.host);
        };
        let base = self.base().await?;
        let manifest = |reference: &str| format!("{base}/v2/{repo}/manifests/{reference}");
        let auth = self.login.as_ref().map(Login::basic);
        let mut digests: Vec<String> = Vec::new();
        let mut found = |digest: Option<String>| {
            if let Some(d) = digest
                && !digests.contains(&d)
            {
                digests.push(d);
            }
        };
        found(self.head_digest(&manifest(tag), auth.clone()).await?);
        let signal = |name: String| name.rsplit_once(':').map(|(_, t)| t.to_string()).unwrap_or_default();
        found(self.head_digest(&manifest(&signal(super::tags::cancel_tag(run_image))), auth.clone()).await?);
        for n in 1..=MAX_APPROVALS {
            let tag = signal(super::tags::approve_tag(run_image, n));
            match self.head_digest(&manifest(&tag), auth.clone()).await? {
                Some(d) => found(Some(d)),
                None => break,
            }
        }
        let mut deleted = 0;
        for digest in digests {
            let url = manifest(&digest);
            let (agent, auth2) = (self.agent.clone(), auth.clone());
            let status = blocking(move || {
                let mut req = agent.delete(&url);
                if let Some(a) = &auth2 {
                    req = req.header("Authorization", a.as_str());
                }
                req.call().map(|r| r.status().as_u16()).map_err(|e| e.to_string())
            })
            .await
            .map_err(anyhow::Error::msg)?;
            match status {
                200..=299 => deleted += 1,
                404 => {}
                405 => {
                    let said = self.delete_refused.swap(true, Ordering::Relaxed);
                    if !said {
                        tracing::warn!(
                            "the cluster registry {} refuses deletes (HTTP 405): finished runs' images stay in it; \
                             turn on `storage.delete.enabled` and run its garbage collection (docs/cluster.md)",
                            self.host
                        );
                    }
                    return Ok(Deletion::Refused { said_before: said });
                }
                other => anyhow::bail!("DELETE of manifest {digest} answered HTTP {other}"),
            }
        }
        Ok(Deletion::Deleted(deleted))
    }

    /// The digest of the manifest a reference names, or `None` when there is none.
    async fn head_digest(&self, url: &str, auth: Option<String>) -> Result<Option<String>> {
        let (agent, url2) = (self.agent.clone(), url.to_string());
        let answer = blocking(move || {
            let mut req = agent.head(&url2).header("Accept", MANIFEST_ACCEPT);
            if let Some(a) = &auth {
                req = req.header("Authorization", a.as_str());
            }
            let resp = req.call().map_err(|e| e.to_string())?;
            let digest = resp.headers().get("Docker-Content-Digest").and_then(|v| v.to_str().ok()).map(str::to_string);
            Ok((resp.status().as_u16(), digest))
        })
        .await
        .map_err(anyhow::Error::msg)?;
        match answer {
            (200, Some(d)) if d.starts_with("sha256:") && d.len() <= 80 => Ok(Some(d)),
            (200, _) => anyhow::bail!("the registry named no digest for {url}"),
            (404, _) => Ok(None),
            (status, _) => anyhow::bail!("HEAD {url} answered HTTP {status}"),
        }
    }

    /// The API's base URL: as told, else HTTPS, else plain HTTP when HTTPS gets no answer.
    async fn base(&self) -> Result<&str, CheckError> {
        self.base
            .get_or_try_init(|| async {
                if let Some(u) = &self.url {
                    return Ok(u.clone());
                }
                let https = format!("https://{}", self.host);
                match self.get_status(&format!("{https}/v2/"), None).await {
                    Ok(_) => Ok(https),
                    Err(_) => {
                        let http = format!("http://{}", self.host);
                        self.get_status(&format!("{http}/v2/"), None).await.map(|_| http)
                    }
                }
            })
            .await
            .map(String::as_str)
    }

    /// GET `url`: its status and its `WWW-Authenticate` challenge (body read up to a bound).
    async fn get_status(&self, url: &str, auth: Option<String>) -> Result<(u16, String), CheckError> {
        let (agent, url2) = (self.agent.clone(), url.to_string());
        blocking(move || {
            let mut req = agent.get(&url2);
            if let Some(a) = &auth {
                req = req.header("Authorization", a.as_str());
            }
            let mut resp = req.call().map_err(|e| e.to_string())?;
            let challenge =
                resp.headers().get("WWW-Authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            // Drained within its bound, so that the connection can be used again.
            let _ = resp.body_mut().with_config().limit(MAX_BODY).read_to_vec();
            Ok((resp.status().as_u16(), challenge))
        })
        .await
        .map_err(|detail| CheckError::Unreachable { url: url.to_string(), detail })
    }
}

/// `f` on the blocking pool (ureq blocks); a panic in it is an error, not the server's.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| e.to_string()).and_then(|r| r)
}

/// The agent's login for the cluster registry, if the server has one.
pub type AgentLogin = Option<DockerCredentials>;

/// The login in the agent's secret file `file`, for the registry `run_image` is in (`None`:
/// there is no such file).
pub fn agent_login_for(file: &Path, run_image: &str) -> Result<AgentLogin> {
    let registry = run_image.split_once('/').map(|(host, _)| host).unwrap_or(run_image);
    agent_login(file, registry)
}

/// The login in the agent's secret file, for `registry` (`None`: there is no such file).
pub fn agent_login(file: &Path, registry: &str) -> Result<Option<DockerCredentials>> {
    if !file.exists() {
        return Ok(None);
    }
    let login = Login::load(file, registry).context("the cluster registry's login (the run's swarm secret)")?;
    Ok(Some(DockerCredentials {
        username: Some(login.username),
        password: Some(login.password),
        serveraddress: Some(registry.to_string()),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    /// Either form of a config.json entry gives the login; the errors name the file and the
    /// registry, and never a value from the file.
    #[test]
    fn a_login_comes_from_either_entry_form_and_errors_name_the_file() {
        let (_d, p) = write(r#"{"auths": {"reg:5001": {"auth": "dXNlcjpwYXNz"}}}"#);
        let l = Login::load(&p, "reg:5001").unwrap();
        assert_eq!((l.username.as_str(), l.password.as_str()), ("user", "pass"));
        assert!(!format!("{l:?}").contains("pass\""), "{l:?}");
        let (_d, p) = write(r#"{"auths": {"http://reg:5001": {"username": "u", "password": "p"}}}"#);
        assert_eq!(Login::load(&p, "reg:5001").unwrap().password, "p");

        let (_d, p) = write(r#"{"auths": {"other:5000": {"auth": "dXNlcjpwYXNz"}}}"#);
        let e = Login::load(&p, "reg:5001").unwrap_err().to_string();
        assert!(e.contains(&p.display().to_string()) && e.contains("reg:5001") && e.contains("other:5000"), "{e}");
        assert!(!e.contains("dXNlcjpwYXNz"), "{e}");
        let (_d, p) = write("auth=dXNlcjpwYXNz");
        let e = Login::load(&p, "reg:5001").unwrap_err().to_string();
        assert!(e.contains("not JSON") && e.contains(&p.display().to_string()) && !e.contains("dXNl"), "{e}");
        let e = Login::load(Path::new("/nonexistent/auth.json"), "reg:5001").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/auth.json") && e.contains("cannot read"), "{e}");
    }

    /// A real distribution registry (tests/env's `docker-registry`, also what the test swarm
    /// runs) on a free loopback port, without auth, deletes allowed or not; `None` (the test
    /// skips, saying so) without the program.
    struct TestRegistry {
        child: std::process::Child,
        host: String,
        _dir: tempfile::TempDir,
    }

    impl Drop for TestRegistry {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn start_registry(delete: bool) -> Option<TestRegistry> {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("registry.yml");
        let yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {delete}\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        std::fs::write(&config, yaml).unwrap();
        let child = match std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("skipped: cannot start docker-registry ({e}); tests/env/up.sh installs it");
                return None;
            }
        };
        let registry = TestRegistry { child, host, _dir: dir };
        let started = std::time::Instant::now();
        while ureq::get(format!("http://{}/v2/", registry.host)).call().is_err() {
            assert!(started.elapsed() < Duration::from_secs(15), "docker-registry did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(registry)
    }

    /// An image (a config, no layers) under `tags` of `repo`, pushed through the registry API.
    fn put_image(host: &str, repo: &str, tags: &[&str]) {
        use sha2::Digest;
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let hex: String = sha2::Sha256::digest(config).iter().map(|b| format!("{b:02x}")).collect();
        let digest = format!("sha256:{hex}");
        let started = agent.post(format!("http://{host}/v2/{repo}/blobs/uploads/")).send_empty().unwrap();
        assert_eq!(started.status().as_u16(), 202);
        let location = started.headers().get("Location").unwrap().to_str().unwrap().to_string();
        let location = if location.starts_with("http") { location } else { format!("http://{host}{location}") };
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = agent
            .put(format!("{location}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .send(&config[..])
            .unwrap();
        assert_eq!(put.status().as_u16(), 201);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": digest},
            "layers": [],
        })
        .to_string();
        for tag in tags {
            let mut put = agent
                .put(format!("http://{host}/v2/{repo}/manifests/{tag}"))
                .header("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
                .send(manifest.as_str())
                .unwrap();
            assert_eq!(put.status().as_u16(), 201, "{}", put.body_mut().read_to_string().unwrap_or_default());
        }
    }

    fn tags(host: &str, repo: &str) -> Vec<String> {
        let mut resp = ureq::get(format!("http://{host}/v2/{repo}/tags/list")).call().unwrap();
        let v: serde_json::Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        let mut tags: Vec<String> =
            v["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(String::from)).collect();
        tags.sort();
        tags
    }

    /// A run's tags (image, cancel, approvals: one manifest) go in one DELETE, another run's
    /// stay; a registry without deletes keeps them and is warned about once per server.
    #[tokio::test]
    async fn a_finished_runs_tags_are_deleted_and_a_registry_refusing_deletes_is_said_once() {
        let Some(reg) = start_registry(true) else { return };
        let run_tags = ["r1", "r1-cancel", "r1-approve1", "r1-approve2"];
        put_image(&reg.host, "slipway-run", &run_tags);
        // Another run's image: a different manifest (another config) would be as safe; the
        // same one shows that the deletion goes by the run's tags, not the repository.
        put_image(&reg.host, "other", &["r2"]);
        let registry = ClusterRegistry::new(reg.host.clone(), None, None);
        let image = format!("{}/slipway-run:r1", reg.host);
        assert_eq!(registry.delete_run_tags(&image).await, Deletion::Deleted(1));
        assert_eq!(tags(&reg.host, "slipway-run"), Vec::<String>::new());
        assert_eq!(tags(&reg.host, "other"), ["r2"]);
        // Nothing left: nothing to do.
        assert_eq!(registry.delete_run_tags(&image).await, Deletion::Deleted(0));

        let Some(reg) = start_registry(false) else { return };
        put_image(&reg.host, "slipway-run", &run_tags);
        let registry = ClusterRegistry::new(reg.host.clone(), None, None);
        let image = format!("{}/slipway-run:r1", reg.host);
        assert_eq!(registry.delete_run_tags(&image).await, Deletion::Refused { said_before: false });
        assert_eq!(registry.delete_run_tags(&image).await, Deletion::Refused { said_before: true });
        assert_eq!(tags(&reg.host, "slipway-run"), ["r1", "r1-approve1", "r1-approve2", "r1-cancel"]);
    }

    /// The agent's secret is a config.json the agent reads back to the same login.
    #[test]
    fn the_agents_secret_reads_back_to_the_login() {
        let (_d, p) = write(r#"{"auths": {"reg:5001": {"username": "u", "password": "p"}}}"#);
        let r = ClusterRegistry::new("reg:5001".into(), Some(Login::load(&p, "reg:5001").unwrap()), None);
        let (_d2, back) = write(&r.agent_config().unwrap());
        let c = agent_login(&back, "reg:5001").unwrap().unwrap();
        assert_eq!((c.username.as_deref(), c.password.as_deref()), (Some("u"), Some("p")));
        assert_eq!(agent_login(Path::new("/nonexistent/x"), "reg:5001").unwrap(), None);
    }
}
