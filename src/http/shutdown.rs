//! Graceful shutdown, as Go's `http.Server.Shutdown`: stop accepting, let
//! the requests in flight finish within a bound, then cancel what is left,
//! then drain detached work within a bound, and say what was cut off.

use std::convert::Infallible;
use std::fmt::{self, Debug};
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::pin;
use std::time::Duration;

use axum::serve::{IncomingStream, Listener, Serve};
use futures_util::future::{select, Either};
use tokio_util::task::{AbortOnDropHandle, TaskTracker};
use tower::Service;

use super::layer::ContextLayer;
use super::signal::termination;
use crate::{CancelCauseHandle, Context, DetachedTracker, DrainReport};

/// A server's root context, and its graceful shutdown: Go's
/// `http.Server.Shutdown`, plus the drain of the server's detached work.
///
/// [`serve`](Shutdown::serve) runs an axum server until the process
/// receives SIGTERM (what Kubernetes, systemd and `docker stop` send) or
/// SIGINT (Ctrl-C in a terminal; on Windows, Ctrl-C), or
/// [`serve_with_signal`](Shutdown::serve_with_signal) until a future of
/// your choice completes, then:
///
/// 1. stops accepting connections, and lets the requests in flight finish
///    (their contexts live on: a request cut short by shutdown is an error
///    response the client did not deserve), for at most the
///    [`grace`](Shutdown::grace) period;
/// 2. cancels the root context, and with it every request still running
///    (and everything else derived from the root), with a
///    [`ServerShutdown`] cause saying so;
/// 3. waits for those requests to answer, and for the server's
///    `#[detached]` work to finish, for at most the
///    [`drain`](Shutdown::drain) bound;
/// 4. reports what was cut off: a [`ShutdownReport`].
///
/// Give the router its [`layer`](Shutdown::layer): the request contexts
/// are children of the root, the requests in flight are counted, and the
/// root carries the server's [`DetachedTracker`], with which every
/// `#[detached]` call of a request registers.
///
/// ```no_run
/// use std::time::Duration;
/// use axum::{routing::get, Router};
/// use ctx::http::Shutdown;
/// use ctx::Context;
///
/// async fn hello(ctx: Context<'_>) -> &'static str {
///     "hello"
/// }
///
/// # #[tokio::main]
/// # async fn main() -> std::io::Result<()> {
/// let shutdown = Shutdown::new().grace(Duration::from_secs(10)).drain(Duration::from_secs(5));
/// let app = Router::new().route("/", get(hello)).layer(shutdown.layer());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// // Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
/// let report = shutdown.serve(axum::serve(listener, app)).await?;
/// println!("{report}");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Shutdown {
    root: Context<'static>,
    cancel: CancelCauseHandle,
    requests: TaskTracker,
    detached: DetachedTracker,
    grace: Duration,
    drain: Duration,
}

impl Default for Shutdown {
    fn default() -> Shutdown {
        Shutdown::new()
    }
}

impl Shutdown {
    /// The default [`grace`](Shutdown::grace) period: 10 seconds.
    ///
    /// ```
    /// assert_eq!(ctx::http::Shutdown::DEFAULT_GRACE, std::time::Duration::from_secs(10));
    /// ```
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

    /// The default [`drain`](Shutdown::drain) bound: 10 seconds.
    ///
    /// ```
    /// assert_eq!(ctx::http::Shutdown::DEFAULT_DRAIN, std::time::Duration::from_secs(10));
    /// ```
    pub const DEFAULT_DRAIN: Duration = Duration::from_secs(10);

    /// A server root (a child of `Context::background()` carrying a new
    /// [`DetachedTracker`]), and its shutdown with the default bounds.
    ///
    /// ```
    /// let shutdown = ctx::http::Shutdown::new();
    /// assert!(!shutdown.root().is_done());
    /// ```
    pub fn new() -> Shutdown {
        let detached = DetachedTracker::new();
        let (root, cancel) = Context::background()
            .with_value(detached.clone())
            .with_cancel_cause();
        Shutdown {
            root,
            cancel,
            requests: TaskTracker::new(),
            detached,
            grace: Self::DEFAULT_GRACE,
            drain: Self::DEFAULT_DRAIN,
        }
    }

    /// How long requests in flight may take to finish once shutdown has
    /// begun, before they are cancelled. Default:
    /// [`DEFAULT_GRACE`](Shutdown::DEFAULT_GRACE).
    ///
    /// ```
    /// let shutdown = ctx::http::Shutdown::new().grace(std::time::Duration::from_secs(30));
    /// ```
    pub fn grace(mut self, grace: Duration) -> Shutdown {
        self.grace = grace;
        self
    }

    /// How long, once the root is cancelled, the shutdown waits for the
    /// cancelled requests to answer and for the detached work to finish.
    /// Default: [`DEFAULT_DRAIN`](Shutdown::DEFAULT_DRAIN).
    ///
    /// ```
    /// let shutdown = ctx::http::Shutdown::new().drain(std::time::Duration::from_secs(5));
    /// ```
    pub fn drain(mut self, drain: Duration) -> Shutdown {
        self.drain = drain;
        self
    }

