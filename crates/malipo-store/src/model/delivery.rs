use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use malipo_core::{DeliveryId, EventId, PaymentId};

use super::endpoint::EndpointId;
use super::Withheld;

/// Where an outbound delivery to the merchant stands. Stored as a small integer
/// ([`DeliveryStatus::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or being attempted under a lease).
    Pending,
    /// The merchant answered 2xx.
    Delivered,
    /// Retries ran out; kept for inspection and manual redelivery.
    DeadLetter,
}

impl DeliveryStatus {
    /// Every status, in code order.
    pub const ALL: [DeliveryStatus; 3] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::DeadLetter,
    ];

    /// The small integer stored in the database.
    pub const fn code(self) -> i64 {
        match self {
            DeliveryStatus::Pending => 0,
            DeliveryStatus::Delivered => 1,
            DeliveryStatus::DeadLetter => 2,
        }
    }

    /// The status for a stored code.
    pub fn from_code(code: i64) -> Option<Self> {
        DeliveryStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::DeadLetter => "dead_letter",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s || (s == "dead-letter" && *st == DeliveryStatus::DeadLetter))
            .ok_or_else(|| {
                format!("unknown delivery status {s:?}: expected pending, delivered or dead_letter")
            })
    }
}

/// A notification to deliver to the merchant's app. Its `Debug` output withholds the payload.
#[derive(Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The merchant-facing event type (`payment.succeeded`…).
    pub event_type: String,
    /// The exact body to send (signed at send time).
    pub payload: Bytes,
    /// The payment it is about.
    pub payment_id: Option<PaymentId>,
    /// The provider event that caused it.
    pub event_id: Option<EventId>,
    /// The first attempt is due then (`None`: now).
    pub first_attempt_at: Option<DateTime<Utc>>,
}

impl NewDelivery {
    /// The endpoints its rows are addressed to, given the `subscribers` to its type: one row
    /// each, or with none one row addressed to no endpoint, kept for the record and never sent.
    pub(crate) fn recipients(subscribers: Vec<EndpointId>) -> Vec<Option<EndpointId>> {
        if subscribers.is_empty() {
            return vec![None];
        }
        subscribers.into_iter().map(Some).collect()
    }
}

/// A stored delivery. Its `Debug` output withholds the payload.
#[derive(Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Its id; also the `webhook-id` the merchant deduplicates on, stable across retries.
    pub id: DeliveryId,
    /// The merchant-facing event type.
    pub event_type: String,
    /// The body to send.
    pub payload: Bytes,
    /// The payment it is about.
    pub payment_id: Option<PaymentId>,
    /// The provider event that caused it.
    pub event_id: Option<EventId>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far (claims, including a current one).
    pub attempts: u32,
    /// When the next attempt is due (while pending; under a lease, when the lease ends).
    pub next_attempt_at: DateTime<Utc>,
    /// The merchant's last HTTP status, if it answered.
    pub last_status: Option<u16>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The merchant endpoint it goes to (`None`: queued when no endpoint took it; never sent).
    pub endpoint_id: Option<EndpointId>,
}

impl fmt::Debug for NewDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewDelivery")
            .field("event_type", &self.event_type)
            .field("payload", &Withheld(self.payload.len()))
            .field("payment_id", &self.payment_id)
            .field("event_id", &self.event_id)
            .field("first_attempt_at", &self.first_attempt_at)
            .finish()
    }
}

impl fmt::Debug for DeliveryRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryRecord")
            .field("id", &self.id)
            .field("event_type", &self.event_type)
            .field("payload", &Withheld(self.payload.len()))
            .field("payment_id", &self.payment_id)
            .field("event_id", &self.event_id)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("last_status", &self.last_status)
            .field("last_error", &self.last_error)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("endpoint_id", &self.endpoint_id)
            .finish()
    }
}

/// Which deliveries [`DeliveryStore::list_deliveries`](crate::DeliveryStore::list_deliveries) returns, newest
/// first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only in this status.
    pub status: Option<DeliveryStatus>,
    /// Only about this payment.
    pub payment_id: Option<PaymentId>,
    /// Only older than this delivery (the last id of the previous page).
    pub before: Option<DeliveryId>,
    /// At most this many (capped at 1,000).
    pub limit: usize,
    /// Only to this endpoint.
    pub endpoint_id: Option<EndpointId>,
}

impl Default for DeliveryFilter {
    fn default() -> Self {
        DeliveryFilter {
            status: None,
            payment_id: None,
            before: None,
            limit: 50,
            endpoint_id: None,
        }
    }
}
