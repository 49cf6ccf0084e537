//! An embedder calling `Gateway::from_config` gets the same refusal as `malipo serve`: a
//! production configuration with a checklist FAIL is not built.

use malipo_config::Config;
use malipo_gateway::{Gateway, GatewayError};

fn config(dir: &tempfile::TempDir, environment: &str) -> Config {
    Config::from_toml(&format!(
        r#"
environment = "{environment}"
[server]
public_base_url = "http://pay.shop.example"
[database]
url = "sqlite://{db}"
[paystack]
secret_key = "sk_live_literal_obviously_fake"
verify_source_ip = false
"#,
        db = dir.path().join("gw.db").display()
    ))
    .unwrap()
}

#[tokio::test]
async fn a_production_config_that_fails_the_checklist_is_not_built() {
    let dir = tempfile::tempdir().unwrap();
    let err = match Gateway::from_config(&config(&dir, "production")).await {
        Ok(_) => panic!("a production config with an http callback URL was built"),
        Err(e) => e,
    };
    let GatewayError::Checklist(failed) = &err else {
        panic!("expected the checklist's refusal, got {err}")
    };
    let rules: Vec<&str> = failed.iter().map(|f| f.rule).collect();
    for rule in [
        "callback-urls-https",
        "callback-source-ip-verification",
        "no-literal-secrets",
    ] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
    let text = err.to_string();
    assert!(text.contains("fix:"), "the refusal says what to change: {text}");
    assert!(!text.contains("sk_live_literal"), "a secret was printed: {text}");
    // Nothing was created: the refusal comes before the database is opened.
    assert!(!dir.path().join("gw.db").exists());
}

#[tokio::test]
async fn sandbox_is_built_and_the_override_skips_the_checklist() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Gateway::from_config(&config(&dir, "sandbox")).await.is_ok());
    let dir = tempfile::tempdir().unwrap();
    assert!(Gateway::from_config_unchecked(&config(&dir, "production"))
        .await
        .is_ok());
}