    /// The server's root context: every request's context is a child of
    /// it. Cancelled at step 2 of the shutdown, so work derived from it
    /// (background tasks started with [`Context::spawn`]) ends then too.
    ///
    /// ```
    /// use ctx::{http::Shutdown, DetachedTracker};
    ///
    /// let shutdown = Shutdown::new();
    /// assert!(DetachedTracker::ptr_eq(DetachedTracker::of(shutdown.root()), shutdown.detached()));
    /// ```
    pub fn root(&self) -> &Context<'static> {
        &self.root
    }

    /// The tracker of the server's detached work, drained at step 3.
    ///
    /// ```
    /// assert_eq!(ctx::http::Shutdown::new().detached().running(), 0);
    /// ```
    pub fn detached(&self) -> &DetachedTracker {
        &self.detached
    }

    /// A [`ContextLayer`] on the root, whose requests the shutdown counts
    /// and waits for. Configure it further as any other
    /// (`.default_timeout(...)`).
    ///
    /// ```
    /// use axum::{routing::get, Router};
    ///
    /// let shutdown = ctx::http::Shutdown::new();
    /// let app: Router = Router::new().route("/", get(|| async { "hi" })).layer(shutdown.layer());
    /// ```
    pub fn layer(&self) -> ContextLayer {
        ContextLayer::new(self.root.clone()).tracking(self.requests.clone())
    }

    /// How many requests of [`layer`](Shutdown::layer) are in flight: from
    /// their arrival until their response is done.
    ///
    /// ```
    /// assert_eq!(ctx::http::Shutdown::new().in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.requests.len()
    }

    /// Serves `server` (an `axum::serve(listener, app)`) until the process
    /// receives SIGTERM or SIGINT (on Windows, Ctrl-C), then shuts it down
    /// gracefully (see [`Shutdown`]) and reports what was cut off.
    ///
    /// The signal handlers are installed when the returned future is
    /// first polled, before the server accepts a connection, and replace
    /// the signals' default action (ending the process) for the rest of
    /// its life: a second SIGTERM during the shutdown does not cut it
    /// short. To shut down on something else (another signal, a message,
    /// a test's trigger), use
    /// [`serve_with_signal`](Shutdown::serve_with_signal).
    ///
    /// # Errors
    ///
    /// If the signal handlers cannot be installed, that error, before
    /// anything is served. If the server stops by itself before the signal
    /// (axum's never does unless its task panics), the shutdown still runs
    /// (the root is cancelled and the detached work drained), then its
    /// error is returned.
    ///
    /// ```no_run
    /// use axum::{routing::get, Router};
    /// use ctx::http::Shutdown;
    ///
    /// # #[tokio::main]
    /// # async fn main() -> std::io::Result<()> {
    /// let shutdown = Shutdown::new();
    /// let app = Router::new().route("/", get(|| async { "hi" })).layer(shutdown.layer());
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
    /// let report = shutdown.serve(axum::serve(listener, app)).await?;
    /// println!("shut down: {report}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve(self, server: impl Server) -> io::Result<ShutdownReport> {
        let signal = termination()?;
        self.serve_with_signal(server, signal).await
    }

    /// Serves `server` (an `axum::serve(listener, app)`) until `signal`
    /// completes, then shuts it down gracefully (see [`Shutdown`]) and
    /// reports what was cut off. [`serve`](Shutdown::serve) is this with
    /// SIGTERM and SIGINT as the signal.
    ///
    /// # Errors
    ///
    /// If the server stops by itself before the signal (axum's never does
    /// unless its task panics), the shutdown still runs (the root is
    /// cancelled and the detached work drained), then its error is
    /// returned.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use ctx::http::Shutdown;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let shutdown = Shutdown::new();
    /// let app = Router::new().route("/", get(|| async { "hi" })).layer(shutdown.layer());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let server = tokio::spawn(shutdown.serve_with_signal(axum::serve(listener, app), async {
    ///     let _ = stopped.await;
    /// }));
    /// // ... serve, until the server should stop:
    /// let _ = stop.send(());
    /// let report = server.await.expect("the server task panicked")?;
    /// assert!(report.is_clean(), "{report}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve_with_signal(
        self,
        server: impl Server,
        signal: impl Future<Output = ()>,
    ) -> io::Result<ShutdownReport> {
        // axum's own graceful shutdown: stop accepting, and let each
        // connection finish the request it has (HTTP/1) or those opened
        // (HTTP/2), then close.
        let (stopping, stop) = Context::background().with_cancel();
        let server = server.serve_until(async move {
            stopping.done().await;
        });
        let mut serving = AbortOnDropHandle::new(tokio::spawn(server));
        let stopped_early = match select(&mut serving, pin!(signal)).await {
            Either::Left((ended, _)) => Some(ended),
            Either::Right(((), _)) => None,
        };

        // 1. Requests in flight finish, within the grace period.
        let in_flight = self.requests.len();
        stop.cancel();
        let (grace_bound, _cancel) = Context::background().with_timeout(self.grace);
        let finished = stopped_early.is_some() || grace_bound.run(&mut serving).await.is_ok();

        // 2. What is still running is cancelled, saying why.
        let cancelled = self.requests.len();
        self.cancel.cancel(ServerShutdown {
            grace: self.grace,
            cancelled,
        });

        // 3. Cancelled requests answer, detached work finishes, within the
        // drain bound.
        let (drain_bound, _cancel) = Context::background().with_timeout(self.drain);
        if !finished {
            let _ = drain_bound.run(&mut serving).await;
        }
        let unfinished = self.requests.len();
        let detached = self.detached.drain(&drain_bound).await;

        let report = ShutdownReport {
            in_flight,
            cancelled,
            unfinished,
            detached,
        };
        match stopped_early {
            None | Some(Ok(Ok(()))) => Ok(report),
            Some(Ok(Err(error))) => Err(error),
            Some(Err(join)) => Err(io::Error::other(format!(
                "the server stopped before the shutdown signal: {join}"
            ))),
        }
    }
}

