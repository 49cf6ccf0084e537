//! The checklist's rules, each driven to its PASS and its FAIL (or WARN) from configurations
//! written here; the command line's tests run the same rules through `malipo check-config`.

use std::path::Path;

use malipo_checklist::{check, CheckOptions, Finding, Level};
use malipo_config::Config;

/// A secret in a file, referenced as `{ file = "…" }`.
/// A secret file only its owner reads, as a deployment's should be.
fn secret_file(dir: &Path, name: &str, value: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    format!("{{ file = \"{}\" }}", path.display())
}

/// A production deployment whose every rule passes (but the certificate ones, which need a
/// Safaricom certificate: the command line's tests make one).
fn good(dir: &Path) -> String {
    format!(
        r#"
environment = "production"
[server]
public_base_url = "https://pay.shop.example"
[mpesa]
shortcode = "600999"
consumer_key = {ck}
consumer_secret = {cs}
passkey = {pk}
[paystack]
secret_key = {sk}
[merchant]
webhook_url = "https://shop.example/hooks/malipo"
signing_secret = {wh}
"#,
        ck = secret_file(dir, "ck", "fake-consumer-key"),
        cs = secret_file(dir, "cs", "fake-consumer-secret"),
        pk = secret_file(dir, "pk", "fake-passkey"),
        sk = secret_file(dir, "sk", "sk_live_fake_for_tests"),
        wh = secret_file(dir, "wh", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    )
}

fn findings(text: &str) -> Vec<Finding> {
    check(&Config::from_toml(text).unwrap(), CheckOptions::default())
}

/// The findings of `rule`, as `LEVEL message`.
fn of(findings: &[Finding], rule: &str) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| format!("{:?} {}", f.level, f.message))
        .collect()
}

fn has(findings: &[Finding], rule: &str, level: Level, words: &str) {
    let found = findings
        .iter()
        .any(|f| f.rule == rule && f.level == level && f.message.contains(words));
    assert!(
        found,
        "no {level:?} {rule} saying {words:?} in {:#?}",
        of(findings, rule)
    );
}

#[test]
fn a_good_production_deployment_has_no_fail() {
    let dir = tempfile::tempdir().unwrap();
    let all = findings(&good(dir.path()));
    let fails: Vec<_> = all.iter().filter(|f| f.level == Level::Fail).collect();
    assert!(fails.is_empty(), "{fails:#?}");
    for rule in [
        "callback-urls-https",
        "provider-urls-https",
        "callback-source-ip-verification",
        "no-literal-secrets",
        "secret-references-resolve",
        "paystack-key-matches-environment",
        "merchant-webhook",
        "api-listener-private",
        "ops-listener-private",
        "debug-logging-off",
    ] {
        assert!(
            all.iter().any(|f| f.rule == rule && f.level == Level::Pass),
            "{rule} did not pass: {:#?}",
            of(&all, rule)
        );
    }
}

#[test]
fn callback_urls_must_be_public_https_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let good = good(dir.path());
    let http = findings(&good.replace("https://pay.shop.example", "http://pay.shop.example"));
    has(&http, "callback-urls-https", Level::Fail, "http://");
    let tunnel = findings(&good.replace("https://pay.shop.example", "https://abc.ngrok.io"));
    has(
        &tunnel,
        "callback-urls-https",
        Level::Fail,
        "local address or a tunnel",
    );
    let words = findings(&good.replace("https://pay.shop.example", "https://mpesa.shop.example"));
    has(&words, "callback-urls-daraja-words", Level::Warn, "\"mpesa\"");
    let unset = findings(&good.replace("public_base_url = \"https://pay.shop.example\"", ""));
    has(&unset, "callback-urls-https", Level::Fail, "not set");
    // Sandbox warns where production fails.
    let sandbox = findings(
        &good
            .replace("environment = \"production\"", "environment = \"sandbox\"")
            .replace("https://pay.shop.example", "http://127.0.0.1:8080"),
    );
    has(&sandbox, "callback-urls-https", Level::Warn, "http://");
}

