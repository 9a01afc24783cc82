//! The terminal side of a CLI run: events as they arrive, then the summary, on stdout.

use crate::executor::RunResult;
use crate::executor::events::Event;
use crate::run_log::LogLines;
use std::io::Write;
use tokio::sync::mpsc::UnboundedReceiver;

pub struct Printer {
    lines: LogLines,
}

impl Printer {
    pub fn new() -> Self {
        Printer { lines: LogLines::for_stdout() }
    }

    pub async fn run(self, mut rx: UnboundedReceiver<Event>) -> Self {
        let stdout = std::io::stdout();
        while let Some(ev) = rx.recv().await {
            let _ = writeln!(stdout.lock(), "{}", self.lines.line(ev));
        }
        self
    }

    pub fn summary(&self, result: &RunResult) {
        let _ = write!(std::io::stdout().lock(), "{}", self.lines.summary(result));
    }
}
