//! `malipo.toml` and `MALIPO_*` overrides: `Config::from_toml` on any UTF-8 never panics.
//!
//! Input: TOML text, optionally followed by a NUL byte and `NAME=value` lines that are applied as
//! environment overrides. On success the derived settings (backend, base URLs) are computed too.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use malipo_config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (toml, env) = text.split_once('\0').unwrap_or((text, ""));

    check(Config::from_toml(toml));

    let vars: Vec<(String, String)> = env
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if !vars.is_empty() {
        check(Config::from_toml_with_env(toml, Path::new("fuzz.toml"), vars));
    }
});

fn check(result: Result<Config, malipo_config::ConfigError>) {
    let config = match result {
        Ok(config) => config,
        Err(e) => {
            let _ = (e.to_string(), format!("{e:?}"));
            return;
        }
    };
    let _ = format!("{config:?}");
    let _ = config.database.backend();
    if let Some(mpesa) = &config.mpesa {
        let _ = (mpesa.api_base_url(), mpesa.api_base_url_for(config.environment));
        assert!(
            mpesa.environment.is_some(),
            "the inherited mpesa environment was not resolved"
        );
    }
    if let Some(paystack) = &config.paystack {
        let _ = paystack.api_base_url();
    }
}
