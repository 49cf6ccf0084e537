//! The shape of `malipo.toml`. Every table refuses unknown keys.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::SecretRef;
use malipo_core::AccountName;
use std::collections::BTreeMap;

pub use malipo_core::{PAYSTACK_WEBHOOK_IPS, SAFARICOM_CALLBACK_IPS};

/// Daraja's sandbox base URL.
pub const MPESA_SANDBOX_URL: &str = "https://sandbox.safaricom.co.ke";
/// Daraja's production base URL.
pub const MPESA_PRODUCTION_URL: &str = "https://api.safaricom.co.ke";
/// Paystack's API base URL (test and live keys share it).
pub const PAYSTACK_URL: &str = "https://api.paystack.co";

/// Sandbox (test credentials, relaxed rules) or production (every check enforced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Test credentials and simulators; literal secrets allowed.
    #[default]
    Sandbox,
    /// Real money: the full checklist applies.
    Production,
}

impl Environment {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The deployment's environment; `mpesa.environment` defaults to it.
    #[serde(default)]
    pub environment: Environment,
    /// The HTTP server.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where events, jobs and payments are stored.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// Logging.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Safaricom M-Pesa (Daraja).
    pub mpesa: Option<MpesaConfig>,
    /// Paystack.
    pub paystack: Option<PaystackConfig>,
    /// Where verified events are forwarded.
    pub merchant: Option<MerchantConfig>,
    /// The merchant API (`/v1`), on its own listener.
    #[serde(default)]
    pub api: ApiConfig,
    /// The operations listener: `/metrics`, `/healthz`, `/readyz`.
    #[serde(default)]
    pub ops: OpsConfig,
    /// The reconciler: asking the providers about payments whose callback never came.
    #[serde(default)]
    pub reconcile: ReconcileConfig,
    /// The keys `MALIPO_*` variables set, as (dotted key, variable): not in the file.
    #[serde(skip)]
    pub overridden: Vec<(String, String)>,
}

impl Config {
    /// The `MALIPO_*` variable that set `key` (a dotted path such as `mpesa.passkey`), if one did.
    pub fn overridden_by(&self, key: &str) -> Option<&str> {
        self.overridden
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, var)| var.as_str())
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// The public https URL providers reach this server at; callback URLs are built from it.
    pub public_base_url: Option<Url>,
    /// Proxies whose `X-Forwarded-For` is believed (IPs or CIDRs). Empty: the socket peer is the client.
    #[serde(deserialize_with = "nets_or_ips")]
    pub trusted_proxies: Vec<IpNet>,
    /// Largest callback body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Key for the per-payment callback URL tokens (HMAC). Generated and kept in the database
    /// directory when absent.
    pub callback_token_key: Option<SecretRef>,
    /// Seconds a client has to send a request's header; also the longest a keep-alive
    /// connection may sit idle.
    pub header_read_timeout_secs: u64,
    /// Connections open at once on the listener; more are closed at once and counted.
    pub max_connections: usize,
    /// Connections open at once from one client address (trusted proxies are exempt).
    pub max_connections_per_ip: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_base_url: None,
            trusted_proxies: Vec::new(),
            body_limit_bytes: 64 * 1024,
            callback_token_key: None,
            header_read_timeout_secs: 10,
            max_connections: 4096,
            max_connections_per_ip: 256,
        }
    }
}

/// How much a commit survives before the 200 goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// Survives a crash or kill -9 of the process (SQLite `synchronous=NORMAL` in WAL mode).
    #[default]
    ProcessCrash,
    /// Also survives power loss: an fsync per group commit (`synchronous=FULL`).
    PowerLoss,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (default `sqlite://malipo.db`) or `postgres://…`.
    pub url: String,
    /// What an acknowledged commit survives.
    pub durability: Durability,
    /// The PostgreSQL password, as a secret reference (`{ env = "PGPASSWORD" }`), so the URL
    /// can be written in the file without it; it overrides a password in the URL.
    pub password: Option<SecretRef>,
    /// PostgreSQL: most connections an instance opens (its LISTEN connection is extra).
    pub pool_size: usize,
    /// PostgreSQL: the longest a statement may run before it is cancelled and the request
    /// answered 503 (a server that hangs without dropping connections), such as `"30s"`.
    #[serde(deserialize_with = "duration")]
    pub statement_timeout: std::time::Duration,
    /// Worker loops this instance runs at once, each claiming its own batches of events (at
    /// least 1). On PostgreSQL a batch mostly waits for round trips and commits, so more loops
    /// process more while webhooks keep arriving (each holds a pooled connection while it
    /// works); on SQLite they would only queue for the one writer.
    pub workers: std::num::NonZeroUsize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://malipo.db".into(),
            durability: Durability::ProcessCrash,
            password: None,
            pool_size: 16,
            statement_timeout: std::time::Duration::from_secs(30),
            workers: std::num::NonZeroUsize::MIN,
        }
    }
}

