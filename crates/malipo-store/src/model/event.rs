use std::fmt;
use std::net::IpAddr;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use malipo_core::{AccountName, EventId, EventStatus, PaymentId, Provider};

use super::Withheld;
use crate::StoreError;

/// An inbound delivery to store, already verified by the guard. Its `Debug` output withholds
/// the body.
#[derive(Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Who sent it.
    pub provider: Provider,
    /// The provider's event kind (`charge.success`, `stk_callback`, `c2b_confirmation`…).
    pub kind: String,
    /// The provider's identity of the event (Paystack: event + data.id; M-Pesa:
    /// CheckoutRequestID, TransID, ConversationID); unique per provider.
    pub dedup_key: String,
    /// The body exactly as received.
    pub raw_body: Bytes,
    /// The resolved client address.
    pub source_ip: Option<IpAddr>,
    /// [`EventStatus::Received`] normally (a processing job is queued with it);
    /// [`EventStatus::Failed`] for an authentic but unparseable body and
    /// [`EventStatus::RejectedAuthentic`] for an authentic but refused one (no job for either).
    pub status: EventStatus,
    /// Why it was stored as failed or rejected.
    pub last_error: Option<String>,
    /// The payment it is about, when the callback URL already says so (M-Pesa callback token).
    pub payment_id: Option<PaymentId>,
    /// The provider account whose route it came in on (a Paystack account's webhook path);
    /// `None` for a route not scoped to an account. Such an event moves only that account's
    /// payments.
    pub account: Option<AccountName>,
}

impl NewEvent {
    /// A received event with nothing else known yet; set the other fields as needed.
    pub fn received(
        provider: Provider,
        kind: impl Into<String>,
        dedup_key: impl Into<String>,
        raw_body: impl Into<Bytes>,
    ) -> Self {
        NewEvent {
            provider,
            kind: kind.into(),
            dedup_key: dedup_key.into(),
            raw_body: raw_body.into(),
            source_ip: None,
            status: EventStatus::Received,
            last_error: None,
            payment_id: None,
            account: None,
        }
    }
}

/// What [`EventStore::ingest`](crate::EventStore::ingest) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ingested {
    /// Stored for the first time under this id.
    New(EventId),
    /// The provider had already delivered this event; it is stored under this id.
    Duplicate(EventId),
}

impl Ingested {
    /// The stored event's id, new or not.
    pub fn id(self) -> EventId {
        match self {
            Ingested::New(id) | Ingested::Duplicate(id) => id,
        }
    }

    /// Whether this call stored it.
    pub fn is_new(self) -> bool {
        matches!(self, Ingested::New(_))
    }
}

/// A stored event without its body, for listings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventSummary {
    /// Its id.
    pub id: EventId,
    /// Who sent it.
    pub provider: Provider,
    /// The provider's event kind.
    pub kind: String,
    /// The provider's identity of the event.
    pub dedup_key: String,
    /// When it was stored.
    pub received_at: DateTime<Utc>,
    /// The resolved client address.
    pub source_ip: Option<IpAddr>,
    /// Where it stands.
    pub status: EventStatus,
    /// How many processing attempts finished (successfully or not).
    pub attempts: u32,
    /// The last processing error or the reason it was stored as failed.
    pub last_error: Option<String>,
    /// The payment it is about, once known.
    pub payment_id: Option<PaymentId>,
    /// Size of the stored body in bytes.
    pub body_len: u64,
    /// The provider account whose route it came in on, if the route names one.
    pub account: Option<AccountName>,
}

/// A stored event with its body. Its `Debug` output withholds the body.
#[derive(Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Everything but the body.
    pub summary: EventSummary,
    /// The body exactly as received.
    pub raw_body: Bytes,
}

impl fmt::Debug for NewEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEvent")
            .field("provider", &self.provider)
            .field("kind", &self.kind)
            .field("dedup_key", &self.dedup_key)
            .field("raw_body", &Withheld(self.raw_body.len()))
            .field("source_ip", &self.source_ip)
            .field("status", &self.status)
            .field("last_error", &self.last_error)
            .field("payment_id", &self.payment_id)
            .finish()
    }
}

impl fmt::Debug for EventRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRecord")
            .field("summary", &self.summary)
            .field("raw_body", &Withheld(self.raw_body.len()))
            .finish()
    }
}

impl std::ops::Deref for EventRecord {
    type Target = EventSummary;
    fn deref(&self) -> &EventSummary {
        &self.summary
    }
}

/// Which events [`EventStore::list_events`](crate::EventStore::list_events) returns, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this provider's.
    pub provider: Option<Provider>,
    /// Only in this status.
    pub status: Option<EventStatus>,
    /// Only received at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only older than this event (the last id of the previous page).
    pub before: Option<EventId>,
    /// At most this many (capped at [`EventFilter::MAX_LIMIT`]).
    pub limit: usize,
    /// Only about this payment.
    pub payment_id: Option<PaymentId>,
}

impl EventFilter {
    /// The largest page returned.
    pub const MAX_LIMIT: usize = 1_000;
}

impl Default for EventFilter {
    fn default() -> Self {
        EventFilter {
            provider: None,
            status: None,
            since: None,
            before: None,
            limit: 50,
            payment_id: None,
        }
    }
}

/// Refuses an event the dedup index would mishandle: with an empty key every keyless event
/// would count as a duplicate of the first and be acknowledged without being stored.
pub(crate) fn check(ev: &NewEvent) -> Result<(), StoreError> {
    if ev.dedup_key.trim().is_empty() {
        return Err(StoreError::Invalid(format!(
            "a {} {:?} event has an empty dedup key; expected the provider's event identity",
            ev.provider, ev.kind
        )));
    }
    Ok(())
}
