//! The guard layer mounted on an axum router, driven with `oneshot` and `MockConnectInfo`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Json, Router};
use http_body_util::BodyExt;
use malipo_core::{PaymentId, Provider, Secret};
use malipo_guard::{
    parse_net, CallbackPayment, CallbackRoute, CallbackTokens, ClientIp, GuardConfig, Guards, IpAllowlist,
    RateLimit, RejectReason, SourceCheck, VerifiedBody,
};
use serde_json::{json, Value};
use tower::ServiceExt;

const PAYSTACK_KEY: &str = "sk_test_guard_layer_secret_0123456789";
const TOKEN_KEY: &[u8] = b"guard-layer-test-token-key-0123456789";
const CHARGE: &str = include_str!("../fixtures/charge-success.json");
const STK: &str = include_str!("../fixtures/stk-callback-paid.json");
const C2B: &str = include_str!("../fixtures/c2b-confirmation.json");
const PAYSTACK_IP: &str = "52.31.139.75";
const SAFARICOM_IP: &str = "196.201.214.200";

fn paystack_key() -> Secret<String> {
    Secret::new(PAYSTACK_KEY.to_string())
}

fn tokens() -> CallbackTokens {
    CallbackTokens::new(Secret::new(TOKEN_KEY.to_vec()))
}

fn sign(body: &[u8]) -> String {
    malipo_paystack::sign(body, &paystack_key())
}

/// Echoes what the guard handed on, and counts the calls that got through.
async fn echo(
    Extension(calls): Extension<Arc<AtomicUsize>>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Extension(VerifiedBody(verified)): Extension<VerifiedBody>,
    payment: Option<Extension<CallbackPayment>>,
    body: Bytes,
) -> Json<Value> {
    calls.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "client_ip": ip.to_string(),
        "payment": payment.map(|Extension(CallbackPayment(p))| p.to_string()),
        "verified_len": verified.len(),
        "body_matches": verified == body,
    }))
}

struct App {
    router: Router<()>,
    calls: Arc<AtomicUsize>,
    guards: Guards,
}

fn app(config: GuardConfig) -> App {
    let guards = Guards::new(config);
    let calls = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route("/webhooks/paystack", post(echo))
        .route_layer(guards.paystack(paystack_key()))
        .merge(
            Router::new()
                .route("/callbacks/mpesa/stk/{token}", post(echo))
                .route("/callbacks/mpesa/result/{token}", post(echo))
                .route_layer(guards.mpesa_callback(tokens())),
        )
        .merge(
            Router::new()
                .route("/callbacks/mpesa/c2b/confirmation", post(echo))
                .route_layer(guards.mpesa_c2b()),
        )
        .layer(Extension(Arc::clone(&calls)));
    App {
        router,
        calls,
        guards,
    }
}

impl App {
    async fn send(&self, peer: &str, request: Request<Body>) -> (StatusCode, Response) {
        let peer: SocketAddr = match peer.parse::<SocketAddr>() {
            Ok(addr) => addr,
            Err(_) => SocketAddr::new(peer.parse().unwrap(), 45_678),
        };
        let response = self
            .router
            .clone()
            .layer(MockConnectInfo(peer))
            .oneshot(request)
            .await
            .unwrap();
        (response.status(), response)
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn rejected(&self, provider: Provider, reason: RejectReason) -> u64 {
        self.guards.metrics().rejected(provider, reason)
    }
}

async fn json_body(response: Response) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {bytes:?}"))
}

