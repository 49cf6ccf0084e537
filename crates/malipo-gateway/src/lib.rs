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

pub mod api;
mod apply;
mod build;
pub mod c2b_pull;
mod dashboard;
pub mod delivery;
mod error;
mod inbound;
mod leases;
pub mod listener;
mod metrics;
mod ops;
pub mod payments;
pub mod payouts;
pub mod reconcile;
pub mod records;
pub mod validation;
mod worker;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use malipo_core::Secret;
use malipo_guard::{CallbackTokens, Guards};
use malipo_store::Store;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use apply::{decide, parse, provider_reference, replay_refusal, settle, Lookup, Parsed, Payee};
pub use build::{
    callback_key_path, callback_token_key, database_marker_path, listener_limits, mark_database,
    mpesa_settings, open_store, paystack_client, postgres_url, providers, refuse_vanished_database,
};
pub use dashboard::DashboardSettings;
pub use error::GatewayError;
pub use metrics::{Endpoint, Metrics, Outcome};
pub use worker::MAX_ATTEMPTS;

/// The longest an inbound request may take, body and commit included.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What every handler shares. Every request clones it (axum's `State`), so whatever is more
/// than a pointer or two sits behind an `Arc`.
#[derive(Clone)]
pub struct AppState {
    /// Where events, jobs and payments live.
    pub store: Arc<dyn Store>,
    /// The gateway's counters.
    pub metrics: Arc<Metrics>,
    /// The guard layers' factory and counters.
    pub guards: Arc<Guards>,
    /// Callback URL tokens (present when M-Pesa is configured).
    pub callback_tokens: Option<CallbackTokens>,
    /// Paystack's secret key (present when Paystack is configured): `[paystack]`'s own account.
    pub paystack_secret: Option<Arc<Secret<String>>>,
    /// The secret keys of the named Paystack accounts, each verifying its own webhook path.
    pub paystack_account_secrets: Arc<std::collections::BTreeMap<malipo_core::AccountName, Secret<String>>>,
    /// Wakes the worker when a new event is stored.
    pub worker_wakeup: Arc<Notify>,
    /// The provider clients that start, query and refund payments.
    pub providers: Arc<Providers>,
    /// The listeners' connection counters, for `/metrics`.
    pub connections: Arc<listener::ListenerCounters>,
    /// The M-Pesa shortcodes and tills money may be paid into, of every account: a C2B payment
    /// to any other is suspicious and never recorded.
    pub mpesa_payees: Arc<[apply::Payee]>,
    /// Strict settlement: a callback's success is confirmed with the provider (by the
    /// reconciler's query) before the payment is `succeeded` (`[reconcile] confirm_successes`,
    /// on by default in production).
    pub confirm_successes: bool,
    /// Asks the merchant's app to accept or reject C2B payments before they happen, by the
    /// shortcode or till paid (each account's `c2b_validation`); a shortcode of ours without one
    /// accepts every validation.
    pub c2b_validators: Arc<std::collections::HashMap<String, validation::Validator>>,
}

/// The configured providers' API clients and the public URL callbacks are built from.
#[derive(Clone, Default)]
pub struct Providers {
    /// The Daraja client of `[mpesa]`'s own account (present when `[mpesa]` is configured).
    pub mpesa: Option<malipo_mpesa::MpesaClient>,
    /// The Paystack client of `[paystack]`'s own account (present when `[paystack]` is
    /// configured).
    pub paystack: Option<malipo_paystack::Client>,
    /// The Daraja clients of the named accounts (`[mpesa.accounts.NAME]`).
    pub mpesa_accounts: std::collections::BTreeMap<malipo_core::AccountName, malipo_mpesa::MpesaClient>,
    /// The Paystack clients of the named accounts (`[paystack.accounts.NAME]`).
    pub paystack_accounts: std::collections::BTreeMap<malipo_core::AccountName, malipo_paystack::Client>,
    /// `server.public_base_url`: where providers reach this gateway.
    pub public_base_url: Option<reqwest::Url>,
}

impl Providers {
    /// The Daraja client of `account` (`default`: the section's own), if configured.
    pub fn mpesa_for(&self, account: &malipo_core::AccountName) -> Option<&malipo_mpesa::MpesaClient> {
        if account.is_default() {
            self.mpesa.as_ref()
        } else {
            self.mpesa_accounts.get(account)
        }
    }

