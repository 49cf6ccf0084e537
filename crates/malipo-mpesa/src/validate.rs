//! Field checks done before anything is sent, so Daraja's vaguer `400.002.02` never happens for
//! a mistake we can see ourselves.

use malipo_core::{Currency, Money};
use url::Url;

use crate::MpesaError;

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> MpesaError {
    MpesaError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Daraja moves whole Kenyan shillings only, at least 1.
pub(crate) fn whole_shillings(field: &'static str, amount: Money) -> Result<u64, MpesaError> {
    if amount.currency() != Currency::Kes {
        return Err(invalid(
            field,
            format!("{amount} is not in KES; M-Pesa moves Kenyan shillings only"),
        ));
    }
    match amount.whole_major() {
        Some(0) => Err(invalid(field, "the amount is zero; the minimum is KES 1")),
        Some(shillings) => Ok(shillings),
        None => {
            let below = amount.minor() / 100;
            let instead = match below {
                0 => "1".to_string(),
                n => format!("{n} or {}", n + 1),
            };
            Err(invalid(
                field,
                format!("{amount} is not a whole number of shillings (M-Pesa takes no cents): use {instead}"),
            ))
        }
    }
}

/// Free text of `min..=max` characters without control characters.
pub(crate) fn text(field: &'static str, value: &str, min: usize, max: usize) -> Result<(), MpesaError> {
    let len = value.chars().count();
    if len < min {
        return Err(invalid(
            field,
            if min == 1 {
                "it is empty".to_string()
            } else {
                format!("it has {len} characters; at least {min} are required")
            },
        ));
    }
    if len > max {
        return Err(invalid(
            field,
            format!("it has {len} characters; Daraja accepts at most {max}"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "it contains control characters"));
    }
    Ok(())
}

/// A shortcode, till, or transaction-free numeric identifier: 1 to 12 ASCII digits.
pub(crate) fn digits(field: &'static str, value: &str) -> Result<(), MpesaError> {
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            field,
            format!("{value:?} is not a shortcode: expected 1 to 12 digits"),
        ));
    }
    Ok(())
}

/// A Daraja transaction id such as `NLJ7RT61SV`: 1 to 20 ASCII letters and digits.
pub(crate) fn transaction_id(field: &'static str, value: &str) -> Result<(), MpesaError> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid(
            field,
            format!("{value:?} is not an M-Pesa transaction id: expected letters and digits like NLJ7RT61SV"),
        ));
    }
    Ok(())
}

/// A callback URL Daraja can POST to.
pub(crate) fn callback_url(field: &'static str, url: &Url) -> Result<(), MpesaError> {
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(invalid(field, format!("{url} is not an http(s) URL with a host")));
    }
    Ok(())
}

/// Words Daraja refuses in C2B callback URLs at registration (PROVIDERS.md).
const FORBIDDEN_URL_WORDS: [&str; 6] = ["mpesa", "safaricom", "exec", "cmd", "sql", "query"];

/// A C2B confirmation or validation URL: an http(s) URL without words Daraja rejects.
pub(crate) fn c2b_url(field: &'static str, url: &Url) -> Result<(), MpesaError> {
    callback_url(field, url)?;
    let lower = url.as_str().to_ascii_lowercase();
    if let Some(word) = FORBIDDEN_URL_WORDS.iter().find(|w| lower.contains(*w)) {
        return Err(invalid(
            field,
            format!("{url} contains {word:?}, which Daraja refuses in C2B URLs"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_must_be_whole_kes() {
        assert_eq!(
            whole_shillings("Amount", Money::from_minor(10_000, Currency::Kes)).unwrap(),
            100
        );
        let cents = whole_shillings("Amount", Money::from_minor(10_050, Currency::Kes)).unwrap_err();
        assert!(
            cents.to_string().contains(
                "KES 100.50 is not a whole number of shillings (M-Pesa takes no cents): use 100 or 101"
            ),
            "{cents}"
        );
        let below_one = whole_shillings("Amount", Money::from_minor(50, Currency::Kes)).unwrap_err();
        assert!(below_one.to_string().ends_with("use 1"), "{below_one}");
        let usd = whole_shillings("Amount", Money::from_minor(100, Currency::Usd)).unwrap_err();
        assert!(usd.to_string().contains("KES"), "{usd}");
        assert!(whole_shillings("Amount", Money::from_minor(0, Currency::Kes)).is_err());
    }

    #[test]
    fn text_limits_count_characters() {
        assert!(text("AccountReference", "INV-00012345", 1, 12).is_ok());
        let long = text("AccountReference", "INV-000123456", 1, 12).unwrap_err();
        assert!(long.to_string().contains("at most 12"), "{long}");
        assert!(text("TransactionDesc", "", 1, 13).is_err());
        assert!(text("TransactionDesc", "a\nb", 1, 13).is_err());
        // Multi-byte characters count once.
        assert!(text("TransactionDesc", "ñññññññññññññ", 1, 13).is_ok());
    }

    #[test]
    fn text_says_empty_or_how_many_are_missing() {
        let empty = text("Remarks", "", 1, 100).unwrap_err();
        assert!(empty.to_string().ends_with("it is empty"), "{empty}");
        let short = text("Occasion", "ab", 3, 100).unwrap_err();
        assert!(
            short
                .to_string()
                .ends_with("it has 2 characters; at least 3 are required"),
            "{short}"
        );
        assert!(text("Occasion", "abc", 3, 100).is_ok());
    }

    #[test]
    fn shortcodes_are_1_to_12_digits() {
        for ok in ["1", "174379", "123456789012"] {
            assert!(digits("PartyB", ok).is_ok(), "{ok}");
        }
        for bad in ["", "1234567890123", "17437a", " 174379", "１２３"] {
            let err = digits("PartyB", bad).unwrap_err();
            assert!(
                err.to_string().contains("expected 1 to 12 digits"),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn transaction_ids_are_1_to_20_letters_and_digits() {
        for ok in ["N", "NLJ7RT61SV", "ABCDEFGHIJ0123456789"] {
            assert!(transaction_id("TransactionID", ok).is_ok(), "{ok}");
        }
        for bad in ["", "ABCDEFGHIJ01234567890", "NLJ7-RT61SV", "NLJ7RT61S\u{e9}"] {
            let err = transaction_id("TransactionID", bad).unwrap_err();
            assert!(
                err.to_string().contains("not an M-Pesa transaction id"),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn c2b_urls_refuse_daraja_forbidden_words() {
        let ok: Url = "https://shop.example.com/hooks/c2b/confirm".parse().unwrap();
        assert!(c2b_url("ConfirmationURL", &ok).is_ok());
        let bad: Url = "https://shop.example.com/mpesa/confirm".parse().unwrap();
        assert!(c2b_url("ConfirmationURL", &bad).is_err());
        let ftp: Url = "ftp://shop.example.com/x".parse().unwrap();
        assert!(callback_url("CallBackURL", &ftp).is_err());
    }
}
