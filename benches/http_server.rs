//! A hello-world HTTP server on loopback, in one of the variants of
//! `routers.rs`, for `scripts/bench-http.sh` to run wrk against.
//!
//! A bench target (`harness = false`) rather than an example: examples are
//! for users to read and copy, this is measuring equipment; as a bench
//! target of `ctx-benches` it builds with the release profile and the
//! benchmark-only dependencies (tower-http), and CI's
//! `cargo bench --workspace --no-run` keeps it building.
//!
//! ```text
//! http_server <variant> [threads]   serve on 127.0.0.1, an ephemeral port,
//!                                   printed as the first line of stdout
//! http_server --headers             the "with headers" rows' headers, one
//!                                   `name: value` a line
//! http_server --variants            the variants, one a line
//! ```
//!
//! `threads` (default 1): 1 runs a current-thread tokio runtime, more a
//! multi-thread runtime with that many workers. The server runs until
//! killed.

#![allow(missing_docs)]

use std::process::ExitCode;

use axum::extract::Request;
use axum::response::IntoResponse;
use ctx::Context;
use routers::Server;
use tower::ServiceExt;

mod routers;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["--headers"] => {
            for (name, value) in routers::INCOMING_HEADERS {
                println!("{name}: {value}");
            }
            ExitCode::SUCCESS
        }
        ["--variants"] => {
            for server in routers::SERVERS {
                println!("{server}");
            }
            ExitCode::SUCCESS
        }
        [variant] => serve(variant, "1"),
        [variant, threads] => serve(variant, threads),
        _ => usage("expected a variant"),
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "http_server: {problem}\nusage: http_server <{}> [threads] | --headers | --variants",
        routers::SERVERS.join("|")
    );
    ExitCode::from(2)
}

fn serve(variant: &str, threads: &str) -> ExitCode {
    let Ok(threads @ 1..) = threads.parse::<usize>() else {
        return usage(&format!("threads: {threads:?} is not a positive number"));
    };
    let (root, shutdown) = Context::background().with_cancel();
    let Some(server) = routers::server(variant, &root) else {
        return usage(&format!("unknown variant {variant:?}"));
    };
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("http_server: no tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        println!("{}", listener.local_addr()?);
        match server {
            Server::Router(router) => axum::serve(listener, router).await,
            // axum serves a service whose responses have its own body:
            // the layer's is boxed into one, as `Router::layer` does.
            Server::Around(service) => {
                let service =
                    ServiceExt::<Request>::map_response(service, IntoResponse::into_response);
                let service = axum::ServiceExt::<Request>::into_make_service(service);
                axum::serve(listener, service).await
            }
        }
    });
    shutdown.cancel();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("http_server: {error}");
            ExitCode::FAILURE
        }
    }
}
