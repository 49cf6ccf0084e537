//! Secret references: where a secret comes from, never the secret itself (except in sandbox).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use malipo_core::Secret;
use serde::Deserialize;

use crate::command::{CommandRef, DEFAULT_CACHE, DEFAULT_TIMEOUT};
use crate::ConfigError;

/// Where a secret is read from.
///
/// In `malipo.toml`:
/// ```toml
/// consumer_key = { env = "MPESA_CONSUMER_KEY" }
/// passkey = { file = "/run/secrets/mpesa_passkey" }
/// secret_key = "sk_test_obviously_fake"   # a literal: sandbox only
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The value of an environment variable.
    Env(String),
    /// The contents of a file (one trailing newline trimmed).
    File(PathBuf),
    /// The standard output of a program (a secrets manager's client), run without a shell.
    Command(CommandRef),
    /// A literal written in the config file; refused in production by `check-config`.
    Literal(Secret<String>),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(var) => write!(f, "{{ env = {var:?} }}"),
            SecretRef::File(path) => write!(f, "{{ file = {:?} }}", path.display().to_string()),
            SecretRef::Command(c) => write!(f, "{{ command = {:?} }}", c.argv),
            SecretRef::Literal(_) => f.write_str("<literal [REDACTED]>"),
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(var) => write!(f, "environment variable {var}"),
            SecretRef::File(path) => write!(f, "file {}", path.display()),
            SecretRef::Command(c) => write!(f, "command {:?}", c.program()),
            SecretRef::Literal(_) => f.write_str("a literal in the config file"),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSecretRef {
    Literal(String),
    Table(RawTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    env: Option<String>,
    file: Option<PathBuf>,
    command: Option<Vec<String>>,
    timeout_secs: Option<u64>,
    cache_secs: Option<u64>,
    pass_env: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = RawSecretRef::deserialize(d).map_err(|_| {
            D::Error::custom(
                "expected a secret reference: { env = \"VAR\" }, { file = \"PATH\" } or { command = [\"PROGRAM\", \"ARG\"…] } (a plain string is a literal, allowed in sandbox only)",
            )
        })?;
        let table = match raw {
            RawSecretRef::Literal(s) => return Ok(SecretRef::Literal(Secret::new(s))),
            RawSecretRef::Table(t) => t,
        };
        let no_command_options =
            table.timeout_secs.is_none() && table.cache_secs.is_none() && table.pass_env.is_none();
        match table {
            RawTable {
                env: Some(var),
                file: None,
                command: None,
                ..
            } if no_command_options => Ok(SecretRef::Env(var)),
            RawTable {
                env: None,
                file: Some(path),
                command: None,
                ..
            } if no_command_options => Ok(SecretRef::File(path)),
            RawTable {
                env: None,
                file: None,
                command: Some(argv),
                timeout_secs,
                cache_secs,
                pass_env,
            } => {
                if argv.first().is_none_or(|p| p.trim().is_empty()) {
                    return Err(D::Error::custom(
                        "`command` needs the program and its arguments, like [\"vault\", \"kv\", \"get\", \"-field=passkey\", \"secret/mpesa\"]",
                    ));
                }
                Ok(SecretRef::Command(CommandRef {
                    argv,
                    timeout: timeout_secs.map(Duration::from_secs).unwrap_or(DEFAULT_TIMEOUT),
                    cache_for: cache_secs.map(Duration::from_secs).unwrap_or(DEFAULT_CACHE),
                    pass_env: pass_env.unwrap_or_default(),
                }))
            }
            _ => Err(D::Error::custom(
                "a secret reference takes exactly one of `env`, `file` or `command` (`timeout_secs`, `cache_secs` and `pass_env` go with `command`)",
            )),
        }
    }
}

impl SecretRef {
    /// Whether the secret is written in the config file itself.
    pub fn is_literal(&self) -> bool {
        matches!(self, SecretRef::Literal(_))
    }

    /// Reads the secret now. Errors name the variable or file, never the value.
    pub fn resolve(&self) -> Result<Secret<String>, ConfigError> {
        let value = match self {
            SecretRef::Literal(s) => return non_empty(s.expose().clone(), self),
            SecretRef::Env(var) => std::env::var(var).map_err(|e| ConfigError::Secret {
                source_desc: self.to_string(),
                problem: match e {
                    std::env::VarError::NotPresent => "is not set".into(),
                    std::env::VarError::NotUnicode(_) => "is not valid UTF-8".into(),
                },
            })?,
            SecretRef::Command(c) => {
                return c.resolve().map_err(|problem| ConfigError::Secret {
                    source_desc: self.to_string(),
                    problem: format!("failed: {problem}"),
                })
            }
            SecretRef::File(path) => std::fs::read_to_string(path).map_err(|e| ConfigError::Secret {
                source_desc: self.to_string(),
                problem: format!("cannot be read: {e}"),
            })?,
        };
        // Files and `echo` add one newline that is not part of the secret.
        let value = value
            .strip_suffix('\n')
            .map(|v| v.strip_suffix('\r').unwrap_or(v))
            .unwrap_or(&value);
        non_empty(value.to_string(), self)
    }
}

fn non_empty(value: String, from: &SecretRef) -> Result<Secret<String>, ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::Secret {
            source_desc: from.to_string(),
            problem: "is empty".into(),
        })
    } else {
        Ok(Secret::new(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        s: SecretRef,
    }

    fn parse(s: &str) -> Result<SecretRef, toml::de::Error> {
        toml::from_str::<Holder>(s).map(|h| h.s)
    }

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(parse(r#"s = { env = "X" }"#).unwrap(), SecretRef::Env("X".into()));
        assert_eq!(
            parse(r#"s = { file = "/p" }"#).unwrap(),
            SecretRef::File("/p".into())
        );
        assert!(parse(r#"s = "lit""#).unwrap().is_literal());
        assert!(parse(r#"s = { env = "X", file = "/p" }"#).is_err());
        assert!(parse(r#"s = { vault = "X" }"#).is_err());
        assert!(parse("s = 5").is_err());
    }

    #[test]
    fn literal_never_prints() {
        let r = parse(r#"s = "sk_live_super_fake_value""#).unwrap();
        assert!(!format!("{r:?} {r}").contains("super_fake"));
    }

    #[test]
    fn file_trims_one_newline_and_refuses_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, "abc\n").unwrap();
        assert_eq!(SecretRef::File(p.clone()).resolve().unwrap().expose(), "abc");
        std::fs::write(&p, "\n").unwrap();
        let err = SecretRef::File(p.clone()).resolve().unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
        let missing = SecretRef::File(dir.path().join("nope"))
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot be read"), "{missing}");
    }

    #[test]
    fn env_errors_name_the_variable() {
        let err = SecretRef::Env("MALIPO_TEST_SURELY_UNSET_VAR".into())
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MALIPO_TEST_SURELY_UNSET_VAR") && err.contains("is not set"),
            "{err}"
        );
    }
}