/// The database backend, parsed from [`DatabaseConfig::url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An embedded SQLite file.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL server shared by several instances.
    Postgres {
        /// The connection URL (may hold a password: never print it).
        url: String,
    },
}

impl DatabaseConfig {
    /// Parses the URL into a backend.
    pub fn backend(&self) -> Result<Database, String> {
        if let Some(path) = self.url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("database.url `sqlite://` needs a file path, like sqlite://malipo.db".into());
            }
            Ok(Database::Sqlite { path: path.into() })
        } else if self.url.starts_with("postgres://") || self.url.starts_with("postgresql://") {
            Ok(Database::Postgres {
                url: self.url.clone(),
            })
        } else {
            Err("database.url must start with sqlite:// or postgres://".into())
        }
    }
}

impl Database {
    /// Whether the URL itself holds a password (`postgres://user:secret@host/db`), which then
    /// sits in the configuration file in the clear.
    pub fn url_has_password(&self) -> bool {
        match self {
            Database::Sqlite { .. } => false,
            Database::Postgres { url } => {
                Url::parse(url).is_ok_and(|u| u.password().is_some_and(|p| !p.is_empty()))
            }
        }
    }

    /// The URL with any password replaced by `***`, for messages.
    pub fn redacted(&self) -> String {
        match self {
            Database::Sqlite { path } => format!("sqlite://{}", path.display()),
            Database::Postgres { url } => match Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    u.to_string()
                }
                Err(_) => "postgres://…".into(),
            },
        }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// Default log filter (`info`, `debug`, …); `--log` overrides it.
    pub level: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig { level: "info".into() }
    }
}

fn default_true() -> bool {
    true
}

fn default_timeout() -> u64 {
    30
}

fn nets(list: &[std::net::Ipv4Addr]) -> Vec<IpNet> {
    list.iter()
        .map(|ip| IpNet::from(std::net::IpAddr::V4(*ip)))
        .collect()
}

/// Reads a list of addresses or CIDR ranges; a bare address is a /32 (IPv4) or /128 (IPv6) range.
fn nets_or_ips<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    raw.iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{entry:?} is not an IP address or CIDR range (like 196.201.214.200 or 10.0.0.0/8)"
                    ))
                })
        })
        .collect()
}

fn default_safaricom_ips() -> Vec<IpNet> {
    nets(&SAFARICOM_CALLBACK_IPS)
}

fn default_paystack_ips() -> Vec<IpNet> {
    nets(&PAYSTACK_WEBHOOK_IPS)
}

/// Per-client-IP rate limit on a provider's inbound endpoints.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second per client IP.
    pub per_second: u32,
    /// Requests allowed at once above the sustained rate.
    pub burst: u32,
}

