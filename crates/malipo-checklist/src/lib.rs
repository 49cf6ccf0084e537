//! The production checklist: every rule a deployment that moves real money must pass (https
//! callback URLs, provider source-address checks, no literal secrets, a security credential that
//! is ciphertext for the right certificate, https merchant endpoints…).
//!
//! `malipo check-config` prints it, and `Gateway::from_config` refuses a production
//! configuration with a FAIL, so an embedder gets the same refusal as `malipo serve`.
//!
//! Each rule gives one [`Finding`] line; a FAIL says what to change.
//!
//! ```
//! let config = malipo_config::Config::from_toml(
//!     "environment = \"production\"\n[server]\npublic_base_url = \"http://pay.example\"\n",
//! )
//! .unwrap();
//! let findings = malipo_checklist::check(&config, Default::default());
//! let failed = malipo_checklist::failures(&findings);
//! assert!(failed.iter().any(|f| f.rule == "callback-urls-https"));
//! ```

mod rules;

use serde::Serialize;

use malipo_config::Config;

pub use rules::{production, run_all, secret_refs};

/// How a rule came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// The rule holds.
    Pass,
    /// Worth a look, but not unsafe.
    Warn,
    /// Unsafe or broken: fix before going live.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable rule name, such as `callback-urls-https`.
    pub rule: &'static str,
    /// Pass, warn or fail.
    pub level: Level,
    /// What was found.
    pub message: String,
    /// What to change (FAIL and WARN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    /// A PASS finding of `rule`.
    pub fn pass(rule: &'static str, message: impl Into<String>) -> Self {
        Finding {
            rule,
            level: Level::Pass,
            message: message.into(),
            fix: None,
        }
    }

    /// A WARN finding of `rule`.
    pub fn warn(rule: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            rule,
            level: Level::Warn,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// A FAIL finding of `rule`.
    pub fn fail(rule: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            rule,
            level: Level::Fail,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// The report line: `[PASS] rule: message`, with the fix on the next line.
    pub fn render(&self) -> String {
        let tag = match self.level {
            Level::Pass => "[PASS]",
            Level::Warn => "[WARN]",
            Level::Fail => "[FAIL]",
        };
        match &self.fix {
            Some(fix) => format!("{tag} {}: {}\n       fix: {fix}", self.rule, self.message),
            None => format!("{tag} {}: {}", self.rule, self.message),
        }
    }
}

/// Options of a checklist run.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Stop at the first FAIL.
    pub fail_fast: bool,
}

/// The FAILs among `findings`.
pub fn failures(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.level == Level::Fail).collect()
}

/// The findings of a run, in rule order.
pub fn check(config: &Config, options: CheckOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    run_all(config, &mut |f: Finding| {
        let stop = options.fail_fast && f.level == Level::Fail;
        out.push(f);
        !stop
    });
    out
}
