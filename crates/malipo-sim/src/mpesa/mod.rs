//! A local Daraja: the same paths, checks, answers and callbacks as Safaricom's sandbox, on
//! loopback.
//!
//! It checks the Basic auth of the token request and the bearer token of every call, the STK
//! password against the configured passkey (and the timestamp against Nairobi's clock), field
//! formats and lengths, and answers with Daraja's response shapes and error codes. After an
//! accepted STK push, B2C, B2B, status, balance or reversal request it POSTs the callback to the
//! request's URL after [`SimConfig::callback_delay`], with the [`Outcome`] configured for the
//! phone or amount; the STK query reports the same outcome (HTTP 500 `500.001.1001` until it is
//! decided). C2B simulate calls the registered validation and confirmation URLs; every C2B
//! payment it completes is listed by Pull Transactions (`/pulltransactions/v1/…`, by row
//! offset), including those whose confirmation it was told to drop
//! ([`MpesaSimHandle::drop_c2b_confirmations`]); a shortcode refused pulling
//! ([`SimConfig::pull_refused_shortcodes`]) gets Daraja's `400.001 Invalid ShortCode`. Dynamic
//! QR answers a placeholder PNG; M-Pesa Ratiba and B2B Express Checkout call back with the
//! outcome configured for the phone or amount; Bill Manager keeps invoices, refuses to cancel a
//! paid one, and pushes each C2B payment to an opted-in paybill to its callback URL.
//!
//! Independent of `malipo-mpesa` on purpose: it is the second implementation the client is
//! tested against.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use malipo_sim::mpesa::{MpesaSim, Outcome, SimConfig};
//!
//! let config = SimConfig::default()
//!     .callback_delay(Duration::from_millis(50))
//!     .outcome_for_phone("254708374149", Outcome::Cancelled);
//! let sim = MpesaSim::start(config).await?;
//! println!("Daraja simulator at {}", sim.base_url());
//! // … point the client's base URL at it, push, receive the callback …
//! assert_eq!(sim.token_requests(), 0);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod bill_manager;
mod callbacks;
pub mod certificate;
mod config;
mod fields;
mod pull;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

pub use config::{Outcome, SimConfig, SANDBOX_PASSKEY};
pub use pull::C2bTransaction;

use state::State;

/// A Daraja endpoint, for counters and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /oauth/v1/generate`.
    Token,
    /// `POST /mpesa/stkpush/v1/processrequest`.
    StkPush,
    /// `POST /mpesa/stkpushquery/v1/query`.
    StkQuery,
    /// `POST /mpesa/c2b/v1/registerurl` and v2.
    C2bRegister,
    /// `POST /mpesa/c2b/v1/simulate`.
    C2bSimulate,
    /// `POST /mpesa/b2c/v3/paymentrequest` and v1.
    B2c,
    /// `POST /mpesa/b2b/v1/paymentrequest`.
    B2b,
    /// `POST /mpesa/transactionstatus/v1/query`.
    TransactionStatus,
    /// `POST /mpesa/accountbalance/v1/query`.
    AccountBalance,
    /// `POST /mpesa/reversal/v1/request`.
    Reversal,
    /// `POST /pulltransactions/v1/register`.
    PullRegister,
    /// `POST /pulltransactions/v1/query`.
    PullQuery,
    /// `POST /mpesa/qrcode/v1/generate`.
    DynamicQr,
    /// `POST /standingorder/v1/createStandingOrderExternal` (M-Pesa Ratiba).
    Ratiba,
    /// `POST /v1/ussdpush/get-msisdn` (B2B Express Checkout).
    B2bExpress,
    /// `POST /v1/billmanager-invoice/…` (every Bill Manager operation).
    BillManager,
}

/// A misbehaviour to inject into the next request to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with Daraja's error body.
    Error {
        /// HTTP status.
        status: u16,
        /// `errorCode`.
        error_code: String,
        /// `errorMessage`.
        error_message: String,
    },
    /// Wait this long, then answer normally (to trigger client timeouts).
    Delay(Duration),
    /// Answer 200 with a body that is not JSON.
    Garbage,
    /// Answer with this status and body verbatim (a proxy's HTML page, say).
    Raw {
        /// HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
}

impl Fault {
    /// `500.003.02` system busy (HTTP 503).
    pub fn system_busy() -> Self {
        Fault::Error {
            status: 503,
            error_code: "500.003.02".into(),
            error_message: "System is busy. Please try again in few minutes.".into(),
        }
    }

    /// `500.003.03` quota violation / spike arrest (HTTP 429).
    pub fn spike_arrest() -> Self {
        Fault::Error {
            status: 429,
            error_code: "500.003.03".into(),
            error_message: "Quota Violation".into(),
        }
    }

    /// A failed pull answered **HTTP 200** with an error code in the body, as Daraja does.
    pub fn failed_with_200() -> Self {
        Fault::Raw {
            status: 200,
            body: serde_json::json!({
                "ResponseRefID": "4617-2313579-1",
                "ResponseCode": "500.003.02",
                "ResponseMessage": "Internal server error",
            })
            .to_string(),
        }
    }

