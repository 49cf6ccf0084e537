//! How fast the operator dashboard's pages answer over a large database: seeds SQLite with
//! `--payments` payments and `--events` events through the store (group commit), serves the
//! operations listener in-process on loopback, logs in, and times every page `--runs` times,
//! printing a Markdown table with p50, p99 and the ratio of p99 to the 100 ms target.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use malipo_core::{Currency, EventStatus, Money, PaymentState, Provider};
use malipo_store::{NewEvent, NewPayment, Store, TransitionDetail};

/// The dashboard benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Payments to store before timing.
    #[arg(long, default_value_t = 100_000)]
    payments: usize,
    /// Events to store before timing.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Requests per page.
    #[arg(long, default_value_t = 30)]
    runs: usize,
}

const TOKEN: &str = "bench-dashboard-token-obviously-fake";
const TARGET: Duration = Duration::from_millis(100);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let text = format!(
        "[database]\nurl = \"sqlite://{}\"\n[ops]\nadmin_token = \"{TOKEN}\"\n",
        dir.path().join("dash.db").display()
    );
    let config = malipo_config::Config::from_toml(&text)?;
    let gateway = malipo_gateway::Gateway::from_config(&config)
        .await
        .context("cannot build the gateway")?;
    let store = gateway.state().store.clone();

    let started = Instant::now();
    let (payment, receipt) = seed_payments(&store, args.payments).await?;
    eprintln!(
        "seeded {} payments in {:.1} s",
        args.payments,
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let event = seed_events(&store, args.events, payment.clone()).await?;
    eprintln!(
        "seeded {} events in {:.1} s",
        args.events,
        started.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = gateway.ops_router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = http
        .post(format!("{base}/admin/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await?;
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .context("the login set no cookie")?
        .to_string();

    let pages = [
        ("overview", "/admin".to_string()),
        ("payments", "/admin/payments".to_string()),
        ("payments by receipt", format!("/admin/payments?q={receipt}")),
        ("payments by phone tail", "/admin/payments?q=4149".to_string()),
        (
            "payments succeeded, mpesa",
            "/admin/payments?state=succeeded&provider=mpesa".to_string(),
        ),
        ("payment", format!("/admin/payments/{payment}")),
        ("events", "/admin/events".to_string()),
        ("events failed", "/admin/events?status=failed".to_string()),
        ("event", format!("/admin/events/{event}")),
        ("deliveries", "/admin/deliveries".to_string()),
        ("API keys", "/admin/keys".to_string()),
    ];
    println!(
        "\n{} payments, {} events stored; {} requests per page\n",
        args.payments, args.events, args.runs
    );
    println!("| page | p50 ms | p99 ms | p99 / 100 ms target |");
    println!("|---|---|---|---|");
    let mut worst = Duration::ZERO;
    for (name, path) in pages {
        let mut times = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            let t = Instant::now();
            let res = http
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await?;
            let status = res.status();
            let _ = res.bytes().await?;
            anyhow::ensure!(status.is_success(), "{path} answered {status}");
            times.push(t.elapsed());
        }
        times.sort();
        let p50 = times[times.len() / 2];
        let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
        worst = worst.max(p99);
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            p99.as_secs_f64() / TARGET.as_secs_f64()
        );
    }
    println!(
        "\nslowest page p99: {:.1} ms ({} the 100 ms target)",
        worst.as_secs_f64() * 1e3,
        if worst <= TARGET { "within" } else { "over" }
    );
    Ok(())
}

/// Stores `n` payments (a mix of states, phones and receipts); one paid payment's id and
/// receipt, to look up.
async fn seed_payments(store: &Arc<dyn Store>, n: usize) -> anyhow::Result<(String, String)> {
    let mut tasks = tokio::task::JoinSet::new();
    let lanes = 32;
    for lane in 0..lanes {
        let store = store.clone();
        tasks.spawn(async move {
            let mut last = None;
            for i in (lane..n).step_by(lanes) {
                let phone = format!("07{:08}", (i * 7919) % 100_000_000);
                let p = store
                    .insert_payment(NewPayment {
                        msisdn: phone.parse().ok(),
                        merchant_reference: Some(format!("order-{i}")),
                        provider_reference: Some(format!("ws_CO_{i:012}")),
                        ..NewPayment::pending(
                            Provider::Mpesa,
                            "stk_push",
                            Money::from_minor(10_000, Currency::Kes),
                        )
                    })
                    .await?;
                let (state, receipt) = match i % 10 {
                    0..=6 => (PaymentState::Succeeded, Some(format!("R{i:09}"))),
                    7 => (PaymentState::Failed, None),
                    8 => (PaymentState::Cancelled, None),
                    _ => (PaymentState::Pending, None),
                };
                if state != PaymentState::Pending {
                    store
                        .transition_payment(
                            p.id,
                            state,
                            TransitionDetail {
                                receipt: receipt.clone(),
                                ..TransitionDetail::default()
                            },
                        )
                        .await?;
                }
                if let Some(r) = receipt {
                    last = Some((p.id.to_string(), r));
                }
            }
            anyhow::Ok(last)
        });
    }
    let mut found = None;
    while let Some(done) = tasks.join_next().await {
        if let Some(x) = done?? {
            found = Some(x);
        }
    }
    found.context("no paid payment was seeded (use --payments 10 or more)")
}

/// Stores `n` events, processed but for a few failed and suspicious ones; one event's id.
async fn seed_events(store: &Arc<dyn Store>, n: usize, payment: String) -> anyhow::Result<String> {
    let payment: malipo_core::PaymentId = payment.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = include_bytes!("../../fixtures/charge-success.json");
    let mut tasks = tokio::task::JoinSet::new();
    let lanes = 64;
    for lane in 0..lanes {
        let store = store.clone();
        tasks.spawn(async move {
            let mut last = None;
            for i in (lane..n).step_by(lanes) {
                let status = match i % 200 {
                    0 => EventStatus::Failed,
                    1 => EventStatus::Suspicious,
                    _ => EventStatus::Processed,
                };
                let ingested = store
                    .ingest(NewEvent {
                        status,
                        payment_id: (i % 100_000 == 0).then_some(payment),
                        last_error: (status != EventStatus::Processed).then(|| "seeded".to_string()),
                        ..NewEvent::received(
                            Provider::Paystack,
                            "charge.success",
                            format!("charge:{i}"),
                            &body[..],
                        )
                    })
                    .await?;
                if let malipo_store::Ingested::New(id) = ingested {
                    last = Some(id.to_string());
                }
            }
            anyhow::Ok(last)
        });
    }
    let mut found = None;
    while let Some(done) = tasks.join_next().await {
        if let Some(x) = done?? {
            found = Some(x);
        }
    }
    found.context("no event was seeded")
}
