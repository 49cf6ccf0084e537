//! Load harnesses for malipo; see `bench/README.md`.
//!
//! `bench/ingest` builds the release binaries and runs `malipo-bench-ingest`, which starts each
//! server under test on loopback (malipo, the bare-axum ceiling `malipo-bench-ceiling`,
//! paystack-django under gunicorn), drives it with this crate's load generator and prints one
//! Markdown table. The pieces are usable on their own:
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use malipo_bench::{closed_loop, SignedPool, Target, Template, Timing};
//! use malipo_core::Secret;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = Secret::new("sk_test_fake".to_owned());
//! let pool = Arc::new(SignedPool::generate(Template::new()?, &secret, 100_000));
//! let target = Target { addr: "127.0.0.1:8080".parse()?, path: "/webhooks/paystack".into() };
//! let timing = Timing { warmup: Duration::from_secs(1), duration: Duration::from_secs(3) };
//! let report = closed_loop(&target, pool, 32, timing).await;
//! println!("{:.0} 2xx/s, p99 {:.2} ms", report.ok_per_sec(), report.latency_ms(0.99));
//! # Ok(()) }
//! ```

mod body;
mod client;
mod load;
mod server;
mod stk;
mod sustain;
mod table;

pub use body::{
    Outgoing, RequestPool, SignedPool, StkIds, StkPool, StkTemplate, Template, TemplateError, FIXTURE,
    STK_AMOUNT_MINOR, STK_FIXTURE, STK_PATH_PREFIX,
};
pub use client::{Client, Target, TransportError};
pub use load::{closed_loop, open_loop, open_loop_until, Load, LoadReport, Timing, REQUEST_TIMEOUT};
pub use server::{cpu_seconds, free_port, load_average, vm_hwm_kib, Server};
pub use stk::{seed_stk_payments, stk_payment};
pub use sustain::{
    parse_queue_depth, probe_line, queue_depth, Criteria, Probe, Search, Verdict, QUEUE_DEPTH,
};
pub use table::{
    backlog_lines, load_line, peer_ratios, render, settled_lines, target_verdicts, targets, Row, ServerKind,
    Settled,
};
