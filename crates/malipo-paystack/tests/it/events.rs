//! Every webhook fixture (Paystack's documented shapes) parses to its variant; odd input never
//! panics.

use malipo_core::{Currency, Money};
use malipo_paystack::{Event, EventError};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn parse(name: &str) -> Event {
    Event::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e} ({e:?})"))
}

/// The fixture `name` with `edit` applied to its JSON, parsed.
fn parse_edited(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Event {
    let mut body: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
    edit(&mut body);
    Event::from_slice(&serde_json::to_vec(&body).unwrap()).unwrap()
}

/// The fixture file of each typed event name.
fn fixture_of(event: &str) -> String {
    format!("{}.json", event.replace(['.', '_'], "-"))
}

#[test]
fn every_known_event_has_a_fixture_that_parses_to_its_variant() {
    for name in Event::KNOWN {
        let event = parse(&fixture_of(name));
        assert_eq!(event.name(), *name);
        assert!(
            !matches!(event, Event::Unknown { .. }),
            "{name} parsed as Unknown"
        );
        // A list of expiring cards has no identity of its own; its body's digest keys it.
        if *name != "subscription.expiring_cards" {
            assert!(event.dedup_key().is_some(), "{name} has no dedup key");
        }
    }
}

#[test]
fn variants_match_their_names() {
    type IsVariant = fn(&Event) -> bool;
    let cases: Vec<(&str, IsVariant)> = vec![
        ("charge.success", |e| matches!(e, Event::ChargeSuccess(_))),
        ("charge.dispute.create", |e| {
            matches!(e, Event::ChargeDisputeCreate(_))
        }),
        ("charge.dispute.remind", |e| {
            matches!(e, Event::ChargeDisputeRemind(_))
        }),
        ("charge.dispute.resolve", |e| {
            matches!(e, Event::ChargeDisputeResolve(_))
        }),
        ("transfer.success", |e| matches!(e, Event::TransferSuccess(_))),
        ("transfer.failed", |e| matches!(e, Event::TransferFailed(_))),
        ("transfer.reversed", |e| matches!(e, Event::TransferReversed(_))),
        ("refund.pending", |e| matches!(e, Event::RefundPending(_))),
        ("refund.processing", |e| matches!(e, Event::RefundProcessing(_))),
        ("refund.processed", |e| matches!(e, Event::RefundProcessed(_))),
        ("refund.failed", |e| matches!(e, Event::RefundFailed(_))),
        ("subscription.create", |e| {
            matches!(e, Event::SubscriptionCreate(_))
        }),
        ("subscription.disable", |e| {
            matches!(e, Event::SubscriptionDisable(_))
        }),
        ("subscription.not_renew", |e| {
            matches!(e, Event::SubscriptionNotRenew(_))
        }),
        ("invoice.create", |e| matches!(e, Event::InvoiceCreate(_))),
        ("invoice.update", |e| matches!(e, Event::InvoiceUpdate(_))),
        ("invoice.payment_failed", |e| {
            matches!(e, Event::InvoicePaymentFailed(_))
        }),
        ("paymentrequest.pending", |e| {
            matches!(e, Event::PaymentRequestPending(_))
        }),
        ("paymentrequest.success", |e| {
            matches!(e, Event::PaymentRequestSuccess(_))
        }),
        ("customeridentification.success", |e| {
            matches!(e, Event::CustomerIdentificationSuccess(_))
        }),
        ("refund.needs-attention", |e| {
            matches!(e, Event::RefundNeedsAttention(_))
        }),
        ("subscription.expiring_cards", |e| {
            matches!(e, Event::SubscriptionExpiringCards(_))
        }),
        ("dedicatedaccount.assign.success", |e| {
            matches!(e, Event::DedicatedAccountAssignSuccess(_))
        }),
        ("dedicatedaccount.assign.failed", |e| {
            matches!(e, Event::DedicatedAccountAssignFailed(_))
        }),
        ("customeridentification.failed", |e| {
            matches!(e, Event::CustomerIdentificationFailed(_))
        }),
    ];
    assert_eq!(cases.len(), Event::KNOWN.len());
    for (name, is_variant) in cases {
        assert!(is_variant(&parse(&fixture_of(name))), "{name}");
    }
}

#[test]
fn charge_success_exposes_what_the_worker_needs() {
    let event = parse("charge-success.json");
    assert_eq!(event.dedup_key().as_deref(), Some("charge.success:302961"));
    assert_eq!(event.reference(), Some("qTPrJoy9Bx"));
    assert_eq!(event.amount(), Some(Money::from_minor(10_000, Currency::Ngn)));
    assert_eq!(event.status(), Some("success"));
    assert_eq!(event.customer_email(), Some("bojack@horseman.com"));
    let charge = event.as_charge().expect("a charge");
    assert!(charge.is_successful());
    let auth = charge.authorization.as_ref().expect("authorization");
    assert_eq!(auth.authorization_code.as_deref(), Some("AUTH_f5rnfq9p"));
    assert_eq!(auth.reusable, Some(true));
}

#[test]
fn transfer_success_is_keyed_by_id() {
    let event = parse("transfer-success.json");
    assert_eq!(event.dedup_key().as_deref(), Some("transfer.success:37272792"));
    assert_eq!(event.reference(), Some("1jhbs3ozmen0k7y5efmw"));
    assert_eq!(event.amount(), Some(Money::from_minor(30_000, Currency::Ngn)));
    let transfer = event.as_transfer().expect("a transfer");
    assert_eq!(transfer.transfer_code.as_deref(), Some("TRF_wpl1dem4967avzm"));
}

/// What each documented event says about its payment, read off the fixtures by hand: the
/// reference `verify` takes, the amount (a dispute's refund amount; an invoice in its
/// transaction's currency), `data.status`, and the customer's (a transfer's recipient's) email.
#[test]
fn every_fixture_exposes_its_reference_amount_status_and_email() {
    type Row = (
        &'static str,
        Option<&'static str>,
        Option<(u64, Currency)>,
        Option<&'static str>,
        Option<&'static str>,
    );
    use Currency::{Kes, Ngn};
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("charge-dispute-create.json", Some("oqn9xkx1lrucbpe"), Some((8_300, Kes)), Some("awaiting-merchant-feedback"), Some("customer2@example.com")),
        ("charge-dispute-remind.json", Some("oqn9xkx1lrucbpe"), Some((8_300, Kes)), Some("awaiting-merchant-feedback"), Some("customer2@example.com")),
        ("charge-dispute-resolve.json", Some("jiddcdgdp1mv0sp"), Some((8_200, Kes)), Some("resolved"), Some("customer2@example.com")),
        ("charge-success.json", Some("qTPrJoy9Bx"), Some((10_000, Ngn)), Some("success"), Some("bojack@horseman.com")),
        ("customeridentification-failed.json", None, None, None, Some("customer1@example.com")),
        ("customeridentification-success.json", None, None, None, Some("customer2@example.com")),
        ("dedicatedaccount-assign-failed.json", None, None, Some("failed"), Some("customer2@example.com")),
        ("dedicatedaccount-assign-success.json", None, None, Some("success"), Some("customer2@example.com")),
        ("invoice-create.json", Some("ffof16upmf7aitkbo1q5s9lfnerfg0s5r1pw"), Some((52_500, Kes)), Some("success"), Some("customer5@example.com")),
        // No transaction and no plan: no currency, so no amount.
        ("invoice-payment-failed.json", None, None, Some("pending"), Some("customer6@example.com")),
        ("invoice-update.json", Some("57ymrr07r7"), Some((52_500, Kes)), Some("success"), Some("customer2@example.com")),
        // The customer is given by its id only.
        ("paymentrequest-pending.json", None, Some((10_002_500, Kes)), Some("pending"), None),
        ("paymentrequest-success.json", None, Some((10_002_500, Kes)), Some("success"), None),
        ("refund-failed.json", Some("am35321i1oaulriimb0gqvvxodk5n2"), Some((22_500, Kes)), Some("failed"), Some("customer6@example.com")),
        ("refund-needs-attention.json", Some("ybhhaobtw3gav1px330yi5pdwh72p34m"), Some((7_806, Kes)), Some("needs-attention"), Some("customer4@example.com")),
        ("refund-pending.json", Some("m1ytpfhcagk4pt39x0nzgvsm0mvgt9"), Some((12_500, Kes)), Some("pending"), Some("customer0@example.com")),
        ("refund-processed.json", Some("dqckpvtjy36aqqba9x0kd3cxc4acgz"), Some((7_500, Kes)), Some("processed"), Some("customer4@example.com")),
        ("refund-processing.json", Some("m1ytpfhcagk4pt39x0nzgvsm0mvgt9"), Some((12_500, Kes)), Some("processing"), Some("customer0@example.com")),
        // A subscription's amount is in its plan's currency.
        ("subscription-create.json", None, Some((52_500, Kes)), Some("active"), Some("customer2@example.com")),
        ("subscription-disable.json", None, Some((302_500, Kes)), Some("complete"), Some("customer2@example.com")),
        ("subscription-expiring-cards.json", None, None, None, None),
        ("subscription-not-renew.json", None, Some((122_500, Kes)), Some("non-renewing"), Some("customer2@example.com")),
        ("transfer-failed.json", Some("1976435213"), Some((202_500, Kes)), Some("failed"), Some("customer0@example.com")),
        ("transfer-reversed.json", Some("0t6fzfh1oq"), Some((12_500, Kes)), Some("reversed"), Some("customer2@example.com")),
        ("transfer-success.json", Some("1jhbs3ozmen0k7y5efmw"), Some((30_000, Ngn)), Some("success"), None),
    ];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count(),
        rows.len(),
        "a row per fixture"
    );
    for &(file, reference, amount, status, email) in rows {
        let event = parse(file);
        assert_eq!(event.reference(), reference, "{file}");
        assert_eq!(
            event.amount(),
            amount.map(|(minor, c)| Money::from_minor(minor, c)),
            "{file}"
        );
        assert_eq!(event.status(), status, "{file}");
        assert_eq!(event.customer_email(), email, "{file}");
    }
}

