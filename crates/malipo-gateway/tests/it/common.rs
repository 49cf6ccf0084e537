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
