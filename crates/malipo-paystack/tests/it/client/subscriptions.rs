//! Plans and subscriptions against the simulator.

use futures::TryStreamExt;
use malipo_paystack::{
    CreateCustomer, CreatePlan, CreateSubscription, Event, Interval, ListPlans, ListSubscriptions,
};
use malipo_sim::paystack::SimConfig;

use super::{kes, paid, sim};

#[tokio::test]
async fn plans_are_created_fetched_listed_and_updated() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let monthly = client
        .create_plan(&CreatePlan::new("Gold", kes(50_000), Interval::Monthly).description("Gold tier"))
        .await
        .unwrap();
    let code = monthly.plan_code.clone().expect("a plan code");
    assert!(code.starts_with("PLN_"));
    assert_eq!(monthly.amount(), Some(kes(50_000)));
    assert_eq!(monthly.interval.as_deref(), Some("monthly"));
    client
        .create_plan(&CreatePlan::new("Daily", kes(100), Interval::Daily))
        .await
        .unwrap();

    let by_id = client.fetch_plan(&monthly.id.unwrap().to_string()).await.unwrap();
    assert_eq!(by_id.plan_code.as_deref(), Some(code.as_str()));

    let filter = ListPlans::new().interval(Interval::Daily);
    let daily: Vec<_> = client.list_plans(&filter).try_collect().await.unwrap();
    assert_eq!(daily.len(), 1);
    assert_eq!(daily[0].name.as_deref(), Some("Daily"));
    let all: Vec<_> = client
        .list_plans(&ListPlans::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);

    let message = client
        .update_plan(&code, &CreatePlan::new("Gold", kes(60_000), Interval::Monthly))
        .await
        .unwrap();
    assert_eq!(message, "Plan updated. 0 subscription(s) affected");
    assert_eq!(
        client.fetch_plan(&code).await.unwrap().amount(),
        Some(kes(60_000))
    );
    assert_eq!(
        client.fetch_plan("PLN_none").await.unwrap_err().status(),
        Some(404)
    );
}

#[tokio::test]
async fn a_subscription_is_created_disabled_enabled_and_managed() {
    let (sim, client) = sim(SimConfig::default()).await;
    let plan = client
        .create_plan(&CreatePlan::new("Gold", kes(50_000), Interval::Monthly))
        .await
        .unwrap();
    let plan_code = plan.plan_code.clone().unwrap();
    let customer = client
        .create_customer(&CreateCustomer::new("wanjiru@example.com"))
        .await
        .unwrap();
    let customer_code = customer.customer_code.clone().unwrap();

    // Paystack charges a saved card: a customer who never paid cannot subscribe.
    let create = CreateSubscription::new(&customer_code, &plan_code);
    let err = client.create_subscription(&create).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    paid(&sim, &client, "first-payment", kes(50_000)).await;
    let created = client.create_subscription(&create).await.unwrap();
    let code = created.subscription_code.clone().expect("a subscription code");
    let token = created.email_token.clone().expect("an email token");
    assert_eq!(created.status.as_deref(), Some("active"));
    assert_eq!(created.plan, None, "the create answer names the plan by id only");

    let fetched = client.fetch_subscription(&code).await.unwrap();
    assert_eq!(fetched.amount(), Some(kes(50_000)));
    assert_eq!(
        fetched.customer.as_ref().and_then(|c| c.email.as_deref()),
        Some("wanjiru@example.com")
    );

    let mine = ListSubscriptions::new().customer(customer.id.unwrap());
    let listed: Vec<_> = client.list_subscriptions(&mine).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);
    let others = ListSubscriptions::new().plan(1);
    assert!(client
        .list_subscriptions(&others)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .is_empty());

    let err = client
        .disable_subscription(&code, "wrong-token")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    let message = client.disable_subscription(&code, &token).await.unwrap();
    assert_eq!(message, "Subscription disabled successfully");
    assert_eq!(
        client.fetch_subscription(&code).await.unwrap().status.as_deref(),
        Some("complete")
    );
    client.enable_subscription(&code, &token).await.unwrap();
    assert_eq!(
        client.fetch_subscription(&code).await.unwrap().status.as_deref(),
        Some("active")
    );

    let link = client.subscription_manage_link(&code).await.unwrap();
    assert!(link.contains(&code) && link.contains(&token), "{link}");
    assert_eq!(
        client.email_subscription_manage_link(&code).await.unwrap(),
        "Email successfully sent"
    );

    let names: Vec<String> = sim
        .deliveries()
        .iter()
        .map(|d| Event::from_slice(d.body.as_bytes()).unwrap().name().to_string())
        .collect();
    assert_eq!(
        names,
        ["charge.success", "subscription.create", "subscription.disable"]
    );
}
