//! The merchant API over real HTTP: the gateway's two listeners, the Daraja and Paystack
//! simulators standing in for the providers.

use std::collections::BTreeSet;
use std::sync::Arc;

use malipo_core::{Currency, Money, PaymentState, Provider};
use malipo_sim::mpesa::Endpoint;
use malipo_store::NewPayment;
use serde_json::{json, Value};

use crate::common::ApiWorld;

fn stk(amount_minor: u64) -> Value {
    json!({
        "provider": "mpesa",
        "phone": "0708374149",
        "amount": amount_minor,
        "account_reference": "INV-7",
        "description": "Order 7",
        "merchant_reference": "order-7",
        "metadata": {"cart": 7}
    })
}

fn error_of(body: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    v["error"].clone()
}

#[tokio::test]
async fn an_stk_push_started_through_the_api_is_settled_by_the_simulators_callback() {
    let w = ApiWorld::start().await;
    let (status, body) = w.post("/v1/payments", &stk(10_000), None).await;
    assert_eq!(status, 201, "{body}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert!(p["id"].as_str().unwrap().starts_with("pay_"), "{p}");
    assert_eq!(p["state"], "pending");
    assert_eq!(p["provider"], "mpesa");
    assert_eq!(p["amount"], json!({"minor": 10000, "currency": "KES"}));
    assert_eq!(p["merchant_reference"], "order-7");
    assert_eq!(p["metadata"], json!({"cart": 7}));
    assert_eq!(p["phone"], "2547****4149");
    assert!(
        p["provider_reference"].as_str().unwrap().starts_with("ws_CO_"),
        "{p}"
    );
    assert!(p["created_at"].is_string());

    let done = w.wait_for_payment(p["id"].as_str().unwrap(), "succeeded").await;
    assert!(done["receipt"].is_string(), "{done}");
    assert_eq!(w.daraja.requests(Endpoint::StkPush), 1);
}

#[tokio::test]
async fn a_paystack_checkout_answers_with_its_authorization_url() {
    let w = ApiWorld::start().await;
    let body = json!({
        "provider": "paystack",
        "email": "wanjiru@example.com",
        "amount": 500000,
        "currency": "NGN",
        "reference": "order-88",
        "merchant_reference": "cart-88",
        "metadata": {"cart": 88}
    });
    let (status, text) = w.post("/v1/payments", &body, None).await;
    assert_eq!(status, 201, "{text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["provider"], "paystack");
    assert_eq!(p["state"], "pending");
    assert_eq!(p["provider_reference"], "order-88");
    assert_eq!(p["merchant_reference"], "cart-88");
    assert_eq!(p["amount"], json!({"minor": 500000, "currency": "NGN"}));
    assert!(
        p["authorization_url"].as_str().unwrap().starts_with("http"),
        "{p}"
    );
    assert!(!p["access_code"].as_str().unwrap().is_empty());
    // Reading it back shows the same payment, without the checkout-only fields.
    let (status, read) = w
        .get(&format!("/v1/payments/{}", p["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(read["provider_reference"], "order-88");
    assert!(read.get("authorization_url").is_none());
    // The same reference again is a conflict naming the field.
    let (status, text) = w.post("/v1/payments", &body, None).await;
    assert_eq!(status, 409, "{text}");
    assert_eq!(error_of(&text)["field"], "reference");
}

#[tokio::test]
async fn requests_without_a_valid_key_are_401_and_a_revoked_key_stops_working() {
    let w = ApiWorld::start().await;
    let url = w.api_url("/v1/payments");
    let check = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 401);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unauthorized", "{v}");
        assert!(v["error"]["message"].is_string());
    };
    check(w.http.get(&url).send().await.unwrap()).await;
    check(
        w.http
            .get(&url)
            .bearer_auth("mk_test_not-a-real-key")
            .send()
            .await
            .unwrap(),
    )
    .await;
    check(
        w.http
            .get(&url)
            .header("authorization", "Basic Zm9vOmJhcg==")
            .send()
            .await
            .unwrap(),
    )
    .await;
    // A key differing from the real one in its last character.
    let mut near = w.key.clone();
    let last = near.pop().unwrap();
    near.push(if last == 'A' { 'B' } else { 'A' });
    check(w.http.get(&url).bearer_auth(&near).send().await.unwrap()).await;

    assert_eq!(w.get("/v1/payments").await.0, 200);
    w.state.store.revoke_api_key(w.key_id).await.unwrap();
    check(w.http.get(&url).bearer_auth(&w.key).send().await.unwrap()).await;
    // Nothing was started by any refused request.
    assert_eq!(w.daraja.requests(Endpoint::StkPush), 0);
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_idempotency_key_reach_daraja_once() {
    let w = Arc::new(ApiWorld::start().await);
    let answers = futures::future::join_all((0..20).map(|_| {
        let w = Arc::clone(&w);
        async move { w.post("/v1/payments", &stk(10_000), Some("order-7-try")).await }
    }))
    .await;
    let first = &answers[0];
    assert_eq!(first.0, 201, "{}", first.1);
    for a in &answers {
        assert_eq!(a, first, "every duplicate gets the first answer, byte for byte");
    }
    assert_eq!(w.daraja.requests(Endpoint::StkPush), 1);
    let payments = w.state.store.list_payments(&Default::default()).await.unwrap();
    assert_eq!(payments.len(), 1);

    // Later retries too, and again without reaching Daraja.
    let again = w.post("/v1/payments", &stk(10_000), Some("order-7-try")).await;
    assert_eq!(&again, first);
    assert_eq!(w.daraja.requests(Endpoint::StkPush), 1);

    // The same key with another body is refused, and sends nothing.
    let (status, text) = w.post("/v1/payments", &stk(20_000), Some("order-7-try")).await;
    assert_eq!(status, 422, "{text}");
    assert_eq!(error_of(&text)["code"], "idempotency_key_reused");
    assert_eq!(error_of(&text)["field"], "Idempotency-Key");
    assert_eq!(w.daraja.requests(Endpoint::StkPush), 1);

    // A validation failure keeps no answer: the corrected request may reuse the key.
    let mut bad = stk(10_000);
    bad["phone"] = json!("12");
    let (status, text) = w.post("/v1/payments", &bad, Some("fresh-key")).await;
    assert_eq!(status, 422, "{text}");
    let (status, text) = w.post("/v1/payments", &stk(30_000), Some("fresh-key")).await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(w.daraja.requests(Endpoint::StkPush), 2);
}

#[tokio::test]
async fn a_provider_refusal_is_502_with_the_failed_payment_and_is_replayed_to_retries() {
    let w = ApiWorld::start().await;
    w.daraja.inject_fault(
        Endpoint::StkPush,
        malipo_sim::mpesa::Fault::bad_request("Bad Request - Invalid PhoneNumber"),
    );
    let first = w.post("/v1/payments", &stk(10_000), Some("refused")).await;
    assert_eq!(first.0, 502, "{}", first.1);
    let v: Value = serde_json::from_str(&first.1).unwrap();
    assert_eq!(v["error"]["code"], "provider_refused");
    assert_eq!(v["payment"]["state"], "failed");
    assert_eq!(v["payment"]["result_code"], "400.002.02");
    assert_eq!(w.post("/v1/payments", &stk(10_000), Some("refused")).await, first);
    assert_eq!(w.daraja.requests(Endpoint::StkPush), 1);
}

#[tokio::test]
async fn lists_page_by_cursor_and_never_stop_silently() {
    let w = ApiWorld::start().await;
    for i in 0..7u64 {
        w.state
            .store
            .insert_payment(NewPayment {
                merchant_reference: Some(if i % 2 == 0 { "even" } else { "odd" }.into()),
                ..NewPayment::pending(
                    Provider::Mpesa,
                    "stk_push",
                    Money::from_minor(100 * (i + 1), Currency::Kes),
                )
            })
            .await
            .unwrap();
        // Distinct milliseconds keep the newest-first order strict.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    let mut path = "/v1/payments?limit=3".to_string();
    loop {
        let (status, page) = w.get(&path).await;
        assert_eq!(status, 200, "{page}");
        let data = page["data"].as_array().unwrap();
        sizes.push(data.len());
        seen.extend(data.iter().map(|p| p["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/payments?limit=3&cursor={c}"),
            None => {
                assert!(page["next_cursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(sizes, [3, 3, 1]);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first, no repeats");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 7);

    // Exactly a full page: the cursor is given, and the next page is empty with a null cursor.
    let (_, page) = w.get("/v1/payments?merchant_reference=odd&limit=3").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    assert!(
        page["next_cursor"].is_null(),
        "3 odd payments fit one page of 3: {page}"
    );
    let (_, page) = w.get("/v1/payments?merchant_reference=even&limit=2").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, page) = w
        .get(&format!(
            "/v1/payments?merchant_reference=even&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert!(page["next_cursor"].is_null());

    let (_, page) = w
        .get("/v1/payments?state=pending&provider=mpesa&since=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 7);
    let (_, page) = w.get("/v1/payments?since=2999-01-01T00:00:00Z").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
    let (_, page) = w.get("/v1/payments?state=succeeded").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
    let _ = PaymentState::Succeeded;

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("cursor=nonsense", "cursor"),
        ("state=paid", "state"),
        ("provider=cash", "provider"),
        ("since=yesterday", "since"),
    ] {
        let (status, body) = w.get(&format!("/v1/payments?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let (status, body) = w.get("/v1/payments?limit=many").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn every_error_is_json_with_a_code_and_validation_names_the_field() {
    let w = ApiWorld::start().await;
    let cases = [
        (
            json!({"provider": "mpesa", "phone": "12", "amount": 10000, "account_reference": "a", "description": "b"}),
            "phone",
        ),
        (
            json!({"provider": "mpesa", "phone": "0708374149", "amount": 10050, "account_reference": "a", "description": "b"}),
            "amount",
        ),
        (
            json!({"provider": "mpesa", "phone": "0708374149", "amount": 10000, "account_reference": "far-too-long-reference", "description": "b"}),
            "account_reference",
        ),
        (
            json!({"provider": "mpesa", "phone": "0708374149", "amount": 10000, "description": "b"}),
            "account_reference",
        ),
        (
            json!({"provider": "paystack", "email": "nope", "amount": 100, "currency": "NGN"}),
            "email",
        ),
        (
            json!({"provider": "paystack", "email": "a@example.com", "amount": 100, "currency": "EUR"}),
            "currency",
        ),
        (json!({"provider": "bitcoin"}), "provider"),
    ];
    for (body, field) in cases {
        let (status, text) = w.post("/v1/payments", &body, None).await;
        assert_eq!(status, 422, "{body}: {text}");
        let e = error_of(&text);
        assert_eq!(e["field"], field, "{body}: {text}");
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(w.daraja.requests(Endpoint::StkPush), 0);

    // A malformed body is 400 in the same shape, never axum's plain text.
    let r = w
        .http
        .post(w.api_url("/v1/payments"))
        .bearer_auth(&w.key)
        .header("content-type", "application/json")
        .body("{\"provider\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_of(&r.text().await.unwrap())["code"], "invalid_request");
    let r = w
        .http
        .post(w.api_url("/v1/payments"))
        .bearer_auth(&w.key)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        error_of(&r.text().await.unwrap())["code"],
        "unsupported_media_type"
    );
    let r = w
        .http
        .post(w.api_url("/v1/payments"))
        .bearer_auth(&w.key)
        .header("content-type", "application/json")
        .body(vec![b' '; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(error_of(&r.text().await.unwrap())["code"].is_string());

    // Regression: a misspelt filter (`status` for `state`) was ignored, listing every payment.
    for path in [
        "/v1/payments?status=succeeded",
        "/v1/events?state=failed",
        "/v1/deliveries?limt=5",
        "/v1/paystack/customers?serach=ada",
    ] {
        let (status, body) = w.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("unknown field"),
            "{path}: {body}"
        );
    }

    // Unknown ids, ids that do not parse and unknown routes are 404 in the same shape.
    for path in [
        "/v1/payments/pay_01JD3W8Q6M2K4X7V9B5N1R0T2Y",
        "/v1/payments/pay_nonsense",
        "/v1/events/evt_01JD3W8Q6M2K4X7V9B5N1R0T2Y",
        "/v1/events/42",
        "/v1/nothing-here",
    ] {
        let (status, body) = w.get(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    let r = w
        .http
        .delete(w.api_url("/v1/payments"))
        .bearer_auth(&w.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(error_of(&r.text().await.unwrap())["code"], "method_not_allowed");
}

#[tokio::test]
async fn the_api_is_not_served_on_the_public_listener() {
    let w = ApiWorld::start().await;
    for path in ["/v1/payments", "/v1/openapi.json", "/v1/events"] {
        let r = w
            .http
            .get(format!("http://{}{path}", w.public))
            .bearer_auth(&w.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path} must not exist on the public listener");
    }
    // And the callbacks are not on the API listener.
    let r = w
        .http
        .post(w.api_url("/webhooks/paystack"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(w.get("/v1/payments").await.0, 200);
}

#[tokio::test]
async fn events_are_listed_shown_with_phones_masked_and_replayed() {
    let w = ApiWorld::start().await;
    let (status, body) = w.post("/v1/payments", &stk(10_000), None).await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.wait_for_payment(&id, "succeeded").await;

    let (status, page) = w.get("/v1/events?provider=mpesa&limit=10").await;
    assert_eq!(status, 200, "{page}");
    let events = page["data"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert!(page["next_cursor"].is_null());
    let event = &events[0];
    assert_eq!(event["payment_id"], id.as_str());
    assert!(event.get("body").is_none(), "lists carry no bodies");

    let eid = event["id"].as_str().unwrap();
    let (status, shown) = w.get(&format!("/v1/events/{eid}")).await;
    assert_eq!(status, 200, "{shown}");
    let text = shown["body"].to_string();
    assert!(text.contains("2547****4149"), "{text}");
    assert!(!text.contains("254708374149"), "{text}");

    let r = w
        .http
        .post(w.api_url(&format!("/v1/events/{eid}/replay")))
        .bearer_auth(&w.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"], "queued", "{v}");
    let (status, body) = w.get("/v1/events?status=nonsense").await;
    assert_eq!((status, body["error"]["field"].clone()), (400, json!("status")));
    let r = w
        .http
        .post(w.api_url("/v1/events/evt_01JD3W8Q6M2K4X7V9B5N1R0T2Y/replay"))
        .bearer_auth(&w.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Every route the API serves, as (method, path template); kept by hand on purpose: the test
/// below fails when the router and the OpenAPI document disagree with it or each other.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/deliveries"),
    ("get", "/v1/deliveries/{id}"),
    ("get", "/v1/endpoints"),
    ("get", "/v1/events"),
    ("get", "/v1/events/{id}"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/payments"),
    ("get", "/v1/payments/{id}"),
    ("get", "/v1/paystack/{kind}"),
    ("get", "/v1/paystack/{kind}/{id}"),
    ("post", "/v1/deliveries/{id}/retry"),
    ("post", "/v1/endpoints"),
    ("post", "/v1/endpoints/{id}/disable"),
    ("post", "/v1/endpoints/{id}/enable"),
    ("post", "/v1/endpoints/{id}/rotate-secret"),
    ("post", "/v1/events/{id}/replay"),
    ("post", "/v1/payments"),
    ("post", "/v1/payments/{id}/reconcile"),
    ("post", "/v1/payments/{id}/refund"),
    ("post", "/v1/payouts"),
];

#[tokio::test]
async fn the_openapi_document_and_the_router_agree() {
    let w = ApiWorld::start().await;
    let r = w.http.get(w.api_url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the document needs no key");
    let served: Value = r.json().await.unwrap();
    assert!(
        served["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        served["openapi"]
    );
    assert_eq!(
        served,
        serde_json::to_value(malipo_gateway::api::openapi()).unwrap()
    );

    let mut documented = BTreeSet::new();
    for (path, item) in served["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);

    // Each documented operation is routed: the answer is never the router's own 404 or 405.
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "pay_01JD3W8Q6M2K4X7V9B5N1R0T2Y")
            .replace("{kind}", "customers");
        let req = match method.as_str() {
            "get" => w.http.get(w.api_url(&concrete)),
            "post" => w.http.post(w.api_url(&concrete)).json(&json!({})),
            other => panic!("unexpected method {other}"),
        };
        let r = req.bearer_auth(&w.key).send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert_ne!(
            body["error"]["code"], "route_not_found",
            "{method} {path}: {body}"
        );
        // And each protected operation declares the key it requires.
        let op = &served["paths"][path][method];
        if path != "/v1/openapi.json" {
            assert_eq!(op["security"], json!([{"api_key": []}]), "{method} {path}");
            assert!(op["responses"]["401"].is_object(), "{method} {path}");
        }
    }
    // A route the document does not have is the router's 404.
    let (status, body) = w.get("/v1/transfers").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("route_not_found"))
    );
}

#[tokio::test]
async fn a_push_without_an_answer_is_202_with_the_pending_payment_and_retries_get_the_same() {
    let w = ApiWorld::start_with("timeout_secs = 1").await;
    // Daraja answers after the client gave up: the push may have reached the phone.
    w.daraja.inject_fault(
        Endpoint::StkPush,
        malipo_sim::mpesa::Fault::Delay(std::time::Duration::from_millis(1500)),
    );
    let first = w.post("/v1/payments", &stk(10_000), Some("slow")).await;
    assert_eq!(first.0, 202, "{}", first.1);
    let p: Value = serde_json::from_str(&first.1).unwrap();
    assert_eq!(p["state"], "pending");
    assert!(p["id"].as_str().unwrap().starts_with("pay_"));
    // A retry with the key never sends a second push that could charge twice.
    assert_eq!(w.post("/v1/payments", &stk(10_000), Some("slow")).await, first);
    assert_eq!(w.daraja.requests(Endpoint::StkPush), 1);
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_request_still_finds_its_answer_under_its_key() {
    let w = ApiWorld::start().await;
    w.daraja.inject_fault(
        Endpoint::StkPush,
        malipo_sim::mpesa::Fault::Delay(std::time::Duration::from_millis(600)),
    );
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(150))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(w.api_url("/v1/payments"))
        .bearer_auth(&w.key)
        .header("Idempotency-Key", "hung-up")
        .json(&stk(10_000))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client timed out");
    // The request went on without its client; the retry waits for it and gets its answer.
    let (status, body) = w.post("/v1/payments", &stk(10_000), Some("hung-up")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(w.daraja.requests(Endpoint::StkPush), 1);
    let payments = w.state.store.list_payments(&Default::default()).await.unwrap();
    assert_eq!(payments.len(), 1);
}

#[tokio::test]
async fn a_payment_whose_callback_never_came_is_settled_by_reconcile_on_request() {
    let w = ApiWorld::start().await;
    // KES 4,040: the simulator takes the payment and never calls back.
    let (status, body) = w.post("/v1/payments", &stk(404_000), None).await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/payments/{id}/reconcile");
    let mut answer = Value::Null;
    // The simulator's STK query says "still processing" until the push is decided.
    for _ in 0..100 {
        let (status, body) = w.post(&path, &json!({}), None).await;
        assert_eq!(status, 200, "{body}");
        answer = serde_json::from_str(&body).unwrap();
        if answer["result"] == "settled" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(answer["result"], "settled", "{answer}");
    assert_eq!(answer["payment"]["state"], "succeeded", "{answer}");
    let (_, shown) = w.get(&format!("/v1/payments/{id}")).await;
    assert_eq!(shown["state"], "succeeded");
    // Asking again is harmless.
    let (status, body) = w.post(&path, &json!({}), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["result"],
        "already_settled"
    );
    // An unknown payment is 404 in the API's error shape.
    let (status, body) = w.post("/v1/payments/pay_nope/reconcile", &json!({}), None).await;
    assert_eq!(status, 404);
    assert_eq!(error_of(&body)["code"], "not_found");
}

#[tokio::test]
async fn endpoints_and_deliveries_are_listed_shown_and_retried() {
    let w = ApiWorld::start().await;
    // An endpoint nobody listens on: its deliveries stay pending (or dead) for us to look at.
    let made = malipo_gateway::delivery::create_endpoint(
        &w.state,
        malipo_gateway::delivery::CreateEndpoint {
            name: "shop".into(),
            url: "http://127.0.0.1:9/hooks".into(),
            allow_private: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (status, endpoints) = w.get("/v1/endpoints").await;
    assert_eq!(status, 200, "{endpoints}");
    assert_eq!(endpoints["data"][0]["name"], "shop");
    let text = endpoints.to_string();
    assert!(!text.contains("whsec_"), "a secret was listed: {text}");
    let _ = made;

    let (status, body) = w.post("/v1/payments", &stk(10_000), None).await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.wait_for_payment(&id, "succeeded").await;
    let mut page = Value::Null;
    for _ in 0..100 {
        let (status, body) = w.get(&format!("/v1/deliveries?payment={id}")).await;
        assert_eq!(status, 200, "{body}");
        page = body;
        if page["data"].as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let delivery = &page["data"][0];
    assert_eq!(delivery["event_type"], "payment.succeeded", "{page}");
    assert!(page["next_cursor"].is_null(), "{page}");
    let dlv = delivery["id"].as_str().unwrap();
    let (status, shown) = w.get(&format!("/v1/deliveries/{dlv}")).await;
    assert_eq!(status, 200);
    assert_eq!(shown["delivery"]["id"], dlv);
    // Regression: the payload showed the phone in clear where every other view masks it.
    let payload = shown["delivery"]["payload"].to_string();
    assert!(payload.contains("2547****4149"), "{payload}");
    assert!(!payload.contains("254708374149"), "{payload}");
    // The endpoint does not answer, so the delivery waits for its next attempt: a retry would
    // start its schedule over and forget its attempts, so it is refused, saying why.
    let (status, retried) = w
        .post(&format!("/v1/deliveries/{dlv}/retry"), &json!({}), None)
        .await;
    assert_eq!(status, 422, "{retried}");
    assert!(retried.contains("still pending"), "{retried}");
    let (status, _) = w.get("/v1/deliveries/dlv_nope").await;
    assert_eq!(status, 404);
    let (status, body) = w.get("/v1/deliveries?status=lost").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "status");
}

#[tokio::test]
async fn a_paid_checkout_is_refunded_in_part_once_per_idempotency_key() {
    let w = ApiWorld::start().await;
    let body = json!({"provider": "paystack", "email": "wanjiru@example.com", "amount": 500000, "currency": "NGN", "reference": "order-refund-1"});
    let (status, text) = w.post("/v1/payments", &body, None).await;
    assert_eq!(status, 201, "{text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A pending payment cannot be refunded; the key is freed for a corrected retry.
    let path = format!("/v1/payments/{id}/refund");
    let (status, text) = w.post(&path, &json!({"amount": 200000}), Some("refund-1")).await;
    assert_eq!(status, 422, "{text}");
    // The customer pays; Paystack's webhook settles it.
    w.paystack.authorize("order-refund-1").unwrap();
    w.wait_for_payment(&id, "succeeded").await;
    let (first_status, first) = w.post(&path, &json!({"amount": 200000}), Some("refund-1")).await;
    assert_eq!(first_status, 201, "{first}");
    let refund: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(
        refund["amount"],
        json!({"minor": 200000, "currency": "NGN"}),
        "{refund}"
    );
    // A retry gets the same answer and no second refund.
    let (again_status, again) = w.post(&path, &json!({"amount": 200000}), Some("refund-1")).await;
    assert_eq!((again_status, again.as_str()), (first_status, first.as_str()));
    // More than is left is refused, naming the field.
    let (status, text) = w.post(&path, &json!({"amount": 400000}), Some("refund-2")).await;
    assert_eq!(status, 422, "{text}");
    assert_eq!(error_of(&text)["field"], "amount", "{text}");
    let (status, _) = w.post("/v1/payments/pay_nope/refund", &json!({}), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_b2c_payout_through_the_api_is_settled_by_its_result() {
    let w = ApiWorld::start_with(
        "initiator_name = \"testapi\"\nsecurity_credential = \"c2ltdWxhdGVkLWNyZWRlbnRpYWw=\"\n",
    )
    .await;
    let body = json!({"provider": "mpesa", "phone": "0708374149", "amount": 150000, "remarks": "Salary", "merchant_reference": "payroll-7"});
    let (status, text) = w.post("/v1/payouts", &body, Some("payroll-7")).await;
    assert_eq!(status, 201, "{text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["kind"], "b2c", "{p}");
    let done = w.wait_for_payment(p["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(done["amount"], json!({"minor": 150000, "currency": "KES"}));
    // The retry returns the first answer; one B2C request reached Daraja.
    let (again, again_text) = w.post("/v1/payouts", &body, Some("payroll-7")).await;
    assert_eq!((again, again_text.as_str()), (status, text.as_str()));
    assert_eq!(w.daraja.requests(malipo_sim::mpesa::Endpoint::B2c), 1);
    // Fields are checked before anything is sent.
    for (bad, field) in [
        (
            json!({"provider": "mpesa", "phone": "12", "amount": 100, "remarks": "x1"}),
            "phone",
        ),
        (
            json!({"provider": "mpesa", "phone": "0708374149", "amount": 150, "remarks": "x1"}),
            "amount",
        ),
        (
            json!({"provider": "mpesa", "phone": "0708374149", "amount": 100}),
            "remarks",
        ),
        (
            json!({"provider": "paystack", "amount": 100, "currency": "NGN"}),
            "recipient",
        ),
        (json!({"provider": "cash", "amount": 100}), "provider"),
        // Regression: an M-Pesa payout in USD was sent as KES, and another provider's fields
        // were dropped without a word.
        (
            json!({"provider": "mpesa", "phone": "0708374149", "amount": 10000, "remarks": "x1", "currency": "USD"}),
            "currency",
        ),
        (
            json!({"provider": "mpesa", "phone": "0708374149", "amount": 10000, "remarks": "x1", "recipient": "RCP_1"}),
            "recipient",
        ),
        (
            json!({"provider": "paystack", "recipient": "RCP_1", "amount": 100, "currency": "NGN", "phone": "0708374149"}),
            "phone",
        ),
        (
            json!({"provider": "paystack", "recipient": "RCP_1", "amount": 9_223_372_036_854_775_900u64, "currency": "NGN"}),
            "amount",
        ),
    ] {
        let (status, text) = w.post("/v1/payouts", &bad, None).await;
        assert_eq!(status, 422, "{bad}: {text}");
        assert_eq!(error_of(&text)["field"], field, "{bad}: {text}");
    }
}

#[tokio::test]
async fn endpoints_are_created_disabled_enabled_and_rotated_over_the_api() {
    let w = ApiWorld::start().await;
    let (status, text) = w
        .post(
            "/v1/endpoints",
            &json!({"name": "erp", "url": "https://erp.shop.example/hooks", "event_types": ["payment.succeeded", "refund.*"]}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    let first_secret = created["secret"].as_str().unwrap().to_string();
    assert!(first_secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["endpoint"]["name"], "erp");
    assert_eq!(created["endpoint"]["enabled"], true);
    assert_eq!(created["endpoint"]["allow_private"], false);
    let id = created["endpoint"]["id"].as_str().unwrap().to_string();

    // Refusals name the field; nothing is created by them.
    for (body, field, words) in [
        (
            json!({"name": "erp", "url": "https://other.example/h"}),
            "name",
            "already exists",
        ),
        (
            json!({"name": "lan", "url": "http://127.0.0.1:8000/h"}),
            "url",
            "loopback",
        ),
        (
            json!({"name": "meta", "url": "http://169.254.169.254/latest"}),
            "url",
            "link-local",
        ),
        (
            json!({"name": "odd", "url": "https://x.example/h", "event_types": ["payment.won"]}),
            "event_types",
            "",
        ),
        (
            json!({"name": "priv", "url": "https://x.example/h", "allow_private": true}),
            "allow_private",
            "",
        ),
    ] {
        let (status, text) = w.post("/v1/endpoints", &body, None).await;
        assert_eq!(status, 422, "{body}: {text}");
        let err = &serde_json::from_str::<Value>(&text).unwrap()["error"];
        assert_eq!(err["field"], field, "{text}");
        assert!(err["message"].as_str().unwrap().contains(words), "{text}");
    }
    let (_, listed) = w.get("/v1/endpoints").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    assert!(
        !listed.to_string().contains("whsec_"),
        "a secret was listed: {listed}"
    );

    // Disable by id, enable by name.
    let (status, text) = w
        .post(&format!("/v1/endpoints/{id}/disable"), &json!({}), None)
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["endpoint"]["enabled"],
        false
    );
    let (status, text) = w.post("/v1/endpoints/erp/enable", &json!({}), None).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["endpoint"]["enabled"],
        true
    );

    // Rotation: a new secret, the old one signing beside it until the overlap ends.
    let (status, text) = w
        .post(
            &format!("/v1/endpoints/{id}/rotate-secret"),
            &json!({"overlap_secs": 3600}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let rotated: Value = serde_json::from_str(&text).unwrap();
    let second_secret = rotated["secret"].as_str().unwrap();
    assert!(second_secret.starts_with("whsec_") && second_secret != first_secret);
    assert!(
        rotated["endpoint"]["previous_secret_until"].is_string(),
        "{rotated}"
    );
    let record = w.state.store.get_endpoint("erp").await.unwrap().unwrap();
    let signing: Vec<String> = record
        .signing_secrets(chrono::Utc::now())
        .iter()
        .map(|s| s.expose().clone())
        .collect();
    assert_eq!(signing, vec![second_secret.to_string(), first_secret.clone()]);

    let (status, text) = w
        .post(
            "/v1/endpoints/erp/rotate-secret",
            &json!({"overlap_secs": 99_999_999}),
            None,
        )
        .await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("overlap_secs"), "{text}");
    for path in [
        "/v1/endpoints/nope/disable",
        "/v1/endpoints/ep_nope/rotate-secret",
    ] {
        let (status, text) = w.post(path, &json!({}), None).await;
        assert_eq!(status, 404, "{path}: {text}");
    }
    // Without a key nothing changes.
    let r = w
        .http
        .post(w.api_url("/v1/endpoints/erp/disable"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(w.state.store.get_endpoint("erp").await.unwrap().unwrap().enabled);
}
