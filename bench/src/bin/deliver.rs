//! The delivery benchmark: how many signed deliveries per second malipo's sender gets to a local
//! receiver that verifies every signature.
//!
//! Run with `cargo run --release -p malipo-bench --bin malipo-bench-deliver -- --help`.
//!
//! It queues `--deliveries` payment changes (each one a committed `payment.succeeded`, so the
//! store's outbox writes one delivery per endpoint), then starts the real gateway (its sender, on
//! an embedded SQLite database in a temporary directory) and times how long it takes until every
//! delivery is marked delivered. The receiver (axum, on loopback) verifies each request with
//! `malipo-webhooks` and counts distinct `webhook-id`s, so the row also says whether anything was
//! lost or sent twice.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use clap::Parser;
use malipo_core::{Currency, Money, PaymentState, Provider};
use malipo_gateway::delivery::{self, CreateEndpoint, DeliverySettings};
use malipo_gateway::Gateway;
use malipo_store::NewPayment;
use malipo_webhooks::{Verifier, WebhookSecret};

/// Command line of the delivery benchmark.
#[derive(Debug, Parser)]
#[command(about = "Delivery benchmark: signed deliveries per second to a local verifying receiver")]
struct Args {
    /// Deliveries to send.
    #[arg(long, default_value_t = 20_000)]
    deliveries: usize,
    /// Deliveries of one endpoint in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Endpoints (each gets every delivery; the total is deliveries × endpoints).
    #[arg(long, default_value_t = 1)]
    endpoints: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    deadline: u64,
}

#[derive(Default)]
struct Received {
    ids: Mutex<HashSet<String>>,
    requests: std::sync::atomic::AtomicU64,
    bad_signatures: std::sync::atomic::AtomicU64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let config = malipo_config::Config::from_toml(&format!(
        "[database]\nurl = \"sqlite://{}\"\n",
        dir.path().join("deliver.db").display()
    ))?;
    let settings = DeliverySettings {
        per_endpoint_concurrency: args.concurrency,
        poll_interval: Duration::from_millis(5),
        ..DeliverySettings::default()
    };
    let gateway = Gateway::from_config(&config)
        .await
        .context("building the gateway")?
        .without_worker()
        .with_delivery(Some(settings));
    let state = gateway.state().clone();
    let store = state.store.clone();

    // The receiver: verifies and counts.
    let received = Arc::new(Received::default());
    let verifiers: Arc<Mutex<Vec<Verifier>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_addr = listener.local_addr()?;
    {
        let received = received.clone();
        let verifiers = verifiers.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let received = received.clone();
                let verifiers = verifiers.clone();
                async move {
                    received
                        .requests
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let ok = verifiers
                        .lock()
                        .map(|v| v.iter().any(|v| v.verify(&headers, &body).is_ok()))
                        .unwrap_or(false);
                    if !ok {
                        received
                            .bad_signatures
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        return StatusCode::UNAUTHORIZED;
                    }
                    if let (Some(id), Ok(mut ids)) = (headers.get("webhook-id"), received.ids.lock()) {
                        ids.insert(id.to_str().unwrap_or_default().to_owned());
                    }
                    StatusCode::NO_CONTENT
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
    }
    for i in 0..args.endpoints {
        let created = delivery::create_endpoint(
            &state,
            CreateEndpoint {
                name: format!("bench-{i}"),
                url: format!("http://{receiver_addr}/hook"),
                allow_private: true,
                ..CreateEndpoint::default()
            },
        )
        .await?;
        let secret: WebhookSecret = created.secret.expose().parse()?;
        verifiers
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push(Verifier::new(secret));
    }

    // Queue the changes before the sender starts, so the timing is the sender's alone.
    let queued = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..64usize {
        let store = store.clone();
        let n = args.deliveries / 64 + usize::from(chunk < args.deliveries % 64);
        tasks.spawn(async move {
            for _ in 0..n {
                let p = store
                    .insert_payment(NewPayment::pending(
                        Provider::Mpesa,
                        "stk_push",
                        Money::from_minor(100, Currency::Kes),
                    ))
                    .await?;
                store
                    .transition_payment(p.id, PaymentState::Succeeded, Default::default())
                    .await?;
            }
            Ok::<_, malipo_store::StoreError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let total = args.deliveries * args.endpoints;
    eprintln!(
        "queued {total} deliveries in {:.1} s",
        queued.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let server = tokio::spawn(gateway.serve(listener, async {
        let _ = stopped.await;
    }));
    let deadline = started + Duration::from_secs(args.deadline);
    let delivered = loop {
        let pending = store.stats().await?.deliveries_pending;
        if pending == 0 || Instant::now() > deadline {
            break total as u64 - pending;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = server.await;
    let distinct = received.ids.lock().map(|ids| ids.len()).unwrap_or(0);
    let requests = received.requests.load(std::sync::atomic::Ordering::Relaxed);
    let bad = received.bad_signatures.load(std::sync::atomic::Ordering::Relaxed);
    let dead = store.stats().await?.deliveries_dead;

    println!("| endpoints | concurrency | deliveries | delivered/s | seconds | requests | distinct ids | bad signatures | dead |");
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    println!(
        "| {} | {} | {total} | {:.0} | {elapsed:.2} | {requests} | {distinct} | {bad} | {dead} |",
        args.endpoints,
        args.concurrency,
        delivered as f64 / elapsed
    );
    if delivered as usize != total || distinct != total || bad != 0 {
        anyhow::bail!("not every delivery arrived exactly once with a good signature");
    }
    Ok(())
}
