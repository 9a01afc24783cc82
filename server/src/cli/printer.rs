//! Prints run events like jet: `(step: NAME) (service: SVC) line`, coloured on a terminal,
//! plain otherwise, and a summary table at the end.

use crate::executor::RunResult;
use crate::executor::events::{Event, StepStatus};
use std::io::{IsTerminal, Write};
use tokio::sync::mpsc::UnboundedReceiver;

pub struct Printer {
    color: bool,
}

const COLORS: [u8; 6] = [36, 33, 35, 32, 34, 31];

impl Printer {
    pub fn new() -> Self {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Printer { color }
    }

    /// No colours: for files (the server's `GET /api/runs/{id}/log`).
    pub fn plain() -> Self {
        Printer { color: false }
    }

    fn paint(&self, code: u8, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }

    fn step_color(step: &str) -> u8 {
        let h = step.bytes().fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
        COLORS[h % COLORS.len()]
    }

    pub async fn run(self, mut rx: UnboundedReceiver<Event>) -> Self {
        let stdout = std::io::stdout();
        while let Some(ev) = rx.recv().await {
            let _ = writeln!(stdout.lock(), "{}", self.line(ev));
        }
        self
    }

    /// One event as one line of output.
    pub fn line(&self, ev: Event) -> String {
        match ev {
            Event::Log { step, service, line, build, .. } => {
                let prefix = self.paint(Self::step_color(&step), &format!("(step: {step}) (service: {service})"));
                if build { format!("{prefix} {} {line}", self.paint(2, "(build)")) } else { format!("{prefix} {line}") }
            }
            Event::Info { message } => self.paint(2, &format!("slipway: {message}")),
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

    pub fn summary(&self, result: &RunResult) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\nsummary:");
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
    }
}