#[test]
fn provider_urls_and_source_checks() {
    let dir = tempfile::tempdir().unwrap();
    let good = good(dir.path());
    let plain = findings(&good.replace(
        "[paystack]\n",
        "[paystack]\nbase_url = \"http://127.0.0.1:9002\"\n",
    ));
    has(&plain, "provider-urls-https", Level::Fail, "not https");
    let off = findings(&good.replace("[mpesa]\n", "[mpesa]\nverify_callback_source_ip = false\n"));
    has(
        &off,
        "callback-source-ip-verification",
        Level::Fail,
        "anyone could post fake M-Pesa",
    );
    let empty = findings(&good.replace("[paystack]\n", "[paystack]\nwebhook_ips = []\n"));
    has(
        &empty,
        "allowlists-parse",
        Level::Fail,
        "every callback would be refused",
    );
    let loopback = findings(&good.replace("[mpesa]\n", "[mpesa]\ncallback_ips = [\"127.0.0.0/8\"]\n"));
    has(
        &loopback,
        "allowlists-parse",
        Level::Fail,
        "this machine or a private network",
    );
}

#[test]
fn secrets_are_references_that_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let good = good(dir.path());
    let literal_line = format!(
        "secret_key = {}",
        secret_file(dir.path(), "sk", "sk_live_fake_for_tests")
    );
    let literal = findings(&good.replace(&literal_line, "secret_key = \"sk_live_literal_fake\""));
    has(
        &literal,
        "no-literal-secrets",
        Level::Fail,
        "paystack.secret_key is written in the config file",
    );
    assert!(
        !format!("{literal:?}").contains("sk_live_literal_fake"),
        "a finding printed the secret"
    );
    // Regression: a secret file every user could read passed without a word.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let pk = dir.path().join("pk");
        std::fs::set_permissions(&pk, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = findings(&good);
        has(
            &open,
            "secret-references-resolve",
            Level::Warn,
            "can be read by every user of the machine (mode 644)",
        );
        let fix = open
            .iter()
            .find(|f| f.level == Level::Warn && f.rule == "secret-references-resolve")
            .and_then(|f| f.fix.clone())
            .unwrap_or_default();
        assert!(fix.starts_with("chmod 600 "), "{fix}");
        std::fs::set_permissions(&pk, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Regression: the value set by a `MALIPO_*` variable was reported as written in the file.
    let from_env = Config::from_toml_with_env(
        &good,
        std::path::Path::new("malipo.toml"),
        [(
            "MALIPO_PAYSTACK__SECRET_KEY".to_string(),
            "sk_live_env_fake".to_string(),
        )],
    )
    .unwrap();
    let from_env = check(&from_env, CheckOptions::default());
    has(
        &from_env,
        "no-literal-secrets",
        Level::Pass,
        "paystack.secret_key comes from the environment (MALIPO_PAYSTACK__SECRET_KEY)",
    );
    assert!(!of(&from_env, "no-literal-secrets")
        .iter()
        .any(|f| f.starts_with("Fail")));
    std::fs::remove_file(dir.path().join("pk")).unwrap();
    let missing = findings(&good);
    has(
        &missing,
        "secret-references-resolve",
        Level::Fail,
        "mpesa.passkey",
    );
    // The fix says what to do for its kind of reference.
    let fix = missing
        .iter()
        .find(|f| f.level == Level::Fail && f.message.contains("mpesa.passkey"))
        .and_then(|f| f.fix.clone())
        .unwrap_or_default();
    assert!(
        fix.starts_with("put the secret in ") && fix.contains("chmod 600"),
        "{fix}"
    );
    let env = findings(&good.replace(
        &secret_file(dir.path(), "ck", "fake-consumer-key"),
        "{ env = \"T_SURELY_UNSET_CONSUMER_KEY\" }",
    ));
    let fix = env
        .iter()
        .find(|f| f.level == Level::Fail && f.message.contains("consumer_key"))
        .and_then(|f| f.fix.clone())
        .unwrap_or_default();
    assert_eq!(
        fix,
        "set T_SURELY_UNSET_CONSUMER_KEY (non-empty) wherever malipo runs"
    );
}

#[test]
fn the_paystack_key_matches_the_environment_for_every_account() {
    let dir = tempfile::tempdir().unwrap();
    let good = good(dir.path());
    let test_key = secret_file(dir.path(), "gh", "sk_test_ghana_fake");
    let two = findings(&good.replace(
        "[merchant]",
        &format!("[paystack.accounts.ghana]\nsecret_key = {test_key}\n[merchant]"),
    ));
    has(
        &two,
        "paystack-key-matches-environment",
        Level::Pass,
        "paystack.secret_key matches",
    );
    has(
        &two,
        "paystack-key-matches-environment",
        Level::Fail,
        "paystack.accounts.ghana.secret_key is a Paystack test key",
    );
    let live_in_sandbox =
        findings(&good.replace("environment = \"production\"", "environment = \"sandbox\""));
    has(
        &live_in_sandbox,
        "paystack-key-matches-environment",
        Level::Warn,
        "real money can move",
    );
}

#[test]
fn merchant_endpoints_and_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let good = good(dir.path());
    let http = findings(&good.replace(
        "https://shop.example/hooks/malipo",
        "http://shop.example/hooks/malipo",
    ));
    has(&http, "merchant-webhook", Level::Fail, "is not https");
    let private = findings(&format!("{good}allow_private_targets = true\n"));
    has(
        &private,
        "merchant-webhook",
        Level::Fail,
        "server-side request forgery",
    );
    // The secret's value is in its file: an empty file does not resolve at all, a value that
    // is not `whsec_…` is the wrong kind of secret.
    std::fs::write(dir.path().join("wh"), "").unwrap();
    has(
        &findings(&good),
        "secret-references-resolve",
        Level::Fail,
        "merchant.signing_secret",
    );
    std::fs::write(dir.path().join("wh"), "plain-password").unwrap();
    let plain = findings(&good);
    has(
        &plain,
        "merchant-webhook",
        Level::Fail,
        "not a Standard Webhooks secret",
    );

    let same = findings(&format!("{good}[api]\nbind = \"127.0.0.1:8080\"\n"));
    has(
        &same,
        "api-listener-private",
        Level::Fail,
        "callback listener's address",
    );
    let open_ops = findings(&format!("{good}[ops]\nbind = \"0.0.0.0:9090\"\n"));
    has(
        &open_ops,
        "ops-listener-private",
        Level::Fail,
        "beyond loopback, with no login",
    );
    let token = secret_file(dir.path(), "admin", "an-admin-token-long-enough");
    let with_login = findings(&format!(
        "{good}[ops]\nbind = \"0.0.0.0:9090\"\nadmin_token = {token}\n"
    ));
    has(&with_login, "ops-listener-private", Level::Warn, "with its login");
}

