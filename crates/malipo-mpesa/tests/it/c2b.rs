//! C2B: register the URLs, simulate a payment, receive validation and confirmation.

use malipo_mpesa::{
    C2bCommand, C2bResponseType, C2bSimulateRequest, C2bVersion, Callback, MpesaError, RegisterUrlsRequest,
};

use crate::support::{kes, phone, world};

fn register(w: &crate::support::World, version: C2bVersion) -> RegisterUrlsRequest {
    RegisterUrlsRequest {
        shortcode: None,
        response_type: C2bResponseType::Completed,
        confirmation_url: w.receiver.url("c2b-confirm"),
        validation_url: w.receiver.url("c2b-validate"),
        version,
    }
}

fn simulate(amount: u64) -> C2bSimulateRequest {
    C2bSimulateRequest {
        shortcode: None,
        command: C2bCommand::CustomerPayBillOnline,
        amount: kes(amount),
        phone: phone("0708374149"),
        bill_ref_number: Some("ACC-778".into()),
    }
}

#[tokio::test]
async fn validation_then_confirmation_reach_the_registered_urls() {
    let mut w = world().await;
    let answer = w
        .client
        .register_c2b_urls(&register(&w, C2bVersion::V1))
        .await
        .unwrap();
    assert_eq!(answer.response_code, "0");
    assert!(
        answer.originator_conversation_id.is_some(),
        "read from Daraja's misspelt field"
    );
    w.client.simulate_c2b(&simulate(250)).await.unwrap();

    let validation = w.receiver.next().await;
    let Callback::C2bValidation(v) = &validation.callback else {
        panic!("{validation:?}")
    };
    assert_eq!(v.amount(), Some(kes(250)));
    assert_eq!(v.bill_ref_number, "ACC-778");
    let confirmation = w.receiver.next().await;
    let Callback::C2bConfirmation(c) = &confirmation.callback else {
        panic!("{confirmation:?}")
    };
    assert_eq!(c.trans_id, v.trans_id);
    assert_eq!(c.phone(), Some(phone("254708374149")));
    assert_eq!(
        confirmation.callback.dedup_key(),
        format!("c2b_confirmation:{}", c.trans_id)
    );
}

#[tokio::test]
async fn v2_masks_the_msisdn_and_a_rejected_validation_gets_no_confirmation() {
    let mut w = world().await;
    w.client
        .register_c2b_urls(&register(&w, C2bVersion::V2))
        .await
        .unwrap();
    w.client.simulate_c2b(&simulate(10)).await.unwrap();
    w.receiver.next().await;
    let Callback::C2bConfirmation(c) = w.receiver.next().await.callback else {
        panic!()
    };
    assert_eq!(c.phone(), None, "masked: {}", c.msisdn);

    w.receiver.reject_validation().await;
    w.client.simulate_c2b(&simulate(11)).await.unwrap();
    assert!(matches!(
        w.receiver.next().await.callback,
        Callback::C2bValidation(_)
    ));
    // Wait until the simulator has recorded its attempts, then check no confirmation followed.
    let sent = loop {
        let sent = w.sim.sent_callbacks();
        if sent.len() >= 3 {
            break sent;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        w.sim.sent_callbacks().len(),
        sent.len(),
        "no confirmation after a rejection"
    );
    assert!(w.receiver.nothing_pending());
}

#[tokio::test]
async fn urls_with_words_daraja_refuses_are_caught_before_sending() {
    let w = world().await;
    let mut request = register(&w, C2bVersion::V1);
    request.confirmation_url = "https://shop.example.com/mpesa/confirm".parse().unwrap();
    let err = w.client.register_c2b_urls(&request).await.unwrap_err();
    assert!(
        matches!(
            err,
            MpesaError::Invalid {
                field: "ConfirmationURL",
                ..
            }
        ),
        "{err}"
    );
}
