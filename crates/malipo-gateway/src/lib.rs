//! The malipo gateway service: inbound callback and webhook endpoints, the worker that applies
//! events to payments, health and metrics.
//!
//! The gateway is a library with a thin binary (`malipo serve`): tests start the real thing on
//! `127.0.0.1:0` through the same [`Gateway::serve`] seam.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = malipo_config::Config::load(None)?;
//! let gateway = malipo_gateway::Gateway::from_config(&config).await?;
//! let listener = tokio::net::TcpListener::bind(config.server.bind).await?;
//! gateway.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod apply;
mod build;
pub mod delivery;
mod error;
mod inbound;
mod metrics;
mod ops;
pub mod payments;
mod worker;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use malipo_core::Secret;
use malipo_guard::{CallbackTokens, Guards};
use malipo_store::Store;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use apply::{decide, parse, provider_reference, Lookup, Parsed};
pub use build::{
    callback_key_path, callback_token_key, mpesa_settings, open_store, paystack_client, providers,
};
pub use error::GatewayError;
pub use metrics::{Endpoint, Metrics, Outcome};
pub use worker::MAX_ATTEMPTS;

/// The longest an inbound request may take, body and commit included.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Where events, jobs and payments live.
    pub store: Arc<dyn Store>,
    /// The gateway's counters.
    pub metrics: Arc<Metrics>,
    /// The guard layers' factory and counters.
    pub guards: Guards,
    /// Callback URL tokens (present when M-Pesa is configured).
    pub callback_tokens: Option<CallbackTokens>,
    /// Paystack's secret key (present when Paystack is configured).
    pub paystack_secret: Option<Secret<String>>,
    /// Wakes the worker when a new event is stored.
    pub worker_wakeup: Arc<Notify>,
    /// The provider clients that start, query and refund payments.
    pub providers: Providers,
}

/// The configured providers' API clients and the public URL callbacks are built from.
#[derive(Clone, Default)]
pub struct Providers {
    /// The Daraja client (present when `[mpesa]` is configured).
    pub mpesa: Option<malipo_mpesa::MpesaClient>,
    /// The Paystack client (present when `[paystack]` is configured).
    pub paystack: Option<malipo_paystack::Client>,
    /// `server.public_base_url`: where providers reach this gateway.
    pub public_base_url: Option<reqwest::Url>,
}

/// The assembled gateway.
pub struct Gateway {
    state: AppState,
    run_worker: bool,
    delivery: Option<delivery::DeliverySettings>,
}

impl Gateway {
    /// A gateway over an already-built state (tests and embedders).
    pub fn new(state: AppState) -> Self {
        Gateway {
            state,
            run_worker: true,
            delivery: Some(delivery::DeliverySettings::default()),
        }
    }

    /// Sets how deliveries to the merchant's endpoints are sent; `None` turns the sender off.
    pub fn with_delivery(mut self, settings: Option<delivery::DeliverySettings>) -> Self {
        self.delivery = settings;
        self
    }

    /// Turns the background worker off (for tests of the inbound path alone).
    pub fn without_worker(mut self) -> Self {
        self.run_worker = false;
        self
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Every route: inbound endpoints of the configured providers, health and metrics.
    pub fn router(&self) -> Router {
        let state = &self.state;
        let mut router = ops::router();
        if let Some(r) = inbound::paystack_router(state) {
            router = router.merge(r);
        }
        if let Some(r) = inbound::mpesa_router(state) {
            router = router.merge(r);
        }
        // A slow sender (a body trickled byte by byte) cannot hold a connection and a guard
        // buffer for ever: the whole request must finish within this time.
        router
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            ))
            .with_state(state.clone())
    }

    /// Serves on `listener` until `shutdown` resolves, with the worker running beside it; in-flight
    /// requests finish before it returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let worker = self.run_worker.then(|| {
            let name = format!("worker-{}", std::process::id());
            tokio::spawn(worker::run(self.state.clone(), name, stop_rx.clone()))
        });
        let sender = self.delivery.clone().map(|settings| {
            let name = format!("sender-{}", std::process::id());
            tokio::spawn(delivery::run(self.state.clone(), settings, name, stop_rx.clone()))
        });
        let app = self.router().into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
        let _ = stop_tx.send(true);
        if let Some(w) = worker {
            let _ = w.await;
        }
        if let Some(s) = sender {
            let _ = s.await;
        }
        result
    }
}
