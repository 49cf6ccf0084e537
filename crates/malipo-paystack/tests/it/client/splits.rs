//! Subaccounts and transaction splits against the simulator.

use futures::TryStreamExt;
use malipo_core::Currency;
use malipo_paystack::{
    Bearer, CreateSplit, CreateSubaccount, Error, ListQuery, SplitShare, SplitType, UpdateSplit,
};
use malipo_sim::paystack::SimConfig;

use super::sim;

#[tokio::test]
async fn subaccounts_are_created_fetched_listed_and_updated() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let shop = CreateSubaccount::new("Duka La Mama", "01", "0123456789", 18.5)
        .description("Nairobi shop")
        .primary_contact_email("mama@example.com");
    let created = client.create_subaccount(&shop).await.unwrap();
    let code = created.subaccount_code.clone().expect("a subaccount code");
    assert!(code.starts_with("ACCT_"), "{code}");
    assert_eq!(
        created.settlement_bank.as_deref(),
        Some("KCB Bank"),
        "the bank's name"
    );
    assert_eq!(created.percentage_charge, Some(18.5));

    assert_eq!(
        client
            .fetch_subaccount(&code)
            .await
            .unwrap()
            .business_name
            .as_deref(),
        Some("Duka La Mama")
    );
    let moved = CreateSubaccount::new("Duka La Mama", "68", "9876543210", 20.0);
    let updated = client.update_subaccount(&code, &moved).await.unwrap();
    assert_eq!(updated.settlement_bank.as_deref(), Some("Equity Bank"));
    assert_eq!(updated.account_number.as_deref(), Some("9876543210"));

    client
        .create_subaccount(&CreateSubaccount::new("Second", "01", "1111111111", 10.0))
        .await
        .unwrap();
    let listed: Vec<_> = client
        .list_subaccounts(&ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);

    let over = CreateSubaccount::new("Greedy", "01", "1", 150.0);
    assert!(matches!(
        client.create_subaccount(&over).await,
        Err(Error::InvalidRequest(_))
    ));
    let unknown_bank = CreateSubaccount::new("Nowhere", "999", "1", 10.0);
    assert_eq!(
        client
            .create_subaccount(&unknown_bank)
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );
}

#[tokio::test]
async fn splits_share_payments_among_subaccounts() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let mut codes = Vec::new();
    for (name, account) in [("A", "0000000001"), ("B", "0000000002"), ("C", "0000000003")] {
        let sub = client
            .create_subaccount(&CreateSubaccount::new(name, "01", account, 10.0))
            .await
            .unwrap();
        codes.push(sub.subaccount_code.unwrap());
    }
    let create = CreateSplit::new(
        "Marketplace",
        SplitType::Percentage,
        Currency::Kes,
        vec![SplitShare::new(&codes[0], 20), SplitShare::new(&codes[1], 30)],
    )
    .bearer(Bearer::AllProportional);
    let split = client.create_split(&create).await.unwrap();
    let id = split.id.expect("an id");
    assert!(split.split_code.as_deref().is_some_and(|c| c.starts_with("SPL_")));
    assert_eq!(split.bearer_type.as_deref(), Some("all-proportional"));
    assert_eq!(split.subaccounts.len(), 2);
    assert_eq!(
        split.subaccounts[0]
            .subaccount
            .as_ref()
            .and_then(|s| s.subaccount_code.as_deref()),
        Some(codes[0].as_str()),
        "members come back expanded"
    );

    let grown = client
        .add_split_subaccount(id, &SplitShare::new(&codes[2], 10))
        .await
        .unwrap();
    assert_eq!(grown.subaccounts.len(), 3);
    let message = client.remove_split_subaccount(id, &codes[0]).await.unwrap();
    assert_eq!(message, "Subaccount removed");
    let fetched = client.fetch_split(id).await.unwrap();
    let shares: Vec<_> = fetched.subaccounts.iter().filter_map(|m| m.share).collect();
    assert_eq!(shares, [30, 10]);

    let renamed = client
        .update_split(id, &UpdateSplit::new().name("Bazaar").active(false))
        .await
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Bazaar"));
    assert_eq!(renamed.active, Some(false));
    let listed: Vec<_> = client
        .list_splits(&ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);

    let nobody = CreateSplit::new("Empty", SplitType::Flat, Currency::Kes, Vec::new());
    assert!(matches!(
        client.create_split(&nobody).await,
        Err(Error::InvalidRequest(_))
    ));
    let stranger = CreateSplit::new(
        "Stranger",
        SplitType::Flat,
        Currency::Kes,
        vec![SplitShare::new("ACCT_nobody", 100)],
    );
    assert_eq!(
        client.create_split(&stranger).await.unwrap_err().status(),
        Some(404)
    );
}
