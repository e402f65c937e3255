//! reqwest under a context, between real servers on loopback: a request
//! arriving with `grpc-timeout: 500m` calls its downstream with reqwest's
//! `send_ctx_with` (or, with the `reqwest-middleware` feature, through a
//! `ClientWithMiddleware` with `ContextMiddleware`), which gets the budget
//! minus the hop's reserve, and a downstream too slow for it is answered
//! `504 Gateway Timeout`.

use std::time::Duration;

use std::net::SocketAddr;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use ctx::http::client::{CallErrorReason, ClientError, DeadlineLayer, SendCtx};
use ctx::http::{parse_grpc_timeout, ContextLayer, GRPC_TIMEOUT};
use ctx::{CancelHandle, Context};
use ctx_examples_support::{send, serve};

const RESERVE: Duration = Duration::from_millis(50);

/// The downstream's `/budget`: the budget it was sent, in microseconds.
async fn budget(headers: HeaderMap) -> String {
    let budget = parse_grpc_timeout(headers[GRPC_TIMEOUT].as_bytes()).unwrap();
    budget.as_micros().to_string()
}

/// The downstream's `/slow`: works until its context ends.
async fn slow(ctx: Context<'_>) -> Result<&'static str, ctx::Error> {
    ctx.run(tokio::time::sleep(Duration::from_secs(30))).await?;
    Ok("done")
}

/// The service under test: calls the downstream's `path` with reqwest
/// under its request's context, keeping `RESERVE` for itself.
async fn call_downstream(
    ctx: Context<'_>,
    State((http, downstream)): State<(reqwest::Client, SocketAddr)>,
    Path(path): Path<String>,
) -> Result<String, ctx::Error> {
    let hop = DeadlineLayer::new().reserve(RESERVE);
    let url = format!("http://{downstream}/{path}");
    match http.get(url).send_ctx_with(&ctx, &hop).await {
        Ok(response) => Ok(response.text().await.unwrap_or_default()),
        Err(error) => {
            if let ClientError::Context(call) = &error {
                assert!(
                    matches!(call.reason(), CallErrorReason::NoAnswerInTime { .. }),
                    "{error}"
                );
            }
            Err(error.context_error().expect("the budget ended the call"))
        }
    }
}

async fn servers() -> (SocketAddr, CancelHandle) {
    servers_with(|downstream| {
        Router::new()
            .route("/{path}", get(call_downstream))
            .with_state((reqwest::Client::new(), downstream))
    })
    .await
}

/// The downstream, and in front of it the service under test made by
/// `front` from the downstream's address.
async fn servers_with(front: impl FnOnce(SocketAddr) -> Router) -> (SocketAddr, CancelHandle) {
    let (root, stop) = Context::background().with_cancel();
    let downstream = Router::new()
        .route("/budget", get(budget))
        .route("/slow", get(slow))
        .layer(ContextLayer::new(root.clone()));
    let downstream = serve(downstream, root.clone()).await.unwrap();
    let front = front(downstream.addr).layer(ContextLayer::new(root.clone()));
    let front = serve(front, root).await.unwrap();
    (front.addr, stop)
}

fn with_budget(path: &str) -> http::Request<String> {
    http::Request::get(path)
        .header(GRPC_TIMEOUT, "500m")
        .body(String::new())
        .unwrap()
}

/// Sends `grpc-timeout: 500m` to the `front` of `servers` and asserts that
/// its downstream was given that minus `RESERVE` (`how` names the client
/// in the printed budget).
async fn assert_downstream_budget((front, stop): (SocketAddr, CancelHandle), how: &str) {
    let response = send(front, with_budget("/budget")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let budget = Duration::from_micros(response.body().parse().unwrap());
    println!("{how}: grpc-timeout: 500m in, reserve 50 ms: the downstream was given {budget:?}");
    assert!(
        budget <= Duration::from_millis(450),
        "500 ms minus the 50 ms reserve at most: {budget:?}"
    );
    assert!(budget > Duration::ZERO);
    stop.cancel();
}

/// Asserts that the `front` of `servers` answers 504 when its downstream is
/// too slow for the budget.
async fn assert_slow_downstream_is_504((front, stop): (SocketAddr, CancelHandle)) {
    let response = send(front, with_budget("/slow")).await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    stop.cancel();
}

#[tokio::test]
async fn the_downstream_gets_the_budget_minus_the_reserve() {
    assert_downstream_budget(servers().await, "send_ctx_with").await;
}

#[tokio::test]
async fn a_downstream_too_slow_for_the_budget_is_a_504() {
    assert_slow_downstream_is_504(servers().await).await;
}

/// An upstream answering every request `504 Gateway Timeout`: its URL.
async fn gateway_timeout() -> (String, CancelHandle) {
    let (root, stop) = Context::background().with_cancel();
    let upstream = Router::new().route("/", get(|| async { StatusCode::GATEWAY_TIMEOUT }));
    let upstream = serve(upstream, root).await.unwrap();
    (format!("http://{}/", upstream.addr), stop)
}

#[tokio::test]
async fn an_upstream_504_maps_back_to_deadline_exceeded() {
    let (upstream, stop) = gateway_timeout().await;
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(5));
    let error = reqwest::Client::new()
        .get(upstream)
        .send_ctx(&ctx)
        .await
        .unwrap_err();
    assert_eq!(error.context_error(), Some(ctx::Error::DeadlineExceeded));
    assert!(error.to_string().contains("504 Gateway Timeout"), "{error}");
    stop.cancel();
}

#[tokio::test]
async fn nothing_is_sent_below_the_minimum_budget() {
    // A budget far below the reserve, so the refusal does not depend on
    // how long the test takes to reach the send.
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(60));
    // Port 9 (discard) is never reached: the budget is refused first.
    let error = reqwest::Client::new()
        .get("http://127.0.0.1:9/")
        .send_ctx_with(
            &ctx,
            &DeadlineLayer::new().reserve(Duration::from_secs(120)),
        )
        .await
        .unwrap_err();
    let ClientError::Context(call) = &error else {
        panic!("{error}")
    };
    assert!(
        matches!(call.reason(), CallErrorReason::BudgetBelowMinimum { .. }),
        "{error}"
    );
    assert_eq!(error.context_error(), Some(ctx::Error::DeadlineExceeded));
}