#[test]
fn debug_logs_are_refused_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let debug = findings(&format!("{}[logging]\nlevel = \"debug\"\n", good(dir.path())));
    has(&debug, "debug-logging-off", Level::Fail, "debug");
}

#[test]
fn a_shared_database_needs_a_common_token_key_and_no_password_in_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let base = good(dir.path()).replacen("[server]\n", "[database]\nURL\n[server]\n", 1);
    let with = |url: &str, key: bool| {
        let mut text = base.replace("URL", &format!("url = \"{url}\""));
        if key {
            let key = secret_file(dir.path(), "tk", "a-callback-token-key-of-32-bytes!");
            text = text.replacen(
                "[server]\n",
                &format!("[server]\ncallback_token_key = {key}\n"),
                1,
            );
        }
        findings(&text)
    };
    // SQLite: nothing to say.
    assert!(of(&with("sqlite://malipo.db", false), "shared-database").is_empty());
    // PostgreSQL without a common key: the instances cannot check each other's tokens.
    has(
        &with("postgres://malipo@db.internal/malipo", false),
        "shared-database",
        Level::Fail,
        "callback_token_key",
    );
    // A password in the URL: FAIL in production, redacted in the message.
    let inline = with("postgres://malipo:hunter2@db.internal/malipo", true);
    has(&inline, "shared-database", Level::Fail, "in the clear");
    assert!(
        of(&inline, "shared-database")
            .iter()
            .all(|m| !m.contains("hunter2")),
        "{inline:?}"
    );
    let sandbox = findings(
        &base
            .replace("URL", "url = \"postgres://malipo:hunter2@db.internal/malipo\"")
            .replacen("environment = \"production\"", "environment = \"sandbox\"", 1)
            .replacen(
                "[server]\n",
                "[server]\ncallback_token_key = \"sandbox-token-key\"\n",
                1,
            ),
    );
    has(&sandbox, "shared-database", Level::Warn, "in the clear");
    has(
        &with("postgres://malipo@db.internal/malipo", true),
        "shared-database",
        Level::Pass,
        "shared",
    );
}

