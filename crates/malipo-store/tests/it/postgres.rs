//! PostgreSQL-specific behaviour: several instances on one database, a server that goes away
//! and comes back, migrations racing at start-up, wake-ups across instances, secrets in
//! messages. Each test has a database of its own (see `pg.rs`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use malipo_core::{Currency, EventStatus, Money, PaymentState, Provider};
use malipo_store::{
    Ingested, JobOutcome, NewEvent, NewPayment, PostgresOptions, PostgresStore, Store, StoreError,
    TransitionDetail, POSTGRES_SCHEMA_VERSION,
};
use tokio::sync::Notify;

use crate::paystack_event;
use crate::pg::{PgDb, TempDatabase};

const LEASE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_racing_ingests_of_one_key_from_four_instances_store_one_event() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    // Two instances with group commit, and two without it (a transaction per ingest, eight at
    // once, each on its own connection): the group commit settles duplicates within one batch,
    // the unique index between transactions.
    let alone = PostgresOptions {
        batch_max: 1,
        ingest_writers: 8,
        ..crate::pg::options()
    };
    let mut stores: Vec<Arc<dyn Store>> = vec![db.store.clone(), Arc::new(db.another_instance().await)];
    for _ in 0..2 {
        let store = PostgresStore::connect(&db.url, alone.clone()).await.unwrap();
        stores.push(Arc::new(store));
    }
    let tasks = (0..32).map(|i| {
        let store = stores[i % stores.len()].clone();
        tokio::spawn(async move { store.ingest(paystack_event("charge.success:race")).await })
    });
    let results: Vec<Ingested> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_new()).count(), 1, "{results:?}");
    let ids: HashSet<_> = results.iter().map(|r| r.id()).collect();
    assert_eq!(ids.len(), 1, "every caller learns the same id");
    assert_eq!(db.count("events").await, 1);
    assert_eq!(db.count("jobs").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingests_share_commits() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let before = db.pg.ingest_stats();
    let tasks = (0..200).map(|i| {
        let store = db.store.clone();
        tokio::spawn(async move { store.ingest(paystack_event(&format!("gc-{i}"))).await })
    });
    for r in join_all(tasks).await {
        assert!(r.unwrap().unwrap().is_new());
    }
    let after = db.pg.ingest_stats();
    let (commits, requests) = (after.commits - before.commits, after.requests - before.requests);
    assert_eq!(requests, 200);
    assert!(commits < requests, "{commits} commits for {requests} ingests");
    assert_eq!(db.count("events").await, 200);
    assert_eq!(db.count("jobs").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_claiming_at_once_never_claim_the_same_job() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let other: Arc<dyn Store> = Arc::new(db.another_instance().await);
    let total = 150;
    for i in 0..total {
        db.store
            .ingest(paystack_event(&format!("claim-{i}")))
            .await
            .unwrap();
    }
    let claimers = (0..6).map(|i| {
        let store = if i % 2 == 0 {
            db.store.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let jobs = store.claim_jobs(&format!("w{i}"), 7, LEASE).await.unwrap();
                if jobs.is_empty() {
                    return mine;
                }
                mine.extend(jobs.into_iter().map(|j| j.id));
            }
        })
    });
    let claimed: Vec<_> = join_all(claimers)
        .await
        .into_iter()
        .flat_map(|r| r.unwrap())
        .collect();
    let distinct: HashSet<_> = claimed.iter().collect();
    assert_eq!(distinct.len(), claimed.len(), "a job was claimed twice");
    assert_eq!(claimed.len(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_leased_by_an_instance_that_went_away_is_claimed_by_the_other_after_the_lease() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let id = db.store.ingest(paystack_event("orphan")).await.unwrap().id();
    let crashed = db.another_instance().await;
    let lease = Duration::from_millis(1_500);
    let taken = malipo_store::EventStore::claim_jobs(&crashed, "crashed", 10, lease)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    // The instance dies with the job leased: nothing completes or releases it.
    drop(crashed);
    assert!(
        db.store
            .claim_jobs("survivor", 10, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "leased to the crashed instance until the lease ends"
    );
    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    let again = db.store.claim_jobs("survivor", 10, LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].id, again[0].event.id, again[0].attempts),
        (taken[0].id, id, 2)
    );
    db.store
        .complete_job(again[0].id, JobOutcome::processed())
        .await
        .unwrap();
    let event = db.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(event.status, EventStatus::Processed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_refunds_from_two_instances_never_give_back_more_than_was_paid() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let other: Arc<dyn Store> = Arc::new(db.another_instance().await);
    let mut paid = NewPayment::pending(
        Provider::Paystack,
        "charge",
        Money::from_minor(10_000, Currency::Ngn),
    );
    paid.state = PaymentState::Succeeded;
    let parent = db.store.insert_payment(paid).await.unwrap();
    let refunds = (0..8).map(|i| {
        let store = if i % 2 == 0 {
            db.store.clone()
        } else {
            other.clone()
        };
        let refund = NewPayment {
            parent_id: Some(parent.id),
            ..NewPayment::pending(
                Provider::Paystack,
                "refund",
                Money::from_minor(6_000, Currency::Ngn),
            )
        };
        tokio::spawn(async move { store.insert_child_payment(refund).await })
    });
    let results: Vec<_> = join_all(refunds).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, StoreError::Invalid(_)), "{r}");
    }
    assert_eq!(db.store.child_payments(parent.id).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_migrate_once() {
    let Some(db) = TempDatabase::create().await else {
        return;
    };
    let starts = (0..4).map(|_| {
        let url = db.url.clone();
        tokio::spawn(async move { PostgresStore::connect(&url, PostgresOptions::default()).await })
    });
    let stores: Vec<PostgresStore> = join_all(starts)
        .await
        .into_iter()
        .map(|r| r.unwrap().expect("every instance starts"))
        .collect();
    for store in &stores {
        assert_eq!(store.schema_version().await.unwrap(), POSTGRES_SCHEMA_VERSION);
    }
    let sql = crate::pg::admin(&db.url).await;
    let rows = sql
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .await
        .unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        versions,
        (1..=i64::from(POSTGRES_SCHEMA_VERSION)).collect::<Vec<_>>()
    );
    // A store that may not migrate accepts the current schema.
    let checked = PostgresStore::connect(
        &db.url,
        PostgresOptions {
            migrate: false,
            ..PostgresOptions::default()
        },
    )
    .await;
    assert!(checked.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_may_not_migrate_refuses_an_old_schema() {
    let Some(db) = TempDatabase::create().await else {
        return;
    };
    let err = PostgresStore::connect(
        &db.url,
        PostgresOptions {
            migrate: false,
            ..PostgresOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("malipo migrate"), "{err}");
    assert_eq!(PostgresStore::schema_version_at(&db.url).await.unwrap(), 0);
    let report = PostgresStore::migrate(&db.url).await.unwrap();
    assert_eq!(report.applied.len(), POSTGRES_SCHEMA_VERSION as usize);
    assert_eq!(report.version, POSTGRES_SCHEMA_VERSION);
    assert!(PostgresStore::migrate(&db.url).await.unwrap().applied.is_empty());
    assert_eq!(
        PostgresStore::schema_version_at(&db.url).await.unwrap(),
        POSTGRES_SCHEMA_VERSION
    );
}

async fn notified(n: &Notify) -> bool {
    tokio::time::timeout(Duration::from_secs(10), n.notified())
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_queued_by_one_instance_wakes_the_others_listener() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let (jobs, deliveries) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let _listening = db.pg.listen_for_work(jobs.clone(), deliveries.clone());
    // Once listening, it wakes both: work queued while nobody listened is not missed.
    assert!(notified(&jobs).await && notified(&deliveries).await, "listening");

    let other = db.another_instance().await;
    let other: Arc<dyn Store> = Arc::new(other);
    other.ingest(paystack_event("wake")).await.unwrap();
    assert!(
        notified(&jobs).await,
        "an ingest on another instance wakes the worker"
    );

    let endpoint = malipo_store::NewEndpoint {
        name: "shop".into(),
        url: "https://shop.example/webhooks".into(),
        secret: malipo_core::Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        event_types: Vec::new(),
        enabled: true,
        allow_private: false,
    };
    other.upsert_endpoint(endpoint, LEASE).await.unwrap();
    let p = other
        .insert_payment(NewPayment::pending(
            Provider::Mpesa,
            "stk_push",
            Money::from_minor(100, Currency::Kes),
        ))
        .await
        .unwrap();
    other
        .transition_payment(p.id, PaymentState::Succeeded, TransitionDetail::default())
        .await
        .unwrap();
    assert!(
        notified(&deliveries).await,
        "a delivery queued on another instance wakes the sender"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_commits_what_is_queued_then_refuses_writes_while_reads_go_on() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let queued: Vec<_> = (0..20)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move { store.ingest(paystack_event(&format!("close-{i}"))).await })
        })
        .collect();
    // Let them reach the queue, then close while they may still be in it.
    tokio::task::yield_now().await;
    db.store.close().await.unwrap();
    let mut stored = 0;
    for r in join_all(queued).await {
        match r.unwrap() {
            Ok(ingested) => {
                assert!(db.store.get_event(ingested.id()).await.unwrap().is_some());
                stored += 1;
            }
            Err(e) => assert!(matches!(e, StoreError::Closed), "{e}"),
        }
    }
    assert_eq!(db.count("events").await, stored);
    assert!(matches!(
        db.store.ingest(paystack_event("late")).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        db.store.claim_jobs("w", 1, LEASE).await,
        Err(StoreError::Closed)
    ));
    assert!(db.store.stats().await.is_ok(), "reads keep working");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_transaction_rolls_back_announces_nothing() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let endpoint = malipo_store::NewEndpoint {
        name: "all".into(),
        url: "https://all.example/webhooks".into(),
        secret: malipo_core::Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        event_types: Vec::new(),
        enabled: true,
        allow_private: false,
    };
    db.store.upsert_endpoint(endpoint, LEASE).await.unwrap();
    let p = db
        .store
        .insert_payment(NewPayment::pending(
            Provider::Mpesa,
            "stk_push",
            Money::from_minor(100, Currency::Kes),
        ))
        .await
        .unwrap();
    // The delivery insert fails after the payment row moved, in the same transaction.
    let sql = db.sql().await;
    sql.batch_execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'disk full, say'; END $$; \
         CREATE TRIGGER fail_deliveries BEFORE INSERT ON deliveries \
         FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .await
    .unwrap();
    let err = db
        .store
        .transition_payment(p.id, PaymentState::Succeeded, TransitionDetail::default())
        .await;
    assert!(
        err.is_err(),
        "the change fails when its announcement cannot be written"
    );
    let stored = db.store.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Pending, "the change rolled back");
    assert_eq!(db.count("deliveries").await, 0, "nothing announced");
    sql.batch_execute("DROP TRIGGER fail_deliveries ON deliveries")
        .await
        .unwrap();
    db.store
        .transition_payment(p.id, PaymentState::Succeeded, TransitionDetail::default())
        .await
        .unwrap();
    assert_eq!(
        db.count("deliveries").await,
        1,
        "the committed change is announced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_is_refused_before_it_can_fail_a_batch() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let bad = NewEvent::received(Provider::Paystack, "charge.success", "k\0", &b"{}"[..]);
    let good = paystack_event("good");
    let (bad, good) = tokio::join!(db.store.ingest(bad), db.store.ingest(good));
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    assert!(good.unwrap().is_new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_never_reaches_debug_output_or_errors() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    // The test server trusts every connection, so any password is accepted.
    let with_password = db.url.replacen("://postgres@", "://postgres:hunter2@", 1);
    assert_ne!(with_password, db.url, "the test URL names the postgres user");
    let store = PostgresStore::connect(&with_password, PostgresOptions::default())
        .await
        .unwrap();
    let printed = format!("{store:?} {}", store.database());
    assert!(!printed.contains("hunter2"), "{printed}");
    // Nothing listens on port 1: the error names the server, not the password.
    let err = PostgresStore::connect(
        "postgres://postgres:hunter2@127.0.0.1:1/malipo",
        PostgresOptions {
            connect_timeout: Duration::from_secs(2),
            ..PostgresOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("127.0.0.1:1"), "{text}");
}

/// Ends every connection to this test's database, as a server restart does (without stopping
/// a server other tests share).
async fn drop_connections(db: &PgDb) {
    let sql = db.sql().await;
    sql.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
        &[],
    )
    .await
    .unwrap();
}

/// Waits until the backends [`drop_connections`] ended are gone, and a moment more for the
/// pool's connections to read the end of their sockets: what a pool sees after a restart.
async fn until_dropped(db: &PgDb) {
    let sql = db.sql().await;
    for _ in 0..500 {
        let left: i64 = sql
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_dropped_are_replaced_without_help() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    // Fill the pool with connections, then have the server end all of them.
    let warm = (0..8).map(|i| {
        let store = db.store.clone();
        tokio::spawn(async move { store.ingest(paystack_event(&format!("warm-{i}"))).await })
    });
    for r in join_all(warm).await {
        r.unwrap().unwrap();
    }
    drop_connections(&db).await;
    until_dropped(&db).await;
    // Every connection in the pool is dead: each is found so on checkout and replaced.
    for i in 0..8 {
        db.store
            .ingest(paystack_event(&format!("after-{i}")))
            .await
            .unwrap();
        assert!(db.store.stats().await.is_ok());
    }

    // Traffic while connections are ended under it: whatever fails says the database was
    // unavailable, whatever was acknowledged is stored, and the store recovers by itself.
    let writers = (0..4).map(|w| {
        let store = db.store.clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut failures = Vec::new();
            for i in 0..60 {
                match store.ingest(paystack_event(&format!("busy-{w}-{i}"))).await {
                    Ok(ingested) => acknowledged.push(ingested.id()),
                    Err(e) => failures.push(e),
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (acknowledged, failures)
        })
    });
    let killer = async {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop_connections(&db).await;
        }
    };
    let (results, ()) = tokio::join!(join_all(writers), killer);
    let mut acknowledged = Vec::new();
    for r in results {
        let (ok, failed) = r.unwrap();
        acknowledged.extend(ok);
        for e in failed {
            assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
        }
    }
    for id in &acknowledged {
        assert!(
            db.store.get_event(*id).await.unwrap().is_some(),
            "acknowledged, so stored"
        );
    }
    db.store.ingest(paystack_event("recovered")).await.unwrap();
    db.store.ping().await.unwrap();
}

/// A TCP relay to the test server whose connections can be made to go silent: no byte is
/// passed on and no socket is closed, as when a NAT or firewall forgets an idle connection.
/// Connections opened afterwards are relayed as usual.
struct SilencingRelay {
    url: String,
    /// One flag per connection opened so far.
    open: Arc<std::sync::Mutex<Vec<Arc<AtomicBool>>>>,
}

impl SilencingRelay {
    async fn start(url: &str) -> SilencingRelay {
        let config: tokio_postgres::Config = url.parse().unwrap();
        let tokio_postgres::config::Host::Tcp(host) = &config.get_hosts()[0] else {
            panic!("the test server is reached over TCP");
        };
        let server = format!("{host}:{}", config.get_ports()[0]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay_url = url.replacen(&server, &listener.local_addr().unwrap().to_string(), 1);
        assert_ne!(relay_url, url, "the URL names the server as {server}");
        let open = Arc::new(std::sync::Mutex::new(Vec::new()));
        let registry = Arc::clone(&open);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let silenced = Arc::new(AtomicBool::new(false));
                registry.lock().unwrap().push(Arc::clone(&silenced));
                let server = server.clone();
                tokio::spawn(async move {
                    let upstream = tokio::net::TcpStream::connect(&server).await.unwrap();
                    let (from_client, to_client) = client.into_split();
                    let (from_server, to_server) = upstream.into_split();
                    tokio::join!(
                        pass_until_silenced(from_client, to_server, &silenced),
                        pass_until_silenced(from_server, to_client, &silenced),
                    );
                });
            }
        });
        SilencingRelay { url: relay_url, open }
    }

    /// Silences every connection open now: from this call on, none of them passes a byte.
    fn silence_open_connections(&self) {
        for silenced in self.open.lock().unwrap().iter() {
            silenced.store(true, Ordering::SeqCst);
        }
    }
}