/// `[mpesa]`: Safaricom Daraja.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MpesaConfig {
    /// Daraja environment; defaults to the top-level `environment`.
    pub environment: Option<Environment>,
    /// API base URL; defaults to Safaricom's sandbox or production URL (set it to point at a simulator).
    pub base_url: Option<Url>,
    /// The paybill or till shortcode (BusinessShortCode).
    pub shortcode: String,
    /// The till number receiving Buy Goods payments (PartyB), when it differs from the shortcode.
    pub till_number: Option<String>,
    /// Daraja app consumer key.
    pub consumer_key: SecretRef,
    /// Daraja app consumer secret.
    pub consumer_secret: SecretRef,
    /// Lipa na M-Pesa Online passkey.
    pub passkey: SecretRef,
    /// Initiator (API operator) username for B2C, status, balance and reversal.
    pub initiator_name: Option<String>,
    /// Initiator password: used with `certificate` to make the security credential.
    pub initiator_password: Option<SecretRef>,
    /// Ready-made SecurityCredential (base64 ciphertext), as `malipo security-credential` prints.
    pub security_credential: Option<SecretRef>,
    /// Safaricom's certificate for this environment (PEM or DER).
    pub certificate: Option<PathBuf>,
    /// Callback source addresses accepted.
    #[serde(default = "default_safaricom_ips", deserialize_with = "nets_or_ips")]
    pub callback_ips: Vec<IpNet>,
    /// Whether callback source addresses are checked (must be on in production).
    #[serde(default = "default_true")]
    pub verify_callback_source_ip: bool,
    /// Per-client-IP rate limit on the callback endpoints (defaults sized for Safaricom's bursts).
    pub rate_limit: Option<RateLimit>,
    /// Timeout of each Daraja call, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// C2B validation decided by the merchant's app (`[mpesa.c2b_validation]`); absent, every
    /// validation request for one of our shortcodes is accepted.
    pub c2b_validation: Option<C2bValidationConfig>,
    /// C2B Pull Transactions for the section's own account (`[mpesa.c2b_pull]`): the gateway
    /// asks Daraja periodically for the shortcode's C2B payments and records those whose
    /// confirmation never arrived. Absent, nothing is pulled.
    pub c2b_pull: Option<C2bPullConfig>,
    /// More shortcodes or tills, each with its own Daraja app (`[mpesa.accounts.NAME]`); the
    /// keys above are the account named `default`. Network settings (base URL, callback
    /// addresses, rate limit, timeout) are shared.
    #[serde(default)]
    pub accounts: BTreeMap<AccountName, MpesaAccountConfig>,
}

/// `[mpesa.accounts.NAME]`: one more M-Pesa shortcode or till with its Daraja app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MpesaAccountConfig {
    /// The paybill or till shortcode (BusinessShortCode).
    pub shortcode: String,
    /// The till number receiving Buy Goods payments (PartyB), when it differs from the shortcode.
    pub till_number: Option<String>,
    /// Daraja app consumer key.
    pub consumer_key: SecretRef,
    /// Daraja app consumer secret.
    pub consumer_secret: SecretRef,
    /// Lipa na M-Pesa Online passkey.
    pub passkey: SecretRef,
    /// Initiator (API operator) username for B2C, status, balance and reversal.
    pub initiator_name: Option<String>,
    /// Initiator password: used with `certificate` to make the security credential.
    pub initiator_password: Option<SecretRef>,
    /// Ready-made SecurityCredential (base64 ciphertext).
    pub security_credential: Option<SecretRef>,
    /// Safaricom's certificate for this environment (PEM or DER).
    pub certificate: Option<PathBuf>,
    /// C2B validation decided by the merchant's app, for this account's shortcode.
    pub c2b_validation: Option<C2bValidationConfig>,
    /// C2B Pull Transactions for this account's shortcode (`[mpesa.accounts.NAME.c2b_pull]`).
    pub c2b_pull: Option<C2bPullConfig>,
}

/// `[mpesa.c2b_pull]`: every `interval`, the gateway pulls the C2B payments of the last
/// `lookback` from Daraja (C2B Pull Transactions) and records each one malipo has not seen, as
/// its confirmation would have been: a confirmation that never arrived is not lost. The
/// shortcode must be registered for pulling (once, `malipo mpesa pull-register`); Daraja lets
/// only some shortcodes pull (usually the head office's).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct C2bPullConfig {
    /// Whether the gateway pulls (`false` keeps the table but stops the pulls).
    pub enabled: bool,
    /// How often it pulls (at least 10s).
    #[serde(deserialize_with = "duration")]
    pub interval: std::time::Duration,
    /// How far back each pull looks: at least `interval` (so consecutive windows overlap and
    /// nothing falls between them) and at most 48h (what Daraja keeps).
    #[serde(deserialize_with = "duration")]
    pub lookback: std::time::Duration,
    /// The shortcode or till pulled, as it appears in confirmations' `BusinessShortCode`;
    /// defaults to the account's `shortcode`.
    pub shortcode: Option<String>,
}

/// The longest window Daraja keeps transactions for pulling.
pub const C2B_PULL_MAX_LOOKBACK: std::time::Duration = std::time::Duration::from_secs(48 * 3600);

impl Default for C2bPullConfig {
    fn default() -> Self {
        C2bPullConfig {
            enabled: true,
            interval: std::time::Duration::from_secs(15 * 60),
            lookback: std::time::Duration::from_secs(2 * 3600),
            shortcode: None,
        }
    }
}