/// A payment request whose customer is expanded into an object names its email.
#[test]
fn an_expanded_payment_request_customer_gives_its_email() {
    let event = parse_edited("paymentrequest-success.json", |v| {
        v["data"]["customer"] = serde_json::json!({"id": 7455232, "email": "payer@example.com"})
    });
    assert_eq!(event.customer_email(), Some("payer@example.com"));
}

#[test]
fn an_identification_is_keyed_by_its_customer_code() {
    assert_eq!(
        parse("customeridentification-success.json")
            .dedup_key()
            .as_deref(),
        Some("customeridentification.success:CUS_7b5mamrewq6tnyd")
    );
    // Without the code, the customer's id.
    let event = parse_edited("customeridentification-failed.json", |v| {
        v["data"]["customer_code"] = serde_json::Value::Null
    });
    assert_eq!(
        event.dedup_key().as_deref(),
        Some("customeridentification.failed:82797324")
    );
}

#[test]
fn a_dispute_names_the_disputed_charge_and_its_amount() {
    let event = parse("charge-dispute-create.json");
    assert_eq!(event.reference(), Some("oqn9xkx1lrucbpe"));
    assert_eq!(event.amount(), Some(Money::from_minor(8_300, Currency::Kes)));
    assert_eq!(event.status(), Some("awaiting-merchant-feedback"));
    assert_eq!(event.customer_email(), Some("customer2@example.com"));
}

