//! The PostgreSQL adapter behind PgBouncer in session mode, the pooler most deployments of
//! several instances put in front of their server: a real `pgbouncer` process between the store
//! and the test server (Debian's package; `scripts/test` installs it).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use malipo_store::{PostgresOptions, PostgresStore, Store, StoreError};
use tokio::sync::Notify;

use crate::paystack_event;
use crate::pg::TempDatabase;

/// A PgBouncer of this test's own forwarding every database to the test
/// server; killed with this value.
struct Bouncer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// The `pgbouncer` program: on PATH, or where Debian puts it (`/usr/sbin`, often not on a
/// user's PATH).
fn program() -> Option<std::path::PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("pgbouncer"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([std::path::PathBuf::from("/usr/sbin/pgbouncer")])
        .find(|p| p.is_file())
}

impl Bouncer {
    /// Starts one in `pool_mode` (`session`, `transaction`, `statement`), with `pool_size`
    /// server connections per database, in front of the test server; `None` (having said why)
    /// when there is no test server or this machine has no PgBouncer, which under `CI=true`
    /// fails instead.
    fn start(pool_mode: &str, pool_size: u32) -> Option<Bouncer> {
        let server_url = crate::pg::server_url()?;
        let Some(program) = program() else {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "pgbouncer is not installed under CI=true (scripts/test installs Debian's package)"
            );
            eprintln!("skipped: no pgbouncer program (Debian's pgbouncer package) on this machine");
            return None;
        };
        let server: tokio_postgres::Config = server_url.parse().expect("the test server's URL");
        let host = match server.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let server_port = server.get_ports().first().copied().unwrap_or(5432);
        let user = server.get_user().unwrap_or("postgres").to_owned();
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let users = dir.path().join("users.txt");
        std::fs::write(&users, format!("\"{user}\" \"\"\n")).unwrap();
        let log = dir.path().join("pgbouncer.log");
        std::fs::write(&log, "").unwrap();
        let ini = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={host} port={server_port}\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {}\npool_mode = {pool_mode}\n\
                 max_client_conn = 200\ndefault_pool_size = {pool_size}\nlogfile = {}\n",
                users.display(),
                log.display()
            ),
        )
        .unwrap();
        let mut command = Command::new(program);
        // PgBouncer refuses to run as root; as root it switches to `nobody`, who must read its
        // files and write its log.
        #[cfg(unix)]
        if is_root() {
            use std::os::unix::fs::PermissionsExt as _;
            for (path, mode) in [(dir.path(), 0o755), (&users, 0o644), (&ini, 0o644), (&log, 0o666)] {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            command.args(["-u", "nobody"]);
        }
        let child = command
            // Its log goes to its file only: the test database's drop ends its server connections,
            // which it reports at length.
            .arg("-q")
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer");
        let bouncer = Bouncer {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("pgbouncer did not listen on {port} within 10 s; its log:\n{said}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(bouncer)
    }

    /// `url` (a database on the test server) through this PgBouncer.
    fn url_of(&self, url: &str) -> String {
        let config: tokio_postgres::Config = url.parse().unwrap();
        let db = config.get_dbname().expect("a database name");
        let user = config.get_user().unwrap_or("postgres");
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.port)
    }
}

/// Whether this process runs as root (the owner of its own `/proc` entry).
#[cfg(unix)]
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_pgbouncer_in_session_mode_the_store_works_and_keeps_its_statement_timeout() {
    let Some(bouncer) = Bouncer::start("session", 50) else {
        return;
    };
    let db = TempDatabase::create().await.expect("a test database");
    let options = PostgresOptions {
        statement_timeout: Some(Duration::from_millis(300)),
        ..crate::pg::options()
    };
    // Connecting migrates, over the pooler: a store that sent its settings in the startup
    // packet was refused here ("unsupported startup parameter: options").
    let pg = PostgresStore::connect(&bouncer.url_of(&db.url), options)
        .await
        .expect("connect through PgBouncer");
    let store: Arc<dyn Store> = Arc::new(pg.clone());

    // The inbound path and the worker's claim, and the wake-up of LISTEN/NOTIFY.
    let (jobs, deliveries) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let _listening = pg.listen_for_work(jobs.clone(), deliveries);
    tokio::time::timeout(Duration::from_secs(10), jobs.notified())
        .await
        .expect("listening");
    assert!(store.ingest(paystack_event("bounced")).await.unwrap().is_new());
    tokio::time::timeout(Duration::from_secs(10), jobs.notified())
        .await
        .expect("the ingest's notification came through the pooler");
    let claimed = store
        .claim_jobs("worker-bouncer", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);

    // The statement timeout reached the server's session.
    crate::postgres::a_stuck_write_times_out(store.as_ref(), &db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_pgbouncer_in_transaction_mode_the_store_refuses_to_start_and_says_why() {
    refused_in("transaction").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_pgbouncer_in_statement_mode_the_store_refuses_to_start_and_says_why() {
    refused_in("statement").await;
}

/// `connect`, `migrate` and `schema_version_at` through a PgBouncer in `pool_mode` are refused
/// with an error that says to use session mode, and nothing is migrated.
async fn refused_in(pool_mode: &str) {
    let Some(bouncer) = Bouncer::start(pool_mode, 50) else {
        return;
    };
    let db = TempDatabase::create().await.expect("a test database");
    let url = bouncer.url_of(&db.url);
    let refused = [
        PostgresStore::connect(&url, crate::pg::options()).await.err(),
        PostgresStore::migrate(&url).await.err(),
        PostgresStore::schema_version_at(&url).await.err(),
    ];
    for err in refused {
        let err = err.expect("refused");
        let text = format!("{err}: {}", std::error::Error::source(&err).expect("a cause"));
        assert!(matches!(err, StoreError::Database { .. }), "{text}");
        assert!(!err.is_client_error(), "{text}");
        assert!(
            text.contains("pool_mode = session"),
            "says what to change: {text}"
        );
        assert!(
            text.contains(&format!(":{}/", bouncer.port)),
            "names the database: {text}"
        );
    }
    // Nothing was written: the refusal came before the migrations.
    let direct = crate::pg::admin(&db.url).await;
    let tables: i64 = direct
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooler_with_one_server_connection_is_reported_not_waited_on() {
    let Some(bouncer) = Bouncer::start("session", 1) else {
        return;
    };
    let db = TempDatabase::create().await.expect("a test database");
    // Without a bound the second connection would wait for a session forever.
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        PostgresStore::schema_version_at(&bouncer.url_of(&db.url)),
    )
    .await
    .expect("answered, not left waiting")
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Unavailable(_)), "{text}");
    // Twice the probe's 5 s wait plus the default connect timeout (5 s).
    assert!(text.contains("got no server session within 15 s"), "{text}");
    assert!(text.contains("default_pool_size"), "says what to change: {text}");
}
