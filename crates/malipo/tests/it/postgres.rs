//! Several `malipo serve` instances on one PostgreSQL database: three receive the same 1,000
//! Paystack deliveries at once, one of them is killed with SIGKILL mid-run, and still every
//! event is stored once and processed once, every payment changed once, every merchant
//! delivery made once, and nothing acknowledged is lost.
//!
//! Needs a PostgreSQL server: `MALIPO_TEST_POSTGRES_URL` (scripts/test starts a throwaway one).
//! Without it the test says so and passes, except under `CI=true`, where it fails.

use std::collections::HashSet;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use malipo_core::Secret;

use crate::deployment::{by_webhook_id, charge_success, receiver, start, start_with, Instance};

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

fn body(id: u64) -> Vec<u8> {
    charge_success("multi", id)
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
             [database]\nurl = \"{db}\"\nworkers = 3\n\
             [paystack]\nsecret_key = \"{KEY}\"\nwebhook_ips = [\"127.0.0.0/8\"]\n\
             rate_limit = {{ per_second = 1000000, burst = 1000000 }}\n\
             [merchant]\nwebhook_url = \"{merchant}\"\nsigning_secret = \"{MERCHANT_SECRET}\"\nallow_private_targets = true\n"
        ),
    )
    .unwrap();
    // Three at once: they migrate the empty database together. Each runs three worker loops,
    // which claim from the shared queue as nine instances would.
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
    let received = by_webhook_id(&received.lock().unwrap());
    assert_eq!(
        received.len() as u64,
        DELIVERIES,
        "every delivery reached the merchant"
    );
    let resent: u32 = received.values().map(|n| n - 1).sum();
    assert!(resent <= 16, "{resent} deliveries were sent more than once");
    drop(instances);
}

/// A private cluster (scripts/postgres), for a test that stops and restarts its server.
struct Cluster {
    dir: tempfile::TempDir,
    url: String,
}

