//! Dedicated virtual accounts against the simulator.

use futures::TryStreamExt;
use malipo_paystack::{CreateCustomer, CreateDedicatedAccount, ListDedicatedAccounts};
use malipo_sim::paystack::SimConfig;

use super::sim;

#[tokio::test]
async fn accounts_are_created_listed_fetched_requeried_and_deactivated() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let providers = client.dedicated_account_providers().await.unwrap();
    let slug = providers[0].provider_slug.clone().expect("a provider slug");
    let customer = client
        .create_customer(&CreateCustomer::new("dva@example.com").name("Ada", "Obi"))
        .await
        .unwrap();
    let code = customer.customer_code.clone().unwrap();

    let created = client
        .create_dedicated_account(&CreateDedicatedAccount::new(&code).preferred_bank(&slug))
        .await
        .unwrap();
    let id = created.id.expect("an id");
    let number = created.account_number.clone().expect("an account number");
    assert_eq!(created.active, Some(true));
    assert_eq!(
        created.bank.as_ref().and_then(|b| b.slug.as_deref()),
        Some(slug.as_str())
    );
    assert_eq!(
        created.customer.as_ref().and_then(|c| c.customer_code.as_deref()),
        Some(code.as_str())
    );
    let err = client
        .create_dedicated_account(&CreateDedicatedAccount::new("CUS_nobody"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));

    assert_eq!(
        client.fetch_dedicated_account(id).await.unwrap().account_number,
        Some(number.clone())
    );
    let mine = ListDedicatedAccounts::new().customer(customer.id.unwrap());
    let listed: Vec<_> = client.list_dedicated_accounts(&mine).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);

    let message = client
        .requery_dedicated_account(&number, &slug, Some("2024-01-31"))
        .await
        .unwrap();
    assert!(message.starts_with("We are checking"), "{message}");
    assert!(client.requery_dedicated_account("1", &slug, None).await.is_err());

    let deactivated = client.deactivate_dedicated_account(id).await.unwrap();
    assert_eq!(deactivated.active, Some(false));
    let active: Vec<_> = client
        .list_dedicated_accounts(&ListDedicatedAccounts::default())
        .try_collect()
        .await
        .unwrap();
    assert!(active.is_empty());
    let inactive = ListDedicatedAccounts::new().inactive();
    let listed: Vec<_> = client
        .list_dedicated_accounts(&inactive)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}