/// What a [`Shutdown`] serves: the [`Serve`] that
/// `axum::serve(listener, app)` returns, for any listener and app axum
/// itself can serve. Sealed: axum's `Serve` is the one implementation.
///
/// ```
/// use axum::Router;
///
/// fn servable(_: impl ctx::http::Server) {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// servable(axum::serve(listener, Router::new()));
/// # Ok(())
/// # }
/// ```
pub trait Server: sealed::Sealed {
    /// The server's future: it serves until `stop` completes, then closes
    /// as axum's graceful shutdown does.
    #[doc(hidden)]
    fn serve_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static;
}

mod sealed {
    /// Keeps [`Server`](super::Server) to the implementation below.
    pub trait Sealed {}
}

impl<L, M, S> sealed::Sealed for Serve<L, M, S> {}

impl<L, M, S> Server for Serve<L, M, S>
where
    L: Listener,
    L::Addr: Debug,
    M: for<'a> Service<IncomingStream<'a, L>, Error = Infallible, Response = S> + Send + 'static,
    for<'a> <M as Service<IncomingStream<'a, L>>>::Future: Send,
    S: Service<axum::extract::Request, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    fn serve_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        self.with_graceful_shutdown(stop).into_future()
    }
}

/// The [`cause`](Context::cause) of a [`Shutdown`]'s root, and so of every
/// request it cancels: the server is shutting down, and the requests still
/// running after the grace period are cancelled.
///
/// ```
/// use std::time::Duration;
/// use ctx::http::ServerShutdown;
///
/// let cause = ServerShutdown { grace: Duration::from_secs(10), cancelled: 3 };
/// assert_eq!(
///     cause.to_string(),
///     "server shutdown: 3 requests still running after the 10s grace period were cancelled"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerShutdown {
    /// The grace period the requests had.
    pub grace: Duration,
    /// How many requests were still running when it ended.
    pub cancelled: usize,
}

impl fmt::Display for ServerShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server shutdown: {} requests still running after the {:?} grace period were cancelled",
            self.cancelled, self.grace
        )
    }
}

impl std::error::Error for ServerShutdown {}

/// What a [`Shutdown`] cut off.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// # let shutdown = ctx::http::Shutdown::new();
/// # let app = axum::Router::new().layer(shutdown.layer());
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let report = shutdown.serve_with_signal(axum::serve(listener, app), async {}).await?;
/// assert_eq!((report.in_flight, report.cancelled, report.unfinished), (0, 0, 0));
/// assert!(report.detached.is_clean());
/// assert_eq!(
///     report.to_string(),
///     "0 requests in flight at the signal, 0 cancelled after the grace period, 0 unfinished; \
///      detached work: 0 finished, 0 failed, 0 timed out, 0 panicked, 0 dropped unfinished; 0 still running"
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Requests in flight when the signal came.
    pub in_flight: usize,
    /// Requests still running when the grace period ended: their contexts
    /// were cancelled ([`ServerShutdown`]).
    pub cancelled: usize,
    /// Requests still running when the drain bound ended: they ignored
    /// their cancellation, and the shutdown stopped waiting for them.
    pub unfinished: usize,
    /// The server's detached work, at the end of its drain: its `running`
    /// is what the drain bound cut off.
    pub detached: DrainReport,
}

impl ShutdownReport {
    /// Whether nothing was cut off: every request finished within the
    /// grace period, and every piece of detached work finished.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let shutdown = ctx::http::Shutdown::new();
    /// # let app = axum::Router::new().layer(shutdown.layer());
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let report = shutdown.serve_with_signal(axum::serve(listener, app), async {}).await?;
    /// assert!(report.is_clean());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_clean(&self) -> bool {
        self.cancelled == 0 && self.unfinished == 0 && self.detached.is_clean()
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests in flight at the signal, {} cancelled after the grace period, {} unfinished; \
             detached work: {}",
            self.in_flight, self.cancelled, self.unfinished, self.detached
        )
    }
}
