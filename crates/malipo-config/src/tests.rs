use std::path::Path;

use crate::*;

fn with_env(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml_with_env(
        text,
        Path::new("test.toml"),
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn the_sample_parses() {
    let c = Config::from_toml(SAMPLE).unwrap();
    assert_eq!(c.environment, Environment::Sandbox);
    let m = c.mpesa.unwrap();
    assert_eq!(m.shortcode, "174379");
    assert_eq!(m.callback_ips.len(), SAFARICOM_CALLBACK_IPS.len());
    assert!(m.verify_callback_source_ip);
    assert_eq!(c.paystack.unwrap().webhook_ips.len(), 3);
    assert_eq!(c.server.body_limit_bytes, 65536);
}

#[test]
fn defaults_need_no_file_content() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(
        c.database.backend().unwrap(),
        Database::Sqlite {
            path: "malipo.db".into()
        }
    );
    assert_eq!(c.server.bind.to_string(), "127.0.0.1:8080");
    assert!(c.mpesa.is_none());
}

#[test]
fn unknown_keys_name_their_path() {
    let err = Config::from_toml("[mpesa]\nshortcode = \"1\"\nconsumer_key = { env = \"A\" }\nconsumer_secret = { env = \"B\" }\npasskey = { env = \"C\" }\nverify_callback_ip = false\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mpesa.verify_callback_ip") || err.contains("mpesa`"),
        "{err}"
    );
    assert!(err.contains("verify_callback_ip"), "{err}");
    let err = Config::from_toml("colour = 1").unwrap_err().to_string();
    assert!(err.contains("colour"), "{err}");
}

