//! The built-in rate limit on the inbound endpoints, configured from malipo.toml, over real HTTP.
//!
//! The limit is 1 request/s with a burst of 3 per client address, so of a flood sent within T
//! seconds at most 3 + ⌈T⌉ pass; the assertions allow for a slow machine instead of assuming the
//! flood takes no time.

use std::time::Instant;

use crate::common::*;

async fn start() -> TestGateway {
    // Paystack allows 127.0.0.2 and 127.0.0.5; loopback 127.0.0.4 is a trusted proxy.
    TestGateway::start_with_paystack(
        "[server]\ntrusted_proxies = [\"127.0.0.4\"]\n",
        "webhook_ips = [\"127.0.0.2\", \"127.0.0.5\"]\nrate_limit = { per_second = 1, burst = 3 }\n",
    )
    .await
}

/// Most answers that may pass in a flood that took `started.elapsed()`.
fn allowance(started: Instant) -> usize {
    3 + started.elapsed().as_secs_f64().ceil() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_is_limited_while_another_is_served() {
    let gw = start().await;
    let flood = client_from("127.0.0.2");
    let started = Instant::now();
    let answers =
        futures::future::join_all((0..12).map(|i| post_paystack(&flood, &gw, charge_success(100 + i)))).await;
    let max_ok = allowance(started);
    let ok = answers.iter().filter(|r| r.status() == 200).count();
    let limited: Vec<_> = answers.iter().filter(|r| r.status() == 429).collect();
    assert!((3..=max_ok).contains(&ok), "{ok} passed, at most {max_ok} may");
    assert_eq!(ok + limited.len(), 12, "every answer is 200 or 429");
    let retry_after: u64 = limited[0].headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    // Another address has its own allowance.
    let other = post_paystack(&client_from("127.0.0.5"), &gw, charge_success(200)).await;
    assert_eq!(other.status(), 200);
    // Refused requests were never stored: the provider retries them.
    assert_eq!(gw.events().await.len(), ok + 1);
    let metrics = flood
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = format!("reason=\"rate_limited\"}} {}", limited.len());
    assert!(metrics.contains(&counted), "{metrics}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_client_is_the_one_limited() {
    let gw = start().await;
    let proxy = client_from("127.0.0.4");
    let via_proxy = |client_ip: &'static str, id: u64| {
        let body = charge_success(id);
        proxy
            .post(gw.url("/webhooks/paystack"))
            .header("x-paystack-signature", sign(&body))
            .header("x-forwarded-for", client_ip)
            .body(body)
            .send()
    };
    let started = Instant::now();
    let answers = futures::future::join_all((0..12).map(|i| via_proxy("127.0.0.2", 300 + i))).await;
    let max_ok = allowance(started);
    let ok = answers
        .iter()
        .filter(|r| r.as_ref().unwrap().status() == 200)
        .count();
    assert!((3..=max_ok).contains(&ok), "{ok} passed, at most {max_ok} may");
    // The proxy itself is not what is limited: another client through it is served.
    assert_eq!(via_proxy("127.0.0.5", 320).await.unwrap().status(), 200);
    gw.stop().await;
}
