//! Property tests: no input makes the callback parser panic, and typed callbacks round-trip
//! through Daraja's JSON shape.

use malipo_mpesa::{
    parse_callback, Callback, CallbackKind, CallbackMetadata, KeyValue, MetadataItem, OneOrMany,
    ResultCallback, ResultCode, ResultParameters, StkCallback,
};
use proptest::prelude::*;

const KINDS: [CallbackKind; 5] = [
    CallbackKind::Stk,
    CallbackKind::C2bValidation,
    CallbackKind::C2bConfirmation,
    CallbackKind::Result,
    CallbackKind::Timeout,
];

fn fixtures() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            out.push(std::fs::read(path).unwrap());
        }
    }
    out
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        (0u32..1_000_000, 0u32..100)
            .prop_map(|(w, c)| serde_json::json!(f64::from(w) + f64::from(c) / 100.0)),
        "[A-Za-z0-9 ._-]{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[A-Za-z]{1,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn stk_callback() -> impl Strategy<Value = StkCallback> {
    let item = (
        "[A-Za-z]{1,12}",
        proptest::option::of(prop_oneof![
            "[A-Z0-9]{10}".prop_map(serde_json::Value::String),
            any::<u32>().prop_map(|n| serde_json::json!(n)),
        ]),
    )
        .prop_map(|(name, value)| MetadataItem { name, value });
    (
        "[0-9-]{1,20}",
        "ws_CO_[0-9]{1,24}",
        any::<i64>(),
        "[A-Za-z .]{0,40}",
        proptest::option::of(prop::collection::vec(item, 0..6)),
    )
        .prop_map(|(m, c, code, desc, items)| StkCallback {
            merchant_request_id: m,
            checkout_request_id: c,
            result_code: ResultCode::Integer(code),
            result_desc: desc,
            callback_metadata: items.map(|v| CallbackMetadata { item: OneOrMany(v) }),
        })
}

fn result_callback() -> impl Strategy<Value = ResultCallback> {
    let kv = ("[A-Za-z]{1,12}", proptest::option::of("[A-Za-z0-9|.]{0,20}")).prop_map(|(key, v)| KeyValue {
        key,
        value: v.map(serde_json::Value::String),
    });
    (
        proptest::option::of(0i64..3),
        prop_oneof!["-?[0-9]{1,5}", "R[0-9]{6}"],
        "[A-Za-z .]{0,30}",
        proptest::option::of("[0-9a-f-]{1,20}"),
        "AG_[0-9]{8}_[0-9a-f]{20}",
        proptest::option::of("[A-Z0-9]{10}"),
        proptest::option::of(prop::collection::vec(kv, 0..5)),
    )
        .prop_map(|(t, code, desc, orig, conv, txn, params)| ResultCallback {
            result_type: t,
            result_code: code,
            result_desc: desc,
            originator_conversation_id: orig,
            conversation_id: Some(conv),
            transaction_id: txn,
            result_parameters: params.map(|p| ResultParameters {
                result_parameter: OneOrMany(p),
            }),
            reference_data: None,
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for kind in KINDS {
            let _ = parse_callback(kind, &bytes);
        }
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        for kind in KINDS {
            if let Ok(cb) = parse_callback(kind, &bytes) {
                // Whatever parsed has a usable key and name.
                prop_assert!(cb.dedup_key().starts_with(kind.as_str()));
                prop_assert!(!cb.kind_name().is_empty());
            }
        }
    }

    #[test]
    fn truncated_and_mutated_fixtures_never_panic(cut in 0usize..2000, flip in 0usize..2000, byte in any::<u8>()) {
        for body in fixtures() {
            let mut mutated = body.clone();
            if !mutated.is_empty() {
                let i = flip % mutated.len();
                mutated[i] = byte;
            }
            let truncated = &body[..cut.min(body.len())];
            for kind in KINDS {
                let _ = parse_callback(kind, &mutated);
                let _ = parse_callback(kind, truncated);
            }
        }
    }

    #[test]
    fn stk_callbacks_round_trip(cb in stk_callback()) {
        let original = Callback::Stk(cb);
        let bytes = serde_json::to_vec(&original.to_json()).unwrap();
        let parsed = parse_callback(CallbackKind::Stk, &bytes).unwrap();
        prop_assert_eq!(parsed, original);
    }

    #[test]
    fn result_callbacks_round_trip(r in result_callback()) {
        let original = Callback::Result(r);
        let bytes = serde_json::to_vec(&original.to_json()).unwrap();
        let parsed = parse_callback(CallbackKind::Result, &bytes).unwrap();
        prop_assert_eq!(parsed, original);
    }
}