/// Regression: the deserialiser's "in `server`" came on a line of its own.
#[test]
fn an_unknown_key_is_one_line() {
    let err = Config::from_toml("[server]\nbnid = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(!err.contains('\n'), "{err:?}");
    assert!(
        err.contains("server.bnid") && err.contains("expected one of `bind`"),
        "{err}"
    );
    assert!(!err.contains("in `server`"), "{err}");
}

#[test]
fn syntax_errors_say_where() {
    let err = Config::from_toml("[server\n").unwrap_err().to_string();
    assert!(err.contains("not valid TOML") && err.contains("line 1"), "{err}");
}

#[test]
fn environment_overrides_win_and_are_typed() {
    let c = with_env(
        "[server]\nbind = \"127.0.0.1:1\"\n[mpesa]\nshortcode = \"1\"\nconsumer_key = { env = \"A\" }\nconsumer_secret = { env = \"B\" }\npasskey = { env = \"C\" }\n",
        &[
            ("MALIPO_SERVER__BIND", "0.0.0.0:9000"),
            ("MALIPO_SERVER__BODY_LIMIT_BYTES", "1024"),
            ("MALIPO_MPESA__SHORTCODE", "600999"),
            ("MALIPO_MPESA__VERIFY_CALLBACK_SOURCE_IP", "false"),
            ("MALIPO_SERVER__TRUSTED_PROXIES", "[\"10.0.0.0/8\"]"),
            ("MALIPO_ENVIRONMENT", "production"),
            ("MALIPO_CONFIG", "ignored.toml"),
            ("HOME", "/root"),
        ],
    )
    .unwrap();
    assert_eq!(c.server.bind.to_string(), "0.0.0.0:9000");
    assert_eq!(c.server.body_limit_bytes, 1024);
    assert_eq!(c.server.trusted_proxies.len(), 1);
    assert_eq!(c.environment, Environment::Production);
    let m = c.mpesa.unwrap();
    assert_eq!(m.shortcode, "600999");
    assert!(!m.verify_callback_source_ip);
    // The section inherits the top-level environment.
    assert_eq!(m.environment, Some(Environment::Production));
    assert_eq!(m.api_base_url().as_str(), "https://api.safaricom.co.ke/");
}

/// Regression: a bad value from `MALIPO_SERVER__BIND` was reported as the file's.
#[test]
fn an_overrides_error_names_its_variable_and_overrides_are_remembered() {
    let err = with_env("", &[("MALIPO_SERVER__BIND", "banana")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("environment override MALIPO_SERVER__BIND: `server.bind`:"),
        "{err}"
    );
    let c = with_env(
        "[server]\nbind = \"127.0.0.1:1\"\n",
        &[("MALIPO_SERVER__BODY_LIMIT_BYTES", "1024")],
    )
    .unwrap();
    assert_eq!(
        c.overridden_by("server.body_limit_bytes"),
        Some("MALIPO_SERVER__BODY_LIMIT_BYTES")
    );
    assert_eq!(c.overridden_by("server.bind"), None);
    // The file's own error still names the file.
    let err = with_env("[server]\nbind = \"banana\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`server.bind`") && !err.contains("override"),
        "{err}"
    );
}

#[test]
fn variables_without_a_section_separator_are_not_overrides() {
    // Regression: `malipo init` suggested these names for secrets, and setting either broke
    // every command with "unknown field".
    let c = with_env(
        "environment = \"sandbox\"",
        &[
            ("MALIPO_WEBHOOK_SECRET", "whsec_fake"),
            ("MALIPO_CALLBACK_TOKEN_KEY", "fake-key"),
            ("MALIPO_LOG_LEVEL", "debug"),
        ],
    )
    .unwrap();
    assert_eq!(c.environment, Environment::Sandbox);
    // The sample's secret names cannot be read as overrides at all.
    let sample = crate::SAMPLE;
    assert!(!sample.contains("env = \"MALIPO_"), "{sample}");
}

#[test]
fn a_syntax_error_says_where_without_quoting_the_line() {
    let text = "[paystack]\nsecret_key = \"sk_live_0123456789abcdef\nbase_url = 1\n";
    let err = Config::from_toml(text).unwrap_err().to_string();
    assert!(err.contains("line 2"), "{err}");
    assert!(
        !err.contains("sk_live_0123456789abcdef"),
        "the secret leaked: {err}"
    );
}

#[test]
fn a_bad_override_names_the_variable() {
    let err = with_env("", &[("MALIPO_SERVER__BNID", "x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("server.bnid"), "{err}");
    let err = with_env("environment = \"sandbox\"", &[("MALIPO_ENVIRONMENT__X", "1")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("MALIPO_ENVIRONMENT__X"), "{err}");
}

#[test]
fn database_urls() {
    let db = |url: &str| {
        DatabaseConfig {
            url: url.into(),
            ..Default::default()
        }
        .backend()
    };
    assert!(matches!(db("postgres://u@h/db"), Ok(Database::Postgres { .. })));
    assert!(db("sqlite://").is_err());
    assert!(db("mysql://x").is_err());
}

#[test]
fn debug_of_a_config_with_literal_secrets_hides_them() {
    let c = Config::from_toml(
        "[paystack]\nsecret_key = \"sk_test_literal_fake_123\"\n[mpesa]\nshortcode = \"1\"\nconsumer_key = \"ck_fake_456\"\nconsumer_secret = \"cs_fake_789\"\npasskey = \"pk_fake_000\"\n",
    )
    .unwrap();
    let printed = format!("{c:?}");
    for s in [
        "sk_test_literal_fake_123",
        "ck_fake_456",
        "cs_fake_789",
        "pk_fake_000",
    ] {
        assert!(!printed.contains(s), "{s} leaked");
    }
}

#[test]
fn allowlists_take_bare_addresses_and_ranges() {
    let c = Config::from_toml(
        "[server]\ntrusted_proxies = [\"10.0.0.1\", \"10.1.0.0/16\", \"::1\"]\n[paystack]\nsecret_key = { env = \"X\" }\nwebhook_ips = [\"52.31.139.75\"]\n",
    )
    .unwrap();
    assert_eq!(c.server.trusted_proxies[0].to_string(), "10.0.0.1/32");
    assert_eq!(c.server.trusted_proxies[2].to_string(), "::1/128");
    assert_eq!(c.paystack.unwrap().webhook_ips[0].to_string(), "52.31.139.75/32");
    let err = Config::from_toml("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("server.trusted_proxies") && err.contains("10.0.0.0/33"),
        "{err}"
    );
}

mod command_secrets {
    use std::time::Instant;

    use crate::*;

    fn paystack_key(reference: &str) -> SecretRef {
        let c = Config::from_toml(&format!("[paystack]\nsecret_key = {reference}\n")).unwrap();
        c.paystack.unwrap().secret_key
    }

    #[test]
    fn the_program_output_is_the_secret_with_one_newline_trimmed() {
        let r = paystack_key(r#"{ command = ["printf", "sk_test_from_vault\n\n"] }"#);
        assert_eq!(r.resolve().unwrap().expose(), "sk_test_from_vault\n");
        let r = paystack_key(r#"{ command = ["echo", "sk_test_echo"] }"#);
        assert_eq!(r.resolve().unwrap().expose(), "sk_test_echo");
        // No shell: the argument is passed as is, not expanded.
        let r = paystack_key(r#"{ command = ["echo", "$HOME"] }"#);
        assert_eq!(r.resolve().unwrap().expose(), "$HOME");
    }

    #[test]
    fn a_slow_program_is_killed_at_the_timeout() {
        let r = paystack_key(r#"{ command = ["sleep", "30"], timeout_secs = 1 }"#);
        let started = Instant::now();
        let err = r.resolve().unwrap_err().to_string();
        assert!(started.elapsed().as_secs() < 10, "the timeout bounds the wait");
        assert!(err.contains("\"sleep\"") && err.contains("killed"), "{err}");
    }

    #[test]
    fn failures_name_the_program_and_status_only() {
        let r = paystack_key(
            r#"{ command = ["sh", "-c", "echo sk_live_leaked_on_stdout; echo secret-on-stderr >&2; exit 3"] }"#,
        );
        let err = r.resolve().unwrap_err().to_string();
        assert!(err.contains("\"sh\" exited with status 3"), "{err}");
        assert!(
            !err.contains("leaked") && !err.contains("secret-on-stderr"),
            "{err}"
        );
        let r = paystack_key(r#"{ command = ["/nonexistent/vault"] }"#);
        let err = r.resolve().unwrap_err().to_string();
        assert!(err.contains("cannot run \"/nonexistent/vault\""), "{err}");
        let r = paystack_key(r#"{ command = ["true"] }"#);
        assert!(r.resolve().unwrap_err().to_string().contains("printed nothing"));
    }

    #[test]
    fn answers_are_cached_for_the_configured_time() {
        let dir = tempfile::tempdir().unwrap();
        let counter = dir.path().join("calls");
        let script = format!("echo x >> {0}; wc -l < {0}", counter.display());
        let r = paystack_key(&format!(
            r#"{{ command = ["sh", "-c", "{script}"], cache_secs = 3600 }}"#
        ));
        assert_eq!(r.resolve().unwrap().expose().trim(), "1");
        assert_eq!(
            r.resolve().unwrap().expose().trim(),
            "1",
            "second use comes from the cache"
        );
        let uncached = paystack_key(&format!(
            r#"{{ command = ["sh", "-c", "{script} "], cache_secs = 0 }}"#
        ));
        assert_eq!(uncached.resolve().unwrap().expose().trim(), "2");
        assert_eq!(uncached.resolve().unwrap().expose().trim(), "3");
    }

    #[test]
    fn a_background_child_holding_the_output_cannot_hang_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // The program exits at once, leaving a child that keeps standard output open.
        let script = format!("echo sk_test_x; sleep 300 & echo $! > {}", pid_file.display());
        let r = paystack_key(&format!(
            r#"{{ command = ["sh", "-c", "{script}"], timeout_secs = 1 }}"#
        ));
        let started = Instant::now();
        let err = r.resolve().unwrap_err().to_string();
        assert!(started.elapsed().as_secs() < 10, "the deadline covers the output");
        assert!(err.contains("output stayed open"), "{err}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(gone(pid.trim()), "the background child {pid} was left running");
    }

    #[test]
    fn a_timeout_kills_the_children_too() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
        let r = paystack_key(&format!(
            r#"{{ command = ["sh", "-c", "{script}"], timeout_secs = 1 }}"#
        ));
        let err = r.resolve().unwrap_err().to_string();
        assert!(err.contains("killed"), "{err}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(gone(pid.trim()), "the child {pid} survived the timeout");
    }

    /// Whether the process is gone (or a zombie about to be reaped by init).
    fn gone(pid: &str) -> bool {
        for _ in 0..100 {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return true,
                Ok(stat)
                    if stat
                        .rsplit(')')
                        .next()
                        .is_some_and(|r| r.trim_start().starts_with('Z')) =>
                {
                    return true
                }
                Ok(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        false
    }

    #[test]
    fn output_beyond_the_cap_is_refused() {
        let r = paystack_key(r#"{ command = ["head", "-c", "1000000", "/dev/zero"] }"#);
        let err = r.resolve().unwrap_err().to_string();
        assert!(err.contains("more than 65536 bytes"), "{err}");
    }

    #[test]
    fn the_program_gets_only_the_variables_it_is_given() {
        // Another secret of malipo's environment is not handed to a secrets program...
        std::env::set_var("MALIPO_TEST_OTHER_SECRET", "sk_live_other");
        let script = "printf %s ${MALIPO_TEST_OTHER_SECRET:-unset}";
        let r = paystack_key(&format!(
            r#"{{ command = ["sh", "-c", "{script}"], cache_secs = 0 }}"#
        ));
        assert_eq!(r.resolve().unwrap().expose(), "unset");
        // ...unless its reference passes it by name; PATH always goes.
        let r = paystack_key(&format!(
            r#"{{ command = ["sh", "-c", "{script}"], cache_secs = 0, pass_env = ["MALIPO_TEST_OTHER_SECRET"] }}"#
        ));
        assert_eq!(r.resolve().unwrap().expose(), "sk_live_other");
    }

    #[test]
    fn malformed_command_references_are_refused() {
        for bad in [
            r#"{ command = [] }"#,
            r#"{ command = ["vault"], env = "X" }"#,
            r#"{ env = "X", timeout_secs = 3 }"#,
            r#"{ command = "vault kv get" }"#,
        ] {
            assert!(
                Config::from_toml(&format!("[paystack]\nsecret_key = {bad}\n")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_shows_the_command_not_the_value() {
        let r = paystack_key(r#"{ command = ["echo", "sk_test_value_never_printed"] }"#);
        let _ = r.resolve().unwrap();
        assert!(format!("{r:?}").contains("echo"));
    }
}

#[test]
fn the_sample_reconciler_settings_are_the_defaults() {
    let c = Config::from_toml(SAMPLE).unwrap();
    assert_eq!(c.reconcile, crate::ReconcileConfig::default());
    let none = Config::from_toml("").unwrap();
    assert_eq!(none.reconcile.stk_push.after, std::time::Duration::from_secs(120));
    assert_eq!(
        none.reconcile.stk_push.deadline,
        std::time::Duration::from_secs(3600)
    );
}

#[test]
fn durations_need_a_number_and_a_unit() {
    use crate::parse_duration;
    use std::time::Duration;
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
    for bad in ["", "5", "m", "1.5s", "-1s", "2 weeks", "99999999999999999999d"] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
    let e = Config::from_toml("[reconcile]\nstk_push = { after = \"2 minutes\", deadline = \"1h\" }")
        .unwrap_err();
    assert!(e.to_string().contains("not a duration"), "{e}");
}

#[test]
fn named_accounts_are_parsed_and_default_is_reserved() {
    let base = r#"
[mpesa]
shortcode = "174379"
consumer_key = "ck"
consumer_secret = "cs"
passkey = "pk"
[mpesa.accounts.nairobi-till]
shortcode = "600111"
consumer_key = { env = "NAIROBI_KEY" }
consumer_secret = { env = "NAIROBI_SECRET" }
passkey = { env = "NAIROBI_PASSKEY" }
[paystack]
secret_key = "sk_test_x"
[paystack.accounts.ghana]
secret_key = { env = "PAYSTACK_GH_KEY" }
"#;
    let c = Config::from_toml(base).unwrap();
    let mpesa: Vec<String> = c
        .mpesa
        .as_ref()
        .unwrap()
        .all_accounts()
        .iter()
        .map(|(n, a)| format!("{n}={}", a.shortcode))
        .collect();
    assert_eq!(mpesa, ["default=174379", "nairobi-till=600111"]);
    let paystack: Vec<String> = c
        .paystack
        .as_ref()
        .unwrap()
        .all_accounts()
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(paystack, ["default", "ghana"]);

    let err = Config::from_toml(&base.replace("accounts.ghana", "accounts.default"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("paystack.accounts.default") && err.contains("another name"),
        "{err}"
    );
    let err = Config::from_toml(&base.replace("accounts.nairobi-till", "accounts.Nairobi"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("lowercase"), "{err}");
}

const MPESA_MIN: &str =
    "[mpesa]\nshortcode = \"600000\"\nconsumer_key = \"a\"\nconsumer_secret = \"b\"\npasskey = \"c\"\n";

#[test]
fn c2b_pull_is_off_without_its_table_and_has_defaults_with_it() {
    let c = Config::from_toml(MPESA_MIN).unwrap();
    assert!(c.mpesa.unwrap().c2b_pull.is_none());
    let c = Config::from_toml(&format!("{MPESA_MIN}[mpesa.c2b_pull]\n")).unwrap();
    let pull = c.mpesa.unwrap().c2b_pull.unwrap();
    assert!(pull.enabled);
    assert_eq!(pull.interval, std::time::Duration::from_secs(900));
    assert_eq!(pull.lookback, std::time::Duration::from_secs(7200));
    assert_eq!(pull.shortcode, None);
}

#[test]
fn c2b_pull_of_a_named_account_is_its_own() {
    let text = format!(
        "{MPESA_MIN}[mpesa.accounts.till]\nshortcode = \"600111\"\nconsumer_key = \"a\"\nconsumer_secret = \"b\"\npasskey = \"c\"\n[mpesa.accounts.till.c2b_pull]\ninterval = \"1m\"\nlookback = \"10m\"\nshortcode = \"600100\"\n"
    );
    let m = Config::from_toml(&text).unwrap().mpesa.unwrap();
    let accounts = m.all_accounts();
    assert!(
        accounts[0].1.c2b_pull.is_none(),
        "the section's own account pulls only with [mpesa.c2b_pull]"
    );
    let till = accounts[1].1.c2b_pull.as_ref().unwrap();
    assert_eq!(till.lookback, std::time::Duration::from_secs(600));
    assert_eq!(till.shortcode.as_deref(), Some("600100"));
}

#[test]
fn c2b_pull_settings_that_cannot_work_are_refused_with_their_path() {
    for (table, needle) in [
        ("lookback = \"3d\"", "48h"),
        ("interval = \"1h\"\nlookback = \"30m\"", "shorter than interval"),
        ("interval = \"1s\"", "too short"),
        ("shortcode = \"60-00\"", "digits"),
        ("every = \"1m\"", "every"),
    ] {
        let err = Config::from_toml(&format!("{MPESA_MIN}[mpesa.c2b_pull]\n{table}\n")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("mpesa.c2b_pull") && text.contains(needle),
            "{table}: {text}"
        );
    }
}

#[test]
fn postgres_settings_parse_and_default() {
    let c = Config::from_toml(
        "[database]\nurl = \"postgres://malipo@db/malipo\"\npool_size = 4\nstatement_timeout = \"5s\"\nworkers = 3\n",
    )
    .unwrap();
    assert_eq!(c.database.pool_size, 4);
    assert_eq!(c.database.statement_timeout, std::time::Duration::from_secs(5));
    assert_eq!(c.database.workers.get(), 3);
    let d = Config::from_toml("").unwrap();
    assert_eq!(
        (
            d.database.pool_size,
            d.database.statement_timeout.as_secs(),
            d.database.workers.get()
        ),
        (16, 30, 1)
    );
    assert!(Config::from_toml("[database]\nstatement_timeout = \"soon\"\n").is_err());
    // No worker at all is not a setting: the events would never be processed.
    let zero = Config::from_toml("[database]\nworkers = 0\n")
        .unwrap_err()
        .to_string();
    assert!(zero.contains("workers"), "{zero}");
}
