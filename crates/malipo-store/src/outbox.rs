//! What the delivery outbox announces, built once for both adapters: the versioned envelope
//! every delivery carries, the event type of a payment's change, the payment and
//! `event.suspicious` payloads, and which endpoints receive them. Each adapter's `outbox.rs`
//! writes the rows, in the transaction that made the change.

use malipo_core::{EventStatus, PaymentId, PaymentState};
use serde::Serialize;

use crate::convert as rows;
use crate::model::endpoint::EVENT_SUSPICIOUS;
use crate::{PaymentRecord, StoreError};

/// The payload's version: bumped when a field changes meaning or goes away (adding fields does
/// not bump it).
pub const PAYLOAD_VERSION: u32 = 1;

/// The body every delivery carries: tagged by `type`, versioned.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    event_type: &'a str,
    version: u32,
    /// When the change was committed (RFC 3339, UTC).
    timestamp: String,
    data: T,
}

/// The event type announcing that a payment of `kind` reached `state`, or `None` for a state
/// that is not announced (`pending`: nothing happened yet).
pub fn event_type(kind: &str, state: PaymentState) -> Option<String> {
    let family = match kind {
        "b2c" | "transfer" => "payout",
        "refund" | "reversal" => "refund",
        _ => "payment",
    };
    let name = match state {
        PaymentState::Pending => return None,
        PaymentState::Succeeded => "succeeded",
        PaymentState::Failed => "failed",
        PaymentState::Cancelled => "cancelled",
        PaymentState::Expired => "expired",
        PaymentState::PartiallyRefunded => "partially_refunded",
        PaymentState::Refunded => "refunded",
    };
    Some(format!("{family}.{name}"))
}

/// Whether `status` is the settlement's "suspicious" verdict.
pub(crate) fn is_suspicious(status: EventStatus) -> bool {
    status == EventStatus::Suspicious
}

/// What a payment's change announces: its event type, the payload and the endpoints to send it
/// to. Built here for both adapters, which write the rows in their own transaction.
pub(crate) struct Announcement {
    pub(crate) event_type: String,
    pub(crate) payload: Vec<u8>,
    pub(crate) targets: Vec<crate::EndpointId>,
}

/// The announcement of `payment` reaching `to`, for the `enabled` endpoints; `None` when the
/// state is not announced or no endpoint subscribes to its event type.
pub(crate) fn announce_payment(
    enabled: Vec<crate::EndpointRecord>,
    payment: &PaymentRecord,
    to: PaymentState,
    now: i64,
) -> Result<Option<Announcement>, StoreError> {
    let Some(event_type) = event_type(&payment.kind, to) else {
        return Ok(None);
    };
    let targets: Vec<_> = enabled
        .into_iter()
        .filter(|e| e.subscribes(&event_type))
        .map(|e| e.id)
        .collect();
    if targets.is_empty() {
        return Ok(None);
    }
    let payload = envelope(&event_type, now, &PaymentView::from(payment))?;
    Ok(Some(Announcement {
        event_type,
        payload,
        targets,
    }))
}

/// Whether a move from `previous` (`None`: just recorded) to `to` is announced at all: nothing
/// is for pending (every payment malipo starts), so that hot path pays nothing.
pub(crate) fn is_announced(previous: Option<PaymentState>, to: PaymentState) -> bool {
    previous != Some(to) && to != PaymentState::Pending
}

/// The `event.suspicious` payload for the event `event_id` (its `summary` if it is still
/// stored), naming `payment_id` and the settlement's `reason`.
pub(crate) fn suspicious_payload(
    event_id: malipo_core::EventId,
    summary: Option<&crate::EventSummary>,
    payment_id: Option<PaymentId>,
    reason: Option<String>,
    now: i64,
) -> Result<Vec<u8>, StoreError> {
    let data = SuspiciousView {
        event_id,
        provider: summary.map(|e| e.provider.as_str()),
        kind: summary.map(|e| e.kind.clone()),
        payment_id,
        reason,
    };
    envelope(EVENT_SUSPICIOUS, now, &data)
}

pub(crate) fn envelope<T: Serialize>(event_type: &str, now: i64, data: &T) -> Result<Vec<u8>, StoreError> {
    let timestamp =
        rows::from_ms(now, "the outbox's clock")?.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::to_vec(&Envelope {
        event_type,
        version: PAYLOAD_VERSION,
        timestamp,
        data,
    })
    .map_err(|e| StoreError::Invalid(format!("the delivery payload cannot be serialised: {e}")))
}

/// A payment as the merchant API shows it.
#[derive(Serialize)]
pub(crate) struct PaymentView<'a> {
    id: PaymentId,
    object: &'static str,
    state: PaymentState,
    provider: &'static str,
    kind: &'a str,
    amount: Amount,
    msisdn: Option<&'a str>,
    email: Option<&'a str>,
    merchant_reference: Option<&'a str>,
    provider_reference: Option<&'a str>,
    description: Option<&'a str>,
    receipt: Option<&'a str>,
    result_code: Option<&'a str>,
    result_desc: Option<&'a str>,
    metadata: Option<&'a serde_json::Value>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    /// The provider account it went through (`default`: the provider section's own).
    account: &'a str,
}

#[derive(Serialize)]
struct Amount {
    minor: u64,
    currency: &'static str,
    /// The decimal text (`150.50`), for display.
    decimal: String,
}

impl<'a> From<&'a PaymentRecord> for PaymentView<'a> {
    fn from(p: &'a PaymentRecord) -> Self {
        PaymentView {
            id: p.id,
            object: "payment",
            state: p.state,
            provider: p.provider.as_str(),
            kind: &p.kind,
            amount: Amount {
                minor: p.amount.minor(),
                currency: p.amount.currency().code(),
                decimal: p.amount.decimal(),
            },
            msisdn: p.msisdn.as_ref().map(|m| m.as_str()),
            email: p.email.as_deref(),
            merchant_reference: p.merchant_reference.as_deref(),
            provider_reference: p.provider_reference.as_deref(),
            description: p.description.as_deref(),
            receipt: p.receipt.as_deref(),
            result_code: p.result_code.as_deref(),
            result_desc: p.result_desc.as_deref(),
            metadata: p.metadata.as_ref(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            account: p.account.as_str(),
        }
    }
}

/// What `event.suspicious` tells: which event, about which payment, and why.
#[derive(Serialize)]
pub(crate) struct SuspiciousView {
    pub(crate) event_id: malipo_core::EventId,
    pub(crate) provider: Option<&'static str>,
    pub(crate) kind: Option<String>,
    pub(crate) payment_id: Option<PaymentId>,
    pub(crate) reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_follow_the_kind_and_state() {
        assert_eq!(
            event_type("stk_push", PaymentState::Succeeded).as_deref(),
            Some("payment.succeeded")
        );
        assert_eq!(
            event_type("b2c", PaymentState::Failed).as_deref(),
            Some("payout.failed")
        );
        assert_eq!(
            event_type("transfer", PaymentState::Succeeded).as_deref(),
            Some("payout.succeeded")
        );
        assert_eq!(
            event_type("refund", PaymentState::Refunded).as_deref(),
            Some("refund.refunded")
        );
        assert_eq!(
            event_type("charge", PaymentState::PartiallyRefunded).as_deref(),
            Some("payment.partially_refunded")
        );
        assert_eq!(event_type("charge", PaymentState::Pending), None);
    }
}
