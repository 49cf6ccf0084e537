//! The guard in a real server on 127.0.0.1:0, spoken to over raw HTTP/1.1 so that framing
//! (Content-Length, chunked) and the peer address are the real thing. The test client plays the
//! trusted proxy (127.0.0.1) in front of the provider's addresses.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::routing::post;
use axum::{Extension, Router};
use malipo_core::{Provider, Secret};
use malipo_guard::{parse_net, ClientIp, GuardConfig, Guards, RateLimit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "sk_test_guard_http_secret";
const CHARGE: &str = include_str!("../fixtures/charge-success.json");
/// Bound on any single exchange, so a bug shows as a failure instead of a hung test.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(20);

async fn who(Extension(ClientIp(ip)): Extension<ClientIp>) -> String {
    ip.to_string()
}

async fn start(config: GuardConfig) -> SocketAddr {
    let guards = Guards::new(config);
    let app = Router::new()
        .route("/webhooks/paystack", post(who))
        .route_layer(guards.paystack(Secret::new(KEY.to_string())))
        .merge(
            Router::new()
                .route("/callbacks/mpesa/c2b/confirmation", post(who))
                .route_layer(guards.mpesa_c2b()),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
    addr
}

fn config() -> GuardConfig {
    GuardConfig::default()
        .with_body_limit(4096)
        .with_trusted_proxies([parse_net("127.0.0.1").unwrap()])
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// Sends `head` then `body`, ignoring a write error (the server may answer and close before the
/// whole body is sent, which is the point of some tests), then reads the answer to the end.
async fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> Answer {
    tokio::time::timeout(EXCHANGE_LIMIT, async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let _ = stream.write_all(body).await;
        read_answer(&mut stream).await
    })
    .await
    .expect("the server answered in time")
}

async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

fn signed_post(body: &str, xff: Option<&str>) -> String {
    let signature = malipo_paystack::sign(body.as_bytes(), &Secret::new(KEY.to_string()));
    paystack_post(body.len(), &signature, xff)
}

fn paystack_post(len: usize, signature: &str, xff: Option<&str>) -> String {
    let xff = xff.map_or(String::new(), |v| format!("X-Forwarded-For: {v}\r\n"));
    format!(
        "POST /webhooks/paystack HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/json\r\nX-Paystack-Signature: {signature}\r\n{xff}\
         Content-Length: {len}\r\n\r\n"
    )
}

#[tokio::test]
async fn provider_behind_trusted_proxy_is_accepted_and_the_proxy_alone_is_not() {
    let addr = start(config()).await;
    let answer = exchange(
        addr,
        &signed_post(CHARGE, Some("52.31.139.75")),
        CHARGE.as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, "52.31.139.75");

    let answer = exchange(addr, &signed_post(CHARGE, None), CHARGE.as_bytes()).await;
    assert_eq!(answer.status, 403);
    assert!(
        answer.body.contains("\"code\":\"source_not_allowed\""),
        "{}",
        answer.body
    );

    let wrong = malipo_paystack::sign(b"{}", &Secret::new(KEY.to_string()));
    let head = paystack_post(CHARGE.len(), &wrong, Some("52.31.139.75"));
    let answer = exchange(addr, &head, CHARGE.as_bytes()).await;
    assert_eq!(answer.status, 401);
    assert!(answer.body.contains("signature_mismatch"), "{}", answer.body);
}

#[tokio::test]
async fn declared_oversized_body_is_refused_before_it_is_sent() {
    let addr = start(config()).await;
    let head = "POST /webhooks/paystack HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
                X-Forwarded-For: 52.31.139.75\r\nContent-Length: 10000000\r\n\r\n";
    // No body at all is sent: the answer can only come from the declared length.
    let answer = exchange(addr, head, b"").await;
    assert_eq!(answer.status, 413);
    assert!(answer.body.contains("body_too_large"), "{}", answer.body);
    assert!(
        answer.head.contains("content-type: application/json"),
        "{}",
        answer.head
    );
}

#[tokio::test]
async fn chunked_oversized_body_is_refused_once_past_the_limit() {
    let addr = start(config()).await;
    let answer = tokio::time::timeout(EXCHANGE_LIMIT, async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = "POST /callbacks/mpesa/c2b/confirmation HTTP/1.1\r\nHost: test\r\n\
                    Connection: close\r\nX-Forwarded-For: 196.201.214.200\r\n\
                    Transfer-Encoding: chunked\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("400\r\n{}\r\n", "x".repeat(0x400));
        // Up to 1 MiB, far past the 4 KiB limit, and never the final chunk: the server has to
        // answer without waiting for the end of the body.
        for _ in 0..1024 {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
            // Stop writing as soon as an answer is waiting.
            let mut probe = [0u8; 1];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), stream.peek(&mut probe)).await {
                if n > 0 {
                    break;
                }
            }
        }
        read_answer(&mut stream).await
    })
    .await
    .expect("the server answered in time");
    assert_eq!(answer.status, 413);
    assert!(answer.body.contains("body_too_large"), "{}", answer.body);
}

#[tokio::test]
async fn rate_limit_over_http_limits_the_forwarded_client_only() {
    let two_a_minute = RateLimit::per_minute(NonZeroU32::new(1).unwrap(), NonZeroU32::new(2).unwrap());
    let mut config = config().with_rate_limit(Provider::Paystack, Some(two_a_minute));
    config.paystack.source = malipo_guard::SourceCheck::Disabled;
    let addr = start(config).await;

    let from = |client: &str| signed_post(CHARGE, Some(client));
    for _ in 0..2 {
        let answer = exchange(addr, &from("198.51.100.20"), CHARGE.as_bytes()).await;
        assert_eq!(answer.status, 200);
    }
    let answer = exchange(addr, &from("198.51.100.20"), CHARGE.as_bytes()).await;
    assert_eq!(answer.status, 429);
    assert!(answer.head.contains("retry-after: "), "{}", answer.head);
    assert!(answer.body.contains("rate_limited"), "{}", answer.body);

    // Another client through the same proxy is still served.
    let answer = exchange(addr, &from("198.51.100.21"), CHARGE.as_bytes()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "198.51.100.21");
}
