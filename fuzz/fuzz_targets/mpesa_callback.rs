//! Daraja callback bodies: `parse_callback` of every kind on any bytes.
//!
//! On success the callback is of the kind asked for, its dedup key is `<kind>:<non-empty id>`,
//! the accessors do not panic, and `to_json()` parses back to an equal callback with the same key
//! (the shape the simulator and the fixtures are written in) wherever serde_json itself reads
//! back what it prints (see `json_reads_back`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_mpesa::{parse_callback, Callback, CallbackKind};

const KINDS: [CallbackKind; 5] = [
    CallbackKind::Stk,
    CallbackKind::C2bValidation,
    CallbackKind::C2bConfirmation,
    CallbackKind::Result,
    CallbackKind::Timeout,
];

/// serde_json (without its `float_roundtrip` feature) may read a float with many digits one ulp
/// off, so a float it prints can read back as a neighbour: a serde_json limit, not ours. Equality
/// after the round trip is asserted only when the JSON itself reads back unchanged.
fn json_reads_back(json: &serde_json::Value, printed: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(printed).is_ok_and(|v| &v == json)
}

fuzz_target!(|data: &[u8]| {
    for kind in KINDS {
        let parsed = parse_callback(kind, data);
        let callback = match parsed {
            Ok(callback) => callback,
            Err(e) => {
                // Error messages are built from the input: build them too.
                let _ = (e.to_string(), e.is_syntax());
                continue;
            }
        };
        assert_eq!(callback.kind(), kind);

        let key = callback.dedup_key();
        let prefix = format!("{}:", kind.as_str());
        assert!(
            key.starts_with(&prefix),
            "dedup key {key:?} lacks the prefix {prefix:?}"
        );
        assert!(
            !key[prefix.len()..].trim().is_empty(),
            "dedup key {key:?} has an empty id"
        );
        assert!(!callback.kind_name().is_empty());

        let _ = (
            callback.result_code(),
            callback.is_success(),
            callback.acknowledgement(),
        );
        // What it claims: a success that passes as well-formed carries a receipt of the right
        // form; any other claim of payment is flagged.
        let outcome = callback.outcome();
        if outcome.defect.is_none()
            && outcome.claim == malipo_core::Claim::Settled(malipo_core::PaymentState::Succeeded)
        {
            let receipt = outcome.receipt.as_deref().unwrap_or_default();
            assert!(malipo_mpesa::is_receipt(receipt), "success with receipt {receipt:?}");
        }
        match &callback {
            Callback::Stk(cb) => {
                let _ = (
                    cb.is_paid(),
                    cb.amount(),
                    cb.receipt(),
                    cb.phone(),
                    cb.transaction_date(),
                );
            }
            Callback::C2bValidation(p) | Callback::C2bConfirmation(p) => {
                let _ = (p.amount(), p.phone());
            }
            Callback::Result(r) => {
                let _ = (r.kind(), r.amount(), r.receipt(), r.result_code_number());
            }
            Callback::Timeout(t) => {
                let _ = t.conversation_key();
            }
        }

        let json = callback.to_json();
        let bytes = serde_json::to_vec(&json).expect("a serde_json::Value always serialises");
        let again = match parse_callback(kind, &bytes) {
            Ok(again) => again,
            Err(e) => panic!("to_json() of an accepted {kind:?} callback does not parse back: {e}\n{json}"),
        };
        assert_eq!(again.dedup_key(), key);
        if json_reads_back(&json, &bytes) {
            assert_eq!(again, callback, "to_json() round trip changed the callback");
        }
    }
});
