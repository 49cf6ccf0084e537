//! `malipo check-config`: a FAIL line per unsafe setting, exit codes 0 / 1 / 2.

use std::path::Path;

use crate::common::{make_cert, malipo, text};

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

fn credential(cert: &Path) -> String {
    let out = malipo(
        &[
            "security-credential",
            "--cert",
            cert.to_str().unwrap(),
            "--password-env",
            "PW",
        ],
        &[("PW", "initiator-pass")],
        None,
    );
    assert!(out.status.success());
    text(&out).0.trim().to_string()
}

/// A production configuration with every checklist item right.
fn good_production(dir: &Path) -> (String, Vec<(&'static str, String)>) {
    let (_, cert, _) = make_cert(dir, "prod", "api.safaricom.co.ke");
    let cred = credential(&cert);
    let config = format!(
        r#"
environment = "production"
[server]
public_base_url = "https://pay.shop.example"
[database]
url = "sqlite://{db}"
[mpesa]
shortcode = "600999"
consumer_key = {{ env = "T_MPESA_KEY" }}
consumer_secret = {{ env = "T_MPESA_SECRET" }}
passkey = {{ file = "{passkey}" }}
initiator_name = "apiop"
security_credential = {{ env = "T_MPESA_CRED" }}
certificate = "{cert}"
[paystack]
secret_key = {{ env = "T_PAYSTACK_KEY" }}
[merchant]
webhook_url = "https://shop.example/hooks/malipo"
signing_secret = {{ env = "T_WHSEC" }}
"#,
        db = dir.join("malipo.db").display(),
        passkey = write(dir, "passkey", "fake-passkey\n"),
        cert = cert.display(),
    );
    let env = vec![
        ("T_MPESA_KEY", "fake-key".to_string()),
        ("T_MPESA_SECRET", "fake-secret".to_string()),
        ("T_MPESA_CRED", cred),
        ("T_PAYSTACK_KEY", "sk_live_fake_for_tests".to_string()),
        ("T_WHSEC", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string()),
    ];
    (config, env)
}

fn run_check(dir: &Path, config: &str, env: &[(&str, String)], extra: &[&str]) -> (Option<i32>, String) {
    let path = write(dir, "malipo.toml", config);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec!["check-config", "--config", &path];
    args.extend_from_slice(extra);
    let out = malipo(&args, &env, None);
    let (stdout, stderr) = text(&out);
    (out.status.code(), format!("{stdout}{stderr}"))
}

#[test]
fn a_good_production_config_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (config, env) = good_production(dir.path());
    let (code, out) = run_check(dir.path(), &config, &env, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("[FAIL]"), "{out}");
    assert!(out.contains("[PASS] callback-urls-https"), "{out}");
    assert!(out.contains("[PASS] security-credential-is-ciphertext"), "{out}");
    assert!(out.contains("[PASS] certificate-matches-environment"), "{out}");
    assert!(out.contains("[PASS] database-writable"), "{out}");
    assert!(out.contains("[PASS] rate-limit-configured"), "{out}");
}

#[test]
fn http_callback_literal_secret_and_plaintext_credential_each_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (config, mut env) = good_production(dir.path());
    let config = config
        .replace("https://pay.shop.example", "http://pay.shop.example")
        .replace(
            "secret_key = { env = \"T_PAYSTACK_KEY\" }",
            "secret_key = \"sk_live_written_in_the_file\"",
        );
    env.retain(|(k, _)| *k != "T_MPESA_CRED");
    env.push(("T_MPESA_CRED", "initiator-pass".to_string()));
    let (code, out) = run_check(dir.path(), &config, &env, &[]);
    assert_eq!(code, Some(1), "{out}");
    let fail_lines: Vec<&str> = out.lines().filter(|l| l.starts_with("[FAIL]")).collect();
    assert!(
        fail_lines
            .iter()
            .any(|l| l.contains("callback-urls-https") && l.contains("http://")),
        "{out}"
    );
    assert!(
        fail_lines
            .iter()
            .any(|l| l.contains("no-literal-secrets") && l.contains("paystack.secret_key")),
        "{out}"
    );
    assert!(
        fail_lines
            .iter()
            .any(|l| l.contains("security-credential-is-ciphertext")),
        "{out}"
    );
    assert_eq!(fail_lines.len(), 3, "{out}");
    // The literal secret itself is never echoed.
    assert!(!out.contains("sk_live_written_in_the_file"), "{out}");
    assert!(!out.contains("initiator-pass"), "{out}");
}