/// Passes what `from` reads to `to` until the connection is silenced, then holds both open and
/// passes nothing. The flag is read between each read and its write, so a silenced connection
/// passes nothing read after the silencing, however late this task gets to run: stopping only
/// when the task is next woken let a busy machine pass a whole query and its answer first.
async fn pass_until_silenced(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    silenced: &AtomicBool,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = vec![0; 16 * 1024];
    loop {
        let read = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if silenced.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..read]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_that_went_silent_is_replaced_at_checkout() {
    let Some(db) = TempDatabase::create().await else {
        return;
    };
    let relay = SilencingRelay::start(&db.url).await;
    let options = PostgresOptions {
        pool_size: 1,
        connect_timeout: Duration::from_secs(2),
        ..crate::pg::options()
    };
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&relay.url, options).await.unwrap());
    store.ingest(paystack_event("before")).await.unwrap();
    // Idle past the time after which a connection is checked with a round trip.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    relay.silence_open_connections();
    // Without the check the ingest would wait on the silent connection for as long as TCP
    // takes to give up on it (many minutes); with it, the check's timeout replaces it.
    let after = tokio::time::timeout(Duration::from_secs(15), store.ingest(paystack_event("after")))
        .await
        .expect("the silent connection was replaced, not waited on");
    assert!(after.unwrap().is_new());
}

