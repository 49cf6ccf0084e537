//! Loading: the file, then `MALIPO_*` environment overrides, then one typed deserialisation.

use std::path::{Path, PathBuf};

use crate::{Config, ConfigError};

/// The file read when neither `--config` nor `MALIPO_CONFIG` names one.
pub const DEFAULT_PATH: &str = "malipo.toml";

/// Variables that belong to the command line, not to the file.
const NOT_OVERRIDES: [&str; 3] = ["MALIPO_CONFIG", "MALIPO_LOG", "MALIPO_LOG_FORMAT"];

/// Top-level keys that can be overridden without a `__` (`MALIPO_ENVIRONMENT=production`).
/// Any other variable without `__` is not an override: a secret kept in `MALIPO_WEBHOOK_SECRET`
/// must not be read as a configuration key.
const TOP_LEVEL_OVERRIDES: [&str; 1] = ["MALIPO_ENVIRONMENT"];

/// Keys whose values are digit strings that must stay strings.
const DIGIT_STRING_KEYS: [&str; 3] = ["shortcode", "till_number", "initiator_name"];

impl Config {
    /// Reads `path` (default `./malipo.toml`), applies `MALIPO_*` overrides from the process
    /// environment, and checks every key.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let path = path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::from_toml_with_env(&text, &path, std::env::vars())
    }

    /// Parses a configuration from text, with no environment overrides.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_with_env(text, Path::new("<text>"), std::iter::empty())
    }

    /// Parses `text` (read from `path`, for messages) and applies the `MALIPO_*` variables in `env`:
    /// `MALIPO_SERVER__BIND=0.0.0.0:8080` sets `server.bind` (`__` separates table levels).
    pub fn from_toml_with_env(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut root: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: syntax_message(text, &e),
        })?;
        let mut overridden = Vec::new();
        for (var, value) in env {
            if let Some(key) = apply_override(&mut root, &var, value)? {
                overridden.push((key, var));
            }
        }
        let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(root)).map_err(|e| {
            let key = e.path().to_string();
            let message = one_line(&e.inner().to_string());
            // A value from the environment is blamed on its variable, not on the file.
            match overridden.iter().find(|(k, _)| *k == key) {
                Some((_, var)) => ConfigError::Override {
                    var: var.clone(),
                    message: format!("`{key}`: {message}"),
                },
                None => ConfigError::Invalid {
                    path: path.to_path_buf(),
                    key,
                    message,
                },
            }
        })?;
        config.overridden = overridden;
        // `default` names each section's own account; a table of that name would be a second one.
        let reserved = |section: &str, named: bool| -> Result<(), ConfigError> {
            if named {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    key: format!("{section}.accounts.default"),
                    message: format!(
                        "\"default\" names the account of [{section}] itself; give this account another name"
                    ),
                });
            }
            Ok(())
        };
        if let Some(m) = &config.mpesa {
            reserved("mpesa", m.accounts.keys().any(|n| n.is_default()))?;
            for (name, account) in m.all_accounts() {
                let Some(problem) = account.c2b_pull.as_ref().and_then(|p| p.problem()) else {
                    continue;
                };
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    key: if name.is_default() {
                        "mpesa.c2b_pull".to_string()
                    } else {
                        format!("mpesa.accounts.{name}.c2b_pull")
                    },
                    message: problem,
                });
            }
        }
        if let Some(p) = &config.paystack {
            reserved("paystack", p.accounts.keys().any(|n| n.is_default()))?;
        }
        // Resolve the inherited environment once, so no caller can forget it.
        let top = config.environment;
        if let Some(m) = config.mpesa.as_mut() {
            m.environment.get_or_insert(top);
        }
        Ok(config)
    }
}

/// The deserialiser's message on one line: its "in `table`" line repeats the key path the
/// error already names.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("in `"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where and what the syntax error is, without the offending line: the parser's own message
/// quotes it, and a mis-quoted literal secret would then reach the terminal or a CI log.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let what = e.message().trim_end();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {what}")
        }
        None => what.to_string(),
    }
}

/// Applies one variable; the dotted key it set, when it is an override.
fn apply_override(root: &mut toml::Table, var: &str, value: String) -> Result<Option<String>, ConfigError> {
    let Some(rest) = var.strip_prefix("MALIPO_") else {
        return Ok(None);
    };
    if NOT_OVERRIDES.contains(&var) || !(rest.contains("__") || TOP_LEVEL_OVERRIDES.contains(&var)) {
        return Ok(None);
    }
    let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if keys.iter().any(String::is_empty) {
        return Err(ConfigError::Override {
            var: var.to_string(),
            message: "empty key segment: use MALIPO_SECTION__KEY".into(),
        });
    }
    let (last, parents) = keys.split_last().expect("split yields at least one segment");
    let mut table = root;
    for key in parents {
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry.as_table_mut().ok_or_else(|| ConfigError::Override {
            var: var.to_string(),
            message: format!("`{key}` is not a table in the config file"),
        })?;
    }
    let existing_is_string = matches!(table.get(last), Some(toml::Value::String(_)));
    let parsed = typed_value(&value, last, existing_is_string);
    table.insert(last.clone(), parsed);
    Ok(Some(keys.join(".")))
}

/// Environment variables are strings; give numbers, booleans and inline arrays/tables their
/// TOML type unless the key is known to hold digit strings.
fn typed_value(value: &str, key: &str, keep_string: bool) -> toml::Value {
    let trimmed = value.trim();
    if keep_string || DIGIT_STRING_KEYS.contains(&key) {
        return toml::Value::String(value.to_string());
    }
    let looks_typed = matches!(trimmed, "true" | "false")
        || trimmed.starts_with('[')
        || trimmed.starts_with('{')
        || (!trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()));
    if looks_typed {
        if let Ok(mut t) = format!("v = {trimmed}").parse::<toml::Table>() {
            if let Some(v) = t.remove("v") {
                return v;
            }
        }
    }
    toml::Value::String(value.to_string())
}
