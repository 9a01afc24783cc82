//! slipway.toml as TOML reads it, with spans for the messages: unknown keys are refused here
//! (`deny_unknown_fields`), everything else is checked by the rest of the parser.

use super::notify;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) project: Vec<RawProject>,
    pub(super) step_limits: Option<RawLimits>,
    pub(super) smtp: Option<notify::RawSmtp>,
    pub(super) generators: Option<RawGenerators>,
    pub(super) run_limits: Option<RawRunLimits>,
    pub(super) engine: Option<super::engine::RawEngine>,
}

/// `[generators]`: `endpoints = ["http://HOST:PORT", …]`, see `generators::endpoints`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGenerators {
    #[serde(default)]
    pub(super) endpoints: Vec<Spanned<String>>,
}

/// `[run_limits]` or a project's `run_limits = { … }` (see `executor::run_limits`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRunLimits {
    pub(super) step_timeout: Option<Spanned<toml::Value>>,
    pub(super) run_timeout: Option<Spanned<toml::Value>>,
    pub(super) disk: Option<Spanned<toml::Value>>,
}

/// `[step_limits]` or a project's `step_limits = { … }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) memory: Option<Spanned<toml::Value>>,
    pub(super) pids: Option<Spanned<toml::Value>>,
    pub(super) cpus: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    pub(super) name: Spanned<String>,
    pub(super) path: Option<Spanned<PathBuf>>,
    pub(super) key: Option<PathBuf>,
    pub(super) repo: Option<Spanned<String>>,
    pub(super) branches: Option<Spanned<Vec<String>>>,
    pub(super) exclude: Option<Spanned<Vec<String>>>,
    pub(super) forge: Option<Spanned<String>>,
    pub(super) api_url: Option<Spanned<String>>,
    pub(super) webhook_secret_file: Option<Spanned<PathBuf>>,
    pub(super) webhook_secret_env: Option<Spanned<String>>,
    pub(super) token_file: Option<Spanned<PathBuf>>,
    pub(super) token_env: Option<Spanned<String>>,
    pub(super) ssh_key_file: Option<Spanned<PathBuf>>,
    pub(super) ssh_known_hosts_file: Option<Spanned<PathBuf>>,
    /// Accepted by the parser only to be refused with a useful message.
    pub(super) webhook_secret: Option<Spanned<toml::Value>>,
    pub(super) token: Option<Spanned<toml::Value>>,
    pub(super) ssh_key: Option<Spanned<toml::Value>>,
    pub(super) poll: Option<Spanned<String>>,
    pub(super) keep_workspaces: Option<Spanned<i64>>,
    pub(super) git_timeout: Option<Spanned<String>>,
    pub(super) cancel_superseded: Option<Spanned<bool>>,
    pub(super) trusted: Option<Spanned<bool>>,
    pub(super) step_limits: Option<RawLimits>,
    pub(super) run_limits: Option<RawRunLimits>,
    pub(super) fork_pull_requests: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) notify: Vec<notify::RawTarget>,
    pub(super) public_badge: Option<bool>,
}
