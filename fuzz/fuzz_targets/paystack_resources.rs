//! What a verified Paystack webhook carries for the local records: `resources_in_event` on any
//! JSON.
//!
//! Never a panic; every copy has a non-blank id and is a JSON object; only events
//! `event_carries_resources` names carry any (the worker parses no others); a copy read back by
//! `ResourceCopy::read` of its own kind keeps its id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_paystack::{event_carries_resources, resources_in_event, ResourceCopy};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let copies = resources_in_event(&body);
    if !copies.is_empty() {
        assert!(event_carries_resources(body["event"].as_str().unwrap_or_default()));
    }
    for copy in copies {
        assert!(!copy.id.trim().is_empty(), "{copy:?}");
        let read = ResourceCopy::read(copy.kind, &serde_json::Value::Object(copy.data.clone()))
            .expect("a copy reads back as its kind");
        assert_eq!(read.id, copy.id);
    }
});
