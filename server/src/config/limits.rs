//! `[step_limits]`, `[run_limits]` and a project's own `step_limits` and `run_limits`.

use super::raw::{RawLimits, RawRunLimits};
use super::{ConfigError, Cx};
use slipway_core::model::container::StepLimitsOverride;
use slipway_core::model::run_limits::RunLimitsOverride;
use toml::Spanned;

impl Cx<'_> {
    /// `[step_limits]` (`project` None) or a project's `step_limits`.
    pub(super) fn limits(
        &self,
        project: Option<&str>,
        raw: Option<&RawLimits>,
    ) -> Result<StepLimitsOverride, ConfigError> {
        let Some(raw) = raw else { return Ok(StepLimitsOverride::default()) };
        let read = |key: &str, v: &Option<Spanned<toml::Value>>| -> Result<Option<Option<i64>>, ConfigError> {
            let Some(v) = v else { return Ok(None) };
            parse_limit(key, v.get_ref()).map(Some).map_err(|m| {
                let message = match project {
                    Some(p) => format!("project `{p}`: `step_limits.{key}`: {m}"),
                    None => format!("`[step_limits]` `{key}`: {m}"),
                };
                self.error(Some(v.span()), message)
            })
        };
        Ok(StepLimitsOverride {
            memory: read("memory", &raw.memory)?,
            pids: read("pids", &raw.pids)?,
            nano_cpus: read("cpus", &raw.cpus)?,
        })
    }

    /// `[run_limits]` (`project` None) or a project's `run_limits`.
    pub(super) fn run_limits(
        &self,
        project: Option<&str>,
        raw: Option<&RawRunLimits>,
    ) -> Result<RunLimitsOverride, ConfigError> {
        use slipway_core::model::run_limits::{parse_disk, parse_duration};
        let Some(raw) = raw else { return Ok(RunLimitsOverride::default()) };
        fn read<T>(
            cx: &Cx,
            project: Option<&str>,
            key: &str,
            v: &Option<Spanned<toml::Value>>,
            parse: fn(&str) -> Result<Option<T>, String>,
        ) -> Result<Option<Option<T>>, ConfigError> {
            let Some(v) = v else { return Ok(None) };
            run_limit_text(v.get_ref()).and_then(|t| parse(&t)).map(Some).map_err(|m| {
                let message = match project {
                    Some(p) => format!("project `{p}`: `run_limits.{key}`: {m}"),
                    None => format!("`[run_limits]` `{key}`: {m}"),
                };
                cx.error(Some(v.span()), message)
            })
        }
        Ok(RunLimitsOverride {
            step: read(self, project, "step_timeout", &raw.step_timeout, parse_duration)?,
            run: read(self, project, "run_timeout", &raw.run_timeout, parse_duration)?,
            disk: read(self, project, "disk", &raw.disk, parse_disk)?,
        })
    }
}

/// One per-step limit (`memory`, `pids` or `cpus`) as slipway.toml or a serve flag gives it:
/// `None` for `"unlimited"`, else the limit in Docker's units (bytes, processes, billionths of
/// a CPU).
pub fn parse_limit(key: &str, value: &toml::Value) -> Result<Option<i64>, String> {
    use toml::Value;
    if value.as_str().is_some_and(|s| s.trim() == "unlimited") {
        return Ok(None);
    }
    let n = match (key, value) {
        ("memory", Value::String(s)) => slipway_core::model::container::parse_size(s),
        ("memory", Value::Integer(b)) => Some(*b),
        ("pids", Value::Integer(n)) => Some(*n),
        ("pids", Value::String(s)) => s.trim().parse().ok(),
        ("cpus", Value::Integer(n)) => n.checked_mul(1_000_000_000),
        ("cpus", Value::Float(f)) if *f <= 1e6 => Some((f * 1e9).round() as i64),
        ("cpus", Value::String(s)) => {
            s.trim().parse::<f64>().ok().filter(|f| *f <= 1e6).map(|f| (f * 1e9).round() as i64)
        }
        _ => None,
    };
    let (min, expected) = match key {
        "memory" => (6 << 20, "a size of at least 6m, like \"4g\" or \"512m\", or \"unlimited\""),
        "pids" => (16, "a number of processes of at least 16, or \"unlimited\""),
        _ => (10_000_000, "a number of CPUs of at least 0.01, like 2 or 0.5, or \"unlimited\""),
    };
    match n {
        Some(n) if n >= min => Ok(Some(n)),
        _ => Err(format!("expected {expected}, found {value}")),
    }
}

/// A `run_limits` value (a string or a number) as the text its parser reads.
fn run_limit_text(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        other => Err(format!("expected a string or a number, found {other}")),
    }
}