#[test]
fn more_worker_loops_are_for_postgresql_with_connections_to_spare() {
    let dir = tempfile::tempdir().unwrap();
    let key = secret_file(dir.path(), "tk", "a-callback-token-key-of-32-bytes!");
    let base = good(dir.path()).replacen(
        "[server]\n",
        &format!("[database]\nDB\n[server]\ncallback_token_key = {key}\n"),
        1,
    );
    let with = |db: &str| findings(&base.replace("DB", db));
    let pg = "url = \"postgres://malipo@db.internal/malipo\"\n";
    // One loop, the default: nothing to say on either store.
    assert!(of(&with(pg), "database-workers").is_empty());
    assert!(of(&with(""), "database-workers").is_empty());
    has(
        &with(&format!("{pg}workers = 4\npool_size = 8")),
        "database-workers",
        Level::Pass,
        "4 worker loops, at most 4 of the pool's 8",
    );
    let crowded = with(&format!("{pg}workers = 5\npool_size = 8"));
    has(&crowded, "database-workers", Level::Warn, "5 of the pool's 8");
    let fix = crowded
        .iter()
        .find(|f| f.rule == "database-workers")
        .and_then(|f| f.fix.clone());
    assert!(
        fix.as_deref().unwrap().contains("pool_size to at least 10"),
        "{fix:?}"
    );
    has(&with("workers = 2"), "database-workers", Level::Warn, "on SQLite");
}

#[test]
fn fail_fast_stops_at_the_first_fail() {
    let dir = tempfile::tempdir().unwrap();
    let text = good(dir.path()).replace("https://pay.shop.example", "http://pay.shop.example");
    let config = Config::from_toml(&text).unwrap();
    let all = check(&config, CheckOptions::default());
    let fast = check(&config, CheckOptions { fail_fast: true });
    assert_eq!(fast.last().map(|f| f.level), Some(Level::Fail));
    assert!(fast.len() < all.len(), "{} of {}", fast.len(), all.len());
    assert_eq!(malipo_checklist::failures(&fast).len(), 1);
}

#[test]
fn findings_render_with_their_fix() {
    let f = Finding::fail("rule-x", "what was found", "what to change");
    assert_eq!(
        f.render(),
        "[FAIL] rule-x: what was found\n       fix: what to change"
    );
    assert_eq!(Finding::pass("rule-y", "fine").render(), "[PASS] rule-y: fine");
    assert!(Finding::warn("rule-z", "hm", "look")
        .render()
        .starts_with("[WARN] rule-z: hm"));
}

