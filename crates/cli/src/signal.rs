//! Waiting for Ctrl-C or SIGTERM.

use std::future::Future;

/// SIGINT and SIGTERM as they arrive, from the moment of [`Interrupts::new`]:
/// one that arrives while nobody waits is kept for the next [`Interrupts::next`]
/// (a second Ctrl-C sent right after the first is not lost to a listener
/// that was not installed yet).
pub struct Interrupts {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Interrupts {
    /// Installs the handlers now.
    pub fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .ok();
            Self { signals }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next SIGINT or SIGTERM.
    pub async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((term, int)) = &mut self.signals {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

impl Default for Interrupts {
    fn default() -> Self {
        Self::new()
    }
}

/// Resolves on the first SIGINT or SIGTERM after this call. The handlers are
/// installed by the call itself, not when the future is first polled: a
/// signal sent right after a readiness line ("listening on …") must reach the
/// clean shutdown, not the default action that kills the process.
pub fn interrupted() -> impl Future<Output = ()> + Send {
    let mut signals = Interrupts::new();
    async move { signals.next().await }
}
