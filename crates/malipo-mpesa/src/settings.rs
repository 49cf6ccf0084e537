//! Client settings, built from plain values so any caller (CLI, gateway, tests) can make them.

use std::time::Duration;

use malipo_core::Secret;
use url::Url;

/// Daraja's sandbox base URL.
pub const SANDBOX_BASE_URL: &str = "https://sandbox.safaricom.co.ke";
/// Daraja's production base URL.
pub const PRODUCTION_BASE_URL: &str = "https://api.safaricom.co.ke";

/// How often and how patiently calls that cannot move money twice (token fetch, queries) are
/// retried on transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled before each next one.
    pub base_delay: Duration,
    /// Upper bound of one delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// The delay before retry number `retry` (1-based), with up to 25% random jitter.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        let base = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let jitter_cap = u64::try_from(base.as_millis() / 4).unwrap_or(0);
        let jitter = if jitter_cap == 0 {
            0
        } else {
            rand::Rng::gen_range(&mut rand::thread_rng(), 0..=jitter_cap)
        };
        base + Duration::from_millis(jitter)
    }
}

/// Everything the client needs to call one Daraja app and shortcode.
#[derive(Debug, Clone)]
pub struct MpesaSettings {
    /// Base URL: [`SANDBOX_BASE_URL`], [`PRODUCTION_BASE_URL`] or a simulator's.
    pub base_url: Url,
    /// The Daraja app's consumer key.
    pub consumer_key: Secret<String>,
    /// The Daraja app's consumer secret.
    pub consumer_secret: Secret<String>,
    /// The Lipa na M-Pesa Online passkey (STK push password).
    pub passkey: Secret<String>,
    /// The business shortcode (paybill, or the head-office store number for buy goods).
    pub shortcode: String,
    /// The till number for CustomerBuyGoodsOnline STK pushes.
    pub till_number: Option<String>,
    /// The API initiator's user name (B2C, B2B, status, balance, reversal).
    pub initiator_name: Option<String>,
    /// The initiator password encrypted with Safaricom's certificate (see
    /// [`crate::DarajaCertificate::security_credential`]).
    pub security_credential: Option<Secret<String>>,
    /// Timeout of every HTTP call, connection included.
    pub timeout: Duration,
    /// Retries of token fetches and queries.
    pub retry: RetryPolicy,
    /// How long before the token's announced expiry it is refreshed.
    pub token_refresh_margin: Duration,
}

impl MpesaSettings {
    /// Settings with the defaults: 30 s timeout, 3 attempts for safe calls, refresh 60 s early,
    /// no till, no initiator.
    pub fn new(
        base_url: Url,
        consumer_key: Secret<String>,
        consumer_secret: Secret<String>,
        passkey: Secret<String>,
        shortcode: impl Into<String>,
    ) -> Self {
        MpesaSettings {
            base_url,
            consumer_key,
            consumer_secret,
            passkey,
            shortcode: shortcode.into(),
            till_number: None,
            initiator_name: None,
            security_credential: None,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            token_refresh_margin: Duration::from_secs(60),
        }
    }

    /// Sets the initiator name and security credential used by B2C, B2B, status, balance and
    /// reversal.
    pub fn with_initiator(mut self, name: impl Into<String>, security_credential: Secret<String>) -> Self {
        self.initiator_name = Some(name.into());
        self.security_credential = Some(security_credential);
        self
    }
}
