//! A local Paystack: the API's paths and payloads on loopback, a checkout a test (or a person)
//! can pay, and signed webhooks with Paystack's retry behaviour.
//!
//! Independent of `malipo-paystack` on purpose: it is the second implementation the client is
//! tested against, so it signs webhooks with its own HMAC code.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use malipo_sim::paystack::{PaystackSim, SimConfig};
//!
//! let config = SimConfig::default().webhook_url("http://127.0.0.1:8080/webhooks/paystack".parse().unwrap());
//! let sim = PaystackSim::start(config).await?;
//! println!("Paystack simulator at {}", sim.base_url());
//! // … initialize a transaction through the API, then pay it as the customer would:
//! // sim.authorize("the-reference")?;
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod checkout;
mod config;
mod groups;
mod records;
mod state;
mod webhook;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use url::Url;

pub use config::{SimConfig, ADDRESS_CHECK_CARD, FAILING_ACCOUNT_NUMBER, TEST_OTP, TEST_SECRET_KEY};
pub use state::ApiCall;
pub use webhook::{Attempt, Delivery};

use state::{ApiError, State};

/// Why a simulator action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (HTTP {status})")]
pub struct SimError {
    /// The HTTP status the same refusal gets over the API.
    pub status: u16,
    /// What was wrong.
    pub message: String,
}

impl From<ApiError> for SimError {
    fn from(e: ApiError) -> Self {
        SimError {
            status: e.status,
            message: e.message,
        }
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    config: SimConfig,
    base_url: Url,
    state: Mutex<State>,
    http: reqwest::Client,
    changes: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes whoever waits in [`PaystackSimHandle::wait_for_deliveries`].
    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn url(&self, segments: &[&str]) -> String {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url.to_string()
    }
}

fn authorize(shared: &Arc<Shared>, reference: &str) -> Result<Value, ApiError> {
    let (webhooks, data) = {
        let mut state = shared.lock();
        let index = state
            .tx_by_reference(reference)
            .ok_or_else(|| ApiError::not_found("Transaction reference not found"))?;
        let webhooks = state.authorize(index)?;
        let data = state.transactions.get(index).map(state::Tx::json);
        (webhooks, data.unwrap_or(Value::Null))
    };
    for (event, data) in webhooks {
        webhook::enqueue(shared, event, data, None);
    }
    Ok(data)
}

/// Starts Paystack simulators.
#[derive(Debug)]
pub struct PaystackSim;

impl PaystackSim {
    /// Serves on 127.0.0.1 on a free port.
    pub async fn start(config: SimConfig) -> std::io::Result<PaystackSimHandle> {
        PaystackSim::serve(TcpListener::bind(("127.0.0.1", 0)).await?, config)
    }

    /// Serves on a listener the caller bound (a fixed port for a person).
    pub fn serve(listener: TcpListener, config: SimConfig) -> std::io::Result<PaystackSimHandle> {
        let addr = listener.local_addr()?;
        let base_url = Url::parse(&format!("http://{addr}/"))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let http = reqwest::Client::builder()
            .timeout(config.delivery_timeout)
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            config,
            base_url: base_url.clone(),
            state: Mutex::new(State::default()),
            http,
            changes: watch::channel(0).0,
        });
        let latency = shared.config.api_latency;
        let app = api::router(shared.clone())
            .layer(axum::middleware::from_fn(
                move |request, next: axum::middleware::Next| async move {
                    if !latency.is_zero() {
                        tokio::time::sleep(latency).await;
                    }
                    next.run(request).await
                },
            ))
            .merge(checkout::router(shared.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "paystack simulator stopped");
            }
        });
        Ok(PaystackSimHandle {
            addr,
            base_url,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct PaystackSimHandle {
    addr: SocketAddr,
    base_url: Url,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("base_url", &self.base_url.as_str())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PaystackSimHandle {
    /// The base URL to give the client (`http://127.0.0.1:PORT/`).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Pays the checkout of `reference` as the customer would, then sends `charge.success`.
    /// Returns the transaction as `verify` now shows it.
    pub fn authorize(&self, reference: &str) -> Result<Value, SimError> {
        authorize(&self.shared, reference).map_err(SimError::from)
    }

    /// Opens a chargeback on the paid transaction `reference`, as a customer's bank would, and
    /// sends `charge.dispute.create`. Returns the dispute as `GET /dispute/:id` shows it.
    pub fn open_dispute(&self, reference: &str) -> Result<Value, SimError> {
        groups::disputes::open(&self.shared, reference).map_err(SimError::from)
    }

    /// Settles every paid transaction not settled yet, one settlement per currency, as
    /// Paystack's daily payout would. Returns the new settlements.
    pub fn settle(&self) -> Vec<Value> {
        groups::settlements::settle(&self.shared)
    }

    /// Pays payment request `code` as its customer would and sends `paymentrequest.success`.
    /// Returns the request as `GET /paymentrequest/:code` shows it.
    pub fn pay_payment_request(&self, code: &str) -> Result<Value, SimError> {
        groups::payment_requests::pay(&self.shared, code).map_err(SimError::from)
    }

    /// Runs every active bulk-charge batch, as Paystack's queue would: each charge succeeds
    /// (sending `charge.success`) when its authorization is usable, else fails. Returns how many
    /// charges were attempted.
    pub fn run_bulk_charges(&self) -> usize {
        groups::bulk_charges::run(&self.shared)
    }

    /// Every authenticated API request so far, in order (a test's proof of which endpoints it
    /// exercised).
    pub fn api_calls(&self) -> Vec<ApiCall> {
        self.shared.lock().api_calls.clone()
    }

    /// Every webhook so far, in the order they were queued.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }

    /// Sends delivery `id`'s exact body and signature again as a new delivery, as Paystack
    /// occasionally does; returns the new delivery's id.
    pub fn send_duplicate(&self, id: usize) -> Result<usize, SimError> {
        webhook::duplicate(&self.shared, id).ok_or_else(|| SimError {
            status: 404,
            message: format!("no delivery {id}"),
        })
    }

    /// Waits until `predicate` holds for the delivery log or `timeout` passes; returns the log
    /// as it was last seen either way.
    pub async fn wait_for_deliveries(
        &self,
        timeout: Duration,
        predicate: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let mut changes = self.shared.changes.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let log = self.deliveries();
            if predicate(&log) {
                return log;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.deliveries(),
            }
        }
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

impl Drop for PaystackSimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
