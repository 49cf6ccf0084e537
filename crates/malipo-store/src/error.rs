use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::Arc;

use malipo_core::{PaymentId, TransitionError};

/// The cause of a [`StoreError`], shared so one failed commit can be reported to every caller of
/// its batch.
pub type Cause = Arc<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong in the store.
///
/// The message says what failed; the underlying driver error is kept as the [`source`]
/// (`std::error::Error::source`) and not repeated in the message, so printing the chain
/// (`{:#}` with anyhow) shows each cause once: `the database at /var/lib/malipo.db is not
/// writable: attempt to write a readonly database`.
///
/// [`source`]: std::error::Error::source
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the database at {}", path.display())]
    Open {
        /// The file asked for.
        path: PathBuf,
        /// The driver's error.
        #[source]
        source: Cause,
    },
    /// The database opened but refuses writes (permissions, read-only file system, full disk).
    #[error("the database at {} is not writable", path.display())]
    NotWritable {
        /// The file asked for.
        path: PathBuf,
        /// The driver's error.
        #[source]
        source: Cause,
    },
    /// A schema migration failed; the database is left at the previous version.
    #[error("migration {version} ({name}) failed")]
    Migration {
        /// The migration's number.
        version: u32,
        /// The migration's name.
        name: &'static str,
        /// The driver's error.
        #[source]
        source: Cause,
    },
    /// The database was migrated by a newer malipo than this one.
    #[error(
        "the database schema is at version {found}, newer than this build of malipo knows \
         (up to {known}): upgrade malipo or point it at another database"
    )]
    SchemaTooNew {
        /// The version recorded in the database.
        found: u32,
        /// The newest version this build knows.
        known: u32,
    },
    /// A query or statement failed.
    #[error("database error while {op}")]
    Database {
        /// What the store was doing, such as "storing an event".
        op: &'static str,
        /// The driver's error.
        #[source]
        source: Cause,
    },
    /// The row asked for does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of row: "event", "job", "payment", "delivery".
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The payment state machine refused the move.
    #[error("payment {id} refused the state change")]
    IllegalTransition {
        /// The payment.
        id: PaymentId,
        /// The refused move.
        #[source]
        source: TransitionError,
    },
    /// A unique value is already taken (such as a provider reference used by another payment).
    #[error("{what} is already used by {holder}")]
    Conflict {
        /// What is taken, such as `provider reference "ws_CO_1"`.
        what: String,
        /// The id of the row holding it.
        holder: String,
    },
    /// A stored value could not be decoded (a row written by a newer or broken writer).
    #[error("stored {what} is invalid: {detail}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// What was found.
        detail: String,
    },
    /// The caller asked for something the store cannot do.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The database file was deleted or replaced while it was open: writes would go into a file
    /// no later start would read, so none is taken.
    #[error("the database file at {} was deleted or replaced while malipo ran; nothing more is stored (restore it and restart)", path.display())]
    Replaced {
        /// The database's path.
        path: PathBuf,
    },
    /// The writer thread has stopped (the store is shutting down or its thread failed).
    #[error("the database writer has stopped; no more writes are accepted")]
    Closed,
    /// A blocking database task panicked or was cancelled.
    #[error("a database task did not finish: {0}")]
    Task(String),
    /// The database server cannot be reached or dropped the connection (PostgreSQL restarting,
    /// the network down, the pool exhausted past its wait timeout): nothing of the request is
    /// known to be stored, and it may succeed if retried. The gateway answers it with a 503.
    /// The message never holds the connection URL's password.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// A [`StoreError::Database`] for `op` caused by `source`.
    pub fn database(op: &'static str, source: impl StdError + Send + Sync + 'static) -> Self {
        StoreError::Database {
            op,
            source: Arc::new(source),
        }
    }

    /// Whether the error is about this request (not found, refused, conflict, invalid) rather
    /// than the database being unavailable; the gateway maps the former to 4xx, the latter to
    /// 503.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound { .. }
                | StoreError::IllegalTransition { .. }
                | StoreError::Conflict { .. }
                | StoreError::Invalid(_)
        )
    }
}

impl StoreError {
    /// Whether the storage itself failed (disk full, I/O error, the file made read-only or
    /// unopenable), as opposed to a refused or invalid request: such a failure makes the store
    /// not ready until a write succeeds again.
    pub(crate) fn is_storage_failure(&self) -> bool {
        use rusqlite::ErrorCode::*;
        let code = match self {
            StoreError::Database { source, .. } | StoreError::NotWritable { source, .. } => source
                .downcast_ref::<rusqlite::Error>()
                .and_then(rusqlite::Error::sqlite_error_code),
            _ => None,
        };
        matches!(
            code,
            Some(DiskFull | SystemIoFailure | ReadOnly | CannotOpen | DatabaseCorrupt | NotADatabase)
        )
    }
}

/// A cause that is a plain explanation, not a driver error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Reason(pub(crate) String);

impl Reason {
    pub(crate) fn cause(text: impl Into<String>) -> Cause {
        Arc::new(Reason(text.into()))
    }
}

/// Adds the operation name to a driver error.
pub(crate) trait Context<T> {
    fn during(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn during(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::database(op, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_cause_and_says_what_failed() {
        let err = StoreError::NotWritable {
            path: PathBuf::from("/var/lib/malipo.db"),
            source: Arc::new(rusqlite::Error::InvalidQuery),
        };
        assert_eq!(
            err.to_string(),
            "the database at /var/lib/malipo.db is not writable"
        );
        assert!(err.source().is_some());
        assert!(!err.is_client_error());
        let err = StoreError::NotFound {
            what: "event",
            id: "evt_1".into(),
        };
        assert!(err.is_client_error());
    }
}
