//! `NOTIFY` for the group commit's jobs, sent after the commit from a task of its own.
//!
//! PostgreSQL serializes the commits of transactions that sent `NOTIFY`: each takes a
//! database-wide lock on the notification queue and holds it through its WAL flush. With a
//! `NOTIFY` inside every group commit, the ingest writers' commits waited on each other
//! instead of sharing a flush. The group commit therefore only notes that it queued jobs, and
//! this task sends one `NOTIFY` for everything noted while its previous one ran.
//!
//! The notification now follows the commit instead of coming with it, which a worker cannot
//! tell apart: it never sees a notification before the job is visible. If the instance dies
//! between the two, other instances' workers find the job at their next poll.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::Notify;

use super::db::Wake;

#[derive(Default)]
struct Shared {
    pending: Wake,
    bell: Notify,
    closed: AtomicBool,
}

/// The group commit's handle; dropping the last one stops the task.
pub(crate) struct Notifier {
    shared: Arc<Shared>,
}

impl Notifier {
    /// Starts the task, which sends its notifications on connections of `pool`.
    pub(crate) fn start(pool: Pool) -> Self {
        let shared = Arc::new(Shared::default());
        tokio::spawn(run(pool, Arc::clone(&shared)));
        Notifier { shared }
    }

    /// Notes what a committed transaction queued (its `wake`); never waits.
    pub(crate) fn committed(&self, wake: &Wake) {
        if wake.take_into(&self.shared.pending) {
            self.shared.bell.notify_one();
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.bell.notify_one();
    }
}

async fn run(pool: Pool, shared: Arc<Shared>) {
    loop {
        shared.bell.notified().await;
        if let Some(sql) = shared.pending.take_sql() {
            announce(&pool, sql).await;
        }
        // What the last writers noted before they went was sent just above.
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
    }
}

async fn announce(pool: &Pool, sql: &str) {
    let sent = match pool.get().await {
        Ok(client) => client.batch_execute(sql).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        // The workers still find the jobs at their next poll.
        tracing::warn!(error = %e, "could not announce queued jobs to other instances");
    }
}
