//! Paystack webhook bodies: `Event::from_slice` and the ingestion fast path `identify` on any
//! bytes.
//!
//! On success the event has a name, a non-empty dedup key that is the same on every call (the
//! store's unique index relies on it), and a key from the event's data carries a non-blank id.
//! `identify` gives the typed parse's name, key and known-ness, or its error; it may accept a body
//! whose `data` the typed parse refuses only on its fast path (known event, numeric `data.id`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_paystack::{identify, Event};

fuzz_target!(|data: &[u8]| {
    let parsed = Event::from_slice(data);
    match (identify(data), &parsed) {
        (Ok(id), Ok(event)) => {
            assert_eq!(id.name, event.name());
            assert_eq!(
                id.dedup_key,
                event.dedup_key_or_digest(data),
                "identify disagrees"
            );
            assert_eq!(id.known, !matches!(event, Event::Unknown { .. }));
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (Ok(id), Err(e)) => {
            let fast_path_key = id
                .dedup_key
                .strip_prefix(&format!("{}:", id.name))
                .is_some_and(|i| i.parse::<u64>().is_ok());
            assert!(
                id.known && Event::KNOWN.contains(&id.name.as_str()) && fast_path_key,
                "identify accepted {id:?} where the typed parse says: {e}"
            );
        }
        (Err(e), Ok(_)) => panic!("identify refused what the typed parse accepts: {e}"),
    }

    let Ok(event) = parsed else {
        return;
    };
    let name = event.name();
    assert!(!name.is_empty(), "an accepted event has an empty name: {event:?}");
    // What it claims, as the gateway decides on it: never panics, and is about Paystack.
    assert_eq!(event.outcome().provider, malipo_core::Provider::Paystack);

    let key = event.dedup_key_or_digest(data);
    assert!(!key.is_empty());
    assert_eq!(key, event.dedup_key_or_digest(data), "dedup key is not stable");
    assert!(
        key.starts_with(&format!("{name}:")),
        "dedup key {key:?} does not start with the event name"
    );

    if let Some(key) = event.dedup_key() {
        let identity = &key[name.len() + 1..];
        assert!(
            !identity.trim().is_empty(),
            "dedup key {key:?} has an empty id: two different events would be stored as one"
        );
    }

    // The accessors read untrusted data too.
    let _ = (
        event.reference(),
        event.amount(),
        event.status(),
        event.customer_email(),
    );
    let _ = (event.as_charge(), event.as_transfer(), event.as_refund());
    let _ = format!("{event:?}");
    // Parsing is deterministic.
    let again = Event::from_slice(data).expect("the same bytes parsed once");
    assert_eq!(again, event);
});
