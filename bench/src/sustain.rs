//! The highest sustained processing rate: reading the job queue depth from `/metrics`, judging
//! one open-loop probe from its depth trace, and choosing the next rate to probe.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

/// The gauge `malipo serve` exposes on its operations listener: processing jobs waiting or
/// running (one per stored event the worker has not finished).
pub const QUEUE_DEPTH: &str = "malipo_queue_depth";

/// The value of [`QUEUE_DEPTH`] in an OpenMetrics text exposition.
pub fn parse_queue_depth(exposition: &str) -> Option<u64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(QUEUE_DEPTH)?.strip_prefix(' ')?;
        value.trim().parse::<f64>().ok().map(|v| v.max(0.0) as u64)
    })
}

/// Asks `http://ops/metrics` for the queue depth; `None` when it cannot be read.
pub async fn queue_depth(http: &reqwest::Client, ops: SocketAddr) -> Option<u64> {
    let res = http
        .get(format!("http://{ops}/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    if !res.status().is_success() {
        return None;
    }
    parse_queue_depth(&res.text().await.ok()?)
}

/// When a probe counts as sustained.
#[derive(Debug, Clone, Copy)]
pub struct Criteria {
    /// The probe's window (the load runs this long).
    pub window: Duration,
    /// The stretch averaged at each end of the window (10 s, or a sixth of a short window).
    pub edge: Duration,
    /// How far the last stretch's average may rise above the first's, in seconds of load
    /// (0.25: a quarter of a second's events).
    pub tolerance_secs: f64,
    /// The highest depth allowed at any sample, in seconds of load; the probe stops early
    /// once it is passed.
    pub max_depth_secs: f64,
    /// How soon after the load stops the queue must be empty.
    pub drain: Duration,
}

impl Criteria {
    /// The criteria for a window, the stretch at each end 10 s or a sixth of the window.
    pub fn for_window(window: Duration, tolerance_secs: f64, max_depth_secs: f64, drain: Duration) -> Self {
        Criteria {
            window,
            edge: Duration::from_secs(10).min(window / 6),
            tolerance_secs,
            max_depth_secs,
            drain,
        }
    }

    /// The tolerance in events at `rate` (never under 100, so an idle worker's batching does
    /// not fail a low rate).
    pub fn tolerance(&self, rate: u32) -> f64 {
        (self.tolerance_secs * f64::from(rate)).max(100.0)
    }

    /// The depth bound in events at `rate` (never under 1,000).
    pub fn max_depth(&self, rate: u32) -> u64 {
        ((self.max_depth_secs * f64::from(rate)) as u64).max(1_000)
    }
}

/// What one probe saw.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// The rate asked for, events per second.
    pub rate: u32,
    /// Queue depth samples during the load: seconds since it started, depth.
    pub samples: Vec<(f64, u64)>,
    /// Seconds from the end of the load until the queue was empty; `None` if it was not within
    /// the drain allowance.
    pub drained_after_s: Option<f64>,
    /// Whether every scheduled request was sent and answered 2xx, on time (`None`: yes; else
    /// what went wrong).
    pub load_problem: Option<String>,
    /// Whether the probe was stopped early because the depth passed its bound.
    pub stopped_early: bool,
}

/// A probe's verdict and the figures it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Processing kept up.
    pub sustained: bool,
    /// Average depth over the first stretch of the window.
    pub start_avg: f64,
    /// Average depth over the last stretch.
    pub end_avg: f64,
    /// Highest depth sampled.
    pub max: u64,
    /// Why it was not sustained (empty when it was).
    pub reason: String,
}

fn average(values: impl Iterator<Item = u64>) -> Option<f64> {
    let (sum, n) = values.fold((0u64, 0u64), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum as f64 / n as f64)
}

