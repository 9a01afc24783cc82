//! A run's stored log has a cap: one step printing without end must not grow the database
//! without end. Step output past the cap is counted, not kept; a marker line says where the
//! cut is, and a last line how much was cut. Step states and the server's own lines are kept
//! whatever the cap (a run's shape and outcome must stay readable).

use crate::executor::events::Event;

/// The cap unless `slipway serve --max-run-log-mb` sets another.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 50 * MB;

/// What `--max-run-log-mb` counts in.
pub const MB: u64 = 1_000_000;

/// What SQLite adds to each stored event besides its text (row header, the `(run_id, seq)`
/// key again in the index, b-tree slack), measured: 60-odd bytes. Counted with every line,
/// so that the cap bounds what the database grows by, not only the text in it.
const ROW_OVERHEAD: u64 = 64;

/// What to do with one event.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    Keep,
    /// The first line over the cap: store [`LogCap::marker`] in its place.
    CutHere,
    Drop,
}

pub struct LogCap {
    limit: u64,
    kept: u64,
    cut_lines: u64,
    cut_bytes: u64,
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / MB as f64)
}

impl LogCap {
    pub fn new(limit: u64) -> LogCap {
        LogCap { limit, kept: 0, cut_lines: 0, cut_bytes: 0 }
    }

    /// `size`: the event's stored form, in bytes. Once the cap is reached, every later line
    /// of output is dropped (not only the long ones: the log has one cut, not holes).
    pub fn admit(&mut self, event: &Event, size: usize) -> Admit {
        if !matches!(event, Event::Log { .. }) {
            return Admit::Keep;
        }
        let cost = size as u64 + ROW_OVERHEAD;
        if self.cut_lines == 0 && self.kept.saturating_add(cost) <= self.limit {
            self.kept += cost;
            return Admit::Keep;
        }
        self.cut_lines += 1;
        self.cut_bytes = self.cut_bytes.saturating_add(size as u64);
        if self.cut_lines == 1 { Admit::CutHere } else { Admit::Drop }
    }

    /// Stored where the cut is.
    pub fn marker(&self) -> Event {
        Event::Info {
            message: format!(
                "the run's log reached its cap of {} (`slipway serve --max-run-log-mb`): the steps go on, \
                 their further output is not kept",
                megabytes(self.limit)
            ),
        }
    }

    /// Stored at the end when anything was cut: how much.
    pub fn summary(&self) -> Option<Event> {
        (self.cut_lines > 0).then(|| Event::Info {
            message: format!(
                "{} lines of output ({}) were not kept: the run's log is capped at {}",
                self.cut_lines,
                megabytes(self.cut_bytes),
                megabytes(self.limit)
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "event": "log", "step": "s", "id": "1", "service": "app", "line": text, "build": false, "at_ms": 0
        }))
        .unwrap()
    }

    #[test]
    fn output_past_the_cap_is_counted_not_kept_and_the_rest_is_kept() {
        let mut cap = LogCap::new(100 + 2 * ROW_OVERHEAD);
        assert_eq!(cap.admit(&line("a"), 60), Admit::Keep);
        assert_eq!(cap.admit(&line("b"), 60), Admit::CutHere);
        // A short line after the cut is not kept either: one cut, no holes.
        assert_eq!(cap.admit(&line("c"), 10), Admit::Drop);
        assert_eq!(cap.admit(&Event::Info { message: "x".into() }, 1000), Admit::Keep);
        let Some(Event::Info { message }) = cap.summary() else { panic!("no summary") };
        assert!(message.starts_with("2 lines of output (0.0 MB) were not kept"), "{message}");
        assert!(LogCap::new(100).summary().is_none());
    }
}
