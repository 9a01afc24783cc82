//! Notifications of runs (`[[project.notify]]`: Slack, webhooks, e-mail) and which projects
//! show their badge without the token (`public_badge`).
//!
//! A run never waits for a notification and never fails because of one: the run manager hands
//! each message to a bounded queue ([`MAX_QUEUED`]; past it, the message is recorded as
//! undelivered) and goes on. A worker sends at most [`MAX_AT_ONCE`] at a time, each retried
//! with backoff ([`Retry`]: 4 attempts over about 4 s, each bounded); one that could not be
//! delivered is recorded in its run's record (`undelivered_notifications` in
//! `GET /api/runs/{id}` with the token). A message names its run and carries the project,
//! branch, commit, status and a link: never a secret, never a log line.

pub mod email;
pub mod send;

use crate::config::notify::{Event, Kind, Settings, Target};
use crate::forge::Secret;
use crate::forge::status::Retry;
use anyhow::{Context, Result};
use send::Sender;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};

/// Messages waiting to be sent, over all projects.
pub const MAX_QUEUED: usize = 256;
/// Messages being sent at once.
pub const MAX_AT_ONCE: usize = 8;

/// What a notification says: the same facts for every kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub run_id: String,
    pub project: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    /// The run's status: `running` when it started, else how it ended.
    pub status: String,
    pub event: Event,
    /// `PUBLIC_URL/#/runs/ID`: the run in the studio.
    pub link: String,
}

impl Message {
    pub fn branch_or_dash(&self) -> &str {
        self.branch.as_deref().unwrap_or("-")
    }

    /// The webhook's body.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "run_id": self.run_id,
            "project": self.project,
            "branch": self.branch,
            "commit": self.commit,
            "status": self.status,
            "event": self.event,
            "link": self.link,
        })
    }

    fn what(&self) -> &'static str {
        match self.event {
            Event::Started => "started",
            Event::Success => "passed",
            Event::Failed => "failed",
            Event::Fixed => "passed again (fixed)",
        }
    }

    /// The mail's body.
    pub fn text(&self) -> String {
        let mut t =
            format!("Run {} of {} on {} {}.\n\n", self.run_id, self.project, self.branch_or_dash(), self.what());
        t.push_str(&format!("Project: {}\nBranch:  {}\n", self.project, self.branch_or_dash()));
        if let Some(c) = &self.commit {
            t.push_str(&format!("Commit:  {c}\n"));
        }
        t.push_str(&format!("Status:  {}\nRun:     {}\n", self.status, self.link));
        t
    }

    /// Slack's `text` (mrkdwn: `&`, `<` and `>` escaped in what the run names).
    pub fn slack_text(&self) -> String {
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let commit =
            self.commit.as_deref().map(|c| format!(" (commit `{}`)", c.get(..12).unwrap_or(c))).unwrap_or_default();
        format!(
            "Slipway: *{}* `{}` {}{commit}: <{}|run {}>",
            esc(&self.project),
            esc(self.branch_or_dash()),
            self.what(),
            esc(&self.link),
            esc(&self.run_id)
        )
    }
}

/// One project's target, ready to send.
struct Loaded {
    target: Target,
    sender: Arc<Sender>,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Done,
    /// Worth another try (a 5xx, 429, a timeout, a refused connection), for this reason.
    Retry(String),
    /// Will not change by trying again (a 4xx, say).
    GiveUp(String),
}

struct Job {
    sender: Arc<Sender>,
    kind: &'static str,
    message: Message,
}

/// Where an undelivered notification is recorded (the run's record, in the store): given by
/// the caller, so this module knows nothing of the store or the run manager.
pub type Undelivered = Arc<dyn Fn(&str, &serde_json::Value) -> Result<()> + Send + Sync>;

pub struct Notifier {
    targets: HashMap<String, Vec<Loaded>>,
    public_badges: HashSet<String>,
    public_url: String,
    queue: mpsc::Sender<Job>,
    undelivered: Undelivered,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("projects", &self.targets.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

fn read_secret(path: &std::path::Path, what: &str) -> Result<Secret> {
    crate::config::SecretRef::File(path.to_path_buf())
        .load()
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("the {what}"))
}

impl Notifier {
    /// Reads every secret the settings name (a missing file is an error naming it), and
    /// starts the worker. Needs a Tokio runtime.
    pub fn start(
        settings: Settings,
        public_url: &str,
        undelivered: Undelivered,
        retry: Retry,
    ) -> Result<Arc<Notifier>> {
        let mailer = match &settings.smtp {
            Some(smtp) => {
                let password = match &smtp.password_file {
                    Some(p) => Some(read_secret(p, "`[smtp]` `password_file`")?),
                    None => None,
                };
                Some(Arc::new(email::Mailer::new(smtp.clone(), password, retry.timeout)))
            }
            None => None,
        };
        let mut targets = HashMap::new();
        for (project, list) in settings.targets {
            let mut loaded = Vec::new();
            for target in list {
                let what = |key: &str| format!("`{key}` of a `[[project.notify]]` of project `{project}`");
                let sender = match &target.kind {
                    Kind::Slack { url_file } => Sender::Slack { url: read_secret(url_file, &what("url_file"))? },
                    Kind::Webhook { url, secret_file } => Sender::Webhook {
                        url: url.clone(),
                        secret: secret_file.as_deref().map(|f| read_secret(f, &what("secret_file"))).transpose()?,
                    },
                    Kind::Email { to } => Sender::Email {
                        to: to.clone(),
                        mailer: mailer.clone().context("e-mail notifications need `[smtp]`")?,
                    },
                };
                loaded.push(Loaded { target, sender: Arc::new(sender) });
            }
            targets.insert(project, loaded);
        }
        let (queue, rx) = mpsc::channel(MAX_QUEUED);
        tokio::spawn(work(rx, undelivered.clone(), retry));
        Ok(Arc::new(Notifier {
            targets,
            public_badges: settings.public_badges,
            public_url: public_url.trim_end_matches('/').to_string(),
            queue,
            undelivered,
        }))
    }

