//! The two loads: a closed loop (N connections, each sending its next webhook as soon as the
//! last is answered) and an open loop (a fixed rate, latency counted from each request's
//! intended send time so a slow server cannot slow the schedule down: no coordinated omission).
//!
//! Both are bounded in time and in count: they stop at the end of the window, when the signed
//! pool runs out, or at a hard deadline, whichever comes first.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, Mutex};

use crate::body::RequestPool;
use crate::client::{Client, Target};

/// A request not answered within this is counted as a transport error and its connection
/// dropped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest latency the histograms hold (longer ones are clamped to it).
const MAX_LATENCY_US: u64 = 60_000_000;

/// The shape of a load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// `connections` connections, each with one request in flight at all times.
    Closed {
        /// Concurrent connections.
        connections: usize,
    },
    /// `rate` requests per second on a fixed schedule, spread over `connections` connections.
    Open {
        /// Requests per second.
        rate: u32,
        /// Connections available to carry them.
        connections: usize,
    },
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Load::Closed { connections } => write!(f, "closed, {connections} conns"),
            Load::Open { rate, .. } => write!(f, "open, {rate}/s"),
        }
    }
}

/// How long a load runs.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Sent but not measured, so connections, caches and the JIT-less servers settle.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
}

/// What one load against one server produced.
#[derive(Debug)]
pub struct LoadReport {
    /// The load that ran.
    pub load: Load,
    /// The measured window actually covered (shorter than asked only if the pool ran out).
    pub window: Duration,
    /// Latency in microseconds of every answer in the window (any status).
    pub latency_us: Histogram<u64>,
    /// Answers in the window, any status.
    pub answered_in_window: u64,
    /// 2xx answers in the window.
    pub ok_in_window: u64,
    /// 2xx answers over the whole run (warm-up included): what the server must have stored.
    pub total_2xx: u64,
    /// Other answers over the whole run, by status.
    pub total_non_2xx: BTreeMap<u16, u64>,
    /// Requests with no answer (connection refused or reset, timeout) over the whole run.
    pub total_transport: u64,
    /// The first transport error seen, to say what went wrong.
    pub first_transport_error: Option<String>,
    /// Connections opened (more than the connection count when the server closes them).
    pub connects: u64,
    /// Whether the signed pool ran out before the end of the window.
    pub pool_exhausted: bool,
    /// Open loop: scheduled requests never sent before the hard deadline.
    pub unsent: u64,
}

impl LoadReport {
    /// A report with nothing counted yet.
    pub fn empty(load: Load, window: Duration) -> Self {
        LoadReport {
            load,
            window,
            latency_us: new_histogram(),
            answered_in_window: 0,
            ok_in_window: 0,
            total_2xx: 0,
            total_non_2xx: BTreeMap::new(),
            total_transport: 0,
            first_transport_error: None,
            connects: 0,
            pool_exhausted: false,
            unsent: 0,
        }
    }

    /// Answers per second in the window, any status.
    pub fn answered_per_sec(&self) -> f64 {
        per_sec(self.answered_in_window, self.window)
    }

    /// 2xx answers per second in the window: webhooks handled.
    pub fn ok_per_sec(&self) -> f64 {
        per_sec(self.ok_in_window, self.window)
    }

    /// Non-2xx answers over the whole run.
    pub fn non_2xx(&self) -> u64 {
        self.total_non_2xx.values().sum()
    }

    /// Latency at `quantile` (0..=1), in milliseconds.
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn merge(&mut self, w: WorkerStats) {
        let _ = self.latency_us.add(&w.latency_us);
        self.answered_in_window += w.answered_in_window;
        self.ok_in_window += w.ok_in_window;
        self.total_2xx += w.total_2xx;
        for (status, n) in w.total_non_2xx {
            *self.total_non_2xx.entry(status).or_default() += n;
        }
        self.total_transport += w.total_transport;
        if self.first_transport_error.is_none() {
            self.first_transport_error = w.first_transport_error;
        }
        self.connects += w.connects;
        self.pool_exhausted |= w.pool_exhausted;
    }
}

fn per_sec(n: u64, window: Duration) -> f64 {
    if window.is_zero() {
        0.0
    } else {
        n as f64 / window.as_secs_f64()
    }
}

fn new_histogram() -> Histogram<u64> {
    // 3 significant digits from 1 µs to a minute: constant, valid bounds, so this cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// One connection's counts, merged at the end (no shared counters on the hot path).
struct WorkerStats {
    latency_us: Histogram<u64>,
    answered_in_window: u64,
    ok_in_window: u64,
    total_2xx: u64,
    total_non_2xx: BTreeMap<u16, u64>,
    total_transport: u64,
    first_transport_error: Option<String>,
    connects: u64,
    pool_exhausted: bool,
}

impl WorkerStats {
    fn new() -> Self {
        WorkerStats {
            latency_us: new_histogram(),
            answered_in_window: 0,
            ok_in_window: 0,
            total_2xx: 0,
            total_non_2xx: BTreeMap::new(),
            total_transport: 0,
            first_transport_error: None,
            connects: 0,
            pool_exhausted: false,
        }
    }

    /// Sends the `n`-th request; `since` is when its latency starts (sent or intended),
    /// `window` the measured interval it must end in to count.
    async fn send<P: RequestPool + ?Sized>(
        &mut self,
        client: &mut Client,
        pool: &P,
        n: usize,
        since: Instant,
        window: (Instant, Instant),
    ) -> bool {
        let Some(request) = pool.request(n) else {
            self.pool_exhausted = true;
            return false;
        };
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, client.post(request)).await;
        let done = Instant::now();
        let status = match outcome {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                self.transport(e.to_string());
                client.reset();
                return true;
            }
            Err(_) => {
                self.transport(format!("no answer within {REQUEST_TIMEOUT:?}"));
                client.reset();
                return true;
            }
        };
        let ok = status.is_success();
        if ok {
            self.total_2xx += 1;
        } else {
            *self.total_non_2xx.entry(status.as_u16()).or_default() += 1;
        }
        if done >= window.0 && done < window.1 {
            self.answered_in_window += 1;
            self.ok_in_window += u64::from(ok);
            let us = u64::try_from(done.saturating_duration_since(since).as_micros()).unwrap_or(u64::MAX);
            self.latency_us.saturating_record(us.clamp(1, MAX_LATENCY_US));
        }
        true
    }

    fn transport(&mut self, error: String) {
        self.total_transport += 1;
        if self.first_transport_error.is_none() {
            self.first_transport_error = Some(error);
        }
    }
}