#[test]
fn a_transfer_gives_its_status_and_its_recipients_email() {
    let event = parse("transfer-success.json");
    assert_eq!(event.status(), Some("success"));
    // The fixture's recipient has `"email": null`.
    assert_eq!(event.customer_email(), None);
    let with_email = parse_edited("transfer-success.json", |v| {
        v["data"]["recipient"]["email"] = "payee@example.com".into()
    });
    assert_eq!(with_email.customer_email(), Some("payee@example.com"));
    // A recipient named only by its code carries no email.
    let by_code = parse_edited("transfer-success.json", |v| {
        v["data"]["recipient"] = "RCP_a8wkxiychzdzfgs".into()
    });
    assert_eq!(by_code.customer_email(), None);
    assert_eq!(by_code.status(), Some("success"));
}

#[test]
fn refund_events_have_string_amounts_and_no_id() {
    let pending = parse("refund-pending.json");
    let notice = pending.as_refund().expect("a refund");
    assert_eq!(notice.amount, Some(12_500));
    assert_eq!(notice.refund_reference, None);
    // No id and no refund reference yet: keyed by the transaction reference.
    let reference = notice.transaction_reference.clone().expect("reference");
    assert_eq!(pending.dedup_key(), Some(format!("refund.pending:{reference}")));
    assert_eq!(pending.reference(), Some(reference.as_str()));
    assert_eq!(pending.amount(), Some(Money::from_minor(12_500, Currency::Kes)));

    let processed = parse("refund-processed.json");
    let refund_reference = processed
        .as_refund()
        .and_then(|r| r.refund_reference.clone())
        .expect("refund reference");
    assert_eq!(
        processed.dedup_key(),
        Some(format!("refund.processed:{refund_reference}"))
    );
}

