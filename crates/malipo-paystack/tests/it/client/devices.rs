//! Bulk charges, Apple Pay domains and terminals against the simulator.

use futures::TryStreamExt;
use malipo_paystack::{BulkChargeItem, Error, Event, ListQuery, TerminalEvent};
use malipo_sim::paystack::SimConfig;

use super::{kes, paid, sim};

#[tokio::test]
async fn a_bulk_charge_batch_is_paused_resumed_and_run() {
    let (sim, client) = sim(SimConfig::default()).await;
    paid(&sim, &client, "saved", kes(100)).await;
    let code = client
        .verify_transaction("saved")
        .await
        .unwrap()
        .authorization
        .and_then(|a| a.authorization_code)
        .unwrap();
    let batch = client
        .initiate_bulk_charge(&[
            BulkChargeItem::new(&code, kes(1_000), "bulk-1"),
            BulkChargeItem::new("AUTH_unknown", kes(2_000), "bulk-2"),
        ])
        .await
        .unwrap();
    let batch_code = batch.batch_code.clone().expect("a batch code");
    assert_eq!(batch.total_charges, Some(2));
    assert_eq!(batch.pending_charges, Some(2));
    assert!(client.initiate_bulk_charge(&[]).await.is_err());

    client.pause_bulk_charge_batch(&batch_code).await.unwrap();
    assert_eq!(sim.run_bulk_charges(), 0, "a paused batch waits");
    client.resume_bulk_charge_batch(&batch_code).await.unwrap();
    assert_eq!(sim.run_bulk_charges(), 2);

    let done = client.fetch_bulk_charge_batch(&batch_code).await.unwrap();
    assert_eq!(done.status.as_deref(), Some("complete"));
    assert_eq!(done.pending_charges, Some(0));
    let failed = ListQuery {
        status: Some("failed".to_string()),
        ..ListQuery::default()
    };
    let charges: Vec<_> = client
        .bulk_charge_batch_charges(&batch_code, &failed)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount(), Some(kes(2_000)));
    assert!(client.verify_transaction("bulk-1").await.unwrap().is_successful());
    let batches: Vec<_> = client
        .list_bulk_charge_batches(&ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(batches.len(), 1);

    // A blank batch code would address `/bulkcharge//charges`: refused before sending.
    let err = client
        .bulk_charge_batch_charges(" ", &ListQuery::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");

    let charged = sim
        .deliveries()
        .iter()
        .filter(|d| Event::from_slice(d.body.as_bytes()).unwrap().reference() == Some("bulk-1"))
        .count();
    assert_eq!(charged, 1);
}

#[tokio::test]
async fn apple_pay_domains_are_registered_listed_and_unregistered() {
    let (_sim, client) = sim(SimConfig::default()).await;
    client
        .register_apple_pay_domain("shop.example.com")
        .await
        .unwrap();
    client.register_apple_pay_domain("pay.example.com").await.unwrap();
    assert_eq!(
        client.list_apple_pay_domains().await.unwrap(),
        ["shop.example.com", "pay.example.com"]
    );
    client
        .unregister_apple_pay_domain("shop.example.com")
        .await
        .unwrap();
    assert_eq!(
        client.list_apple_pay_domains().await.unwrap(),
        ["pay.example.com"]
    );
    let err = client
        .unregister_apple_pay_domain("shop.example.com")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn terminals_are_commissioned_listed_updated_and_sent_events() {
    let (_sim, client) = sim(SimConfig::default()).await;
    for serial in ["SN-1", "SN-2", "SN-3"] {
        client.commission_terminal(serial).await.unwrap();
    }
    assert_eq!(
        client.commission_terminal("SN-1").await.unwrap_err().status(),
        Some(400)
    );
    let terminals: Vec<_> = client.list_terminals(Some(2)).try_collect().await.unwrap();
    assert_eq!(terminals.len(), 3, "two pages by cursor");
    let id = terminals[0].terminal_id.clone().expect("a terminal id");

    client.update_terminal(&id, "Till 1", "Moi Avenue").await.unwrap();
    let fetched = client.fetch_terminal(&id).await.unwrap();
    assert_eq!(fetched.name.as_deref(), Some("Till 1"));
    assert_eq!(fetched.address.as_deref(), Some("Moi Avenue"));

    let presence = client.terminal_presence(&id).await.unwrap();
    assert_eq!((presence.online, presence.available), (Some(true), Some(true)));
    let event = TerminalEvent::ProcessInvoice {
        id: 42,
        reference: "4000000042".to_string(),
    };
    let event_id = client.send_terminal_event(&id, &event).await.unwrap();
    assert!(client.terminal_event_delivered(&id, &event_id).await.unwrap());
    assert!(!client.terminal_event_delivered(&id, "999").await.unwrap());

    client.decommission_terminal("SN-3").await.unwrap();
    let left: Vec<_> = client.list_terminals(None).try_collect().await.unwrap();
    assert_eq!(left.len(), 2);
}
