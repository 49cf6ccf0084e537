//! A fresh PostgreSQL database per test, on the server `MALIPO_TEST_POSTGRES_URL` names
//! (`scripts/test` starts one; `scripts/postgres start DIR PORT` does by hand).
//!
//! Each test creates its own database (`CREATE DATABASE t_<random>`) and drops it when done, so
//! tests are independent and run in parallel. Without the variable a test prints why it skipped
//! and passes, except under `CI=true`, where a skipped PostgreSQL suite must not look green.

use std::sync::Arc;

use malipo_store::{PostgresOptions, PostgresStore, Store};

/// The variable naming the test server's database (any database; tests create their own).
pub const URL_VAR: &str = "MALIPO_TEST_POSTGRES_URL";

/// A database of its own on the test server, with a store connected to it; the database is
/// dropped with this value.
pub struct PgDb {
    /// The store connected to it, as the gateway holds it.
    pub store: Arc<dyn Store>,
    /// The same store, for adapter-specific calls.
    pub pg: PostgresStore,
    /// The database's URL.
    pub url: String,
    _db: TempDatabase,
}

/// An empty database of its own on the test server, dropped with this value.
pub struct TempDatabase {
    /// Its URL.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TempDatabase {
    /// A fresh empty database, or `None` when the PostgreSQL tests are skipped.
    pub async fn create() -> Option<TempDatabase> {
        let admin_url = server_url()?;
        let name = format!("t_{:016x}", rand::random::<u64>());
        admin(&admin_url)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        Some(TempDatabase {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }
}

/// The server's URL, or `None` (having said why) when the tests are to be skipped.
pub fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{URL_VAR} is not set under CI=true: the PostgreSQL adapter's tests must run (scripts/test starts a server)");
            }
            eprintln!(
                "skipped: set {URL_VAR} (e.g. postgres://postgres@127.0.0.1:55432/malipo_test; \
                 `scripts/postgres start DIR PORT` starts a server) to run the PostgreSQL tests"
            );
            None
        }
    }
}

/// The tests' store options: a smaller pool than production's, since many tests run at once on
/// one server.
pub fn options() -> PostgresOptions {
    PostgresOptions {
        pool_size: 8,
        ..PostgresOptions::default()
    }
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A plain connection to `url`.
pub async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server ({URL_VAR}): {e}"));
    tokio::spawn(connection);
    client
}

impl PgDb {
    /// A fresh, migrated database with a store connected to it, or `None` when skipped.
    pub async fn create() -> Option<PgDb> {
        Self::create_with(options()).await
    }

    /// Like [`PgDb::create`] with `options` for the store.
    pub async fn create_with(options: PostgresOptions) -> Option<PgDb> {
        let db = TempDatabase::create().await?;
        let pg = PostgresStore::connect(&db.url, options)
            .await
            .expect("connect the store");
        Some(PgDb {
            store: Arc::new(pg.clone()),
            pg,
            url: db.url.clone(),
            _db: db,
        })
    }

    /// Another store on the same database: a second instance of the gateway.
    pub async fn another_instance(&self) -> PostgresStore {
        PostgresStore::connect(&self.url, options())
            .await
            .expect("connect a second store")
    }

    /// A plain connection to this database, bypassing the store.
    pub async fn sql(&self) -> tokio_postgres::Client {
        admin(&self.url).await
    }

    /// Counts rows of a table, bypassing the store.
    pub async fn count(&self, table: &str) -> i64 {
        self.sql()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count rows")
            .get(0)
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        // Drop is not async, and the test's runtime may be single-threaded: a thread of its own
        // drops the database (FORCE ends the store's connections still open).
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                admin(&admin_url)
                    .await
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

#[test]
fn the_database_name_is_replaced_in_a_url() {
    assert_eq!(
        with_database("postgres://u@127.0.0.1:5/malipo_test?sslmode=disable", "t_1"),
        "postgres://u@127.0.0.1:5/t_1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h/m", "t_2"), "postgres://u@h/t_2");
}
