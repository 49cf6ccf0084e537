//! Several `malipo serve` instances on one PostgreSQL database: three receive the same 1,000
//! Paystack deliveries at once, one of them is killed with SIGKILL mid-run, and still every
//! event is stored once and processed once, every payment changed once, every merchant
//! delivery made once, and nothing acknowledged is lost.
//!
//! Needs a PostgreSQL server: `MALIPO_TEST_POSTGRES_URL` (scripts/test starts a throwaway one).
//! Without it the test says so and passes, except under `CI=true`, where it fails.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use malipo_core::Secret;

const KEY: &str = "sk_test_multi_instance_obviously_fake";
const MERCHANT_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const DELIVERIES: u64 = 1_000;

/// The admin URL of the test server, or `None` (with the reason printed) outside CI.
pub fn admin_url() -> Option<String> {
    match std::env::var("MALIPO_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but MALIPO_TEST_POSTGRES_URL is not set: scripts/test starts a PostgreSQL server for these tests")
        }
        _ => {
            eprintln!("skipped: set MALIPO_TEST_POSTGRES_URL (scripts/test starts a throwaway PostgreSQL) to run this test");
            None
        }
    }
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn count(url: &str, sql: &str) -> u64 {
    psql(url, sql)
        .parse()
        .unwrap_or_else(|_| panic!("{sql} is not a count"))
}

/// A fresh, empty database on the test server; returns its URL.
pub fn fresh_database(admin: &str, prefix: &str) -> String {
    let name = format!("{prefix}_{:016x}", rand_u64());
    psql(admin, &format!("CREATE DATABASE {name}"));
    let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}

fn rand_u64() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Counts the merchant deliveries by `webhook-id`; answers 204.
fn receiver() -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(HashMap::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut line, mut id, mut len) = (String::new(), None, 0usize);
                let _ = reader.read_line(&mut line);
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        match k.trim().to_ascii_lowercase().as_str() {
                            "webhook-id" => id = Some(v.trim().to_string()),
                            "content-length" => len = v.trim().parse().unwrap_or(0),
                            _ => {}
                        }
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                if let Some(id) = id {
                    *seen.lock().unwrap().entry(id).or_insert(0) += 1;
                }
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
            });
        }
    });
    (url, got)
}

struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(config: &std::path::Path) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args([
            "--log",
            "warn",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--api-bind",
            "127.0.0.1:0",
        ])
        .args(["--ops-bind", "127.0.0.1:0", "--config"])
        .arg(config)
        .env_remove("MALIPO_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("malipo serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Instance { child, base }
}

fn body(id: u64) -> Vec<u8> {
    format!(
        r#"{{"event":"charge.success","data":{{"id":{id},"status":"success","reference":"multi-{id}","amount":10000,"currency":"NGN","customer":{{"email":"a@b.example"}}}}}}"#
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_one_killed_process_every_delivery_once() {
    let Some(admin) = admin_url() else { return };
    let db = fresh_database(&admin, "malipo_multi");
    let (merchant, received) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "environment = \"sandbox\"\n[server]\ncallback_token_key = \"multi-instance-test-token-key-32b\"\n\
             [database]\nurl = \"{db}\"\n\
             [paystack]\nsecret_key = \"{KEY}\"\nwebhook_ips = [\"127.0.0.0/8\"]\n\
             rate_limit = {{ per_second = 1000000, burst = 1000000 }}\n\
             [merchant]\nwebhook_url = \"{merchant}\"\nsigning_secret = \"{MERCHANT_SECRET}\"\nallow_private_targets = true\n"
        ),
    )
    .unwrap();
    // Three at once: they migrate the empty database together.
    let mut instances: Vec<Option<Instance>> = std::thread::scope(|s| {
        let starting: Vec<_> = (0..3).map(|_| s.spawn(|| start(&config))).collect();
        starting.into_iter().map(|h| Some(h.join().unwrap())).collect()
    });
    let bases: Vec<String> = instances
        .iter()
        .map(|i| i.as_ref().unwrap().base.clone())
        .collect();

    let secret = Secret::new(KEY.to_string());
    let http = reqwest::Client::new();
    let acked: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let answered_by_victim = Arc::new(AtomicUsize::new(0));
    let senders = bases.iter().enumerate().map(|(i, base)| {
        let (http, secret, acked, victim) = (
            http.clone(),
            secret.clone(),
            acked.clone(),
            answered_by_victim.clone(),
        );
        let url = format!("{base}/webhooks/paystack");
        tokio::spawn(async move {
            futures::stream::iter(0..DELIVERIES)
                .map(|id| {
                    let (http, url, secret, acked, victim) = (
                        http.clone(),
                        url.clone(),
                        secret.clone(),
                        acked.clone(),
                        victim.clone(),
                    );
                    async move {
                        let body = body(id);
                        let sig = malipo_paystack::sign(&body, &secret);
                        let sent = http
                            .post(&url)
                            .header("x-paystack-signature", sig)
                            .header("content-type", "application/json")
                            .body(body)
                            .timeout(Duration::from_secs(10))
                            .send()
                            .await;
                        if let Ok(res) = sent {
                            if res.status().is_success() {
                                acked.lock().unwrap().insert(id);
                                if i == 2 {
                                    victim.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                        }
                    }
                })
                .buffer_unordered(16)
                .collect::<Vec<()>>()
                .await;
        })
    });
    let senders: Vec<_> = senders.collect();

    // The third instance dies with SIGKILL once it has acknowledged 300, mid-run: its claimed jobs
    // and deliveries wait for their lease to run out, then the others take them.
    let started = Instant::now();
    while answered_by_victim.load(Ordering::SeqCst) < 300 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the third instance acknowledged too little"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(instances[2].take());
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(
        acked.len() as u64,
        DELIVERIES,
        "the two live instances acknowledged every delivery"
    );

    // Wait for the work to finish: no job queued, every delivery delivered (the killed
    // instance's leases expire after a minute).
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let jobs = count(&db, "SELECT count(*) FROM jobs");
        let pending = count(&db, "SELECT count(*) FROM deliveries WHERE status = 0");
        let delivered = count(&db, "SELECT count(*) FROM deliveries WHERE status = 1");
        if jobs == 0 && pending == 0 && delivered >= DELIVERIES {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {jobs} jobs and {pending} deliveries pending ({delivered} delivered)"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // One event per delivery, each processed once; one payment each, changed once; one
    // delivery each, made once (a delivery cut off by the kill may be resent with the same
    // webhook-id, which receivers deduplicate: at most the ones in flight at the kill).
    assert_eq!(count(&db, "SELECT count(*) FROM events"), DELIVERIES);
    assert_eq!(
        count(&db, "SELECT count(*) FROM events WHERE status = 1"),
        DELIVERIES
    );
    assert_eq!(count(&db, "SELECT count(*) FROM payments"), DELIVERIES);
    assert_eq!(
        count(&db, "SELECT count(DISTINCT provider_reference) FROM payments"),
        DELIVERIES
    );
    assert_eq!(count(&db, "SELECT count(*) FROM deliveries"), DELIVERIES);
    let received = received.lock().unwrap().clone();
    assert_eq!(
        received.len() as u64,
        DELIVERIES,
        "every delivery reached the merchant"
    );
    let resent: u32 = received.values().map(|n| n - 1).sum();
    assert!(resent <= 16, "{resent} deliveries were sent more than once");
    drop(instances);
}