#[test]
fn rate_limits_that_would_refuse_real_bursts() {
    let dir = tempfile::tempdir().unwrap();
    let good = good(dir.path());
    let limit = |rate: &str| findings(&good.replace("[mpesa]\n", &format!("[mpesa]\nrate_limit = {rate}\n")));
    has(
        &findings(&good),
        "rate-limit-configured",
        Level::Pass,
        "built-in limit",
    );
    has(
        &limit("{ per_second = 0, burst = 10 }"),
        "rate-limit-configured",
        Level::Fail,
        "zero rate or burst",
    );
    has(
        &limit("{ per_second = 500, burst = 0 }"),
        "rate-limit-configured",
        Level::Fail,
        "zero rate or burst",
    );
    has(
        &limit("{ per_second = 99, burst = 500 }"),
        "rate-limit-configured",
        Level::Warn,
        "only 99/s",
    );
    has(
        &limit("{ per_second = 100, burst = 500 }"),
        "rate-limit-configured",
        Level::Pass,
        "100/s, burst 500",
    );
}

#[test]
fn every_kind_of_local_address_or_tunnel_is_refused_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let good = good(dir.path());
    for host in [
        "localhost",
        "shop.localhost",
        "127.0.0.1",
        "[::1]",
        "0.0.0.0",
        "abc.ngrok.io",
        "abc.ngrok-free.app",
        "x.localtunnel.me",
        "x.loca.lt",
        "x.trycloudflare.com",
        "x.serveo.net",
    ] {
        let f = findings(&good.replace("https://pay.shop.example", &format!("https://{host}")));
        has(
            &f,
            "callback-urls-https",
            Level::Fail,
            "local address or a tunnel",
        );
    }
    for net in [
        "127.0.0.0/8",
        "10.1.0.0/16",
        "172.16.0.0/12",
        "192.168.1.0/24",
        "169.254.0.0/16",
        "0.0.0.0/0",
        "8.0.0.0/4",
        "::1/128",
        "fd00::/8",
        "fe80::/10",
        "::/0",
    ] {
        let f = findings(&good.replace("[mpesa]\n", &format!("[mpesa]\ncallback_ips = [\"{net}\"]\n")));
        has(
            &f,
            "allowlists-parse",
            Level::Fail,
            "this machine or a private network",
        );
    }
    for net in ["196.201.214.0/24", "2c0f:fe38::/32"] {
        let f = findings(&good.replace("[mpesa]\n", &format!("[mpesa]\ncallback_ips = [\"{net}\"]\n")));
        has(
            &f,
            "allowlists-parse",
            Level::Pass,
            "mpesa.callback_ips: 1 address ranges",
        );
    }
    // Verification off and an empty list: nothing is refused by the list, so it is not a FAIL.
    let off = findings(&good.replace(
        "[mpesa]\n",
        "[mpesa]\ncallback_ips = []\nverify_callback_source_ip = false\n",
    ));
    assert!(
        !of(&off, "allowlists-parse").iter().any(|f| f.starts_with("Fail")),
        "{off:#?}"
    );
}

#[test]
fn listeners_must_not_share_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let good = good(dir.path());
    let with = |tables: &str| findings(&format!("{good}{tables}"));
    has(
        &with("[api]\nbind = \"0.0.0.0:8080\"\n"),
        "api-listener-private",
        Level::Fail,
        "callback listener's address",
    );
    has(&with(""), "api-listener-private", Level::Pass, "(loopback)");
    has(
        &with("[api]\nbind = \"10.0.0.5:8081\"\n"),
        "api-listener-private",
        Level::Warn,
        "beyond loopback",
    );
    has(
        &with("[ops]\nbind = \"0.0.0.0:8081\"\n"),
        "ops-listener-private",
        Level::Fail,
        "another listener's address",
    );
    has(
        &with("[ops]\nbind = \"127.0.0.1:8080\"\n"),
        "ops-listener-private",
        Level::Fail,
        "another listener's address",
    );
    has(
        &with("[ops]\nbind = \"127.0.0.1:9191\"\n"),
        "ops-listener-private",
        Level::Pass,
        "127.0.0.1:9191 (loopback)",
    );
    let sandbox = good.replace("environment = \"production\"", "environment = \"sandbox\"");
    let open = findings(&format!("{sandbox}[ops]\nbind = \"0.0.0.0:9090\"\n"));
    has(&open, "ops-listener-private", Level::Warn, "with no login");
}

