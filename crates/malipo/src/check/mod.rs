//! The production checklist behind `malipo check-config` (and the start-up gate of `serve`).
//!
//! Each rule gives one [`Finding`] line; a FAIL says what to change.

pub(crate) mod rules;

use serde::Serialize;

use malipo_config::Config;

pub use rules::run_all;

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
    pub(crate) fn pass(rule: &'static str, message: impl Into<String>) -> Self {
        Finding {
            rule,
            level: Level::Pass,
            message: message.into(),
            fix: None,
        }
    }

    pub(crate) fn warn(rule: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            rule,
            level: Level::Warn,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    pub(crate) fn fail(rule: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
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
