//! `malipo events list --status suspicious`: callbacks that disagreed with their payment are
//! listed with their reason, and counted in `/metrics`.

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

fn serve() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[mpesa]\nshortcode = \"174379\"\nconsumer_key = \"ck\"\nconsumer_secret = \"cs\"\npasskey = \"pk\"\ncallback_ips = [\"127.0.0.0/8\"]\n",
            dir.path().join("ev.db").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--log", "warn", "serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&config)
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
        .output()
        .unwrap()
}

fn suspicious(server: &Server) -> Vec<serde_json::Value> {
    let out = malipo(
        server,
        &["events", "list", "--status", "suspicious", "--format", "json"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_list_status_suspicious_shows_a_c2b_payment_to_a_foreign_shortcode() {
    let server = serve();
    // Someone registered our confirmation URL for their own till and paid it.
    let forged = serde_json::json!({
        "TransactionType": "Pay Bill", "TransID": "RKTQDM7W6S", "TransTime": "20191122063845",
        "TransAmount": "1", "BusinessShortCode": "999999", "BillRefNumber": "order-1042",
        "MSISDN": "254708374149", "FirstName": "Mallory",
    });
    let res = reqwest::Client::new()
        .post(format!("{}/callbacks/daraja/c2b/confirmation", server.base))
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = suspicious(&server);
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "suspicious");
    let reason = listed[0]["last_error"].as_str().unwrap();
    assert!(reason.contains("\"999999\""), "{reason}");
    // The text listing says it too.
    let out = malipo(&server, &["events", "list", "--status", "suspicious"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("suspicious"), "{text}");
    // And it was never recorded as a payment.
    let out = malipo(&server, &["payments", "list", "--format", "json"]);
    if out.status.success() {
        let payments: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert!(!payments.to_string().contains("RKTQDM7W6S"), "{payments}");
    }
}