    /// The Paystack client of `account` (`default`: the section's own), if configured.
    pub fn paystack_for(&self, account: &malipo_core::AccountName) -> Option<&malipo_paystack::Client> {
        if account.is_default() {
            self.paystack.as_ref()
        } else {
            self.paystack_accounts.get(account)
        }
    }
}

/// The assembled gateway.
pub struct Gateway {
    state: AppState,
    run_worker: bool,
    /// Worker loops run at once.
    workers: std::num::NonZeroUsize,
    limits: listener::ListenerLimits,
    reconcile: malipo_config::ReconcileConfig,
    delivery: Option<delivery::DeliverySettings>,
    public_healthz: bool,
    dashboard: Option<dashboard::DashboardSettings>,
    /// Keeps the PostgreSQL wake-ups coming while the gateway lives.
    work_listener: Option<malipo_store::WorkListener>,
    c2b_pulls: Vec<c2b_pull::PullPlan>,
}

impl Gateway {
    /// A gateway over an already-built state (tests and embedders).
    pub fn new(state: AppState) -> Self {
        Gateway {
            state,
            run_worker: true,
            workers: std::num::NonZeroUsize::MIN,
            limits: listener::ListenerLimits::default(),
            reconcile: malipo_config::ReconcileConfig::default(),
            delivery: Some(delivery::DeliverySettings::default()),
            public_healthz: true,
            dashboard: None,
            work_listener: None,
            c2b_pulls: Vec::new(),
        }
    }

    /// Keeps `listener` (PostgreSQL's wake-ups for the worker) alive as long as the gateway.
    pub fn with_work_listener(mut self, listener: Option<malipo_store::WorkListener>) -> Self {
        self.work_listener = listener;
        self
    }

    /// Pulls these accounts' C2B transactions periodically (each account's `c2b_pull`), with
    /// the worker; empty (the default) pulls nothing.
    pub fn with_c2b_pulls(mut self, plans: Vec<c2b_pull::PullPlan>) -> Self {
        self.c2b_pulls = plans;
        self
    }

    /// Sets how deliveries to the merchant's endpoints are sent; `None` turns the sender off.
    pub fn with_delivery(mut self, settings: Option<delivery::DeliverySettings>) -> Self {
        self.delivery = settings;
        self
    }

    /// Runs the reconciler with these settings (`[reconcile]`; `enabled = false` turns it off).
    pub fn with_reconcile(mut self, config: malipo_config::ReconcileConfig) -> Self {
        self.reconcile = config;
        self
    }