/// A PostgreSQL server of this test's own, started and stopped with `scripts/postgres`.
struct OwnServer {
    dir: tempfile::TempDir,
    script: std::path::PathBuf,
    port: String,
}

impl OwnServer {
    fn script(args: &[&str], script: &std::path::Path) -> std::process::Output {
        std::process::Command::new("bash")
            .arg(script)
            .args(args)
            .output()
            .expect("run scripts/postgres")
    }

    /// Starts one on a free port; `None` when this machine has no server binaries.
    fn start() -> Option<(OwnServer, String)> {
        let have_server = std::fs::read_dir("/usr/lib/postgresql")
            .map(|dirs| dirs.flatten().any(|d| d.path().join("bin/pg_ctl").exists()))
            .unwrap_or(false);
        if !have_server {
            eprintln!("skipped: no PostgreSQL server binaries under /usr/lib/postgresql to restart");
            return None;
        }
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres");
        let dir = tempfile::tempdir().unwrap();
        // As root the server runs as `nobody`, who must reach the directory.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let cluster = dir.path().join("cluster");
        let out = Self::script(&["start", cluster.to_str().unwrap(), &port], &script);
        assert!(
            out.status.success(),
            "scripts/postgres start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        Some((OwnServer { dir, script, port }, url))
    }

    /// Runs `scripts/postgres COMMAND DIR ARGS…` on this server's cluster.
    fn run(&self, command_and_args: &[&str]) {
        let cluster = self.dir.path().join("cluster");
        let mut args = vec![command_and_args[0], cluster.to_str().unwrap()];
        args.extend(&command_and_args[1..]);
        let out = Self::script(&args, &self.script);
        assert!(
            out.status.success(),
            "scripts/postgres {command_and_args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let cluster = self.dir.path().join("cluster");
        let _ = Self::script(&["stop", cluster.to_str().unwrap()], &self.script);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_gives_unavailable_errors_and_the_store_recovers_once_it_is_back() {
    // Gated like every PostgreSQL test, though it runs a server of its own: stopping the shared
    // one would fail the tests running beside it.
    if crate::pg::server_url().is_none() {
        return;
    }
    let Some((server, url)) = OwnServer::start() else {
        return;
    };
    let options = PostgresOptions {
        connect_timeout: Duration::from_secs(2),
        ..PostgresOptions::default()
    };
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, options).await.unwrap());
    let before = store.ingest(paystack_event("before")).await.unwrap().id();

    server.run(&["stop"]);
    let down = store.ingest(paystack_event("while-down")).await.unwrap_err();
    assert!(matches!(down, StoreError::Unavailable(_)), "{down}");
    assert!(!down.is_client_error(), "the gateway answers 503");
    let read = store.get_event(before).await.unwrap_err();
    assert!(matches!(read, StoreError::Unavailable(_)), "{read}");
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));

