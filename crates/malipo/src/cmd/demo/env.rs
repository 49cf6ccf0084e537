//! The demo's world: both simulators and the real gateway on loopback, wired by a generated
//! sandbox configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use malipo_config::Config;
use malipo_core::Secret;
use malipo_gateway::{AppState, Gateway};
use malipo_mpesa::MpesaClient;
use malipo_sim::mpesa::{MpesaSim, MpesaSimHandle, SANDBOX_PASSKEY};
use malipo_sim::paystack::{PaystackSim, PaystackSimHandle, TEST_SECRET_KEY};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use super::merchant::MerchantApp;
use super::report::Printer;

/// Every file the demo writes in its directory (a kept directory is cleared of these only).
pub const FILES: [&str; 7] = [
    "malipo.toml",
    "demo.db",
    "demo.db-wal",
    "demo.db-shm",
    "demo.db-journal",
    "demo.db.callback-key",
    "demo.db.created",
];

/// The address a request relayed by the "reverse proxy" (loopback) claims to come from: a
/// documentation address (RFC 5737) standing for a stranger on the internet.
pub const STRANGER: &str = "203.0.113.7";

/// How long a simulator waits before calling back: long enough to read, short enough to be fast.
const CALLBACK_DELAY: Duration = Duration::from_millis(100);

/// The running demo.
pub struct DemoEnv {
    pub config_path: PathBuf,
    pub gateway_url: Url,
    pub public_base_url: Url,
    pub state: AppState,
    pub daraja: MpesaSimHandle,
    pub paystack: PaystackSimHandle,
    pub mpesa_client: MpesaClient,
    pub http: reqwest::Client,
    /// The merchant API's base URL (its own loopback listener).
    pub api_url: Url,
    /// The operator dashboard (on the operations listener) and its login token.
    pub dashboard_url: Url,
    /// The dashboard's login token, made for this run.
    pub admin_token: String,
    /// The merchant's app: receives the signed deliveries and decides C2B validations.
    pub merchant: MerchantApp,
    /// The demo's merchant API key, made at start.
    api_key: Secret<String>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl DemoEnv {
    /// Starts the simulators and the gateway; the database and the configuration go in `dir`.
    pub async fn start(dir: &Path, port: u16) -> anyhow::Result<DemoEnv> {
        // The gateway's address comes first: the Paystack simulator needs its webhook URL and
        // the configuration its public URL.
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        let gateway_url = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
        let daraja = MpesaSim::start(
            malipo_sim::mpesa::SimConfig::default()
                .callback_delay(CALLBACK_DELAY)
                .with_demo_outcomes(),
        )
        .await
        .context("cannot start the Daraja simulator")?;
        let paystack = PaystackSim::start(
            malipo_sim::paystack::SimConfig::default()
                .webhook_url(gateway_url.join("webhooks/paystack")?)
                .retry_interval(Duration::from_millis(200)),
        )
        .await
        .context("cannot start the Paystack simulator")?;

        let merchant = MerchantApp::start().await?;
        // The dashboard's login, made for this run: 16 random bytes, hex.
        let admin_token = {
            use rand::RngCore as _;
            let mut bytes = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut bytes);
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };

        let config_path = dir.join("malipo.toml");
        let text = config_text(
            dir,
            &gateway_url,
            &daraja.base_url(),
            paystack.base_url(),
            &merchant,
            &admin_token,
        );
        std::fs::write(&config_path, &text)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        // Parsed without MALIPO_* overrides: the demo must not pick up a real deployment's settings.
        let config = Config::from_toml(&text).context("the generated configuration does not load")?;
        let public_base_url = config
            .server
            .public_base_url
            .clone()
            .context("the generated configuration has no public_base_url")?;

        let mpesa_client = MpesaClient::new(crate::cmd::mpesa::settings_from_config(&config)?)
            .context("cannot build the Daraja client")?;
        let gateway = Gateway::from_config(&config)
            .await
            .context("cannot build the gateway")?;
        let state = gateway.state().clone();
        // The demo's payments start the way a merchant's backend starts them: through the
        // merchant API, on its own listener, with a key.
        let api_listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("cannot listen for the merchant API")?;
        let api_url = Url::parse(&format!("http://{}/", api_listener.local_addr()?))?;
        let made =
            malipo_gateway::api::new_api_key(malipo_gateway::api::KeyEnvironment::Test, Some("demo".into()));
        state
            .store
            .insert_api_key(made.record)
            .await
            .context("cannot store the demo's API key")?;
        let ops_listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("cannot listen for the operations listener")?;
        let dashboard_url = Url::parse(&format!("http://{}/admin", ops_listener.local_addr()?))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway.serve_all(listener, api_listener, ops_listener, async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(DemoEnv {
            config_path,
            gateway_url,
            public_base_url,
            state,
            daraja,
            paystack,
            mpesa_client,
            http,
            api_url,
            dashboard_url,
            admin_token,
            merchant,
            api_key: made.key,
            stop,
            task,
        })
    }

    /// `POST /v1/payments` on the merchant API with the demo's key and an Idempotency-Key;
    /// the payment as stored, and the API's answer (for the checkout URL).
    pub async fn create_payment(
        &self,
        idempotency_key: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<(malipo_store::PaymentRecord, serde_json::Value)> {
        let res = self
            .http
            .post(self.api_url.join("v1/payments")?)
            .bearer_auth(self.api_key.expose())
            .header("Idempotency-Key", idempotency_key)
            .json(&body)
            .send()
            .await
            .context("the merchant API did not answer")?;
        let status = res.status();
        let answer: serde_json::Value = res
            .json()
            .await
            .context("the merchant API's answer is not JSON")?;
        if status != reqwest::StatusCode::CREATED {
            anyhow::bail!("the merchant API answered {status}: {answer}");
        }
        let id: malipo_core::PaymentId = answer["id"]
            .as_str()
            .context("the merchant API's answer has no id")?
            .parse()
            .map_err(|e| anyhow::anyhow!("the merchant API's payment id: {e}"))?;
        let payment = self
            .state
            .store
            .get_payment(id)
            .await?
            .context("the payment the merchant API started is not stored")?;
        Ok((payment, answer))
    }

    /// Prints where everything runs and why the allowlists are what they are.
    pub fn introduce(&self, out: &Printer, keep: bool) {
        let dir = self.config_path.parent().unwrap_or(Path::new("."));
        out.line("malipo demo: the whole flow on this machine, no internet, no configuration needed");
        out.line("");
        out.field(
            "workspace",
            &format!(
                "{}{}",
                dir.display(),
                if keep {
                    ""
                } else {
                    "  (deleted at exit; --keep keeps it)"
                }
            ),
        );
        out.field("database", &format!("sqlite://{}", dir.join("demo.db").display()));
        out.field(
            "gateway",
            &format!("{}  (the real one: guard, store, worker)", self.gateway_url),
        );
        out.field(
            "Daraja",
            &format!("{}  (simulator of Safaricom)", self.daraja.base_url()),
        );
        out.field(
            "Paystack",
            &format!("{}  (simulator of Paystack)", self.paystack.base_url()),
        );
        out.field(
            "dashboard",
            &format!("{}  (log in with {})", self.dashboard_url, self.admin_token),
        );
        out.field(
            "your app",
            &format!(
                "{}  (a small merchant app: verifies each signed delivery, decides C2B validations)",
                self.merchant.webhook_url()
            ),
        );
        out.line("");
        out.line("  mpesa.callback_ips and paystack.webhook_ips are 127.0.0.0/8 because the simulators call");
        out.line("  from loopback; in production they are Safaricom's and Paystack's published addresses.");
        out.line(
            "  server.trusted_proxies is [127.0.0.1]: loopback also plays your reverse proxy, so a request",
        );
        out.line(&format!(
            "  it relays with X-Forwarded-For: {STRANGER} counts as coming from that stranger."
        ));
    }

    /// Stops the simulators, then the gateway (finishing in-flight requests), then the database.
    pub async fn shutdown(self) {
        self.daraja.shutdown().await;
        self.merchant.stop();
        self.paystack.shutdown().await;
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the demo gateway stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "the demo gateway task failed"),
        }
        if let Err(e) = self.state.store.close().await {
            tracing::warn!(error = %e, "closing the demo database");
        }
    }
}

