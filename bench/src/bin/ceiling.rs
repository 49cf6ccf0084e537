//! The ceiling of the ingest benchmark: a bare axum server that reads each webhook's body and
//! answers 200, nothing else. What malipo could reach if verifying and storing cost nothing.
//!
//! Run with `malipo-bench-ceiling --bind 127.0.0.1:0`; it prints `listening on http://ADDR`.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use clap::Parser;

/// Command line of the ceiling server.
#[derive(Debug, Parser)]
#[command(about = "Bare axum server answering 200 to POST /webhooks/paystack (the benchmark's ceiling)")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
}

/// Takes the body (as malipo must) and drops it.
async fn ok(_body: Bytes) -> StatusCode {
    StatusCode::OK
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = Router::new().route("/webhooks/paystack", post(ok));
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
