//! B2C, B2B, transaction status, account balance and reversal, with their Result callbacks.

use malipo_core::Secret;
use malipo_mpesa::{
    AccountBalanceRequest, B2bCommand, B2bRequest, B2cCommand, B2cRequest, Callback, IdentifierType,
    MpesaClient, MpesaError, ResultKind, ResultUrls, ReversalRequest, TransactionStatusRequest,
};
use malipo_sim::mpesa::Outcome;

use crate::support::{kes, phone, settings_for, sim_config, world, world_with, World};

fn urls(w: &World) -> ResultUrls {
    ResultUrls {
        result_url: w.receiver.url("result"),
        queue_timeout_url: w.receiver.url("timeout"),
    }
}

fn b2c(w: &World, amount: u64, to: &str) -> B2cRequest {
    B2cRequest::new(
        B2cCommand::BusinessPayment,
        kes(amount),
        phone(to),
        "Refund order 1042",
        w.receiver.url("result"),
        w.receiver.url("timeout"),
    )
}

#[tokio::test]
async fn b2c_paid_failed_and_timed_out() {
    let config = sim_config()
        .outcome_for_phone("254700000002", Outcome::InsufficientFunds)
        .outcome_for_phone("254700000003", Outcome::Timeout);
    let mut w = world_with(config).await;

    let request = b2c(&w, 500, "0708374149");
    let accepted = w.client.b2c(&request).await.unwrap();
    assert_eq!(
        accepted.originator_conversation_id.as_deref(),
        Some(request.originator_conversation_id.as_str())
    );
    let got = w.receiver.next().await;
    assert_eq!(got.path, "result");
    assert_eq!(got.callback.kind_name(), "b2c_result");
    let Callback::Result(r) = &got.callback else {
        panic!()
    };
    assert!(r.is_success());
    assert_eq!(r.amount(), Some(kes(500)));
    assert_eq!(r.conversation_id, accepted.conversation_id);
    assert_eq!(
        got.callback.dedup_key(),
        format!("result:{}", accepted.conversation_id.clone().unwrap())
    );

    w.client.b2c(&b2c(&w, 500, "0700000002")).await.unwrap();
    let Callback::Result(r) = w.receiver.next().await.callback else {
        panic!()
    };
    assert_eq!(r.result_code, "1");
    assert!(r.result_parameters.is_none());

    let salary = B2cRequest {
        command: B2cCommand::SalaryPayment,
        ..b2c(&w, 500, "0700000003")
    };
    let accepted = w.client.b2c(&salary).await.unwrap();
    let got = w.receiver.next().await;
    assert_eq!(got.path, "timeout");
    assert_eq!(got.callback.kind_name(), "queue_timeout");
    assert_eq!(
        got.callback.dedup_key(),
        format!("timeout:{}", accepted.conversation_id.unwrap())
    );
}

#[tokio::test]
async fn a_wrong_security_credential_is_result_code_2001() {
    let mut w = world().await;
    let mut settings = settings_for(&w.sim);
    settings.security_credential = Some(Secret::new("bm90LXRoZS1yaWdodC1vbmU=".into()));
    let client = MpesaClient::new(settings).unwrap();
    let promo = B2cRequest {
        command: B2cCommand::PromotionPayment,
        ..b2c(&w, 100, "0708374149")
    };
    client.b2c(&promo).await.unwrap();
    let Callback::Result(r) = w.receiver.next().await.callback else {
        panic!()
    };
    assert_eq!(r.result_code, "2001");
    assert_eq!(r.kind(), ResultKind::B2c, "recognised from the echoed queue URL");
}

#[tokio::test]
async fn initiator_operations_need_the_initiator_settings() {
    let w = world().await;
    let mut settings = settings_for(&w.sim);
    settings.security_credential = None;
    let client = MpesaClient::new(settings).unwrap();
    let err = client.b2c(&b2c(&w, 100, "0708374149")).await.unwrap_err();
    assert!(matches!(err, MpesaError::MissingSetting { .. }), "{err}");
}

#[tokio::test]
async fn b2b_status_balance_and_reversal_results() {
    let mut w = world().await;

    let b2b = B2bRequest {
        command: B2bCommand::BusinessPayBill,
        amount: kes(190),
        receiver: "600000".into(),
        receiver_identifier_type: IdentifierType::Shortcode,
        account_reference: Some("19008".into()),
        requester: Some(phone("0708374149")),
        remarks: "Supplier invoice".into(),
        result_url: w.receiver.url("result"),
        queue_timeout_url: w.receiver.url("timeout"),
    };
    w.client.b2b(&b2b).await.unwrap();
    let got = w.receiver.next().await;
    assert_eq!(got.callback.kind_name(), "b2b_result");
    let Callback::Result(r) = &got.callback else {
        panic!()
    };
    assert_eq!(r.amount(), Some(kes(190)));

    let status = TransactionStatusRequest {
        transaction_id: Some("NLJ7RT61SV".into()),
        original_conversation_id: None,
        party_a: None,
        identifier_type: IdentifierType::Shortcode,
        remarks: "What happened?".into(),
        occasion: None,
        urls: urls(&w),
    };
    w.client.transaction_status(&status).await.unwrap();
    let got = w.receiver.next().await;
    assert_eq!(got.callback.kind_name(), "transaction_status_result");
    let Callback::Result(r) = &got.callback else {
        panic!()
    };
    assert_eq!(r.parameter_text("ReceiptNo").as_deref(), Some("NLJ7RT61SV"));
    assert_eq!(
        r.parameter_text("TransactionStatus").as_deref(),
        Some("Completed")
    );

    let balance = AccountBalanceRequest {
        party_a: None,
        identifier_type: IdentifierType::Shortcode,
        remarks: "Daily balance".into(),
        urls: urls(&w),
    };
    w.client.account_balance(&balance).await.unwrap();
    let got = w.receiver.next().await;
    assert_eq!(got.callback.kind_name(), "account_balance_result");

    let reversal = ReversalRequest {
        transaction_id: "NLJ7RT61SV".into(),
        amount: kes(100),
        receiver_party: None,
        remarks: "Paid twice".into(),
        occasion: Some("Refund".into()),
        urls: urls(&w),
    };
    w.client.reversal(&reversal).await.unwrap();
    let got = w.receiver.next().await;
    assert_eq!(got.callback.kind_name(), "reversal_result");
    let Callback::Result(r) = &got.callback else {
        panic!()
    };
    assert_eq!(
        r.parameter_text("OriginalTransactionID").as_deref(),
        Some("NLJ7RT61SV")
    );
}

#[tokio::test]
async fn bad_transaction_ids_are_refused_before_sending() {
    let w = world().await;
    let status = TransactionStatusRequest {
        transaction_id: Some("NLJ7 RT61SV; drop".into()),
        original_conversation_id: None,
        party_a: None,
        identifier_type: IdentifierType::Shortcode,
        remarks: "What happened?".into(),
        occasion: None,
        urls: urls(&w),
    };
    let err = w.client.transaction_status(&status).await.unwrap_err();
    assert!(
        matches!(
            err,
            MpesaError::Invalid {
                field: "TransactionID",
                ..
            }
        ),
        "{err}"
    );
}
