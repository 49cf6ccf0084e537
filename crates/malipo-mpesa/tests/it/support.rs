//! A simulator, a client pointed at it, and a callback receiver.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use malipo_core::{Currency, Money, Msisdn, Secret};
use malipo_mpesa::{parse_callback, Callback, CallbackKind, MpesaClient, MpesaSettings, RetryPolicy};
use malipo_sim::mpesa::{MpesaSim, MpesaSimHandle, SimConfig};
use tokio::sync::{mpsc, Mutex};
use url::Url;

pub const CREDENTIAL: &str = "c2ltdWxhdGVkLXNlY3VyaXR5LWNyZWRlbnRpYWw=";

/// Simulator settings for tests: short callback delay, a known credential.
pub fn sim_config() -> SimConfig {
    SimConfig {
        security_credential: Some(CREDENTIAL.to_string()),
        ..SimConfig::default()
    }
    .callback_delay(Duration::from_millis(20))
}

pub fn settings_for(sim: &MpesaSimHandle) -> MpesaSettings {
    let c = sim.config();
    let mut settings = MpesaSettings::new(
        sim.base_url(),
        Secret::new(c.consumer_key.clone()),
        Secret::new(c.consumer_secret.clone()),
        Secret::new(c.passkey.clone()),
        c.shortcode.clone(),
    )
    .with_initiator(c.initiator_name.clone(), Secret::new(CREDENTIAL.to_string()));
    settings.timeout = Duration::from_secs(5);
    settings.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    settings
}

pub struct World {
    pub sim: MpesaSimHandle,
    pub client: MpesaClient,
    pub receiver: Receiver,
}

pub async fn world() -> World {
    world_with(sim_config()).await
}

pub async fn world_with(config: SimConfig) -> World {
    let sim = MpesaSim::start(config).await.expect("simulator starts");
    let client = MpesaClient::new(settings_for(&sim)).expect("client builds");
    let receiver = Receiver::start().await;
    World {
        sim,
        client,
        receiver,
    }
}

pub fn kes(shillings: u64) -> Money {
    Money::from_major(shillings, Currency::Kes).unwrap()
}

pub fn phone(s: &str) -> Msisdn {
    s.parse().unwrap()
}

/// What the receiver got: the path it was posted to and the parsed callback.
#[derive(Debug)]
pub struct Received {
    pub path: String,
    pub callback: Callback,
}

struct ReceiverState {
    tx: mpsc::UnboundedSender<Result<Received, String>>,
    /// Bodies posted to the `raw-…` paths (callbacks of products with their own parsers).
    raw_tx: mpsc::UnboundedSender<(String, Bytes)>,
    reject_validation: Mutex<bool>,
}

/// A tiny axum app on 127.0.0.1:0 collecting callbacks.
pub struct Receiver {
    base: Url,
    rx: mpsc::UnboundedReceiver<Result<Received, String>>,
    raw_rx: mpsc::UnboundedReceiver<(String, Bytes)>,
    state: Arc<ReceiverState>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    Path(path): Path<String>,
    body: Bytes,
) -> Json<serde_json::Value> {
    if path.starts_with("raw-") {
        let _ = state.raw_tx.send((path, body));
        return Json(malipo_mpesa::callback_ack());
    }
    let kind = match path.as_str() {
        "stk" => CallbackKind::Stk,
        "c2b-validate" => CallbackKind::C2bValidation,
        "c2b-confirm" => CallbackKind::C2bConfirmation,
        "timeout" => CallbackKind::Timeout,
        _ => CallbackKind::Result,
    };
    let callback = match parse_callback(kind, &body) {
        Ok(cb) => cb,
        Err(e) => {
            let _ = state.tx.send(Err(format!("unparseable {kind:?} callback: {e}")));
            return Json(serde_json::json!({"ResultCode": 1, "ResultDesc": "Rejected"}));
        }
    };
    let answer = if kind == CallbackKind::C2bValidation && *state.reject_validation.lock().await {
        malipo_mpesa::C2bValidationResponse::Reject(malipo_mpesa::C2bRejection::InvalidAccountNumber)
            .to_json()
    } else {
        callback.acknowledgement()
    };
    let _ = state.tx.send(Ok(Received { path, callback }));
    Json(answer)
}

impl Receiver {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (raw_tx, raw_rx) = mpsc::unbounded_channel();
        let state = Arc::new(ReceiverState {
            tx,
            raw_tx,
            reject_validation: Mutex::new(false),
        });
        let app = Router::new()
            .route("/hooks/{path}", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            base: format!("http://{addr}/hooks/").parse().unwrap(),
            rx,
            raw_rx,
            state,
        }
    }

    /// The URL of one of the receiver's paths (`stk`, `result`, `timeout`, `c2b-confirm`, …).
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }

    pub async fn reject_validation(&self) {
        *self.state.reject_validation.lock().await = true;
    }

    /// The next callback (a generous guard against a hang, not a timing assertion).
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(20), self.rx.recv())
            .await
            .expect("a callback arrives")
            .expect("the receiver is running")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next body posted to a `raw-…` path, with its path (a generous guard against a
    /// hang, not a timing assertion).
    pub async fn next_raw(&mut self) -> (String, Bytes) {
        tokio::time::timeout(Duration::from_secs(20), self.raw_rx.recv())
            .await
            .expect("a callback arrives")
            .expect("the receiver is running")
    }

    /// True when nothing else has arrived yet.
    pub fn nothing_pending(&mut self) -> bool {
        self.rx.try_recv().is_err()
    }
}