fn paystack_request(body: &str, signature: Option<&str>) -> Request<Body> {
    let mut b = Request::post("/webhooks/paystack").header(header::CONTENT_TYPE, "application/json");
    if let Some(sig) = signature {
        b = b.header("x-paystack-signature", sig);
    }
    b.header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn signed(body: &str) -> Request<Body> {
    paystack_request(body, Some(&sign(body.as_bytes())))
}

fn with_xff(mut request: Request<Body>, values: &[&str]) -> Request<Body> {
    for v in values {
        request
            .headers_mut()
            .append("x-forwarded-for", v.parse().unwrap());
    }
    request
}

async fn assert_rejected(response: Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    let body = json_body(response).await;
    assert_eq!(body["code"], code, "{body}");
    assert!(!body["detail"].as_str().unwrap_or_default().is_empty(), "{body}");
}

#[tokio::test]
async fn signed_paystack_webhook_from_paystack_is_accepted_with_its_raw_bytes() {
    let app = app(GuardConfig::default());
    let (status, response) = app.send(PAYSTACK_IP, signed(CHARGE)).await;
    assert_eq!(status, StatusCode::OK);
    let seen = json_body(response).await;
    assert_eq!(seen["client_ip"], PAYSTACK_IP);
    assert_eq!(seen["verified_len"], CHARGE.len());
    assert_eq!(seen["body_matches"], true);
    assert_eq!(seen["payment"], Value::Null);
    assert_eq!(app.calls(), 1);
    assert_eq!(app.guards.metrics().accepted(Provider::Paystack), 1);
}

#[tokio::test]
async fn missing_malformed_and_wrong_signatures_are_401() {
    let app = app(GuardConfig::default());
    let (_, r) = app.send(PAYSTACK_IP, paystack_request(CHARGE, None)).await;
    assert_rejected(r, StatusCode::UNAUTHORIZED, "signature_missing").await;
    let (_, r) = app.send(PAYSTACK_IP, paystack_request(CHARGE, Some("abc"))).await;
    assert_rejected(r, StatusCode::UNAUTHORIZED, "signature_malformed").await;
    // Signed for another body: the body was altered in transit.
    let other = sign(b"{\"event\":\"charge.success\"}");
    let (_, r) = app
        .send(PAYSTACK_IP, paystack_request(CHARGE, Some(&other)))
        .await;
    assert_rejected(r, StatusCode::UNAUTHORIZED, "signature_mismatch").await;
    // Signed with another key.
    let forged = malipo_paystack::sign(CHARGE.as_bytes(), &Secret::new("sk_test_other".into()));
    let (_, r) = app
        .send(PAYSTACK_IP, paystack_request(CHARGE, Some(&forged)))
        .await;
    assert_rejected(r, StatusCode::UNAUTHORIZED, "signature_mismatch").await;

    assert_eq!(app.calls(), 0);
    assert_eq!(
        app.rejected(Provider::Paystack, RejectReason::SignatureMissing),
        1
    );
    assert_eq!(
        app.rejected(Provider::Paystack, RejectReason::SignatureMalformed),
        1
    );
    assert_eq!(
        app.rejected(Provider::Paystack, RejectReason::SignatureMismatch),
        2
    );
}

#[tokio::test]
async fn foreign_address_is_403_even_when_signed() {
    let app = app(GuardConfig::default());
    let (_, r) = app.send("203.0.113.9", signed(CHARGE)).await;
    assert_rejected(r, StatusCode::FORBIDDEN, "source_not_allowed").await;
    // Safaricom's addresses are not Paystack's.
    let (_, r) = app.send(SAFARICOM_IP, signed(CHARGE)).await;
    assert_rejected(r, StatusCode::FORBIDDEN, "source_not_allowed").await;
    assert_eq!(app.calls(), 0);
    assert_eq!(
        app.rejected(Provider::Paystack, RejectReason::SourceNotAllowed),
        2
    );
}

#[tokio::test]
async fn spoofed_forwarded_for_from_untrusted_peer_changes_nothing() {
    // No trusted proxies at all.
    let app1 = app(GuardConfig::default());
    let (_, r) = app1
        .send("203.0.113.9", with_xff(signed(CHARGE), &[PAYSTACK_IP]))
        .await;
    assert_rejected(r, StatusCode::FORBIDDEN, "source_not_allowed").await;

    // Trusted proxies configured, but the peer is not one of them.
    let app2 = app(GuardConfig::default().with_trusted_proxies([parse_net("10.0.0.0/8").unwrap()]));
    let (_, r) = app2
        .send(
            "203.0.113.9",
            with_xff(signed(CHARGE), &[PAYSTACK_IP, "10.0.0.1"]),
        )
        .await;
    assert_rejected(r, StatusCode::FORBIDDEN, "source_not_allowed").await;

    // Through the trusted proxy, the forged left-most entry is ignored: the proxy appended the
    // real peer on the right.
    let (_, r) = app2
        .send(
            "10.0.0.1",
            with_xff(signed(CHARGE), &[&format!("{PAYSTACK_IP}, 203.0.113.9")]),
        )
        .await;
    assert_rejected(r, StatusCode::FORBIDDEN, "source_not_allowed").await;
    assert_eq!(app1.calls() + app2.calls(), 0);
}

#[tokio::test]
async fn trusted_proxy_forwarded_client_is_used() {
    let app = app(GuardConfig::default()
        .with_trusted_proxies([parse_net("10.0.0.0/8").unwrap(), parse_net("fd00::/8").unwrap()]));
    let request = with_xff(
        signed(CHARGE),
        &[&format!("198.51.100.1, {PAYSTACK_IP}"), "10.1.1.1"],
    );
    let (status, r) = app.send("10.0.0.1", request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_body(r).await["client_ip"], PAYSTACK_IP);

    // An IPv6 proxy forwarding an IPv4 client, with a port.
    let request = with_xff(signed(CHARGE), &["52.49.173.169:40112"]);
    let (status, r) = app.send("[fd00::7]:443", request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_body(r).await["client_ip"], "52.49.173.169");
}

#[tokio::test]
async fn ipv6_sources() {
    let mut config = GuardConfig::default();
    config.paystack.source =
        SourceCheck::Allowlist(IpAllowlist::paystack().with([parse_net("2001:db8:cafe::/48").unwrap()]));
    let config = config.with_trusted_proxies([parse_net("2001:db8:1::1").unwrap()]);
    let app = app(config);

    let (status, r) = app.send("[2001:db8:cafe::42]:5000", signed(CHARGE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_body(r).await["client_ip"], "2001:db8:cafe::42");

    let (_, r) = app.send("[2001:db8:beef::42]:5000", signed(CHARGE)).await;
    assert_rejected(r, StatusCode::FORBIDDEN, "source_not_allowed").await;

    // A dual-stack socket reports Paystack's IPv4 address in mapped form.
    let (status, r) = app.send("[::ffff:52.31.139.75]:5000", signed(CHARGE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_body(r).await["client_ip"], PAYSTACK_IP);

    // Behind an IPv6 trusted proxy, bracketed forms.
    let request = with_xff(signed(CHARGE), &["[2001:db8:beef::1]:1, [2001:db8:cafe::9]:443"]);
    let (status, r) = app.send("[2001:db8:1::1]:80", request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_body(r).await["client_ip"], "2001:db8:cafe::9");
}

#[tokio::test]
async fn oversized_by_content_length_is_413_without_reading() {
    let app = app(GuardConfig::default().with_body_limit(1024));
    // The declared length alone is enough: the stream behind it would never end.
    let endless = futures::stream::repeat_with(|| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 512])));
    let request = Request::post("/webhooks/paystack")
        .header(header::CONTENT_LENGTH, "1000000")
        .header("x-paystack-signature", "0".repeat(128))
        .body(Body::from_stream(endless))
        .unwrap();
    let (_, r) = app.send(PAYSTACK_IP, request).await;
    assert_rejected(r, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
    assert_eq!(app.calls(), 0);
    assert_eq!(app.rejected(Provider::Paystack, RejectReason::BodyTooLarge), 1);
}

#[tokio::test]
async fn oversized_chunked_body_is_413_after_the_limit() {
    let app = app(GuardConfig::default().with_body_limit(1024));
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    // No Content-Length, no size hint, and no end: only a capped read can answer.
    let endless = futures::stream::repeat_with(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 100]))
    });
    let request = Request::post("/callbacks/mpesa/c2b/confirmation")
        .body(Body::from_stream(endless))
        .unwrap();
    assert!(request.headers().get(header::CONTENT_LENGTH).is_none());
    let (_, r) = app.send(SAFARICOM_IP, request).await;
    assert_rejected(r, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
    // It stopped reading right after crossing the limit.
    assert!(pulled.load(Ordering::SeqCst) <= 12, "{pulled:?}");
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn body_at_the_limit_is_accepted() {
    let app = app(GuardConfig::default().with_body_limit(CHARGE.len()));
    let (status, _) = app.send(PAYSTACK_IP, signed(CHARGE)).await;
    assert_eq!(status, StatusCode::OK);
    let app = app_with_limit(CHARGE.len() - 1);
    let (_, r) = app.send(PAYSTACK_IP, signed(CHARGE)).await;
    assert_rejected(r, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
}

#[tokio::test]
async fn the_default_limit_is_64_kib() {
    // A large body is still a JSON object: the limit is on the bytes, whatever they say.
    let pad = |total: usize| {
        let overhead = r#"{"event":"charge.success","pad":""}"#.len();
        format!(
            r#"{{"event":"charge.success","pad":"{}"}}"#,
            "x".repeat(total - overhead)
        )
    };
    let at_limit = pad(64 * 1024);
    assert_eq!(at_limit.len(), 64 * 1024);
    let app = app(GuardConfig::default());
    let (status, _) = app.send(PAYSTACK_IP, signed(&at_limit)).await;
    assert_eq!(status, StatusCode::OK);
    let over = pad(64 * 1024 + 1);
    let (_, r) = app.send(PAYSTACK_IP, signed(&over)).await;
    assert_rejected(r, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
}

/// A service that is never ready.
#[derive(Clone)]
struct NeverReady;

impl tower::Service<Request<Body>> for NeverReady {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Pending
    }

    fn call(&mut self, _: Request<Body>) -> Self::Future {
        unreachable!("called without being ready")
    }
}

#[test]
fn the_guard_is_ready_only_when_the_service_behind_it_is() {
    use tower::{Layer, Service};
    let guards = Guards::new(GuardConfig::default());
    let mut service = guards.paystack(paystack_key()).layer(NeverReady);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(service.poll_ready(&mut cx).is_pending());
}

fn app_with_limit(limit: usize) -> App {
    app(GuardConfig::default().with_body_limit(limit))
}

#[tokio::test]
async fn broken_body_is_400() {
    let app = app(GuardConfig::default());
    let broken = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"{\"Body\":")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "peer went away",
        )),
    ]);
    let request = Request::post("/callbacks/mpesa/c2b/confirmation")
        .body(Body::from_stream(broken))
        .unwrap();
    let (_, r) = app.send(SAFARICOM_IP, request).await;
    assert_rejected(r, StatusCode::BAD_REQUEST, "body_unreadable").await;

    let request = Request::post("/callbacks/mpesa/c2b/confirmation")
        .header(header::CONTENT_LENGTH, "ten")
        .body(Body::from(C2B))
        .unwrap();
    let (_, r) = app.send(SAFARICOM_IP, request).await;
    assert_rejected(r, StatusCode::BAD_REQUEST, "body_unreadable").await;
    assert_eq!(app.calls(), 0);
}

