//! Signed delivery of payment changes to the merchant's endpoints (Standard Webhooks).
//!
//! The store writes one delivery row per endpoint for every change of a payment's state, in the
//! transaction of the change (the outbox). This module sends them:
//!
//! - **one lane per endpoint**: each endpoint's deliveries are claimed and sent by its own task,
//!   at most [`DeliverySettings::per_endpoint_concurrency`] at a time and each bounded by
//!   [`DeliverySettings::timeout`], so a slow or dead endpoint never slows another (nor ingest,
//!   which never waits for a delivery);
//! - **at least once**: a delivery is marked delivered only after a 2xx; anything else (another
//!   status, a redirect, a timeout, a refused connection) is retried on
//!   [`DeliverySettings::retry_schedule`] with jitter, then dead-lettered, visible and retryable
//!   ([`retry_delivery`]). Its id is the `webhook-id` on every attempt, so receivers deduplicate;
//! - **in order per payment**: a payment's delivery to an endpoint is not sent while an earlier one
//!   of the same payment to the same endpoint is pending;
//! - **signed** with the endpoint's secret (and, during a rotation, its previous one);
//! - **safe outbound**: see [`target`](TargetPolicy).
//!
//! The default schedule (after the first, immediate attempt):
//!
//! | attempt | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | then |
//! |---|---|---|---|---|---|---|---|---|---|
//! | after | now | 5 s | 5 min | 30 min | 2 h | 5 h | 10 h | 10 h | dead letter |
//!
//! Each wait varies by ±20 % so endpoints that failed together do not retry together.
//! An endpoint answering with `Retry-After: <seconds>` (a 429 or 503) lengthens a wait, up to an
//! hour; it cannot make one shorter.

mod manage;
mod sender;
mod target;

use std::time::Duration;

pub use manage::{
    create_endpoint, create_endpoint_in, get_delivery, get_delivery_in, list_deliveries, list_deliveries_in,
    list_endpoints, list_endpoints_in, retry_delivery, retry_delivery_in, rotate_endpoint_secret,
    rotate_endpoint_secret_in, seed_from_config, set_endpoint_enabled, set_endpoint_enabled_in,
    CreateEndpoint, DeliveryError, DeliveryView, EndpointView, EndpointWithSecret, CONFIG_ENDPOINT_NAME,
};
pub use sender::run;
pub(crate) use sender::{describe, outbound_client};
pub use target::{check_url, internal_kind, CheckedResolver, TargetError, TargetPolicy};

/// How long a rotated-out secret keeps signing by default.
pub const DEFAULT_ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// Largest part of a response body the sender reads (the rest is discarded).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How the sender works; [`DeliverySettings::default`] is the production schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    /// The waits before the 2nd, 3rd… attempt; when they run out the delivery is dead-lettered.
    pub retry_schedule: Vec<Duration>,
    /// How much each wait varies, as a fraction (0.2: ±20 %).
    pub jitter: f64,
    /// The longest one attempt may take, connection and response included.
    pub timeout: Duration,
    /// How many deliveries of one endpoint are in flight at once.
    pub per_endpoint_concurrency: usize,
    /// How often an idle lane looks for due deliveries (and the sender for new endpoints).
    pub poll_interval: Duration,
    /// Target checks for every endpoint (an endpoint's own `allow_private` flag adds to them).
    pub policy: TargetPolicy,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            retry_schedule: [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            jitter: 0.2,
            timeout: Duration::from_secs(15),
            per_endpoint_concurrency: 8,
            poll_interval: Duration::from_millis(250),
            policy: TargetPolicy {
                require_https: false,
                allow_private: false,
            },
        }
    }
}

impl DeliverySettings {
    /// The settings of `config`: https only in production, internal targets only when
    /// `[merchant] allow_private_targets` says so.
    pub fn from_config(config: &malipo_config::Config) -> Self {
        DeliverySettings {
            policy: TargetPolicy {
                require_https: config.environment == malipo_config::Environment::Production,
                allow_private: config.merchant.as_ref().is_some_and(|m| m.allow_private_targets),
            },
            ..DeliverySettings::default()
        }
    }

    /// The wait after the failed attempt number `attempts` (1-based), jittered; `None` when the
    /// schedule is exhausted and the delivery is dead.
    pub fn next_delay(&self, attempts: u32) -> Option<Duration> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        let base = *self.retry_schedule.get(index)?;
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 || base.is_zero() {
            return Some(base);
        }
        let factor = 1.0 + rand::Rng::gen_range(&mut rand::thread_rng(), -jitter..=jitter);
        Some(base.mul_f64(factor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_has_eight_attempts_then_dead() {
        let s = DeliverySettings {
            jitter: 0.0,
            ..DeliverySettings::default()
        };
        assert_eq!(s.next_delay(1), Some(Duration::from_secs(5)));
        assert_eq!(s.next_delay(7), Some(Duration::from_secs(10 * 3600)));
        assert_eq!(s.next_delay(8), None);
        assert_eq!(s.next_delay(0), None);
        let jittered = DeliverySettings::default().next_delay(2).unwrap();
        assert!(jittered >= Duration::from_secs(240) && jittered <= Duration::from_secs(360));
    }
}
