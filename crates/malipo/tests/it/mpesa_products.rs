//! `malipo mpesa ratiba`, `b2b-express` and `bill-manager …` against the Daraja simulator: each
//! success prints what matters (and `--format json` parses), Daraja's refusals exit 1 with its
//! words, and an argument Daraja would refuse exits 2 before anything is sent.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use malipo_core::{Currency, Money, Secret};
use malipo_mpesa::{C2bCommand, C2bSimulateRequest, MpesaClient, MpesaSettings};
use malipo_sim::mpesa::{
    Endpoint, Fault, MpesaSim, MpesaSimHandle, SentCallback, SimConfig, SANDBOX_PASSKEY,
};
use serde_json::Value;

use crate::common::{malipo, text};

/// Where the simulator POSTs callbacks: nothing listens there, and the simulator records the
/// attempt all the same.
const HOOK: &str = "http://127.0.0.1:9/hooks";

fn config(dir: &tempfile::TempDir, sim: &MpesaSimHandle) -> String {
    let path = dir.path().join("malipo.toml");
    std::fs::write(
        &path,
        format!(
            "[mpesa]\nbase_url = \"{}\"\nshortcode = \"174379\"\nconsumer_key = \"sim-consumer-key\"\nconsumer_secret = \"sim-consumer-secret\"\npasskey = \"{SANDBOX_PASSKEY}\"\n",
            sim.base_url()
        ),
    )
    .unwrap();
    path.display().to_string()
}

async fn start() -> (MpesaSimHandle, tempfile::TempDir, String) {
    let sim = MpesaSim::start(SimConfig::default().callback_delay(Duration::from_millis(20)))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &sim);
    (sim, dir, config)
}