#[test]
fn each_checklist_item_has_its_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (config, env) = good_production(dir.path());
    let (_, sandbox_cert, _) = make_cert(dir.path(), "sb", "apisandbox.safaricom.co.ke");
    type Case<'a> = (&'a str, String, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        (
            "callback-source-ip-verification",
            config.replace(
                "initiator_name",
                "verify_callback_source_ip = false\ninitiator_name",
            ),
            env.clone(),
        ),
        (
            "secret-references-resolve",
            config.clone(),
            env.iter().filter(|(k, _)| *k != "T_MPESA_KEY").cloned().collect(),
        ),
        (
            "certificate-matches-environment",
            config.replace(
                &format!("certificate = \"{}", dir.path().join("prod-cert.pem").display()),
                &format!("certificate = \"{}", sandbox_cert.display()),
            ),
            env.clone(),
        ),
        (
            "debug-logging-off",
            format!("{config}\n[logging]\nlevel = \"debug\"\n"),
            env.clone(),
        ),
        (
            "database-writable",
            config.replace(
                &dir.path().join("malipo.db").display().to_string(),
                "/nonexistent-dir/malipo.db",
            ),
            env.clone(),
        ),
        (
            "paystack-key-matches-environment",
            config.clone(),
            env.iter()
                .map(|(k, v)| {
                    (
                        *k,
                        if *k == "T_PAYSTACK_KEY" {
                            "sk_test_fake".to_string()
                        } else {
                            v.clone()
                        },
                    )
                })
                .collect(),
        ),
        (
            "rate-limit-configured",
            config.replace(
                "initiator_name",
                "rate_limit = { per_second = 0, burst = 0 }\ninitiator_name",
            ),
            env.clone(),
        ),
        (
            "no-literal-secrets",
            config.replace(
                "consumer_key = { env = \"T_MPESA_KEY\" }",
                "consumer_key = \"ck-written-in-file\"",
            ),
            env.clone(),
        ),
        (
            "secret-references-resolve",
            config.replace(
                "consumer_key = { env = \"T_MPESA_KEY\" }",
                "consumer_key = { command = [\"sh\", \"-c\", \"exit 4\"] }",
            ),
            env.clone(),
        ),
        (
            "allowlists-parse",
            config.replace("initiator_name", "callback_ips = []\ninitiator_name"),
            env.clone(),
        ),
    ];
    for (rule, config, env) in cases {
        let (code, out) = run_check(dir.path(), &config, &env, &[]);
        assert_eq!(code, Some(1), "{rule}: {out}");
        assert!(
            out.lines().any(|l| l.starts_with(&format!("[FAIL] {rule}"))),
            "{rule} did not fail:\n{out}"
        );
    }
}

#[test]
fn json_output_and_fail_fast() {
    let dir = tempfile::tempdir().unwrap();
    let (config, env) = good_production(dir.path());
    let bad = config.replace("https://pay.shop.example", "http://pay.shop.example");
    let (code, out) = run_check(dir.path(), &bad, &env, &["--format", "json"]);
    assert_eq!(code, Some(1));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["summary"]["fail"], 1);
    let first = &doc["results"][0];
    assert_eq!(first["rule"], "callback-urls-https");
    assert_eq!(first["level"], "FAIL");
    assert!(first["fix"].as_str().unwrap().contains("https"));

    let (code, out) = run_check(dir.path(), &bad, &env, &["--fail-fast"]);
    assert_eq!(code, Some(1));
    assert_eq!(out.lines().filter(|l| l.starts_with('[')).count(), 1, "{out}");
}

#[test]
fn unreadable_config_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run_check(dir.path(), "[server\n", &[], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("not valid TOML"), "{out}");
    let (code, out) = run_check(dir.path(), "[server]\nbnid = 1\n", &[], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("server.bnid"), "{out}");
    let out = malipo(
        &["check-config", "--config", "/nonexistent/malipo.toml"],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("malipo init"), "{}", text(&out).1);
}

#[test]
fn init_writes_a_sample_that_checks_in_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("malipo.toml");
    let out = malipo(&["init", path.to_str().unwrap()], &[], None);
    assert!(out.status.success(), "{}", text(&out).1);
    let again = malipo(&["init", path.to_str().unwrap()], &[], None);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).1.contains("--force"));
    let sample = std::fs::read_to_string(&path).unwrap().replace(
        "sqlite://malipo.db",
        &format!("sqlite://{}", dir.path().join("m.db").display()),
    );
    let env = [
        ("MPESA_CONSUMER_KEY", "k".to_string()),
        ("MPESA_CONSUMER_SECRET", "s".to_string()),
        ("MPESA_PASSKEY", "p".to_string()),
        ("PAYSTACK_SECRET_KEY", "sk_test_x".to_string()),
    ];
    let (code, out) = run_check(dir.path(), &sample, &env, &[]);
    assert_eq!(code, Some(0), "{out}");
}

