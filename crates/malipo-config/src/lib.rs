//! `malipo.toml`: the configuration schema, its loading and secret references.
//!
//! Layers, resolved once: built-in defaults, then the file, then `MALIPO_*` environment variables
//! (`MALIPO_SERVER__BIND`, `MALIPO_DATABASE__URL`, …). Secrets are written as references and read
//! only when needed:
//!
//! ```
//! use malipo_config::{Config, Environment, SecretRef};
//!
//! let config = Config::from_toml(r#"
//!     environment = "production"
//!     [paystack]
//!     secret_key = { env = "PAYSTACK_SECRET_KEY" }
//! "#).unwrap();
//! assert_eq!(config.environment, Environment::Production);
//! let paystack = config.paystack.unwrap();
//! assert_eq!(paystack.secret_key, SecretRef::Env("PAYSTACK_SECRET_KEY".into()));
//! assert!(paystack.verify_source_ip);
//!
//! // Unknown keys are errors that name the key's path.
//! let err = Config::from_toml("[server]\nbnid = \"x\"").unwrap_err();
//! assert!(err.to_string().contains("server.bnid"), "{err}");
//! ```

mod command;
mod error;
mod load;
mod schema;
mod secret_ref;

pub use command::CommandRef;
pub use error::ConfigError;
pub use load::DEFAULT_PATH;
pub use schema::{parse_duration, ReconcileConfig, ReconcileTiming, C2B_PULL_MAX_LOOKBACK};
pub use schema::{
    ApiConfig, C2bPullConfig, C2bValidationConfig, MpesaAccountConfig, OpsConfig, PaystackAccountConfig,
    ValidationFallback,
};
pub use schema::{
    Config, Database, DatabaseConfig, Durability, Environment, LoggingConfig, MerchantConfig, MpesaConfig,
    PaystackConfig, RateLimit, ServerConfig, MPESA_PRODUCTION_URL, MPESA_SANDBOX_URL, PAYSTACK_URL,
    PAYSTACK_WEBHOOK_IPS, SAFARICOM_CALLBACK_IPS,
};
pub use secret_ref::SecretRef;

/// The commented sample configuration `malipo init` writes.
pub const SAMPLE: &str = include_str!("sample.toml");

#[cfg(test)]
mod tests;
