//! Identifying a webhook without building the typed event: the hot path of ingestion.
//!
//! The gateway needs only the event's name and its dedup key before it stores the body and
//! answers; the typed parse ([`Event::from_slice`]) builds a JSON tree and every field, which the
//! worker does again from the stored body anyway. [`identify`] reads `event` and `data.id` with a
//! borrowed parse for the events whose identity is their numeric id, and falls back to the full
//! parse for everything else, so its answer is always the one [`Event::dedup_key_or_digest`]
//! gives.

use serde::Deserialize;

use crate::{Event, EventError};

/// What ingestion needs to know of a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    /// The `event` field.
    pub name: String,
    /// [`Event::dedup_key_or_digest`] of the body.
    pub dedup_key: String,
    /// Whether the name is one of [`Event::KNOWN`].
    pub known: bool,
}

/// Events whose identity is `data.id` when it is a number (their typed data reads `id` first).
const ID_FIRST: [&str; 12] = [
    "charge.success",
    "charge.dispute.create",
    "charge.dispute.remind",
    "charge.dispute.resolve",
    "transfer.success",
    "transfer.failed",
    "transfer.reversed",
    "subscription.create",
    "subscription.disable",
    "subscription.not_renew",
    "paymentrequest.pending",
    "paymentrequest.success",
];

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    event: &'a str,
    data: HeadData,
}

#[derive(Deserialize)]
struct HeadData {
    id: u64,
}

/// The name and dedup key of a webhook body; errors as [`Event::from_slice`] gives them.
///
/// A body that takes the fast path is only known to have a string `event` and a numeric
/// `data.id`: whether the rest of its `data` has Paystack's shape is for the typed parse to say
/// later (the worker stores the event as failed if not).
pub fn identify(body: &[u8]) -> Result<Identified, EventError> {
    if let Ok(head) = serde_json::from_slice::<Head>(body) {
        if ID_FIRST.contains(&head.event) {
            return Ok(Identified {
                name: head.event.to_string(),
                dedup_key: format!("{}:{}", head.event, head.data.id),
                known: true,
            });
        }
    }
    let event = Event::from_slice(body)?;
    Ok(Identified {
        name: event.name().to_string(),
        dedup_key: event.dedup_key_or_digest(body),
        known: !matches!(event, Event::Unknown { .. }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_names_are_known_events() {
        for name in &ID_FIRST {
            assert!(Event::KNOWN.contains(name), "{name}");
        }
    }

    #[test]
    fn a_string_id_or_a_missing_one_takes_the_full_path() {
        let body = br#"{"event":"charge.success","data":{"id":"302961","reference":"r"}}"#;
        let full = Event::from_slice(body).unwrap().dedup_key_or_digest(body);
        assert_eq!(identify(body).unwrap().dedup_key, full);
        let body = br#"{"event":"charge.success","data":{"reference":"r9"}}"#;
        assert_eq!(identify(body).unwrap().dedup_key, "charge.success:r9");
    }
}
