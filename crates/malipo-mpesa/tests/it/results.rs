//! What a result callback claims, decided on bodies shaped like Daraja's: a status query settles
//! only when the query itself succeeded, a success needs a well-formed receipt, and a result
//! without parameters is told apart by the queue URL Daraja echoes.

use malipo_core::{Claim, PaymentState};
use malipo_mpesa::{parse_callback, Callback, CallbackKind, ResultCallback, ResultKind};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn result(body: &Value) -> ResultCallback {
    match parse_callback(CallbackKind::Result, &serde_json::to_vec(body).unwrap()).unwrap() {
        Callback::Result(r) => r,
        other => panic!("{other:?}"),
    }
}

/// The fixture `name` with `edit` applied to its JSON, parsed.
fn result_edited(name: &str, edit: impl FnOnce(&mut Value)) -> ResultCallback {
    let mut body = fixture(name);
    edit(&mut body);
    result(&body)
}

/// Sets the value of the result parameter `key` (which the body must have).
fn set_parameter(body: &mut Value, key: &str, value: &str) {
    let params = body["Result"]["ResultParameters"]["ResultParameter"]
        .as_array_mut()
        .unwrap();
    let param = params.iter_mut().find(|p| p["Key"] == key).unwrap();
    param["Value"] = value.into();
}

/// The transaction status fixture with its query's `ResultCode` and `TransactionStatus` set.
fn status_result(code: Value, status: &str) -> ResultCallback {
    result_edited("transaction-status-result.json", |body| {
        body["Result"]["ResultCode"] = code;
        set_parameter(body, "TransactionStatus", status);
    })
}

#[test]
fn a_status_query_settles_only_when_the_query_itself_succeeded() {
    let completed = status_result(json!(0), "Completed").outcome();
    assert_eq!(completed.claim, Claim::Settled(PaymentState::Succeeded));
    assert_eq!(completed.receipt.as_deref(), Some("MBN31H462N"));
    assert!(completed.by_receipt);
    assert_eq!(
        status_result(json!(0), "Failed").outcome().claim,
        Claim::Settled(PaymentState::Failed)
    );
    // A query that failed says nothing about the transaction, whatever status it carries.
    for status in ["Completed", "Failed", "Cancelled"] {
        let o = status_result(json!(1), status).outcome();
        assert!(matches!(o.claim, Claim::Notice(_)), "{status}: {:?}", o.claim);
    }
    assert!(matches!(
        status_result(json!(0), "Pending").outcome().claim,
        Claim::Notice(Some(ref n)) if n.contains("Pending")
    ));
}

#[test]
fn only_a_success_must_carry_a_well_formed_receipt() {
    let o = result_edited("b2c-result-success.json", |body| {
        set_parameter(
            body,
            "TransactionReceipt",
            "not-a-receipt-but-a-very-long-hostile-value-0123456789",
        )
    })
    .outcome();
    let defect = o.defect.expect("a malformed receipt on a success is a defect");
    assert!(defect.contains("TransactionReceipt"), "{defect}");
    // The value is clipped to 40 characters in the reason.
    assert!(
        defect.contains("not-a-receipt-but-a-very-long-hostile-v"),
        "{defect}"
    );
    assert!(!defect.contains("value-0123456789"), "{defect}");

    // A failure names no receipt, and needs none.
    let failed = result(&fixture("b2c-result-failed.json")).outcome();
    assert_eq!(failed.claim, Claim::Settled(PaymentState::Failed));
    assert_eq!(failed.defect, None);
}

#[test]
fn the_receipt_falls_back_to_a_non_empty_transaction_id() {
    let mut body = fixture("b2c-result-failed.json");
    assert_eq!(result(&body).receipt().as_deref(), Some("NLJ0000000"));
    body["Result"]["TransactionID"] = "".into();
    assert_eq!(result(&body).receipt(), None);
}

/// A result whose parameters name its operation, each by one key alone.
#[test]
fn a_result_is_told_by_any_one_of_its_parameters() {
    let cases = [
        ("ReceiptNo", ResultKind::TransactionStatus),
        ("TransactionStatus", ResultKind::TransactionStatus),
        ("B2CRecipientIsRegisteredCustomer", ResultKind::B2c),
        ("TransactionReceipt", ResultKind::B2c),
        ("InitiatorAccountCurrentBalance", ResultKind::B2b),
        ("DebitPartyAffectedAccountBalance", ResultKind::B2b),
        ("OriginalTransactionID", ResultKind::Reversal),
        ("AccountBalance", ResultKind::AccountBalance),
    ];
    for (key, kind) in cases {
        let found = result_edited("b2c-result-failed.json", |body| {
            body["Result"]["ReferenceData"] = Value::Null;
            body["Result"]["ResultParameters"] = json!({"ResultParameter": [{"Key": key, "Value": "X"}]});
        });
        assert_eq!(found.kind(), kind, "{key}");
    }
}