#[test]
fn invoices_are_keyed_by_code_and_status() {
    let event = parse("invoice-update.json");
    let Event::InvoiceUpdate(invoice) = &event else {
        panic!("not an invoice.update: {event:?}");
    };
    let code = invoice.invoice_code.clone().expect("code");
    assert_eq!(event.dedup_key(), Some(format!("invoice.update:{code}:success")));
    assert!(event.amount().is_some());
}

#[test]
fn the_same_body_gives_the_same_key() {
    for name in Event::KNOWN {
        let body = fixture(&fixture_of(name));
        let a = Event::from_slice(&body).unwrap();
        let b = Event::from_slice(&body).unwrap();
        assert_eq!(a.dedup_key_or_digest(&body), b.dedup_key_or_digest(&body));
        assert_eq!(a, b);
    }
}

#[test]
fn unknown_names_keep_the_raw_payload() {
    let body = br#"{"event":"charge.made_up","data":{"id":7,"status":"odd"}}"#;
    let event = Event::from_slice(body).unwrap();
    let Event::Unknown { name, raw } = &event else {
        panic!("should be Unknown: {event:?}");
    };
    assert_eq!(name, "charge.made_up");
    assert_eq!(raw["data"]["id"], serde_json::json!(7), "data kept");
    assert_eq!(event.status(), Some("odd"));
}

#[test]
fn events_added_later_are_typed() {
    let attention = parse("refund-needs-attention.json");
    assert_eq!(attention.status(), Some("needs-attention"));
    assert_eq!(
        attention.dedup_key().as_deref(),
        Some("refund.needs-attention:123463")
    );
    assert_eq!(attention.amount(), Some(Money::from_minor(7806, Currency::Kes)));
    assert_eq!(attention.reference(), Some("ybhhaobtw3gav1px330yi5pdwh72p34m"));
    assert!(attention.as_refund().is_some());
    assert!(matches!(attention.outcome().claim, malipo_core::Claim::Notice(_)));

    // A list `data` has no identity: the caller falls back to the body digest.
    let body = fixture("subscription-expiring-cards.json");
    let expiring = Event::from_slice(&body).unwrap();
    let Event::SubscriptionExpiringCards(cards) = &expiring else {
        panic!("{expiring:?}");
    };
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].expiry_date.as_deref(), Some("12/2021"));
    assert_eq!(
        cards[0]
            .subscription
            .as_ref()
            .and_then(|s| s.subscription_code.as_deref()),
        Some("SUB_onlas4y6rg9fdle")
    );
    assert_eq!(expiring.dedup_key(), None);
    let key = expiring.dedup_key_or_digest(&body);
    assert!(key.starts_with("subscription.expiring_cards:sha256:"), "{key}");
    assert_eq!(key.len(), "subscription.expiring_cards:sha256:".len() + 64);
    // An object where Paystack sends a list is refused like any other shape error.
    let object = br#"{"event":"subscription.expiring_cards","data":{"id":1}}"#;
    assert!(matches!(
        Event::from_slice(object),
        Err(EventError::BadData { .. })
    ));

    let assigned = parse("dedicatedaccount-assign-success.json");
    let Event::DedicatedAccountAssignSuccess(assignment) = &assigned else {
        panic!("{assigned:?}");
    };
    let account = assignment.dedicated_account.as_ref().expect("an account");
    assert_eq!(account.account_number.as_deref(), Some("7777777777"));
    assert_eq!(
        assigned.dedup_key().as_deref(),
        Some("dedicatedaccount.assign.success:988663")
    );
    assert_eq!(assigned.status(), Some("success"));
    assert_eq!(assigned.customer_email(), Some("customer2@example.com"));

    let failed = parse("dedicatedaccount-assign-failed.json");
    assert_eq!(
        failed.dedup_key().as_deref(),
        Some("dedicatedaccount.assign.failed:CUS_qkjnd1b1pqdc6j1")
    );
    assert_eq!(failed.status(), Some("failed"));
}

