//! The Paystack simulator over raw HTTP: the bearer check, Paystack's envelope and paging, the
//! customer's checkout page, and webhooks whose signature a third implementation (here) accepts.

use std::time::Duration;

use hmac::{Hmac, Mac};
use malipo_sim::paystack::{PaystackSim, PaystackSimHandle, SimConfig, TEST_SECRET_KEY};
use serde_json::{json, Value};
use sha2::Sha512;

async fn post(sim: &PaystackSimHandle, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .bearer_auth(TEST_SECRET_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get(sim: &PaystackSimHandle, path: &str, key: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_api_needs_the_configured_key() {
    let sim = PaystackSim::start(SimConfig::default()).await.unwrap();
    let (status, body) = get(&sim, "transaction", "sk_test_wrong").await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"status": false, "message": "Invalid key"}));
    let no_header = reqwest::get(format!("{}transaction", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(no_header.status().as_u16(), 401);
    let (status, body) = get(&sim, "transaction", TEST_SECRET_KEY).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], json!(true));
    assert_eq!(body["meta"]["total"], json!(0));
    sim.shutdown().await;
}

#[tokio::test]
async fn amounts_as_strings_are_accepted_and_bad_input_refused() {
    let sim = PaystackSim::start(SimConfig::default()).await.unwrap();
    let (status, body) = post(
        &sim,
        "transaction/initialize",
        json!({"email": "a@example.com", "amount": "20000", "reference": "s-1"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["reference"], json!("s-1"));
    for (bad, message) in [
        (
            json!({"email": "a@example.com", "amount": 0}),
            "Invalid Amount Sent",
        ),
        (
            json!({"email": "a@example.com", "amount": "1.5"}),
            "Invalid Amount Sent",
        ),
        (
            json!({"email": "not-an-email", "amount": 1}),
            "Invalid Email Address Passed",
        ),
        (
            json!({"email": "a@example.com", "amount": 1, "currency": "EUR"}),
            "Currency not supported by merchant",
        ),
    ] {
        let (status, body) = post(&sim, "transaction/initialize", bad).await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], json!(message));
    }
}

#[tokio::test]
async fn a_customer_pays_on_the_checkout_page_and_the_webhook_verifies() {
    // A receiver that only records what it got.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Option<String>, Vec<u8>)>();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let sig = headers
                    .get("x-paystack-signature")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let _ = tx.send((sig, body.to_vec()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let config = SimConfig::default().webhook_url(format!("http://{addr}/hook").parse().unwrap());
    let sim = PaystackSim::start(config).await.unwrap();
    let (_, body) = post(
        &sim,
        "transaction/initialize",
        json!({"email": "a@example.com", "amount": 5000, "reference": "page-1"}),
    )
    .await;
    let checkout = body["data"]["authorization_url"].as_str().unwrap().to_string();

    let page = reqwest::get(&checkout).await.unwrap().text().await.unwrap();
    assert!(page.contains("page-1") && page.contains("<form"), "{page}");
    let paid = reqwest::Client::new().post(&checkout).send().await.unwrap();
    assert_eq!(paid.status().as_u16(), 200);
    // Paying twice is refused: the transaction is no longer open.
    let again = reqwest::Client::new().post(&checkout).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 400);

    let (signature, body) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let mut mac = Hmac::<Sha512>::new_from_slice(TEST_SECRET_KEY.as_bytes()).unwrap();
    mac.update(&body);
    assert_eq!(signature, Some(hex::encode(mac.finalize().into_bytes())));
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["event"], json!("charge.success"));
    assert_eq!(event["data"]["reference"], json!("page-1"));
    assert_eq!(event["data"]["amount"], json!(5000));

    let (_, verified) = get(&sim, "transaction/verify/page-1", TEST_SECRET_KEY).await;
    assert_eq!(verified["data"]["status"], json!("success"));
    let log = reqwest::get(format!("{}sim/deliveries", sim.base_url()))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(log["data"][0]["delivered"], json!(true));
}

#[tokio::test]
async fn without_a_webhook_url_deliveries_are_recorded_not_sent() {
    let sim = PaystackSim::start(SimConfig::default()).await.unwrap();
    post(
        &sim,
        "transaction/initialize",
        json!({"email": "a@example.com", "amount": 100, "reference": "quiet"}),
    )
    .await;
    let response = reqwest::Client::new()
        .post(format!("{}sim/authorize/quiet", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let log = sim.deliveries();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].event, "charge.success");
    assert!(log[0].attempts.is_empty() && !log[0].delivered);
    assert!(sim.authorize("no-such-reference").is_err());
}

#[tokio::test]
async fn authenticated_calls_are_logged_and_banks_page_by_cursor() {
    let sim = PaystackSim::start(SimConfig::default()).await.unwrap();
    let (status, _) = get(&sim, "customer", "sk_test_wrong_obviously_fake").await;
    assert_eq!(status, 401);
    let (status, first) = get(&sim, "bank?use_cursor=true&perPage=5", TEST_SECRET_KEY).await;
    assert_eq!(status, 200);
    assert_eq!(first["data"].as_array().map(Vec::len), Some(5));
    let next = first["meta"]["next"].as_str().expect("a next cursor").to_string();
    let (_, second) = get(
        &sim,
        &format!("bank?use_cursor=true&perPage=5&next={next}"),
        TEST_SECRET_KEY,
    )
    .await;
    assert!(second["meta"]["next"].is_null(), "{second}");
    assert_eq!(second["meta"]["previous"], json!("sim-0"));
    let (status, _) = get(&sim, "customer/CUS_nobody", TEST_SECRET_KEY).await;
    assert_eq!(status, 404);

    let calls: Vec<(String, String, u16)> = sim
        .api_calls()
        .into_iter()
        .map(|c| (c.method, c.path, c.status))
        .collect();
    assert_eq!(
        calls,
        [
            ("GET".to_string(), "/bank".to_string(), 200),
            ("GET".to_string(), "/bank".to_string(), 200),
            ("GET".to_string(), "/customer/CUS_nobody".to_string(), 404),
        ],
        "the refused key is not logged"
    );
    sim.shutdown().await;
}