/// Runs `malipo --config CONFIG mpesa ARGS…` off the runtime's threads (the simulator keeps
/// serving meanwhile); returns the output, stdout and stderr.
async fn mpesa(config: &str, args: &[&str]) -> (Output, String, String) {
    let mut all = vec!["--config".to_string(), config.to_string(), "mpesa".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        malipo(&all, &[], None)
    })
    .await
    .unwrap();
    let (stdout, stderr) = text(&out);
    (out, stdout, stderr)
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The callback the simulator sent to `url`, waiting for it.
async fn callback_to(sim: &MpesaSimHandle, url: &str) -> SentCallback {
    for _ in 0..500 {
        if let Some(c) = sim.sent_callbacks().into_iter().find(|c| c.url == url) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the simulator never called {url} back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratiba_creates_a_standing_order_and_refusals_say_why() {
    let (sim, _dir, config) = start().await;
    let hook = format!("{HOOK}/ratiba");
    // The defaults below, each replaced when `extra` gives the same flag.
    let order = |extra: &[&str]| {
        let defaults = [
            ("--name", "Rent Flat 4B"),
            ("--start", "2027-01-01"),
            ("--end", "2027-12-31"),
            ("--frequency", "monthly"),
            ("--amount", "1500"),
            ("--phone", "0708374149"),
            ("--callback-url", hook.as_str()),
        ];
        let mut args = vec!["ratiba".to_string()];
        for (flag, value) in defaults {
            if !extra.contains(&flag) {
                args.extend([flag.to_string(), value.to_string()]);
            }
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |args: Vec<String>| {
        let config = config.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            mpesa(&config, &args).await
        }
    };

    let (out, stdout, stderr) = run(order(&["--account-reference", "FLAT-4B"])).await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("standing order \"Rent Flat 4B\" sent to 2547****4149 for approval"),
        "{stdout}"
    );
    assert!(stdout.contains("responseRefID:"), "{stdout}");
    assert!(
        stdout.contains("KES 1500.00 monthly from 2027-01-01 to 2027-12-31"),
        "{stdout}"
    );
    let callback = callback_to(&sim, &hook).await;
    assert_eq!(callback.body["responseHeader"]["responseCode"], "0");

    // A till, by its Daraja code for the frequency, as JSON.
    let (out, stdout, stderr) = run(order(&[
        "--till",
        "600100",
        "--frequency",
        "3",
        "--format",
        "json",
    ]))
    .await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let answer = json(&stdout);
    assert_eq!(answer["response_code"], "200");
    assert!(
        answer["response_ref_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{answer}"
    );
    assert_eq!(sim.requests(Endpoint::Ratiba), 2);

    // Arguments Daraja would refuse: nothing is sent, exit 2.
    let (out, _, stderr) = run(order(&["--account-reference", "FLAT-4B", "--end", "2026-12-31"])).await;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid EndDate: 2026-12-31 is not after the start 2027-01-01"),
        "{stderr}"
    );
    let (out, _, stderr) = run(order(&["--account-reference", "FLAT-4B", "--amount", "1500.50"])).await;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("whole number of shillings"), "{stderr}");
    let (out, _, stderr) = run(order(&["--till"])).await;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("mpesa.till_number"), "{stderr}");
    let (out, _, stderr) = run(order(&[])).await;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--account-reference"), "{stderr}");
    assert_eq!(sim.requests(Endpoint::Ratiba), 2);

    // Daraja refusing: exit 1 with its code and message (also as JSON).
    sim.inject_fault(
        Endpoint::Ratiba,
        Fault::bad_request("Invalid Standing Order Name"),
    );
    let (out, stdout, stderr) = run(order(&["--account-reference", "FLAT-4B", "--format", "json"])).await;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("400.002.02 Invalid Standing Order Name"),
        "{stderr}"
    );
    assert_eq!(json(&stdout)["error"]["error_code"], "400.002.02");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2b_express_prompts_the_merchant_till_and_refusals_say_why() {
    let (sim, _dir, config) = start().await;
    let hook = format!("{HOOK}/b2b-express");
    let args = |till: &'static str, amount: &'static str, extra: &[&'static str]| {
        let mut args = vec![
            "b2b-express",
            "--merchant-till",
            till,
            "--amount",
            amount,
            "--payment-reference",
            "PO-2291",
            "--partner-name",
            "Acme Supplies",
            "--callback-url",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        args.push(hook.clone());
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |args: Vec<String>| {
        let config = config.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            mpesa(&config, &args).await
        }
    };

    let (out, stdout, stderr) = run(args("000001", "5000", &["--request-id", "req-2291"])).await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "USSD prompt sent to till 000001 to pay KES 5000.00 to 174379: USSD Initiated Successfully"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("RequestRefID: req-2291"), "{stdout}");
    let callback = callback_to(&sim, &hook).await;
    assert_eq!(callback.body["requestId"], "req-2291");
    assert_eq!(callback.body["status"], "SUCCESS");

    let (out, stdout, stderr) = run(args(
        "000001",
        "71",
        &["--receiver", "600000", "--format", "json"],
    ))
    .await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let answer = json(&stdout);
    assert_eq!(answer["code"], "0");
    assert_eq!(
        answer["request_ref_id"].as_str().map(str::len),
        Some(36),
        "{answer}"
    );

    // A till that is not a number: refused before sending.
    let (out, _, stderr) = run(args("TILL-1", "5000", &[])).await;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid primaryShortCode"), "{stderr}");
    assert_eq!(sim.requests(Endpoint::B2bExpress), 2);

    // Daraja busy: exit 1, and the prompt was not sent twice.
    sim.inject_fault(Endpoint::B2bExpress, Fault::system_busy());
    let (out, _, stderr) = run(args("000001", "5000", &[])).await;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("500.003.02 System is busy"), "{stderr}");
    assert_eq!(sim.requests(Endpoint::B2bExpress), 3);
    sim.shutdown().await;
}

