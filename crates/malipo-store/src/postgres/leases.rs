//! The leases on claimed work (jobs, deliveries) and their owners.

use super::db::Db;
use super::rows::col;
use crate::StoreError;

/// Everyone holding a lease that has not run out, once each, in name order.
pub(crate) async fn owners(db: &Db<'_>, now: i64) -> Result<Vec<String>, StoreError> {
    const OP: &str = "listing lease owners";
    db.query(
        "SELECT lease_owner FROM jobs WHERE lease_owner IS NOT NULL AND run_at > $1 \
         UNION SELECT lease_owner FROM deliveries \
         WHERE status = 0 AND lease_owner IS NOT NULL AND next_attempt_at > $1 \
         ORDER BY 1",
        &[&now],
        OP,
    )
    .await?
    .iter()
    .map(|r| col::<String>(r, 0, OP))
    .collect()
}

/// Makes everything `owner` holds due now; returns how many jobs and deliveries.
pub(crate) async fn release(db: &Db<'_>, owner: &str, now: i64) -> Result<u64, StoreError> {
    const OP: &str = "releasing leases";
    let jobs = db
        .execute(
            "UPDATE jobs SET run_at = $2, lease_owner = NULL WHERE lease_owner = $1 AND run_at > $2",
            &[&owner, &now],
            OP,
        )
        .await?;
    let deliveries = db
        .execute(
            "UPDATE deliveries SET next_attempt_at = $2, lease_owner = NULL \
             WHERE lease_owner = $1 AND status = 0 AND next_attempt_at > $2",
            &[&owner, &now],
            OP,
        )
        .await?;
    Ok(jobs + deliveries)
}
