//! Paystack webhook bodies: `Event::from_slice` on any bytes.
//!
//! On success the event has a name, a non-empty dedup key that is the same on every call (the
//! store's unique index relies on it), and a key from the event's data carries a non-empty id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_paystack::Event;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = Event::from_slice(data) else {
        return;
    };
    let name = event.name();
    assert!(!name.is_empty(), "an accepted event has an empty name: {event:?}");

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
