//! Refusing a connection pooler that moves a connection's statements between server sessions.
//!
//! malipo keeps state on its sessions: prepared statements, `LISTEN`, its settings, the
//! migration lock. A pooler in transaction or statement mode (PgBouncer's `pool_mode =
//! transaction`) hands a server session to another client between transactions, and malipo
//! then fails later and obscurely (`prepared statement "s1" already exists`, a wake-up that
//! never comes). Found at connect, it is one error that says what to change.

use std::time::Duration;

use tokio_postgres::{Client, SimpleQueryMessage};

use super::connect::{connect_one, Target};
use crate::error::{Context, Reason};
use crate::StoreError;

const OP: &str = "checking that each connection keeps its own server session";

/// How long the probe waits for a session that a transaction pooler would have lent out.
const PROBE_WAIT: Duration = Duration::from_secs(5);

/// A connection to `target`, once a probe found that each connection keeps its own server
/// session; fails when statements of one connection can run on different server sessions.
///
/// Two probe connections (the first is the one returned): `a` notes its server process; `b` opens a transaction and notes its
/// own; `a` asks again. On a server, or a pooler in session mode, each connection has a session
/// of its own and `a` is where it was. A transaction pooler lent `a`'s session out once its
/// statement ended, most likely to `b` (PgBouncer hands out the most recently used first):
/// `a` then lands on another session, or waits for `b`'s transaction to end.
pub(crate) async fn connect_keeping_sessions(target: &Target) -> Result<Client, StoreError> {
    let a = connect_one(target).await?;
    // A pooler with a single server connection in session mode gives `b` none while `a` holds
    // it, and would keep this probe (and malipo's pool) waiting for good.
    let bound = PROBE_WAIT * 2 + target.config.get_connect_timeout().copied().unwrap_or_default();
    match tokio::time::timeout(bound, probe(target, &a)).await {
        Ok(answer) => answer.map(|()| a),
        Err(_) => Err(StoreError::Unavailable(format!(
            "{}: a second connection got no server session within {} s; malipo needs several \
             at once (its pool, LISTEN): if a pooler is in front, let it open more server \
             connections (PgBouncer's default_pool_size)",
            target.described,
            bound.as_secs()
        ))),
    }
}

/// The probe itself, once `a` is connected.
async fn probe(target: &Target, a: &Client) -> Result<(), StoreError> {
    let first = backend_pid(a).await?;
    let b = &connect_one(target).await?;
    if let Err(e) = b.batch_execute("BEGIN").await {
        // PgBouncer in statement mode refuses any transaction block, and says so.
        if e.as_db_error()
            .is_some_and(|db| db.message().contains("pooling mode"))
        {
            return Err(lends_sessions(target));
        }
        return Err(e).during(OP);
    }
    let lent = backend_pid(b).await?;
    let again = tokio::time::timeout(PROBE_WAIT, backend_pid(a)).await;
    let _ = b.batch_execute("ROLLBACK").await;
    let moved = match again {
        Ok(Ok(now)) => now != first || lent == first,
        Ok(Err(e)) => return Err(e),
        Err(_) => true,
    };
    if moved {
        return Err(lends_sessions(target));
    }
    Ok(())
}

/// The refusal of a pooler that lends a connection's session to other clients.
fn lends_sessions(target: &Target) -> StoreError {
    StoreError::Database {
        op: OP,
        source: Reason::cause(format!(
            "{}: one connection's statements run on different server sessions, as behind a \
             connection pooler in transaction or statement mode (PgBouncer's pool_mode = \
             transaction); malipo keeps state on its sessions (prepared statements, LISTEN, \
             settings): set pool_mode = session, or connect to PostgreSQL directly",
            target.described
        )),
    }
}

/// The server process behind `client`'s session, asked without a prepared statement (which a
/// transaction pooler could not keep either).
async fn backend_pid(client: &Client) -> Result<i32, StoreError> {
    let answer = client.simple_query("SELECT pg_backend_pid()").await.during(OP)?;
    answer
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).and_then(|pid| pid.parse().ok()),
            _ => None,
        })
        .ok_or_else(|| StoreError::Database {
            op: OP,
            source: Reason::cause("no process id in the answer"),
        })
}
