//! `POST /webhooks/paystack` over real HTTP: every answer, and the rows behind it.

use crate::common::*;
use malipo_core::{EventStatus, Provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_then_processed() {
    let gw = TestGateway::start("").await;
    let res = post_paystack(&client_from("127.0.0.2"), &gw, charge_success(1)).await;
    assert_eq!(res.status(), 200);
    let events = gw.events().await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, "charge.success");
    assert_eq!(e.dedup_key, "charge.success:1");
    assert_eq!(e.source_ip, Some("127.0.0.2".parse().unwrap()));
    // The worker records the charge malipo did not start as a succeeded payment.
    gw.wait_for_status(e.id, EventStatus::Processed).await;
    let payment = gw
        .store()
        .find_payment_by_provider_ref(Provider::Paystack, "ref-1")
        .await
        .unwrap()
        .expect("payment recorded");
    assert_eq!(payment.state, malipo_core::PaymentState::Succeeded);
    assert_eq!(payment.amount.minor(), 10_000);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_delivery_fifty_times_at_once_is_stored_once() {
    let gw = TestGateway::start("").await;
    let client = client_from("127.0.0.2");
    let body = charge_success(42);
    let answers = futures::future::join_all((0..50).map(|_| post_paystack(&client, &gw, body.clone()))).await;
    assert!(
        answers.iter().all(|r| r.status() == 200),
        "every delivery is acknowledged"
    );
    let events = gw.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].dedup_key, "charge.success:42");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_signature_is_401_and_stores_nothing() {
    let gw = TestGateway::start("").await;
    let client = client_from("127.0.0.2");
    let body = charge_success(7);
    let other_sig = sign(b"another body");
    let res = client
        .post(gw.url("/webhooks/paystack"))
        .header("x-paystack-signature", other_sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["code"], "signature_mismatch");
    let res = client
        .post(gw.url("/webhooks/paystack"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(gw.events().await.is_empty());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_address_and_spoofed_forwarded_for_are_403() {
    let gw = TestGateway::start("").await;
    let foreign = client_from("127.0.0.3");
    let res = post_paystack(&foreign, &gw, charge_success(8)).await;
    assert_eq!(res.status(), 403);
    // An untrusted peer claiming to forward for an allowed address changes nothing.
    let body = charge_success(9);
    let res = foreign
        .post(gw.url("/webhooks/paystack"))
        .header("x-paystack-signature", sign(&body))
        .header("x-forwarded-for", "127.0.0.2")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(gw.events().await.is_empty());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_client_counts() {
    let gw = TestGateway::start("[server]\ntrusted_proxies = [\"127.0.0.4\"]\n").await;
    let proxy = client_from("127.0.0.4");
    let body = charge_success(10);
    // The left-most entry is whatever the client claimed; the proxy appended the real peer.
    let res = proxy
        .post(gw.url("/webhooks/paystack"))
        .header("x-paystack-signature", sign(&body))
        .header("x-forwarded-for", "203.0.113.9, 127.0.0.2")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = gw.events().await;
    assert_eq!(events[0].source_ip, Some("127.0.0.2".parse().unwrap()));
    // Through the same proxy, a client that is not allowed is refused.
    let body = charge_success(11);
    let res = proxy
        .post(gw.url("/webhooks/paystack"))
        .header("x-paystack-signature", sign(&body))
        .header("x-forwarded-for", "127.0.0.2, 127.0.0.3")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(gw.events().await.len(), 1);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_413_and_stores_nothing() {
    let gw = TestGateway::start("").await;
    let mut v: serde_json::Value = serde_json::from_slice(&charge_success(12)).unwrap();
    v["data"]["padding"] = "x".repeat(70 * 1024).into();
    let res = post_paystack(&client_from("127.0.0.2"), &gw, serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(res.status(), 413);
    assert!(gw.events().await.is_empty());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentic_but_malformed_is_stored_failed_and_acknowledged_once() {
    let gw = TestGateway::start("").await;
    let client = client_from("127.0.0.2");
    for _ in 0..2 {
        let res = post_paystack(
            &client,
            &gw,
            b"{\"event\": \"charge.success\", \"data\": {".to_vec(),
        )
        .await;
        assert_eq!(res.status(), 200, "acknowledged so Paystack stops retrying");
    }
    let events = gw.events().await;
    assert_eq!(events.len(), 1, "a retried malformed delivery is stored once");
    assert_eq!(events[0].status, EventStatus::Failed);
    assert!(events[0].last_error.as_deref().unwrap().contains("unparseable"));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentic_but_unknown_event_is_stored_rejected() {
    let gw = TestGateway::start("").await;
    let body = br#"{"event":"wallet.teleported","data":{"id":77}}"#.to_vec();
    let res = post_paystack(&client_from("127.0.0.2"), &gw, body).await;
    assert_eq!(res.status(), 200);
    let events = gw.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, EventStatus::RejectedAuthentic);
    assert_eq!(events[0].kind, "wallet.teleported");
    // Rejected events get no processing job.
    assert_eq!(gw.store().stats().await.unwrap().jobs_queued, 0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let gw = TestGateway::start("").await;
    let client = client_from("127.0.0.2");
    post_paystack(&client, &gw, charge_success(20)).await;
    post_paystack(&client, &gw, charge_success(20)).await;
    post_paystack(&client_from("127.0.0.3"), &gw, charge_success(21)).await;
    assert_eq!(client.get(gw.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(client.get(gw.url("/readyz")).send().await.unwrap().status(), 200);
    let text = client
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("malipo_inbound_requests_total{endpoint=\"paystack_webhook\",outcome=\"accepted\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("malipo_inbound_requests_total{endpoint=\"paystack_webhook\",outcome=\"duplicate\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("malipo_guard_rejections_total{provider=\"paystack\",reason=\"source_not_allowed\"} 1"),
        "{text}"
    );
    assert!(text.contains("malipo_commit_seconds_count 2"), "{text}");
    assert!(text.contains("malipo_queue_depth"), "{text}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_event_with_malformed_data_is_failed_by_the_worker_once() {
    let gw = TestGateway::start("").await;
    // Identified (event name and numeric id) at ingestion, refused by the typed parse later.
    let body = br#"{"event":"charge.success","data":{"id":555,"reference":"r555","amount":"lots"}}"#.to_vec();
    let res = post_paystack(&client_from("127.0.0.2"), &gw, body).await;
    assert_eq!(res.status(), 200);
    let events = gw.events().await;
    assert_eq!(events[0].dedup_key, "charge.success:555");
    let failed = gw.wait_for_status(events[0].id, EventStatus::Failed).await;
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap()
            .contains("not a valid Paystack event"),
        "{failed:?}"
    );
    assert_eq!(failed.attempts, 1, "a body that cannot parse is not retried");
    assert_eq!(gw.store().stats().await.unwrap().jobs_queued, 0);
    gw.stop().await;
}
