//! Settlements and disputes against the simulator.

use futures::TryStreamExt;
use malipo_paystack::{CreateRefund, DisputeEvidence, DisputeResolution, Event, ListQuery, ResolveDispute};
use malipo_sim::paystack::SimConfig;

use super::{kes, paid, sim};

#[tokio::test]
async fn settlements_pay_out_paid_transactions_once() {
    let (sim, client) = sim(SimConfig::default()).await;
    paid(&sim, &client, "s-1", kes(10_000)).await;
    paid(&sim, &client, "s-2", kes(20_000)).await;
    client
        .create_refund(&CreateRefund::partial("s-2", kes(5_000)))
        .await
        .unwrap();
    let first = sim.settle();
    assert_eq!(first.len(), 1);
    assert!(sim.settle().is_empty(), "a transaction is settled once");
    paid(&sim, &client, "s-3", kes(1_000)).await;
    sim.settle();

    let settlements: Vec<_> = client
        .list_settlements(&ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(settlements.len(), 2);
    let oldest = &settlements[1];
    assert_eq!(oldest.total_amount, Some(30_000));
    assert_eq!(oldest.deductions, Some(5_000));
    let fees = oldest.total_fees.unwrap();
    assert_eq!(oldest.amount(), Some(kes(25_000 - fees)));

    let paid_out: Vec<_> = client
        .settlement_transactions(oldest.id.unwrap(), &ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    let mut references: Vec<_> = paid_out.iter().filter_map(|t| t.reference.clone()).collect();
    references.sort();
    assert_eq!(references, ["s-1", "s-2"]);
}

#[tokio::test]
async fn a_dispute_gets_evidence_and_is_resolved() {
    let (sim, client) = sim(SimConfig::default()).await;
    paid(&sim, &client, "disputed", kes(7_000)).await;
    let opened = sim.open_dispute("disputed").unwrap();
    let id = opened["id"].as_u64().unwrap();

    let awaiting = ListQuery {
        status: Some("awaiting-merchant-feedback".to_string()),
        ..ListQuery::default()
    };
    let listed: Vec<_> = client.list_disputes(&awaiting).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);
    let dispute = client.fetch_dispute(id).await.unwrap();
    assert_eq!(dispute.reference(), Some("disputed"));
    assert_eq!(dispute.amount(), Some(kes(7_000)));

    let evidence = client
        .add_dispute_evidence(
            id,
            &DisputeEvidence::new(
                "wanjiru@example.com",
                "Wanjiru",
                "+254700000000",
                "One pair of shoes",
            )
            .delivered("Moi Avenue, Nairobi", "2024-01-31"),
        )
        .await
        .unwrap();
    assert_eq!(evidence.dispute, Some(id));
    let upload = client.dispute_upload_url(id, "receipt.pdf").await.unwrap();
    let file = upload.file_name.clone().expect("a file name");
    assert!(upload.signed_url.is_some_and(|u| u.ends_with(&file)));

    let answer = ResolveDispute::new(DisputeResolution::Declined, "Delivered", kes(0), &file)
        .evidence(evidence.id.unwrap());
    let resolved = client.resolve_dispute(id, &answer).await.unwrap();
    assert_eq!(resolved.status.as_deref(), Some("resolved"));
    assert_eq!(resolved.resolution.as_deref(), Some("declined"));
    let again = client.resolve_dispute(id, &answer).await.unwrap_err();
    assert_eq!(again.status(), Some(400));

    let names: Vec<String> = sim
        .deliveries()
        .iter()
        .map(|d| Event::from_slice(d.body.as_bytes()).unwrap().name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "charge.success",
            "charge.dispute.create",
            "charge.dispute.resolve"
        ]
    );
}
