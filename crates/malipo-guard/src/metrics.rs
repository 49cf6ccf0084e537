use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use malipo_core::Provider;

use crate::RejectReason;

const PROVIDERS: [Provider; 2] = [Provider::Mpesa, Provider::Paystack];
const REASONS: usize = RejectReason::ALL.len();

/// Counters of what the guard let through and refused, by provider and reason. Share one
/// (`Arc<GuardMetrics>`) between the layers and the `/metrics` endpoint.
#[derive(Debug, Default)]
pub struct GuardMetrics {
    accepted: [AtomicU64; 2],
    rejected: [[AtomicU64; REASONS]; 2],
    /// Bounds the refusal lines logged (every refusal is still counted).
    pub(crate) log_budget: crate::log_budget::LogBudget,
}

fn slot(provider: Provider) -> usize {
    match provider {
        Provider::Mpesa => 0,
        Provider::Paystack => 1,
    }
}

impl GuardMetrics {
    /// Fresh counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn record_accepted(&self, provider: Provider) {
        self.accepted[slot(provider)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_rejected(&self, provider: Provider, reason: RejectReason) {
        self.rejected[slot(provider)][reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Requests of this provider the guard let through.
    pub fn accepted(&self, provider: Provider) -> u64 {
        self.accepted[slot(provider)].load(Ordering::Relaxed)
    }

    /// Requests of this provider refused for this reason.
    pub fn rejected(&self, provider: Provider, reason: RejectReason) -> u64 {
        self.rejected[slot(provider)][reason.index()].load(Ordering::Relaxed)
    }

    /// Every non-zero rejection counter, as `(provider, reason, count)`.
    pub fn rejections(&self) -> Vec<(Provider, RejectReason, u64)> {
        PROVIDERS
            .iter()
            .flat_map(|&p| RejectReason::ALL.iter().map(move |&r| (p, r)))
            .map(|(p, r)| (p, r, self.rejected(p, r)))
            .filter(|&(_, _, n)| n > 0)
            .collect()
    }

    /// Encodes the counters for `/metrics`: `malipo_guard_accepted_total{provider}` and
    /// `malipo_guard_rejections_total{provider,reason}` (every series, zeros included, so a
    /// dashboard's rate() works from the first rejection on).
    pub fn encode(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let mut family = encoder.encode_descriptor(
            "malipo_guard_accepted",
            "Inbound callbacks that passed the guard.",
            None,
            MetricType::Counter,
        )?;
        for p in PROVIDERS {
            let labels = [("provider", p.as_str())];
            ConstCounter::new(self.accepted(p)).encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "malipo_guard_rejections",
            "Inbound callbacks refused by the guard, by reason.",
            None,
            MetricType::Counter,
        )?;
        for p in PROVIDERS {
            for r in RejectReason::ALL {
                let labels = [("provider", p.as_str()), ("reason", r.code())];
                ConstCounter::new(self.rejected(p, r)).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_renders() {
        let m = GuardMetrics::new();
        m.record_accepted(Provider::Paystack);
        m.record_rejected(Provider::Mpesa, RejectReason::SourceNotAllowed);
        m.record_rejected(Provider::Mpesa, RejectReason::SourceNotAllowed);
        m.record_rejected(Provider::Paystack, RejectReason::SignatureMismatch);
        assert_eq!(m.accepted(Provider::Paystack), 1);
        assert_eq!(m.rejected(Provider::Mpesa, RejectReason::SourceNotAllowed), 2);
        assert_eq!(
            m.rejections(),
            vec![
                (Provider::Mpesa, RejectReason::SourceNotAllowed, 2),
                (Provider::Paystack, RejectReason::SignatureMismatch, 1)
            ]
        );
        let out = render(m);
        assert!(out.contains("malipo_guard_accepted_total{provider=\"paystack\"} 1\n"));
        assert!(out
            .contains("malipo_guard_rejections_total{provider=\"mpesa\",reason=\"source_not_allowed\"} 2\n"));
        assert!(out.contains("malipo_guard_rejections_total{provider=\"mpesa\",reason=\"rate_limited\"} 0\n"));
        assert_eq!(out.matches("# TYPE").count(), 2);
    }

    /// The text a scrape of these counters alone gets.
    fn render(m: GuardMetrics) -> String {
        #[derive(Debug)]
        struct Only(GuardMetrics);
        impl prometheus_client::collector::Collector for Only {
            fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
                self.0.encode(&mut encoder)
            }
        }
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(Only(m)));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        out
    }
}
