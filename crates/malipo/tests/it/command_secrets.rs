//! `{ command = [...] }` secrets with the real server over HTTP: the value is used, a slow or
//! failing program stops the start with a clear error, and the secret never reaches the logs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use malipo_core::Secret;

const SECRET: &str = "sk_test_from_the_vault_5f2c9a";

fn config(dir: &std::path::Path, command: &str) -> std::path::PathBuf {
    let path = dir.join("malipo.toml");
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[paystack]\nsecret_key = {{ command = {command}, timeout_secs = 2 }}\nwebhook_ips = [\"127.0.0.0/8\"]\n",
            dir.join("c.db").display()
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_output_verifies_webhooks_and_never_reaches_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    // A stand-in for a secrets manager's client: a script printing the key with a newline.
    let vault = dir.path().join("fake-vault");
    std::fs::write(&vault, format!("#!/bin/sh\necho {SECRET}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&vault, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cfg = config(dir.path(), &format!("[\"{}\", \"kv\", \"get\"]", vault.display()));
    let mut server = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args([
            "--log",
            "trace",
            "--log-format",
            "json",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("server started")
        .to_string();

    let body =
        br#"{"event":"charge.success","data":{"id":1,"reference":"r1","amount":100,"currency":"NGN"}}"#;
    let client = reqwest::Client::new();
    let good = malipo_paystack::sign(body, &Secret::new(SECRET.to_string()));
    let res = client
        .post(format!("{base}/webhooks/paystack"))
        .header("x-paystack-signature", good)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the command's output (newline trimmed) is the signing key"
    );
    let with_newline = malipo_paystack::sign(body, &Secret::new(format!("{SECRET}\n")));
    let res = client
        .post(format!("{base}/webhooks/paystack"))
        .header("x-paystack-signature", with_newline)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    server.kill().unwrap();
    server.wait().unwrap();
    let mut logs = String::new();
    server.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.contains("malipo is listening"), "{logs}");
    assert!(!logs.contains(SECRET), "the secret reached the logs:\n{logs}");
}

#[test]
fn a_hanging_or_failing_secrets_program_stops_the_start_clearly() {
    let dir = tempfile::tempdir().unwrap();
    for (command, expect) in [
        ("[\"sleep\", \"30\"]", "did not finish within 2s"),
        (
            "[\"sh\", \"-c\", \"echo sk_test_partial_output; exit 7\"]",
            "exited with status 7",
        ),
    ] {
        let cfg = config(dir.path(), command);
        let started = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_malipo"))
            .args(["serve", "--bind", "127.0.0.1:0", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(started.elapsed().as_secs() < 20, "bounded by the timeout");
        // 2: the configuration cannot be used, said before anything is created.
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{stderr}");
        assert!(stderr.contains("paystack.secret_key"), "{stderr}");
        assert!(!stderr.contains("sk_test_partial_output"), "{stderr}");
    }
}
