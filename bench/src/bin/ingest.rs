//! The ingest benchmark's driver (run it through `bench/ingest`, which builds what it needs).
//!
//! Runs, one after another on loopback and under the same load: `malipo serve` with embedded
//! SQLite, the bare-axum ceiling, and paystack-django under gunicorn (twice: Django's default
//! transactions and `transaction_mode = IMMEDIATE`), then malipo and the ceiling under a steady
//! open-loop rate. Prints one Markdown table and the targets; exits 1 when malipo acknowledged a
//! webhook it did not store (or stored one it did not acknowledge).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use malipo_bench::{
    closed_loop, open_loop, peer_ratios, render, target_verdicts, Load, LoadReport, Row, Server, ServerKind,
    SignedPool, Target, Template, Timing,
};
use malipo_core::Secret;
use tokio::process::Command;

/// Command line of the driver.
#[derive(Debug, Parser)]
#[command(about = "Ingest benchmark: malipo vs a bare axum ceiling vs paystack-django, on loopback")]
struct Args {
    /// The release `malipo` binary.
    #[arg(long)]
    malipo: PathBuf,
    /// The release `malipo-bench-ceiling` binary.
    #[arg(long)]
    ceiling: PathBuf,
    /// Python of a virtualenv with paystack-django, Django and gunicorn; no Django rows without it.
    #[arg(long)]
    django_python: Option<PathBuf>,
    /// The small Django project (bench/django).
    #[arg(long, default_value = "bench/django")]
    django_project: PathBuf,
    /// Scratch directory for databases, configurations and server logs (emptied per run).
    #[arg(long, default_value = "target/bench-ingest")]
    work_dir: PathBuf,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds before each run's window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Requests per second of the open-loop runs.
    #[arg(long, default_value_t = 5000)]
    open_rate: u32,
    /// Bound on the closed loop's count: webhooks signed ahead per second of run.
    #[arg(long, default_value_t = 100_000)]
    pool_rate: usize,
    /// Threads of the load generator (1 leaves the most CPU to the server).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Runs to do, comma-separated: malipo, ceiling, django, open.
    #[arg(long, value_delimiter = ',', default_value = "ceiling,malipo,django,open")]
    only: Vec<String>,
}

impl Args {
    fn timing(&self) -> Timing {
        Timing {
            warmup: Duration::from_secs_f64(self.warmup.max(0.0)),
            duration: Duration::from_secs_f64(self.duration.max(0.1)),
        }
    }

    fn wants(&self, run: &str) -> bool {
        self.only.iter().any(|o| o == run)
    }
}