/// The generated configuration: sandbox, literal test secrets (allowed in sandbox only), every
/// base URL on loopback.
fn config_text(
    dir: &Path,
    gateway: &Url,
    daraja: &Url,
    paystack: &Url,
    merchant: &MerchantApp,
    admin_token: &str,
) -> String {
    let db = dir.join("demo.db");
    let public = gateway.as_str().trim_end_matches('/');
    let defaults = malipo_sim::mpesa::SimConfig::default();
    format!(
        r#"# Generated by `malipo demo`: a sandbox pointing at the demo's simulators.
environment = "sandbox"

[server]
bind = "{bind}"
public_base_url = "{public}"
# Loopback plays the reverse proxy in the demo.
trusted_proxies = ["127.0.0.1"]

[database]
url = "sqlite://{db}"

[logging]
level = "warn"

[mpesa]
base_url = "{daraja}"
shortcode = "{shortcode}"
consumer_key = "{key}"
consumer_secret = "{secret}"
passkey = "{SANDBOX_PASSKEY}"
# The simulator calls back from loopback.
callback_ips = ["127.0.0.0/8"]
timeout_secs = 5

[mpesa.c2b_validation]
# The demo's merchant app decides which paybill payments to accept.
url = "{validation_url}"
timeout = "2s"
fallback = "accept"

[paystack]
secret_key = "{TEST_SECRET_KEY}"
base_url = "{paystack}"
# The simulator sends webhooks from loopback.
webhook_ips = ["127.0.0.0/8"]
timeout_secs = 5

[merchant]
# The demo's merchant app, on loopback (allow_private_targets: development only).
webhook_url = "{webhook_url}"
signing_secret = "{whsec}"
allow_private_targets = true

[ops]
# The operator dashboard at /admin on the operations listener; this token is made for each run.
admin_token = "{admin_token}"

[reconcile]
# Production asks Daraja about a push with no callback after 2 minutes; the demo cannot wait
# that long.
interval = "200ms"
stk_push = {{ after = "1s", deadline = "1h" }}
charge = {{ after = "1m", deadline = "1d" }}
"#,
        bind = gateway
            .host_str()
            .zip(gateway.port())
            .map_or_else(|| "127.0.0.1:0".to_string(), |(h, p)| format!("{h}:{p}")),
        db = toml_escape(&db.display().to_string()),
        shortcode = defaults.shortcode,
        validation_url = merchant.validation_url(),
        webhook_url = merchant.webhook_url(),
        whsec = merchant.secret(),
        key = defaults.consumer_key,
        secret = defaults.consumer_secret,
    )
}

/// A path inside a TOML basic string: backslashes (Windows) and quotes escaped.
fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