impl C2bPullConfig {
    /// Why these settings cannot work, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if self.interval < std::time::Duration::from_secs(10) {
            return Some(format!(
                "interval {:?} is too short; pull at most every 10s (Daraja rate-limits)",
                self.interval
            ));
        }
        if self.lookback > C2B_PULL_MAX_LOOKBACK {
            return Some(format!(
                "lookback {:?} is longer than the 48h Daraja keeps transactions for pulling",
                self.lookback
            ));
        }
        if self.lookback < self.interval {
            return Some(format!(
                "lookback {:?} is shorter than interval {:?}: payments between two pulls would never be looked at; make lookback at least the interval (twice is safer)",
                self.lookback, self.interval
            ));
        }
        if let Some(code) = &self.shortcode {
            if code.is_empty() || code.len() > 12 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Some(format!("shortcode {code:?} is not 1 to 12 digits"));
            }
        }
        None
    }
}

/// `[mpesa.c2b_validation]`: Daraja's C2B validation requests are forwarded, signed the
/// Standard Webhooks way, to the merchant's app, whose accept or reject is Daraja's answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct C2bValidationConfig {
    /// The merchant's validation endpoint.
    pub url: Url,
    /// Signing secret (`whsec_…`); defaults to `[merchant] signing_secret`.
    pub signing_secret: Option<SecretRef>,
    /// How long the merchant's app has to answer. Daraja waits only a few seconds for the
    /// whole validation, so keep it short.
    #[serde(default = "default_validation_timeout", deserialize_with = "duration")]
    pub timeout: std::time::Duration,
    /// Daraja's answer when the app does not answer in time, fails or answers nonsense.
    #[serde(default)]
    pub fallback: ValidationFallback,
    /// Allow a private, loopback or link-local target (development only); defaults to
    /// `[merchant] allow_private_targets`.
    pub allow_private_target: Option<bool>,
}

/// What a C2B validation is answered when the merchant's app gives no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationFallback {
    /// Accept the payment (the customer's money is not refused for an outage of the app).
    #[default]
    Accept,
    /// Reject the payment.
    Reject,
}

impl ValidationFallback {
    /// `accept` or `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationFallback::Accept => "accept",
            ValidationFallback::Reject => "reject",
        }
    }
}

impl C2bValidationConfig {
    /// The secret validation questions are signed with: the table's own, else `[merchant]`'s.
    pub fn signing_secret_in<'a>(&'a self, config: &'a Config) -> Option<&'a SecretRef> {
        self.signing_secret
            .as_ref()
            .or(config.merchant.as_ref().map(|m| &m.signing_secret))
    }
}

fn default_validation_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(3)
}

impl MpesaConfig {
    /// Every account, the section's own (`default`) first, then the named ones by name.
    pub fn all_accounts(&self) -> Vec<(AccountName, MpesaAccountConfig)> {
        let own = MpesaAccountConfig {
            shortcode: self.shortcode.clone(),
            till_number: self.till_number.clone(),
            consumer_key: self.consumer_key.clone(),
            consumer_secret: self.consumer_secret.clone(),
            passkey: self.passkey.clone(),
            initiator_name: self.initiator_name.clone(),
            initiator_password: self.initiator_password.clone(),
            security_credential: self.security_credential.clone(),
            certificate: self.certificate.clone(),
            c2b_validation: self.c2b_validation.clone(),
            c2b_pull: self.c2b_pull.clone(),
        };
        std::iter::once((AccountName::default_account(), own))
            .chain(self.accounts.iter().map(|(n, a)| (n.clone(), a.clone())))
            .collect()
    }

    /// The effective environment of this section.
    pub fn environment_or(&self, top: Environment) -> Environment {
        self.environment.unwrap_or(top)
    }

    /// The API base URL: the configured one, else the environment's (top-level `environment`
    /// applies when `mpesa.environment` is unset: pass it in).
    pub fn api_base_url_for(&self, top: Environment) -> Url {
        self.base_url.clone().unwrap_or_else(|| {
            let url = match self.environment_or(top) {
                Environment::Sandbox => MPESA_SANDBOX_URL,
                Environment::Production => MPESA_PRODUCTION_URL,
            };
            Url::parse(url).expect("constant URL")
        })
    }

    /// The API base URL, taking `mpesa.environment` (sandbox when unset).
    pub fn api_base_url(&self) -> Url {
        self.api_base_url_for(Environment::Sandbox)
    }
}

