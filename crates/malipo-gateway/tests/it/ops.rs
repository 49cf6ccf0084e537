//! The operations listener: `/metrics`, `/healthz` and `/readyz` on a listener of their own, and
//! the public listener serving only what providers call (and a bare `/healthz`).

use malipo_config::Config;
use malipo_gateway::Gateway;
use tokio::net::TcpListener;

struct Three {
    public: String,
    api: String,
    ops: String,
    stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn start(ops_section: &str) -> Three {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[database]\nurl = \"sqlite://{}\"\n[paystack]\nsecret_key = \"{}\"\n{ops_section}\n",
        dir.path().join("ops.db").display(),
        crate::common::PAYSTACK_KEY
    );
    let gateway = Gateway::from_config(&Config::from_toml(&text).unwrap())
        .await
        .unwrap();
    let bind = || async { TcpListener::bind("127.0.0.1:0").await.unwrap() };
    let (public, api, ops) = (bind().await, bind().await, bind().await);
    let url = |l: &TcpListener| format!("http://{}", l.local_addr().unwrap());
    let (public_url, api_url, ops_url) = (url(&public), url(&api), url(&ops));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve_all(public, api, ops, async {
        let _ = stopped.await;
    }));
    Three {
        public: public_url,
        api: api_url,
        ops: ops_url,
        stop,
        _dir: dir,
    }
}

async fn status(url: String) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn metrics_and_readiness_are_served_only_on_the_ops_listener() {
    let s = start("").await;
    assert_eq!(status(format!("{}/metrics", s.public)).await, 404);
    assert_eq!(status(format!("{}/readyz", s.public)).await, 404);
    assert_eq!(
        status(format!("{}/healthz", s.public)).await,
        200,
        "the load balancer's check"
    );
    let metrics = reqwest::get(format!("{}/metrics", s.ops))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("malipo_inbound_requests_total"), "{metrics}");
    assert!(metrics.contains("malipo_queue_depth"), "{metrics}");
    assert_eq!(status(format!("{}/readyz", s.ops)).await, 200);
    assert_eq!(status(format!("{}/healthz", s.ops)).await, 200);
    // Neither the callbacks nor the merchant API are on the ops listener.
    assert_eq!(status(format!("{}/v1/payments", s.ops)).await, 404);
    assert_eq!(status(format!("{}/metrics", s.api)).await, 404);
    let _ = s.stop.send(());
}

#[tokio::test]
async fn the_public_healthz_can_be_turned_off() {
    let s = start("[ops]\npublic_healthz = false").await;
    assert_eq!(status(format!("{}/healthz", s.public)).await, 404);
    assert_eq!(status(format!("{}/healthz", s.ops)).await, 200);
    let _ = s.stop.send(());
}

/// The exposition is well-formed OpenMetrics text and keeps every series name dashboards and
/// alerts were written against.
#[tokio::test]
async fn a_scrape_parses_and_keeps_every_series_name() {
    let s = start("").await;
    let res = reqwest::get(format!("{}/metrics", s.ops)).await.unwrap();
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = res.text().await.unwrap();
    assert_eq!(text.lines().last(), Some("# EOF"), "{text}");
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(value.parse::<f64>().is_ok(), "not a number in {line:?}");
        let name = series.split('{').next().unwrap();
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}') && labels.len() > 2),
                "{line:?}"
            );
        }
        names.insert(name.to_string());
    }
    for expected in [
        "malipo_ready",
        "malipo_readiness_changes_total",
        "malipo_inbound_requests_total",
        "malipo_commit_seconds_bucket",
        "malipo_commit_seconds_sum",
        "malipo_commit_seconds_count",
        "malipo_jobs_total",
        "malipo_events_suspicious_total",
        "malipo_validations_total",
        "malipo_guard_accepted_total",
        "malipo_guard_rejections_total",
        "malipo_connections_open",
        "malipo_connections_accepted_total",
        "malipo_connections_refused_total",
        "malipo_queue_depth",
        "malipo_events",
        "malipo_payments_pending",
        "malipo_store_commits_total",
        "malipo_store_writes_total",
    ] {
        assert!(names.contains(expected), "{expected} missing from {names:?}");
    }
    // The writer commits the worker's claims (it claims at start, then every idle poll), each
    // group holding at least one write. The first claim may come after the first scrape.
    let value = |text: &str, name: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap();
        line.rsplit_once(' ').unwrap().1.parse().unwrap()
    };
    let mut later = text.clone();
    for _ in 0..100 {
        if value(&later, "malipo_store_commits_total") >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        later = reqwest::get(format!("{}/metrics", s.ops))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    let (commits, writes) = (
        value(&later, "malipo_store_commits_total"),
        value(&later, "malipo_store_writes_total"),
    );
    assert!(
        commits >= 1 && writes >= commits,
        "{commits} commits of {writes} writes"
    );
    assert!(
        text.contains("malipo_commit_seconds_bucket{le=\"+Inf\"}"),
        "{text}"
    );
    let _ = s.stop.send(());
}
