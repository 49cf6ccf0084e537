//! Signed delivery to merchant endpoints, over real HTTP: the real gateway (its sender) and an
//! in-process receiver that records what it gets and can be told to fail, redirect or be down.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use malipo_core::{Currency, Money, PaymentId, PaymentState, Provider, Secret};
use malipo_gateway::delivery::{self, CreateEndpoint, DeliverySettings, TargetPolicy};
use malipo_store::{DeliveryFilter, DeliveryRecord, DeliveryStatus, NewPayment};
use malipo_webhooks::{Verifier, WebhookSecret};

use crate::common::TestGateway;

/// Short waits so retries happen within a test; enough of them that nothing goes dead.
fn settings() -> DeliverySettings {
    DeliverySettings {
        retry_schedule: vec![Duration::from_millis(100); 60],
        jitter: 0.1,
        timeout: Duration::from_secs(3),
        per_endpoint_concurrency: 4,
        poll_interval: Duration::from_millis(20),
        policy: TargetPolicy {
            require_https: false,
            allow_private: false,
        },
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Captured {
    pub headers: HashMap<String, String>,
    pub body: Bytes,
    /// What the receiver answered.
    pub answered: u16,
}

impl Captured {
    pub fn id(&self) -> &str {
        &self.headers["webhook-id"]
    }
    pub fn event_type(&self) -> String {
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        v["type"].as_str().unwrap().to_string()
    }
}

#[derive(Default)]
struct ReceiverState {
    captured: Mutex<Vec<Captured>>,
    /// Answer 500 to this many requests first.
    fail_next: Mutex<usize>,
}

/// A recording receiver on loopback.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

async fn record(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> Response {
    let answered = {
        let mut fail = state.fail_next.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            500
        } else {
            200
        }
    };
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    state.captured.lock().unwrap().push(Captured {
        headers,
        body,
        answered,
    });
    StatusCode::from_u16(answered).unwrap().into_response()
}

async fn hang() -> Response {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    StatusCode::OK.into_response()
}

async fn redirect() -> Response {
    (StatusCode::FOUND, [("location", "/hook")]).into_response()
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts on a given address (to come back on the port of one that was down).
    pub async fn start_on(addr: SocketAddr) -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let app = axum::Router::new()
            .route("/hook", post(record))
            .route("/redirect", post(redirect))
            .route("/hang", post(hang))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, state, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn fail_next(&self, n: usize) {
        *self.state.fail_next.lock().unwrap() = n;
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.state.captured.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Captured> {
        self.captured()
            .into_iter()
            .filter(|c| c.answered == 200)
            .collect()
    }

    /// Waits until `n` requests were answered 2xx.
    pub async fn wait_accepted(&self, n: usize) -> Vec<Captured> {
        for _ in 0..500 {
            let got = self.accepted();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "the receiver got {} of {n} deliveries: {:?}",
            self.accepted().len(),
            self.captured()
        );
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn add_endpoint(
    gw: &TestGateway,
    name: &str,
    url: &str,
    types: &[&str],
    allow_private: bool,
) -> Secret<String> {
    let created = delivery::create_endpoint(
        &gw.state,
        CreateEndpoint {
            name: name.into(),
            url: url.into(),
            event_types: types.iter().map(|s| s.to_string()).collect(),
            allow_private,
            secret: None,
        },
    )
    .await
    .unwrap();
    assert!(created.secret.expose().starts_with("whsec_"));
    created.secret
}

/// A payment that moves through `states` (from pending), each move its own committed change.
async fn payment_through(gw: &TestGateway, kind: &str, states: &[PaymentState]) -> PaymentId {
    let p = gw
        .store()
        .insert_payment(NewPayment::pending(
            Provider::Paystack,
            kind,
            Money::from_minor(250_000, Currency::Kes),
        ))
        .await
        .unwrap();
    for s in states {
        gw.store()
            .transition_payment(p.id, *s, Default::default())
            .await
            .unwrap();
    }
    p.id
}

async fn deliveries(gw: &TestGateway) -> Vec<DeliveryRecord> {
    gw.store()
        .list_deliveries(&DeliveryFilter {
            limit: 1000,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap()
}

/// Waits until every delivery satisfies `done`.
async fn wait_deliveries(gw: &TestGateway, done: impl Fn(&DeliveryRecord) -> bool) -> Vec<DeliveryRecord> {
    for _ in 0..500 {
        let all = deliveries(gw).await;
        if !all.is_empty() && all.iter().all(&done) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("deliveries never got there: {:?}", deliveries(gw).await);
}

fn verifies(secret: &Secret<String>, c: &Captured) -> bool {
    let secret: WebhookSecret = secret.expose().parse().unwrap();
    Verifier::new(secret).verify(&c.headers, &c.body).is_ok()
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_delivery_on_the_third_attempt_with_the_same_id() {
    let gw = TestGateway::start_delivering("", settings()).await;
    let rx = Receiver::start().await;
    rx.fail_next(2);
    let secret = add_endpoint(&gw, "shop", &rx.url("/hook"), &[], true).await;
    let payment = payment_through(&gw, "charge", &[PaymentState::Succeeded]).await;

    rx.wait_accepted(1).await;
    let all = rx.captured();
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(
        all.iter().map(|c| c.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert!(
        all.iter().all(|c| c.id() == all[0].id()),
        "one webhook-id on every attempt"
    );
    assert!(all.iter().all(|c| verifies(&secret, c)));
    assert_eq!(all[0].headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&all[2].body).unwrap();
    assert_eq!(body["type"], "payment.succeeded");
    assert_eq!(body["data"]["id"], payment.to_string());
    assert_eq!(body["data"]["amount"]["minor"], 250_000);

    let done = wait_deliveries(&gw, |d| d.status == DeliveryStatus::Delivered).await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id.to_string(), all[0].id());
    assert_eq!(done[0].attempts, 3);
    assert_eq!(done[0].last_status, Some(200));
    gw.stop().await;
}

#[tokio::test]
async fn a_receiver_down_for_the_whole_run_gets_every_delivery_once_when_back() {
    let gw = TestGateway::start_delivering("", settings()).await;
    // Connections are refused until the receiver comes up on this address.
    let down = malipo_sim::Down::new().unwrap();
    add_endpoint(&gw, "shop", &format!("http://{}/hook", down.addr()), &[], true).await;
    const N: usize = 12;
    for i in 0..N {
        let to = if i % 2 == 0 {
            PaymentState::Succeeded
        } else {
            PaymentState::Failed
        };
        payment_through(&gw, "charge", &[to]).await;
    }
    // Several attempts fail while it is down.
    for _ in 0..200 {
        if deliveries(&gw).await.iter().all(|d| d.attempts >= 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let failing = deliveries(&gw).await;
    assert_eq!(failing.len(), N);
    assert!(failing
        .iter()
        .all(|d| d.status == DeliveryStatus::Pending && d.attempts >= 2));
    assert!(
        failing[0].last_error.as_deref().unwrap().contains("connection"),
        "{failing:?}"
    );

    let rx = Receiver::start_on(down.release()).await;
    let got = rx.wait_accepted(N).await;
    wait_deliveries(&gw, |d| d.status == DeliveryStatus::Delivered).await;
    // A little longer: nothing arrives twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_now = rx.captured();
    let mut ids: Vec<&str> = got_now.iter().map(Captured::id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N);
    assert_eq!(got_now.len(), N, "no delivery arrived twice");
    assert_eq!(got.len(), N);
    gw.stop().await;
}

/// Regression: the API took the name `../x` and a URL with a password in it, which every
/// listing then showed.
#[tokio::test]
async fn an_endpoint_needs_a_plain_name_and_a_url_without_credentials() {
    let gw = TestGateway::start_delivering("", settings()).await;
    let create = |name: &str, url: &str| {
        delivery::create_endpoint(
            &gw.state,
            CreateEndpoint {
                name: name.into(),
                url: url.into(),
                ..CreateEndpoint::default()
            },
        )
    };
    for name in ["../x", "a/b", ".hidden", "", "shop 1", &"x".repeat(65)] {
        let refused = create(name, "https://shop.example/hook").await.unwrap_err();
        assert!(refused.to_string().starts_with("name: "), "{name:?}: {refused}");
    }
    for url in ["https://user:pass@shop.example/h", "https://user@shop.example/h"] {
        let refused = create("shop", url).await.unwrap_err().to_string();
        assert!(
            refused.starts_with("url: ") && refused.contains("password"),
            "{refused}"
        );
        assert!(!refused.contains("pass@"), "the URL is not repeated: {refused}");
    }
    create("shop-1.main_v2", "https://shop.example/hook")
        .await
        .unwrap();
    gw.stop().await;
}

#[tokio::test]
async fn redirects_and_internal_targets_are_refused_and_recorded() {
    let gw = TestGateway::start_delivering("", settings()).await;
    let rx = Receiver::start().await;
    add_endpoint(&gw, "redirecting", &rx.url("/redirect"), &[], true).await;
    // No allow flag: a loopback literal and a name resolving to loopback. The literal is refused
    // at creation too, so it goes straight into the store (as an older malipo may have left it).
    let refused = delivery::create_endpoint(
        &gw.state,
        CreateEndpoint {
            name: "literal".into(),
            url: rx.url("/hook"),
            ..CreateEndpoint::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("url: refused: 127.0.0.1 is a loopback"),
        "{refused}"
    );
    gw.store()
        .upsert_endpoint(
            malipo_store::NewEndpoint {
                name: "literal".into(),
                url: rx.url("/hook"),
                secret: Secret::new(WebhookSecret::generate().expose_whsec()),
                event_types: vec![],
                enabled: true,
                allow_private: false,
            },
            Duration::ZERO,
        )
        .await
        .unwrap();
    add_endpoint(
        &gw,
        "named",
        &format!("http://localhost:{}/hook", rx.addr.port()),
        &[],
        false,
    )
    .await;
    payment_through(&gw, "charge", &[PaymentState::Succeeded]).await;

    let all = wait_deliveries(&gw, |d| d.attempts >= 2).await;
    let endpoints = gw.store().list_endpoints().await.unwrap();
    let by_name = |name: &str| {
        let id = endpoints.iter().find(|e| e.name == name).unwrap().id;
        all.iter().find(|d| d.endpoint_id == Some(id)).unwrap().clone()
    };
    let r = by_name("redirecting");
    assert_eq!(r.status, DeliveryStatus::Pending);
    assert_eq!(r.last_status, Some(302));
    assert!(r.last_error.as_deref().unwrap().contains("redirect"), "{r:?}");
    let l = by_name("literal");
    assert_eq!(l.last_status, None);
    assert!(
        l.last_error
            .as_deref()
            .unwrap()
            .starts_with("refused: 127.0.0.1 is a loopback"),
        "{l:?}"
    );
    let n = by_name("named");
    assert!(
        n.last_error
            .as_deref()
            .unwrap()
            .contains("refused: localhost resolves to no public address"),
        "{n:?}"
    );
    // Nothing reached the receiver's recording route: the redirect was not followed.
    assert!(rx.captured().is_empty(), "{:?}", rx.captured());
    gw.stop().await;

    // Production: http is refused even where internal addresses are allowed.
    let mut prod = settings();
    prod.policy.require_https = true;
    let gw = TestGateway::start_delivering("", prod).await;
    add_endpoint(&gw, "plain-http", &rx.url("/hook"), &[], true).await;
    payment_through(&gw, "charge", &[PaymentState::Succeeded]).await;
    let all = wait_deliveries(&gw, |d| d.attempts >= 1 && d.last_error.is_some()).await;
    assert!(
        all[0].last_error.as_deref().unwrap().contains("only https"),
        "{all:?}"
    );
    assert!(rx.captured().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn one_payments_deliveries_arrive_in_order() {
    let gw = TestGateway::start_delivering("", settings()).await;
    let rx = Receiver::start().await;
    // The first attempt fails: the later changes must wait behind it, not overtake it.
    rx.fail_next(1);
    add_endpoint(&gw, "shop", &rx.url("/hook"), &[], true).await;
    payment_through(
        &gw,
        "charge",
        &[
            PaymentState::Succeeded,
            PaymentState::PartiallyRefunded,
            PaymentState::Refunded,
        ],
    )
    .await;
    let got = rx.wait_accepted(3).await;
    let types: Vec<String> = got.iter().map(Captured::event_type).collect();
    assert_eq!(
        types,
        [
            "payment.succeeded",
            "payment.partially_refunded",
            "payment.refunded"
        ]
    );
    let all = rx.captured();
    assert_eq!(all[0].answered, 500);
    assert_eq!(
        all[0].event_type(),
        "payment.succeeded",
        "nothing went out before the first"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_signs_with_both_old_and_new() {
    let gw = TestGateway::start_delivering("", settings()).await;
    let rx = Receiver::start().await;
    let old = add_endpoint(&gw, "shop", &rx.url("/hook"), &[], true).await;
    let rotated = delivery::rotate_endpoint_secret(&gw.state, "shop", None)
        .await
        .unwrap();
    assert!(rotated.endpoint.previous_secret_until.is_some());
    payment_through(&gw, "charge", &[PaymentState::Succeeded]).await;
    let got = rx.wait_accepted(1).await;
    assert!(verifies(&old, &got[0]), "the old secret still verifies");
    assert!(verifies(&rotated.secret, &got[0]), "the new secret verifies");
    assert_eq!(got[0].headers["webhook-signature"].split(' ').count(), 2);
    assert!(!verifies(
        &Secret::new(WebhookSecret::generate().expose_whsec()),
        &got[0]
    ));

    // A zero overlap: only the new secret signs.
    let again = delivery::rotate_endpoint_secret(&gw.state, "shop", Some(Duration::ZERO))
        .await
        .unwrap();
    payment_through(&gw, "charge", &[PaymentState::Failed]).await;
    let got = rx.wait_accepted(2).await;
    assert!(verifies(&again.secret, &got[1]));
    assert!(!verifies(&rotated.secret, &got[1]));
    gw.stop().await;
}

#[tokio::test]
async fn an_endpoints_event_filter_is_honoured_and_a_dead_endpoint_does_not_hold_others() {
    let gw = TestGateway::start_delivering("", settings()).await;
    let failures = Receiver::start().await;
    let payouts = Receiver::start().await;
    add_endpoint(&gw, "failures", &failures.url("/hook"), &["payment.failed"], true).await;
    add_endpoint(&gw, "payouts", &payouts.url("/hook"), &["payout.*"], true).await;
    // An endpoint that never answers: connection refused on every attempt.
    let dead = malipo_sim::Down::new().unwrap();
    add_endpoint(&gw, "dead", &format!("http://{}/hook", dead.addr()), &[], true).await;

    payment_through(&gw, "charge", &[PaymentState::Succeeded]).await;
    payment_through(&gw, "stk_push", &[PaymentState::Failed]).await;
    payment_through(&gw, "b2c", &[PaymentState::Succeeded]).await;

    let f = failures.wait_accepted(1).await;
    let p = payouts.wait_accepted(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(failures.captured().len(), 1);
    assert_eq!(f[0].event_type(), "payment.failed");
    assert_eq!(payouts.captured().len(), 1);
    assert_eq!(p[0].event_type(), "payout.succeeded");

    // Disabling keeps the dead endpoint's deliveries, and stops attempts.
    delivery::set_endpoint_enabled(&gw.state, "dead", false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before: Vec<u32> = deliveries(&gw)
        .await
        .iter()
        .filter(|d| d.status == DeliveryStatus::Pending)
        .map(|d| d.attempts)
        .collect();
    assert_eq!(before.len(), 3, "the dead endpoint's three deliveries are kept");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after: Vec<u32> = deliveries(&gw)
        .await
        .iter()
        .filter(|d| d.status == DeliveryStatus::Pending)
        .map(|d| d.attempts)
        .collect();
    assert_eq!(before, after, "no attempt while disabled");
    gw.stop().await;
}

#[tokio::test]
async fn retries_running_out_dead_letter_and_a_retry_delivers() {
    let mut s = settings();
    s.retry_schedule = vec![Duration::from_millis(50); 2];
    let gw = TestGateway::start_delivering("", s).await;
    let rx = Receiver::start().await;
    rx.fail_next(3);
    add_endpoint(&gw, "shop", &rx.url("/hook"), &[], true).await;
    payment_through(&gw, "charge", &[PaymentState::Cancelled]).await;
    let dead = wait_deliveries(&gw, |d| d.status == DeliveryStatus::DeadLetter).await;
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_status, Some(500));
    assert_eq!(gw.store().stats().await.unwrap().deliveries_dead, 1);

    let view = delivery::retry_delivery(&gw.state, dead[0].id).await.unwrap();
    // The sender may already have delivered it by the time the view is read back.
    assert_ne!(view.status, DeliveryStatus::DeadLetter);
    let got = rx.wait_accepted(1).await;
    assert_eq!(got[0].id(), dead[0].id.to_string());
    assert_eq!(got[0].event_type(), "payment.cancelled");
    let done = wait_deliveries(&gw, |d| d.status == DeliveryStatus::Delivered).await;
    assert_eq!(done[0].attempts, 1, "the retry started the schedule over");
    gw.stop().await;
}

/// The Python interpreter of the virtualenv `scripts/test` makes with PyPI's `standardwebhooks`,
/// or `None` (with the reason printed) when it is missing and `CI` is not `true`.
fn python_standardwebhooks() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("MALIPO_PY_SW")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/py-sw"))
        .join("bin/python");
    if python.exists() {
        return Some(python);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{} is missing and CI=true: run `python3 -m venv target/py-sw && target/py-sw/bin/pip install standardwebhooks` (scripts/test does)",
            python.display()
        );
    }
    eprintln!(
        "SKIPPED: the standardwebhooks interop test needs {} (make it with `python3 -m venv target/py-sw && target/py-sw/bin/pip install standardwebhooks`, as scripts/test does)",
        python.display()
    );
    None
}

/// Runs `script` with `input` on standard input; its standard output.
fn run_python(python: &std::path::Path, script: &str, input: &serde_json::Value) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const PY_VERIFY: &str = r#"
import base64, json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
results = []
for case in json.load(sys.stdin):
    try:
        Webhook(case["secret"]).verify(base64.b64decode(case["body"]), case["headers"])
        results.append("ok")
    except WebhookVerificationError as e:
        results.append("refused: " + str(e))
print(json.dumps(results))
"#;

const PY_SIGN: &str = r#"
import base64, json, sys
from datetime import datetime, timezone
from standardwebhooks.webhooks import Webhook
case = json.load(sys.stdin)
ts = datetime.fromtimestamp(case["timestamp"], tz=timezone.utc)
print(Webhook(case["secret"]).sign(case["id"], ts, base64.b64decode(case["body"])))
"#;

#[tokio::test]
async fn every_captured_delivery_verifies_with_pythons_standardwebhooks() {
    use base64::Engine as _;
    let Some(python) = python_standardwebhooks() else {
        return;
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let gw = TestGateway::start_delivering("", settings()).await;
    let rx = Receiver::start().await;
    rx.fail_next(1);
    let plain = add_endpoint(&gw, "plain", &rx.url("/hook"), &[], true).await;
    let rotating = add_endpoint(&gw, "rotating", &rx.url("/hook"), &[], true).await;
    let rotated = delivery::rotate_endpoint_secret(&gw.state, "rotating", None)
        .await
        .unwrap();
    payment_through(&gw, "charge", &[PaymentState::Succeeded, PaymentState::Refunded]).await;
    payment_through(&gw, "b2c", &[PaymentState::Failed]).await;
    rx.wait_accepted(6).await;
    let captured = rx.captured();
    assert_eq!(captured.len(), 7, "six deliveries and one failed attempt");

    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for c in &captured {
        let signature = &c.headers["webhook-signature"];
        let secrets = if signature.contains(' ') {
            vec![&rotating, &rotated.secret]
        } else {
            vec![&plain]
        };
        for s in secrets {
            cases.push(
                serde_json::json!({"secret": s.expose(), "headers": c.headers, "body": b64.encode(&c.body)}),
            );
            expected.push("ok".to_string());
        }
        // And a tampered body is refused by the Python library too.
        let mut tampered = c.body.to_vec();
        tampered.push(b' ');
        let s = if signature.contains(' ') {
            &rotating
        } else {
            &plain
        };
        cases.push(
            serde_json::json!({"secret": s.expose(), "headers": c.headers, "body": b64.encode(&tampered)}),
        );
        expected.push("refused: No matching signature found".to_string());
    }
    let results: Vec<String> =
        serde_json::from_str(&run_python(&python, PY_VERIFY, &serde_json::Value::Array(cases))).unwrap();
    assert_eq!(results, expected);

    // The other way: what Python signs, Rust verifies, byte for byte the same signature.
    let body = br#"{"type":"payment.succeeded","data":{"id":"pay_x"}}"#;
    let now = chrono::Utc::now().timestamp();
    let py_sig = run_python(
        &python,
        PY_SIGN,
        &serde_json::json!({"secret": plain.expose(), "id": "dlv_interop", "timestamp": now, "body": b64.encode(body)}),
    );
    let ours = malipo_webhooks::Signer::new(plain.expose().parse().unwrap()).sign("dlv_interop", now, body);
    assert_eq!(py_sig.trim(), ours.signature);
    gw.stop().await;
}

#[tokio::test]
async fn a_hanging_endpoint_times_out_without_slowing_another() {
    let mut s = settings();
    // A timeout long enough that a shared queue (20 / 2 × 1 s) could not pass for a slow CI machine.
    s.timeout = Duration::from_secs(1);
    s.per_endpoint_concurrency = 2;
    let gw = TestGateway::start_delivering("", s).await;
    let rx = Receiver::start().await;
    add_endpoint(&gw, "hanging", &rx.url("/hang"), &[], true).await;
    add_endpoint(&gw, "fine", &rx.url("/hook"), &[], true).await;
    const N: usize = 20;
    let started = std::time::Instant::now();
    for _ in 0..N {
        payment_through(&gw, "charge", &[PaymentState::Succeeded]).await;
    }
    rx.wait_accepted(N).await;
    // Twenty deliveries through a lane of two while the other lane's attempts each take the whole
    // timeout: had they shared a queue, this would take 20 / 2 × 1 s at least.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let hanging = gw.store().get_endpoint("hanging").await.unwrap().unwrap();
    let filter = DeliveryFilter {
        endpoint_id: Some(hanging.id),
        limit: 1000,
        ..DeliveryFilter::default()
    };
    let mut stuck = Vec::new();
    for _ in 0..200 {
        stuck = gw.store().list_deliveries(&filter).await.unwrap();
        if stuck.iter().any(|d| d.last_error.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stuck.len(), N);
    assert!(stuck.iter().all(|d| d.status == DeliveryStatus::Pending));
    let tried: Vec<_> = stuck.iter().filter(|d| d.last_error.is_some()).collect();
    assert!(!tried.is_empty());
    assert!(
        tried
            .iter()
            .all(|d| d.last_error.as_deref() == Some("timed out after 1000 ms")),
        "{tried:?}"
    );
    gw.stop().await;
}
