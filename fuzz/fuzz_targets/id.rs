//! Typed ids from URL paths, the CLI and stored rows: `Id<K>::from_str` of every kind on any UTF-8.
//!
//! On success the printed id is the input (prefix exact, body in either case) and parses back to
//! the same id; an input parses as at most one kind; serde reads what it writes.
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use malipo_core::kinds::{Delivery, Event, Job, Payment};
use malipo_core::{Id, IdKind};

fn check<K: IdKind>(text: &str) -> bool {
    let Ok(id) = Id::<K>::from_str(text) else {
        return false;
    };
    let printed = id.to_string();
    assert!(printed.starts_with(K::PREFIX) && text.starts_with(K::PREFIX));
    assert!(
        printed.eq_ignore_ascii_case(text),
        "{text:?} printed as {printed:?}"
    );
    assert_eq!(printed.len(), K::PREFIX.len() + 27);
    assert_eq!(Id::<K>::from_str(&printed), Ok(id));
    assert_eq!(format!("{id:?}"), printed);
    let _ = id.timestamp_millis();
    // Serde uses the printed form, and reads it back.
    let json = format!("\"{printed}\"");
    assert_eq!(serde_json::from_str::<Id<K>>(&json).ok(), Some(id));
    true
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let accepted = [
        check::<Event>(text),
        check::<Payment>(text),
        check::<Delivery>(text),
        check::<Job>(text),
    ];
    assert!(
        accepted.iter().filter(|a| **a).count() <= 1,
        "{text:?} is an id of two kinds"
    );
});
