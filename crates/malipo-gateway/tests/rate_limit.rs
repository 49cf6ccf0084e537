//! The built-in rate limit on the inbound endpoints, configured from malipo.toml, over real HTTP.

mod common;

use common::*;

const LIMITED: &str = r#"
[server]
trusted_proxies = ["127.0.0.4"]
"#;

async fn start() -> TestGateway {
    // Paystack allows 127.0.0.2 and 127.0.0.5; 1 request/s with a burst of 3 per client address.
    TestGateway::start_with_paystack(
        LIMITED,
        "webhook_ips = [\"127.0.0.2\", \"127.0.0.5\"]\nrate_limit = { per_second = 1, burst = 3 }\n",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_is_limited_while_another_is_served() {
    let gw = start().await;
    let flood = client_from("127.0.0.2");
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(post_paystack(&flood, &gw, charge_success(100 + i)).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(&codes[..3], &[200, 200, 200], "{codes:?}");
    assert!(codes[3..].iter().all(|c| *c == 429), "{codes:?}");
    let retry_after: u64 = statuses[5].headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    // Another address has its own allowance.
    let other = post_paystack(&client_from("127.0.0.5"), &gw, charge_success(200)).await;
    assert_eq!(other.status(), 200);
    // Refused requests were never stored: the provider retries them.
    assert_eq!(gw.events().await.len(), 4);
    let metrics = flood
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("reason=\"rate_limited\"} 3"), "{metrics}");
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
    for i in 0..3 {
        assert_eq!(via_proxy("127.0.0.2", 300 + i).await.unwrap().status(), 200);
    }
    assert_eq!(via_proxy("127.0.0.2", 310).await.unwrap().status(), 429);
    // The proxy itself is not what is limited: another client through it is served.
    assert_eq!(via_proxy("127.0.0.5", 320).await.unwrap().status(), 200);
    gw.stop().await;
}
