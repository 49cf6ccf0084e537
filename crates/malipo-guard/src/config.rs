use std::sync::Arc;

use ipnet::IpNet;
use malipo_core::{Provider, Secret};

use crate::layer::{Settings, Verification};
use crate::{
    CallbackTokens, ClientIpResolver, GuardLayer, GuardMetrics, IpAllowlist, IpRateLimiter, RateLimit,
};

/// The default body limit: 64 KiB, far above any provider callback (a few KiB at most).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Where a provider's requests may come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceCheck {
    /// Only from these addresses (403 otherwise). The default, with the provider's published
    /// addresses.
    Allowlist(IpAllowlist),
    /// From anywhere. For development only: the gateway's `check-config` fails it in production.
    Disabled,
}

/// The guard settings of one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderGuardConfig {
    /// Source addresses allowed.
    pub source: SourceCheck,
    /// Per-client-address rate limit; `None` turns it off.
    pub rate_limit: Option<RateLimit>,
}

/// Everything the guards need, resolved from the gateway's configuration in one place.
///
/// `GuardConfig::default()` is the production setting: 64 KiB bodies, no trusted proxies,
/// allowlists of the published provider addresses, and the default rate limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    /// Largest body accepted, in bytes (413 above).
    pub body_limit: usize,
    /// Proxies whose `X-Forwarded-For` is believed (addresses and CIDRs).
    pub trusted_proxies: Vec<IpNet>,
    /// M-Pesa (Daraja) callbacks.
    pub mpesa: ProviderGuardConfig,
    /// Paystack webhooks.
    pub paystack: ProviderGuardConfig,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            body_limit: DEFAULT_BODY_LIMIT,
            trusted_proxies: Vec::new(),
            mpesa: ProviderGuardConfig {
                source: SourceCheck::Allowlist(IpAllowlist::safaricom()),
                rate_limit: Some(RateLimit::MPESA_DEFAULT),
            },
            paystack: ProviderGuardConfig {
                source: SourceCheck::Allowlist(IpAllowlist::paystack()),
                rate_limit: Some(RateLimit::PAYSTACK_DEFAULT),
            },
        }
    }
}

impl GuardConfig {
    /// Sets the body limit.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sets the trusted proxies.
    pub fn with_trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpNet>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// Sets the source check of a provider.
    pub fn with_source(mut self, provider: Provider, source: SourceCheck) -> Self {
        self.provider_mut(provider).source = source;
        self
    }

    /// Sets (or with `None`, turns off) the rate limit of a provider.
    pub fn with_rate_limit(mut self, provider: Provider, limit: Option<RateLimit>) -> Self {
        self.provider_mut(provider).rate_limit = limit;
        self
    }

    /// The settings of one provider.
    pub fn provider(&self, provider: Provider) -> &ProviderGuardConfig {
        match provider {
            Provider::Mpesa => &self.mpesa,
            Provider::Paystack => &self.paystack,
        }
    }

    fn provider_mut(&mut self, provider: Provider) -> &mut ProviderGuardConfig {
        match provider {
            Provider::Mpesa => &mut self.mpesa,
            Provider::Paystack => &mut self.paystack,
        }
    }
}

/// The built guards: makes the layers for each kind of route, sharing one set of metrics and one
/// rate limiter per provider between them.
///
/// ```
/// use malipo_core::Provider;
/// use malipo_guard::{GuardConfig, Guards};
///
/// let guards = Guards::new(GuardConfig::default());
/// let c2b = guards.mpesa_c2b();
/// assert_eq!(c2b.provider(), Provider::Mpesa);
/// assert_eq!(guards.metrics().accepted(Provider::Mpesa), 0);
/// ```
#[derive(Debug, Clone)]
pub struct Guards {
    config: GuardConfig,
    resolver: ClientIpResolver,
    metrics: Arc<GuardMetrics>,
    mpesa_limiter: Option<Arc<IpRateLimiter>>,
    paystack_limiter: Option<Arc<IpRateLimiter>>,
}

impl Guards {
    /// Guards with fresh metrics.
    pub fn new(config: GuardConfig) -> Self {
        Self::with_metrics(config, Arc::new(GuardMetrics::new()))
    }