impl Probe {
    /// Judges the probe by `criteria`.
    pub fn verdict(&self, criteria: &Criteria) -> Verdict {
        let window = criteria.window.as_secs_f64();
        let edge = criteria.edge.as_secs_f64();
        let in_window = || self.samples.iter().filter(|(t, _)| *t <= window + 0.5);
        let start_avg = average(in_window().filter(|(t, _)| *t <= edge).map(|(_, d)| *d)).unwrap_or(0.0);
        let end_avg = if self.stopped_early {
            // The trace ends where it ran away: its last sample stands for the end.
            self.samples.last().map_or(0.0, |(_, d)| *d as f64)
        } else {
            average(in_window().filter(|(t, _)| *t >= window - edge).map(|(_, d)| *d)).unwrap_or(0.0)
        };
        let max = self.samples.iter().map(|(_, d)| *d).max().unwrap_or(0);
        let mut reasons = Vec::new();
        if let Some(problem) = &self.load_problem {
            reasons.push(problem.clone());
        }
        if self.samples.is_empty() {
            reasons.push("no queue depth could be read from /metrics".into());
        }
        if self.stopped_early || max > criteria.max_depth(self.rate) {
            reasons.push(format!(
                "depth {max} passed the bound {}",
                criteria.max_depth(self.rate)
            ));
        }
        if end_avg > start_avg + criteria.tolerance(self.rate) {
            reasons.push(format!(
                "depth grew: {end_avg:.0} at the end against {start_avg:.0} at the start (tolerance {:.0})",
                criteria.tolerance(self.rate)
            ));
        }
        // A probe stopped early is not waited for: its queue is known to be deep.
        if self.drained_after_s.is_none() && !self.stopped_early {
            reasons.push(format!(
                "the queue was not empty {:.0} s after the load stopped",
                criteria.drain.as_secs_f64()
            ));
        }
        Verdict {
            sustained: reasons.is_empty(),
            start_avg,
            end_avg,
            max,
            reason: reasons.join("; "),
        }
    }
}

/// The search for the highest sustained rate: double from the start rate while probes pass,
/// halve while they fail, then bisect between the highest pass and the lowest failure until
/// they are within `precision` of each other.
#[derive(Debug, Clone)]
pub struct Search {
    /// The first rate probed.
    pub start: u32,
    /// Stop bisecting when (failed − passed) / passed is at most this.
    pub precision: f64,
    /// No rate under this is probed.
    pub min_rate: u32,
    /// Highest rate that passed.
    pub passed: Option<u32>,
    /// Lowest rate that failed.
    pub failed: Option<u32>,
}

impl Search {
    /// A search starting at `start`.
    pub fn new(start: u32, precision: f64, min_rate: u32) -> Self {
        Search {
            start: start.max(1),
            precision: precision.max(0.001),
            min_rate: min_rate.max(1),
            passed: None,
            failed: None,
        }
    }

    /// Notes a probe's verdict.
    pub fn record(&mut self, rate: u32, sustained: bool) {
        if sustained {
            self.passed = Some(self.passed.map_or(rate, |p| p.max(rate)));
        } else {
            self.failed = Some(self.failed.map_or(rate, |f| f.min(rate)));
        }
    }

    /// The next rate to probe, or `None` when the search is done.
    pub fn next(&self) -> Option<u32> {
        match (self.passed, self.failed) {
            (None, None) => Some(self.start),
            (Some(p), None) => Some(p.saturating_mul(2)),
            (None, Some(f)) => Some(f / 2).filter(|&r| r >= self.min_rate),
            (Some(p), Some(f)) => {
                if f <= p || f64::from(f - p) / f64::from(p) <= self.precision {
                    return None;
                }
                // Rounded to tens of events per second, for readable probe lines.
                let mid = (u64::from(p) + u64::from(f)) / 2;
                let mid = ((mid + 5) / 10 * 10) as u32;
                Some(mid).filter(|&m| m > p && m < f)
            }
        }
    }
}

