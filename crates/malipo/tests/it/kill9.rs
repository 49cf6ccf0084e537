//! Durability against kill -9: the server is killed while a client is sending; after a restart
//! every webhook that got a 200 is in the database exactly once, and retries of them are
//! acknowledged as duplicates.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use malipo_core::Secret;

const KEY: &str = "sk_test_kill9_obviously_fake";

fn start(config: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--log", "warn", "serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("malipo serve starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr)
}

fn body(id: u64) -> Vec<u8> {
    format!(
        r#"{{"event":"charge.success","data":{{"id":{id},"status":"success","reference":"k9-{id}","amount":10000,"currency":"NGN","customer":{{"email":"a@b.example"}}}}}}"#
    )
    .into_bytes()
}

async fn send(client: &reqwest::Client, base: &str, id: u64) -> Option<u16> {
    let b = body(id);
    let sig = malipo_paystack::sign(&b, &Secret::new(KEY.to_string()));
    let res = client
        .post(format!("{base}/webhooks/paystack"))
        .header("x-paystack-signature", sig)
        .body(b)
        .send()
        .await
        .ok()?;
    Some(res.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_webhook_survives_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[paystack]\nsecret_key = \"{KEY}\"\nwebhook_ips = [\"127.0.0.0/8\"]\nrate_limit = {{ per_second = 1000000, burst = 1000000 }}\n",
            dir.path().join("k9.db").display()
        ),
    )
    .unwrap();
    let (mut server, base) = start(&config);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let started = Instant::now();
    let senders: Vec<_> = (0..16u64)
        .map(|worker| {
            let (client, base, acked) = (client.clone(), base.clone(), acked.clone());
            tokio::spawn(async move {
                // Bounded: at most 5,000 requests per sender and 20 s in all.
                for n in 0..5_000u64 {
                    if started.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                    let id = worker * 1_000_000 + n;
                    match send(&client, &base, id).await {
                        Some(200) => acked.lock().unwrap().push(id),
                        Some(_) => {}
                        None => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    // Kill once a good number of webhooks have been acknowledged, in the middle of the stream.
    while acked.lock().unwrap().len() < 300 && started.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed_pid = server.id();
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    for s in senders {
        s.await.unwrap();
    }
    let held = hold_for_the_killed_worker(&dir.path().join("k9.db"), killed_pid);
    let acked: Vec<u64> = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "only {} acknowledged before the kill",
        acked.len()
    );

    let (mut server, base) = start(&config);
    // The provider retries some acknowledged deliveries: each is answered 200 and not stored again.
    for id in acked.iter().take(50) {
        assert_eq!(send(&client, &base, *id).await, Some(200));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args([
            "events", "list", "--limit", "1000000", "--format", "json", "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = events.iter().map(|e| e["dedup_key"].as_str().unwrap()).collect();
    let distinct: HashSet<&str> = keys.iter().copied().collect();
    assert_eq!(distinct.len(), keys.len(), "no event is stored twice");
    let missing: Vec<u64> = acked
        .iter()
        .filter(|id| !distinct.contains(format!("charge.success:{id}").as_str()))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged webhooks lost: {missing:?}",
        missing.len()
    );
    eprintln!("{} acknowledged before SIGKILL, {} stored (requests in flight at the kill may be stored without an answer)", acked.len(), keys.len());

    // The killed worker's claims are released at the restart, not an hour later: every stored
    // event gets processed.
    let db = rusqlite::Connection::open(dir.path().join("k9.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let deadline = Instant::now() + Duration::from_secs(120);
    while count("SELECT count(*) FROM jobs") > 0 {
        assert!(
            Instant::now() < deadline,
            "{} jobs still queued; the killed worker held {held}",
            count("SELECT count(*) FROM jobs")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count("SELECT count(*) FROM events WHERE status <> 1"),
        0,
        "every stored event is processed"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Leases every job still queued to the killed process's worker for an hour, as its claims
/// would be (whatever it really held at the kill is among them): without the restart releasing
/// them, nothing would run for an hour. Returns how many.
fn hold_for_the_killed_worker(db: &std::path::Path, pid: u32) -> usize {
    let host = Command::new("uname").arg("-n").output().expect("uname -n");
    let owner = format!("worker-{pid}@{}", String::from_utf8_lossy(&host.stdout).trim());
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut held = conn
        .prepare("SELECT lease_owner FROM jobs WHERE lease_owner IS NOT NULL")
        .unwrap();
    let holders: Vec<String> = held
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        holders.iter().all(|h| *h == owner),
        "the killed worker's leases are named {owner}: {holders:?}"
    );
    let hour_on = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 3_600_000;
    let n = conn
        .execute(
            "UPDATE jobs SET lease_owner = ?1, run_at = ?2",
            rusqlite::params![owner, hour_on],
        )
        .unwrap();
    eprintln!(
        "{n} jobs leased to the killed worker, {} of them claimed by it before the kill",
        holders.len()
    );
    n
}
