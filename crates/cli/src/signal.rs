//! Waiting for Ctrl-C or SIGTERM.

use std::future::Future;

/// Resolves on the first SIGINT or SIGTERM after this call. The handlers are
/// installed by the call itself, not when the future is first polled: a
/// signal sent right after a readiness line ("listening on …") must reach the
/// clean shutdown, not the default action that kills the process.
pub fn interrupted() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
