//! Transfer recipients (bulk create, list, fetch, update, delete) and the balance.

use futures::TryStreamExt;
use malipo_core::Currency;
use malipo_paystack::{CreateTransferRecipient, InitiateTransfer, ListQuery, UpdateTransferRecipient};
use malipo_sim::paystack::SimConfig;

use super::{kes, paid, sim};

fn mobile(name: &str, number: &str) -> CreateTransferRecipient {
    CreateTransferRecipient::new("mobile_money", name, number, "MPESA").currency(Currency::Kes)
}

#[tokio::test]
async fn recipients_are_created_in_bulk_listed_updated_and_deleted() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let bulk = client
        .bulk_create_transfer_recipients(&[
            mobile("Achieng", "0711000001"),
            mobile("Baraka", "0711000002"),
            // No account number: refused on its own, the others still created.
            CreateTransferRecipient::new("mobile_money", "Chebet", "", "MPESA"),
        ])
        .await
        .unwrap();
    assert_eq!(bulk.success.len(), 2);
    assert_eq!(bulk.errors.len(), 1);
    assert!(client.bulk_create_transfer_recipients(&[]).await.is_err());

    let query = ListQuery {
        per_page: Some(1),
        ..ListQuery::default()
    };
    let listed: Vec<_> = client
        .list_transfer_recipients(&query)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);

    let code = bulk.success[0].recipient_code.clone().unwrap();
    let fetched = client.fetch_transfer_recipient(&code).await.unwrap();
    assert_eq!(fetched.name.as_deref(), Some("Achieng"));
    let by_id = client
        .fetch_transfer_recipient(&fetched.id.unwrap().to_string())
        .await
        .unwrap();
    assert_eq!(by_id.recipient_code.as_deref(), Some(code.as_str()));

    let update = UpdateTransferRecipient::new("Achieng Atieno").email("achieng@example.com");
    client.update_transfer_recipient(&code, &update).await.unwrap();
    let renamed = client.fetch_transfer_recipient(&code).await.unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Achieng Atieno"));
    assert_eq!(renamed.email.as_deref(), Some("achieng@example.com"));

    let message = client.delete_transfer_recipient(&code).await.unwrap();
    assert_eq!(message, "Transfer recipient set as inactive");
    assert_eq!(
        client.fetch_transfer_recipient(&code).await.unwrap_err().status(),
        Some(404)
    );
    let err = client
        .initiate_transfer(&InitiateTransfer::new(kes(100), &code))
        .await
        .unwrap_err();
    assert_eq!(err.message(), Some("Recipient specified is invalid"));
    let left: Vec<_> = client
        .list_transfer_recipients(&ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
}

#[tokio::test]
async fn the_balance_and_its_ledger_follow_payments_refunds_and_transfers() {
    let (sim, client) = sim(SimConfig::default()).await;
    let start = client.balance().await.unwrap();
    assert_eq!(start.len(), 1);
    assert_eq!(start[0].amount(), Some(kes(0)));

    paid(&sim, &client, "in-1", kes(10_000)).await;
    paid(&sim, &client, "in-2", kes(5_000)).await;
    client
        .create_refund(&malipo_paystack::CreateRefund::partial("in-2", kes(1_000)))
        .await
        .unwrap();
    let recipient = client
        .create_transfer_recipient(&mobile("Achieng", "0711000001"))
        .await
        .unwrap()
        .recipient_code
        .unwrap();
    client
        .initiate_transfer(&InitiateTransfer::new(kes(4_000), recipient).reason("Payout"))
        .await
        .unwrap();

    let balance = client.balance().await.unwrap();
    assert_eq!(balance[0].amount(), Some(kes(10_000)));
    let query = ListQuery {
        per_page: Some(3),
        ..ListQuery::default()
    };
    let ledger: Vec<_> = client.balance_ledger(&query).try_collect().await.unwrap();
    assert_eq!(ledger.len(), 4);
    let newest = &ledger[0];
    assert_eq!(newest.difference, Some(-4_000));
    assert_eq!(newest.balance, Some(10_000));
    assert_eq!(newest.model_responsible.as_deref(), Some("Transfer"));
    assert_eq!(newest.reason.as_deref(), Some("Payout"));
    let total: i64 = ledger.iter().filter_map(|e| e.difference).sum();
    assert_eq!(total, 10_000);
}
