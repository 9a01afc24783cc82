//! A server run's wall-clock and disk limits, and who set each one, so that the message of a
//! run stopped by one names the setting to change.
//!
//! Three limits, each settable per server (`slipway serve --step-timeout MIN --run-timeout MIN
//! --max-run-disk-mb MB`, or slipway.toml's `[run_limits]`) and per project (its
//! `run_limits = { … }` in slipway.toml): how long one step (or one image build or pull) may
//! take, how long the whole run may take, and how much disk the run may use (see
//! `disk_watch`). The flags win over `[run_limits]`, a project's table over both: slipway.toml
//! is the operator's file, never a repository's, so a project there may raise a limit as well
//! as lower it (a long integration suite on a project the operator knows), as its
//! `step_limits` may. Nothing in a repository can change them.
//!
//! `slipway steps` on a developer's own machine has no wall-clock or disk limit, as jet had
//! none; `--step-timeout`/`--run-timeout` ask for one.

pub use slipway_core::model::run_limits::{MB, RunLimitsOverride, parse_disk, parse_duration};
use std::time::Duration;

/// One run: 5 hours, what CodeShip Pro let a build run (and it gave a build 10 GB of disk;
/// documentation.codeship.com, "VM and infrastructure"), so that no build CodeShip ran is
/// stopped by default. An operator sharing a server lowers it (`--run-timeout`).
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(5 * 60 * 60);
/// One step (an image build or pull counts as a step of its own): as long as the run, as on
/// CodeShip, which limited only the build (and 15 minutes without output).
pub const DEFAULT_STEP_TIMEOUT: Duration = DEFAULT_RUN_TIMEOUT;
/// One run's disk (workspace, containers' writable layers, volumes): 10 GiB, in MB of 2^20,
/// what CodeShip gave every build.
pub const DEFAULT_MAX_RUN_DISK_MB: u64 = 10 * 1024;
/// The free space a server keeps on the disk of its workspaces (and of the engine's data,
/// when it is on this machine): 2 GiB. Below it every run is stopped.
pub const DEFAULT_MIN_FREE_DISK_MB: u64 = 2 * 1024;

/// Who set a limit; named in the message of a run that went over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetBy {
    /// The server's built-in default (`slipway serve` without the flag).
    Default,
    /// The `slipway serve` (or `slipway steps`) flag.
    Flag,
    /// slipway.toml's top-level `[run_limits]`.
    ServerConfig,
    /// This project's `run_limits` in slipway.toml.
    Project(String),
}

/// What a limit is of: its flag and its slipway.toml key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Step,
    Run,
    Disk,
}

impl Kind {
    pub fn flag(self) -> &'static str {
        match self {
            Kind::Step => "--step-timeout",
            Kind::Run => "--run-timeout",
            Kind::Disk => "--max-run-disk-mb",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Kind::Step => "step_timeout",
            Kind::Run => "run_timeout",
            Kind::Disk => "disk",
        }
    }
}

/// A limit and who set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit<T> {
    pub value: T,
    pub set_by: SetBy,
}

impl<T> Limit<T> {
    /// Where the limit comes from, as the message puts it in parentheses.
    pub fn origin(&self, kind: Kind) -> String {
        let (flag, key) = (kind.flag(), kind.key());
        match &self.set_by {
            SetBy::Default => format!("the server's default; {flag} or `run_limits.{key}` in slipway.toml changes it"),
            SetBy::Flag => flag.to_string(),
            SetBy::ServerConfig => format!("`[run_limits]` `{key}` in slipway.toml"),
            SetBy::Project(p) => format!("project `{p}`'s `run_limits.{key}` in slipway.toml"),
        }
    }
}

/// The limits of one run; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunLimits {
    pub step: Option<Limit<Duration>>,
    pub run: Option<Limit<Duration>>,
    /// Bytes.
    pub disk: Option<Limit<u64>>,
    /// Bytes the host's disk keeps free, whatever a run measures (`--min-free-disk-mb`): the
    /// last bound, for what the disk watch cannot see (a deleted file a step keeps open, a
    /// layer of many tiny files). The server's alone: projects cannot change it.
    pub host_floor: Option<u64>,
}

impl RunLimits {
    /// A server's defaults (see the constants).
    pub fn server_default() -> RunLimits {
        RunLimits {
            step: Some(Limit { value: DEFAULT_STEP_TIMEOUT, set_by: SetBy::Default }),
            run: Some(Limit { value: DEFAULT_RUN_TIMEOUT, set_by: SetBy::Default }),
            disk: Some(Limit { value: DEFAULT_MAX_RUN_DISK_MB * MB, set_by: SetBy::Default }),
            host_floor: Some(DEFAULT_MIN_FREE_DISK_MB * MB),
        }
    }

    /// Each limit `over` sets replaces this one's, as set by `by`.
    pub fn overridden(&self, over: &RunLimitsOverride, by: SetBy) -> RunLimits {
        fn pick<T: Copy>(now: &Option<Limit<T>>, over: Option<Option<T>>, by: &SetBy) -> Option<Limit<T>> {
            match over {
                None => now.clone(),
                Some(v) => v.map(|value| Limit { value, set_by: by.clone() }),
            }
        }
        RunLimits {
            step: pick(&self.step, over.step, &by),
            run: pick(&self.run, over.run, &by),
            disk: pick(&self.disk, over.disk, &by),
            host_floor: self.host_floor,
        }
    }
}

/// A flag's value: the limit, or `None` for `unlimited`. (A type of its own: clap reads an
/// `Option<Option<_>>` field as a flag whose value may be left out.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag<T>(pub Option<T>);

/// `--step-timeout`, `--run-timeout`.
pub fn duration_flag(text: &str) -> Result<Flag<Duration>, String> {
    parse_duration(text).map(Flag)
}

/// `--max-run-disk-mb`.
pub fn disk_flag(text: &str) -> Result<Flag<u64>, String> {
    parse_disk(text).map(Flag)
}

/// A duration as messages show it: `3 s`, `90 s`, `60 min`, `2 h`.
pub fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else if s == 0 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{s} s")
    }
}

/// Bytes as messages show them: MB of 2^20 with one decimal.
pub fn show_mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / MB as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_replaces_what_it_sets_and_the_message_names_who_set_it() {
        let server = RunLimits::server_default().overridden(
            &RunLimitsOverride { step: Some(Some(Duration::from_secs(3))), ..Default::default() },
            SetBy::Flag,
        );
        let project = server.overridden(
            &RunLimitsOverride { run: Some(Some(Duration::from_secs(9000))), disk: Some(None), ..Default::default() },
            SetBy::Project("web".into()),
        );
        let step = project.step.as_ref().unwrap();
        assert_eq!((step.value, step.origin(Kind::Step)), (Duration::from_secs(3), "--step-timeout".to_string()));
        let run = project.run.as_ref().unwrap();
        assert_eq!(run.origin(Kind::Run), "project `web`'s `run_limits.run_timeout` in slipway.toml");
        assert_eq!(project.disk, None, "unlimited");
        assert!(RunLimits::server_default().disk.unwrap().origin(Kind::Disk).contains("the server's default"));
        assert_eq!(show_duration(Duration::from_secs(3)), "3 s");
        assert_eq!(show_duration(DEFAULT_RUN_TIMEOUT), "5 h");
        assert_eq!(show_duration(DEFAULT_STEP_TIMEOUT), "5 h");
    }
}
