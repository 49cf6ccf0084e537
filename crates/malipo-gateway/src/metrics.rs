//! The gateway's own counters, encoded for `/metrics` (OpenMetrics text, by `prometheus-client`)
//! with the guard's and the listeners'.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use std::time::Duration;

/// What happened to an inbound request that passed the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored as a new event.
    Accepted,
    /// Already stored; acknowledged again.
    Duplicate,
    /// Authentic but unparseable: stored as failed.
    StoredFailed,
    /// Authentic but refused (unknown event): stored as rejected.
    StoredRejected,
    /// The store failed: answered 5xx so the provider retries.
    StoreError,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Accepted,
        Outcome::Duplicate,
        Outcome::StoredFailed,
        Outcome::StoredRejected,
        Outcome::StoreError,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::StoredFailed => "stored_failed",
            Outcome::StoredRejected => "stored_rejected",
            Outcome::StoreError => "store_error",
        }
    }
}

/// The inbound endpoints, for labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /webhooks/paystack`.
    Paystack,
    /// `POST /callbacks/mpesa/stk/{token}`.
    MpesaStk,
    /// `POST /callbacks/mpesa/c2b/validation`.
    MpesaC2bValidation,
    /// `POST /callbacks/mpesa/c2b/confirmation`.
    MpesaC2bConfirmation,
    /// `POST /callbacks/mpesa/result/{token}`.
    MpesaResult,
    /// `POST /callbacks/mpesa/timeout/{token}`.
    MpesaTimeout,
}

impl Endpoint {
    const ALL: [Endpoint; 6] = [
        Endpoint::Paystack,
        Endpoint::MpesaStk,
        Endpoint::MpesaC2bValidation,
        Endpoint::MpesaC2bConfirmation,
        Endpoint::MpesaResult,
        Endpoint::MpesaTimeout,
    ];

    fn label(self) -> &'static str {
        match self {
            Endpoint::Paystack => "paystack_webhook",
            Endpoint::MpesaStk => "mpesa_stk",
            Endpoint::MpesaC2bValidation => "mpesa_c2b_validation",
            Endpoint::MpesaC2bConfirmation => "mpesa_c2b_confirmation",
            Endpoint::MpesaResult => "mpesa_result",
            Endpoint::MpesaTimeout => "mpesa_timeout",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Upper bounds of the commit latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

/// Lock-free counters shared by every request.
#[derive(Debug)]
pub struct Metrics {
    requests: [[AtomicU64; 5]; 6],
    commit_buckets: [AtomicU64; BUCKETS.len()],
    commit_count: AtomicU64,
    commit_micros: AtomicU64,
    jobs_processed: AtomicU64,
    jobs_failed: AtomicU64,
    suspicious: AtomicU64,
    /// 1 while the last readiness check passed; starts ready.
    not_ready: AtomicU64,
    readiness_changes: AtomicU64,
    /// Validation decisions: [accept, reject] × [by the app, by the fallback].
    validations: [[AtomicU64; 2]; 2],
    /// C2B pulls by result ([`PULL_RESULTS`]).
    c2b_pulls: [AtomicU64; 5],
    /// C2B payments recorded by pulls (their confirmation never arrived).
    c2b_pulled: AtomicU64,
    /// Inbound requests per minute over the last hour, for the dashboard: a slot per minute of
    /// the hour, each tagged with the minute it counts so a stale slot reads as zero.
    minutes: [(AtomicU64, AtomicU64); 60],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Default::default(),
            commit_buckets: Default::default(),
            commit_count: AtomicU64::new(0),
            commit_micros: AtomicU64::new(0),
            jobs_processed: AtomicU64::new(0),
            jobs_failed: AtomicU64::new(0),
            suspicious: AtomicU64::new(0),
            not_ready: AtomicU64::new(0),
            readiness_changes: AtomicU64::new(0),
            validations: Default::default(),
            c2b_pulls: Default::default(),
            c2b_pulled: AtomicU64::new(0),
            minutes: std::array::from_fn(|_| (AtomicU64::new(0), AtomicU64::new(0))),
        }
    }
}

impl Metrics {
    /// Counts a request that passed the guard.
    pub fn request(&self, endpoint: Endpoint, outcome: Outcome) {
        let o = Outcome::ALL.iter().position(|x| *x == outcome).unwrap_or(0);
        self.requests[endpoint.index()][o].fetch_add(1, Ordering::Relaxed);
        self.count_minute(now_minute());
    }