#[test]
fn made_up_events_are_unknown() {
    let event = Event::from_slice(br#"{"event":"charge.made_up","data":{"id":7}}"#).unwrap();
    assert_eq!(event.name(), "charge.made_up");
    assert_eq!(event.dedup_key().as_deref(), Some("charge.made_up:7"));
    assert!(matches!(event, Event::Unknown { .. }));
    let no_data = Event::from_slice(br#"{"event":"ping"}"#).unwrap();
    assert_eq!(no_data.dedup_key(), None);
}

#[test]
fn malformed_bodies_are_errors() {
    assert!(matches!(
        Event::from_slice(b"not json"),
        Err(EventError::NotJson(_))
    ));
    assert!(matches!(Event::from_slice(b""), Err(EventError::NotJson(_))));
    for body in [
        &br#"{"data":{}}"#[..],
        br#"{"event":7,"data":{}}"#,
        br#"[1,2]"#,
        br#""charge.success""#,
        br#"null"#,
    ] {
        assert!(
            matches!(Event::from_slice(body), Err(EventError::MissingEvent)),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    for body in [
        &br#"{"event":"charge.success"}"#[..],
        br#"{"event":"charge.success","data":[]}"#,
        br#"{"event":"charge.success","data":{"amount":-5}}"#,
        br#"{"event":"transfer.success","data":{"id":"not a number"}}"#,
    ] {
        let err = Event::from_slice(body).unwrap_err();
        assert!(
            matches!(&err, EventError::BadData { event, .. } if !event.is_empty()),
            "{err:?}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }
}

#[test]
fn tolerant_of_unknown_fields_and_placeholders() {
    let body = br#"{"event":"charge.success","brand_new":1,"data":{"id":"42","reference":"r",
        "amount":"500","currency":"KES","metadata":0,"plan":{},"customer":"",
        "authorization":{},"something_new":{"deep":[1,2]}}}"#;
    let event = Event::from_slice(body).unwrap();
    assert_eq!(event.dedup_key().as_deref(), Some("charge.success:42"));
    assert_eq!(event.amount(), Some(Money::from_minor(500, Currency::Kes)));
    assert_eq!(event.customer_email(), None);
    // A currency malipo does not know leaves the amount unread rather than failing the event.
    let egp = br#"{"event":"charge.success","data":{"id":1,"amount":100,"currency":"EGP"}}"#;
    assert_eq!(Event::from_slice(egp).unwrap().amount(), None);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Event::from_slice(&body);
    }

    #[test]
    fn arbitrary_data_under_known_names_never_panics(
        idx in 0..Event::KNOWN.len(),
        data in arb_json(),
    ) {
        let body = serde_json::json!({"event": Event::KNOWN[idx], "data": data}).to_string();
        if let Ok(event) = Event::from_slice(body.as_bytes()) {
            prop_assert_eq!(event.name(), Event::KNOWN[idx]);
            let _ = (event.dedup_key(), event.reference(), event.amount(), event.status());
            let _ = event.customer_email();
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(
        idx in 0..Event::KNOWN.len(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut body = fixture(&fixture_of(Event::KNOWN[idx]));
        let i = at.index(body.len());
        body[i] = byte;
        let _ = Event::from_slice(&body);
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z0-9_]{0,8}".prop_map(Value::String),
    ];
    let keys = prop::sample::select(vec![
        "id",
        "reference",
        "amount",
        "currency",
        "status",
        "customer",
        "email",
        "transaction",
        "recipient",
        "plan",
        "subscription",
        "invoice_code",
        "refund_reference",
        "transaction_reference",
        "authorization",
        "metadata",
        "customer_id",
        "paid",
    ]);
    leaf.prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|kv| { Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()) }),
        ]
    })
}

