//! A new user's first hour: the shipped configurations against the simulators, exit codes and
//! messages of the first commands tried, and what the help offers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use malipo_sim::mpesa::{MpesaSim, SimConfig as DarajaConfig};
use malipo_sim::paystack::{PaystackSim, SimConfig as PaystackConfig};

use crate::common::{malipo, text};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .canonicalize()
        .unwrap()
}

/// Runs `malipo` in `dir` (relative paths in the configuration resolve there).
fn malipo_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_malipo"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("MALIPO_") || key.starts_with("MPESA_") || key.starts_with("PAYSTACK_") {
            cmd.env_remove(key);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// A work directory with the `target/` the examples keep their database in.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("target")).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_configs_work_against_the_simulators_as_their_comments_say() {
    // The simulators as `malipo sim` starts them (default credentials), on free ports: the
    // files' 9001/9002 are overridden from the environment, the credentials are the files'.
    let daraja = MpesaSim::start(DarajaConfig::default()).await.unwrap();
    let paystack = PaystackSim::start(PaystackConfig::default()).await.unwrap();
    let env = [
        ("MALIPO_MPESA__BASE_URL", daraja.base_url().to_string()),
        ("MALIPO_PAYSTACK__BASE_URL", paystack.base_url().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for name in ["sandbox.toml", "local.toml"] {
        let config = example(name);
        let config = config.to_str().unwrap();
        let dir = workdir();
        let token = tokio::task::block_in_place(|| {
            malipo_in(dir.path(), &["mpesa", "token", "--config", config], &env)
        });
        let (stdout, stderr) = text(&token);
        assert!(token.status.success(), "{name}: mpesa token: {stdout}{stderr}");
        assert!(stdout.contains("access token obtained"), "{name}: {stdout}");
        let init = tokio::task::block_in_place(|| {
            malipo_in(
                dir.path(),
                &[
                    "paystack",
                    "init",
                    "--config",
                    config,
                    "--email",
                    "a@example.com",
                    "--amount",
                    "10",
                ],
                &env,
            )
        });
        let (stdout, stderr) = text(&init);
        assert!(init.status.success(), "{name}: paystack init: {stdout}{stderr}");
        assert!(stdout.contains("authorization url"), "{name}: {stdout}");
        let check = malipo_in(dir.path(), &["check-config", "--config", config], &[]);
        let (stdout, _) = text(&check);
        assert_eq!(check.status.code(), Some(0), "{name}: {stdout}");
    }
    assert_eq!(daraja.token_requests(), 2);
    daraja.shutdown().await;
    paystack.shutdown().await;
}

#[test]
fn the_simulators_listen_where_the_examples_point() {
    for (which, port) in [("mpesa", "9001"), ("paystack", "9002")] {
        let out = malipo(&["sim", which, "--help"], &[], None);
        let help = text(&out).0;
        assert!(help.contains(&format!("[default: {port}]")), "{help}");
        for name in ["sandbox.toml", "local.toml"] {
            let config = std::fs::read_to_string(example(name)).unwrap();
            assert!(config.contains(&format!("http://127.0.0.1:{port}")), "{name}");
        }
    }
}

#[test]
fn loopback_callbacks_are_allowed_in_sandbox_only() {
    let dir = workdir();
    let config = example("local.toml");
    let config = config.to_str().unwrap();
    let out = malipo_in(dir.path(), &["check-config", "--config", config], &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("[WARN] allowlists-parse: mpesa.callback_ips accepts callbacks from loopback"),
        "{stdout}"
    );
    let out = malipo_in(
        dir.path(),
        &["check-config", "--config", config],
        &[("MALIPO_ENVIRONMENT", "production")],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for key in ["mpesa.callback_ips", "paystack.webhook_ips"] {
        assert!(
            stdout.contains(&format!(
                "[FAIL] allowlists-parse: {key} accepts callbacks from this machine"
            )),
            "{key}: {stdout}"
        );
    }
    // And serve refuses to start with it in production.
    let out = malipo_in(
        dir.path(),
        &["serve", "--bind", "127.0.0.1:0", "--config", config],
        &[("MALIPO_ENVIRONMENT", "production")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("refusing to start in production"));
}

#[test]
fn a_missing_config_is_exit_2_everywhere_and_said_once() {
    let dir = workdir();
    for args in [
        &["check-config"][..],
        &["serve"],
        &["events", "list"],
        &["payments", "list"],
        &["mpesa", "token"],
        &["paystack", "verify", "x"],
        &["migrate"],
    ] {
        let mut line = args.to_vec();
        line.extend(["--config", "nope.toml"]);
        let out = malipo_in(dir.path(), &line, &[]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.matches("os error 2").count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("nope.toml"), "{args:?}: {stderr}");
    }
}

#[test]
fn serve_names_the_secrets_to_set_before_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let out = malipo_in(dir.path(), &["init"], &[]);
    assert!(out.status.success());
    let said = text(&out).0;
    assert!(
        said.contains("MPESA_CONSUMER_KEY, MPESA_CONSUMER_SECRET, MPESA_PASSKEY, PAYSTACK_SECRET_KEY"),
        "{said}"
    );
    let sample = std::fs::read_to_string(dir.path().join("malipo.toml")).unwrap();
    // Both databases this build runs on are offered, SQLite by default.
    assert!(sample.contains("url = \"sqlite://malipo.db\""), "{sample}");
    assert!(sample.contains("postgres://"), "{sample}");

    let out = malipo_in(dir.path(), &["serve", "--bind", "127.0.0.1:0"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    for var in [
        "MPESA_CONSUMER_KEY",
        "MPESA_CONSUMER_SECRET",
        "MPESA_PASSKEY",
        "PAYSTACK_SECRET_KEY",
    ] {
        assert!(stderr.contains(var), "{var} not named: {stderr}");
    }
    assert!(!stderr.contains("starting despite"), "{stderr}");
    assert!(!stderr.contains("[FAIL]"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["malipo.toml"], "serve created files before failing");

    // With them set, the sample's database is the only thing the checklist could fault.
    let env = [
        ("MPESA_CONSUMER_KEY", "k"),
        ("MPESA_CONSUMER_SECRET", "s"),
        ("MPESA_PASSKEY", "p"),
        ("PAYSTACK_SECRET_KEY", "sk_test_x"),
    ];
    let out = malipo_in(dir.path(), &["check-config"], &env);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("[PASS] database-writable"), "{stdout}");
}

#[test]
fn a_failed_token_request_does_not_claim_a_push_may_have_gone() {
    let dir = workdir();
    // Nothing listens on the port the configuration names.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let config = example("sandbox.toml");
    let out = malipo_in(
        dir.path(),
        &[
            "mpesa",
            "stk-push",
            "--config",
            config.to_str().unwrap(),
            "--phone",
            "0708374149",
            "--amount",
            "10",
            "--callback-url",
            "https://pay.example.com/cb",
        ],
        &[("MALIPO_MPESA__BASE_URL", &url)],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not reach Daraja for token"), "{stderr}");
    assert!(!stderr.contains("may have been processed"), "{stderr}");
    assert!(stderr.contains("nothing else was sent"), "{stderr}");
}

#[test]
fn messages_a_newcomer_meets_read_well() {
    let dir = workdir();
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        path.to_str().unwrap().to_string()
    };
    // One warning is "1 warning".
    let one = write(
        "one.toml",
        "[server]\npublic_base_url = \"https://pay.example.com\"\n[database]\nurl = \"sqlite://target/one.db\"\n",
    );
    let out = malipo_in(dir.path(), &["check-config", "--config", &one], &[]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("passed, 1 warning, 0 failed"), "{stdout}");

    // An unknown key: one line that names it.
    let bad = write("bad.toml", "[server]\nbnid = \"127.0.0.1:1\"\n");
    let out = malipo_in(dir.path(), &["check-config", "--config", &bad], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("`server.bnid`: unknown field `bnid`"), "{stderr}");

    // Cents in an M-Pesa amount: what to use instead. Refused before anything is sent.
    let config = example("local.toml");
    let out = malipo_in(
        dir.path(),
        &[
            "mpesa",
            "stk-push",
            "--config",
            config.to_str().unwrap(),
            "--phone",
            "0708374149",
            "--amount",
            "10.50",
            "--callback-url",
            "https://pay.example.com/cb",
        ],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("KES 10.50 is not a whole number of shillings (M-Pesa takes no cents): use 10 or 11"),
        "{stderr}"
    );
}

#[test]
fn help_offers_only_what_a_command_reads() {
    let help = |args: &[&str]| text(&malipo(args, &[], None)).0;
    let sim = help(&["sim", "paystack", "--help"]);
    assert!(
        !sim.contains("[default: 0]") && !sim.contains("a free port]"),
        "{sim}"
    );
    assert!(sim.contains("http://127.0.0.1:8080/webhooks/paystack"), "{sim}");
    assert!(!sim.contains("8080/hooks/"), "{sim}");
    for args in [
        &["sim", "paystack", "--help"][..],
        &["sim", "mpesa", "--help"],
        &["security-credential", "--help"],
    ] {
        let text = help(args);
        assert!(
            !text.contains("--config"),
            "{args:?} offers --config it ignores: {text}"
        );
        assert!(text.contains("--log"), "{args:?}: {text}");
    }
    // Commands that read the configuration still offer it.
    assert!(help(&["events", "list", "--help"]).contains("--config"));
    // One default currency for Paystack everywhere.
    assert!(help(&["send-test-webhook", "paystack", "--help"]).contains("[default: KES]"));
    assert!(help(&["paystack", "init", "--help"]).contains("[default: KES]"));
}

struct Server {
    child: Child,
    base: String,
    config: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `malipo serve` with examples/local.toml, on free ports.
fn serve_local() -> Server {
    let dir = workdir();
    let config = example("local.toml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_malipo"));
    cmd.args(["--log", "warn", "serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .env_remove("MALIPO_CONFIG")
        .env_remove("MALIPO_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_string();
    Server {
        child,
        base,
        config: config.to_str().unwrap().to_string(),
        dir,
    }
}

#[test]
fn test_webhooks_reach_a_local_gateway_and_events_show_masks_emails() {
    let server = serve_local();
    let run = |args: &[&str]| {
        let mut line = args.to_vec();
        line.extend(["--config", &server.config]);
        malipo_in(server.dir.path(), &line, &[])
    };
    // Accepted from loopback with examples/local.toml, in the currency `paystack init` uses.
    let to = format!("{}/webhooks/paystack", server.base);
    let out = run(&[
        "send-test-webhook",
        "paystack",
        "--to",
        &to,
        "--email",
        "jane.doe@example.com",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("KES 100.00") && stdout.contains("200 OK"),
        "{stdout}"
    );

    // The event shows, its customer's email masked as the demo masks it.
    let out = run(&["events", "list", "--format", "json"]);
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = events[0]["id"].as_str().unwrap().to_string();
    for format in ["text", "json"] {
        let out = run(&["events", "show", &id, "--format", format]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("j***@example.com"), "{format}: {stdout}");
        assert!(!stdout.contains("jane.doe@example.com"), "{format}: {stdout}");
    }

    // An STK callback without its payment's token: 404, and a hint saying what to pass.
    let out = run(&["send-test-webhook", "mpesa-stk", "--to", &server.base]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("404"), "{stdout}");
    assert!(
        stderr.contains("hint:") && stderr.contains("--payment pay_"),
        "{stderr}"
    );
}