/// One probe's line: rate, depths, drain, verdict.
pub fn probe_line(probe: &Probe, v: &Verdict) -> String {
    let mut s = format!(
        "{}/s: depth start {:.0}, end {:.0}, max {}",
        probe.rate, v.start_avg, v.end_avg, v.max
    );
    match (probe.drained_after_s, probe.stopped_early) {
        (_, true) => {
            let at = probe.samples.last().map_or(0.0, |(t, _)| *t);
            let _ = write!(s, ", load stopped early at {at:.0} s");
        }
        (Some(t), false) => {
            let _ = write!(s, ", empty {t:.1} s after the load");
        }
        (None, false) => s.push_str(", not empty after the load"),
    }
    if v.sustained {
        s.push_str(": sustained");
    } else {
        let _ = write!(s, ": NOT sustained ({})", v.reason);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_gauge() {
        let text = "# HELP malipo_queue_depth Processing jobs waiting or running.\n\
                    # TYPE malipo_queue_depth gauge\nmalipo_queue_depth 1234\n\
                    malipo_queue_depth_other 9\n# EOF\n";
        assert_eq!(parse_queue_depth(text), Some(1234));
        assert_eq!(parse_queue_depth("malipo_ready 1\n"), None);
    }

    fn criteria() -> Criteria {
        Criteria::for_window(Duration::from_secs(60), 0.25, 2.0, Duration::from_secs(5))
    }

    fn probe(depth: impl Fn(f64) -> u64) -> Probe {
        Probe {
            rate: 10_000,
            samples: (0..=60).map(|t| (f64::from(t), depth(f64::from(t)))).collect(),
            drained_after_s: Some(0.5),
            load_problem: None,
            stopped_early: false,
        }
    }

    #[test]
    fn a_flat_trace_is_sustained_a_rising_one_is_not() {
        let c = criteria();
        assert_eq!(c.edge, Duration::from_secs(10));
        let flat = probe(|t| 300 + (t as u64 % 3) * 100).verdict(&c);
        assert!(flat.sustained, "{flat:?}");
        // 2 % behind: 200 events a second pile up.
        let rising = probe(|t| (200.0 * t) as u64).verdict(&c);
        assert!(!rising.sustained);
        assert!(rising.reason.contains("depth grew"), "{}", rising.reason);
        let mut undrained = probe(|_| 10);
        undrained.drained_after_s = None;
        assert!(!undrained.verdict(&c).sustained);
        let mut early = probe(|t| (2_000.0 * t) as u64);
        early.samples.truncate(16);
        early.stopped_early = true;
        early.drained_after_s = None;
        let v = early.verdict(&c);
        assert!(!v.sustained && v.reason.contains("passed the bound") && !v.reason.contains("not empty"));
        assert!(probe_line(&early, &v).contains("stopped early at 15 s"));
        let mut errors = probe(|_| 10);
        errors.load_problem = Some("3 transport errors".into());
        assert!(errors.verdict(&c).reason.contains("transport"));
    }

    #[test]
    fn the_search_doubles_then_bisects_to_its_precision() {
        // Sustained up to 13,000/s.
        let mut s = Search::new(5_000, 0.05, 500);
        let mut probed = Vec::new();
        while let Some(rate) = s.next() {
            probed.push(rate);
            s.record(rate, rate <= 13_000);
            assert!(probed.len() < 20);
        }
        assert_eq!(&probed[..3], &[5_000, 10_000, 20_000]);
        let (p, f) = (s.passed.unwrap(), s.failed.unwrap());
        assert!(
            p <= 13_000 && f > 13_000 && f64::from(f - p) / f64::from(p) <= 0.05,
            "{p} {f}"
        );

        // Nothing sustained: halves down to the floor, then gives up.
        let mut s = Search::new(5_000, 0.05, 1_000);
        let mut probed = Vec::new();
        while let Some(rate) = s.next() {
            probed.push(rate);
            s.record(rate, false);
        }
        assert_eq!(probed, [5_000, 2_500, 1_250]);
        assert_eq!(s.passed, None);
    }
}
