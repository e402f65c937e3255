//! The one reporter of what must not go unseen: failures of detached work,
//! and work that waited on a request's context after its response was sent.
//!
//! A report is a `tracing` event at level ERROR, in the current span, with
//! the `tracing` feature and a subscriber installed. Otherwise it is one
//! line on stderr, prefixed `ctx:`: stderr is where Rust itself reports what
//! must not go unseen (a panic), it needs no setup to be seen, and a logging
//! facade without a logger installed (the `log` crate's default) would drop
//! the line: the silent loss these reports exist to end.

use std::fmt;

/// Reports `message` as an ERROR event, or a line on stderr.
pub(crate) fn report(message: fmt::Arguments<'_>) {
    #[cfg(feature = "tracing")]
    {
        let seen = tracing::dispatcher::get_default(|dispatch| {
            !dispatch.is::<tracing::subscriber::NoSubscriber>()
        });
        if seen {
            tracing::error!("{message}");
            return;
        }
    }
    eprintln!("ctx: {message}");
}
