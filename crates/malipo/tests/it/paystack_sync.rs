//! `malipo paystack sync` against the Paystack simulator holding 5,000 resources: killed with
//! SIGKILL mid-run, it resumes where it stopped, and leaves the database equal to the
//! simulator's data.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt as _, TryStreamExt as _};
use malipo_core::{Currency, Money, Secret};
use malipo_paystack::{Client, CreateCustomer, CreatePlan, Interval, ListQuery, RecordKind, ResourceCopy};
use malipo_sim::paystack::{PaystackSim, SimConfig, TEST_SECRET_KEY};

const CUSTOMERS: usize = 4_000;
const PLANS: usize = 1_000;

async fn held_by_simulator(client: &Client, kind: RecordKind) -> BTreeMap<String, serde_json::Value> {
    let mut all = BTreeMap::new();
    for page in 1.. {
        let query = ListQuery {
            per_page: Some(100),
            page: Some(page),
            ..ListQuery::default()
        };
        let listed = client.resource_page(kind, &query).await.expect("listed");
        for item in &listed.items {
            all.insert(ResourceCopy::read(kind, item).expect("an id").id, item.clone());
        }
        if listed.items.len() < 100 {
            break;
        }
    }
    all
}

fn kept_in(db: &std::path::Path, kind: RecordKind) -> BTreeMap<String, serde_json::Value> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare("SELECT record_id, data FROM records WHERE kind = ?1 AND account = 'default'")
        .unwrap();
    let rows = stmt
        .query_map([kind.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .unwrap();
    rows.map(|r| {
        let (id, data) = r.unwrap();
        (id, serde_json::from_str(&data).unwrap())
    })
    .collect()
}

/// Records stored by the running sync so far, from its checkpoints.
fn synced_so_far(db: &std::path::Path) -> u64 {
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT coalesce(sum(synced), 0) FROM sync_checkpoints", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_or(0, |n| n as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_mid_run_resumes_and_ends_equal_to_the_simulator() {
    // A distant Paystack: every answer waits 10 ms, so the sync takes long enough to kill.
    let sim = PaystackSim::start(SimConfig::default().api_latency(Duration::from_millis(10)))
        .await
        .unwrap();
    let client = Client::builder(Secret::new(TEST_SECRET_KEY.to_string()))
        .base_url(sim.base_url().clone())
        .build()
        .unwrap();
    futures::stream::iter(0..CUSTOMERS)
        .map(|i| {
            let client = &client;
            async move {
                client
                    .create_customer(&CreateCustomer::new(format!("c{i}@example.com")))
                    .await
            }
        })
        .buffer_unordered(64)
        .try_collect::<Vec<_>>()
        .await
        .expect("customers created");
    futures::stream::iter(0..PLANS)
        .map(|i| {
            let client = &client;
            async move {
                let plan = CreatePlan::new(
                    format!("plan {i}"),
                    Money::from_minor(500 + i as u64, Currency::Ngn),
                    Interval::Weekly,
                );
                client.create_plan(&plan).await
            }
        })
        .buffer_unordered(64)
        .try_collect::<Vec<_>>()
        .await
        .expect("plans created");

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("malipo.db");
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[paystack]\nsecret_key = \"{TEST_SECRET_KEY}\"\nbase_url = \"{}\"\n",
            db.display(),
            sim.base_url()
        ),
    )
    .unwrap();
    let sync = move |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_malipo"));
        cmd.args([
            "--log",
            "warn",
            "paystack",
            "sync",
            "--per-page",
            "20",
            "--config",
        ])
        .arg(&config)
        .args(extra)
        .env_remove("MALIPO_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        cmd
    };

    // Killed once a fifth of the customers are stored.
    let mut child = sync(&[]).spawn().expect("malipo runs");
    let started = Instant::now();
    while synced_so_far(&db) < 800 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sync made no progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    let stored = kept_in(&db, RecordKind::Customer).len();
    assert!(
        (800..CUSTOMERS).contains(&stored),
        "{stored} customers stored before the kill"
    );

    // Run again: it resumes after the last page stored, and finishes.
    let mut again = sync(&["--format", "json"]);
    let out = tokio::task::spawn_blocking(move || again.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    let customers = &summary["kinds"][0];
    assert_eq!(customers["kind"], "customer", "{summary}");
    let resumed = customers["resumed_from_page"]
        .as_u64()
        .expect("resumed, not restarted");
    assert!(resumed > 1 && resumed as usize <= CUSTOMERS / 20, "{summary}");
    assert_eq!(customers["kept"], CUSTOMERS as u64, "{summary}");
    assert_eq!(summary["kinds"][1]["kept"], PLANS as u64, "{summary}");

    // The database holds exactly what the simulator holds.
    for kind in RecordKind::ALL {
        let held = held_by_simulator(&client, kind).await;
        assert_eq!(kept_in(&db, kind), held, "{kind}s differ");
    }
    assert_eq!(
        kept_in(&db, RecordKind::Customer).len() + kept_in(&db, RecordKind::Plan).len(),
        5_000
    );
}
