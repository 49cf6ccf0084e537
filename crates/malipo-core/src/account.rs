//! Names of a deployment's provider accounts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The name of one of a deployment's provider accounts (an M-Pesa shortcode with its Daraja
/// app, a Paystack integration), as the configuration names it: `[mpesa.accounts.NAME]`.
///
/// It appears in callback URLs and webhook paths, so it is kept to 1 to 32 lowercase ASCII
/// letters, digits, `-` and `_`, starting with a letter. `default` is the name of the
/// section's own account and cannot be given to another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountName(String);

/// The name the section's own account (`[mpesa]`, `[paystack]` themselves) goes by.
pub const DEFAULT_ACCOUNT: &str = "default";

/// Names a callback URL already gives a meaning at the account's place in the path.
const RESERVED: [&str; 4] = ["c2b", "stk", "result", "timeout"];

/// Why a text is not an account name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account name {name:?} {problem}")]
pub struct AccountNameError {
    name: String,
    problem: &'static str,
}

impl AccountName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The section's own account.
    pub fn default_account() -> AccountName {
        AccountName(DEFAULT_ACCOUNT.to_string())
    }

    /// Whether this is the section's own account.
    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT_ACCOUNT
    }

    /// Parses a name given to an account in the configuration (not `default`).
    pub fn configured(name: &str) -> Result<AccountName, AccountNameError> {
        let parsed: AccountName = name.parse()?;
        if parsed.is_default() {
            return Err(AccountNameError {
                name: name.to_string(),
                problem: "is reserved for the section's own account ([mpesa] or [paystack] itself)",
            });
        }
        Ok(parsed)
    }
}

impl FromStr for AccountName {
    type Err = AccountNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |problem| {
            Err(AccountNameError {
                name: s.chars().take(40).collect(),
                problem,
            })
        };
        if s.is_empty() || s.len() > 32 {
            return err("must be 1 to 32 characters");
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return err("must start with a lowercase letter");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return err("may hold only lowercase letters, digits, '-' and '_'");
        }
        // Callback URLs put the name where these words already mean something.
        if RESERVED.contains(&s) {
            return err("is a word callback URLs already use (c2b, stk, result, timeout)");
        }
        Ok(AccountName(s.to_string()))
    }
}

impl TryFrom<String> for AccountName {
    type Error = AccountNameError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<AccountName> for String {
    fn from(a: AccountName) -> String {
        a.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_lowercase_and_url_safe() {
        for good in ["ke", "nairobi-till", "gh_2", "a"] {
            assert!(good.parse::<AccountName>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "Nairobi",
            "2ke",
            "ke/till",
            "ke till",
            "ké",
            &"a".repeat(33),
            "-x",
        ] {
            assert!(bad.parse::<AccountName>().is_err(), "{bad:?}");
        }
        assert!(AccountName::configured("default").is_err());
        assert!("default".parse::<AccountName>().unwrap().is_default());
        // 32 characters is the longest name.
        assert!("a".repeat(32).parse::<AccountName>().is_ok());
    }

    #[test]
    fn a_name_is_printed_and_stored_as_written() {
        let name = AccountName::configured("nairobi-till").unwrap();
        assert!(!name.is_default());
        assert_eq!(name.as_str(), "nairobi-till");
        assert_eq!(name.to_string(), "nairobi-till");
        assert_eq!(String::from(name), "nairobi-till");
        assert!(AccountName::default_account().is_default());
    }

    proptest::proptest! {
        #[test]
        fn a_parsed_name_is_safe_in_a_url_path(s in ".{0,40}") {
            if let Ok(name) = s.parse::<AccountName>() {
                proptest::prop_assert!(name.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
                proptest::prop_assert_eq!(name.as_str(), s.as_str());
            }
        }
    }
}
