//! The merchant's app, as small as one can be: it receives malipo's signed deliveries and
//! decides C2B validations, verifying every request's Standard Webhooks signature first, the way
//! a shop's backend would.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use malipo_webhooks::{Verifier, WebhookSecret};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

/// Account references the app refuses at validation: a closed account.
pub const CLOSED_ACCOUNT_PREFIX: &str = "CLOSED";

/// One request the app got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id`.
    pub id: String,
    /// The body's `type` (`payment.succeeded`, `payment.validation`…).
    pub event_type: String,
    /// The body's `data`.
    pub data: serde_json::Value,
    /// Whether its signature verified (a request that does not is answered 401).
    pub verified: bool,
    /// What the app answered (validations).
    pub answer: Option<serde_json::Value>,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
}

/// The running app.
pub struct MerchantApp {
    addr: SocketAddr,
    secret: WebhookSecret,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct AppState {
    verifier: Verifier,
    shared: Arc<Shared>,
}

impl MerchantApp {
    /// Starts the app on a free loopback port, with a freshly generated signing secret.
    pub async fn start() -> anyhow::Result<MerchantApp> {
        let secret = WebhookSecret::generate();
        let shared = Arc::new(Shared::default());
        let state = Arc::new(AppState {
            verifier: Verifier::new(secret.clone()),
            shared: shared.clone(),
        });
        let app = axum::Router::new()
            .route("/hooks/malipo", post(delivery))
            .route("/hooks/validate", post(validation))
            .with_state(state);
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("cannot listen for the demo's merchant app")?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "the demo's merchant app stopped");
            }
        });
        Ok(MerchantApp {
            addr,
            secret,
            shared,
            task,
        })
    }

    /// Where deliveries go.
    pub fn webhook_url(&self) -> Url {
        Url::parse(&format!("http://{}/hooks/malipo", self.addr)).expect("a loopback URL")
    }

    /// Where validations go.
    pub fn validation_url(&self) -> Url {
        Url::parse(&format!("http://{}/hooks/validate", self.addr)).expect("a loopback URL")
    }

    /// The signing secret shared with malipo (`whsec_…`).
    pub fn secret(&self) -> String {
        self.secret.expose_whsec()
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Stops the app.
    pub fn stop(&self) {
        self.task.abort();
    }
}

/// Parses and verifies a request; `None` for one that does not verify (recorded as such, and
/// answered 401).
fn verified(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Option<Received> {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let mut received = Received {
        id,
        event_type: parsed["type"].as_str().unwrap_or("?").to_string(),
        data: parsed["data"].clone(),
        verified: false,
        answer: None,
    };
    if state.verifier.verify(headers, body).is_err() {
        record(state, received);
        return None;
    }
    received.verified = true;
    Some(received)
}

fn record(state: &AppState, received: Received) {
    if let Ok(mut r) = state.shared.received.lock() {
        r.push(received);
    }
}

async fn delivery(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    match verified(&state, &headers, &body) {
        Some(received) => {
            record(&state, received);
            StatusCode::NO_CONTENT.into_response()
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn validation(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(mut received) = verified(&state, &headers, &body) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let account = received.data["account_reference"].as_str().unwrap_or_default();
    let answer = if account.starts_with(CLOSED_ACCOUNT_PREFIX) {
        serde_json::json!({"accept": false, "reason": "invalid_account"})
    } else {
        serde_json::json!({"accept": true})
    };
    received.answer = Some(answer.clone());
    record(&state, received);
    axum::Json(answer).into_response()
}