fn stk_request(token: &str) -> Request<Body> {
    Request::post(format!("/callbacks/mpesa/stk/{token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(STK))
        .unwrap()
}

#[tokio::test]
async fn good_token_names_its_payment() {
    let app = app(GuardConfig::default());
    let payment = PaymentId::new();
    let token = tokens().issue_for(CallbackRoute::Stk, payment);
    let (status, r) = app.send(SAFARICOM_IP, stk_request(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let seen = json_body(r).await;
    assert_eq!(seen["payment"], payment.to_string());
    assert_eq!(seen["client_ip"], SAFARICOM_IP);
    assert_eq!(seen["body_matches"], true);

    let result = tokens().issue_for(CallbackRoute::Result, payment);
    let request = Request::post(format!("/callbacks/mpesa/result/{result}"))
        .body(Body::from("{}"))
        .unwrap();
    let (status, _) = app.send(SAFARICOM_IP, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.calls(), 2);
}

#[tokio::test]
async fn a_token_is_refused_on_another_route() {
    let app = app(GuardConfig::default());
    let payment = PaymentId::new();
    let stk = tokens().issue_for(CallbackRoute::Stk, payment);
    let request = Request::post(format!("/callbacks/mpesa/result/{stk}"))
        .body(Body::from("{}"))
        .unwrap();
    let (_, r) = app.send(SAFARICOM_IP, request).await;
    assert_rejected(r, StatusCode::NOT_FOUND, "unknown_callback_token").await;
    let result = tokens().issue_for(CallbackRoute::Result, payment);
    let (_, r) = app.send(SAFARICOM_IP, stk_request(&result)).await;
    assert_rejected(r, StatusCode::NOT_FOUND, "unknown_callback_token").await;
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn bad_token_is_404() {
    let app = app(GuardConfig::default());
    let token = tokens().issue_for(CallbackRoute::Stk, PaymentId::new());
    let other_key =
        CallbackTokens::new(Secret::new(vec![9u8; 32])).issue_for(CallbackRoute::Stk, PaymentId::new());
    let mut tampered = token.clone().into_bytes();
    // Another hex digit, so the URI stays valid.
    tampered[40] = if tampered[40] == b'0' { b'1' } else { b'0' };
    for bad in [
        "nope".to_string(),
        other_key,
        String::from_utf8(tampered).unwrap(),
        token.to_uppercase(),
        PaymentId::new().to_string(),
    ] {
        let (_, r) = app.send(SAFARICOM_IP, stk_request(&bad)).await;
        assert_rejected(r, StatusCode::NOT_FOUND, "unknown_callback_token").await;
    }
    assert_eq!(app.calls(), 0);
    assert_eq!(app.rejected(Provider::Mpesa, RejectReason::UnknownToken), 5);
}

#[tokio::test]
async fn good_token_from_a_foreign_address_is_403() {
    let app = app(GuardConfig::default());
    let token = tokens().issue_for(CallbackRoute::Stk, PaymentId::new());
    let (_, r) = app.send("203.0.113.50", stk_request(&token)).await;
    assert_rejected(r, StatusCode::FORBIDDEN, "source_not_allowed").await;
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn c2b_routes_need_only_the_source() {
    let app = app(GuardConfig::default());
    let request = || {
        Request::post("/callbacks/mpesa/c2b/confirmation")
            .body(Body::from(C2B))
            .unwrap()
    };
    let (status, r) = app.send("196.201.212.69", request()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_body(r).await["verified_len"], C2B.len());
    let (_, r) = app.send("203.0.113.9", request()).await;
    assert_rejected(r, StatusCode::FORBIDDEN, "source_not_allowed").await;
}

#[tokio::test]
async fn disabled_allowlist_lets_any_source_through() {
    let config = GuardConfig::default()
        .with_source(Provider::Paystack, SourceCheck::Disabled)
        .with_source(Provider::Mpesa, SourceCheck::Disabled);
    let app = app(config);
    let (status, _) = app.send("127.0.0.1", signed(CHARGE)).await;
    assert_eq!(status, StatusCode::OK);
    // The signature is still required.
    let (_, r) = app.send("127.0.0.1", paystack_request(CHARGE, None)).await;
    assert_rejected(r, StatusCode::UNAUTHORIZED, "signature_missing").await;
}

#[tokio::test]
async fn unmatched_path_stays_a_plain_404() {
    let app = app(GuardConfig::default());
    let (status, r) = app
        .send(
            "203.0.113.9",
            Request::post("/nowhere").body(Body::empty()).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body = r.into_body().collect().await.unwrap().to_bytes();
    assert!(body.is_empty(), "{body:?}");
    assert!(app.guards.metrics().rejections().is_empty());
}

#[tokio::test]
async fn request_without_peer_address_is_refused() {
    let app = app(GuardConfig::default());
    let response = app.router.clone().oneshot(signed(CHARGE)).await.unwrap();
    assert_rejected(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "peer_address_unknown",
    )
    .await;
    assert_eq!(app.calls(), 0);
}

fn limited_config() -> GuardConfig {
    let three_a_minute = RateLimit::per_minute(NonZeroU32::new(1).unwrap(), NonZeroU32::new(3).unwrap());
    GuardConfig::default()
        .with_source(Provider::Paystack, SourceCheck::Disabled)
        .with_rate_limit(Provider::Paystack, Some(three_a_minute))
        .with_trusted_proxies([parse_net("10.0.0.1").unwrap()])
}

#[tokio::test]
async fn flood_from_one_address_is_limited_while_another_is_served() {
    let app = app(limited_config());
    for _ in 0..3 {
        let (status, _) = app.send("198.51.100.7", signed(CHARGE)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, r) = app.send("198.51.100.7", signed(CHARGE)).await;
    let retry_after: u64 = r.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_rejected(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    let (status, _) = app.send("198.51.100.8", signed(CHARGE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.calls(), 4);
    assert_eq!(app.rejected(Provider::Paystack, RejectReason::RateLimited), 1);
    // M-Pesa has its own limiter: untouched by the Paystack flood.
    assert_eq!(app.rejected(Provider::Mpesa, RejectReason::RateLimited), 0);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_limited() {
    let app = app(limited_config());
    let via_proxy = |client: &str| with_xff(signed(CHARGE), &[client]);
    for _ in 0..3 {
        let (status, _) = app.send("10.0.0.1", via_proxy("198.51.100.7")).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, r) = app.send("10.0.0.1", via_proxy("198.51.100.7")).await;
    assert_rejected(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Same proxy, another client: served; the proxy itself is not what is limited.
    for client in ["198.51.100.8", "198.51.100.9"] {
        let (status, _) = app.send("10.0.0.1", via_proxy(client)).await;
        assert_eq!(status, StatusCode::OK, "{client}");
    }
}
