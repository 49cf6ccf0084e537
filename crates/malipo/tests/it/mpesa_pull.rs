//! `malipo mpesa pull` and `pull-register` against the Daraja simulator: a C2B payment whose
//! confirmation never reached malipo is stored once, the summary says so (text and JSON), and
//! Daraja's refusal of the shortcode is an exit-1 error saying what to do.

use std::path::PathBuf;
use std::time::Duration;

use malipo_core::{Currency, Money, Secret};
use malipo_mpesa::{C2bCommand, C2bSimulateRequest, MpesaClient, MpesaSettings};
use malipo_sim::mpesa::{MpesaSim, MpesaSimHandle, SimConfig, SANDBOX_PASSKEY};

use crate::common::{malipo, text};

fn config(dir: &tempfile::TempDir, sim: &MpesaSimHandle) -> PathBuf {
    let path = dir.path().join("malipo.toml");
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = \"sqlite://{db}\"\n[mpesa]\nbase_url = \"{base}\"\nshortcode = \"174379\"\nconsumer_key = \"sim-consumer-key\"\nconsumer_secret = \"sim-consumer-secret\"\npasskey = \"{SANDBOX_PASSKEY}\"\n",
            db = dir.path().join("malipo.db").display(),
            base = sim.base_url(),
        ),
    )
    .unwrap();
    path
}

/// A customer pays the paybill with no C2B URL registered: the payment completes, and no
/// confirmation is sent anywhere. Returns its TransID.
async fn unannounced_payment(sim: &MpesaSimHandle) -> String {
    let c = sim.config();
    let client = MpesaClient::new(MpesaSettings::new(
        sim.base_url(),
        Secret::new(c.consumer_key.clone()),
        Secret::new(c.consumer_secret.clone()),
        Secret::new(c.passkey.clone()),
        c.shortcode.clone(),
    ))
    .unwrap();
    client
        .simulate_c2b(&C2bSimulateRequest {
            shortcode: None,
            command: C2bCommand::CustomerBuyGoodsOnline,
            amount: Money::from_major(75, Currency::Kes).unwrap(),
            phone: "0708374149".parse().unwrap(),
            bill_ref_number: None,
        })
        .await
        .unwrap();
    for _ in 0..500 {
        if let Some(t) = sim.c2b_transactions().first() {
            return t.trans_id.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the simulator never completed the payment");
}

/// Runs the binary off the runtime's threads (the simulator keeps serving meanwhile).
async fn run(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        malipo(&args, &[], None)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_stores_a_lost_confirmation_once_and_summarises_what_it_did() {
    let sim = MpesaSim::start(SimConfig::default().callback_delay(Duration::from_millis(20)))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &sim).display().to_string();
    let trans_id = unannounced_payment(&sim).await;

    let pull = |extra: &[&str]| {
        let mut args: Vec<String> = ["--config", &config, "mpesa", "pull", "--since", "1h"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        run(args)
    };
    let out = pull(&["--json"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["recorded"], serde_json::json!([trans_id]), "{stdout}");
    assert_eq!(summary["found"], 1);
    assert_eq!(summary["shortcode"], "174379");

    // Again, as text: found, known already, nothing new stored.
    let out = pull(&[]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("already known to malipo: 1"), "{stdout}");
    assert!(stdout.contains("nothing new"), "{stdout}");

    // The stored event is the confirmation that never came, under a confirmation's key.
    let out = run(vec![
        "--config".into(),
        config.clone(),
        "events".into(),
        "list".into(),
        "--format".into(),
        "json".into(),
    ])
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout
            .matches(&format!("c2b_confirmation:174379:{trans_id}"))
            .count(),
        1,
        "{stdout}"
    );

    sim.refuse_pull_for("174379");
    let out = pull(&[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("does not let shortcode 174379 pull")
            && stderr.contains("apisupport@safaricom.co.ke"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_account_or_a_bad_window_is_a_usage_error() {
    let sim = MpesaSim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &sim).display().to_string();
    let out = run(["--config", &config, "mpesa", "pull", "--account", "nowhere"]
        .iter()
        .map(|s| s.to_string())
        .collect())
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("[mpesa.accounts.nowhere]"), "{stderr}");
    let out = run(["--config", &config, "mpesa", "pull", "--since", "yesterday"]
        .iter()
        .map(|s| s.to_string())
        .collect())
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("neither an age"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_register_registers_once_then_says_it_was_already() {
    let sim = MpesaSim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &sim).display().to_string();
    let register = || {
        run([
            "--config",
            &config,
            "mpesa",
            "pull-register",
            "--nominated-number",
            "0722000000",
            "--callback-url",
            "https://shop.example.com/hooks/pull",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect())
    };
    let out = register().await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("shortcode 174379 registered"), "{stdout}");
    let out = register().await;
    let (stdout, _) = text(&out);
    assert!(stdout.contains("already registered"), "{stdout}");
}
