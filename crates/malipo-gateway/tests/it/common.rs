//! A real gateway on 127.0.0.1:0 with a fresh database per test, and clients that connect from
//! chosen loopback addresses (127.0.0.2, 127.0.0.3…) so source-address rules are tested with real
//! sockets.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use malipo_config::Config;
use malipo_core::{EventStatus, Provider, Secret};
use malipo_gateway::{AppState, Gateway};
use malipo_store::{EventFilter, EventSummary, Store};

/// The fake Paystack key every test signs with.
pub const PAYSTACK_KEY: &str = "sk_test_gateway_tests_obviously_fake";

/// A running gateway.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestGateway {
    /// Starts a gateway whose config is `extra` appended to a base that configures Paystack
    /// (allowlist 127.0.0.2) and M-Pesa (allowlist 127.0.0.2).
    pub async fn start(extra: &str) -> TestGateway {
        Self::start_with(extra, true).await
    }

    /// Like [`TestGateway::start`], choosing whether the worker runs.
    pub async fn start_with(extra: &str, worker: bool) -> TestGateway {
        Self::start_full(extra, "webhook_ips = [\"127.0.0.2\"]", worker).await
    }

    /// Starts a gateway with `paystack_extra` in place of the Paystack allowlist line (and any
    /// other `[paystack]` keys).
    pub async fn start_with_paystack(extra: &str, paystack_extra: &str) -> TestGateway {
        Self::start_full(extra, paystack_extra, true).await
    }

    async fn start_full(extra: &str, paystack_extra: &str, worker: bool) -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            r#"