/// Regressions found by the `paystack_event` fuzz target (fuzz/regressions/paystack_event/).
mod fuzz_regressions {
    use malipo_paystack::{Event, EventError};

    #[test]
    fn a_blank_event_name_is_refused() {
        for body in [&br#"{"event":""}"#[..], br#"{"event":"   ","data":{"id":1}}"#] {
            assert!(matches!(Event::from_slice(body), Err(EventError::MissingEvent)));
        }
    }

    #[test]
    fn blank_identities_fall_back_to_the_digest() {
        for body in [
            &br#"{"event":"some.new.event","data":{"id":" "}}"#[..],
            br#"{"event":"refund.processed","data":{"refund_reference":" ","transaction_reference":""}}"#,
            br#"{"event":"transfer.success","data":{"reference":"  ","transfer_code":""}}"#,
        ] {
            let event = Event::from_slice(body).unwrap();
            assert_eq!(event.dedup_key(), None, "{}", String::from_utf8_lossy(body));
            assert!(event.dedup_key_or_digest(body).contains(":sha256:"));
        }
        let padded =
            Event::from_slice(br#"{"event":"transfer.success","data":{"reference":" T1 "}}"#).unwrap();
        assert_eq!(padded.dedup_key().as_deref(), Some("transfer.success:T1"));
        // An unknown event: a blank id is passed over for the next identity field, trimmed.
        let unknown =
            Event::from_slice(br#"{"event":"some.new.event","data":{"id":" ","reference":" R1 "}}"#).unwrap();
        assert_eq!(unknown.dedup_key().as_deref(), Some("some.new.event:R1"));
    }
}

/// `identify`, the ingestion fast path, answers exactly what the typed parse would.
mod identify_agrees {
    use malipo_paystack::{identify, Event};
    use proptest::prelude::*;

    fn agree(body: &[u8]) {
        match (identify(body), Event::from_slice(body)) {
            (Ok(id), Ok(event)) => {
                assert_eq!(id.name, event.name());
                assert_eq!(
                    id.dedup_key,
                    event.dedup_key_or_digest(body),
                    "{}",
                    String::from_utf8_lossy(body)
                );
                assert_eq!(id.known, !matches!(event, Event::Unknown { .. }));
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            // The fast path does not type-check `data`: a numeric id with a malformed rest is
            // identified here and refused by the worker's typed parse.
            (Ok(id), Err(_)) => assert!(
                id.known
                    && id
                        .dedup_key
                        .split(':')
                        .nth(1)
                        .is_some_and(|i| i.parse::<u64>().is_ok())
            ),
            (Err(e), Ok(_)) => panic!("identify refused what the typed parse accepts: {e}"),
        }
    }

    #[test]
    fn on_every_fixture() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                agree(&std::fs::read(&path).unwrap());
                seen += 1;
            }
        }
        assert!(seen >= 20, "only {seen} fixtures");
    }

    proptest! {
        #[test]
        fn on_mutated_bodies(id in any::<u64>(), name in prop::sample::select(Event::KNOWN.to_vec()), extra in "[a-z0-9 ]{0,8}", id_as_string in any::<bool>()) {
            let id_json = if id_as_string { format!("\"{id}\"") } else { id.to_string() };
            let body = format!(r#"{{"event":"{name}","data":{{"id":{id_json},"reference":"r{extra}","status":"success"}}}}"#);
            agree(body.as_bytes());
        }

        #[test]
        fn on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            agree(&body);
        }
    }
}

mod outcome {
    //! What each event claims, in the provider-neutral words the gateway settles on.

