//! `slipway serve` as a child process that tests talk to over HTTP with a bearer token: start
//! runs, wait for them, read their record, events and log. Dropping the [`Server`] kills it.

use serde_json::Value;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// A running `slipway serve`, killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    url: String,
    token: String,
    /// The data folder, when the server owns it ([`Server::start_temp`]).
    _data: Option<tempfile::TempDir>,
}

/// The `serve` arguments registering the folder `dir` as project `name`.
pub fn project_args(name: &str, dir: &Path) -> Vec<String> {
    vec!["--project".to_string(), format!("{name}={}", dir.display())]
}

impl Server {
    /// `slipway serve --data-dir DATA ARGS…` with `SLIPWAY_TOKEN=token` (see [`super::serve`]).
    pub fn start(data: &Path, args: &[String], token: &str) -> Server {
        let mut all = vec!["--data-dir".to_string(), data.display().to_string()];
        all.extend(args.iter().cloned());
        let (child, url) = super::serve(&all, token);
        Server { child, url, token: token.to_string(), _data: None }
    }

    /// [`Server::start`] with a fresh temporary data folder, removed when the server is dropped.
    pub fn start_temp(args: &[String], token: &str) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut server = Server::start(data.path(), args, token);
        server._data = Some(data);
        server
    }

    /// [`Server::start_temp`] with `envs` in the server's environment and its log (debug) in
    /// `log`.
    pub fn start_temp_logged(args: &[String], token: &str, log: &Path, envs: &[(&str, &str)]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut server = Server::start_logged(data.path(), args, token, log, envs);
        server._data = Some(data);
        server
    }

    /// [`Server::start`] with `envs` in the server's environment and its log (debug) in `log`.
    pub fn start_logged(data: &Path, args: &[String], token: &str, log: &Path, envs: &[(&str, &str)]) -> Server {
        let mut all = vec!["--data-dir".to_string(), data.display().to_string()];
        all.extend(args.iter().cloned());
        let (child, url) = super::serve_logged_with(&all, token, log, envs);
        Server { child, url, token: token.to_string(), _data: None }
    }

    /// The server's address (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The body of an authorized `GET path`; panics on any error or error status.
    pub fn get_text(&self, path: &str) -> String {
        ureq::get(&format!("{}{path}", self.url))
            .header("authorization", &format!("Bearer {}", self.token))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }

    /// An authorized `GET path` that gives up after 10 seconds: a server thread stuck (on a
    /// FIFO, say) may stop answering.
    pub fn try_get_text(&self, path: &str) -> Result<String, ureq::Error> {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
        agent
            .get(&format!("{}{path}", self.url))
            .header("authorization", &format!("Bearer {}", self.token))
            .call()?
            .body_mut()
            .read_to_string()
    }

    /// `POST /api/runs` with `body`; the new run's id.
    pub fn start_run(&self, body: Value) -> String {
        let mut r = ureq::post(&format!("{}/api/runs", self.url))
            .header("authorization", &format!("Bearer {}", self.token))
            .send_json(body)
            .unwrap();
        let v: Value = r.body_mut().read_json().unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    /// `POST /api/runs/ID/approve`.
    pub fn approve(&self, id: &str) {
        ureq::post(&format!("{}/api/runs/{id}/approve", self.url))
            .header("authorization", &format!("Bearer {}", self.token))
            .send_empty()
            .unwrap();
    }

    /// `POST /api/runs/ID/cancel`.
    pub fn cancel(&self, id: &str) {
        ureq::post(&format!("{}/api/runs/{id}/cancel", self.url))
            .header("authorization", &format!("Bearer {}", self.token))
            .send_empty()
            .unwrap();
    }

    /// Wait for run `id` to end (status neither queued nor running); its record. Panics, with
    /// the last record, when it has not ended within `limit`, and on any failed GET.
    pub fn finished(&self, id: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let v: Value = serde_json::from_str(&self.get_text(&format!("/api/runs/{id}"))).unwrap();
            if !matches!(v["status"].as_str(), Some("queued" | "running")) {
                return v;
            }
            assert!(start.elapsed() < limit, "run {id} did not finish: {v}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Wait at most `limit` for run `id` to end; its record, or `None` when it is still going.
    /// A GET that fails or times out ([`Server::try_get_text`]) counts as still going.
    pub fn finished_within(&self, id: &str, limit: Duration) -> Option<Value> {
        let start = Instant::now();
        loop {
            if let Ok(text) = self.try_get_text(&format!("/api/runs/{id}")) {
                let v: Value = serde_json::from_str(&text).unwrap();
                if !matches!(v["status"].as_str(), Some("queued" | "running")) {
                    return Some(v);
                }
            }
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every event of run `id`, as the SSE stream replays it (it ends only once the run has).
    pub fn events(&self, id: &str) -> String {
        self.get_text(&format!("/api/runs/{id}/events"))
    }

    /// The log of run `id`.
    pub fn log(&self, id: &str) -> String {
        self.get_text(&format!("/api/runs/{id}/log"))
    }

    /// Everything a client can see of a finished run: its record, events and log, each read
    /// with [`Server::try_get_text`] (the events of a run that is still going are a stream
    /// that does not end).
    pub fn everything(&self, id: &str) -> String {
        [format!("/api/runs/{id}"), format!("/api/runs/{id}/events"), format!("/api/runs/{id}/log")]
            .iter()
            .map(|p| self.try_get_text(p).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SIGTERM, then whether the server exited within `limit`.
    pub fn stops_on_sigterm(&mut self, limit: Duration) -> bool {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
