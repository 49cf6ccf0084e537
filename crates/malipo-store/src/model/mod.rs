//! The values that cross the storage port.

pub(crate) mod api_key;
pub(crate) mod delivery;
pub(crate) mod endpoint;
pub(crate) mod event;
pub(crate) mod idempotency;
pub(crate) mod job;
pub(crate) mod payment;
pub(crate) mod record;

use std::fmt;

use malipo_core::EventStatus;

/// Stands in for a body in `Debug` output: bodies carry customer data (phone numbers, emails,
/// Paystack authorization codes) that must not reach a log line.
pub(crate) struct Withheld(pub(crate) usize);

impl fmt::Debug for Withheld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes withheld>", self.0)
    }
}

/// Counts for `/metrics` and the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    /// Jobs waiting or running (the processing queue depth).
    pub jobs_queued: u64,
    /// Jobs whose time has come and that no worker holds.
    pub jobs_due: u64,
    /// Events by status, in [`EventStatus::ALL`] order.
    pub events: Vec<(EventStatus, u64)>,
    /// Payments waiting for the provider's answer.
    pub payments_pending: u64,
    /// Deliveries waiting for an attempt.
    pub deliveries_pending: u64,
    /// Deliveries that ran out of retries.
    pub deliveries_dead: u64,
    /// The SQLite writer's group commits since the store opened (`requests / commits` is the
    /// mean group size); `None` for the other stores.
    pub group_commits: Option<crate::WriterStats>,
}

impl StoreStats {
    /// Events in `status`.
    pub fn events_in(&self, status: EventStatus) -> u64 {
        self.events
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }
}

/// A schema migration this build knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MigrationInfo {
    /// Its number; applied in order.
    pub version: u32,
    /// Its name.
    pub name: &'static str,
}

/// What [`SqliteStore::migrate`](crate::SqliteStore::migrate) did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationReport {
    /// The migrations applied now, in order (empty when the schema was up to date).
    pub applied: Vec<MigrationInfo>,
    /// The schema version after the run.
    pub version: u32,
}
