//! How a Paystack simulator behaves.

use std::time::Duration;

use malipo_core::{Currency, Secret};
use url::Url;

/// The secret key the simulator accepts unless configured otherwise. Obviously fake.
pub const TEST_SECRET_KEY: &str = "sk_test_malipo_simulator_0000000000000000";

/// The OTP that finalizes transfers when [`SimConfig::otp_required`] is on.
pub const TEST_OTP: &str = "123456";

/// A card number whose charges ask for the customer's phone and billing address after the OTP,
/// to exercise those steps of the charge API. Other cards ask for the PIN (unless given) and the
/// OTP ([`TEST_OTP`]).
pub const ADDRESS_CHECK_CARD: &str = "4084080000005408";

/// An account number that makes transfers to it fail (`transfer.failed`), to exercise that path.
pub const FAILING_ACCOUNT_NUMBER: &str = "0000000000";

/// Settings of a [`super::PaystackSim`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimConfig {
    /// The only key accepted as `Authorization: Bearer …`; also the webhook signing key, as on
    /// Paystack.
    pub secret_key: Secret<String>,
    /// Where webhooks are POSTed; `None` records them without sending.
    pub webhook_url: Option<Url>,
    /// Wait between delivery attempts after a non-2xx answer or a network error. Paystack waits
    /// 3 minutes in live mode; tests use milliseconds.
    pub retry_interval: Duration,
    /// Delivery attempts per webhook, the first included.
    pub max_attempts: u32,
    /// How long one delivery attempt may take.
    pub delivery_timeout: Duration,
    /// Currency of a transaction initialized without one.
    pub default_currency: Currency,
    /// Whether transfers wait for [`TEST_OTP`] (`status: "otp"`) before completing.
    pub otp_required: bool,
    /// How long every API answer waits, to act as a distant Paystack (a long sync a person, or a
    /// test, can watch and interrupt).
    pub api_latency: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            secret_key: Secret::new(TEST_SECRET_KEY.to_string()),
            webhook_url: None,
            retry_interval: Duration::from_secs(180),
            max_attempts: 5,
            delivery_timeout: Duration::from_secs(10),
            default_currency: Currency::Kes,
            otp_required: false,
            api_latency: Duration::ZERO,
        }
    }
}

impl SimConfig {
    /// Sets the webhook URL.
    pub fn webhook_url(mut self, url: Url) -> Self {
        self.webhook_url = Some(url);
        self
    }

    /// Makes every API answer wait `latency`.
    pub fn api_latency(mut self, latency: Duration) -> Self {
        self.api_latency = latency;
        self
    }

    /// Sets the accepted secret key.
    pub fn secret_key(mut self, key: Secret<String>) -> Self {
        self.secret_key = key;
        self
    }

    /// Sets the wait between delivery attempts.
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// Sets the number of delivery attempts.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Makes transfers wait for an OTP.
    pub fn otp_required(mut self, required: bool) -> Self {
        self.otp_required = required;
        self
    }
}