    /// `400.002.02` bad request.
    pub fn bad_request(message: &str) -> Self {
        Fault::Error {
            status: 400,
            error_code: "400.002.02".into(),
            error_message: message.into(),
        }
    }
}

/// A callback the simulator POSTed.
#[derive(Debug, Clone, PartialEq)]
pub struct SentCallback {
    /// Where it went.
    pub url: String,
    /// What it sent.
    pub body: serde_json::Value,
    /// The receiver's HTTP status, or `None` when it could not be reached.
    pub status: Option<u16>,
}

/// What every handler shares.
pub(crate) struct Shared {
    config: SimConfig,
    base_url: Url,
    state: Mutex<State>,
    http: reqwest::Client,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Starts simulators.
pub struct MpesaSim;

impl MpesaSim {
    /// Binds 127.0.0.1:`config.port` and serves until [`MpesaSimHandle::shutdown`] (or the
    /// handle is dropped).
    pub async fn start(config: SimConfig) -> std::io::Result<MpesaSimHandle> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
        let addr = listener.local_addr()?;
        let base_url = Url::parse(&format!("http://{addr}/"))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let state = State {
            outcomes_by_phone: config.outcomes_by_phone.clone(),
            outcomes_by_amount: config.outcomes_by_amount.clone(),
            drop_confirmations: config.drop_c2b_confirmations,
            ..State::default()
        };
        let shared = Arc::new(Shared {
            config,
            base_url: base_url.clone(),
            state: Mutex::new(state),
            http,
        });
        let app = api::router(shared.clone());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the Daraja simulator stopped");
            }
        });
        Ok(MpesaSimHandle {
            shared,
            addr,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A running simulator: its address, counters and controls.
pub struct MpesaSimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MpesaSimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpesaSimHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MpesaSimHandle {
    /// The base URL to give the client (`http://127.0.0.1:PORT/`).
    pub fn base_url(&self) -> Url {
        self.shared.base_url.clone()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// How many token requests arrived (valid or not).
    pub fn token_requests(&self) -> u64 {
        self.requests(Endpoint::Token)
    }

    /// How many requests arrived at an endpoint (valid or not).
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        self.shared.lock().requests.get(&endpoint).copied().unwrap_or(0)
    }

    /// Makes every issued token invalid: the next call with one gets `404.001.03`.
    pub fn expire_tokens(&self) {
        let mut state = self.shared.lock();
        state.tokens.clear();
        state.token_expiry.clear();
    }

    /// Sets the outcome of future payments from/to `phone` (`2547XXXXXXXX`).
    pub fn set_outcome_for_phone(&self, phone: &str, outcome: Outcome) {
        self.shared
            .lock()
            .outcomes_by_phone
            .insert(phone.to_string(), outcome);
    }

    /// Sets the outcome of future payments of `amount` shillings.
    pub fn set_outcome_for_amount(&self, amount: u64, outcome: Outcome) {
        self.shared.lock().outcomes_by_amount.insert(amount, outcome);
    }

    /// Queues a fault for the next request to `endpoint` (call repeatedly for several).
    pub fn inject_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared
            .lock()
            .faults
            .entry(endpoint)
            .or_default()
            .push_back(fault);
    }

    /// The receipt this simulator issued for the B2C payment with this
    /// OriginatorConversationID, whether or not its result callback was sent.
    pub fn b2c_receipt(&self, originator_conversation_id: &str) -> Option<String> {
        self.shared
            .lock()
            .b2c_receipts
            .get(originator_conversation_id)
            .map(|(receipt, _)| receipt.clone())
    }

    /// Drops (`true`) or sends again (`false`) the C2B confirmations of payments made from now
    /// on. A dropped confirmation's payment still completes and is listed by the pull.
    pub fn drop_c2b_confirmations(&self, drop: bool) {
        self.shared.lock().drop_confirmations = drop;
    }

    /// Sends the confirmations dropped so far, late (as Daraja may after an outage); returns
    /// how many were sent.
    pub async fn send_dropped_confirmations(&self) -> usize {
        let dropped = std::mem::take(&mut self.shared.lock().dropped);
        let count = dropped.len();
        for (url, body) in dropped {
            callbacks::post_confirmation(&self.shared, &url, body).await;
        }
        count
    }

    /// Refuses Pull Transactions for `shortcode` from now on (`400.001 Invalid ShortCode`).
    pub fn refuse_pull_for(&self, shortcode: &str) {
        self.shared.lock().pull_refused.insert(shortcode.to_string());
    }

    /// Every C2B payment completed so far, oldest first.
    pub fn c2b_transactions(&self) -> Vec<C2bTransaction> {
        self.shared.lock().c2b_transactions.clone()
    }

    /// The callbacks POSTed so far, in the order they were sent.
    pub fn sent_callbacks(&self) -> Vec<SentCallback> {
        self.shared.lock().sent.clone()
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MpesaSimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
