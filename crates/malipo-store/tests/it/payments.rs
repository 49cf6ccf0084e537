use std::time::Duration;

use malipo_core::{Currency, Money, Msisdn, PaymentId, PaymentState, Provider};
use malipo_store::{NewPayment, PaymentFilter, StoreError, TransitionDetail};

use crate::Adapter;

fn stk(amount: u64) -> NewPayment {
    let mut p = NewPayment::pending(
        Provider::Mpesa,
        "stk_push",
        Money::from_minor(amount, Currency::Kes),
    );
    p.msisdn = Some("0712345678".parse::<Msisdn>().unwrap());
    p.merchant_reference = Some("order-17".into());
    p.description = Some("Order 17".into());
    p.metadata = Some(serde_json::json!({"cart": [1, 2]}));
    p
}

async fn insert_then_read_back_and_find_by_reference(t: Adapter) {
    let new = stk(15_000);
    let stored = t.store.insert_payment(new.clone()).await.unwrap();
    assert_eq!(stored.id, new.id);
    assert_eq!(stored.state, PaymentState::Pending);
    assert_eq!(stored.amount, new.amount);
    assert_eq!(stored.msisdn, new.msisdn);
    assert_eq!(stored.metadata, new.metadata);
    assert_eq!(t.store.get_payment(new.id).await.unwrap(), Some(stored.clone()));
    assert!(t
        .store
        .find_payment_by_provider_ref(Provider::Mpesa, "ws_CO_1")
        .await
        .unwrap()
        .is_none());

    let with_ref = t.store.set_payment_provider_ref(new.id, "ws_CO_1").await.unwrap();
    assert_eq!(with_ref.provider_reference.as_deref(), Some("ws_CO_1"));
    // Same value again is fine.
    t.store.set_payment_provider_ref(new.id, "ws_CO_1").await.unwrap();
    let found = t
        .store
        .find_payment_by_provider_ref(Provider::Mpesa, "ws_CO_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, new.id);
    // Another payment cannot take it; the same reference at another provider is distinct.
    let other = t.store.insert_payment(stk(1)).await.unwrap();
    let err = t
        .store
        .set_payment_provider_ref(other.id, "ws_CO_1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { ref holder, .. } if *holder == new.id.to_string()),
        "{err}"
    );
    let mut paystack = NewPayment::pending(Provider::Paystack, "charge", Money::from_minor(1, Currency::Ngn));
    paystack.provider_reference = Some("ws_CO_1".into());
    t.store.insert_payment(paystack).await.unwrap();
    // A taken id is a conflict too.
    assert!(matches!(
        t.store.insert_payment(new).await,
        Err(StoreError::Conflict { .. })
    ));
}

async fn transitions_follow_the_state_machine(t: Adapter) {
    let p = t.store.insert_payment(stk(100)).await.unwrap();
    let detail = TransitionDetail {
        result_code: Some("0".into()),
        result_desc: Some("The service request is processed successfully.".into()),
        receipt: Some("NLJ7RT61SV".into()),
        settled_by: None,
    };
    let moved = t
        .store
        .transition_payment(p.id, PaymentState::Succeeded, detail)
        .await
        .unwrap();
    assert!(moved.changed());
    assert_eq!(moved.payment.receipt.as_deref(), Some("NLJ7RT61SV"));
    let repeat = t
        .store
        .transition_payment(p.id, PaymentState::Succeeded, TransitionDetail::default())
        .await
        .unwrap();
    assert!(!repeat.changed());
    assert_eq!(repeat.payment.receipt.as_deref(), Some("NLJ7RT61SV"), "kept");
    let err = t
        .store
        .transition_payment(p.id, PaymentState::Pending, TransitionDetail::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::IllegalTransition { .. }), "{err}");
    assert!(err.is_client_error());
    assert!(matches!(
        t.store
            .transition_payment(
                PaymentId::new(),
                PaymentState::Failed,
                TransitionDetail::default()
            )
            .await,
        Err(StoreError::NotFound { what: "payment", .. })
    ));
}

async fn racing_transitions_from_pending_have_one_winner(t: Adapter) {
    let p = t.store.insert_payment(stk(100)).await.unwrap();
    let targets = [
        PaymentState::Succeeded,
        PaymentState::Failed,
        PaymentState::Cancelled,
        PaymentState::Expired,
    ];
    let calls = targets.iter().cycle().take(20).map(|to| {
        let store = t.store.clone();
        let to = *to;
        tokio::spawn(async move {
            store
                .transition_payment(p.id, to, TransitionDetail::default())
                .await
                .map(|_| to)
        })
    });
    let results: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let winners: std::collections::HashSet<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let final_state = t.store.get_payment(p.id).await.unwrap().unwrap().state;
    assert_eq!(Some(&&final_state), winners.iter().next());
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| matches!(e, StoreError::IllegalTransition { .. })));
}

