//! Commit statuses sent back to the forge: pending when queued, running, then the result.
//!
//! GitHub `POST /repos/{owner}/{repo}/statuses/{sha}`, Gitea `POST /repos/{owner}/{repo}/statuses/{sha}`
//! under `/api/v1`, GitLab `POST /projects/{id}/statuses/{sha}` under `/api/v4` (`{id}` is the
//! URL-encoded path with its namespace, which GitLab accepts in place of the number).
//! A forge that is down never fails a run: [`StatusClient::post`] retries with backoff, never
//! panics and returns an [`Outcome`] the run shows. The token goes in a header only, and every
//! reason in an outcome is masked with it.

use super::{Forge, Secret};
use std::time::Duration;

/// A run's state as a status. Each forge gets its own word for it (see [`State::on`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Running,
    Success,
    Failure,
    Error,
    Canceled,
}

impl State {
    /// GitHub knows pending/success/failure/error; Gitea those and `warning`; GitLab
    /// pending/running/success/failed/canceled.
    pub fn on(self, forge: Forge) -> &'static str {
        match (forge, self) {
            (Forge::GitLab, State::Running) => "running",
            (Forge::GitLab, State::Failure | State::Error) => "failed",
            (Forge::GitLab, State::Canceled) => "canceled",
            (_, State::Pending | State::Running) => "pending",
            (_, State::Success) => "success",
            (_, State::Failure) => "failure",
            (_, State::Error | State::Canceled) => "error",
        }
    }

    /// The state's name where Slipway stores it (not a forge's word for it).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Running => "running",
            State::Success => "success",
            State::Failure => "failure",
            State::Error => "error",
            State::Canceled => "canceled",
        }
    }

    pub fn parse(name: &str) -> Option<State> {
        [State::Pending, State::Running, State::Success, State::Failure, State::Error, State::Canceled]
            .into_iter()
            .find(|s| s.as_str() == name)
    }

    /// The status's description line on the forge.
    pub fn description(self) -> &'static str {
        match self {
            State::Pending => "Queued on Slipway",
            State::Running => "Running on Slipway",
            State::Success => "The pipeline passed",
            State::Failure => "The pipeline failed",
            State::Error => "The run could not complete",
            State::Canceled => "The run was canceled",
        }
    }
}

/// How often and how patiently to try: `attempts` in all, waiting `first_delay`, then twice
/// as long each time (0.5 s, 1 s, 2 s by default: a forge answering again within 4 s).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_delay: Duration,
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 4, first_delay: Duration::from_millis(500), timeout: Duration::from_secs(10) }
    }
}

/// One status for one commit of a run.
#[derive(Debug, Clone)]
pub struct Update {
    /// `owner/name` (GitLab: the path with its namespace).
    pub repo: String,
    pub sha: String,
    pub state: State,
    pub run_id: String,
    pub project: String,
    /// A pull request's run: a push to a branch with an open pull request starts a run for
    /// each event, and each reports under its own context so neither hides the other.
    pub pull_request: bool,
}

impl Update {
    /// `slipway/{project}` for pushes and tags, `slipway/{project}/pr` for pull requests.
    pub fn context(&self) -> String {
        if self.pull_request { format!("slipway/{}/pr", self.project) } else { format!("slipway/{}", self.project) }
    }
}

/// What happened to a status, for the run's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        state: State,
        attempts: u32,
    },
    /// Not sent; `reason` is masked and names the last answer or transport error.
    Failed {
        state: State,
        attempts: u32,
        reason: String,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tries = |n: &u32| if *n == 1 { "1 attempt".to_string() } else { format!("{n} attempts") };
        match self {
            Outcome::Sent { state, attempts } => write!(f, "status {state:?} sent ({})", tries(attempts)),
            Outcome::Failed { state, attempts, reason } => {
                write!(f, "status {state:?} not sent after {}: {reason}", tries(attempts))
            }
        }
    }
}

/// One answer: done, worth another try, or not (a 4xx other than 429 will not change).
enum Attempt {
    Done,
    Retry(String),
    GiveUp(String),
}

