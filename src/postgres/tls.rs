//! The TLS a pool's cancel requests are sent with.

use std::future::Future;
use std::pin::Pin;

use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{CancelToken, Socket};

/// A cancel request on its way.
type Cancelling = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>;

/// What a [`Pool`](super::Pool) needs of its TLS connector: the one its
/// connections were made with (`tokio_postgres::NoTls`, or a
/// `postgres-native-tls` / `tokio-postgres-rustls` connector), used by each
/// cancel request, which opens a connection of its own. Implemented for
/// every connector deadpool-postgres accepts.
///
/// ```
/// fn cancels_with<T: ctx::postgres::CancelTls>() {}
/// cancels_with::<tokio_postgres::NoTls>();
/// ```
pub trait CancelTls: Clone + Send + Sync + 'static {
    /// Sends `token`'s cancel request through this connector.
    #[doc(hidden)]
    fn cancel(&self, token: CancelToken) -> Cancelling;
}

impl<T> CancelTls for T
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + Sync,
    T::TlsConnect: Send + Sync,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn cancel(&self, token: CancelToken) -> Cancelling {
        let tls = self.clone();
        Box::pin(async move { token.cancel_query(tls).await })
    }
}