    fn count_minute(&self, minute: u64) {
        let (tag, count) = &self.minutes[(minute % 60) as usize];
        let seen = tag.load(Ordering::Relaxed);
        if seen != minute {
            // The slot still holds an hour-old minute: claim it for this one. Two requests
            // racing here may lose a count, which a display can afford; no lock on the hot path.
            if tag
                .compare_exchange(seen, minute, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                count.store(0, Ordering::Relaxed);
            }
        }
        count.fetch_add(1, Ordering::Relaxed);
    }

    /// Inbound requests in each of the last 60 minutes, oldest first (this one last).
    pub fn per_minute(&self) -> Vec<u64> {
        self.per_minute_at(now_minute())
    }

    fn per_minute_at(&self, now: u64) -> Vec<u64> {
        (0..60)
            .rev()
            .map(|back| {
                let minute = now.saturating_sub(back);
                let (tag, count) = &self.minutes[(minute % 60) as usize];
                if tag.load(Ordering::Relaxed) == minute {
                    count.load(Ordering::Relaxed)
                } else {
                    0
                }
            })
            .collect()
    }

    /// How many requests had this outcome (for tests and the dashboard).
    pub fn requests(&self, endpoint: Endpoint, outcome: Outcome) -> u64 {
        let o = Outcome::ALL.iter().position(|x| *x == outcome).unwrap_or(0);
        self.requests[endpoint.index()][o].load(Ordering::Relaxed)
    }

