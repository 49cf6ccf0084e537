//! What the guard logs when it refuses a request: one WARN line per refusal, and never the body,
//! a signature, a callback token or a key. Its own test binary, so that its global subscriber sees
//! every event.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::Router;
use malipo_core::{PaymentId, Provider, Secret};
use malipo_guard::{CallbackTokens, GuardConfig, Guards, SourceCheck};
use tower::ServiceExt;

const PAYSTACK_KEY: &str = "sk_test_guard_logs_secret_0123456789";
const TOKEN_KEY: &[u8] = b"guard-logs-test-token-key-0123456789";
const STK: &str = include_str!("fixtures/stk-callback-paid.json");
const PAYSTACK_IP: &str = "52.31.139.75";
const SAFARICOM_IP: &str = "196.201.214.200";

fn tokens() -> CallbackTokens {
    CallbackTokens::new(Secret::new(TOKEN_KEY.to_vec()))
}

fn sign(body: &[u8]) -> String {
    malipo_paystack::sign(body, &Secret::new(PAYSTACK_KEY.to_string()))
}

struct App(Router);

fn app() -> App {
    let guards = Guards::new(GuardConfig::default().with_body_limit(4096));
    App(Router::new()
        .route("/webhooks/paystack", post(|| async { "ok" }))
        .route_layer(guards.paystack(Secret::new(PAYSTACK_KEY.to_string())))
        .merge(
            Router::new()
                .route("/callbacks/mpesa/stk/{token}", post(|| async { "ok" }))
                .route_layer(guards.mpesa_callback(tokens())),
        ))
}

impl App {
    async fn send(&self, peer: &str, request: Request<Body>) -> (StatusCode, ()) {
        let peer = SocketAddr::new(peer.parse().unwrap(), 45_678);
        let response = self
            .0
            .clone()
            .layer(MockConnectInfo(peer))
            .oneshot(request)
            .await
            .unwrap();
        (response.status(), ())
    }
}

fn paystack_request(body: &str, signature: Option<&str>) -> Request<Body> {
    let mut b = Request::post("/webhooks/paystack");
    if let Some(sig) = signature {
        b = b.header("x-paystack-signature", sig);
    }
    b.header("content-length", body.len())
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn stk_request(token: &str) -> Request<Body> {
    Request::post(format!("/callbacks/mpesa/stk/{token}"))
        .body(Body::from(STK))
        .unwrap()
}

/// A `MakeWriter` into a shared buffer, to read what was logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn rejections_are_logged_once_without_body_signature_or_secrets() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    // Global, and alone in this test binary: a scoped subscriber can miss events when other
    // tests run concurrently on threads without it (tracing caches callsite interest).
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let app = app();
    let secret_marker = "BODY-MARKER-7f3a9c";
    let body = format!("{{\"event\":\"charge.success\",\"note\":\"{secret_marker}\"}}");
    let good_signature = sign(body.as_bytes());
    let wrong_signature = sign(b"something else");
    let token = tokens().issue_for(malipo_guard::CallbackRoute::Stk, PaymentId::new());

    let (s1, _) = app
        .send(PAYSTACK_IP, paystack_request(&body, Some(&wrong_signature)))
        .await;
    let (s2, _) = app
        .send("203.0.113.9", paystack_request(&body, Some(&good_signature)))
        .await;
    let (s3, _) = app
        .send(PAYSTACK_IP, paystack_request(&"x".repeat(5000), None))
        .await;
    // A valid token refused for its source: the log must not give the token away.
    let (s4, _) = app.send("203.0.113.9", stk_request(&token)).await;
    let (s5, _) = app.send(SAFARICOM_IP, stk_request("forged")).await;
    assert_eq!(
        [s1, s2, s3, s4, s5],
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::FORBIDDEN,
            StatusCode::NOT_FOUND
        ]
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warn_lines: Vec<_> = logs.lines().filter(|l| l.contains("WARN")).collect();
    let refusals: Vec<_> = warn_lines
        .iter()
        .filter(|l| l.contains("inbound callback refused"))
        .collect();
    assert_eq!(refusals.len(), 5, "{logs}");
    for (line, reason) in refusals.iter().zip([
        "signature_mismatch",
        "source_not_allowed",
        "body_too_large",
        "source_not_allowed",
        "unknown_callback_token",
    ]) {
        assert!(line.contains(reason), "{line}");
        assert!(line.contains("provider="), "{line}");
        assert!(line.contains("client_ip="), "{line}");
        assert!(line.contains("path="), "{line}");
    }
    assert!(logs.contains("path=/callbacks/mpesa/stk/{token}"), "{logs}");
    for forbidden in [
        PAYSTACK_KEY,
        secret_marker,
        &good_signature,
        &wrong_signature,
        &token,
        std::str::from_utf8(TOKEN_KEY).unwrap(),
        "xxxxxxxxxx",
    ] {
        assert!(!logs.contains(forbidden), "log leaks {forbidden:?}:\n{logs}");
    }

    // A flood of forgeries is counted in full but cannot flood the log: the refusal lines are
    // bounded per second, and a later line says how many were left out.
    let guards_before = logs.matches("inbound callback refused").count();
    for _ in 0..500 {
        let (status, _) = app.send(SAFARICOM_IP, stk_request("forged")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let flood_lines = logs.matches("inbound callback refused").count() - guards_before;
    // The flood may straddle a second boundary: at most two windows' worth.
    let bound = 2 * malipo_guard::REFUSAL_LINES_PER_SECOND as usize;
    assert!(
        flood_lines <= bound,
        "{flood_lines} refusal lines for a flood of 500"
    );
    assert!(flood_lines >= 1, "the flood was not logged at all");

    // Building guards warns of a provider whose source check is off, and only of that one (the
    // guards above, with the published allowlists, warned of nothing).
    assert!(!logs.contains("allowlist is disabled"), "{logs}");
    let _ = Guards::new(GuardConfig::default().with_source(Provider::Paystack, SourceCheck::Disabled));
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let disabled: Vec<_> = logs
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("allowlist is disabled"))
        .collect();
    assert_eq!(disabled.len(), 1, "{logs}");
    assert!(disabled[0].contains("provider=paystack"), "{}", disabled[0]);
}