#[test]
fn c2b_validation_is_held_to_the_delivery_rules_for_every_account() {
    let dir = tempfile::tempdir().unwrap();
    let good = good(dir.path());
    let table = |body: &str| {
        findings(&good.replace(
            "[paystack]",
            &format!("[mpesa.c2b_validation]\n{body}\n[paystack]"),
        ))
    };
    has(
        &table("url = \"https://shop.example/validate\""),
        "c2b-validation",
        Level::Pass,
        "decided by https://shop.example/validate (fallback: accept after 3000 ms)",
    );
    let bad = table("url = \"http://shop.example/validate\"\nallow_private_target = true\ntimeout = \"6s\"");
    has(
        &bad,
        "c2b-validation",
        Level::Fail,
        "mpesa.c2b_validation.url http://shop.example/validate is not https",
    );
    has(
        &bad,
        "c2b-validation",
        Level::Fail,
        "allow_private_target is true in production",
    );
    has(&bad, "c2b-validation", Level::Warn, "timeout is 6000 ms");
    let five = table("url = \"https://shop.example/validate\"\ntimeout = \"5s\"");
    assert!(
        !of(&five, "c2b-validation").iter().any(|f| f.starts_with("Warn")),
        "5 s is allowed"
    );
    let secret = secret_file(dir.path(), "val", "not-a-whsec");
    let own = table(&format!(
        "url = \"https://shop.example/validate\"\nsigning_secret = {secret}"
    ));
    has(
        &own,
        "c2b-validation",
        Level::Fail,
        "mpesa.c2b_validation.signing_secret is not a Standard Webhooks secret",
    );
    let no_merchant = findings(
        good.replace(
            "[paystack]",
            "[mpesa.c2b_validation]\nurl = \"https://shop.example/validate\"\n[paystack]",
        )
        .split("[merchant]")
        .next()
        .unwrap(),
    );
    has(&no_merchant, "c2b-validation", Level::Fail, "no signing secret");
    // A named account's table is checked under its own name.
    let named = findings(&good.replace(
        "[paystack]",
        &format!(
            "[mpesa.accounts.nairobi]\nshortcode = \"600111\"\nconsumer_key = {k}\nconsumer_secret = {k}\npasskey = {k}\n[mpesa.accounts.nairobi.c2b_validation]\nurl = \"http://x.example/v\"\n[paystack]",
            k = secret_file(dir.path(), "nk", "fake")
        ),
    ));
    has(
        &named,
        "c2b-validation",
        Level::Fail,
        "mpesa.accounts.nairobi.c2b_validation.url",
    );
}

#[test]
fn initiator_credentials_are_ciphertext_and_certificates_are_readable() {
    let dir = tempfile::tempdir().unwrap();
    let good = good(dir.path());
    let mpesa = |lines: &str| findings(&good.replace("[paystack]", &format!("{lines}\n[paystack]")));
    let no_credential = mpesa("initiator_name = \"apiop\"");
    has(
        &no_credential,
        "security-credential-is-ciphertext",
        Level::Warn,
        "no security credential",
    );
    let plain = secret_file(dir.path(), "cred", "Safaricom999!");
    let plaintext = mpesa(&format!(
        "initiator_name = \"apiop\"\nsecurity_credential = {plain}"
    ));
    has(
        &plaintext,
        "security-credential-is-ciphertext",
        Level::Fail,
        "mpesa.security_credential is not an encrypted credential",
    );
    has(
        &plaintext,
        "certificate-matches-environment",
        Level::Warn,
        "mpesa.certificate is not set",
    );
    let missing = mpesa(&format!(
        "initiator_name = \"apiop\"\nsecurity_credential = {plain}\ncertificate = \"{}\"",
        dir.path().join("no-such.cer").display()
    ));
    has(
        &missing,
        "certificate-matches-environment",
        Level::Fail,
        "mpesa.certificate: cannot read",
    );
}
