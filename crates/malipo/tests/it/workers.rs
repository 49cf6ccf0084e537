//! Several worker loops on the embedded SQLite database (`[database] workers`): one
//! `malipo serve` with three loops receives 1,000 Paystack deliveries, each sent twice at once
//! (a provider's retry racing its first attempt), and every event is stored once and processed
//! once, every payment recorded and changed once, every merchant delivery made once.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use malipo_core::Secret;

use crate::deployment::{by_webhook_id, charge_success, receiver, start};

const KEY: &str = "sk_test_worker_loops_obviously_fake";
const MERCHANT_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const DELIVERIES: u64 = 1_000;

/// What the database holds, read as an operator would with `sqlite3` while the server runs.
fn count(db: &std::path::Path, sql: &str) -> u64 {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_worker_loops_on_sqlite_process_every_delivery_once() {
    let (merchant, received) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("malipo.db");
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "environment = \"sandbox\"\n[server]\ncallback_token_key = \"worker-loops-test-token-key-32b!\"\n\
             [database]\nurl = \"sqlite://{}\"\nworkers = 3\n\
             [paystack]\nsecret_key = \"{KEY}\"\nwebhook_ips = [\"127.0.0.0/8\"]\n\
             rate_limit = {{ per_second = 1000000, burst = 1000000 }}\n\
             [merchant]\nwebhook_url = \"{merchant}\"\nsigning_secret = \"{MERCHANT_SECRET}\"\nallow_private_targets = true\n",
            db.display()
        ),
    )
    .unwrap();
    let instance = start(&config);

    let secret = Secret::new(KEY.to_string());
    let http = reqwest::Client::new();
    let url = format!("{}/webhooks/paystack", instance.base);
    // Each delivery twice in a row, so that both copies are in flight together.
    let answers: Vec<(u64, Option<u16>)> = futures::stream::iter((0..DELIVERIES).flat_map(|id| [id, id]))
        .map(|id| {
            let (http, url, secret) = (http.clone(), url.clone(), secret.clone());
            async move {
                let body = charge_success("loops", id);
                let sent = http
                    .post(&url)
                    .header("x-paystack-signature", malipo_paystack::sign(&body, &secret))
                    .header("content-type", "application/json")
                    .body(body)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                (id, sent.ok().map(|res| res.status().as_u16()))
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let refused: Vec<_> = answers
        .iter()
        .filter(|(_, status)| *status != Some(200))
        .collect();
    assert!(refused.is_empty(), "every copy is acknowledged: {refused:?}");

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let jobs = count(&db, "SELECT count(*) FROM jobs");
        let pending = count(&db, "SELECT count(*) FROM deliveries WHERE status = 0");
        if jobs == 0 && pending == 0 && received.lock().unwrap().len() as u64 >= DELIVERIES {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {jobs} jobs and {pending} deliveries pending"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert_eq!(
        count(&db, "SELECT count(*) FROM events"),
        DELIVERIES,
        "one event per delivery"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM events WHERE status = 1 AND attempts = 1"
        ),
        DELIVERIES,
        "each processed, at the first attempt and only once"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM payments"), DELIVERIES);
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT provider_reference) FROM payments WHERE state = 1"
        ),
        DELIVERIES,
        "one paid payment per transaction"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM deliveries WHERE status = 1 AND attempts = 1"
        ),
        DELIVERIES,
        "one merchant delivery per payment, sent once"
    );
    assert_eq!(
        count(&db, "SELECT count(DISTINCT payment_id) FROM deliveries"),
        DELIVERIES
    );
    let received = by_webhook_id(&received.lock().unwrap());
    assert_eq!(
        received.len() as u64,
        DELIVERIES,
        "every delivery reached the merchant"
    );
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    drop(instance);
}