/// Writes `contents` to `name` in `dir`; returns its path.
fn file(dir: &tempfile::TempDir, name: &str, contents: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

const CSV_HEADER: &str = "externalReference,billedFullName,billedPhoneNumber,billedPeriod,invoiceName,dueDate,accountReference,amount,invoiceItems";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bill_manager_from_opt_in_to_acknowledgement() {
    let (sim, dir, config) = start().await;
    let hook = format!("{HOOK}/bill-manager");
    let invoice = |reference: &str, account: &str| -> Vec<String> {
        [
            "bill-manager",
            "invoice",
            "--external-reference",
            reference,
            "--name",
            "Jane Wanjiku",
            "--phone",
            "+254708374149",
            "--period",
            "December 2026",
            "--invoice-name",
            "Water",
            "--due",
            "2026-12-31",
            "--account-reference",
            account,
            "--amount",
            "1500",
            "--item",
            "Water=1000",
            "--item",
            "Sewer=500",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |args: Vec<String>| {
        let config = config.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            mpesa(&config, &args).await
        }
    };
    let strings = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // Before opting in, Bill Manager refuses invoices.
    let (out, _, stderr) = run(invoice("INV-1", "WTR-1")).await;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the shortcode is not opted in to Bill Manager"),
        "{stderr}"
    );

    let opt_in = |command: &str, extra: &[&str]| {
        let email = if extra.contains(&"--email") {
            &[][..]
        } else {
            &["--email", "billing@example.com"][..]
        };
        let mut args = strings(&["bill-manager", command]);
        args.extend(strings(email));
        args.extend(strings(&[
            "--official-contact",
            "0722000000",
            "--send-reminders",
            "--callback-url",
            &hook,
        ]));
        args.extend(strings(extra));
        args
    };
    let (out, stdout, stderr) = run(opt_in("opt-in", &[])).await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("paybill 174379 opted in to Bill Manager: Success"),
        "{stdout}"
    );
    assert!(
        stdout.contains("an app key was issued (pass --show-app-key to print it)"),
        "{stdout}"
    );
    assert!(!stdout.contains("AG_"), "the app key stays hidden: {stdout}");
    let (out, stdout, _) = run(opt_in("opt-in", &["--show-app-key", "--format", "json"])).await;
    assert!(out.status.success());
    let answer = json(&stdout);
    assert_eq!(answer["rescode"], "200");
    assert!(
        answer["app_key"].as_str().is_some_and(|k| k.starts_with("AG_")),
        "{answer}"
    );
    let (out, stdout, stderr) = run(opt_in("update-opt-in", &[])).await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("updated its details at Bill Manager"), "{stdout}");
    let (out, _, stderr) = run(opt_in("opt-in", &["--email", "billing.example.com"])).await;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not an email address"), "{stderr}");

    // One invoice, then bulk ones from JSON and from CSV.
    let (out, stdout, stderr) = run(invoice("INV-1", "WTR-1")).await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("invoice INV-1 sent to 2547****4149 (KES 1500.00, due 2026-12-31): Success: Invoice sent successfully"),
        "{stdout}"
    );
    let invoices_json = file(
        &dir,
        "invoices.json",
        r#"[
  {"externalReference":"INV-2","billedFullName":"John Otieno","billedPhoneNumber":"0712345678","billedPeriod":"December 2026",
   "invoiceName":"Water","dueDate":"2026-12-31","accountReference":"WTR-2","amount":"800"},
  {"externalReference":"INV-3","billedFullName":"Amina Hassan","billedPhoneNumber":254712345679,"billedPeriod":"December 2026",
   "invoiceName":"Water","dueDate":"2026-12-31 00:00:00.00","accountReference":"WTR-3","amount":950,
   "invoiceItems":[{"itemName":"Water","amount":"950"}]}
]"#,
    );
    let (out, stdout, stderr) = run(strings(&[
        "bill-manager",
        "bulk-invoice",
        &invoices_json.display().to_string(),
        "--format",
        "json",
    ]))
    .await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(json(&stdout)["Status_Message"], "Invoice sent successfully");
    let invoices_csv = file(
        &dir,
        "invoices.csv",
        &format!(
            "{CSV_HEADER}\nINV-4,\"Otieno, Peter\",0712345670,December 2026,Water,2026-12-31,WTR-4,700,Water=700\nINV-5,Mary Achieng,0112345671,December 2026,Water,2026-12-31,WTR-5,600,\n"
        ),
    );
    let (out, stdout, stderr) = run(strings(&[
        "bill-manager",
        "bulk-invoice",
        &invoices_csv.display().to_string(),
    ]))
    .await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 invoices sent from"), "{stdout}");
    assert!(stdout.contains("(total KES 1300.00): Success"), "{stdout}");
    // A bad row: nothing is sent, the row is named.
    let requests = sim.requests(Endpoint::BillManager);
    let bad_csv = file(
        &dir,
        "bad.csv",
        &format!("{CSV_HEADER}\nINV-6,A B,0712345670,Dec,Water,2026-12-31,WTR-6,700,\nINV-7,C D,12345,Dec,Water,2026-12-31,WTR-7,700,\n"),
    );
    let (out, _, stderr) = run(strings(&[
        "bill-manager",
        "bulk-invoice",
        &bad_csv.display().to_string(),
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("row 2") && stderr.contains("billedPhoneNumber \"12345\""),
        "{stderr}"
    );
    assert_eq!(sim.requests(Endpoint::BillManager), requests);

    // Cancelling: an unpaid invoice goes; an unknown one is Bill Manager's 404.
    let (out, stdout, stderr) = run(strings(&["bill-manager", "cancel", "INV-2"])).await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("invoice INV-2 cancelled: Success"), "{stdout}");
    let (out, _, stderr) = run(strings(&["bill-manager", "cancel", "INV-2"])).await;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("404") && stderr.contains("no invoice has this external reference"),
        "{stderr}"
    );

    // The customer pays INV-1's account: Bill Manager pushes the payment, and refuses to
    // cancel the paid invoice.
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
            command: C2bCommand::CustomerPayBillOnline,
            amount: Money::from_major(1500, Currency::Kes).unwrap(),
            phone: "0708374149".parse().unwrap(),
            bill_ref_number: Some("WTR-1".into()),
        })
        .await
        .unwrap();
    let push = callback_to(&sim, &hook).await;
    let transaction_id = push.body["transactionId"].as_str().unwrap().to_string();
    let (out, stdout, stderr) = run(strings(&["bill-manager", "cancel", "INV-1", "--format", "json"])).await;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ResponseCode 409: Conflict: partially or fully paid invoices cannot be cancelled."),
        "{stderr}"
    );
    assert!(json(&stdout)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("409"));

    // Several at once: on the command line and from the bulk-invoice CSV.
    let (out, stdout, stderr) = run(strings(&[
        "bill-manager",
        "bulk-cancel",
        "INV-3",
        "--file",
        &invoices_csv.display().to_string(),
    ]))
    .await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("3 invoices cancelled (INV-3, INV-4, INV-5): Success"),
        "{stdout}"
    );
    let (out, _, stderr) = run(strings(&["bill-manager", "bulk-cancel", "INV-1"])).await;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot be cancelled"), "{stderr}");

    // The paid invoice is acknowledged, so the customer gets an e-receipt.
    let acknowledge = |id: &str| {
        strings(&[
            "bill-manager",
            "acknowledge",
            "--transaction-id",
            id,
            "--amount",
            "1500",
            "--paid-on",
            "2026-12-04",
            "--account-reference",
            "WTR-1",
            "--phone",
            "0708374149",
            "--name",
            "Jane Wanjiku",
            "--invoice-name",
            "Water",
            "--external-reference",
            "INV-1",
        ])
    };
    let (out, stdout, stderr) = run(acknowledge(&transaction_id)).await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "payment {transaction_id} (KES 1500.00 on 2026-12-04) acknowledged for invoice INV-1: Success"
        )),
        "{stdout}"
    );
    let (out, _, stderr) = run(acknowledge("RJB-53")).await;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid transactionId"), "{stderr}");
    sim.shutdown().await;
}