    server.run(&["start", &server.port]);
    // Nobody reconnects by hand: the pool opens new connections once the server answers.
    let mut recovered = None;
    for _ in 0..50 {
        match store.ingest(paystack_event("after")).await {
            Ok(i) => {
                recovered = Some(i);
                break;
            }
            Err(e) => {
                assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    assert!(recovered.expect("the store recovers").is_new());
    assert!(
        store.get_event(before).await.unwrap().is_some(),
        "acknowledged before, still stored"
    );
    store.ping().await.unwrap();
}

/// Makes a CA and a server certificate for 127.0.0.1 signed by it, in `dir`; the server's key is
/// the server's to read (as root the server runs as `nobody`).
fn make_certificates(dir: &std::path::Path) {
    let script = r#"
set -euo pipefail
cd "$1"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=malipo test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
chmod 600 server.key
if [ "$(id -u)" -eq 0 ]; then chown nobody server.key server.pem; fi
"#;
    let out = std::process::Command::new("bash")
        .args(["-c", script, "certificates"])
        .arg(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "making test certificates: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_used_and_verified_when_the_url_asks_for_it() {
    if crate::pg::server_url().is_none() {
        return;
    }
    let Some((server, url)) = OwnServer::start() else {
        return;
    };
    let certs = server.dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&certs, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    make_certificates(&certs);
    let admin = crate::pg::admin(&url).await;
    // Each on its own: ALTER SYSTEM refuses to run inside a (multi-statement) transaction.
    for setting in [
        format!(
            "ALTER SYSTEM SET ssl_cert_file = '{}'",
            certs.join("server.pem").display()
        ),
        format!(
            "ALTER SYSTEM SET ssl_key_file = '{}'",
            certs.join("server.key").display()
        ),
        "ALTER SYSTEM SET ssl = on".to_owned(),
        "SELECT pg_reload_conf()".to_owned(),
    ] {
        admin.simple_query(&setting).await.unwrap();
    }
    // The reload is asynchronous: wait until new connections are offered TLS.
    for _ in 0..50 {
        let on: String = admin.query_one("SHOW ssl", &[]).await.unwrap().get(0);
        if on == "on" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ca = certs.join("ca.pem");
    let options = || PostgresOptions {
        connect_timeout: Duration::from_secs(5),
        ..PostgresOptions::default()
    };

    // With the CA: the handshake verifies the server's certificate for 127.0.0.1.
    let verified = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
    let store = PostgresStore::connect(&verified, options()).await.unwrap();
    assert!(store.database().ends_with("(TLS)"), "{}", store.database());
    let store: Arc<dyn Store> = Arc::new(store);
    assert!(store.ingest(paystack_event("over-tls")).await.unwrap().is_new());
    let rows = admin
        .query(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE s.ssl AND a.application_name = 'malipo'",
            &[],
        )
        .await
        .unwrap();
    assert!(rows[0].get::<_, i64>(0) > 0, "the store's connections use TLS");

    // Without it, `require` still verifies: a certificate from an unknown CA is refused.
    let unverified = format!("{url}?sslmode=require");
    let err = PostgresStore::connect(&unverified, options()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "the refusal says why: {err}"
    );

    // No sslmode: plain text, as before.
    assert!(PostgresStore::connect(&url, options()).await.is_ok());
}

/// Columns by table, primary keys and unique indexes (by their columns) of a SQLite database.
fn sqlite_schema(path: &std::path::Path) -> Schema {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut schema = Schema::default();
    for table in tables {
        let mut pk = Vec::new();
        let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})")).unwrap();
        let columns = stmt
            .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(5)?)))
            .unwrap();
        for column in columns {
            let (name, pk_position) = column.unwrap();
            if pk_position > 0 {
                pk.push((pk_position, name.clone()));
            }
            schema.columns.insert((table.clone(), name));
        }
        pk.sort();
        schema
            .primary_keys
            .insert((table.clone(), pk.into_iter().map(|(_, n)| n).collect()));
        let mut stmt = conn.prepare(&format!("PRAGMA index_list({table})")).unwrap();
        let indexes: Vec<(String, bool, String)> = stmt
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (index, unique, origin) in indexes {
            if !unique || origin == "pk" {
                continue;
            }
            let mut stmt = conn.prepare(&format!("PRAGMA index_info({index})")).unwrap();
            let cols: Vec<String> = stmt
                .query_map([], |r| r.get(2))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            schema.unique.insert((table.clone(), cols));
        }
    }
    schema
}

