//! The ingest benchmark's driver (run it through `bench/ingest`, which builds what it needs).
//!
//! Runs, one after another on loopback and under the same load: `malipo serve` with embedded
//! SQLite, the bare-axum ceiling, malipo under M-Pesa STK callbacks for payments it tracks, and
//! paystack-django under gunicorn (twice: Django's default transactions and `transaction_mode =
//! IMMEDIATE`), then malipo and the ceiling under a steady open-loop rate. Prints one Markdown
//! table and the targets; exits 1 when malipo acknowledged a webhook it did not store (or stored
//! one it did not acknowledge), or an acknowledged STK callback did not settle its payment.
//!
//! `--only sustained` searches, for Paystack and for M-Pesa STK (and for Paystack on PostgreSQL,
//! with `--sustain-providers postgres`), the highest open-loop rate at which processing keeps up
//! (the job queue depth on `/metrics` stays flat and empties after the load); see `sustained`
//! below.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use malipo_bench::{
    backlog_lines, closed_loop, open_loop, open_loop_until, peer_ratios, probe_line, queue_depth, render,
    seed_stk_payments, settled_lines, target_verdicts, Criteria, Load, LoadReport, Probe, RequestPool, Row,
    Search, Server, ServerKind, Settled, SignedPool, StkPool, StkTemplate, Target, Template, Timing, Verdict,
};
use malipo_core::{EventStatus, PaymentState, Secret};
use malipo_guard::CallbackTokens;
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
    /// Bound on the STK closed loop's count: pending payments (and their callbacks) made
    /// ahead per second of run.
    #[arg(long, default_value_t = 25_000)]
    stk_pool_rate: usize,
    /// Seconds an STK row waits after its load for the worker to empty its queue, so that
    /// payments succeeded can be compared with callbacks acknowledged.
    #[arg(long, default_value_t = 120.0)]
    drain_timeout: f64,
    /// A PostgreSQL server (`postgres://USER@HOST:PORT/DB`, `psql` on PATH): adds a "malipo
    /// (PostgreSQL)" closed-loop Paystack row on a database created for the run (and dropped
    /// after), when `malipo` or `postgres` is in --only. Skipped with the reason when malipo
    /// refuses the URL (a build without the PostgreSQL adapter).
    #[arg(long, value_name = "URL")]
    postgres_url: Option<String>,
    /// The PostgreSQL rows' `[database] workers`: worker loops malipo runs at once.
    #[arg(long, value_name = "N", default_value_t = 1)]
    postgres_workers: usize,
    /// Runs to do, comma-separated: ceiling, malipo, stk, django, open, sustained (and postgres,
    /// with --postgres-url).
    #[arg(long, value_delimiter = ',', default_value = "ceiling,malipo,stk,django,open")]
    only: Vec<String>,
    /// `sustained`: the providers searched, comma-separated: paystack, stk, and postgres
    /// (Paystack webhooks on a PostgreSQL database, with --postgres-url).
    #[arg(long, value_delimiter = ',', default_value = "paystack,stk")]
    sustain_providers: Vec<String>,
    /// `sustained`: seconds of open-loop load per probe.
    #[arg(long, default_value_t = 60.0)]
    sustain_window: f64,
    /// `sustained`: the first rate probed (events per second).
    #[arg(long, default_value_t = 5_000)]
    sustain_start: u32,
    /// `sustained`: stop when the highest sustained and lowest unsustained rates are within
    /// this fraction of each other.
    #[arg(long, default_value_t = 0.05)]
    sustain_precision: f64,
    /// `sustained`: at most this many probes per provider.
    #[arg(long, default_value_t = 8)]
    sustain_max_probes: usize,
    /// `sustained`: no rate under this is probed.
    #[arg(long, default_value_t = 500)]
    sustain_min_rate: u32,
    /// `sustained`: how far the queue depth's average over the window's last stretch (10 s, or
    /// a sixth of a short window) may rise above its first stretch's, in seconds of load.
    #[arg(long, default_value_t = 0.25)]
    sustain_tolerance: f64,
    /// `sustained`: the highest queue depth allowed, in seconds of load; a probe passing it
    /// stops at once.
    #[arg(long, default_value_t = 3.0)]
    sustain_max_depth: f64,
    /// `sustained`: seconds after the load within which the queue must be empty.
    #[arg(long, default_value_t = 5.0)]
    sustain_drain: f64,
    /// `sustained`: connections of the open loop. A load generator carries at most
    /// `connections / latency` requests per second (Little's law): 32 connections at
    /// 15,000/s need every answer within 2.1 ms, or the generator's own queue grows and the
    /// probe measures the generator, not the server. A provider sending that many callbacks
    /// holds more connections than that.
    #[arg(long, default_value_t = 128)]
    sustain_connections: usize,
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
    /// STK rows: the callbacks settling the payments seeded for this run.
    stk: Option<Arc<StkPool>>,
    /// PostgreSQL rows: the database created for the run.
    postgres: Option<PgDatabase>,
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
    let seed = fake_key_seed();
    let secret = Secret::new(format!("sk_test_bench_{seed:032x}"));
    // The callback token key of every STK server of this run, a literal in its config (sandbox):
    // the driver mints the callback URLs with it, as the server checks them.
    let token_key = format!("{:032x}{:032x}", seed.rotate_left(64), seed ^ 0x5bd1_e995);
    let per_run = (timing.warmup + timing.duration).as_secs_f64();
    let pool_size =
        ((args.pool_rate as f64 * per_run) as usize).max((f64::from(args.open_rate) * per_run) as usize + 1);
    const RUNS: [&str; 7] = [
        "ceiling",
        "malipo",
        "stk",
        "django",
        "open",
        "sustained",
        "postgres",
    ];
    if let Some(unknown) = args.only.iter().find(|o| !RUNS.contains(&o.as_str())) {
        anyhow::bail!("--only {unknown:?}: expected some of {}", RUNS.join(", "));
    }
    let needs_paystack_pool = ["ceiling", "malipo", "django", "open", "postgres"]
        .iter()
        .any(|r| args.wants(r));
    let mut pool = Arc::new(SignedPool::generate(
        Template::new()?,
        &secret,
        if needs_paystack_pool { pool_size } else { 0 },
    ));
    if needs_paystack_pool {
        eprintln!("signed {pool_size} distinct charge.success webhooks (≈1.1 KB each)");
    }
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
    if args.postgres_url.is_some() && (args.wants("malipo") || args.wants("postgres")) {
        plan.push((ServerKind::MalipoPostgres, None, closed));
    }
    if args.wants("stk") {
        plan.push((ServerKind::MalipoStk, None, closed));
    }
    if args.wants("django") {
        plan.push((ServerKind::Django, Some("defaults"), closed));
        plan.push((ServerKind::Django, Some("IMMEDIATE"), closed));
    }
    if args.wants("open") {
        plan.push((ServerKind::Malipo, None, open));
        if args.wants("stk") {
            plan.push((ServerKind::MalipoStk, None, open));
        }
        plan.push((ServerKind::Ceiling, None, open));
    }

    let mut rows = Vec::new();
    for (i, (kind, variant, load)) in plan.into_iter().enumerate() {
        let name = match (kind, variant) {
            (ServerKind::Malipo, _) => "malipo (SQLite, process-crash)".to_owned(),
            (ServerKind::MalipoStk, _) => "malipo, M-Pesa STK callbacks (SQLite, process-crash)".to_owned(),
            (ServerKind::MalipoPostgres, _) => format!("malipo (PostgreSQL{})", workers_note(&args)),
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
            ServerKind::Malipo => start_malipo(&args, &dir, &malipo_config(&dir, &secret, None)?).await?,
            ServerKind::MalipoStk => {
                let count = match load {
                    Load::Closed { .. } => (args.stk_pool_rate as f64 * per_run) as usize,
                    Load::Open { rate, .. } => (f64::from(rate) * per_run) as usize + 1,
                };
                let config = malipo_config(&dir, &secret, Some(&token_key))?;
                let started = Instant::now();
                let stk = seed_stk(&config, StkPool::new(StkTemplate::new()?), count).await?;
                eprintln!(
                    "  stored {count} pending STK payments in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                Prepared {
                    stk: Some(Arc::new(stk)),
                    ..start_malipo(&args, &dir, &config).await?
                }
            }
            ServerKind::MalipoPostgres => {
                let url = args.postgres_url.as_deref().unwrap_or_default();
                let name = format!("malipo_bench_{:08x}_{i}", seed as u32);
                match start_malipo_postgres(&args, &dir, &secret, url, &name).await {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("  skipped: {e:#}");
                        continue;
                    }
                }
            }
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
        let report = match (&prepared.stk, load) {
            (Some(stk), load) => run_load(&target, stk.clone(), load, timing).await,
            (None, load) => run_load(&target, pool.clone(), load, timing).await,
        };
        let peak_rss_kib = prepared.server.peak_rss_kib();
        let server_cpu_s = prepared.server.cpu_seconds();
        let client_cpu_s = malipo_bench::cpu_seconds(std::process::id())
            .zip(client_cpu_before)
            .map(|(after, before)| after - before);
        // What the worker had not yet processed when the load stopped (read before any drain).
        let queued_at_end = match prepared.server.ops_addr {
            Some(ops) if kind.is_malipo() => queue_depth(&reqwest::Client::new(), ops).await,
            _ => None,
        };
        // An STK row waits for the worker before the kill, so every acknowledged callback's
        // payment can be looked at.
        let drained_after_s = match (kind, prepared.server.ops_addr) {
            (ServerKind::MalipoStk, Some(ops)) => {
                wait_for_empty_queue(ops, Duration::from_secs_f64(args.drain_timeout.max(0.0))).await
            }
            _ => None,
        };
        // malipo is killed, not asked to stop: its rows are counted as a kill -9 leaves them,
        // which also checks the durability the README promises for acknowledged webhooks.
        let (stored, settled) = match kind {
            ServerKind::Malipo => {
                prepared.server.stop(false).await?;
                (Some(count(&dir.join("bench.db"), "events")?), None)
            }
            ServerKind::MalipoStk => {
                prepared.server.stop(false).await?;
                let db = dir.join("bench.db");
                (Some(count(&db, "events")?), Some(settled(&db, drained_after_s)?))
            }
            ServerKind::MalipoPostgres => {
                prepared.server.stop(false).await?;
                let stored = match &prepared.postgres {
                    Some(pg) => {
                        let n = pg.count("events").await;
                        pg.drop_database().await;
                        Some(n?)
                    }
                    None => None,
                };
                (stored, None)
            }
            ServerKind::Ceiling => {
                prepared.server.stop(false).await?;
                (None, None)
            }
            ServerKind::Django => {
                prepared.server.stop(true).await?;
                (
                    Some(count(&dir.join("bench.db"), "djpaystack_paystackwebhookevent")?),
                    None,
                )
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
            settled,
            queued_at_end,
        });
    }

    let mut failed = false;
    if !rows.is_empty() {
        println!("{}", render(&rows));
        println!("{}\n", malipo_bench::load_line(&rows));
        let settled = settled_lines(&rows);
        if !settled.is_empty() {
            println!("{settled}");
        }
        let backlog = backlog_lines(&rows);
        if !backlog.is_empty() {
            println!("{backlog}");
        }
        let ratios = peer_ratios(&rows);
        if !ratios.is_empty() {
            println!("{ratios}");
        }
        let verdicts = target_verdicts(&rows);
        if !verdicts.is_empty() {
            println!("Targets:\n{verdicts}");
        }
        failed = rows.iter().any(Row::lost_or_extra);
    }
    if args.wants("sustained") {
        failed |= sustained(&args, &work_dir, &secret, &token_key, &mut pool).await?;
    }
    if failed {
        eprintln!(
            "FAIL: malipo's stored rows differ from its 2xx answers, or an acknowledged STK callback did not settle its payment"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_load<P: RequestPool>(target: &Target, pool: Arc<P>, load: Load, timing: Timing) -> LoadReport {
    match load {
        Load::Closed { connections } => closed_loop(target, pool, connections, timing).await,
        Load::Open { rate, connections } => open_loop(target, pool, rate, connections, timing).await,
    }
}

/// Stores payments up to `count` (those `pool` has not got yet) in the database `config` names,
/// through the store as the server opens it, and adds their callbacks to `pool`, minted with
/// the key the server will use (`callback_token_key` of the same config).
async fn seed_stk(config: &Path, mut pool: StkPool, count: usize) -> anyhow::Result<StkPool> {
    let config = malipo_config::Config::load(Some(config)).context("cannot load the bench config")?;
    let tokens = CallbackTokens::try_new(malipo_gateway::callback_token_key(&config)?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = malipo_gateway::open_store(&config).await?;
    seed_stk_payments(&store, &tokens, &mut pool, count).await?;
    store.close().await?;
    Ok(pool)
}

/// Polls the queue depth until it is 0; seconds it took, `None` if not within `limit`.
async fn wait_for_empty_queue(ops: std::net::SocketAddr, limit: Duration) -> Option<f64> {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut last_note = started;
    loop {
        let depth = queue_depth(&http, ops).await;
        if depth == Some(0) {
            return Some(started.elapsed().as_secs_f64());
        }
        if started.elapsed() >= limit {
            eprintln!("  the queue still holds {depth:?} jobs after {limit:?}");
            return None;
        }
        if last_note.elapsed() >= Duration::from_secs(10) {
            eprintln!("  waiting for the worker: {depth:?} jobs queued");
            last_note = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Payments succeeded and events refused in an STK row's database, after its server is gone.
fn settled(db: &Path, drained_after_s: Option<f64>) -> anyhow::Result<Settled> {
    let conn = rusqlite::Connection::open(db).with_context(|| format!("cannot open {}", db.display()))?;
    let count = |sql: &str, code: i64| -> anyhow::Result<u64> {
        let n: i64 = conn.query_row(sql, [code], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok(Settled {
        succeeded: count(
            "SELECT count(*) FROM payments WHERE state = ?1",
            PaymentState::Succeeded.code(),
        )?,
        refused: count(
            "SELECT count(*) FROM events WHERE status >= ?1",
            EventStatus::Failed.code(),
        )?,
        drained_after_s,
    })
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

/// Writes `malipo.toml` in `dir` and returns its path. Paystack rows: `[paystack]` with the fake
/// key. STK rows (`token_key`): `[mpesa]` with the callback token key set, Daraja never called
/// (the payments are seeded as already accepted, the reconciler is off and successes are not
/// confirmed by query), so its base URL points at a closed port.
fn malipo_config(dir: &Path, secret: &Secret<String>, token_key: Option<&str>) -> anyhow::Result<PathBuf> {
    let config = dir.join("malipo.toml");
    let db = dir.join("bench.db");
    // The guard's default per-IP limit (5,000/s) would throttle a load generator that is one
    // IP; lifted so the bench measures the inbound path, not the limiter.
    let text = match token_key {
        None => format!(
            "environment = \"sandbox\"\n\n[server]\nbind = \"127.0.0.1:0\"\n\n\
             [database]\nurl = \"sqlite://{}\"\n\n\
             [paystack]\nsecret_key = \"{}\"\nwebhook_ips = [\"127.0.0.0/8\"]\n\
             rate_limit = {{ per_second = 1000000, burst = 1000000 }}\n",
            db.display(),
            secret.expose()
        ),
        Some(key) => format!(
            "environment = \"sandbox\"\n\n[server]\nbind = \"127.0.0.1:0\"\n\
             callback_token_key = \"{key}\"\n\n\
             [database]\nurl = \"sqlite://{}\"\n\n\
             [mpesa]\nbase_url = \"http://127.0.0.1:9\"\nshortcode = \"174379\"\n\
             consumer_key = \"bench-consumer-key\"\nconsumer_secret = \"bench-consumer-secret\"\n\
             passkey = \"bench-passkey\"\ncallback_ips = [\"127.0.0.0/8\"]\n\
             rate_limit = {{ per_second = 1000000, burst = 1000000 }}\n\n\
             [reconcile]\nenabled = false\nconfirm_successes = false\n",
            db.display()
        ),
    };
    std::fs::write(&config, text)?;
    Ok(config)
}

/// Starts `malipo serve` with `config`, its operations listener (`/metrics`) on an ephemeral
/// loopback port.
async fn start_malipo(args: &Args, dir: &Path, config: &Path) -> anyhow::Result<Prepared> {
    let mut cmd = Command::new(&args.malipo);
    cmd.arg("--log")
        .arg("warn")
        .arg("--config")
        .arg(config)
        .arg("serve")
        .arg("--bind")
        .arg("127.0.0.1:0")
        .arg("--ops-bind")
        .arg("127.0.0.1:0");
    let server = Server::start_announced_with_ops(cmd, &dir.join("server.log")).await?;
    Ok(Prepared {
        server,
        path: "/webhooks/paystack",
        stk: None,
        postgres: None,
    })
}

/// A database created on a PostgreSQL server for one run.
struct PgDatabase {
    /// The URL the database was created through (the server's, as given).
    admin_url: String,
    /// Its name.
    name: String,
    /// The URL of the new database (the given one with its path replaced).
    url: String,
}

impl PgDatabase {
    /// Creates database `name` through `admin_url` with `psql`.
    async fn create(admin_url: &str, name: &str) -> anyhow::Result<Self> {
        let mut url = reqwest::Url::parse(admin_url).context("--postgres-url is not a URL")?;
        url.set_path(&format!("/{name}"));
        let db = PgDatabase {
            admin_url: admin_url.to_owned(),
            name: name.to_owned(),
            url: url.to_string(),
        };
        psql(admin_url, &format!("CREATE DATABASE {name}"))
            .await
            .context("cannot create the run's database with psql")?;
        Ok(db)
    }

    /// Rows of `table`, with `psql -At`.
    async fn count(&self, table: &str) -> anyhow::Result<u64> {
        let out = psql(&self.url, &format!("SELECT count(*) FROM {table}")).await?;
        out.trim()
            .parse()
            .with_context(|| format!("psql answered {out:?} to a count of {table}"))
    }

    /// Drops the database (a failure is only reported: it does not change the run).
    async fn drop_database(&self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = psql(&self.admin_url, &sql).await {
            eprintln!("  could not drop database {}: {e:#}", self.name);
        }
    }
}

/// Runs one statement with `psql -At`; its output. The URL is never printed (it may hold a
/// password).
async fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .await
        .context("cannot run psql (is it installed and on PATH?)")?;
    if !out.status.success() {
        anyhow::bail!(
            "psql failed on {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts malipo on a fresh PostgreSQL database `name` created on the server of `admin_url`;
/// an error (the database dropped again) when it cannot be created or malipo refuses the URL.
async fn start_malipo_postgres(
    args: &Args,
    dir: &Path,
    secret: &Secret<String>,
    admin_url: &str,
    name: &str,
) -> anyhow::Result<Prepared> {
    let pg = PgDatabase::create(admin_url, name).await?;
    let config = malipo_config(dir, secret, None)?;
    let text = std::fs::read_to_string(&config)?.replace(
        &format!("url = \"sqlite://{}\"", dir.join("bench.db").display()),
        &format!("url = \"{}\"\nworkers = {}", pg.url, args.postgres_workers),
    );
    std::fs::write(&config, text)?;
    match start_malipo(args, dir, &config).await {
        Ok(prepared) => Ok(Prepared {
            postgres: Some(pg),
            ..prepared
        }),
        Err(e) => {
            pg.drop_database().await;
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            let why = log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            Err(e).with_context(|| {
                format!(
                    "malipo refused the PostgreSQL database (a build without the PostgreSQL adapter?): {why}"
                )
            })
        }
    }
}

async fn start_ceiling(args: &Args, dir: &Path) -> anyhow::Result<Prepared> {
    let mut cmd = Command::new(&args.ceiling);
    cmd.arg("--bind").arg("127.0.0.1:0");
    let server = Server::start_announced(cmd, &dir.join("server.log")).await?;
    Ok(Prepared {
        server,
        path: "/webhooks/paystack",
        stk: None,
        postgres: None,
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
        stk: None,
        postgres: None,
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

/// `--only sustained`: for each provider, the highest open-loop rate at which processing keeps
/// up, found by probing (doubling, then bisecting). Each probe starts a fresh malipo, runs the
/// load for the window while sampling the queue depth every second, then waits for the queue to
/// empty, kills the server and checks its stored rows. Returns whether a check failed.
async fn sustained(
    args: &Args,
    work_dir: &Path,
    secret: &Secret<String>,
    token_key: &str,
    pool: &mut Arc<SignedPool>,
) -> anyhow::Result<bool> {
    let window = Duration::from_secs_f64(args.sustain_window.max(1.0));
    let criteria = Criteria::for_window(
        window,
        args.sustain_tolerance.max(0.0),
        args.sustain_max_depth.max(0.1),
        Duration::from_secs_f64(args.sustain_drain.max(0.0)),
    );
    eprintln!(
        "sustained: {:.0} s probes from {}/s over {} connections, to {:.0} % precision, at most {} probes per provider; sustained = depth over the last {:.0} s at most {} s of load above the first {:.0} s, never over {} s of load, empty within {:.0} s after",
        window.as_secs_f64(),
        args.sustain_start,
        args.sustain_connections,
        args.sustain_precision * 100.0,
        args.sustain_max_probes,
        criteria.edge.as_secs_f64(),
        criteria.tolerance_secs,
        criteria.edge.as_secs_f64(),
        criteria.max_depth_secs,
        criteria.drain.as_secs_f64(),
    );
    let mut failed = false;
    let mut lines = Vec::new();
    let mut stk_template: Option<StkTemplateDb> = None;
    for provider in &args.sustain_providers {
        let (stk, postgres) = match provider.as_str() {
            "paystack" => (false, None),
            "stk" => (true, None),
            "postgres" => match args.postgres_url.as_deref() {
                Some(url) => (false, Some(url)),
                None => {
                    eprintln!("sustained: provider postgres needs --postgres-url; skipped");
                    continue;
                }
            },
            other => {
                eprintln!("sustained: unknown provider {other:?} (paystack, stk, postgres); skipped");
                continue;
            }
        };
        let mut search = Search::new(args.sustain_start, args.sustain_precision, args.sustain_min_rate);
        let mut probes: Vec<(Probe, Verdict)> = Vec::new();
        while let Some(rate) = search.next() {
            if probes.len() >= args.sustain_max_probes {
                break;
            }
            let need = (f64::from(rate) * window.as_secs_f64()) as usize + 1;
            let dir = work_dir.join(format!("sustained-{provider}-{}", probes.len()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            let load_before = malipo_bench::load_average();
            eprintln!(
                "sustained {provider}, probe {}: {rate}/s for {:.0} s (load average {})",
                probes.len() + 1,
                window.as_secs_f64(),
                load_before.map_or("?".into(), |l| format!("{l:.2}"))
            );
            let (probe, ok) = if stk {
                let template = match &mut stk_template {
                    Some(t) => t,
                    None => stk_template.insert(StkTemplateDb::new(work_dir, secret, token_key)?),
                };
                let started = Instant::now();
                template.ensure(need).await?;
                let config = template.copy_to(&dir, secret, token_key)?;
                eprintln!(
                    "  {need} pending STK payments ready in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                let prepared = start_malipo(args, &dir, &config).await?;
                run_probe(args, &dir, prepared, template.pool.clone(), rate, &criteria, true).await?
            } else {
                if pool.len() < need {
                    eprintln!("  signing {need} webhooks");
                    *pool = Arc::new(SignedPool::generate(Template::new()?, secret, need));
                }
                let prepared = match postgres {
                    Some(url) => {
                        let name = format!(
                            "malipo_bench_sustain_{:08x}_{}",
                            fake_key_seed() as u32,
                            probes.len()
                        );
                        start_malipo_postgres(args, &dir, secret, url, &name).await?
                    }
                    None => start_malipo(args, &dir, &malipo_config(&dir, secret, None)?).await?,
                };
                run_probe(args, &dir, prepared, pool.clone(), rate, &criteria, false).await?
            };
            failed |= !ok;
            let verdict = probe.verdict(&criteria);
            let line = format!("{provider} {}", probe_line(&probe, &verdict));
            eprintln!("  {line}");
            lines.push(line);
            search.record(rate, verdict.sustained);
            probes.push((probe, verdict));
        }
        rows_line(args, provider, &search, &probes, &mut lines);
    }
    if let Some(t) = stk_template {
        let _ = std::fs::remove_dir_all(&t.dir);
    }
    println!("\n### Highest sustained processing rate\n");
    println!(
        "Open loop over {} connections, {:.0} s per probe; sustained when every request is answered 2xx with p99 under 1 s (ingest keeps up) and the job queue depth (`malipo_queue_depth` on /metrics, sampled every second) averaged over the last {:.0} s is at most {} s of load above the first {:.0} s, never exceeds {} s of load, and is 0 within {:.0} s after the load stops (processing keeps up).\n",
        args.sustain_connections,
        window.as_secs_f64(),
        criteria.edge.as_secs_f64(),
        criteria.tolerance_secs,
        criteria.edge.as_secs_f64(),
        criteria.max_depth_secs,
        criteria.drain.as_secs_f64()
    );
    println!("| provider | highest sustained events/s | queue depth at that rate (first / last stretch avg, max) | empty after the load | lowest rate not sustained | probes |");
    println!("|---|--:|---|---|---|--:|");
    for line in lines.iter().filter(|l| l.starts_with('|')) {
        println!("{line}");
    }
    println!("\nProbes:\n");
    for line in lines.iter().filter(|l| !l.starts_with('|')) {
        println!("- {line}");
    }
    println!();
    Ok(failed)
}

/// What the PostgreSQL rows' names add: their worker loops, when more than one.
fn workers_note(args: &Args) -> String {
    match args.postgres_workers {
        0 | 1 => String::new(),
        n => format!(", {n} workers"),
    }
}

/// The provider's table row, from its probes.
fn rows_line(
    args: &Args,
    provider: &str,
    search: &Search,
    probes: &[(Probe, Verdict)],
    lines: &mut Vec<String>,
) {
    let best = probes
        .iter()
        .filter(|(_, v)| v.sustained)
        .max_by_key(|(p, _)| p.rate);
    let worst = probes
        .iter()
        .filter(|(_, v)| !v.sustained)
        .min_by_key(|(p, _)| p.rate);
    let name = match provider {
        "stk" => "M-Pesa STK callbacks".to_owned(),
        "postgres" => format!("Paystack charge.success, PostgreSQL{}", workers_note(args)),
        _ => "Paystack charge.success".to_owned(),
    };
    // Say so when the probe budget, not the precision, ended the search.
    let open_interval = match (search.passed, search.failed) {
        (Some(p), Some(f)) if f64::from(f.saturating_sub(p)) / f64::from(p.max(1)) > search.precision => {
            format!(" (< {f}: probe limit reached before the precision)")
        }
        (Some(_), None) => " (no failure found: probe limit reached)".to_owned(),
        _ => String::new(),
    };
    let (rate, depth, drained) = match best {
        Some((p, v)) => (
            format!("{}{open_interval}", p.rate),
            format!("{:.0} / {:.0}, max {}", v.start_avg, v.end_avg, v.max),
            p.drained_after_s.map_or("–".into(), |t| format!("{t:.1} s")),
        ),
        None => (
            format!("< {}", search.failed.unwrap_or(0)),
            "–".into(),
            "–".into(),
        ),
    };
    let not = worst.map_or("none found".into(), |(p, v)| {
        format!("{}/s ({})", p.rate, v.reason)
    });
    lines.push(format!(
        "| {name} | {rate} | {depth} | {drained} | {not} | {} |",
        probes.len()
    ));
}

/// One probe: `rate` for the window against the started server, the queue depth sampled every
/// second (the load stops early once the depth passes its bound), then the drain, the kill and
/// the stored-rows check. Returns the probe and whether the rows checked out.
async fn run_probe<P: RequestPool>(
    args: &Args,
    dir: &Path,
    prepared: Prepared,
    pool: Arc<P>,
    rate: u32,
    criteria: &Criteria,
    stk: bool,
) -> anyhow::Result<(Probe, bool)> {
    let ops = prepared
        .server
        .ops_addr
        .context("malipo did not announce its operations listener")?;
    let target = Target {
        addr: prepared.server.addr,
        path: prepared.path.to_owned(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let max_depth = criteria.max_depth(rate);
    let sampler = {
        let (stop, done) = (stop.clone(), done.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let started = Instant::now();
            let mut samples = Vec::new();
            let mut next = started;
            while !done.load(Ordering::Relaxed) {
                if let Some(depth) = queue_depth(&http, ops).await {
                    samples.push((started.elapsed().as_secs_f64(), depth));
                    if depth > max_depth {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                next += Duration::from_secs(1);
                tokio::time::sleep_until(next.into()).await;
            }
            samples
        })
    };
    let timing = Timing {
        warmup: Duration::ZERO,
        duration: criteria.window,
    };
    let report = open_loop_until(
        &target,
        pool,
        rate,
        args.sustain_connections,
        timing,
        stop.clone(),
    )
    .await;
    done.store(true, Ordering::Relaxed);
    let samples = sampler.await.unwrap_or_default();
    let stopped_early = stop.load(Ordering::Relaxed);
    let drained_after_s = if stopped_early {
        None
    } else {
        wait_for_empty_queue(ops, criteria.drain).await
    };
    let scheduled = (f64::from(rate) * criteria.window.as_secs_f64()) as u64;
    let mut problems = Vec::new();
    if report.total_transport > 0 {
        problems.push(format!("{} transport errors", report.total_transport));
    }
    if report.non_2xx() > 0 {
        problems.push(format!("{} non-2xx answers", report.non_2xx()));
    }
    if report.unsent > 0 {
        problems.push(format!("{} requests never sent", report.unsent));
    }
    if !stopped_early && report.total_2xx + report.non_2xx() + report.total_transport < scheduled {
        problems.push(format!(
            "{} of {scheduled} requests answered",
            report.total_2xx + report.non_2xx()
        ));
    }
    let p99 = report.latency_ms(0.99);
    if p99 > 1000.0 {
        problems.push(format!("ingest fell behind (p99 {p99:.0} ms)"));
    }
    prepared.server.stop(false).await?;
    let db = dir.join("bench.db");
    let stored = match &prepared.postgres {
        Some(pg) => {
            let n = pg.count("events").await;
            pg.drop_database().await;
            n?
        }
        None => count(&db, "events")?,
    };
    let mut ok = stored == report.total_2xx;
    if !ok {
        eprintln!(
            "  FAIL: {stored} events stored for {} 2xx answers",
            report.total_2xx
        );
    }
    if stk && drained_after_s.is_some() {
        let s = settled(&db, drained_after_s)?;
        if s.succeeded != report.total_2xx || s.refused > 0 {
            eprintln!(
                "  FAIL: {} payments succeeded and {} events refused for {} callbacks acknowledged",
                s.succeeded, s.refused, report.total_2xx
            );
            ok = false;
        }
    }
    eprintln!(
        "  {} 2xx, p50 {:.2} ms, p99 {p99:.2} ms, {stored} events stored",
        report.total_2xx,
        report.latency_ms(0.5)
    );
    // A probe's database is gigabytes at high rates; only its log is kept.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("bench.db{suffix}")));
    }
    Ok((
        Probe {
            rate,
            samples,
            drained_after_s,
            load_problem: (!problems.is_empty()).then(|| problems.join(", ")),
            stopped_early,
        },
        ok,
    ))
}

/// The pending STK payments of the sustained search, seeded once into a template database and
/// copied for each probe (a probe needs `rate × window` payments; seeding them anew for every
/// probe would cost more than the probe). Grown when a probe needs more.
struct StkTemplateDb {
    dir: PathBuf,
    config: PathBuf,
    pool: Arc<StkPool>,
}

impl StkTemplateDb {
    fn new(work_dir: &Path, secret: &Secret<String>, token_key: &str) -> anyhow::Result<Self> {
        let dir = work_dir.join("sustained-stk-template");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let config = malipo_config(&dir, secret, Some(token_key))?;
        Ok(StkTemplateDb {
            dir,
            config,
            pool: Arc::new(StkPool::new(StkTemplate::new()?)),
        })
    }

    /// Seeds payments until there are `count`.
    async fn ensure(&mut self, count: usize) -> anyhow::Result<()> {
        if self.pool.size() >= count {
            return Ok(());
        }
        let pool = std::mem::replace(&mut self.pool, Arc::new(StkPool::new(StkTemplate::new()?)));
        let pool = Arc::try_unwrap(pool).unwrap_or_else(|shared| (*shared).clone());
        self.pool = Arc::new(seed_stk(&self.config, pool, count).await?);
        Ok(())
    }

    /// Copies the database (checkpointed first, so the file alone is whole) into `dir` and
    /// writes a config for it there, with the same token key.
    fn copy_to(&self, dir: &Path, secret: &Secret<String>, token_key: &str) -> anyhow::Result<PathBuf> {
        let db = self.dir.join("bench.db");
        let conn = rusqlite::Connection::open(&db)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        drop(conn);
        std::fs::copy(&db, dir.join("bench.db"))
            .with_context(|| format!("cannot copy {} into {}", db.display(), dir.display()))?;
        malipo_config(dir, secret, Some(token_key))
    }
}
