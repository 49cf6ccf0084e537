//! `malipo demo` runs the whole flow with the simulators and passes: it is the README's first
//! command and doubles as a smoke test of the build.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `malipo demo ARGS` in `cwd`, with no configuration or log settings inherited.
fn demo(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_malipo"))
        .current_dir(cwd)
        .arg("demo")
        .args(args)
        .env_remove("MALIPO_CONFIG")
        .env_remove("MALIPO_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("the malipo binary runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_demo_passes_and_says_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    for line in [
        "M-Pesa: four STK pushes",
        "Paystack: a checkout",
        "a customer pays the paybill from the phone's menu (C2B",
        "Forgeries: each must be refused",
        "-> HTTP 401 signature_mismatch",
        "-> HTTP 404 unknown_callback_token",
        "-> HTTP 403 source_not_allowed",
        "recognised by its dedup key, not stored again",
        "demo passed: 6 payments, 7 events stored, 3 forgeries refused",
        "Your app: what malipo sent it (Standard Webhooks, verified by the app)",
        "dashboard  http://127.0.0.1:",
        "account CLOSED-17 -> answered {\"accept\":false,\"reason\":\"invalid_account\"}",
        "validation rejected (invalid_account, C2B00012) by the merchant's app",
        "Reconciliation: the push whose callback never came",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("[FAIL]"), "{stdout}");
    // The forgeries the demo provokes are told by the demo, not by the guard's log lines
    // interleaved with it.
    assert!(!stderr.contains("inbound callback refused"), "{stderr}");
    // Every delivery the app got verified; the closed account's payment never happened.
    assert!(!stdout.contains("FORGED"), "{stdout}");

    // The payments table: one row per payment, customers masked.
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != "Payments")
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(table.len(), 6, "{stdout}");
    for (row, (provider, state)) in table.iter().zip([
        ("mpesa", "succeeded"),
        ("mpesa", "cancelled"),
        ("mpesa", "failed"),
        ("mpesa", "succeeded"),
        ("mpesa", "succeeded"),
        ("paystack", "succeeded"),
    ]) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.get(1..3), Some(&[provider, state][..]), "{row}");
    }
    // The push whose callback never came was settled by the reconciler's STK query.
    assert!(table[3].contains("settled by query"), "{stdout}");
    assert!(stdout.contains("2547****4149"), "{stdout}");
    assert!(
        !stdout.contains("254708374149"),
        "a full phone number was printed:\n{stdout}"
    );
    assert!(
        !stdout.contains("wanjiru@"),
        "a full email was printed:\n{stdout}"
    );

    // Nothing left behind without --keep.
    assert!(!dir.path().join("target").exists());
}

#[test]
fn the_json_summary_is_one_document_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &["--format", "json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is one JSON document");
    assert_eq!(summary["passed"], true);
    assert_eq!(summary["payments"].as_array().map(Vec::len), Some(6));
    let silent = &summary["payments"][3];
    assert_eq!(silent["state"], "succeeded", "{stdout}");
    assert_eq!(silent["settled_by"], "query", "{stdout}");
    assert_eq!(summary["events_stored"], 7);
    assert_eq!(summary["duplicates_acknowledged"], 1);
    let checks = summary["checks"].as_array().expect("checks");
    assert!(checks.iter().all(|c| c["passed"] == true), "{stdout}");
    let refused: u64 = summary["guard_rejections"]
        .as_array()
        .expect("rejections")
        .iter()
        .filter_map(|r| r["count"].as_u64())
        .sum();
    assert_eq!(refused, 3);
}

#[test]
fn keep_leaves_a_database_the_operator_commands_can_read() {
    let dir = tempfile::tempdir().unwrap();
    // A configuration given by mistake is ignored, with a note: the demo never touches it.
    let out = demo(dir.path(), &["--keep", "--config", "/nonexistent/malipo.toml"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("the demo ignores the configuration"), "{stderr}");
    let kept = dir.path().join("target/malipo-demo");
    assert!(kept.join("demo.db").exists());
    assert!(stdout.contains("malipo events list --config"), "{stdout}");

    let list = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--log", "warn", "events", "list", "--config"])
        .arg(kept.join("malipo.toml"))
        .env_remove("MALIPO_CONFIG")
        .output()
        .unwrap();
    let (listed, err) = text(&list);
    assert!(list.status.success(), "{listed}\n{err}");
    assert!(listed.contains("charge.success"), "{listed}");
    assert_eq!(listed.matches("stk_callback").count(), 3, "{listed}");
    assert!(listed.contains("c2b_confirmation"), "{listed}");

    // A second run replaces the first one's files instead of adding to them.
    let again = demo(dir.path(), &["--keep"]);
    let (stdout, stderr) = text(&again);
    assert!(again.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("demo passed: 6 payments, 7 events stored"),
        "{stdout}"
    );
}