/// The same of the PostgreSQL database `sql` is connected to.
async fn postgres_schema(sql: &tokio_postgres::Client) -> Schema {
    let mut schema = Schema::default();
    for row in sql
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema()",
            &[],
        )
        .await
        .unwrap()
    {
        schema.columns.insert((row.get(0), row.get(1)));
    }
    for row in sql
        .query(
            "SELECT t.relname::text, i.indisprimary, \
                    array_agg(a.attname::text ORDER BY k.ord) \
             FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema() \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE i.indisunique GROUP BY i.indexrelid, t.relname, i.indisprimary",
            &[],
        )
        .await
        .unwrap()
    {
        let (table, primary, cols): (String, bool, Vec<String>) = (row.get(0), row.get(1), row.get(2));
        if primary {
            schema.primary_keys.insert((table, cols));
        } else {
            schema.unique.insert((table, cols));
        }
    }
    schema
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    columns: std::collections::BTreeSet<(String, String)>,
    primary_keys: std::collections::BTreeSet<(String, Vec<String>)>,
    unique: std::collections::BTreeSet<(String, Vec<String>)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgresql_schema_has_the_sqlite_schemas_tables_columns_and_unique_indexes() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let sqlite = crate::TestStore::open();
    let mut expected = sqlite_schema(&sqlite.path());
    // SQLite's rowid orders deliveries; PostgreSQL has no rowid, so the column is spelled out.
    expected.columns.insert(("deliveries".into(), "seq".into()));
    // A table without a declared primary key has none to compare.
    expected.primary_keys.retain(|(_, cols)| !cols.is_empty());
    assert!(
        expected.columns.len() > 80 && expected.unique.len() >= 5,
        "the SQLite schema was read: {expected:?}"
    );
    let found = postgres_schema(&db.sql().await).await;
    assert_eq!(found.columns, expected.columns);
    assert_eq!(found.primary_keys, expected.primary_keys);
    assert_eq!(found.unique, expected.unique);
    // The two unique indexes that keep one row per provider event and per provider reference.
    for index in [
        ("events", ["provider", "dedup_key"]),
        ("payments", ["provider", "provider_reference"]),
    ] {
        let wanted = (index.0.to_owned(), index.1.map(str::to_owned).to_vec());
        assert!(found.unique.contains(&wanted), "{wanted:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_upserting_one_endpoint_at_once_keep_one() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let other: Arc<dyn Store> = Arc::new(db.another_instance().await);
    let upserts = (0..8).map(|i| {
        let store = if i % 2 == 0 {
            db.store.clone()
        } else {
            other.clone()
        };
        let endpoint = malipo_store::NewEndpoint {
            name: "shop".into(),
            url: "https://shop.example/webhooks".into(),
            secret: malipo_core::Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
            event_types: Vec::new(),
            enabled: true,
            allow_private: false,
        };
        tokio::spawn(async move { store.upsert_endpoint(endpoint, LEASE).await })
    });
    let saved: Vec<_> = join_all(upserts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap().id)
        .collect();
    assert!(saved.iter().all(|id| *id == saved[0]), "{saved:?}");
    assert_eq!(db.store.list_endpoints().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_two_instances_moving_the_same_payments_in_opposite_orders_lose_nothing() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let other: Arc<dyn Store> = Arc::new(db.another_instance().await);
    for round in 0..3 {
        let mut payments = Vec::new();
        for _ in 0..2 {
            let p = NewPayment::pending(
                Provider::Paystack,
                "charge",
                Money::from_minor(500, Currency::Ngn),
            );
            payments.push(db.store.insert_payment(p).await.unwrap().id);
        }
        for i in 0..4 {
            db.store
                .ingest(paystack_event(&format!("cross-{round}-{i}")))
                .await
                .unwrap();
        }
        let jobs = db.store.claim_jobs("w", 4, LEASE).await.unwrap();
        assert_eq!(jobs.len(), 4);
        let succeed = |payment| {
            JobOutcome::apply(
                malipo_store::PaymentChange::Transition {
                    id: payment,
                    to: PaymentState::Succeeded,
                    detail: TransitionDetail::default(),
                },
                None,
            )
        };
        // Each batch locks one payment, then wants the one the other batch locked.
        let a = vec![
            (jobs[0].id, succeed(payments[0])),
            (jobs[1].id, succeed(payments[1])),
        ];
        let b = vec![
            (jobs[2].id, succeed(payments[1])),
            (jobs[3].id, succeed(payments[0])),
        ];
        let (done_a, done_b) =
            tokio::join!(db.store.complete_jobs(a.clone()), other.complete_jobs(b.clone()));
        let mut changed = 0;
        for ((job, outcome), done) in a
            .iter()
            .chain(&b)
            .zip(done_a.unwrap().into_iter().chain(done_b.unwrap()))
        {
            match done {
                Ok(c) => {
                    if matches!(c.payment, Some(malipo_store::PaymentEffect::Changed { .. })) {
                        changed += 1;
                    }
                }
                Err(e) => {
                    // Undone alone and still queued, leased to its worker: completing it again
                    // finds the payment already moved.
                    assert!(!e.is_client_error(), "{e}");
                    let again = db.store.complete_job(*job, outcome.clone()).await.unwrap();
                    assert!(matches!(
                        again.payment,
                        Some(malipo_store::PaymentEffect::Unchanged(_))
                    ));
                }
            }
        }
        assert_eq!(changed, 2, "each payment moved once");
        for p in &payments {
            let stored = db.store.get_payment(*p).await.unwrap().unwrap();
            assert_eq!(stored.state, PaymentState::Succeeded);
        }
    }
    assert_eq!(db.count("jobs").await, 0, "every job completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_that_fails_fails_alone_and_its_batch_mates_are_stored() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    // One key the database refuses, as a constraint or a full disk might.
    db.sql()
        .await
        .batch_execute(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.dedup_key = 'poison' THEN RAISE EXCEPTION 'refused'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER poison BEFORE INSERT ON events \
             FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
        )
        .await
        .unwrap();
    let before = db.pg.ingest_stats();
    let tasks = (0..40).map(|i| {
        let store = db.store.clone();
        let key = if i == 20 {
            "poison".to_owned()
        } else {
            format!("mate-{i}")
        };
        tokio::spawn(async move { (key.clone(), store.ingest(paystack_event(&key)).await) })
    });
    for r in join_all(tasks).await {
        let (key, result) = r.unwrap();
        match result {
            Ok(ingested) => assert!(ingested.is_new() && key != "poison", "{key}"),
            Err(e) => {
                assert_eq!(key, "poison", "only the refused key fails: {e}");
                assert!(matches!(e, StoreError::Database { .. }), "{e}");
            }
        }
    }
    let after = db.pg.ingest_stats();
    assert!(after.commits - before.commits < 40, "the ingests shared commits");
    assert_eq!(db.count("events").await, 39);
    assert_eq!(db.count("jobs").await, 39);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_by_itself_after_losing_its_connection() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let (jobs, deliveries) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let _listening = db.pg.listen_for_work(jobs.clone(), deliveries.clone());
    assert!(notified(&jobs).await && notified(&deliveries).await, "listening");
    drop_connections(&db).await;
    // Back again: it wakes both, for whatever was queued while it was away.
    assert!(notified(&jobs).await, "reconnected");
    let _ = tokio::time::timeout(Duration::from_secs(1), deliveries.notified()).await;
    db.store.ingest(paystack_event("after-reconnect")).await.unwrap();
    assert!(notified(&jobs).await, "notifications arrive again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_ingesting_and_working_at_once_process_every_event_exactly_once() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let instances: [Arc<dyn Store>; 2] = [db.store.clone(), Arc::new(db.another_instance().await)];
    let ingesting = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = instances[w % 2].clone();
            let ingesting = ingesting.clone();
            tokio::spawn(async move {
                let mut completed = 0;
                loop {
                    let jobs = store.claim_jobs(&format!("w{w}"), 16, LEASE).await.unwrap();
                    if jobs.is_empty() {
                        if !ingesting.load(Ordering::Acquire) {
                            return completed;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    let batch = jobs.iter().map(|j| (j.id, JobOutcome::processed())).collect();
                    for done in store.complete_jobs(batch).await.unwrap() {
                        done.unwrap();
                        completed += 1;
                    }
                }
            })
        })
        .collect();
    let ingests = (0..300).map(|i| {
        let store = instances[i % 2].clone();
        // Every event twice, once through each instance: the second is a duplicate.
        let twin = instances[(i + 1) % 2].clone();
        tokio::spawn(async move {
            let key = format!("flow-{i}");
            let (a, b) = tokio::join!(
                store.ingest(paystack_event(&key)),
                twin.ingest(paystack_event(&key))
            );
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_eq!(a.id(), b.id());
            assert!(a.is_new() != b.is_new(), "one new, one duplicate");
        })
    });
    for r in join_all(ingests).await {
        r.unwrap();
    }
    ingesting.store(false, Ordering::Release);
    let completed: usize = join_all(workers).await.into_iter().map(|r| r.unwrap()).sum();
    assert_eq!(completed, 300, "every job completed once");
    assert_eq!(db.count("jobs").await, 0);
    let stats = db.store.stats().await.unwrap();
    assert_eq!(stats.events_in(EventStatus::Processed), 300);
    let once = db
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM events WHERE status = 1 AND attempts = 1",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(once, 300, "each event processed exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_stuck_behind_a_lock_fails_as_unavailable_within_the_statement_timeout() {
    let options = PostgresOptions {
        statement_timeout: Some(Duration::from_millis(300)),
        ..crate::pg::options()
    };
    let Some(db) = PgDb::create_with(options).await else {
        return;
    };
    a_stuck_write_times_out(db.store.as_ref(), &db.url).await;
}

/// Moves a payment through `store` (whose statement timeout is well under 5 s) while another
/// session, on `url` directly, holds the payment's row and never lets go, as a stuck process
/// would: the move fails as unavailable within the timeout and moves nothing, and once the lock
/// is gone the same move goes through.
pub(crate) async fn a_stuck_write_times_out(store: &dyn Store, url: &str) {
    let payment = store
        .insert_payment(NewPayment::pending(
            Provider::Paystack,
            "charge",
            Money::from_minor(10_000, Currency::Ngn),
        ))
        .await
        .unwrap();
    let mut other = crate::pg::admin(url).await;
    let held = other.transaction().await.unwrap();
    held.execute(
        "SELECT 1 FROM payments WHERE id = $1 FOR UPDATE",
        &[&payment.id.to_string()],
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let err = store
        .transition_payment(payment.id, PaymentState::Succeeded, TransitionDetail::default())
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("statement timeout"), "{err}");
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    // Nothing moved, and once the lock is gone the same write goes through.
    held.rollback().await.unwrap();
    let got = store.get_payment(payment.id).await.unwrap().unwrap();
    assert_eq!(got.state, PaymentState::Pending);
    let moved = store
        .transition_payment(payment.id, PaymentState::Succeeded, TransitionDetail::default())
        .await
        .unwrap();
    assert_eq!(moved.payment.state, PaymentState::Succeeded);
}
