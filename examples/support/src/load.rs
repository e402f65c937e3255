//! The demo's load generator: clients that sometimes walk away before
//! their response.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::publish::{request_rng, Config, Side};
use crate::{send, send_or_leave};

/// What the clients saw.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Outcome {
    /// Clients that got a `200 OK`.
    pub(crate) responses: usize,
    /// Clients that left before their response.
    pub(crate) clients_left: usize,
}

/// Sends `config.requests` orders to `addr`, `config.concurrency` at a
/// time; a share of the clients (`config.disconnect_share`) leave at a
/// random point of the handler's work or rendering.
pub(crate) async fn load(addr: SocketAddr, config: &Config) -> Outcome {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut clients = JoinSet::new();
    for seq in 0..config.requests as u64 {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let mut rng = request_rng(config.seed, seq, Side::Client);
        let leaves = rng.f64() < config.disconnect_share;
        let patience = config.latency.mul_f64(rng.f64() * 3.0);
        clients.spawn(async move {
            let _permit = permit;
            let request = http::Request::post("/order")
                .body(format!("order-{seq}"))
                .unwrap();
            if leaves {
                send_or_leave(addr, request, tokio::time::sleep(patience)).await
            } else {
                send(addr, request).await.map(Some)
            }
        });
    }
    let mut outcome = Outcome::default();
    while let Some(client) = clients.join_next().await {
        match client.expect("a client panicked") {
            Ok(Some(response)) if response.status() == http::StatusCode::OK => {
                outcome.responses += 1
            }
            Ok(None) => outcome.clients_left += 1,
            Ok(Some(_)) | Err(_) => {}
        }
    }
    outcome
}
