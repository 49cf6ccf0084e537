//! The merchant API end to end as an operator sets it up: `malipo serve` with its two
//! listeners, `malipo api-key create`, HTTP calls from a "merchant backend", the simulators
//! standing in for Daraja and Paystack; then `malipo payments` and `malipo api-key revoke`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use malipo_sim::mpesa::{MpesaSim, MpesaSimHandle, SANDBOX_PASSKEY};
use malipo_sim::paystack::{PaystackSim, PaystackSimHandle, TEST_SECRET_KEY};
use serde_json::{json, Value};

struct Served {
    child: Child,
    public: String,
    api: String,
    ops: String,
    config: std::path::PathBuf,
    daraja: MpesaSimHandle,
    _paystack: PaystackSimHandle,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    // The public port must be known before the config (Daraja calls back to it): reserve one.
    let public_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let public = format!("http://127.0.0.1:{public_port}");
    let daraja = MpesaSim::start(
        malipo_sim::mpesa::SimConfig::default()
            .callback_delay(Duration::from_millis(20))
            .with_demo_outcomes(),
    )
    .await
    .unwrap();
    let paystack = PaystackSim::start(
        malipo_sim::paystack::SimConfig::default()
            .webhook_url(format!("{public}/webhooks/paystack").parse().unwrap()),
    )
    .await
    .unwrap();
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\npublic_base_url = \"{public}\"\n[database]\nurl = \"sqlite://{db}\"\n\
             [paystack]\nsecret_key = \"{TEST_SECRET_KEY}\"\nbase_url = \"{ps}\"\nwebhook_ips = [\"127.0.0.0/8\"]\n\
             [mpesa]\nbase_url = \"{mp}\"\nshortcode = \"174379\"\nconsumer_key = \"sim-consumer-key\"\n\
             consumer_secret = \"sim-consumer-secret\"\npasskey = \"{SANDBOX_PASSKEY}\"\ncallback_ips = [\"127.0.0.0/8\"]\n",
            db = dir.path().join("api.db").display(),
            ps = paystack.base_url(),
            mp = daraja.base_url(),
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--log", "warn", "serve", "--bind"])
        .arg(format!("127.0.0.1:{public_port}"))
        .args([
            "--api-bind",
            "127.0.0.1:0",
            "--ops-bind",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    assert_eq!(first.strip_prefix("listening on ").unwrap(), public);
    let api = second.strip_prefix("api listening on ").unwrap().to_string();
    assert_ne!(api, public);
    let third = lines.next().unwrap().unwrap();
    let ops = third.strip_prefix("ops listening on ").unwrap().to_string();
    assert!(ops != public && ops != api, "{ops}");
    Served {
        child,
        public,
        api,
        ops,
        config,
        daraja,
        _paystack: paystack,
        _dir: dir,
    }
}

fn malipo(s: &Served, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--log", "warn", "--config", s.config.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(out: Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn wait_for_state(http: &reqwest::Client, s: &Served, key: &str, id: &str, state: &str) -> Value {
    for _ in 0..250 {
        let p: Value = http
            .get(format!("{}/v1/payments/{id}", s.api))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if p["state"] == state {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("payment {id} never became {state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_backend_starts_and_tracks_payments_with_a_key_from_the_cli() {
    let s = serve().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    let made = ok_json(malipo(
        &s,
        &["api-key", "create", "--name", "shop", "--format", "json"],
    ));
    let key = made["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("mk_test_"), "{made}");
    assert!(made["id"].as_str().unwrap().starts_with("key_"));
    assert_eq!(made["name"], "shop");

    // The listing shows the key's id and prefix, never the key.
    let out = malipo(&s, &["api-key", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(made["id"].as_str().unwrap()) && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&key), "{listed}");

    // The API is on its own listener only.
    let r = http
        .get(format!("{}/v1/payments", s.public))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let r = http
        .post(format!("{}/v1/payments", s.api))
        .bearer_auth(&key)
        .header("Idempotency-Key", "order-1042")
        .json(&json!({
            "provider": "mpesa", "phone": "0708374149", "amount": 10000,
            "account_reference": "INV-1042", "description": "Order 1042",
            "merchant_reference": "order-1042"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap();
    let id = p["id"].as_str().unwrap().to_string();
    let done = wait_for_state(&http, &s, &key, &id, "succeeded").await;
    assert!(done["receipt"].is_string(), "{done}");

    // The operator sees it from the shell.
    let listed = ok_json(malipo(
        &s,
        &[
            "payments",
            "list",
            "--merchant-reference",
            "order-1042",
            "--format",
            "json",
        ],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    let shown = ok_json(malipo(&s, &["payments", "show", &id, "--format", "json"]));
    assert_eq!(shown["state"], "succeeded");
    // Reconciling a settled payment asks nobody and says so.
    let again = ok_json(malipo(&s, &["payments", "reconcile", &id, "--format", "json"]));
    assert_eq!(again["result"], "already_settled", "{again}");
    assert_eq!(again["payment"]["state"], "succeeded");
    let unknown = malipo(&s, &["payments", "reconcile", "pay_01JD3W8Q6M2K4X7V9B5N1R0T2Y"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no payment"));
    let text = String::from_utf8_lossy(&malipo(&s, &["payments", "show", &id]).stdout).into_owned();
    assert!(
        text.contains("succeeded") && text.contains("KES 100.00"),
        "{text}"
    );

    // An operator starts a payment without code; the running gateway settles it.
    let started = ok_json(malipo(
        &s,
        &[
            "payments",
            "stk-push",
            "--phone",
            "0708374149",
            "--amount",
            "250",
            "--account-reference",
            "INV-7",
            "--description",
            "Order 7",
            "--format",
            "json",
        ],
    ));
    assert_eq!(started["state"], "pending");
    assert_eq!(started["amount"], json!({"minor": 25000, "currency": "KES"}));
    wait_for_state(&http, &s, &key, started["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(s.daraja.requests(malipo_sim::mpesa::Endpoint::StkPush), 2);

    let checkout = ok_json(malipo(
        &s,
        &[
            "payments",
            "checkout",
            "--email",
            "wanjiru@example.com",
            "--amount",
            "5000",
            "--currency",
            "NGN",
            "--merchant-reference",
            "cart-9",
            "--format",
            "json",
        ],
    ));
    assert_eq!(checkout["provider"], "paystack");
    assert_eq!(checkout["merchant_reference"], "cart-9");
    assert!(
        checkout["authorization_url"]
            .as_str()
            .unwrap()
            .starts_with("http"),
        "{checkout}"
    );

    let bad = malipo(
        &s,
        &[
            "payments",
            "stk-push",
            "--phone",
            "0708374149",
            "--amount",
            "10.50",
            "--account-reference",
            "A",
            "--description",
            "B",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--amount"));

    // Revoked: the backend is refused from now on.
    let revoked = ok_json(malipo(
        &s,
        &[
            "api-key",
            "revoke",
            made["id"].as_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let r = http
        .get(format!("{}/v1/payments", s.api))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let missing = malipo(&s, &["api-key", "revoke", "key_01JD3W8Q6M2K4X7V9B5N1R0T2Y"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_puts_metrics_and_readiness_on_the_ops_listener_only() {
    let s = serve().await;
    let get = |url: String| async move { reqwest::get(url).await.unwrap().status().as_u16() };
    assert_eq!(get(format!("{}/metrics", s.public)).await, 404);
    assert_eq!(get(format!("{}/readyz", s.public)).await, 404);
    assert_eq!(get(format!("{}/healthz", s.public)).await, 200);
    assert_eq!(get(format!("{}/metrics", s.ops)).await, 200);
    assert_eq!(get(format!("{}/readyz", s.ops)).await, 200);
}

#[test]
fn every_new_command_has_complete_help() {
    for (args, words) in [
        (&["api-key", "--help"][..], &["create", "list", "revoke"][..]),
        (
            &["api-key", "create", "--help"],
            &["--name", "--format", "print it once"],
        ),
        (&["api-key", "revoke", "--help"], &["<ID>", "401"]),
        (
            &["payments", "--help"],
            &["list", "show", "stk-push", "checkout", "reconcile"],
        ),
        (
            &["payments", "list", "--help"],
            &[
                "--provider",
                "--state",
                "--merchant-reference",
                "--since",
                "--before",
                "--limit",
                "--format",
            ],
        ),
        (
            &["payments", "stk-push", "--help"],
            &[
                "--phone",
                "--amount",
                "--account-reference",
                "--description",
                "--metadata",
            ],
        ),
        (
            &["payments", "checkout", "--help"],
            &[
                "--email",
                "--amount",
                "--currency",
                "--reference",
                "--callback-url",
            ],
        ),
        (&["serve", "--help"], &["--api-bind"]),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_malipo"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        for w in words {
            assert!(help.contains(w), "{args:?} help lacks {w:?}:\n{help}");
        }
    }
}