    use malipo_core::{Claim, Currency, Money, Payer, PaymentState, Provider};

    use super::{parse, parse_edited};

    #[test]
    fn a_charge_claims_its_reference_paid_for_its_amount_and_may_be_recorded() {
        let o = parse("charge-success.json").outcome();
        assert_eq!(o.provider, Provider::Paystack);
        assert_eq!(o.claim, Claim::Settled(PaymentState::Succeeded));
        assert_eq!(o.reference.as_deref(), Some("qTPrJoy9Bx"));
        assert_eq!(o.amount, Some(Money::from_minor(10_000, Currency::Ngn)));
        assert_eq!(o.receipt.as_deref(), Some("302961"));
        assert!(matches!(o.payer, Some(Payer::Email(_))));
        assert_eq!(o.unsolicited.map(|u| u.kind), Some("charge"));
        assert_eq!(o.defect, None);
        assert_eq!(o.identity, "charge.success:302961");
    }

    #[test]
    fn a_processed_refund_claims_its_amount_back() {
        let o = parse("refund-processed.json").outcome();
        assert_eq!(o.claim, Claim::Refunded);
        assert_eq!(o.reference.as_deref(), Some("dqckpvtjy36aqqba9x0kd3cxc4acgz"));
        assert_eq!(o.amount, Some(Money::from_minor(7_500, Currency::Kes)));
        assert_eq!(o.unsolicited, None);
        // Not yet processed: a notice.
        assert_eq!(parse("refund-pending.json").outcome().claim, Claim::Notice(None));
    }

    /// Regression: a signed charge.success whose transaction status was "failed" or
    /// "abandoned" settled its checkout.
    #[test]
    fn a_charge_success_whose_transaction_did_not_succeed_is_a_defect() {
        assert_eq!(parse("charge-success.json").outcome().defect, None);
        for status in ["failed", "abandoned", "reversed"] {
            let o = parse_edited("charge-success.json", |v| v["data"]["status"] = status.into()).outcome();
            let defect = o.defect.expect("flagged");
            assert!(defect.contains(status), "{defect}");
        }
    }

    #[test]
    fn transfers_name_their_transfer_code() {
        let o = parse("transfer-success.json").outcome();
        assert_eq!(o.claim, Claim::Settled(PaymentState::Succeeded));
        assert_eq!(o.request_id.as_deref(), Some("TRF_wpl1dem4967avzm"));
        assert_eq!(o.receipt.as_deref(), Some("TRF_wpl1dem4967avzm"));
        assert_eq!(o.amount, Some(Money::from_minor(30_000, Currency::Ngn)));
        assert_eq!(
            parse("transfer-failed.json").outcome().claim,
            Claim::Settled(PaymentState::Failed)
        );
    }

    #[test]
    fn an_amount_in_a_currency_malipo_does_not_know_is_a_defect() {
        let o = parse_edited("charge-success.json", |v| v["data"]["currency"] = "XYZ".into()).outcome();
        assert_eq!(o.amount, None);
        assert!(o.defect.unwrap().contains("XYZ"));
    }

    /// Every event that moves money is flagged alike; a notice moves nothing, so its currency
    /// is not a defect.
    #[test]
    fn an_unknown_currency_is_a_defect_only_where_money_moves() {
        let in_xyz = |file: &str| parse_edited(file, |v| v["data"]["currency"] = "XYZ".into()).outcome();
        for file in [
            "transfer-success.json",
            "transfer-failed.json",
            "transfer-reversed.json",
            "refund-processed.json",
        ] {
            let o = in_xyz(file);
            assert_eq!(o.amount, None, "{file}");
            assert!(
                o.defect.as_deref().is_some_and(|d| d.contains("XYZ")),
                "{file}: {o:?}"
            );
        }
        for file in [
            "refund-pending.json",
            "refund-failed.json",
            "charge-dispute-create.json",
        ] {
            let o = in_xyz(file);
            assert_eq!(o.claim, Claim::Notice(None), "{file}");
            assert_eq!(o.defect, None, "{file}");
        }
        // A known currency is no defect.
        assert_eq!(parse("refund-processed.json").outcome().defect, None);
    }
}