/// `malipo serve` with `config` in a fresh directory (and extra arguments); it must refuse to
/// start, so the call returns.
fn serve_refused(config: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("malipo.toml");
    let db = dir.path().join("m.db");
    std::fs::write(
        &path,
        format!("{config}\n[database]\nurl = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let mut args = vec![
        "serve",
        "--config",
        path.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let out = malipo(&args, &[], None);
    let (stdout, stderr) = text(&out);
    let all = format!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(1), "serve must refuse: {all}");
    assert!(!db.exists(), "nothing is created before the refusal");
    all
}

/// Regression: the start-up gate looked at the top-level environment only, so an `[mpesa]`
/// section in production with its source checks off started anyway.
#[test]
fn serve_refuses_an_mpesa_section_in_production_whatever_the_top_level_says() {
    let out = serve_refused(
        "environment = \"sandbox\"\n[mpesa]\nenvironment = \"production\"\nshortcode = \"600999\"\nconsumer_key = \"k\"\nconsumer_secret = \"s\"\npasskey = \"p\"\nverify_callback_source_ip = false\n",
        &[],
    );
    assert!(out.contains("refusing to start in production"), "{out}");
    assert!(out.contains("callback-source-ip-verification"), "{out}");
}

/// Regression: `--log debug` started in production while `MALIPO_LOG=debug` was refused.
#[test]
fn serve_refuses_debug_logs_from_the_command_line_in_production() {
    let out = serve_refused("environment = \"production\"\n", &["--log", "debug"]);
    assert!(out.contains("--log is \"debug\" in production"), "{out}");
}

/// Regression: the checklist judged the config's addresses, not the flags', so
/// `--ops-bind 0.0.0.0:…` put `/metrics` beyond loopback in production without a FAIL.
#[test]
fn serve_judges_the_listener_flags_as_it_would_the_config() {
    let out = serve_refused("environment = \"production\"\n", &["--ops-bind", "0.0.0.0:47999"]);
    assert!(
        out.contains(
            "[FAIL] ops-listener-private: /metrics and /readyz listen on 0.0.0.0:47999, beyond loopback"
        ),
        "{out}"
    );
    let out = serve_refused(
        "environment = \"production\"\n",
        &["--api-bind", "127.0.0.1:9090"],
    );
    assert!(
        out.contains("[FAIL] ops-listener-private: ops.bind 127.0.0.1:9090 is another listener's address"),
        "{out}"
    );
}

/// Regression: a listing silently stopped at the store's page size whatever `--limit` said.
/// Listings either read every page (`events list`) or refuse a limit above one page and point
/// at `--before`.
#[test]
fn listings_never_cut_silently() {
    for command in [["payments", "list"], ["deliveries", "list"]] {
        let out = malipo(&[command[0], command[1], "--limit", "5000"], &[], None);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(stderr.contains("1..=1000"), "{command:?}: {stderr}");
        let help = text(&malipo(&[command[0], command[1], "--help"], &[], None)).0;
        assert!(help.contains("--before"), "{command:?}: {help}");
    }
}

#[test]
fn the_merchant_api_must_not_share_the_callback_listener() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run_check(
        dir.path(),
        "[server]\nbind = \"0.0.0.0:8080\"\n[api]\nbind = \"0.0.0.0:8080\"\n",
        &[],
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("[FAIL] api-listener-private"), "{out}");
    let (_, out) = run_check(dir.path(), "", &[], &[]);
    assert!(out.contains("[PASS] api-listener-private"), "{out}");
}