/// Runs `connections` closed-loop connections against `target` for `timing`.
pub async fn closed_loop<P: RequestPool>(
    target: &Target,
    pool: Arc<P>,
    connections: usize,
    timing: Timing,
) -> LoadReport {
    let start = Instant::now();
    let window = (start + timing.warmup, start + timing.warmup + timing.duration);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let (pool, next, target) = (pool.clone(), next.clone(), target.clone());
        workers.push(tokio::spawn(async move {
            let mut client = Client::new(target);
            let mut stats = WorkerStats::new();
            while Instant::now() < window.1 {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if !stats.send(&mut client, &*pool, n, Instant::now(), window).await {
                    break;
                }
            }
            stats.connects = client.connects;
            (stats, Instant::now())
        }));
    }
    let mut report = LoadReport::empty(Load::Closed { connections }, timing.duration);
    let mut last_done = start;
    for w in workers {
        if let Ok((stats, done)) = w.await {
            last_done = last_done.max(done);
            report.merge(stats);
        }
    }
    if report.pool_exhausted {
        report.window = last_done
            .clamp(window.0, window.1)
            .saturating_duration_since(window.0);
    }
    report
}

/// Sends `rate` requests per second against `target` over `connections` connections for
/// `timing`; latency runs from each request's intended send time.
pub async fn open_loop<P: RequestPool>(
    target: &Target,
    pool: Arc<P>,
    rate: u32,
    connections: usize,
    timing: Timing,
) -> LoadReport {
    open_loop_until(
        target,
        pool,
        rate,
        connections,
        timing,
        Arc::new(AtomicBool::new(false)),
    )
    .await
}

/// [`open_loop`] that also ends early, the schedule cut short, once `stop` is set (by a watcher
/// that has seen enough); requests already handed out are still sent and counted.
pub async fn open_loop_until<P: RequestPool>(
    target: &Target,
    pool: Arc<P>,
    rate: u32,
    connections: usize,
    timing: Timing,
    stop: Arc<AtomicBool>,
) -> LoadReport {
    let rate = rate.max(1);
    let total = (f64::from(rate) * (timing.warmup + timing.duration).as_secs_f64()) as usize;
    let start = Instant::now() + Duration::from_millis(50);
    let window = (start + timing.warmup, start + timing.warmup + timing.duration);
    let hard_deadline = window.1 + REQUEST_TIMEOUT + Duration::from_secs(5);
    let (tx, rx) = mpsc::unbounded_channel::<(usize, Instant)>();
    // The schedule runs on its own thread: a thread sleep is precise to tens of microseconds,
    // the runtime's timer only to a millisecond, which would add up to 1 ms to every latency.
    let scheduler = std::thread::Builder::new()
        .name("bench-schedule".into())
        .spawn(move || {
            let interval = 1.0 / f64::from(rate);
            for n in 0..total {
                let intended = start + Duration::from_secs_f64(n as f64 * interval);
                let now = Instant::now();
                if intended > now {
                    std::thread::sleep(intended - now);
                }
                if stop.load(Ordering::Relaxed) || tx.send((n, intended)).is_err() {
                    break;
                }
            }
        });
    let rx = Arc::new(Mutex::new(rx));
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let (pool, rx, target) = (pool.clone(), rx.clone(), target.clone());
        workers.push(tokio::spawn(async move {
            let mut client = Client::new(target);
            let mut stats = WorkerStats::new();
            loop {
                let next = {
                    let mut rx = rx.lock().await;
                    tokio::time::timeout_at(hard_deadline.into(), rx.recv()).await
                };
                let Ok(Some((n, intended))) = next else { break };
                if Instant::now() >= hard_deadline
                    || !stats.send(&mut client, &*pool, n, intended, window).await
                {
                    break;
                }
            }
            stats.connects = client.connects;
            stats
        }));
    }
    let mut report = LoadReport::empty(Load::Open { rate, connections }, timing.duration);
    for w in workers {
        if let Ok(stats) = w.await {
            report.merge(stats);
        }
    }
    // Whatever is still queued was never sent; closing the queue also stops the scheduler.
    let mut rx = rx.lock().await;
    rx.close();
    while rx.try_recv().is_ok() {
        report.unsent += 1;
    }
    drop(rx);
    if let Ok(handle) = scheduler {
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }
    report
}
