//! A run's events as log lines, like jet printed them: `(step: NAME) (service: SVC) line`,
//! coloured for a terminal or plain, and a summary table at the end. Used by the CLI (the
//! terminal) and by the server (`GET /api/runs/{id}/log`).

use crate::executor::RunResult;
use crate::executor::events::{Event, StepStatus};
use serde::Deserialize;
use slipway_core::run_state::RunStatus;
use std::fmt::Write;

pub struct LogLines {
    color: bool,
}

const COLORS: [u8; 6] = [36, 33, 35, 32, 34, 31];

impl LogLines {
    /// Coloured when stdout is a terminal and `NO_COLOR` is unset.
    pub fn for_stdout() -> Self {
        use std::io::IsTerminal;
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        LogLines { color }
    }

    /// No colours: for files (the server's `GET /api/runs/{id}/log`).
    pub fn plain() -> Self {
        LogLines { color: false }
    }

    fn paint(&self, code: u8, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }

    fn step_color(step: &str) -> u8 {
        let h = step.bytes().fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
        COLORS[h % COLORS.len()]
    }

    /// One event as one line of output.
    pub fn line(&self, ev: Event) -> String {
        match ev {
            Event::Log { step, service, line, build, .. } => {
                let prefix = self.paint(Self::step_color(&step), &format!("(step: {step}) (service: {service})"));
                if build { format!("{prefix} {} {line}", self.paint(2, "(build)")) } else { format!("{prefix} {line}") }
            }
            Event::Info { message } => self.paint(2, &format!("slipway: {message}")),
            Event::Numbered { event, .. } => self.line(*event),
            Event::Waiting { group, .. } => {
                self.paint(33, &format!("slipway: manual group `{group}` waits for approval"))
            }
            Event::StepStatus { step, status, duration_ms, message, .. } => {
                let took = duration_ms.map(|ms| format!(" ({:.1}s)", ms as f64 / 1000.0)).unwrap_or_default();
                let prefix = self.paint(Self::step_color(&step), &format!("(step: {step})"));
                match status {
                    StepStatus::Running => format!("{prefix} started"),
                    StepStatus::Success => {
                        format!("{prefix} {}{took}", self.paint(32, "success"))
                    }
                    StepStatus::Failed => {
                        format!("{prefix} {}{took}: {}", self.paint(31, "failed"), message.unwrap_or_default())
                    }
                    StepStatus::Skipped => {
                        format!("{prefix} skipped: {}", message.unwrap_or_default())
                    }
                    StepStatus::Cancelled => {
                        format!("{prefix} {}", self.paint(33, "cancelled"))
                    }
                    StepStatus::Interrupted => {
                        format!("{prefix} {}", self.paint(33, "interrupted"))
                    }
                }
            }
        }
    }

    /// A stored event (the server's JSON) as a line of the log: the executor's events as
    /// [`LogLines::line`] renders them, the run's end as `slipway: run STATUS`; the plan is
    /// not part of the log.
    pub fn stored_line(&self, data: &str) -> Option<String> {
        if let Ok(ev) = serde_json::from_str::<Event>(data) {
            return Some(self.line(ev));
        }
        #[derive(Deserialize)]
        struct RunFinished {
            event: String,
            status: RunStatus,
            error: Option<String>,
        }
        let end: RunFinished = serde_json::from_str(data).ok()?;
        (end.event == "run_finished").then(|| match end.error {
            Some(e) => format!("slipway: run {}: {e}", end.status),
            None => format!("slipway: run {}", end.status),
        })
    }

    /// The table printed after a run: one line per step, then the counts.
    pub fn summary(&self, result: &RunResult) -> String {
        let mut out = String::from("\nsummary:\n");
        let width = result.steps.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        for r in &result.steps {
            let (name, took) = (&r.name, r.duration);
            let st = match r.status {
                StepStatus::Success => self.paint(32, "success"),
                StepStatus::Failed => self.paint(31, "failed "),
                StepStatus::Skipped => "skipped".to_string(),
                StepStatus::Cancelled => self.paint(33, "cancelled"),
                StepStatus::Running => "running".to_string(),
                StepStatus::Interrupted => self.paint(33, "interrupted"),
            };
            let _ = writeln!(out, "  {name:<width$}  {st}  {:>7.1}s", took.as_secs_f64());
        }
        let failed = result.steps.iter().filter(|r| r.status == StepStatus::Failed).count();
        let ok = result.steps.iter().filter(|r| r.status == StepStatus::Success).count();
        let _ = writeln!(out, "{ok} succeeded, {failed} failed, {} skipped", result.steps.len() - ok - failed);
        out
    }
}