    /// Whether `project`'s badge is shown without the token.
    pub fn public_badge(&self, project: &str) -> bool {
        self.public_badges.contains(project)
    }

    pub fn link(&self, run_id: &str) -> String {
        format!("{}/#/runs/{run_id}", self.public_url)
    }

    /// Queues `message` for each of its project's targets that takes one of `events` on its
    /// branch; never waits. `events`: what the run's change is (a fixed run is `fixed` and
    /// `success`): a target taking both gets one message.
    pub fn notify(&self, message: Message, events: &[Event]) {
        let Some(targets) = self.targets.get(&message.project) else { return };
        for t in targets {
            let branch = message.branch.as_deref().unwrap_or("");
            if !t.target.on.iter().any(|e| events.contains(e)) || !t.target.branches.matches(branch) {
                continue;
            }
            let job = Job { sender: t.sender.clone(), kind: t.target.kind.name(), message: message.clone() };
            if let Err(e) = self.queue.try_send(job) {
                let job = match e {
                    mpsc::error::TrySendError::Full(j) | mpsc::error::TrySendError::Closed(j) => j,
                };
                tracing::warn!(run = %job.message.run_id, "{} notification dropped: {MAX_QUEUED} are waiting already", job.kind);
                record(
                    &self.undelivered,
                    &job,
                    0,
                    &format!("not sent: {MAX_QUEUED} notifications were waiting already"),
                );
            }
        }
    }
}

fn record(undelivered: &Undelivered, job: &Job, attempts: u32, error: &str) {
    let entry = serde_json::json!({
        "kind": job.kind,
        "event": job.message.event,
        "attempts": attempts,
        "error": error,
    });
    if let Err(e) = undelivered(&job.message.run_id, &entry) {
        tracing::warn!(run = %job.message.run_id, "cannot record an undelivered notification: {e:#}");
    }
}

/// The worker: each job on its own task, at most [`MAX_AT_ONCE`] at a time.
async fn work(mut rx: mpsc::Receiver<Job>, undelivered: Undelivered, retry: Retry) {
    let agent = send::agent(retry.timeout);
    let slots = Arc::new(Semaphore::new(MAX_AT_ONCE));
    while let Some(job) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let (undelivered, agent) = (undelivered.clone(), agent.clone());
        tokio::spawn(async move {
            let _slot = slot;
            deliver(job, &undelivered, &agent, retry).await;
        });
    }
}

/// Attempts with backoff (on the blocking pool: the clients block); the last failure recorded.
async fn deliver(job: Job, undelivered: &Undelivered, agent: &ureq::Agent, retry: Retry) {
    let mut delay = retry.first_delay;
    let attempts = retry.attempts.max(1);
    let mut reason = String::new();
    for attempt in 1..=attempts {
        let (sender, agent, message) = (job.sender.clone(), agent.clone(), job.message.clone());
        // The clients' timeouts bound each read and write; this bounds the whole attempt (a
        // receiver that trickles its answer), leaving the blocking thread to its own timeout.
        let whole = retry.timeout.saturating_mul(3);
        let outcome =
            match tokio::time::timeout(whole, tokio::task::spawn_blocking(move || sender.attempt(&agent, &message)))
                .await
            {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(e)) => Attempt::GiveUp(format!("the sending task ended: {e}")),
                Err(_) => Attempt::Retry(format!("no answer within {} s", whole.as_secs())),
            };
        match outcome {
            Attempt::Done => {
                tracing::debug!(run = %job.message.run_id, "{} notification ({}) delivered", job.kind, job.message.event.as_str());
                return;
            }
            Attempt::GiveUp(r) => {
                tracing::warn!(run = %job.message.run_id, "{} notification not delivered: {r}", job.kind);
                return record(undelivered, &job, attempt, &r);
            }
            Attempt::Retry(r) => reason = r,
        }
        if attempt < attempts {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }
    tracing::warn!(run = %job.message.run_id, "{} notification not delivered after {attempts} attempts: {reason}", job.kind);
    record(undelivered, &job, attempts, &reason);
}
