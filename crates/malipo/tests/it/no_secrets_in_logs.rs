//! Drives the commands with known secrets at the most verbose log level, in both log formats,
//! and asserts that no secret appears in anything malipo prints.

use crate::common::{make_cert, malipo, text};

const SECRETS: [&str; 6] = [
    "ck-KNOWN-consumer-key-7f3a",
    "cs-KNOWN-consumer-secret-91bd",
    "pk-KNOWN-passkey-c0ffee",
    "sk_live_KNOWN_paystack_5e5e",
    "whsec_S05PV05fbWVyY2hhbnRfc2VjcmV0",
    "KNOWN-initiator-pw-42",
];

fn assert_clean(label: &str, out: &std::process::Output) {
    let (stdout, stderr) = text(out);
    for secret in SECRETS {
        assert!(!stdout.contains(secret), "{label}: {secret} on stdout:\n{stdout}");
        assert!(!stderr.contains(secret), "{label}: {secret} on stderr:\n{stderr}");
    }
}

#[test]
fn no_command_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, _) = make_cert(dir.path(), "c", "apisandbox.safaricom.example");
    let config = dir.path().join("malipo.toml");
    // Literal secrets (sandbox) and references both, so both paths are exercised.
    std::fs::write(
        &config,
        format!(
            r#"
[database]
url = "sqlite://{db}"
[mpesa]
shortcode = "174379"
consumer_key = "{ck}"
consumer_secret = {{ env = "T_CS" }}
passkey = {{ env = "T_PK" }}
initiator_name = "apiop"
security_credential = {{ env = "T_PW" }}
certificate = "{cert}"
[paystack]
secret_key = {{ env = "T_SK" }}
[merchant]
webhook_url = "https://shop.example/hooks"
signing_secret = "{wh}"
"#,
            db = dir.path().join("m.db").display(),
            ck = SECRETS[0],
            cert = cert.display(),
            wh = SECRETS[4],
        ),
    )
    .unwrap();
    let env = [
        ("T_CS", SECRETS[1]),
        ("T_PK", SECRETS[2]),
        ("T_SK", SECRETS[3]),
        // A plaintext password where the credential belongs: check-config must say so without
        // echoing it.
        ("T_PW", SECRETS[5]),
        ("MALIPO_LOG", "trace"),
    ];
    let cfg = config.to_str().unwrap();
    for format in ["pretty", "json"] {
        for args in [
            vec!["check-config", "--config", cfg],
            vec!["check-config", "--config", cfg, "--format", "json"],
        ] {
            let mut full = vec!["--log-format", format];
            full.extend(args);
            let out = malipo(&full, &env, None);
            assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
            assert!(text(&out).0.contains("security-credential-is-ciphertext"));
            assert_clean(&format!("{full:?}"), &out);
        }
        let out = malipo(
            &[
                "--log-format",
                format,
                "security-credential",
                "--cert",
                cert.to_str().unwrap(),
                "--password-env",
                "T_PW",
            ],
            &env,
            None,
        );
        assert!(out.status.success());
        assert_clean("security-credential", &out);
    }
}