    /// Guards counting into `metrics`.
    pub fn with_metrics(config: GuardConfig, metrics: Arc<GuardMetrics>) -> Self {
        for provider in [Provider::Mpesa, Provider::Paystack] {
            let settings = config.provider(provider);
            if settings.source == SourceCheck::Disabled {
                tracing::warn!(
                    provider = %provider,
                    "the source address allowlist is disabled: any address may post {provider} \
                     callbacks; acceptable in development only"
                );
            }
            if settings.rate_limit.is_none() {
                tracing::warn!(provider = %provider, "rate limiting of {provider} callbacks is off");
            }
        }
        let limiter = |p: Provider| {
            config
                .provider(p)
                .rate_limit
                .map(|l| Arc::new(IpRateLimiter::new(l)))
        };
        Guards {
            resolver: ClientIpResolver::new(config.trusted_proxies.iter().copied()),
            mpesa_limiter: limiter(Provider::Mpesa),
            paystack_limiter: limiter(Provider::Paystack),
            metrics,
            config,
        }
    }

    /// The shared counters, for `/metrics`.
    pub fn metrics(&self) -> &Arc<GuardMetrics> {
        &self.metrics
    }

    /// Drops rate-limiter entries of clients that are back to a fresh state. The limiters already
    /// do this every 1,024 requests; a gateway may also call it from a timer so that memory is
    /// given back during quiet periods.
    pub fn sweep(&self) {
        for limiter in [&self.mpesa_limiter, &self.paystack_limiter]
            .into_iter()
            .flatten()
        {
            limiter.sweep();
        }
    }

    /// The configuration the guards were built from.
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// The layer for `POST /webhooks/paystack`: source, rate limit, body limit, then the
    /// `X-Paystack-Signature` of the raw body under `secret_key` (401 when missing or wrong).
    pub fn paystack(&self, secret_key: Secret<String>) -> GuardLayer {
        self.layer(Provider::Paystack, Verification::PaystackSignature(secret_key))
    }

    /// The layer for Daraja callbacks with a token in the path (`/callbacks/mpesa/stk/{token}`,
    /// `/result/{token}`, `/timeout/{token}`): source, rate limit, then the token (404 when
    /// unknown), then the body limit. Puts [`crate::CallbackPayment`] in the extensions.
    pub fn mpesa_callback(&self, tokens: CallbackTokens) -> GuardLayer {
        self.layer(Provider::Mpesa, Verification::CallbackToken(tokens))
    }

    /// The layer for Daraja C2B validation and confirmation, which have no token (Daraja registers
    /// one URL per shortcode): source, rate limit and body limit only.
    pub fn mpesa_c2b(&self) -> GuardLayer {
        self.layer(Provider::Mpesa, Verification::SourceOnly)
    }

    fn layer(&self, provider: Provider, verification: Verification) -> GuardLayer {
        let settings = self.config.provider(provider);
        GuardLayer::new(Settings {
            provider,
            verification,
            body_limit: self.config.body_limit,
            resolver: self.resolver.clone(),
            allowlist: match &settings.source {
                SourceCheck::Allowlist(list) => Some(list.clone()),
                SourceCheck::Disabled => None,
            },
            rate_limiter: match provider {
                Provider::Mpesa => self.mpesa_limiter.clone(),
                Provider::Paystack => self.paystack_limiter.clone(),
            },
            metrics: Arc::clone(&self.metrics),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::num::NonZeroU32;
    use std::time::Duration;

    use super::*;

    #[test]
    fn guards_keep_their_configuration() {
        let config = GuardConfig::default()
            .with_body_limit(1234)
            .with_source(Provider::Paystack, SourceCheck::Disabled);
        assert_eq!(Guards::new(config.clone()).config(), &config);
    }

    #[test]
    fn sweep_empties_both_providers_limiters_of_fresh_clients() {
        // At 1,000,000/s with burst 1, a client is fresh again 1 µs after its request.
        let fast = RateLimit::per_second(NonZeroU32::new(1_000_000).unwrap(), NonZeroU32::MIN);
        let guards = Guards::new(
            GuardConfig::default()
                .with_rate_limit(Provider::Mpesa, Some(fast))
                .with_rate_limit(Provider::Paystack, Some(fast)),
        );
        let limiters = [&guards.mpesa_limiter, &guards.paystack_limiter].map(|l| l.as_ref().unwrap());
        for limiter in limiters {
            for i in 0..10u8 {
                let _ = limiter.check(IpAddr::from([192, 0, 2, i]));
            }
            assert_eq!(limiter.tracked_clients(), 10);
        }
        std::thread::sleep(Duration::from_millis(2));
        guards.sweep();
        for limiter in limiters {
            assert_eq!(limiter.tracked_clients(), 0);
        }
    }
}