    /// Runs `n` worker loops at once (one by default; `[database] workers`). Each claims its own
    /// batches, so on PostgreSQL, where a batch mostly waits for round trips and commits, several
    /// keep more of the queue moving; on SQLite they would only queue for the one writer.
    pub fn with_workers(mut self, n: std::num::NonZeroUsize) -> Self {
        self.workers = n;
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

    /// Whether the public listener answers a bare `/healthz` when the operations routes have a
    /// listener of their own (`[ops] public_healthz`).
    pub fn with_public_healthz(mut self, on: bool) -> Self {
        self.public_healthz = on;
        self
    }

    /// Every route on one listener: inbound endpoints of the configured providers, health and
    /// metrics (for [`Gateway::serve`]: tests and embedders with one listener).
    pub fn router(&self) -> Router {
        self.inbound_router(ops::router())
    }

    /// The public listener's routes when the operations routes have their own listener: what
    /// providers call, and a bare `/healthz` if [`Gateway::with_public_healthz`] says so.
    pub fn public_router(&self) -> Router {
        let base = if self.public_healthz {
            ops::health_router()
        } else {
            Router::new()
        };
        self.inbound_router(base)
    }

    /// Serves the operator dashboard (`/admin`) on the operations listener with these
    /// settings; `None` (the default) leaves it off.
    pub fn with_dashboard(mut self, settings: Option<DashboardSettings>) -> Self {
        self.dashboard = settings;
        self
    }

    /// The operations listener's routes: `/metrics`, `/healthz`, `/readyz`, and the dashboard
    /// when it is on.
    pub fn ops_router(&self) -> Router {
        let ops = ops::router().with_state(self.state.clone());
        match &self.dashboard {
            Some(settings) => ops.merge(dashboard::router(self.state.clone(), settings)),
            None => ops,
        }
    }

    fn inbound_router(&self, base: Router<AppState>) -> Router {
        let state = &self.state;
        let mut router = base;
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
        self.run(listener, None, None, shutdown).await
    }

    /// Sets the listeners' limits (header-read timeout, connection caps); `from_config` takes
    /// them from `[server]`.
    pub fn with_listener_limits(mut self, limits: listener::ListenerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The merchant API's routes (`/v1/…`), for its own listener: never merged into
    /// [`Gateway::router`], so exposing the callbacks to the internet does not expose the API.
    pub fn api_router(&self) -> Router {
        api::router(&self.state)
    }

    /// Serves the public routes on `public` and the merchant API on `api` until `shutdown`
    /// resolves, with the worker and the hourly pruning of old idempotency keys beside them;
    /// in-flight requests on both finish before it returns.
    pub async fn serve_with_api(
        self,
        public: TcpListener,
        api: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.run(public, Some(api), None, shutdown).await
    }

    /// Serves the public routes on `public`, the merchant API on `api` and the operations routes
    /// (`/metrics`, `/healthz`, `/readyz`) on `ops`, which the public listener then does not
    /// serve (but a bare `/healthz`, see [`Gateway::with_public_healthz`]), until `shutdown`
    /// resolves; what `malipo serve` runs.
    pub async fn serve_all(
        self,
        public: TcpListener,
        api: TcpListener,
        ops: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.run(public, Some(api), Some(ops), shutdown).await
    }

    /// The listeners (each under the gateway's limits) and the background tasks, until
    /// `shutdown`; the tasks stop after the listeners have drained.
    async fn run(
        self,
        public: TcpListener,
        api: Option<TcpListener>,
        ops: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        if self.run_worker || self.delivery.is_some() {
            leases::release_abandoned(&*self.state.store).await;
        }
        if self.run_worker {
            for i in 0..self.workers.get() {
                // The name leases the jobs, so each loop has its own.
                let name = leases::owner_name("worker", i);
                tasks.push(tokio::spawn(worker::run(
                    self.state.clone(),
                    name,
                    stop_rx.clone(),
                )));
            }
        }
        if self.run_worker && self.reconcile.enabled {
            tasks.push(tokio::spawn(reconcile::run(
                self.state.clone(),
                self.reconcile.clone(),
                stop_rx.clone(),
            )));
        }
        // Pulled payments are recorded by the worker, so pulls run only beside it.
        if self.run_worker && !self.c2b_pulls.is_empty() {
            tasks.push(tokio::spawn(c2b_pull::run(
                self.state.clone(),
                self.c2b_pulls.clone(),
                stop_rx.clone(),
            )));
        }
        if let Some(settings) = self.delivery.clone() {
            let name = leases::owner_name("sender", 0);
            tasks.push(tokio::spawn(delivery::run(
                self.state.clone(),
                settings,
                name,
                stop_rx.clone(),
            )));
        }
        if api.is_some() {
            tasks.push(tokio::spawn(prune_idempotency_keys(
                self.state.clone(),
                stop_rx.clone(),
            )));
        }
        // One shutdown signal, seen by every listener.
        let (down_tx, down_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = down_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|down| *down).await;
        };
        let counters = self.state.connections.clone();
        let public_routes = if ops.is_some() {
            self.public_router()
        } else {
            self.router()
        };
        let public_server = listener::serve(
            public,
            public_routes,
            self.limits.clone(),
            counters.clone(),
            stopped(down_rx.clone()),
        );
        let api_server = async {
            match api {
                Some(api) => {
                    let app = self.api_router();
                    let rx = down_rx.clone();
                    listener::serve(api, app, self.limits.clone(), counters.clone(), stopped(rx)).await
                }
                None => Ok(()),
            }
        };
        let ops_server = async {
            match ops {
                Some(ops) => {
                    let app = self.ops_router();
                    let rx = down_rx.clone();
                    listener::serve(ops, app, self.limits.clone(), counters.clone(), stopped(rx)).await
                }
                None => Ok(()),
            }
        };
        let (public_result, api_result, ops_result) = tokio::join!(public_server, api_server, ops_server);
        let _ = stop_tx.send(true);
        for task in tasks {
            let _ = task.await;
        }
        public_result.and(api_result).and(ops_result)
    }
}

/// Deletes idempotency keys past their retention, at start and then hourly, until `stop`.
async fn prune_idempotency_keys(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        match api::prune_idempotency_keys(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "pruned expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "could not prune idempotency keys; retrying in an hour"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