/// Regression: `malipo events list … | head -1` panicked ("failed printing to stdout: Broken
/// pipe", exit 101). A reader that closes the pipe early ends the command quietly.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "malipo.toml", "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["check-config", "--config", &path])
        .env_remove("MALIPO_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before a line is read, as `head` does after its first line.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn c2b_validation_is_checked_like_the_delivery_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (config, env) = good_production(dir.path());
    let with = |table: &str| {
        config.replace(
            "[paystack]",
            &format!("[mpesa.c2b_validation]\n{table}\n[paystack]"),
        )
    };
    let (code, out) = run_check(
        dir.path(),
        &with("url = \"https://shop.example/hooks/validate\""),
        &env,
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("[PASS] c2b-validation: C2B validations are decided by https://shop.example/hooks/validate (fallback: accept after 3000 ms)"),
        "{out}"
    );
    let (code, out) = run_check(
        dir.path(),
        &with("url = \"http://10.0.0.7/validate\"\nallow_private_target = true\ntimeout = \"20s\"\nsigning_secret = \"not-a-whsec\""),
        &env,
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    for expected in [
        "[FAIL] c2b-validation: mpesa.c2b_validation.url http://10.0.0.7/validate is not https",
        "[FAIL] c2b-validation: mpesa.c2b_validation.allow_private_target is true in production",
        "[WARN] c2b-validation: mpesa.c2b_validation.timeout is 20000 ms",
        "[FAIL] c2b-validation: mpesa.c2b_validation.signing_secret is not a Standard Webhooks secret",
    ] {
        assert!(out.contains(expected), "{expected}\n{out}");
    }
    // A literal secret is refused in production like every other.
    assert!(out.contains("mpesa.c2b_validation.signing_secret"), "{out}");
}

#[test]
fn every_account_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (config, mut env) = good_production(dir.path());
    let config = config
        .replace(
            "[paystack]\nsecret_key = { env = \"T_PAYSTACK_KEY\" }",
            "[paystack]\nsecret_key = { env = \"T_PAYSTACK_KEY\" }\n[paystack.accounts.ghana]\nsecret_key = { env = \"T_GH_KEY\" }",
        )
        .replace(
            "[paystack]",
            "[mpesa.accounts.nairobi]\nshortcode = \"600111\"\nconsumer_key = \"literal-key\"\nconsumer_secret = { env = \"T_NBO_SECRET\" }\npasskey = { env = \"T_NBO_PASSKEY\" }\n[paystack]",
        );
    env.push(("T_GH_KEY", "sk_test_ghana_fake".to_string()));
    env.push(("T_NBO_PASSKEY", "fake-passkey".to_string()));
    let (code, out) = run_check(dir.path(), &config, &env, &[]);
    assert_eq!(code, Some(1), "{out}");
    for expected in [
        "[FAIL] paystack-key-matches-environment: paystack.accounts.ghana.secret_key is a Paystack test key (sk_test_…) in production",
        "[PASS] paystack-key-matches-environment: paystack.secret_key matches the environment",
        "[FAIL] no-literal-secrets: mpesa.accounts.nairobi.consumer_key is written in the config file",
        "[FAIL] secret-references-resolve: mpesa.accounts.nairobi.consumer_secret",
        "[PASS] secret-references-resolve: mpesa.accounts.nairobi.passkey",
    ] {
        assert!(out.contains(expected), "{expected}\n{out}");
    }
}

#[test]
fn the_ops_listener_must_stay_on_loopback_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let (config, env) = good_production(dir.path());
    let (_, out) = run_check(dir.path(), &config, &env, &[]);
    assert!(
        out.contains(
            "[PASS] ops-listener-private: /metrics, /healthz and /readyz listen on 127.0.0.1:9090 (loopback)"
        ),
        "{out}"
    );
    let open = format!("{config}\n[ops]\nbind = \"0.0.0.0:9090\"\n");
    let (code, out) = run_check(dir.path(), &open, &env, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("[FAIL] ops-listener-private: /metrics and /readyz listen on 0.0.0.0:9090, beyond loopback, with no login"), "{out}");
    let clash = format!("{config}\n[ops]\nbind = \"127.0.0.1:8081\"\n");
    let (_, out) = run_check(dir.path(), &clash, &env, &[]);
    assert!(
        out.contains("[FAIL] ops-listener-private: ops.bind 127.0.0.1:8081 is another listener's address"),
        "{out}"
    );
}

/// Regression: check-config passed a text file as the database ("is writable") and a deleted
/// database whose marker remained ("will be created"), both of which `serve` then refused.
#[test]
fn the_database_check_refuses_what_serve_would() {
    let dir = tempfile::tempdir().unwrap();
    let with_db = |name: &str| {
        format!(
            "[database]\nurl = \"sqlite://{}\"\n",
            dir.path().join(name).display()
        )
    };
    std::fs::write(dir.path().join("notes.db"), "not a database\n").unwrap();
    let (code, out) = run_check(dir.path(), &with_db("notes.db"), &[], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("notes.db is not a SQLite database"), "{out}");

    // `malipo migrate` makes a database and leaves its marker, as `serve` does.
    let config = write(dir.path(), "m.toml", &with_db("gone.db"));
    let out = malipo(&["migrate", "--config", &config], &[], None);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(dir.path().join("gone.db.created").exists());
    let (code, out) = run_check(dir.path(), &with_db("gone.db"), &[], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("[PASS] database-writable: SQLite database"), "{out}");
    std::fs::remove_file(dir.path().join("gone.db")).unwrap();
    let (code, out) = run_check(dir.path(), &with_db("gone.db"), &[], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("says one was created there"), "{out}");

    let (code, out) = run_check(dir.path(), &with_db("no-such-dir/m.db"), &[], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("no-such-dir does not exist"), "{out}");
}
