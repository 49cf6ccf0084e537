//! Run with `cargo run --release -p malipo-store --example ingest_throughput [SECONDS] [TASKS] [power-loss]`
//!
//! Ingests distinct ~1.1 KB Paystack `charge.success` events from 32 concurrent tasks (by
//! default) into a fresh database for a few seconds (default 5) and prints the rate, latency
//! percentiles, file sizes, the mean group-commit size and the CPU time per ingest of each
//! thread. A measurement for the bench, not a test: nothing is asserted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use malipo_core::Provider;
use malipo_store::{Durability, NewEvent, SqliteOptions, SqliteStore};
use malipo_store::{EventStore as _, OpsStore as _};

fn body(n: u64) -> Vec<u8> {
    let mut body = include_str!("../tests/fixtures/paystack/charge-success.json")
        .replace("302961", &n.to_string())
        .into_bytes();
    // Pad to the ~1.1 KB of a real delivery with a customer and metadata.
    body.resize(1_100, b' ');
    body
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let tasks: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(32);
    let durability = match args.next().as_deref() {
        Some("power-loss") => Durability::PowerLoss,
        _ => Durability::ProcessCrash,
    };
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(
        dir.path().join("bench.db"),
        SqliteOptions {
            durability,
            ..SqliteOptions::default()
        },
    )?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let cpu = runtime.block_on(async {
        let workers: Vec<_> = (0..tasks)
            .map(|task| {
                let store = store.clone();
                let done = done.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    // Paystack's transaction ids are increasing 10-digit numbers today.
                    let mut n = 4_000_000_000 + task;
                    let mut latencies = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let event = NewEvent::received(
                            Provider::Paystack,
                            "charge.success",
                            format!("charge.success:{n}"),
                            body(n),
                        );
                        let sent = Instant::now();
                        if let Err(e) = store.ingest(event).await {
                            eprintln!("ingest failed: {e}");
                            break;
                        }
                        latencies.push(sent.elapsed());
                        done.fetch_add(1, Ordering::Relaxed);
                        n += tasks;
                    }
                    latencies
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for w in workers {
            latencies.extend(w.await.unwrap_or_default());
        }
        latencies.sort();
        let at = |q: f64| {
            latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
        };
        if let (Some(p50), Some(p99), Some(max)) = (at(0.5), at(0.99), latencies.last()) {
            println!("latency p50 {p50:.2?}, p99 {p99:.2?}, max {max:.2?}");
        }
        // Read before close() so the writer thread is still there to be measured.
        let cpu = cpu_seconds();
        let wal = std::fs::metadata(dir.path().join("bench.db-wal")).map_or(0, |m| m.len());
        let db = std::fs::metadata(dir.path().join("bench.db")).map_or(0, |m| m.len());
        println!(
            "database {:.1} MB, WAL {:.1} MB",
            db as f64 / 1e6,
            wal as f64 / 1e6
        );
        let w = store.writer_stats();
        println!(
            "{} group commits, {:.1} requests per commit",
            w.commits,
            w.requests as f64 / w.commits.max(1) as f64
        );
        store.close().await.map(|()| cpu)
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "{n} ingests in {elapsed:.2} s with {tasks} tasks ({durability:?}): {:.0} ingests/s",
        n as f64 / elapsed
    );
    // On a shared machine the rate swings with the neighbours' load; CPU time per ingest does
    // much less. The writer thread is the serial part: its time per ingest bounds the rate.
    if let Some((process, threads)) = cpu {
        let per = |secs: f64| secs * 1e6 / n.max(1) as f64;
        println!("process CPU: {:.1} us/ingest", per(process));
        for (name, secs) in threads {
            println!("  {name}: {:.1} us/ingest", per(secs));
        }
    }
    Ok(())
}

/// Process and per-thread CPU seconds (user + system) from /proc, Linux only.
fn cpu_seconds() -> Option<(f64, Vec<(String, f64)>)> {
    const TICKS: f64 = 100.0;
    let parse = |stat: &str| -> Option<(String, f64)> {
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let name = stat.get(open + 1..close)?.to_string();
        let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((name, (utime + stime) / TICKS))
    };
    let (_, process) = parse(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let mut threads = std::collections::BTreeMap::<String, f64>::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if let Some((name, secs)) = std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .and_then(|s| parse(&s))
        {
            *threads.entry(name).or_default() += secs;
        }
    }
    Some((process, threads.into_iter().collect()))
}