/// A failed result carries no parameters: the queue URL it echoes names the operation.
#[test]
fn a_result_without_parameters_is_told_by_its_queue_url() {
    let cases = [
        ("https://example.test/mpesa/b2cresults/v1/submit", ResultKind::B2c),
        ("https://example.test/callbacks/b2c/timeout", ResultKind::B2c),
        ("https://example.test/mpesa/b2bresults/v1/submit", ResultKind::B2b),
        ("https://example.test/callbacks/b2b/timeout", ResultKind::B2b),
        (
            "https://example.test/mpesa/reversal/v1/submit",
            ResultKind::Reversal,
        ),
        (
            "https://example.test/mpesa/accountbalance/v1/submit",
            ResultKind::AccountBalance,
        ),
        (
            "https://example.test/mpesa/transactionstatus/v1/submit",
            ResultKind::TransactionStatus,
        ),
        ("https://example.test/somewhere/else", ResultKind::Unknown),
    ];
    for (url, kind) in cases {
        let found = result_edited("b2c-result-failed.json", |body| {
            body["Result"]["ReferenceData"]["ReferenceItem"][0]["Value"] = url.into()
        });
        assert_eq!(found.kind(), kind, "{url}");
    }
}

/// Regression: a failure naming no operation settled the payout as failed, but a failed
/// transaction status query (sent to the payout's own result URL) looks the same; "failed"
/// tells the merchant to pay again while the money may have gone.
#[test]
fn only_a_failure_whose_operation_is_known_settles() {
    let claim = |url: serde_json::Value| {
        result_edited("b2c-result-failed.json", |body| {
            body["Result"]["ReferenceData"]["ReferenceItem"][0]["Value"] = url
        })
        .outcome()
        .claim
    };
    assert_eq!(
        claim("https://example.test/mpesa/b2cresults/v1/submit".into()),
        Claim::Settled(PaymentState::Failed)
    );
    for bare in [
        serde_json::Value::Null,
        "https://example.test/somewhere/else".into(),
    ] {
        let Claim::Notice(Some(why)) = claim(bare.clone()) else {
            panic!("{bare}: a bare failure settles nothing");
        };
        assert!(why.contains("names no operation"), "{why}");
        assert!(why.contains("ResultCode 2001"), "{why}");
    }
    // A success naming no operation still claims one (and, without its receipt, is a defect).
    let bare_success = result_edited("b2c-result-failed.json", |body| {
        body["Result"]["ResultCode"] = 0.into();
        body["Result"]["ReferenceData"]["ReferenceItem"][0]["Value"] = serde_json::Value::Null;
    })
    .outcome();
    assert_eq!(bare_success.claim, Claim::Settled(PaymentState::Succeeded));
}

#[test]
fn a_payout_names_its_receiver_and_its_transaction_once() {
    use malipo_core::Payer;

    let paid = result(&fixture("b2c-result-success.json"));
    assert_eq!(paid.receiver_phone_text().as_deref(), Some("254708374149"));
    let o = paid.outcome();
    assert_eq!(o.payer, Some(Payer::Phone("254708374149".parse().unwrap())));
    assert_eq!(o.defect, None);
    for (name, receiver) in [
        (
            "2547****4149 - John Doe",
            Some(Payer::Masked("2547****4149".into())),
        ),
        ("Safaricom PLC", None),
        (" - John Doe", None),
    ] {
        let r = result_edited("b2c-result-success.json", |b| {
            set_parameter(b, "ReceiverPartyPublicName", name)
        });
        assert_eq!(r.outcome().payer, receiver, "{name}");
    }
    let other = result_edited("b2c-result-success.json", |b| {
        b["Result"]["TransactionID"] = "QKX1AB23CD".into()
    });
    let defect = other.outcome().defect.expect("two transactions");
    assert!(
        defect.contains("QKX1AB23CD") && defect.contains("NLJ41HAY6Q"),
        "{defect}"
    );
    // A blank TransactionID says nothing against the receipt.
    let blank = result_edited("b2c-result-success.json", |b| {
        b["Result"]["TransactionID"] = " ".into()
    });
    assert_eq!(blank.outcome().defect, None);
}

