//! Customers against the simulator.

use futures::{StreamExt, TryStreamExt};
use malipo_core::{Currency, Money};
use malipo_paystack::{
    ChargeAuthorization, CreateCustomer, Event, ListQuery, RiskAction, UpdateCustomer, ValidateCustomer,
};
use malipo_sim::paystack::{SimConfig, FAILING_ACCOUNT_NUMBER};
use serde_json::json;

use super::{kes, paid, sim};

#[tokio::test]
async fn create_fetch_update_and_list_customers() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let created = client
        .create_customer(
            &CreateCustomer::new("amina@example.com")
                .name("Amina", "Otieno")
                .phone("+254700000001")
                .metadata(json!({"tier": "gold"})),
        )
        .await
        .unwrap();
    let code = created.customer_code.clone().expect("a customer code");
    assert!(code.starts_with("CUS_"), "{code}");
    assert_eq!(created.first_name.as_deref(), Some("Amina"));
    assert_eq!(created.risk_action.as_deref(), Some("default"));

    // By code and by email.
    assert_eq!(client.fetch_customer(&code).await.unwrap().id, created.id);
    let by_email = client.fetch_customer("amina@example.com").await.unwrap();
    assert_eq!(by_email.customer_code.as_deref(), Some(code.as_str()));

    let updated = client
        .update_customer(&code, &UpdateCustomer::new().phone("+254700000002"))
        .await
        .unwrap();
    assert_eq!(updated.phone.as_deref(), Some("+254700000002"));
    assert_eq!(
        updated.last_name.as_deref(),
        Some("Otieno"),
        "untouched fields stay"
    );
    assert_eq!(updated.metadata, Some(json!({"tier": "gold"})));

    for i in 0..4 {
        client
            .create_customer(&CreateCustomer::new(format!("c{i}@example.com")))
            .await
            .unwrap();
    }
    let query = ListQuery {
        per_page: Some(2),
        ..ListQuery::default()
    };
    let all: Vec<_> = client.list_customers(&query).try_collect().await.unwrap();
    let mut emails: Vec<_> = all.iter().filter_map(|c| c.email.clone()).collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            "amina@example.com",
            "c0@example.com",
            "c1@example.com",
            "c2@example.com",
            "c3@example.com"
        ]
    );

    let err = client.fetch_customer("CUS_nobody").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(client.fetch_customer(" ").await.is_err());
}

#[tokio::test]
async fn the_item_stream_fetches_a_page_only_when_it_is_needed() {
    let (sim, client) = sim(SimConfig::default()).await;
    for i in 0..5 {
        client
            .create_customer(&CreateCustomer::new(format!("lazy{i}@example.com")))
            .await
            .unwrap();
    }
    let listed = |sim: &malipo_sim::paystack::PaystackSimHandle| {
        sim.api_calls()
            .iter()
            .filter(|c| c.method == "GET" && c.path == "/customer")
            .count()
    };
    let query = ListQuery {
        per_page: Some(2),
        ..ListQuery::default()
    };
    let mut stream = client.list_customers(&query);
    assert_eq!(listed(&sim), 0, "nothing is fetched before the first poll");
    let first_two: Vec<_> = (&mut stream).take(2).try_collect().await.unwrap();
    assert_eq!(first_two.len(), 2);
    assert_eq!(listed(&sim), 1);
    let third = stream.try_next().await.unwrap();
    assert!(third.is_some());
    assert_eq!(listed(&sim), 2);
    let rest: Vec<_> = stream.try_collect().await.unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(listed(&sim), 3, "three pages of two, and no fourth request");
}

#[tokio::test]
async fn validation_answers_at_once_and_reports_by_webhook() {
    let (sim, client) = sim(SimConfig::default()).await;
    let code = client
        .create_customer(&CreateCustomer::new("id@example.com"))
        .await
        .unwrap()
        .customer_code
        .unwrap();
    let ok = ValidateCustomer::bank_account("NG", "20012345677", "007", "0123456789", "Ada", "Obi");
    let message = client.validate_customer(&code, &ok).await.unwrap();
    assert_eq!(message, "Customer Identification in progress");
    let bad =
        ValidateCustomer::bank_account("NG", "20012345677", "007", FAILING_ACCOUNT_NUMBER, "Ada", "Obi");
    client.validate_customer(&code, &bad).await.unwrap();

    let events: Vec<Event> = sim
        .deliveries()
        .iter()
        .map(|d| Event::from_slice(d.body.as_bytes()).unwrap())
        .collect();
    assert!(
        matches!(&events[0], Event::CustomerIdentificationSuccess(c) if c.customer_code.as_deref() == Some(code.as_str()))
    );
    assert!(matches!(&events[1], Event::CustomerIdentificationFailed(c) if c.reason.is_some()));
    assert_eq!(client.fetch_customer(&code).await.unwrap().identified, Some(true));
}

#[tokio::test]
async fn risk_actions_and_deactivated_authorizations() {
    let (sim, client) = sim(SimConfig::default()).await;
    client
        .create_customer(&CreateCustomer::new("wanjiru@example.com"))
        .await
        .unwrap();
    let listed = client
        .set_customer_risk_action("wanjiru@example.com", RiskAction::Deny)
        .await
        .unwrap();
    assert_eq!(listed.risk_action.as_deref(), Some("deny"));
    let allowed = client
        .set_customer_risk_action("wanjiru@example.com", RiskAction::Allow)
        .await
        .unwrap();
    assert_eq!(allowed.risk_action.as_deref(), Some("allow"));

    paid(&sim, &client, "saved-card", kes(1_000)).await;
    let code = client
        .verify_transaction("saved-card")
        .await
        .unwrap()
        .authorization
        .and_then(|a| a.authorization_code)
        .unwrap();
    let message = client.deactivate_authorization(&code).await.unwrap();
    assert_eq!(message, "Authorization has been deactivated");
    let again = ChargeAuthorization::new(
        "wanjiru@example.com",
        Money::from_minor(500, Currency::Kes),
        &code,
    );
    let err = client.charge_authorization(&again).await.unwrap_err();
    assert_eq!(err.message(), Some("Invalid authorization code"));
}
