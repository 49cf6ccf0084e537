//! The Daraja simulator's own checks, over raw HTTP (no client library in between).

use std::time::Duration;

use base64::Engine as _;
use malipo_sim::mpesa::{Endpoint, MpesaSim, MpesaSimHandle, SimConfig, SANDBOX_PASSKEY};
use serde_json::{json, Value};

async fn sim() -> MpesaSimHandle {
    MpesaSim::start(SimConfig::default().callback_delay(Duration::from_millis(10)))
        .await
        .unwrap()
}

fn url(sim: &MpesaSimHandle, path: &str) -> String {
    sim.base_url().join(path).unwrap().to_string()
}

async fn token(sim: &MpesaSimHandle) -> String {
    let answer: Value = reqwest::Client::new()
        .get(url(sim, "oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth("sim-consumer-key", Some("sim-consumer-secret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["expires_in"], "3599", "a string, like Daraja's");
    answer["access_token"].as_str().unwrap().to_string()
}

fn nairobi_timestamp(offset_hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(offset_hours))
        .format("%Y%m%d%H%M%S")
        .to_string()
}

fn stk_body(timestamp: &str, passkey: &str) -> Value {
    let password = base64::engine::general_purpose::STANDARD.encode(format!("174379{passkey}{timestamp}"));
    json!({
        "BusinessShortCode": "174379",
        "Password": password,
        "Timestamp": timestamp,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 1,
        "PartyA": 254708374149u64,
        "PartyB": 174379,
        "PhoneNumber": "254708374149",
        "CallBackURL": "http://127.0.0.1:9/hooks/stk",
        "AccountReference": "Test",
        "TransactionDesc": "Test",
    })
}

async fn post(sim: &MpesaSimHandle, token: Option<&str>, path: &str, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url(sim, path)).json(body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const STK: &str = "mpesa/stkpush/v1/processrequest";

#[tokio::test]
async fn the_token_endpoint_checks_basic_auth_and_grant_type() {
    let sim = sim().await;
    let client = reqwest::Client::new();
    let wrong = client
        .get(url(&sim, "oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth("sim-consumer-key", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 400);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["errorCode"], "400.008.01");

    let grant = client
        .get(url(&sim, "oauth/v1/generate?grant_type=password"))
        .basic_auth("sim-consumer-key", Some("sim-consumer-secret"))
        .send()
        .await
        .unwrap();
    let body: Value = grant.json().await.unwrap();
    assert_eq!(body["errorCode"], "400.008.02");
    assert!(!token(&sim).await.is_empty());
    assert_eq!(sim.token_requests(), 3);
}

#[tokio::test]
async fn calls_need_a_valid_bearer_token() {
    let sim = sim().await;
    let body = stk_body(&nairobi_timestamp(3), SANDBOX_PASSKEY);
    let (status, answer) = post(&sim, None, STK, &body).await;
    assert_eq!((status, answer["errorCode"].as_str()), (404, Some("404.001.04")));
    let (status, answer) = post(&sim, Some("made-up"), STK, &body).await;
    assert_eq!((status, answer["errorCode"].as_str()), (404, Some("404.001.03")));
    assert!(answer["requestId"].as_str().is_some_and(|r| !r.is_empty()));

    let t = token(&sim).await;
    let (status, answer) = post(&sim, Some(&t), STK, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ResponseCode"], "0");
    sim.expire_tokens();
    let (_, answer) = post(&sim, Some(&t), STK, &body).await;
    assert_eq!(answer["errorCode"], "404.001.03");
}

#[tokio::test]
async fn the_stk_password_and_nairobi_timestamp_are_checked() {
    let sim = sim().await;
    let t = token(&sim).await;
    let (status, answer) = post(
        &sim,
        Some(&t),
        STK,
        &stk_body(&nairobi_timestamp(3), "wrong-passkey"),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(answer["errorMessage"], "Wrong credentials");
    // A UTC timestamp (the classic bug) is three hours off Nairobi time.
    let (status, answer) = post(
        &sim,
        Some(&t),
        STK,
        &stk_body(&nairobi_timestamp(0), SANDBOX_PASSKEY),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["errorMessage"], "Bad Request - Invalid Timestamp");
}

#[tokio::test]
async fn stk_fields_are_checked() {
    let sim = sim().await;
    let t = token(&sim).await;
    let good = stk_body(&nairobi_timestamp(3), SANDBOX_PASSKEY);
    for (field, value) in [
        ("Amount", json!(1.5)),
        ("Amount", json!("0")),
        ("PhoneNumber", json!("0708374149")),
        ("PartyA", json!("254808374149")),
        ("AccountReference", json!("1234567890123")),
        ("TransactionDesc", json!("12345678901234")),
        ("CallBackURL", json!("not a url")),
        ("TransactionType", json!("CustomerPayBill")),
        ("PartyB", json!("600000")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let (status, answer) = post(&sim, Some(&t), STK, &body).await;
        assert_eq!(status, 400, "{field}: {answer}");
        assert_eq!(answer["errorCode"], "400.002.02");
        assert_eq!(answer["errorMessage"], format!("Bad Request - Invalid {field}"));
    }
    let (status, answer) = post(&sim, Some(&t), STK, &json!("not an object")).await;
    assert_eq!((status, answer["errorCode"].as_str()), (400, Some("400.002.02")));
    assert_eq!(sim.requests(Endpoint::StkPush), 10);
}

#[tokio::test]
async fn the_stk_query_reports_pending_then_the_outcome_as_a_string() {
    let sim = MpesaSim::start(SimConfig::default().callback_delay(Duration::from_millis(200)))
        .await
        .unwrap();
    let t = token(&sim).await;
    let (_, accepted) = post(
        &sim,
        Some(&t),
        STK,
        &stk_body(&nairobi_timestamp(3), SANDBOX_PASSKEY),
    )
    .await;
    let query = |ts: String| {
        let password =
            base64::engine::general_purpose::STANDARD.encode(format!("174379{SANDBOX_PASSKEY}{ts}"));
        json!({"BusinessShortCode": "174379", "Password": password, "Timestamp": ts,
               "CheckoutRequestID": accepted["CheckoutRequestID"]})
    };
    let (status, pending) = post(
        &sim,
        Some(&t),
        "mpesa/stkpushquery/v1/query",
        &query(nairobi_timestamp(3)),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(pending["errorCode"], "500.001.1001");
    assert_eq!(pending["errorMessage"], "The transaction is being processed");
    let done = loop {
        let (status, answer) = post(
            &sim,
            Some(&t),
            "mpesa/stkpushquery/v1/query",
            &query(nairobi_timestamp(3)),
        )
        .await;
        if status == 200 {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["ResultCode"], "0");
}
