//! The operator's commands against a running `malipo serve`: send-test-webhook, events list and
//! show, replay.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

struct Server {
    child: Child,
    base: String,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const KEY: &str = "sk_test_operator_obviously_fake";

fn serve() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[paystack]\nsecret_key = {{ env = \"T_PAYSTACK_KEY\" }}\nwebhook_ips = [\"127.0.0.0/8\"]\n[mpesa]\nshortcode = \"174379\"\nconsumer_key = \"ck\"\nconsumer_secret = \"cs\"\npasskey = \"pk\"\ncallback_ips = [\"127.0.0.0/8\"]\n",
            dir.path().join("op.db").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--log", "warn", "serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("T_PAYSTACK_KEY", KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_string();
    Server {
        child,
        base,
        config,
        _dir: dir,
    }
}

fn malipo(server: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--config", server.config.to_str().unwrap()])
        .args(args)
        .env("T_PAYSTACK_KEY", KEY)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn events(server: &Server) -> Vec<serde_json::Value> {
    let out = malipo(server, &["events", "list", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn send_test_webhooks_then_inspect_and_replay() {
    let server = serve();
    let to = format!("{}/webhooks/paystack", server.base);
    for _ in 0..2 {
        let out = malipo(
            &server,
            &[
                "send-test-webhook",
                "paystack",
                "--to",
                &to,
                "--id",
                "4242",
                "--amount",
                "250.50",
            ],
        );
        assert!(out.status.success(), "{}", stdout(&out));
        assert!(stdout(&out).contains("200 OK"), "{}", stdout(&out));
    }
    // Signed with the wrong key: refused, and the command says so with a non-zero exit.
    let out = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args([
            "send-test-webhook",
            "paystack",
            "--to",
            &to,
            "--secret-env",
            "WRONG_KEY",
        ])
        .env("WRONG_KEY", "sk_test_wrong")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("401"), "{}", stdout(&out));

    let payment = malipo_core::PaymentId::new().to_string();
    let out = malipo(
        &server,
        &[
            "send-test-webhook",
            "mpesa-stk",
            "--to",
            &server.base,
            "--payment",
            &payment,
            "--phone",
            "0712345678",
        ],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("\"ResultCode\":0"), "{}", stdout(&out));

    let list = events(&server);
    assert_eq!(
        list.len(),
        2,
        "the repeated Paystack delivery is stored once: {list:?}"
    );
    let stk = list.iter().find(|e| e["kind"] == "stk_callback").unwrap();
    assert_eq!(stk["payment_id"], payment.as_str());

    let text = stdout(&malipo(&server, &["events", "list"]));
    assert!(
        text.contains("charge.success") && text.contains("2 event(s)"),
        "{text}"
    );

    // The body is shown with the phone number masked.
    let id = stk["id"].as_str().unwrap();
    let shown = stdout(&malipo(&server, &["events", "show", id]));
    assert!(shown.contains("2547****5678"), "{shown}");
    assert!(!shown.contains("254712345678"), "{shown}");

    // Replaying a processed event queues it again; the worker processes it again.
    let paystack_event = list.iter().find(|e| e["kind"] == "charge.success").unwrap()["id"]
        .as_str()
        .unwrap();
    for _ in 0..100 {
        if events(&server).iter().all(|e| e["status"] == "processed") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = malipo(&server, &["replay", paystack_event]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout(&out).contains("queued for processing again"),
        "{}",
        stdout(&out)
    );
    let out = malipo(&server, &["replay", "evt_01JD3W8Q6M2K4X7V9B5N1R0T2Y"]);
    assert!(!out.status.success());
    let out = malipo(&server, &["events", "list", "--status", "bogus"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses a bad status");
}

/// Regression: `--payment` built the right URL but a made-up CheckoutRequestID and amount, so
/// the gateway kept the callback as suspicious and the payment stayed pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_stk_callback_for_a_stored_payment_settles_it() {
    use malipo_core::{Currency, Money, PaymentState, Provider};
    use malipo_store::{NewPayment, OpsStore as _, PaymentStore as _, SqliteOptions, SqliteStore};

    let server = serve();
    let db = server.config.with_file_name("op.db");
    let store = SqliteStore::open(&db, SqliteOptions::default()).unwrap();
    let mut new = NewPayment::pending(
        Provider::Mpesa,
        "stk_push",
        Money::from_minor(25_000, Currency::Kes),
    );
    new.msisdn = Some("254712345678".parse().unwrap());
    let payment = store.insert_payment(new).await.unwrap();
    store
        .set_payment_references(payment.id, "ws_CO_05122026101010123", "4242-777-1")
        .await
        .unwrap();
    let id = payment.id.to_string();
    let out = malipo(
        &server,
        &[
            "send-test-webhook",
            "mpesa-stk",
            "--to",
            &server.base,
            "--payment",
            &id,
        ],
    );
    let shown = stdout(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("ws_CO_05122026101010123") && shown.contains("KES 250"),
        "{shown}"
    );
    assert!(
        shown.contains("2547****5678") && !shown.contains("254712345678"),
        "{shown}"
    );
    // The URL's token is cut short where it is printed.
    let token_line = shown.lines().find(|l| l.starts_with("POST ")).unwrap();
    assert!(
        token_line.contains("/callbacks/mpesa/stk/") && token_line.contains('…'),
        "{token_line}"
    );
    let mut state = None;
    for _ in 0..100 {
        state = Some(store.get_payment(payment.id).await.unwrap().unwrap().state);
        if state == Some(PaymentState::Succeeded) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state, Some(PaymentState::Succeeded));
    store.close().await.unwrap();
}
