//! Counts for metrics, read in one snapshot.
//!
//! As in the SQLite adapter: received events are the jobs queue (the inbox's invariant), failed,
//! rejected and suspicious ones come from the `events_attention` partial index, processed ones
//! are the rest of the total. The total is a `count(*)`, an index-only scan while the table is
//! vacuumed; a deployment with tens of millions of events may want an estimate instead.

use malipo_core::EventStatus;

use super::db::Db;
use super::rows::col;
use crate::{StoreError, StoreStats};

const OP: &str = "counting queues for metrics";

/// Reads every count in one statement, hence one snapshot: processed (a difference) is never off
/// by a commit landing between two counts.
pub(crate) async fn read(db: &Db<'_>, now: i64) -> Result<StoreStats, StoreError> {
    let row = db
        .one(
            "SELECT (SELECT count(*) FROM jobs), \
                    (SELECT count(*) FROM jobs WHERE run_at <= $1), \
                    (SELECT count(*) FROM events), \
                    (SELECT count(*) FROM payments WHERE state = 0), \
                    (SELECT count(*) FROM deliveries WHERE status = 0), \
                    (SELECT count(*) FROM deliveries WHERE status = 2), \
                    c.statuses, c.counts \
             FROM (SELECT coalesce(array_agg(status ORDER BY status), '{}') AS statuses, \
                          coalesce(array_agg(n ORDER BY status), '{}') AS counts \
                   FROM (SELECT status, count(*) AS n FROM events WHERE status >= 2 GROUP BY status) g) c",
            &[&now],
            OP,
        )
        .await?;
    let n =
        |i: usize| -> Result<u64, StoreError> { Ok(u64::try_from(col::<i64>(&row, i, OP)?).unwrap_or(0)) };
    let jobs_queued = n(0)?;
    let all = n(2)?;
    let statuses: Vec<i64> = col(&row, 6, OP)?;
    let counts: Vec<i64> = col(&row, 7, OP)?;
    let mut events: Vec<(EventStatus, u64)> = EventStatus::ALL.iter().map(|s| (*s, 0)).collect();
    let mut settled_otherwise = 0;
    for (code, count) in statuses.into_iter().zip(counts) {
        let count = u64::try_from(count).unwrap_or(0);
        if let Some(slot) = events.iter_mut().find(|(s, _)| s.code() == code) {
            slot.1 = count;
            settled_otherwise += count;
        }
    }
    for (status, count) in events.iter_mut() {
        match status {
            EventStatus::Received => *count = jobs_queued,
            EventStatus::Processed => *count = all.saturating_sub(jobs_queued + settled_otherwise),
            _ => {}
        }
    }
    Ok(StoreStats {
        jobs_queued,
        jobs_due: n(1)?,
        events,
        payments_pending: n(3)?,
        deliveries_pending: n(4)?,
        deliveries_dead: n(5)?,
    })
}
