//! A run's live handle while it is queued or running: its cancel token, its approval gate,
//! its head check and its followers' channel.

use super::Confirmation;
use std::sync::{Arc, OnceLock};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

/// A run that is queued or in progress: how to cancel, approve and follow it. It exists from
/// the run's creation, so a cancel or approve sent right after it is never lost.
pub struct Live {
    pub cancel: CancellationToken,
    /// Why a run was cancelled when that is not a user's cancel (late delivery): its record says so.
    pub(super) reason: OnceLock<String>,
    /// A triggered run's head check, done once (see `head.rs`).
    pub(super) head: tokio::sync::OnceCell<Confirmation>,
    /// `notify_one` keeps one permit: an approval sent before the manual group waits counts.
    pub approval: Arc<Notify>,
    /// The followers' channel, from the run's start on: its buffer (4,096 events) is too much
    /// to hold for every queued run, whose followers look in the store until it starts.
    events: OnceLock<broadcast::Sender<(u64, String)>>,
}

impl Live {
    pub(super) fn new() -> Arc<Live> {
        Arc::new(Live {
            cancel: CancellationToken::new(),
            reason: OnceLock::new(),
            head: tokio::sync::OnceCell::new(),
            approval: Arc::new(Notify::new()),
            events: OnceLock::new(),
        })
    }

    /// The run's events as they happen; `None` while it is queued.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<(u64, String)>> {
        self.events.get().map(|s| s.subscribe())
    }

    pub(super) fn send(&self, event: (u64, String)) {
        if let Some(s) = self.events.get() {
            let _ = s.send(event);
        }
    }

    pub(super) fn open(&self) {
        self.events.get_or_init(|| broadcast::channel(4096).0);
    }
}