    /// Records how long a store commit took, seen from the request.
    pub fn commit(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.commit_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.commit_count.fetch_add(1, Ordering::Relaxed);
        self.commit_micros.fetch_add(
            took.as_micros().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    /// Counts a job the worker finished.
    pub fn job_done(&self, ok: bool) {
        if ok {
            self.jobs_processed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.jobs_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts an event completed as suspicious (it disagreed with its payment).
    pub fn suspicious(&self) {
        self.suspicious.fetch_add(1, Ordering::Relaxed);
    }

    /// How many events were completed as suspicious since the start.
    pub fn suspicious_total(&self) -> u64 {
        self.suspicious.load(Ordering::Relaxed)
    }

    /// Counts a validation decision.
    pub fn validation(&self, decision: &crate::validation::Decision) {
        let verdict = usize::from(decision.verdict != crate::validation::Verdict::Accept);
        let by = usize::from(decision.fallback.is_some());
        self.validations[verdict][by].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a C2B pull by its result (`ok`, `doubtful`, `not_allowed`, `failed`, `error`) and
    /// the payments it recorded.
    pub fn c2b_pull(&self, result: &str, recorded: u64) {
        let index = PULL_RESULTS
            .iter()
            .position(|r| *r == result)
            .unwrap_or(PULL_RESULTS.len() - 1);
        self.c2b_pulls[index].fetch_add(1, Ordering::Relaxed);
        self.c2b_pulled.fetch_add(recorded, Ordering::Relaxed);
    }

    /// Records a readiness check; returns whether readiness changed with it.
    pub fn record_readiness(&self, ready: bool) -> bool {
        let was_not_ready = self.not_ready.swap(u64::from(!ready), Ordering::Relaxed) == 1;
        let changed = was_not_ready == ready;
        if changed {
            self.readiness_changes.fetch_add(1, Ordering::Relaxed);
        }
        changed
    }

    /// Encodes the gateway's counters for `/metrics`.
    pub fn encode(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        gauge(
            encoder,
            "malipo_ready",
            "1 when the last readiness check found the database taking writes.",
            [(vec![], 1 - self.not_ready.load(Ordering::Relaxed) as i64)],
        )?;
        counter(
            encoder,
            "malipo_readiness_changes",
            "Times readiness flipped.",
            [(vec![], self.readiness_changes.load(Ordering::Relaxed))],
        )?;
        counter(
            encoder,
            "malipo_inbound_requests",
            "Inbound callbacks and webhooks that passed the guard, by endpoint and outcome.",
            Endpoint::ALL.iter().flat_map(|e| {
                Outcome::ALL.iter().enumerate().map(move |(oi, o)| {
                    (
                        vec![("endpoint", e.label()), ("outcome", o.label())],
                        self.requests[e.index()][oi].load(Ordering::Relaxed),
                    )
                })
            }),
        )?;
        // The buckets are kept cumulative (each observation counts in every bucket it fits);
        // the encoder wants each bucket's own count and accumulates them itself.
        let count = self.commit_count.load(Ordering::Relaxed);
        let cumulative: Vec<u64> = self
            .commit_buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let mut buckets: Vec<(f64, u64)> = BUCKETS
            .iter()
            .zip(&cumulative)
            .scan(0u64, |below, (bound, &n)| {
                let own = n.saturating_sub(*below);
                *below = n;
                Some((*bound, own))
            })
            .collect();
        buckets.push((
            f64::MAX,
            count.saturating_sub(cumulative.last().copied().unwrap_or(0)),
        ));
        let family = encoder.encode_descriptor(
            "malipo_commit_seconds",
            "Time from a request's store call to its durable commit.",
            None,
            MetricType::Histogram,
        )?;
        let sum = self.commit_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let mut family = family;
        family.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        counter(
            encoder,
            "malipo_jobs",
            "Processing jobs finished by the worker.",
            [
                (
                    vec![("result", "processed")],
                    self.jobs_processed.load(Ordering::Relaxed),
                ),
                (
                    vec![("result", "failed_attempt")],
                    self.jobs_failed.load(Ordering::Relaxed),
                ),
            ],
        )?;
        counter(
            encoder,
            "malipo_events_suspicious",
            "Callbacks and webhooks that disagreed with their payment (ids, amount, receipt, account) and moved nothing.",
            [(vec![], self.suspicious_total())],
        )?;
        counter(
            encoder,
            "malipo_validations",
            "Payment validations answered, by decision and by who decided (the merchant's app, or the fallback when it gave no usable answer).",
            ["accept", "reject"].iter().enumerate().flat_map(|(vi, verdict)| {
                ["app", "fallback"].iter().enumerate().map(move |(bi, by)| {
                    (
                        vec![("decision", *verdict), ("by", *by)],
                        self.validations[vi][bi].load(Ordering::Relaxed),
                    )
                })
            }),
        )?;
        counter(
            encoder,
            "malipo_c2b_pulls",
            "C2B Pull Transactions by result: ok, doubtful (an empty answer for a window in which malipo recorded C2B payments: likely a shortcode Daraja does not let pull), not_allowed (Daraja refused the shortcode), failed (an error body, often behind HTTP 200), error (anything else).",
            PULL_RESULTS
                .iter()
                .zip(&self.c2b_pulls)
                .map(|(result, n)| (vec![("result", *result)], n.load(Ordering::Relaxed))),
        )?;
        counter(
            encoder,
            "malipo_c2b_pull_recorded",
            "C2B payments recorded from a pull because their confirmation never arrived.",
            [(vec![], self.c2b_pulled.load(Ordering::Relaxed))],
        )
    }
}

/// The `result` labels of `malipo_c2b_pulls_total`.
const PULL_RESULTS: [&str; 5] = ["ok", "doubtful", "not_allowed", "failed", "error"];

fn now_minute() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

/// One counter family: a series per label set (a family without labels has one series).
pub(crate) fn counter<'l>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Vec<(&'l str, &'l str)>, u64)>,
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        // A series without labels is written bare (`name_total 3`), not `name_total{} 3`.
        if labels.is_empty() {
            ConstCounter::new(value).encode(family)?;
            return Ok(());
        }
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One gauge family: a series per label set (a family without labels has one series).
pub(crate) fn gauge<'l>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Vec<(&'l str, &'l str)>, i64)>,
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        if labels.is_empty() {
            ConstGauge::new(value).encode(family)?;
            return Ok(());
        }
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_minute_for_an_hour() {
        let m = Metrics::default();
        let start = 29_000_000;
        m.count_minute(start);
        m.count_minute(start);
        m.count_minute(start + 2);
        let last_hour = m.per_minute_at(start + 2);
        assert_eq!(last_hour.len(), 60);
        assert_eq!(&last_hour[57..], &[2, 0, 1]);
        // An hour later the slot is reused for the new minute, its old count gone.
        m.count_minute(start + 60);
        let later = m.per_minute_at(start + 60);
        assert_eq!(later[59], 1);
        assert_eq!(later.iter().sum::<u64>(), 2, "{later:?}");
    }
}
