//! Bill Manager: opt in, invoice (single and bulk), a customer pays an invoice's account, the
//! payment is pushed to the opt-in callback URL and acknowledged; a paid invoice cannot be
//! cancelled, an unpaid one can.

use chrono::NaiveDate;
use malipo_mpesa::{
    parse_bill_manager_payment, BillManagerOptIn, C2bCommand, C2bSimulateRequest, Invoice, InvoiceItem,
    MpesaError, PaymentAcknowledgement,
};
use malipo_sim::mpesa::Endpoint;

use crate::support::{kes, phone, world, World};

fn opt_in(w: &World) -> BillManagerOptIn {
    BillManagerOptIn {
        shortcode: None,
        email: "billing@shop.example.com".into(),
        official_contact: phone("0710000000"),
        send_reminders: true,
        logo: None,
        callback_url: w.receiver.url("raw-billmanager"),
    }
}

fn invoice(external: &str, account: &str, amount: u64) -> Invoice {
    Invoice {
        external_reference: external.into(),
        billed_full_name: "John Doe".into(),
        billed_phone: phone("254708374149"),
        billed_period: "December 2026".into(),
        invoice_name: "Water supply".into(),
        due_date: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        account_reference: account.into(),
        amount: kes(amount),
        items: vec![
            InvoiceItem {
                name: "water".into(),
                amount: kes(amount - 100),
            },
            InvoiceItem {
                name: "meter".into(),
                amount: kes(100),
            },
        ],
    }
}

#[tokio::test]
async fn an_invoice_is_paid_pushed_acknowledged_and_then_cannot_be_cancelled() {
    let mut w = world().await;
    let opted = w.client.bill_manager_opt_in(&opt_in(&w)).await.unwrap();
    assert_eq!(opted.rescode, "200");
    assert!(opted.app_key.is_some());
    w.client
        .bill_manager_invoice(&invoice("INV-1", "G70", 800))
        .await
        .unwrap();
    w.client
        .bill_manager_bulk_invoices(&[invoice("INV-2", "G71", 500), invoice("INV-3", "G72", 600)])
        .await
        .unwrap();

    // The customer pays INV-1's account through the paybill.
    w.client
        .simulate_c2b(&C2bSimulateRequest {
            shortcode: None,
            command: C2bCommand::CustomerPayBillOnline,
            amount: kes(800),
            phone: phone("0708374149"),
            bill_ref_number: Some("G70".into()),
        })
        .await
        .unwrap();
    let (path, body) = w.receiver.next_raw().await;
    assert_eq!(path, "raw-billmanager");
    let payment = parse_bill_manager_payment(&body).unwrap();
    assert_eq!(payment.account_reference, "G70");
    assert_eq!(payment.amount(), Some(kes(800)));
    let ack = w
        .client
        .bill_manager_acknowledge(&PaymentAcknowledgement {
            payment_date: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
            paid_amount: kes(800),
            account_reference: payment.account_reference.clone(),
            transaction_id: payment.transaction_id.clone(),
            phone: payment.phone().unwrap(),
            full_name: "John Doe".into(),
            invoice_name: "Water supply".into(),
            external_reference: "INV-1".into(),
        })
        .await
        .unwrap();
    assert_eq!(ack.resmsg, "Success");

    let refused = w.client.bill_manager_cancel_invoice("INV-1").await.unwrap_err();
    assert!(
        matches!(&refused, MpesaError::Rejected { response_code, description, .. }
            if response_code == "409" && description.contains("cannot be cancelled")),
        "{refused:?}"
    );
    w.client.bill_manager_cancel_invoice("INV-2").await.unwrap();
    w.client.bill_manager_cancel_invoices(&["INV-3"]).await.unwrap();
    let gone = w.client.bill_manager_cancel_invoice("INV-3").await.unwrap_err();
    assert!(
        matches!(&gone, MpesaError::Rejected { response_code, .. } if response_code == "404"),
        "{gone:?}"
    );
}

#[tokio::test]
async fn invoicing_before_opting_in_is_refused_with_bill_managers_reason() {
    let w = world().await;
    let e = w
        .client
        .bill_manager_invoice(&invoice("INV-9", "A1", 300))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not opted in"), "{e}");
}

#[tokio::test]
async fn what_bill_manager_would_refuse_is_refused_before_sending() {
    let w = world().await;
    let mut cents = invoice("INV-4", "A1", 300);
    cents.amount = malipo_core::Money::from_minor(30_050, malipo_core::Currency::Kes);
    let e = w.client.bill_manager_invoice(&cents).await.unwrap_err();
    assert!(matches!(e, MpesaError::Invalid { field: "amount", .. }), "{e:?}");
    let e = w.client.bill_manager_bulk_invoices(&[]).await.unwrap_err();
    assert!(
        matches!(
            e,
            MpesaError::Invalid {
                field: "invoices",
                ..
            }
        ),
        "{e:?}"
    );
    let mut bad_email = opt_in(&w);
    bad_email.email = "billing".into();
    let e = w.client.bill_manager_opt_in(&bad_email).await.unwrap_err();
    assert!(matches!(e, MpesaError::Invalid { field: "email", .. }), "{e:?}");
    assert_eq!(w.sim.requests(Endpoint::BillManager), 0);
}
