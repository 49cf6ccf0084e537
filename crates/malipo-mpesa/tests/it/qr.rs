//! Dynamic QR: a generated code decodes to a PNG; what Daraja would refuse is refused before
//! sending.

use malipo_core::{Currency, Money};
use malipo_mpesa::{DynamicQrRequest, MpesaError, QrTransaction};
use malipo_sim::mpesa::Endpoint;

use crate::support::{kes, world};

fn request(transaction: QrTransaction, credit_party: &str) -> DynamicQrRequest {
    DynamicQrRequest {
        merchant_name: "TEST SUPERMARKET".into(),
        reference: "Invoice 77".into(),
        amount: kes(1500),
        transaction,
        credit_party: credit_party.into(),
        size: 300,
    }
}

#[tokio::test]
async fn a_generated_code_is_a_png() {
    let w = world().await;
    let qr = w
        .client
        .dynamic_qr(&request(QrTransaction::BuyGoods, "373132"))
        .await
        .unwrap();
    let png = qr.png().unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(qr.request_id.is_some());
    // A phone to send money to is normalised before it is sent (the simulator refuses any
    // other form).
    w.client
        .dynamic_qr(&request(QrTransaction::SendMoney, "0708374149"))
        .await
        .unwrap();
    assert_eq!(w.sim.requests(Endpoint::DynamicQr), 2);
}

#[tokio::test]
async fn what_daraja_would_refuse_is_refused_before_sending() {
    let w = world().await;
    let cases = [
        (request(QrTransaction::SendMoney, "373132"), "CPI"),
        (request(QrTransaction::Paybill, "60-00"), "CPI"),
        (
            DynamicQrRequest {
                amount: Money::from_minor(150_050, Currency::Kes),
                ..request(QrTransaction::BuyGoods, "373132")
            },
            "Amount",
        ),
        (
            DynamicQrRequest {
                size: 5000,
                ..request(QrTransaction::BuyGoods, "373132")
            },
            "Size",
        ),
        (
            DynamicQrRequest {
                merchant_name: String::new(),
                ..request(QrTransaction::BuyGoods, "373132")
            },
            "MerchantName",
        ),
    ];
    for (req, field) in cases {
        let e = w.client.dynamic_qr(&req).await.unwrap_err();
        assert!(
            matches!(e, MpesaError::Invalid { field: f, .. } if f == field),
            "{field}: {e:?}"
        );
    }
    assert_eq!(w.sim.requests(Endpoint::DynamicQr), 0);
}