/// `[paystack.accounts.NAME]`: one more Paystack integration (its own keys and webhook path).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaystackAccountConfig {
    /// Secret key (`sk_test_…` / `sk_live_…`): API calls and this account's webhook signatures.
    pub secret_key: SecretRef,
    /// Public key (`pk_…`), not secret.
    pub public_key: Option<String>,
}

/// `[paystack]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaystackConfig {
    /// Secret key (`sk_test_…` / `sk_live_…`): API calls and webhook signatures.
    pub secret_key: SecretRef,
    /// Public key (`pk_…`), not secret.
    pub public_key: Option<String>,
    /// API base URL; defaults to <https://api.paystack.co>.
    pub base_url: Option<Url>,
    /// Webhook source addresses accepted.
    #[serde(default = "default_paystack_ips", deserialize_with = "nets_or_ips")]
    pub webhook_ips: Vec<IpNet>,
    /// Whether webhook source addresses are checked (must be on in production).
    #[serde(default = "default_true")]
    pub verify_source_ip: bool,
    /// Per-client-IP rate limit on the webhook endpoint.
    pub rate_limit: Option<RateLimit>,
    /// Where Paystack sends the customer after checkout.
    pub callback_url: Option<Url>,
    /// Timeout of each Paystack call, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// More Paystack integrations (`[paystack.accounts.NAME]`), each with its own keys and its
    /// webhook at `/webhooks/paystack/NAME`; the keys above are the account named `default`.
    #[serde(default)]
    pub accounts: BTreeMap<AccountName, PaystackAccountConfig>,
}

impl PaystackConfig {
    /// Every account, the section's own (`default`) first, then the named ones by name.
    pub fn all_accounts(&self) -> Vec<(AccountName, PaystackAccountConfig)> {
        let own = PaystackAccountConfig {
            secret_key: self.secret_key.clone(),
            public_key: self.public_key.clone(),
        };
        std::iter::once((AccountName::default_account(), own))
            .chain(self.accounts.iter().map(|(n, a)| (n.clone(), a.clone())))
            .collect()
    }
}

impl PaystackConfig {
    /// The API base URL.
    pub fn api_base_url(&self) -> Url {
        self.base_url
            .clone()
            .unwrap_or_else(|| Url::parse(PAYSTACK_URL).expect("constant URL"))
    }
}

/// `[merchant]`: the merchant's app that receives signed events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantConfig {
    /// The endpoint events are POSTed to (Standard Webhooks).
    pub webhook_url: Url,
    /// Signing secret, `whsec_` + base64.
    pub signing_secret: SecretRef,
    /// Allow private, loopback and link-local targets (development only).
    #[serde(default)]
    pub allow_private_targets: bool,
    /// Event types the endpoint receives (`payment.succeeded`, `payout.*`, `event.suspicious`);
    /// empty (the default): every payment, payout and refund event.
    #[serde(default)]
    pub event_types: Vec<String>,
}

/// `[api]`: the merchant API (`/v1/…`, API keys, `Idempotency-Key`), served on its own listener
/// so exposing the callback listener to the internet never exposes the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address the merchant API listens on (loopback by default: put it behind your own network
    /// rules, never on the public callback address).
    pub bind: SocketAddr,
}

/// `[ops]`: the operations listener (`/metrics`, `/healthz`, `/readyz`), apart from the public
/// callback listener so that what providers reach shows nothing about the deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsConfig {
    /// Address the operations listener listens on (loopback by default).
    pub bind: SocketAddr,
    /// Whether the public listener also answers a bare `GET /healthz` (for a load balancer's
    /// health check); it never serves `/metrics` or `/readyz`.
    pub public_healthz: bool,
    /// The operator dashboard's login token (`/admin`); the dashboard is off without one.
    pub admin_token: Option<SecretRef>,
    /// How long a dashboard login lasts.
    #[serde(deserialize_with = "duration")]
    pub session_ttl: std::time::Duration,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 9090)),
            public_healthz: true,
            admin_token: None,
            session_ttl: std::time::Duration::from_secs(8 * 3600),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8081)),
        }
    }
}