impl Cluster {
    fn script() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres")
    }

    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // World-searchable: as root the server runs as `nobody`.
        let _ = Command::new("chmod").arg("o+rx").arg(dir.path()).status();
        let out = Command::new("bash")
            .arg(Self::script())
            .args(["start"])
            .arg(dir.path().join("cluster"))
            .arg(port.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Cluster { dir, url }
    }

    fn run(&self, what: &str) {
        let out = Command::new("bash")
            .arg(Self::script())
            .arg(what)
            .arg(self.dir.path().join("cluster"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(Self::script())
            .arg("stop")
            .arg(self.dir.path().join("cluster"))
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_is_answered_503_with_retry_after_and_recovered_without_a_restart() {
    // Only to learn whether PostgreSQL tests run here; this one has its own server to stop.
    if admin_url().is_none() {
        return;
    }
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "environment = \"sandbox\"\n[server]\ncallback_token_key = \"restart-test-token-key-of-32-bytes\"\n\
             [database]\nurl = \"{}\"\n[paystack]\nsecret_key = \"{KEY}\"\nwebhook_ips = [\"127.0.0.0/8\"]\n",
            cluster.url
        ),
    )
    .unwrap();
    let created = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args([
            "--log", "warn", "api-key", "create", "--name", "restart", "--format", "json", "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let key: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let key = key["key"].as_str().expect("the key is shown once").to_string();

    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let instance = start_with(&config, &[], log.into());
    let (public, api, ops) = (instance.base.clone(), instance.api.clone(), instance.ops.clone());

    let http = reqwest::Client::new();
    let secret = Secret::new(KEY.to_string());
    let webhook = |id: u64| {
        let body = body(id);
        let sig = malipo_paystack::sign(&body, &secret);
        http.post(format!("{public}/webhooks/paystack"))
            .header("x-paystack-signature", sig)
            .body(body)
            .timeout(Duration::from_secs(20))
            .send()
    };
    let payments = || {
        http.get(format!("{api}/v1/payments"))
            .bearer_auth(&key)
            .timeout(Duration::from_secs(20))
            .send()
    };
    assert_eq!(webhook(1).await.unwrap().status(), 200);
    assert_eq!(payments().await.unwrap().status(), 200);

    // The server goes away: answers come at once, 503 with Retry-After, and nothing is
    // acknowledged that was not stored.
    cluster.run("stop");
    let asked = Instant::now();
    let res = webhook(2).await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let res = payments().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "answered after {:?}",
        asked.elapsed()
    );
    let ready = http.get(format!("{ops}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "not ready while the database is down");

    // It comes back: malipo recovers by itself, the provider's retry is stored and processed.
    cluster.run("restart");
    let back = Instant::now();
    loop {
        match webhook(2).await {
            Ok(res) if res.status() == 200 => break,
            _ => {
                assert!(back.elapsed() < Duration::from_secs(30), "malipo did not recover");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    assert_eq!(payments().await.unwrap().status(), 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&cluster.url, "SELECT count(*) FROM events WHERE status = 1") < 2 {
        assert!(
            Instant::now() < deadline,
            "the worker did not process the events after the restart:\nevents: {}\njobs: {}\nlog:\n{}",
            psql(
                &cluster.url,
                "SELECT id, status, attempts, last_error FROM events"
            ),
            psql(
                &cluster.url,
                "SELECT id, run_at, attempts, lease_owner, last_error FROM jobs"
            ),
            std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(count(&cluster.url, "SELECT count(*) FROM events"), 2);
    drop(instance);
}

/// What a store holds, as the port reads it back: events (id, provider, dedup key, status,
/// body), payments, API keys and records.
async fn contents(store: &dyn malipo_store::Store) -> (Vec<String>, Vec<String>, Vec<String>, u64) {
    let mut events = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_events(&malipo_store::EventFilter {
                before,
                limit: 1_000,
                ..malipo_store::EventFilter::default()
            })
            .await
            .unwrap();
        for e in &page {
            let full = store.get_event(e.id).await.unwrap().unwrap();
            events.push(format!(
                "{} {} {} {:?} {}",
                e.id,
                e.provider,
                e.dedup_key,
                e.status,
                String::from_utf8_lossy(&full.raw_body)
            ));
        }
        match page.last() {
            Some(last) if page.len() == 1_000 => before = Some(last.id),
            _ => break,
        }
    }
    let payments = store
        .list_payments(&malipo_store::PaymentFilter {
            limit: 1_000,
            ..malipo_store::PaymentFilter::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|p| format!("{} {} {} {:?}", p.id, p.state, p.amount, p.provider_reference))
        .collect();
    let keys = store
        .list_api_keys()
        .await
        .unwrap()
        .iter()
        .map(|k| format!("{} {}", k.id, k.prefix))
        .collect();
    let records = store
        .count_records(malipo_core::Provider::Paystack, "customer", None)
        .await
        .unwrap();
    (events, payments, keys, records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_data_moves_a_sqlite_deployment_and_resumes_after_sigkill() {
    use malipo_core::{Currency, Money, PaymentState, Provider};
    use malipo_store::{
        EventStore, KeyStore, NewEvent, NewPayment, NewRecord, OpsStore, PaymentStore, RecordSource,
        RecordStore, SqliteOptions, SqliteStore,
    };

    let Some(admin) = admin_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("malipo.db");
    // A deployment's worth of data: events (some processed), payments, a key, records.
    {
        let store = SqliteStore::open(&sqlite, SqliteOptions::default()).unwrap();
        for i in 0..4_000u64 {
            let body = body(i);
            let event = NewEvent::received(
                Provider::Paystack,
                "charge.success",
                format!("charge.success:{i}"),
                body,
            );
            store.ingest(event).await.unwrap();
        }
        let jobs = store.claim_jobs("w", 500, Duration::from_secs(60)).await.unwrap();
        for job in jobs {
            store
                .complete_job(job.id, malipo_store::JobOutcome::processed())
                .await
                .unwrap();
        }
        for i in 0..300u64 {
            let mut p = NewPayment::pending(
                Provider::Paystack,
                "charge",
                Money::from_minor(100 + i, Currency::Ngn),
            );
            p.provider_reference = Some(format!("ref-{i}"));
            let p = store.insert_payment(p).await.unwrap();
            if i % 3 == 0 {
                store
                    .transition_payment(p.id, PaymentState::Succeeded, Default::default())
                    .await
                    .unwrap();
            }
        }
        store
            .insert_api_key(malipo_store::NewApiKey {
                id: malipo_core::kinds::KeyId::new(),
                name: Some("shop".into()),
                environment: "test".into(),
                prefix: "mk_test_Ab3x".into(),
                hash: [7; malipo_store::KEY_HASH_LEN],
            })
            .await
            .unwrap();
        let records = (0..50)
            .map(|i| NewRecord {
                provider: Provider::Paystack,
                account: malipo_core::AccountName::default_account(),
                kind: "customer".into(),
                id: format!("CUS_{i}"),
                data: serde_json::json!({"customer_code": format!("CUS_{i}"), "email": format!("c{i}@example.com")})
                    .as_object()
                    .unwrap()
                    .clone(),
                updated_at: None,
                source: RecordSource::Sync,
            })
            .collect();
        store.upsert_records(records).await.unwrap();
        store.close().await.unwrap();
    }
    let db = fresh_database(&admin, "malipo_copy");
    let from = format!("sqlite://{}", sqlite.display());
    let copy = |format: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_malipo"));
        cmd.args([
            "--log",
            "warn",
            "migrate-data",
            "--from",
            &from,
            "--to",
            &db,
            "--batch",
            "10",
            "--format",
            format,
        ])
        .current_dir(dir.path())
        .env_remove("MALIPO_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        cmd
    };

    // Killed once a few hundred events are across.
    let mut child = copy("text").spawn().unwrap();
    let started = Instant::now();
    loop {
        // The progress table appears when the copy starts.
        let copied = Command::new("psql")
            .args(["-X", "-At", &db, "-c"])
            .arg("SELECT coalesce(sum(copied), 0) FROM malipo_data_copy WHERE table_name = 'events'")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok())
            .unwrap_or(0);
        if copied >= 300 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the copy ended before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the copy made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = count(&db, "SELECT count(*) FROM events");
    assert!(
        (300..4_000).contains(&partial),
        "{partial} events copied before the kill"
    );

    // Again: it resumes and finishes; the JSON summary says so.
    let mut again = copy("json");
    let out = tokio::task::spawn_blocking(move || again.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = summary["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "events")
        .unwrap();
    assert_eq!(events["resumed"], true, "{summary}");
    assert_eq!(events["copied"], 4_000, "{summary}");
    assert!(
        !summary.to_string().contains("postgres://postgres:"),
        "no password shown"
    );

    // Both stores read back the same, through the port.
    let source = SqliteStore::open(&sqlite, SqliteOptions::default()).unwrap();
    let target = malipo_store::PostgresStore::connect(&db, malipo_store::PostgresOptions::default())
        .await
        .unwrap();
    let (a, b) = (contents(&source).await, contents(&target).await);
    assert_eq!(a.0.len(), 4_000);
    assert_eq!(a, b);
    assert_eq!(
        target.stats().await.unwrap().jobs_queued,
        3_500,
        "the unprocessed events' jobs came too"
    );

    // The copied database goes on working: a provider's retry is a duplicate, new events follow.
    let retry = NewEvent::received(Provider::Paystack, "charge.success", "charge.success:7", body(7));
    assert!(!target.ingest(retry).await.unwrap().is_new());
    let new = NewEvent::received(
        Provider::Paystack,
        "charge.success",
        "charge.success:new",
        body(99_999),
    );
    assert!(target.ingest(new).await.unwrap().is_new());
    // Regression: a copy ran beside a gateway still writing to the file, and the rows written
    // after it were left behind without a word. While a store has the file open, it is refused.
    let out = copy("text").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("stop the gateway"), "{stderr}");
    // A payment taken on SQLite after the copy finished: a run says it is not copied.
    let late = NewPayment::pending(Provider::Paystack, "charge", Money::from_minor(5, Currency::Ngn));
    source.insert_payment(late).await.unwrap();
    source.close().await.unwrap();
    drop(source);
    let out = copy("json").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "payments: the SQLite database now holds 301 rows, but the copy that finished took 300"
        ),
        "{stderr}"
    );
    target.close().await.unwrap();
}

#[test]
fn check_config_reads_the_connection_and_the_schema_version() {
    let Some(admin) = admin_url() else { return };
    let db = fresh_database(&admin, "malipo_check");
    let dir = tempfile::tempdir().unwrap();
    let config = |url: &str| {
        let path = dir.path().join("malipo.toml");
        std::fs::write(
            &path,
            format!(
                "environment = \"sandbox\"\n[server]\ncallback_token_key = \"check-config-token-key-32-bytes!!\"\n\
                 [database]\nurl = \"{url}\"\n"
            ),
        )
        .unwrap();
        path
    };
    let check = |path: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_malipo"))
            .args(["--log", "warn", "check-config", "--format", "json", "--config"])
            .arg(path)
            .env_remove("MALIPO_CONFIG")
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        let finding = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "database-writable")
            .cloned()
            .unwrap_or_else(|| panic!("{report}"));
        (
            finding["level"].as_str().unwrap().to_string(),
            finding["message"].as_str().unwrap().to_string(),
        )
    };
    let fresh = config(&db);
    let (level, message) = check(&fresh);
    assert_eq!(level, "PASS", "{message}");
    assert!(
        message.contains("schema is at version 0") && message.contains("malipo migrate"),
        "{message}"
    );
    let migrated = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--log", "warn", "migrate", "--config"])
        .arg(&fresh)
        .output()
        .unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let (level, message) = check(&fresh);
    assert_eq!(level, "PASS");
    assert!(message.contains("schema is current"), "{message}");
    // Nobody listens there: a FAIL that says what to check, without a password.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (level, message) = check(&config(&format!(
        "postgres://malipo:hunter2@127.0.0.1:{port}/malipo"
    )));
    assert_eq!(level, "FAIL", "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}
