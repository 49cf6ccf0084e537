//! The leases on claimed work (jobs, deliveries) and their owners.

use rusqlite::{params, Connection};

use super::rows::{self, col};
use crate::error::Context;
use crate::StoreError;

/// Everyone holding a lease that has not run out, once each, in name order.
pub(crate) fn owners(conn: &Connection, now: i64) -> Result<Vec<String>, StoreError> {
    const OP: &str = "listing lease owners";
    let mut stmt = conn
        .prepare_cached(
            "SELECT lease_owner FROM jobs WHERE lease_owner IS NOT NULL AND run_at > ?1 \
             UNION SELECT lease_owner FROM deliveries \
             WHERE status = 0 AND lease_owner IS NOT NULL AND next_attempt_at > ?1 \
             ORDER BY 1",
        )
        .during(OP)?;
    rows::all(&mut stmt, params![now], OP, |r| col(r, 0, OP))
}

/// Makes everything `owner` holds due now; returns how many jobs and deliveries.
pub(crate) fn release(conn: &Connection, owner: &str, now: i64) -> Result<u64, StoreError> {
    const OP: &str = "releasing leases";
    let jobs = conn
        .prepare_cached(
            "UPDATE jobs SET run_at = ?2, lease_owner = NULL WHERE lease_owner = ?1 AND run_at > ?2",
        )
        .during(OP)?
        .execute(params![owner, now])
        .during(OP)?;
    let deliveries = conn
        .prepare_cached(
            "UPDATE deliveries SET next_attempt_at = ?2, lease_owner = NULL \
             WHERE lease_owner = ?1 AND status = 0 AND next_attempt_at > ?2",
        )
        .during(OP)?
        .execute(params![owner, now])
        .during(OP)?;
    Ok((jobs + deliveries) as u64)
}