/// `[reconcile]`: the reconciler asks the provider about a pending payment whose callback did
/// not come in time (Daraja never resends a lost STK callback), again with backoff while the
/// provider says it is still processing, and marks it expired at the deadline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconcileConfig {
    /// Whether the gateway runs the reconciler.
    pub enabled: bool,
    /// How often it looks for payments due a check.
    #[serde(deserialize_with = "duration")]
    pub interval: std::time::Duration,
    /// At most this many payments per look (the rest wait for the next one).
    pub batch: usize,
    /// The longest wait between two questions about one payment (the backoff doubles up to it).
    #[serde(deserialize_with = "duration")]
    pub max_backoff: std::time::Duration,
    /// M-Pesa STK pushes.
    pub stk_push: ReconcileTiming,
    /// Paystack checkouts (`charge`): customers take longer on a payment page.
    pub charge: ReconcileTiming,
    /// M-Pesa B2C payouts.
    pub b2c: ReconcileTiming,
    /// Paystack transfers.
    pub transfer: ReconcileTiming,
    /// Paystack refunds.
    pub refund: ReconcileTiming,
    /// M-Pesa reversals.
    pub reversal: ReconcileTiming,
    /// Strict settlement: confirm every callback's success with the provider (STK query,
    /// Paystack verify) before the payment is succeeded. Unset: on in production, off elsewhere.
    pub confirm_successes: Option<bool>,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        let mins = |m: u64| std::time::Duration::from_secs(m * 60);
        ReconcileConfig {
            enabled: true,
            interval: std::time::Duration::from_secs(10),
            batch: 100,
            max_backoff: mins(10),
            stk_push: ReconcileTiming::new(mins(2), mins(60)),
            charge: ReconcileTiming::new(mins(15), mins(24 * 60)),
            b2c: ReconcileTiming::new(mins(5), mins(24 * 60)),
            transfer: ReconcileTiming::new(mins(10), mins(24 * 60)),
            refund: ReconcileTiming::new(mins(30), mins(7 * 24 * 60)),
            reversal: ReconcileTiming::new(mins(5), mins(24 * 60)),
            confirm_successes: None,
        }
    }
}

impl ReconcileConfig {
    /// The timing of a payment kind (`stk_push`, `charge`, `b2c`, `transfer`, `refund`,
    /// `reversal`); `None` for kinds the reconciler does not ask about (`c2b` is only ever
    /// learnt of from its confirmation).
    pub fn timing(&self, kind: &str) -> Option<&ReconcileTiming> {
        Some(match kind {
            "stk_push" => &self.stk_push,
            "charge" => &self.charge,
            "b2c" => &self.b2c,
            "transfer" => &self.transfer,
            "refund" => &self.refund,
            "reversal" => &self.reversal,
            _ => return None,
        })
    }
}

/// When the reconciler first asks about a payment of one kind, and when it gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileTiming {
    /// How long after the start a payment without a callback is first asked about.
    #[serde(deserialize_with = "duration")]
    pub after: std::time::Duration,
    /// How long after the start a payment the provider still calls unfinished is marked
    /// expired.
    #[serde(deserialize_with = "duration")]
    pub deadline: std::time::Duration,
}

impl ReconcileTiming {
    /// First ask after `after`, give up at `deadline`.
    pub fn new(after: std::time::Duration, deadline: std::time::Duration) -> Self {
        ReconcileTiming { after, deadline }
    }
}

/// Parses a duration written as a number and a unit: `500ms`, `90s`, `2m`, `1h`, `7d`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let expected = || {
        format!(
            "{text:?} is not a duration; expected a whole number and a unit, like 500ms, 90s, 2m, 1h or 7d"
        )
    };
    let n: u64 = number.parse().map_err(|_| expected())?;
    let unit_ms: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(expected()),
    };
    n.checked_mul(unit_ms)
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long a duration"))
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod api_tests {
    use std::path::Path;

    use crate::Config;

    #[test]
    fn the_api_listens_on_loopback_8081_unless_told_otherwise() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.api.bind.to_string(), "127.0.0.1:8081");
        let c = Config::from_toml("[api]\nbind = \"10.0.0.5:9000\"\n").unwrap();
        assert_eq!(c.api.bind.to_string(), "10.0.0.5:9000");
        let c = Config::from_toml_with_env(
            "",
            Path::new("t.toml"),
            [("MALIPO_API__BIND".to_string(), "127.0.0.1:9100".to_string())],
        )
        .unwrap();
        assert_eq!(c.api.bind.to_string(), "127.0.0.1:9100");
        let sample = Config::from_toml(crate::SAMPLE).unwrap();
        assert_eq!(sample.api.bind.to_string(), "127.0.0.1:8081");
    }

    #[test]
    fn unknown_api_keys_are_refused() {
        let err = Config::from_toml("[api]\nbnid = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(err.to_string().contains("api.bnid"), "{err}");
    }
}
