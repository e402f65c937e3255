//! A real broker: a Redis stream, where a message is an entry (`XADD`) of
//! its receipt and, when its context has one, the `traceparent` of its
//! trace id.

use std::io;
use std::sync::Arc;

use ctx::http::TraceId;
use ctx::Context;
use redis::aio::MultiplexedConnection;
use redis::streams::StreamRangeReply;
use redis::AsyncCommands;

use crate::broker::{PublishError, Received};

/// One run's stream, on a connection shared by every publisher.
#[derive(Clone)]
pub(crate) struct Stream {
    connection: MultiplexedConnection,
    key: Arc<str>,
}

impl Stream {
    /// Connects to the Redis at `url` (`redis://host:port`); the client
    /// gives up after a second if nothing answers.
    pub(crate) async fn connect(url: &str) -> io::Result<Stream> {
        let redis_error = |error| io::Error::other(format!("Redis at {url}: {error}"));
        let connection = redis::Client::open(url)
            .map_err(redis_error)?
            .get_multiplexed_async_connection()
            .await
            .map_err(redis_error)?;
        // A stream of its own per run, deleted once read.
        let key = format!("goctx-demo:{:016x}", fastrand::u64(..)).into();
        Ok(Stream { connection, key })
    }

    /// Appends `receipt`, with `ctx`'s trace id beside it; raced against
    /// `ctx`.
    pub(crate) async fn send(&self, ctx: &Context<'_>, receipt: &str) -> Result<(), PublishError> {
        let mut fields = vec![("receipt", receipt.to_owned())];
        if let Some(trace) = ctx.value::<TraceId>() {
            fields.push(("traceparent", trace.to_traceparent().to_str()?.to_owned()));
        }
        let mut connection = self.connection.clone();
        let _id: String = ctx.run(connection.xadd(&*self.key, "*", &fields)).await??;
        Ok(())
    }

    /// Every entry of the stream, which is then deleted.
    pub(crate) async fn received(mut self) -> io::Result<Vec<Received>> {
        let entries: StreamRangeReply = self
            .connection
            .xrange_all(&*self.key)
            .await
            .map_err(io::Error::other)?;
        let _deleted: usize = self
            .connection
            .del(&*self.key)
            .await
            .map_err(io::Error::other)?;
        Ok(entries
            .ids
            .iter()
            .map(|entry| {
                let receipt: String = entry.get("receipt").unwrap_or_default();
                let trace = entry
                    .get::<String>("traceparent")
                    .and_then(|header| TraceId::parse_traceparent(&header));
                Received::new(&receipt, trace.as_ref())
            })
            .collect())
    }
}