#[cfg(feature = "reqwest-middleware")]
mod middleware {
    use super::*;
    use ctx::http::client::{with_context, ContextMiddleware};
    use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

    fn client() -> ClientWithMiddleware {
        let hop = DeadlineLayer::new().reserve(RESERVE);
        ClientBuilder::new(reqwest::Client::new())
            .with(ContextMiddleware::new(hop))
            .build()
    }

    /// The service under test: calls the downstream's `path` through the
    /// middleware, inside `with_context` with its request's context.
    async fn call_downstream(
        ctx: Context<'_>,
        State((http, downstream)): State<(ClientWithMiddleware, SocketAddr)>,
        Path(path): Path<String>,
    ) -> Result<String, ctx::Error> {
        let url = format!("http://{downstream}/{path}");
        let call = async {
            let response = http.get(url).send().await?;
            Ok::<_, reqwest_middleware::Error>(response.text().await?)
        };
        match with_context(&ctx, call).await {
            Ok(body) => Ok(body),
            Err(error) => {
                Err(ContextMiddleware::context_error(&error).expect("the budget ended the call"))
            }
        }
    }

    async fn servers() -> (SocketAddr, CancelHandle) {
        servers_with(|downstream| {
            Router::new()
                .route("/{path}", get(call_downstream))
                .with_state((client(), downstream))
        })
        .await
    }

    #[tokio::test]
    async fn the_downstream_gets_the_budget_minus_the_reserve() {
        assert_downstream_budget(servers().await, "ContextMiddleware").await;
    }

    #[tokio::test]
    async fn a_downstream_too_slow_for_the_budget_is_a_504() {
        assert_slow_downstream_is_504(servers().await).await;
    }

    #[tokio::test]
    async fn a_context_in_the_extensions_is_the_callers() {
        let (upstream, stop) = gateway_timeout().await;
        let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(5));
        let error = client()
            .get(upstream)
            .with_extension(ctx.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            ContextMiddleware::context_error(&error),
            Some(ctx::Error::DeadlineExceeded)
        );
        assert!(error.to_string().contains("504 Gateway Timeout"), "{error}");
        stop.cancel();
    }

    #[tokio::test]
    async fn a_request_under_no_context_is_not_sent() {
        // Port 9 (discard) is never reached: the request is refused first.
        let error = client()
            .get("http://127.0.0.1:9/")
            .send()
            .await
            .unwrap_err();
        let reqwest_middleware::Error::Middleware(inner) = &error else {
            panic!("{error}")
        };
        assert!(matches!(
            inner.downcast_ref::<ClientError<reqwest_middleware::Error>>(),
            Some(ClientError::NoContext)
        ));
        assert!(error.to_string().contains("with_context"), "{error}");
        assert_eq!(ContextMiddleware::context_error(&error), None);
    }
}