#[test]
fn an_stk_item_given_twice_differently_is_a_defect_and_a_masked_phone_is_kept() {
    use malipo_core::Payer;

    let stk = |edit: &dyn Fn(&mut Value)| {
        let mut body = fixture("stk-callback-paid.json");
        edit(&mut body);
        match parse_callback(CallbackKind::Stk, &serde_json::to_vec(&body).unwrap()).unwrap() {
            Callback::Stk(s) => s,
            other => panic!("{other:?}"),
        }
    };
    fn items(b: &mut Value) -> &mut Vec<Value> {
        b["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
            .as_array_mut()
            .unwrap()
    }
    let plain = stk(&|_| {});
    assert_eq!(plain.conflicting_item(), None);
    assert_eq!(plain.outcome().defect, None);
    // The same item twice with the same value is only repeated.
    let same = stk(&|b| {
        let first = items(b)[0].clone();
        items(b).push(first);
    });
    assert_eq!(same.conflicting_item(), None);
    let twice = stk(&|b| items(b).push(json!({"Name": "Amount", "Value": 99})));
    assert_eq!(twice.conflicting_item(), Some("Amount"));
    assert!(twice.outcome().defect.unwrap().contains("\"Amount\" twice"));
    let masked = stk(&|b| {
        for item in items(b).iter_mut() {
            if item["Name"] == "PhoneNumber" {
                item["Value"] = "2547***4149".into();
            }
        }
    });
    assert_eq!(masked.outcome().payer, Some(Payer::Masked("2547***4149".into())));
    // Text with stars but no digits, or with letters, names no phone at all.
    for not_a_phone in ["****", "ab*cd", "2547***41x9"] {
        let odd = stk(&|b| {
            for item in items(b).iter_mut() {
                if item["Name"] == "PhoneNumber" {
                    item["Value"] = not_a_phone.into();
                }
            }
        });
        assert_eq!(odd.outcome().payer, None, "{not_a_phone}");
    }
}

#[test]
fn every_callback_gives_its_result_code_as_text() {
    let parse = |kind, name: &str| {
        let body = serde_json::to_vec(&fixture(name)).unwrap();
        parse_callback(kind, &body).unwrap()
    };
    let code = |kind, name: &str| parse(kind, name).result_code();
    assert_eq!(
        code(CallbackKind::Stk, "stk-callback-cancelled.json").as_deref(),
        Some("1032")
    );
    assert_eq!(
        code(CallbackKind::Stk, "stk-callback-paid.json").as_deref(),
        Some("0")
    );
    assert_eq!(
        code(CallbackKind::Result, "b2c-result-failed.json").as_deref(),
        Some("2001")
    );
    assert_eq!(
        code(CallbackKind::Timeout, "queue-timeout.json").as_deref(),
        Some("1")
    );
    assert_eq!(code(CallbackKind::C2bConfirmation, "c2b-confirmation.json"), None);
}

#[test]
fn only_a_cut_or_non_json_body_is_a_syntax_error() {
    let syntax = |body: &[u8]| {
        parse_callback(CallbackKind::Result, body)
            .unwrap_err()
            .is_syntax()
    };
    assert!(syntax(br#"{"Result": {"ResultCode": 0"#));
    assert!(syntax(br#"{"Result": nope}"#));
    // Not an object at all is its own error.
    assert!(!syntax(b"ResultCode=0"));
    // Complete JSON of the wrong shape is malformed, not cut off.
    assert!(!syntax(br#"{"Result": {"ResultCode": [1, 2]}}"#));
    assert!(!syntax(br#"{"Result": {}}"#));
}

#[test]
fn a_result_code_is_an_integer_only_when_it_is_one_that_fits() {
    use malipo_mpesa::ResultCode;
    let code = |v: Value| serde_json::from_value::<ResultCode>(v).unwrap();
    assert_eq!(code(json!(1032)), ResultCode::Integer(1032));
    assert_eq!(code(json!(-1)), ResultCode::Integer(-1));
    for odd in [
        json!(0.0),
        json!("0"),
        json!(9_223_372_036_854_775_808u64),
        Value::Null,
    ] {
        assert_eq!(code(odd.clone()), ResultCode::Irregular(odd));
    }
}
