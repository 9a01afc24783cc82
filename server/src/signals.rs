//! Waiting for Ctrl-C, SIGTERM or SIGHUP (the terminal closed, an SSH session dropped): a run
//! cancels and cleans up, the server shuts down gracefully.
//!
//! The handlers are installed when [`Signals::install`] returns, not when a task first waits:
//! a signal that arrives between "the run started its first container" and the waiting task's
//! first poll would otherwise take the default action and kill the process, leaving the
//! containers behind (CI caught exactly that once).

use std::io;

pub struct Signals {
    #[cfg(unix)]
    streams: [tokio::signal::unix::Signal; 3],
}

impl Signals {
    /// Must be called inside the tokio runtime.
    pub fn install() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                streams: [
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::hangup())?,
                ],
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves at the first of the signals.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            let [int, term, hup] = &mut self.streams;
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
