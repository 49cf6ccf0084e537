//! How the driver's and the pool's errors become [`StoreError`]s: a unique violation is a
//! [`StoreError::Conflict`], a server that cannot be reached, dropped the connection or did not
//! finish a statement within its timeout is [`StoreError::Unavailable`] (the gateway's 503), anything else a [`StoreError::Database`].

use std::error::Error as _;

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::error::Context;
use crate::StoreError;

impl<T> Context<T> for Result<T, tokio_postgres::Error> {
    fn during(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| from_pg(op, e))
    }
}

/// The store's error for a driver error met while doing `op`.
pub(crate) fn from_pg(op: &'static str, e: tokio_postgres::Error) -> StoreError {
    if is_unavailable(&e) {
        return StoreError::Unavailable(format!("{op}: {}", describe(&e)));
    }
    if let Some(db) = e.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict {
                what: format!(
                    "a value of the unique index {}",
                    db.constraint().unwrap_or("(unnamed)")
                ),
                holder: "another row".into(),
            };
        }
    }
    StoreError::database(op, e)
}

/// The driver's message with its cause (`db error: ERROR: …`, `error connecting to server: …`);
/// neither ever holds the connection's password.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Whether `e` says the server is out of reach rather than refusing this statement.
fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        // Class 08: connection exception; 57P01..03: the server is shutting down, crashed or
        // starting; 53300: too many connections; 57014: the statement was cancelled (its
        // `statement_timeout` ran out: the server is stuck, or a lock is held for too long);
        // 55P03: a lock was not granted within `lock_timeout`.
        return code.starts_with("08")
            || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "57014" | "55P03");
    }
    // The driver's kinds are private; its messages for I/O, connect, TLS and timeouts are not.
    let text = e.to_string();
    [
        "error communicating with the server",
        "error connecting to server",
        "error performing TLS handshake",
        "timeout waiting for server",
        "connection closed",
    ]
    .iter()
    .any(|prefix| text.starts_with(prefix))
}

/// Whether a store error means the database (or the store) is gone rather than the request
/// failing: running the request again at once, alone, would fail the same way.
pub(crate) fn is_gone(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(_) | StoreError::Closed)
}

/// Whether `e` is a unique violation (a taken id, key or reference).
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// The store's error for a connection the pool could not hand out.
pub(crate) fn from_pool(e: PoolError) -> StoreError {
    const OP: &str = "taking a connection from the pool";
    match e {
        PoolError::Backend(e) => match from_pg(OP, e) {
            StoreError::Database { source, .. } => StoreError::Unavailable(format!("{OP}: {source}")),
            other => other,
        },
        PoolError::Timeout(kind) => StoreError::Unavailable(format!(
            "no database connection within the timeout ({kind:?}): the server is unreachable or every connection is busy"
        )),
        PoolError::Closed => StoreError::Closed,
        other => StoreError::Unavailable(format!("{OP}: {other}")),
    }
}
