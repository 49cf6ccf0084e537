//! Every callback fixture parses into the expected values; every malformed one is an error.

use malipo_core::{Currency, Money};
use malipo_mpesa::{
    parse_callback, C2bRejection, C2bValidationResponse, Callback, CallbackError, CallbackKind, ResultKind,
    CALLBACK_ACK,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn parse(kind: CallbackKind, name: &str) -> Callback {
    parse_callback(kind, &fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn stk(name: &str) -> malipo_mpesa::StkCallback {
    match parse(CallbackKind::Stk, name) {
        Callback::Stk(cb) => cb,
        other => panic!("{name} parsed as {other:?}"),
    }
}

fn result(name: &str) -> malipo_mpesa::ResultCallback {
    match parse(CallbackKind::Result, name) {
        Callback::Result(r) => r,
        other => panic!("{name} parsed as {other:?}"),
    }
}

#[test]
fn stk_paid_has_metadata_with_float_amount_and_missing_balance() {
    let cb = stk("stk-callback-paid.json");
    assert!(cb.is_paid());
    assert_eq!(cb.result_code, 0);
    assert_eq!(cb.amount(), Some(Money::from_major(1, Currency::Kes).unwrap()));
    assert_eq!(cb.receipt().as_deref(), Some("NLJ7RT61SV"));
    assert_eq!(
        cb.phone().map(|p| p.as_str().to_string()).as_deref(),
        Some("254708374149")
    );
    assert_eq!(cb.phone().unwrap().masked(), "2547****4149");
    assert_eq!(cb.transaction_date().as_deref(), Some("20191219102115"));
    assert_eq!(cb.metadata("Balance"), None);
    let parsed = Callback::Stk(cb);
    assert_eq!(parsed.dedup_key(), "stk:ws_CO_191220191020363925");
    assert_eq!(parsed.kind_name(), "stk_callback");
    assert!(parsed.is_success());
    assert_eq!(parsed.acknowledgement().to_string(), CALLBACK_ACK);
}

#[test]
fn stk_paid_with_string_values() {
    let cb = stk("stk-callback-paid-string-values.json");
    assert_eq!(cb.amount(), Some(Money::from_major(150, Currency::Kes).unwrap()));
    assert_eq!(cb.receipt().as_deref(), Some("SGL7C4KF9X"));
    assert_eq!(cb.phone().unwrap().as_str(), "254722943992");
    assert_eq!(cb.transaction_date().as_deref(), Some("20240721125314"));
}

#[test]
fn stk_failures_keep_their_codes_and_have_no_metadata() {
    for (name, code) in [
        ("stk-callback-cancelled.json", 1032),
        ("stk-callback-insufficient.json", 1),
        ("stk-callback-timeout.json", 1037),
        ("stk-callback-unknown-code.json", 4999),
    ] {
        let cb = stk(name);
        assert_eq!(cb.result_code, code, "{name}");
        assert!(!cb.is_paid(), "{name}");
        assert!(cb.callback_metadata.is_none(), "{name}");
        assert_eq!(cb.amount(), None, "{name}");
        assert_eq!(cb.receipt(), None, "{name}");
    }
}

#[test]
fn c2b_confirmation_and_validation() {
    let Callback::C2bConfirmation(masked) = parse(CallbackKind::C2bConfirmation, "c2b-confirmation.json")
    else {
        panic!("not a confirmation")
    };
    assert_eq!(masked.trans_id, "RKTQDM7W6S");
    assert_eq!(
        masked.amount(),
        Some(Money::from_major(10, Currency::Kes).unwrap())
    );
    assert_eq!(masked.phone(), None, "v2 masks the MSISDN");

    let clear = parse(CallbackKind::C2bConfirmation, "c2b-confirmation-v1.json");
    assert_eq!(clear.dedup_key(), "c2b_confirmation:RKTQDM7W6S");
    assert_eq!(clear.kind_name(), "c2b_confirmation");
    let Callback::C2bConfirmation(p) = &clear else {
        panic!()
    };
    assert_eq!(p.amount(), Some(Money::from_major(1500, Currency::Kes).unwrap()));
    assert_eq!(p.phone().unwrap().as_str(), "254708374149");
    assert_eq!(p.bill_ref_number, "ACC-778");

    let validation = parse(CallbackKind::C2bValidation, "c2b-validation.json");
    assert_eq!(validation.dedup_key(), "c2b_validation:RKL51ZDR4F");
    assert_eq!(validation.kind_name(), "c2b_validation");
    assert_eq!(
        validation.acknowledgement(),
        serde_json::json!({"ResultCode": "0", "ResultDesc": "Accepted"})
    );
}

#[test]
fn validation_answers_have_dara_shapes() {
    assert_eq!(
        C2bValidationResponse::Reject(C2bRejection::InvalidMsisdn).to_json(),
        serde_json::json!({"ResultCode": "C2B00011", "ResultDesc": "Rejected"})
    );
    assert_eq!(
        C2bValidationResponse::Reject(C2bRejection::InvalidAccountNumber).to_json()["ResultCode"],
        "C2B00012"
    );
    assert_eq!(CALLBACK_ACK, r#"{"ResultCode":0,"ResultDesc":"Accepted"}"#);
}

#[test]
fn b2c_results_success_and_failure() {
    let ok = result("b2c-result-success.json");
    assert!(ok.is_success());
    assert_eq!(ok.kind(), ResultKind::B2c);
    assert_eq!(ok.amount(), Some(Money::from_major(10, Currency::Kes).unwrap()));
    assert_eq!(ok.receipt().as_deref(), Some("NLJ41HAY6Q"));
    assert_eq!(
        ok.parameter_text("B2CRecipientIsRegisteredCustomer").as_deref(),
        Some("Y")
    );
    // ReferenceItem as a single object.
    assert_eq!(
        ok.reference_data
            .as_ref()
            .unwrap()
            .reference_item
            .as_slice()
            .len(),
        1
    );
    let cb = Callback::Result(ok);
    assert_eq!(cb.dedup_key(), "result:AG_20191219_00004e48cf7e3533f581");
    assert_eq!(cb.kind_name(), "b2c_result");

    let failed = result("b2c-result-failed.json");
    assert_eq!(failed.result_code, "2001");
    assert!(!failed.is_success());
    assert!(failed.result_parameters.is_none());
    // ReferenceItem as a list; the kind is read from the echoed queue URL.
    assert_eq!(
        failed
            .reference_data
            .as_ref()
            .unwrap()
            .reference_item
            .as_slice()
            .len(),
        1
    );
    assert_eq!(failed.kind(), ResultKind::B2c);
}

#[test]
fn status_balance_reversal_and_b2b_results() {
    let status = result("transaction-status-result.json");
    assert_eq!(status.kind(), ResultKind::TransactionStatus);
    assert_eq!(
        status.parameter_text("TransactionStatus").as_deref(),
        Some("Completed")
    );
    assert_eq!(status.receipt().as_deref(), Some("MBN31H462N"));
    assert_eq!(
        status.amount(),
        Some(Money::from_major(300, Currency::Kes).unwrap())
    );
    assert_eq!(Callback::Result(status).kind_name(), "transaction_status_result");

    let balance = result("account-balance-result.json");
    assert_eq!(balance.kind(), ResultKind::AccountBalance);
    assert!(balance
        .parameter_text("AccountBalance")
        .unwrap()
        .starts_with("Working Account|KES|"));

    let reversal = result("reversal-result.json");
    assert_eq!(reversal.kind(), ResultKind::Reversal);
    assert_eq!(
        reversal.parameter_text("OriginalTransactionID").as_deref(),
        Some("MJ551H6X5D")
    );

    let reversal_failed = result("reversal-result-failed.json");
    assert_eq!(reversal_failed.result_code, "R000002");
    assert_eq!(reversal_failed.result_code_number(), None);
    assert!(!reversal_failed.is_success());
    assert_eq!(reversal_failed.kind(), ResultKind::Reversal);

    let b2b = result("b2b-result.json");
    assert_eq!(b2b.kind(), ResultKind::B2b);
    assert!(b2b.is_success(), "ResultCode \"0\" as a string is success");
    assert_eq!(b2b.result_type, Some(0));
    assert_eq!(b2b.amount(), Some(Money::from_major(190, Currency::Kes).unwrap()));
    assert_eq!(
        b2b.reference_data
            .as_ref()
            .unwrap()
            .reference_item
            .as_slice()
            .len(),
        2
    );
}

#[test]
fn queue_timeout() {
    let cb = parse(CallbackKind::Timeout, "queue-timeout.json");
    assert_eq!(cb.kind_name(), "queue_timeout");
    assert_eq!(cb.dedup_key(), "timeout:AG_20191219_00004e48cf7e3533f581");
    assert!(!cb.is_success());
    // A flat body is read too.
    let flat = br#"{"OriginatorConversationID":"abc-1","ResultDesc":"timed out"}"#;
    assert_eq!(
        parse_callback(CallbackKind::Timeout, flat).unwrap().dedup_key(),
        "timeout:abc-1"
    );
}

#[test]
fn dedup_keys_never_collide_across_kinds() {
    let body = fixture("b2c-result-success.json");
    let result = parse_callback(CallbackKind::Result, &body).unwrap();
    let timeout = parse_callback(CallbackKind::Timeout, &body).unwrap();
    assert_ne!(result.dedup_key(), timeout.dedup_key());
}

#[test]
fn malformed_fixtures_are_errors() {
    let cases = [
        (CallbackKind::Stk, "stk-missing-body.json"),
        (CallbackKind::Stk, "stk-wrong-type-checkout-id.json"),
        (CallbackKind::Stk, "stk-empty-checkout-id.json"),
        (CallbackKind::Stk, "stk-truncated.json"),
        (CallbackKind::Stk, "not-an-object.json"),
        (CallbackKind::C2bConfirmation, "c2b-missing-transid.json"),
        (CallbackKind::C2bValidation, "not-an-object.json"),
        (CallbackKind::Result, "result-missing-ids.json"),
        (CallbackKind::Result, "result-wrong-parameters.json"),
        (CallbackKind::Timeout, "result-missing-ids.json"),
        (CallbackKind::Timeout, "not-an-object.json"),
    ];
    for (kind, name) in cases {
        let err = parse_callback(kind, &fixture(&format!("malformed/{name}")))
            .expect_err(&format!("{name} must not parse as {kind:?}"));
        assert!(!err.to_string().is_empty());
    }
    let truncated = parse_callback(CallbackKind::Stk, &fixture("malformed/stk-truncated.json")).unwrap_err();
    assert!(truncated.is_syntax(), "{truncated}");
    let missing = parse_callback(CallbackKind::Stk, &fixture("malformed/stk-missing-body.json")).unwrap_err();
    assert!(missing.to_string().contains("Body"), "{missing}");
    // The error says where in the document the problem is, down to the field.
    let wrong_id = parse_callback(
        CallbackKind::Stk,
        &fixture("malformed/stk-wrong-type-checkout-id.json"),
    )
    .unwrap_err();
    assert!(
        matches!(&wrong_id, CallbackError::Malformed { path, .. } if path == "Body.stkCallback.CheckoutRequestID"),
        "{wrong_id}"
    );
    let bad_item = br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":0,
        "CallbackMetadata":{"Item":[{"Name":"Amount","Value":1},{"Value":2}]}}}}"#;
    let bad_item = parse_callback(CallbackKind::Stk, bad_item).unwrap_err();
    assert!(
        matches!(&bad_item, CallbackError::Malformed { path, .. }
            if path == "Body.stkCallback.CallbackMetadata.Item[1]"),
        "{bad_item}"
    );
    // A ResultCode that is not an integer is kept, not read: the callback parses, claims
    // nothing, and its outcome says why it cannot be trusted.
    let Callback::Stk(wrong) = parse_callback(
        CallbackKind::Stk,
        &fixture("malformed/stk-wrong-type-result-code.json"),
    )
    .unwrap() else {
        panic!("an STK callback")
    };
    assert_eq!(
        wrong.result_code,
        malipo_mpesa::ResultCode::Irregular("paid".into())
    );
    assert!(!wrong.is_paid());
    let defect = wrong.outcome().defect.unwrap();
    assert!(defect.contains("not a JSON integer"), "{defect}");
    assert!(matches!(
        parse_callback(
            CallbackKind::Stk,
            &fixture("malformed/stk-empty-checkout-id.json")
        ),
        Err(CallbackError::MissingId {
            field: "CheckoutRequestID",
            ..
        })
    ));
}

#[test]
fn a_fixture_of_one_kind_is_not_accepted_as_another() {
    assert!(parse_callback(CallbackKind::Stk, &fixture("b2c-result-success.json")).is_err());
    assert!(parse_callback(CallbackKind::Result, &fixture("stk-callback-paid.json")).is_err());
    assert!(parse_callback(CallbackKind::C2bConfirmation, &fixture("stk-callback-paid.json")).is_err());
}

#[test]
fn trailing_garbage_is_refused() {
    let mut body = fixture("stk-callback-paid.json");
    body.extend_from_slice(b" {}");
    assert!(parse_callback(CallbackKind::Stk, &body).is_err());
}

/// Regression: a confirmation of KES 0 recorded a succeeded payment and announced it.
#[test]
fn a_c2b_confirmation_of_nothing_is_a_defect_and_its_masked_payer_is_kept() {
    use malipo_core::Payer;

    let body = String::from_utf8(fixture("c2b-confirmation.json")).unwrap();
    let Callback::C2bConfirmation(paid) =
        parse_callback(CallbackKind::C2bConfirmation, body.as_bytes()).unwrap()
    else {
        panic!("not a confirmation")
    };
    let o = paid.outcome(true);
    assert_eq!(o.defect, None);
    assert_eq!(o.payer, Some(Payer::Masked("2547 ***** 126".into())));
    let zero = body.replace("\"TransAmount\":\"10\"", "\"TransAmount\":\"0\"");
    assert_ne!(zero, body, "the fixture's amount was replaced");
    let Callback::C2bConfirmation(nothing) =
        parse_callback(CallbackKind::C2bConfirmation, zero.as_bytes()).unwrap()
    else {
        panic!("not a confirmation")
    };
    assert!(nothing.outcome(true).defect.unwrap().contains("TransAmount 0"));
    // A validation request of nothing is only a question.
    assert_eq!(nothing.outcome(false).defect, None);
}
