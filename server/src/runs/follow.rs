//! Following a run: its stored events after a given one, then live ones until the run ends or
//! the follower leaves. The API's Server-Sent Events stream is this, framed.

use super::Manager;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Stored events read per query when a follower catches up.
pub const STORED_PAGE: u32 = 2000;

/// The events of run `id` after event number `after`, in order, each once: stored ones a
/// page at a time, then live ones. The channel closes after the run's last event; the
/// work stops as soon as the receiver is dropped.
pub(super) fn follow(m: &Arc<Manager>, id: String, after: u64) -> mpsc::Receiver<(u64, String)> {
    let (tx, rx) = mpsc::channel::<(u64, String)>(1024);
    let m = m.clone();
    tokio::spawn(async move {
        // Subscribe before reading the store so nothing falls between the two.
        let mut sub = m.live(&id).and_then(|l| l.subscribe());
        let mut last = after;
        loop {
            // Stored events first, a page at a time.
            loop {
                let page = m.store.events_after(&id, last, STORED_PAGE).unwrap_or_default();
                let full = page.len() == STORED_PAGE as usize;
                for (seq, data) in page {
                    if !forward(&tx, seq, data, &mut last).await {
                        return;
                    }
                }
                if !full {
                    break;
                }
            }
            let Some(s) = sub.as_mut() else {
                // Not started yet (a queued run has no channel), or ended: then everything it
                // stored was sent above.
                let ended = m.store.run(&id).ok().flatten().is_none_or(|r| r.status.is_finished());
                if ended {
                    return;
                }
                // Look again shortly, unless the client has left.
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
                }
                sub = m.live(&id).and_then(|l| l.subscribe());
                continue;
            };
            // A queued run may wait for hours: stop as soon as the client leaves.
            let received = tokio::select! {
                _ = tx.closed() => return,
                r = s.recv() => r,
            };
            match received {
                Ok((seq, data)) if seq > last => {
                    if !forward(&tx, seq, data, &mut last).await {
                        return;
                    }
                }
                Ok(_) => {}
                // Fell behind or the run ended: catch up from the store.
                Err(_) => sub = None,
            }
        }
    });
    rx
}

/// Send one event to the follower; false when the stream should end (the follower left, or
/// this was the run's last event).
async fn forward(tx: &mpsc::Sender<(u64, String)>, seq: u64, data: String, last: &mut u64) -> bool {
    let done = data.contains("\"event\":\"run_finished\"");
    if tx.send((seq, data)).await.is_err() {
        return false;
    }
    *last = seq;
    !done
}
