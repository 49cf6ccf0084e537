//! `malipo endpoints …`, `malipo deliveries …` and `send-test-webhook merchant` against a running
//! `malipo serve` whose `[merchant]` endpoint is a recording receiver on loopback.

use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use malipo_webhooks::{verify, WebhookSecret};

use crate::deployment::{self, receiver, start_with, Instance, Request};

const PAYSTACK_KEY: &str = "sk_test_deliveries_obviously_fake";
const MERCHANT_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Server {
    instance: Instance,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn serve(merchant_url: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[paystack]\nsecret_key = {{ env = \"T_PAYSTACK_KEY\" }}\nwebhook_ips = [\"127.0.0.0/8\"]\n\
             [merchant]\nwebhook_url = \"{merchant_url}\"\nsigning_secret = {{ env = \"T_MERCHANT_SECRET\" }}\nallow_private_targets = true\n",
            dir.path().join("dl.db").display()
        ),
    )
    .unwrap();
    let env = [
        ("T_PAYSTACK_KEY", PAYSTACK_KEY),
        ("T_MERCHANT_SECRET", MERCHANT_SECRET),
    ];
    Server {
        instance: start_with(&config, &env, Stdio::null()),
        config,
        _dir: dir,
    }
}

fn malipo(server: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--config", server.config.to_str().unwrap()])
        .args(args)
        .env("T_PAYSTACK_KEY", PAYSTACK_KEY)
        .env("T_MERCHANT_SECRET", MERCHANT_SECRET)
        .env_remove("MALIPO_LOG")
        .output()
        .unwrap()
}

fn ok_json(server: &Server, args: &[&str]) -> serde_json::Value {
    let out = malipo(server, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn header<'a>(r: &'a Request, name: &str) -> &'a str {
    deployment::header(&r.0, name).unwrap_or_else(|| panic!("no {name} header"))
}

fn wait_for(got: &Arc<Mutex<Vec<Request>>>, n: usize) -> Vec<Request> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let all = got.lock().unwrap().clone();
        if all.len() >= n {
            return all;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the receiver got {} of {n}", got.lock().unwrap().len());
}

#[test]
fn a_provider_webhook_reaches_the_merchant_signed_and_operators_can_inspect_it() {
    let (url, got) = receiver();
    let server = serve(&url);
    let secret: WebhookSecret = MERCHANT_SECRET.parse().unwrap();

    // [merchant] became the endpoint "merchant".
    let endpoints = ok_json(&server, &["endpoints", "list", "--format", "json"]);
    assert_eq!(endpoints[0]["name"], "merchant");
    assert_eq!(endpoints[0]["url"], url.as_str());
    assert!(
        !endpoints.to_string().contains("MfKQ9r8"),
        "no secret in listings"
    );

    // A Paystack charge.success for a payment malipo did not start: recorded, then announced.
    let out = malipo(
        &server,
        &[
            "send-test-webhook",
            "paystack",
            "--to",
            &format!("{}/webhooks/paystack", server.instance.base),
            "--id",
            "777",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let delivered = wait_for(&got, 1);
    let first = &delivered[0];
    let headers: Vec<(&str, &str)> = first.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    verify(&secret, &headers, &first.1).expect("signed with the merchant secret");
    let body: serde_json::Value = serde_json::from_slice(&first.1).unwrap();
    assert_eq!(body["type"], "payment.succeeded");
    assert_eq!(body["data"]["provider"], "paystack");

    // The delivery, as operators see it.
    let id = header(first, "webhook-id").to_string();
    let start = Instant::now();
    let list = loop {
        let list = ok_json(&server, &["deliveries", "list", "--format", "json"]);
        if list[0]["status"] == "delivered" || start.elapsed() > Duration::from_secs(10) {
            break list;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "delivered");
    assert_eq!(list[0]["last_status"], 204);
    let text = String::from_utf8_lossy(&malipo(&server, &["deliveries", "show", &id]).stdout).into_owned();
    assert!(
        text.contains("payment.succeeded") && text.contains("delivered"),
        "{text}"
    );

    // Retry: the same id again.
    let retried = ok_json(&server, &["deliveries", "retry", &id, "--format", "json"]);
    assert_eq!(retried["id"], id.as_str());
    let again = wait_for(&got, 2);
    assert_eq!(header(&again[1], "webhook-id"), id);

    // A second endpoint: its secret is printed once, listed never.
    let out = malipo(
        &server,
        &[
            "endpoints",
            "add",
            "audit",
            "--url",
            &url,
            "--event",
            "payment.failed,refund.*",
            "--allow-private",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let new_secret = printed
        .lines()
        .find(|l| l.starts_with("whsec_"))
        .expect("the secret is printed");
    assert!(new_secret.parse::<WebhookSecret>().is_ok());
    let listed = String::from_utf8_lossy(&malipo(&server, &["endpoints", "list"]).stdout).into_owned();
    assert!(
        listed.contains("audit") && listed.contains("payment.failed refund.*"),
        "{listed}"
    );
    assert!(!listed.contains(new_secret));

    let rotated = ok_json(
        &server,
        &["endpoints", "rotate-secret", "audit", "--format", "json"],
    );
    assert!(rotated["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_ne!(rotated["secret"].as_str().unwrap(), new_secret);
    assert!(rotated["previous_secret_until"].is_string());
    let disabled = ok_json(&server, &["endpoints", "disable", "audit", "--format", "json"]);
    assert_eq!(disabled["enabled"], false);

    let out = malipo(&server, &["endpoints", "disable", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

#[test]
fn send_test_webhook_merchant_is_correctly_signed() {
    let (url, got) = receiver();
    let out = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args([
            "send-test-webhook",
            "merchant",
            "--to",
            &url,
            "--secret-env",
            "T_SECRET",
            "--event",
            "payout.failed",
        ])
        .env("T_SECRET", MERCHANT_SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let got = wait_for(&got, 1);
    let headers: Vec<(&str, &str)> = got[0].0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    verify(&MERCHANT_SECRET.parse().unwrap(), &headers, &got[0].1).expect("verifies");
    let body: serde_json::Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(body["type"], "payout.failed");
    assert_eq!(body["data"]["state"], "failed");

    let out = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args([
            "send-test-webhook",
            "merchant",
            "--to",
            &url,
            "--secret",
            "not-a-secret!",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not-a-secret!"));
}

/// Regression: after a `kill -9`, the delivery sender's leases were never released at the
/// restart (its lanes lease as `sender-PID@host/ep_…`, read as a host named `host/ep_…`), so a
/// delivery it had claimed waited for its lease to run out. Here the lease would hold for an
/// hour; the restarted gateway must send it at once.
#[test]
fn a_delivery_claimed_by_a_killed_sender_goes_out_at_the_restart() {
    use malipo_store::{
        DeliveryStore as _, NewDelivery, NewEndpoint, OpsStore as _, SqliteOptions, SqliteStore,
    };

    let (url, got) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let host = Command::new("uname").arg("-n").output().unwrap();
    let host = String::from_utf8_lossy(&host.stdout).trim().to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let delivery = runtime.block_on(async {
        let store = SqliteStore::open(&db, SqliteOptions::default()).unwrap();
        let endpoint = store
            .upsert_endpoint(
                NewEndpoint {
                    name: "shop".into(),
                    url: url.clone(),
                    secret: malipo_core::Secret::new(MERCHANT_SECRET.to_string()),
                    event_types: vec![],
                    enabled: true,
                    allow_private: true,
                },
                Duration::ZERO,
            )
            .await
            .unwrap();
        store
            .enqueue_delivery(NewDelivery {
                event_type: "payment.succeeded".into(),
                payload: br#"{"type":"payment.succeeded","data":{}}"#.to_vec().into(),
                payment_id: None,
                event_id: None,
                first_attempt_at: None,
            })
            .await
            .unwrap();
        let owner = format!("sender-{pid}@{host}/{}", endpoint.id);
        let claimed = store
            .claim_endpoint_deliveries(endpoint.id, &owner, 10, Duration::from_secs(3_600))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "the killed sender holds the delivery");
        store.close().await.unwrap();
        claimed[0].id
    });
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!("[database]\nurl = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let _instance = start_with(&config, &[], Stdio::null());
    let sent = wait_for(&got, 1);
    assert_eq!(header(&sent[0], "webhook-id"), delivery.to_string());
}