pub struct StatusClient {
    forge: Forge,
    api_url: String,
    public_url: String,
    token: Secret,
    retry: Retry,
    agent: ureq::Agent,
}

impl StatusClient {
    /// `api_url` is the API root (`https://api.github.com`, `https://gitea.example/api/v1`,
    /// `https://gitlab.example/api/v4`); `public_url` the server's address for the run links.
    pub fn new(forge: Forge, api_url: &str, public_url: &str, token: Secret, retry: Retry) -> StatusClient {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(retry.timeout))
            // A redirect could carry the token's header to another host.
            .max_redirects(0)
            .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        StatusClient {
            forge,
            api_url: api_url.trim_end_matches('/').to_string(),
            public_url: public_url.trim_end_matches('/').to_string(),
            token,
            retry,
            agent,
        }
    }

    pub fn target_url(&self, run_id: &str) -> String {
        format!("{}/#/runs/{run_id}", self.public_url)
    }

    pub fn endpoint(&self, repo: &str, sha: &str) -> String {
        match self.forge {
            Forge::GitHub | Forge::Gitea => format!("{}/repos/{repo}/statuses/{sha}", self.api_url),
            Forge::GitLab => format!("{}/projects/{}/statuses/{sha}", self.api_url, encode_component(repo)),
        }
    }

    /// The JSON body: GitLab calls the context `name`.
    pub fn body(&self, u: &Update) -> serde_json::Value {
        let context = u.context();
        let mut body = serde_json::json!({
            "state": u.state.on(self.forge),
            "target_url": self.target_url(&u.run_id),
            "description": u.state.description(),
        });
        let key = if self.forge == Forge::GitLab { "name" } else { "context" };
        body[key] = serde_json::Value::String(context);
        body
    }

    /// Sends one status, blocking, retrying 5xx, 429 and transport errors with backoff.
    pub fn post(&self, u: &Update) -> Outcome {
        let mut delay = self.retry.first_delay;
        let attempts = self.retry.attempts.max(1);
        let mut reason = String::new();
        for attempt in 1..=attempts {
            match self.attempt(u) {
                Attempt::Done => return Outcome::Sent { state: u.state, attempts: attempt },
                Attempt::GiveUp(r) => return Outcome::Failed { state: u.state, attempts: attempt, reason: r },
                Attempt::Retry(r) => reason = r,
            }
            if attempt < attempts {
                std::thread::sleep(delay);
                delay = delay.saturating_mul(2);
            }
        }
        Outcome::Failed { state: u.state, attempts, reason }
    }

    /// [`Self::post`] on a blocking thread, for the run manager's async tasks.
    pub async fn send(self: std::sync::Arc<Self>, u: Update) -> Outcome {
        let state = u.state;
        tokio::task::spawn_blocking(move || self.post(&u)).await.unwrap_or_else(|e| Outcome::Failed {
            state,
            attempts: 0,
            reason: format!("the status task ended: {e}"),
        })
    }

    fn attempt(&self, u: &Update) -> Attempt {
        let url = self.endpoint(&u.repo, &u.sha);
        let mut req = self.agent.post(&url).header("Content-Type", "application/json");
        req = match self.forge {
            Forge::GitHub => req
                .header("Authorization", format!("Bearer {}", self.token.expose()))
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28"),
            Forge::Gitea => req.header("Authorization", format!("token {}", self.token.expose())),
            Forge::GitLab => req.header("PRIVATE-TOKEN", self.token.expose()),
        };
        match req.send(self.body(u).to_string()) {
            Ok(mut resp) => {
                let code = resp.status().as_u16();
                if (200..300).contains(&code) {
                    return Attempt::Done;
                }
                let text = resp.body_mut().with_config().limit(4096).read_to_string().unwrap_or_default();
                let reason = self.token.mask(&format!("{url} answered HTTP {code}: {}", first_line(&text)));
                if code >= 500 || code == 429 { Attempt::Retry(reason) } else { Attempt::GiveUp(reason) }
            }
            Err(e) => Attempt::Retry(self.token.mask(&format!("{url}: {e}"))),
        }
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

/// Percent-encodes everything but unreserved characters (RFC 3986), `/` included.
fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