/// What a run needs to know about its server.
struct Prepared {
    server: Server,
    path: &'static str,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = if args.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.client_threads)
            .enable_all()
            .build()
    };
    let result = runtime
        .context("cannot start the load generator's runtime")
        .and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let timing = args.timing();
    let secret = Secret::new(format!("sk_test_bench_{:032x}", fake_key_seed()));
    let per_run = (timing.warmup + timing.duration).as_secs_f64();
    let pool_size =
        ((args.pool_rate as f64 * per_run) as usize).max((f64::from(args.open_rate) * per_run) as usize + 1);
    eprintln!("signing {pool_size} distinct charge.success webhooks (≈1.1 KB each)…");
    let pool = Arc::new(SignedPool::generate(Template::new()?, &secret, pool_size));
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("cannot create {}", args.work_dir.display()))?;
    let work_dir = args.work_dir.canonicalize()?;

    let closed = Load::Closed {
        connections: args.connections,
    };
    let open = Load::Open {
        rate: args.open_rate,
        connections: args.connections,
    };
    let mut plan: Vec<(ServerKind, Option<&str>, Load)> = Vec::new();
    if args.wants("ceiling") {
        plan.push((ServerKind::Ceiling, None, closed));
    }
    if args.wants("malipo") {
        plan.push((ServerKind::Malipo, None, closed));
    }
    if args.wants("django") {
        plan.push((ServerKind::Django, Some("defaults"), closed));
        plan.push((ServerKind::Django, Some("IMMEDIATE"), closed));
    }
    if args.wants("open") {
        plan.push((ServerKind::Malipo, None, open));
        plan.push((ServerKind::Ceiling, None, open));
    }

    let mut rows = Vec::new();
    for (i, (kind, variant, load)) in plan.into_iter().enumerate() {
        let name = match (kind, variant) {
            (ServerKind::Malipo, _) => "malipo (SQLite, process-crash)".to_owned(),
            (ServerKind::Ceiling, _) => "bare axum (ceiling)".to_owned(),
            (ServerKind::Django, Some("IMMEDIATE")) => "paystack-django, IMMEDIATE".to_owned(),
            (ServerKind::Django, _) => "paystack-django, Django defaults".to_owned(),
        };
        let dir = work_dir.join(format!("{i}-{}", slug(&name)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let load_before = malipo_bench::load_average();
        eprintln!(
            "{name}, {load}: starting (logs in {}; load average {})",
            dir.display(),
            load_before.map_or("?".into(), |l| format!("{l:.2}"))
        );
        let prepared = match kind {
            ServerKind::Malipo => start_malipo(&args, &dir, &secret).await?,
            ServerKind::Ceiling => start_ceiling(&args, &dir).await?,
            ServerKind::Django => {
                let Some(python) = &args.django_python else {
                    eprintln!("  skipped: no --django-python (paystack-django not installed)");
                    continue;
                };
                // Absolute but not canonical: the virtualenv's python is a symlink out of it.
                let python = std::path::absolute(python)?;
                match start_django(&args, &python, &dir, &secret, variant == Some("IMMEDIATE")).await {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("  skipped: {e:#}");
                        continue;
                    }
                }
            }
        };
        let target = Target {
            addr: prepared.server.addr,
            path: prepared.path.to_owned(),
        };
        let client_cpu_before = malipo_bench::cpu_seconds(std::process::id());
        let report = match load {
            Load::Closed { connections } => closed_loop(&target, pool.clone(), connections, timing).await,
            Load::Open { rate, connections } => {
                open_loop(&target, pool.clone(), rate, connections, timing).await
            }
        };
        let peak_rss_kib = prepared.server.peak_rss_kib();
        let server_cpu_s = prepared.server.cpu_seconds();
        let client_cpu_s = malipo_bench::cpu_seconds(std::process::id())
            .zip(client_cpu_before)
            .map(|(after, before)| after - before);
        // malipo is killed, not asked to stop: its rows are counted as a kill -9 leaves them,
        // which also checks the durability the README promises for acknowledged webhooks.
        let stored = match kind {
            ServerKind::Malipo => {
                prepared.server.stop(false).await?;
                Some(count(&dir.join("bench.db"), "events")?)
            }
            ServerKind::Ceiling => {
                prepared.server.stop(false).await?;
                None
            }
            ServerKind::Django => {
                prepared.server.stop(true).await?;
                Some(count(&dir.join("bench.db"), "djpaystack_paystackwebhookevent")?)
            }
        };
        summary(&name, &report, stored);
        rows.push(Row {
            name,
            kind,
            report,
            peak_rss_kib,
            stored,
            server_cpu_s,
            client_cpu_s,
            load_before,
        });
    }

    println!("{}", render(&rows));
    println!("{}\n", malipo_bench::load_line(&rows));
    let ratios = peer_ratios(&rows);
    if !ratios.is_empty() {
        println!("{ratios}");
    }
    let verdicts = target_verdicts(&rows);
    if !verdicts.is_empty() {
        println!("Targets:\n{verdicts}");
    }
    if rows.iter().any(Row::lost_or_extra) {
        eprintln!("FAIL: malipo's stored rows differ from its 2xx answers");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Progress on stderr after each run.
fn summary(name: &str, r: &LoadReport, stored: Option<u64>) {
    eprintln!(
        "  {:.0} req/s, {:.0} 2xx/s, p50 {:.2} ms, p99 {:.2} ms, {} non-2xx, {} transport errors{}, {} connections opened{}",
        r.answered_per_sec(),
        r.ok_per_sec(),
        r.latency_ms(0.5),
        r.latency_ms(0.99),
        r.non_2xx(),
        r.total_transport,
        r.first_transport_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        r.connects,
        stored
            .map(|n| format!(", {n} rows stored for {} 2xx", r.total_2xx))
            .unwrap_or_default(),
    );
    let _ = name;
}

async fn start_malipo(args: &Args, dir: &Path, secret: &Secret<String>) -> anyhow::Result<Prepared> {
    let config = dir.join("malipo.toml");
    // The guard's default per-IP limit (5,000/s) would throttle a load generator that is one
    // IP; lifted so the bench measures the inbound path, not the limiter.
    std::fs::write(
        &config,
        format!(
            "environment = \"sandbox\"\n\n[server]\nbind = \"127.0.0.1:0\"\n\n\
             [database]\nurl = \"sqlite://{}\"\n\n\
             [paystack]\nsecret_key = \"{}\"\nwebhook_ips = [\"127.0.0.0/8\"]\n\
             rate_limit = {{ per_second = 1000000, burst = 1000000 }}\n",
            dir.join("bench.db").display(),
            secret.expose()
        ),
    )?;
    let mut cmd = Command::new(&args.malipo);
    cmd.arg("--log")
        .arg("warn")
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .arg("--bind")
        .arg("127.0.0.1:0");
    let server = Server::start_announced(cmd, &dir.join("server.log")).await?;
    Ok(Prepared {
        server,
        path: "/webhooks/paystack",
    })
}

async fn start_ceiling(args: &Args, dir: &Path) -> anyhow::Result<Prepared> {
    let mut cmd = Command::new(&args.ceiling);
    cmd.arg("--bind").arg("127.0.0.1:0");
    let server = Server::start_announced(cmd, &dir.join("server.log")).await?;
    Ok(Prepared {
        server,
        path: "/webhooks/paystack",
    })
}

async fn start_django(
    args: &Args,
    python: &Path,
    dir: &Path,
    secret: &Secret<String>,
    immediate: bool,
) -> anyhow::Result<Prepared> {
    let project = args
        .django_project
        .canonicalize()
        .with_context(|| format!("no Django project at {}", args.django_project.display()))?;
    let log = dir.join("server.log");
    let env = |cmd: &mut Command| {
        cmd.current_dir(&project)
            .env("DJANGO_SETTINGS_MODULE", "benchsite.settings")
            .env("BENCH_DB", dir.join("bench.db"))
            .env("BENCH_TRANSACTION_MODE", if immediate { "IMMEDIATE" } else { "" })
            .env("BENCH_PAYSTACK_SECRET", secret.expose());
    };
    let mut migrate = Command::new(python);
    migrate.args(["manage.py", "migrate", "--noinput"]);
    env(&mut migrate);
    let out = migrate.output().await.context("cannot run manage.py migrate")?;
    if !out.status.success() {
        anyhow::bail!(
            "manage.py migrate failed: {}",
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        );
    }
    let addr = malipo_bench::free_port()?;
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "gunicorn",
        "--workers",
        "5",
        "--worker-class",
        "sync",
        "--log-level",
        "warning",
    ])
    .arg("--bind")
    .arg(addr.to_string())
    .arg("benchsite.wsgi:application");
    env(&mut cmd);
    let server = Server::start_polled(cmd, addr, &log).await?;
    Ok(Prepared {
        server,
        path: "/paystack/webhook/",
    })
}

/// Rows of `table` in the SQLite file at `db`, opened after its server is gone (read-write, so
/// a WAL left by a killed process is recovered first; nothing is written).
fn count(db: &Path, table: &str) -> anyhow::Result<u64> {
    let conn = rusqlite::Connection::open(db).with_context(|| format!("cannot open {}", db.display()))?;
    let n: i64 = conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .with_context(|| format!("cannot count {table} in {}", db.display()))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn slug(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    s.trim_matches('-').to_owned()
}

/// A per-run seed for the fake Paystack key; it only has to differ between runs.
fn fake_key_seed() -> u128 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    nanos ^ (u128::from(std::process::id()) << 64)
}
