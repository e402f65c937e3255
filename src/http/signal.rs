//! The signals a server shuts down on by default: SIGTERM, what Kubernetes,
//! systemd and `docker stop` send, and SIGINT, what Ctrl-C in a terminal
//! sends (Ctrl-C alone on Windows).

use std::future::Future;
use std::io;

/// Listens for the termination signals from now on, and returns a future
/// that completes at the first one received.
///
/// Listening starts here rather than at the future's first poll, so that
/// a failure to install the handlers is an error before anything is
/// served, and so that a signal received from now on is never lost. Once
/// installed, the handlers replace the signals' default action (ending
/// the process) for the rest of its life, as tokio's always do.
pub(super) fn termination() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use futures_util::future::select;
        use std::pin::pin;
        use tokio::signal::unix::{signal, SignalKind};

        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            // `None` means the runtime is shutting down: so is the server.
            select(pin!(terminate.recv()), pin!(interrupt.recv())).await;
        })
    }
    #[cfg(windows)]
    {
        let mut ctrl_c = tokio::signal::windows::ctrl_c()?;
        Ok(async move {
            ctrl_c.recv().await;
        })
    }
    #[cfg(not(any(unix, windows)))]
    {
        // No process signals here: `Shutdown::serve_with_signal` takes one.
        Ok(std::future::pending())
    }
}
