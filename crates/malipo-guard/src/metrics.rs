use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

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

    /// Appends the counters in the Prometheus text exposition format:
    /// `malipo_guard_accepted_total{provider}` and
    /// `malipo_guard_rejections_total{provider,reason}` (every series, zeros included, so a
    /// dashboard's rate() works from the first rejection on).
    pub fn render_prometheus(&self, out: &mut String) {
        out.push_str("# HELP malipo_guard_accepted_total Inbound callbacks that passed the guard.\n");
        out.push_str("# TYPE malipo_guard_accepted_total counter\n");
        for p in PROVIDERS {
            let _ = writeln!(
                out,
                "malipo_guard_accepted_total{{provider=\"{p}\"}} {}",
                self.accepted(p)
            );
        }
        out.push_str(
            "# HELP malipo_guard_rejections_total Inbound callbacks refused by the guard, by reason.\n",
        );
        out.push_str("# TYPE malipo_guard_rejections_total counter\n");
        for p in PROVIDERS {
            for r in RejectReason::ALL {
                let _ = writeln!(
                    out,
                    "malipo_guard_rejections_total{{provider=\"{p}\",reason=\"{}\"}} {}",
                    r.code(),
                    self.rejected(p, r)
                );
            }
        }
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
        let mut out = String::new();
        m.render_prometheus(&mut out);
        assert!(out.contains("malipo_guard_accepted_total{provider=\"paystack\"} 1\n"));
        assert!(out
            .contains("malipo_guard_rejections_total{provider=\"mpesa\",reason=\"source_not_allowed\"} 2\n"));
        assert!(out.contains("malipo_guard_rejections_total{provider=\"mpesa\",reason=\"rate_limited\"} 0\n"));
        assert_eq!(out.matches("# TYPE").count(), 2);
    }
}
