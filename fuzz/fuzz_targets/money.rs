//! Amounts from callbacks and the API: `Money::parse` (every currency) and `Currency::from_str`
//! on any UTF-8.
//!
//! `Money::parse` agrees with an independent big-number reading of the text (value, and which
//! error); on success the canonical form `decimal()` parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_core::{Currency, Money, MoneyError};

#[derive(Debug, PartialEq)]
enum Expected {
    Minor(u64),
    Malformed,
    TooPrecise,
    Overflow,
}

/// The reading `Money::parse` documents: digits, optionally `.` and at most `exponent` digits.
fn oracle(input: &str, exponent: usize) -> Expected {
    let (whole, frac) = match input.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (input, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || frac.is_some_and(|f| !digits(f)) {
        return Expected::Malformed;
    }
    let frac = frac.unwrap_or("");
    if frac.len() > exponent {
        return Expected::TooPrecise;
    }
    let all = format!("{whole}{frac:0<exponent$}");
    let significant = all.trim_start_matches('0');
    // u64::MAX has 20 digits; anything longer overflows, anything up to 20 fits in a u128.
    if significant.len() > 20 {
        return Expected::Overflow;
    }
    let value: u128 = if significant.is_empty() {
        0
    } else {
        significant.parse().expect("digits")
    };
    u64::try_from(value).map_or(Expected::Overflow, Expected::Minor)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    for currency in Currency::ALL {
        let parsed = Money::parse(text, currency);
        let got = match &parsed {
            Ok(m) => Expected::Minor(m.minor()),
            Err(MoneyError::Malformed(_)) => Expected::Malformed,
            Err(MoneyError::TooPrecise { .. }) => Expected::TooPrecise,
            Err(MoneyError::Overflow) => Expected::Overflow,
            Err(other) => panic!("Money::parse({text:?}) gave an unexpected error: {other:?}"),
        };
        assert_eq!(
            got,
            oracle(text, currency.exponent() as usize),
            "Money::parse({text:?}, {currency})"
        );
        if let Err(e) = &parsed {
            let _ = e.to_string();
        }
        let Ok(money) = parsed else {
            continue;
        };
        assert_eq!(money.currency(), currency);

        let canonical = money.decimal();
        assert_eq!(
            Money::parse(&canonical, currency),
            Ok(money),
            "decimal() {canonical:?} does not parse back"
        );
        assert_eq!(money.to_string(), format!("{} {canonical}", currency.code()));

        let scale = 10u64.pow(currency.exponent());
        match money.whole_major() {
            Some(major) => {
                assert_eq!(money.minor() % scale, 0);
                assert_eq!(Money::from_major(major, currency), Ok(money));
            }
            None => assert_ne!(money.minor() % scale, 0),
        }
    }

    if let Ok(currency) = text.parse::<Currency>() {
        assert!(
            currency.code().eq_ignore_ascii_case(text.trim()),
            "{text:?} parsed as {currency}"
        );
        assert_eq!(currency.code().parse::<Currency>(), Ok(currency));
    }
});