[database]
url = "sqlite://{db}"
[paystack]
secret_key = "{PAYSTACK_KEY}"
{paystack_extra}
[mpesa]
shortcode = "174379"
consumer_key = "ck-fake"
consumer_secret = "cs-fake"
passkey = "pk-fake"
callback_ips = ["127.0.0.2"]
{extra}
"#,
            db = dir.path().join("gw.db").display()
        );
        let config = Config::from_toml(&text).unwrap();
        let mut gateway = Gateway::from_config(&config).await.unwrap();
        if !worker {
            gateway = gateway.without_worker();
        }
        let state = gateway.state().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            gateway
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        TestGateway {
            addr,
            state,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    /// Every stored event, newest first.
    pub async fn events(&self) -> Vec<EventSummary> {
        self.store()
            .list_events(&EventFilter {
                limit: 1000,
                ..EventFilter::default()
            })
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Waits until the event reaches `status` (the worker runs in the background).
    pub async fn wait_for_status(&self, id: malipo_core::EventId, status: EventStatus) -> EventSummary {
        for _ in 0..200 {
            let e = self.store().get_event(id).await.unwrap().unwrap();
            if e.status == status {
                return e.summary;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("event {id} never reached {status}");
    }
}

/// A client whose connections come from `source` (any 127.x.y.z address).
pub fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A `charge.success` body in Paystack's shape with its own id and reference.
pub fn charge_success(id: u64) -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/charge-success.json")).unwrap();
    v["data"]["id"] = id.into();
    v["data"]["reference"] = format!("ref-{id}").into();
    serde_json::to_vec(&v).unwrap()
}

/// Paystack's signature of `body` with the test key.
pub fn sign(body: &[u8]) -> String {
    malipo_paystack::sign(body, &Secret::new(PAYSTACK_KEY.to_string()))
}

/// POSTs a signed Paystack webhook.
pub async fn post_paystack(client: &reqwest::Client, gw: &TestGateway, body: Vec<u8>) -> reqwest::Response {
    let sig = sign(&body);
    client
        .post(gw.url("/webhooks/paystack"))
        .header("content-type", "application/json")
        .header("x-paystack-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap()
}

pub fn count(events: &[EventSummary], provider: Provider, status: EventStatus) -> usize {
    events
        .iter()
        .filter(|e| e.provider == provider && e.status == status)
        .count()
}

/// The gateway with both listeners (public callbacks and the merchant API) beside the Daraja
/// and Paystack simulators, and one API key.
pub struct ApiWorld {
    pub public: SocketAddr,
    pub api: SocketAddr,
    pub state: AppState,
    pub daraja: malipo_sim::mpesa::MpesaSimHandle,
    pub paystack: malipo_sim::paystack::PaystackSimHandle,
    /// A valid key (`mk_test_…`).
    pub key: String,
    /// Its id.
    pub key_id: malipo_core::kinds::KeyId,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for ApiWorld {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl ApiWorld {
    pub async fn start() -> ApiWorld {
        Self::start_with("").await
    }

    /// Like [`ApiWorld::start`] with `mpesa_extra` added to the `[mpesa]` section.
    pub async fn start_with(mpesa_extra: &str) -> ApiWorld {
        use malipo_sim::mpesa::SANDBOX_PASSKEY;
        use malipo_sim::paystack::TEST_SECRET_KEY;
        let mpesa_extra = mpesa_extra.to_string();
        Self::start_with_sections(move |ps, mp| {
            format!(
                "[paystack]\nsecret_key = \"{TEST_SECRET_KEY}\"\nbase_url = \"{ps}\"\nwebhook_ips = [\"127.0.0.0/8\"]\n\
                 [mpesa]\nbase_url = \"{mp}\"\nshortcode = \"174379\"\nconsumer_key = \"sim-consumer-key\"\n\
                 consumer_secret = \"sim-consumer-secret\"\npasskey = \"{SANDBOX_PASSKEY}\"\ncallback_ips = [\"127.0.0.0/8\"]\n{mpesa_extra}\n"
            )
        })
        .await
    }

    /// The simulators and a gateway whose `[paystack]` and `[mpesa]` sections `sections` writes,
    /// given the simulators' base URLs (Paystack's, Daraja's).
    pub async fn start_with_sections(
        sections: impl FnOnce(&reqwest::Url, &reqwest::Url) -> String,
    ) -> ApiWorld {
        use malipo_sim::mpesa::MpesaSim;
        use malipo_sim::paystack::PaystackSim;
        let dir = tempfile::tempdir().unwrap();
        let public_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public = public_listener.local_addr().unwrap();
        let api = api_listener.local_addr().unwrap();
        let daraja = MpesaSim::start(
            malipo_sim::mpesa::SimConfig::default()
                .callback_delay(Duration::from_millis(20))
                .with_demo_outcomes(),
        )
        .await
        .unwrap();
        let paystack = PaystackSim::start(
            malipo_sim::paystack::SimConfig::default()
                .webhook_url(format!("http://{public}/webhooks/paystack").parse().unwrap())
                .retry_interval(Duration::from_millis(50)),
        )
        .await
        .unwrap();
        let text = format!(
            "[server]\npublic_base_url = \"http://{public}\"\n[database]\nurl = \"sqlite://{db}\"\n{sections}",
            db = dir.path().join("api.db").display(),
            sections = sections(paystack.base_url(), &daraja.base_url()),
        );
        let gateway = Gateway::from_config(&Config::from_toml(&text).unwrap())
            .await
            .unwrap();
        let state = gateway.state().clone();
        let made =
            malipo_gateway::api::new_api_key(malipo_gateway::api::KeyEnvironment::Test, Some("tests".into()));
        let key_id = made.record.id;
        state.store.insert_api_key(made.record).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(gateway.serve_with_api(public_listener, api_listener, async {
            let _ = stopped.await;
        }));
        ApiWorld {
            public,
            api,
            state,
            daraja,
            paystack,
            key: made.key.expose().clone(),
            key_id,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            _dir: dir,
            stop: Some(stop),
        }
    }

    /// A URL on the API listener.
    pub fn api_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    /// GET on the API with the key; the status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(self.api_url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// POST of `body` on the API with the key and an optional Idempotency-Key; the status and
    /// raw body.
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        idempotency_key: Option<&str>,
    ) -> (u16, String) {
        let mut req = self
            .http
            .post(self.api_url(path))
            .bearer_auth(&self.key)
            .json(body);
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    /// Polls `GET /v1/payments/{id}` until its state is `state`.
    pub async fn wait_for_payment(&self, id: &str, state: &str) -> serde_json::Value {
        let mut last = serde_json::Value::Null;
        for _ in 0..250 {
            let (status, body) = self.get(&format!("/v1/payments/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if body["state"] == state {
                return body;
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("payment {id} never became {state}: {last}");
    }
}

/// A gateway with both providers pointing at their simulators, for payments that go out to a
/// provider and come back (reconciliation, payouts, refunds).
pub struct SimWorld {
    pub state: AppState,
    pub public: reqwest::Url,
    pub daraja: malipo_sim::mpesa::MpesaSimHandle,
    pub paystack: malipo_sim::paystack::PaystackSimHandle,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for SimWorld {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl SimWorld {
    /// The simulators and a gateway for both, with `reconcile` as its `[reconcile]` section.
    /// `webhooks`: whether the Paystack simulator sends webhooks to the gateway (off, a
    /// webhook "never comes").
    pub async fn start(daraja: malipo_sim::mpesa::SimConfig, webhooks: bool, reconcile: &str) -> SimWorld {
        Self::start_with(daraja, webhooks, reconcile, "").await
    }

    /// Like [`SimWorld::start`], with `mpesa_extra` at the end of the `[mpesa]` table (it may
    /// open sub-tables such as `[mpesa.c2b_validation]`).
    pub async fn start_with(
        daraja: malipo_sim::mpesa::SimConfig,
        webhooks: bool,
        reconcile: &str,
        mpesa_extra: &str,
    ) -> SimWorld {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public: reqwest::Url = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let daraja = malipo_sim::mpesa::MpesaSim::start(daraja).await.unwrap();
        let mut paystack_config =
            malipo_sim::paystack::SimConfig::default().retry_interval(Duration::from_millis(50));
        if webhooks {
            paystack_config = paystack_config.webhook_url(public.join("/webhooks/paystack").unwrap());
        }
        let paystack = malipo_sim::paystack::PaystackSim::start(paystack_config)
            .await
            .unwrap();
        let text = format!(
            r#"
[server]
public_base_url = "{public}"
[database]
url = "sqlite://{db}"
[paystack]
secret_key = "{key}"
base_url = "{ps}"
webhook_ips = ["127.0.0.0/8"]
timeout_secs = 5
[mpesa]
base_url = "{mp}"
shortcode = "174379"
consumer_key = "sim-consumer-key"
consumer_secret = "sim-consumer-secret"
passkey = "{passkey}"
initiator_name = "testapi"
security_credential = "c2ltdWxhdGVkLWNyZWRlbnRpYWw="
callback_ips = ["127.0.0.0/8"]
timeout_secs = 5
{mpesa_extra}
[reconcile]
{reconcile}
"#,
            db = dir.path().join("world.db").display(),
            key = malipo_sim::paystack::TEST_SECRET_KEY,
            ps = paystack.base_url(),
            mp = daraja.base_url(),
            passkey = malipo_sim::mpesa::SANDBOX_PASSKEY,
        );
        let config = Config::from_toml(&text).unwrap();
        let gateway = Gateway::from_config(&config).await.unwrap();
        let state = gateway.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            gateway
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        SimWorld {
            state,
            public,
            daraja,
            paystack,
            _dir: dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn mpesa(&self) -> &malipo_mpesa::MpesaClient {
        self.state.providers.mpesa.as_ref().unwrap()
    }

    pub fn paystack_client(&self) -> &malipo_paystack::Client {
        self.state.providers.paystack.as_ref().unwrap()
    }

    pub async fn payment(&self, id: malipo_core::PaymentId) -> malipo_store::PaymentRecord {
        self.state.store.get_payment(id).await.unwrap().unwrap()
    }

    /// Waits (up to 10 s) until the payment satisfies `done`.
    pub async fn wait_for(
        &self,
        id: malipo_core::PaymentId,
        what: &str,
        done: impl Fn(&malipo_store::PaymentRecord) -> bool,
    ) -> malipo_store::PaymentRecord {
        for _ in 0..500 {
            let p = self.payment(id).await;
            if done(&p) {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("payment {id} never became {what}: {:?}", self.payment(id).await);
    }

    /// Waits until the payment is in `state`.
    pub async fn settled(
        &self,
        id: malipo_core::PaymentId,
        state: malipo_core::PaymentState,
    ) -> malipo_store::PaymentRecord {
        self.wait_for(id, state.as_str(), |p| p.state == state).await
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// Whole Kenyan shillings.
pub fn kes(shillings: u64) -> malipo_core::Money {
    malipo_core::Money::from_major(shillings, malipo_core::Currency::Kes).unwrap()
}

impl TestGateway {
    /// Starts a gateway with only a database and `extra` configured, sending deliveries with
    /// `settings` (short retry waits in tests).
    pub async fn start_delivering(
        extra: &str,
        settings: malipo_gateway::delivery::DeliverySettings,
    ) -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[database]\nurl = \"sqlite://{db}\"\n{extra}\n",
            db = dir.path().join("gw.db").display()
        );
        let config = Config::from_toml(&text).unwrap();
        let gateway = Gateway::from_config(&config)
            .await
            .unwrap()
            .with_delivery(Some(settings));
        let state = gateway.state().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            gateway
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        TestGateway {
            addr,
            state,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }
}