/// `stk(amount)` with an id made at `millis`, so listings have a known order.
fn stk_at(amount: u64, millis: u128) -> NewPayment {
    NewPayment {
        id: PaymentId::from_parts(millis, 7),
        ..stk(amount)
    }
}

async fn list_and_pending_for_the_reconciler(t: Adapter) {
    let a = t.store.insert_payment(stk_at(1, 1_000)).await.unwrap();
    let b = t.store.insert_payment(stk_at(2, 2_000)).await.unwrap();
    let mut other = stk_at(3, 3_000);
    other.merchant_reference = Some("order-99".into());
    let c = t.store.insert_payment(other).await.unwrap();
    t.store
        .transition_payment(b.id, PaymentState::Succeeded, TransitionDetail::default())
        .await
        .unwrap();

    let pending = t
        .store
        .pending_payments_older_than(Duration::ZERO, 10)
        .await
        .unwrap();
    let mut pending: Vec<_> = pending.iter().map(|p| p.id).collect();
    pending.sort();
    assert_eq!(pending, [a.id, c.id]);
    assert!(t
        .store
        .pending_payments_older_than(Duration::from_secs(3600), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(t.store.stats().await.unwrap().payments_pending, 2);

    let by_ref = t
        .store
        .list_payments(&PaymentFilter {
            merchant_reference: Some("order-17".into()),
            ..PaymentFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_ref.iter().map(|p| p.id).collect::<Vec<_>>(), [b.id, a.id]);
    let succeeded = t
        .store
        .list_payments(&PaymentFilter {
            state: Some(PaymentState::Succeeded),
            provider: Some(Provider::Mpesa),
            ..PaymentFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(succeeded.len(), 1);
    let page = t
        .store
        .list_payments(&PaymentFilter {
            before: Some(c.id),
            limit: 1,
            ..PaymentFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|p| p.id).collect::<Vec<_>>(), [b.id]);
}

async fn an_amount_too_large_to_store_is_refused_clearly(t: Adapter) {
    let p = NewPayment::pending(
        Provider::Mpesa,
        "stk_push",
        Money::from_minor(u64::MAX, Currency::Kes),
    );
    let err = t.store.insert_payment(p).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("too large"), "{err}");
}

async fn payments_are_found_by_reference_receipt_phone_tail_and_account(t: Adapter) {
    let a = t.store.insert_payment(stk(10_000)).await.unwrap();
    let mut other = stk(20_000);
    other.msisdn = Some("0722000999".parse::<Msisdn>().unwrap());
    other.merchant_reference = Some("order-99".into());
    other.provider_reference = Some("ws_CO_99".into());
    other.account = "nairobi".parse().unwrap();
    let b = t.store.insert_payment(other).await.unwrap();
    t.store
        .transition_payment(
            a.id,
            PaymentState::Succeeded,
            TransitionDetail {
                receipt: Some("QKL1RT61SV".into()),
                ..TransitionDetail::default()
            },
        )
        .await
        .unwrap();
    let find = |search: &str| {
        let store = t.store.clone();
        let search = search.to_string();
        async move {
            store
                .list_payments(&PaymentFilter {
                    search: Some(search),
                    ..PaymentFilter::default()
                })
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(find("QKL1RT61SV").await, [a.id], "by receipt");
    assert_eq!(find("ws_CO_99").await, [b.id], "by provider reference");
    assert_eq!(find("order-17").await, [a.id], "by merchant reference");
    assert_eq!(find("0999").await, [b.id], "by the phone's last digits");
    assert_eq!(find("5678").await, [a.id]);
    assert!(
        find("99").await.is_empty(),
        "two digits are too few to be a phone tail"
    );
    assert!(
        find("' OR 1=1 --").await.is_empty(),
        "the text is bound, never SQL"
    );
    let by_account = |name: &str| {
        let store = t.store.clone();
        let account = name.parse().unwrap();
        async move {
            store
                .list_payments(&PaymentFilter {
                    account: Some(account),
                    ..PaymentFilter::default()
                })
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(by_account("nairobi").await, [b.id]);
    assert_eq!(by_account("default").await, [a.id]);
}

crate::on_both!(
    insert_then_read_back_and_find_by_reference,
    transitions_follow_the_state_machine,
    racing_transitions_from_pending_have_one_winner,
    list_and_pending_for_the_reconciler,
    an_amount_too_large_to_store_is_refused_clearly,
    payments_are_found_by_reference_receipt_phone_tail_and_account,
);
