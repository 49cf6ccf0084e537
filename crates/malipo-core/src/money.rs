use std::fmt;
use std::str::FromStr;

/// An ISO 4217 currency malipo's providers settle in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    /// Kenyan shilling (M-Pesa, Paystack Kenya).
    Kes,
    /// Nigerian naira (kobo).
    Ngn,
    /// Ghanaian cedi (pesewas).
    Ghs,
    /// South African rand (cents).
    Zar,
    /// US dollar (cents).
    Usd,
    /// West African CFA franc (no minor unit).
    Xof,
}

impl Currency {
    /// Every supported currency, for help texts and property tests.
    pub const ALL: [Currency; 6] = [
        Currency::Kes,
        Currency::Ngn,
        Currency::Ghs,
        Currency::Zar,
        Currency::Usd,
        Currency::Xof,
    ];

    /// The ISO 4217 exponent: how many decimal digits the minor unit has.
    pub const fn exponent(self) -> u32 {
        match self {
            Currency::Xof => 0,
            _ => 2,
        }
    }

    /// The ISO 4217 alphabetic code.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::Kes => "KES",
            Currency::Ngn => "NGN",
            Currency::Ghs => "GHS",
            Currency::Zar => "ZAR",
            Currency::Usd => "USD",
            Currency::Xof => "XOF",
        }
    }

    const fn scale(self) -> u64 {
        10u64.pow(self.exponent())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| MoneyError::UnknownCurrency(s.to_string()))
    }
}

/// Why an amount could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not a plain decimal amount.
    #[error(
        "{0:?} is not an amount: expected digits with an optional decimal point, like \"150\" or \"150.50\""
    )]
    Malformed(String),
    /// More decimal places than the currency's minor unit has.
    #[error("{input:?} has {places} decimal places but {currency} has {exponent}")]
    TooPrecise {
        /// The text given.
        input: String,
        /// Decimal places found.
        places: usize,
        /// The currency asked for.
        currency: Currency,
        /// Decimal places the currency allows.
        exponent: u32,
    },
    /// The amount does not fit in 64 bits of minor units.
    #[error("amount overflows: it does not fit in 64-bit minor units")]
    Overflow,
    /// A subtraction would go below zero.
    #[error("amount would be negative")]
    Negative,
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The currency code is not one malipo supports.
    #[error("unknown currency {0:?}: expected one of KES, NGN, GHS, ZAR, USD, XOF")]
    UnknownCurrency(String),
}

/// An amount of money in integer minor units (cents, kobo, pesewas) with its currency.
///
/// Never negative, never a float. Arithmetic is checked: overflow is an error, not a wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Money {
    minor: u64,
    currency: Currency,
}

impl Money {
    /// An amount from minor units (`Money::from_minor(15050, Currency::Kes)` is KES 150.50).
    pub const fn from_minor(minor: u64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// An amount from whole major units (shillings, naira), checked for overflow.
    pub fn from_major(major: u64, currency: Currency) -> Result<Self, MoneyError> {
        major
            .checked_mul(currency.scale())
            .map(|minor| Money { minor, currency })
            .ok_or(MoneyError::Overflow)
    }

    /// Parses `"150"`, `"150.5"` or `"150.50"` in `currency`; more decimals than the currency's
    /// exponent, signs, exponents and anything but ASCII digits are refused.
    pub fn parse(input: &str, currency: Currency) -> Result<Self, MoneyError> {
        let malformed = || MoneyError::Malformed(input.to_string());
        let (whole, frac) = match input.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (input, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || frac.is_some_and(|f| !all_digits(f)) {
            return Err(malformed());
        }
        let frac = frac.unwrap_or("");
        let exponent = currency.exponent();
        if frac.len() > exponent as usize {
            return Err(MoneyError::TooPrecise {
                input: input.to_string(),
                places: frac.len(),
                currency,
                exponent,
            });
        }
        let mut minor: u64 = 0;
        let padded = frac
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(exponent as usize);
        for digit in whole.bytes().chain(padded) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(digit - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        Ok(Money { minor, currency })
    }

    /// The amount in minor units.
    pub const fn minor(self) -> u64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// The amount in whole major units when it has no fractional part (M-Pesa takes only whole
    /// shillings), otherwise `None`.
    pub fn whole_major(self) -> Option<u64> {
        let scale = self.currency.scale();
        (self.minor % scale == 0).then_some(self.minor / scale)
    }

    /// Adds two amounts of the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.minor
            .checked_add(other.minor)
            .map(|minor| Money { minor, ..self })
            .ok_or(MoneyError::Overflow)
    }

    /// Subtracts an amount of the same currency; going below zero is an error.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.minor
            .checked_sub(other.minor)
            .map(|minor| Money { minor, ..self })
            .ok_or(MoneyError::Negative)
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    /// The amount as a plain decimal string without the currency (`"150.50"`).
    pub fn decimal(self) -> String {
        let exponent = self.currency.exponent() as usize;
        if exponent == 0 {
            return self.minor.to_string();
        }
        let scale = self.currency.scale();
        format!("{}.{:0exponent$}", self.minor / scale, self.minor % scale)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency, self.decimal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_with_the_currency_exponent() {
        assert_eq!(Money::parse("150", Currency::Kes).unwrap().minor(), 15_000);
        assert_eq!(Money::parse("150.5", Currency::Kes).unwrap().minor(), 15_050);
        assert_eq!(Money::parse("150.50", Currency::Ngn).unwrap().minor(), 15_050);
        assert_eq!(Money::parse("0.01", Currency::Usd).unwrap().minor(), 1);
        assert_eq!(Money::parse("500", Currency::Xof).unwrap().minor(), 500);
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        for bad in [
            "", ".", "1.", ".5", "-1", "+1", "1e3", "1,000", " 1", "1.2.3", "١٢",
        ] {
            assert!(
                matches!(Money::parse(bad, Currency::Kes), Err(MoneyError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Money::parse("1.005", Currency::Kes),
            Err(MoneyError::TooPrecise { places: 3, .. })
        ));
        assert!(matches!(
            Money::parse("5.0", Currency::Xof),
            Err(MoneyError::TooPrecise { .. })
        ));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(
            Money::parse("184467440737095516.15", Currency::Kes)
                .unwrap()
                .minor(),
            u64::MAX
        );
        assert_eq!(
            Money::parse("184467440737095516.16", Currency::Kes),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::from_major(u64::MAX, Currency::Kes),
            Err(MoneyError::Overflow)
        );
        let max = Money::from_minor(u64::MAX, Currency::Kes);
        assert_eq!(
            max.checked_add(Money::from_minor(1, Currency::Kes)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::from_minor(1, Currency::Kes).checked_sub(Money::from_minor(2, Currency::Kes)),
            Err(MoneyError::Negative)
        );
    }

    #[test]
    fn mixing_currencies_is_refused() {
        let kes = Money::from_minor(1, Currency::Kes);
        let ngn = Money::from_minor(1, Currency::Ngn);
        assert_eq!(
            kes.checked_add(ngn),
            Err(MoneyError::CurrencyMismatch(Currency::Kes, Currency::Ngn))
        );
    }

    #[test]
    fn displays_and_knows_whole_units() {
        let m = Money::parse("150.05", Currency::Kes).unwrap();
        assert_eq!(m.to_string(), "KES 150.05");
        assert_eq!(m.whole_major(), None);
        assert_eq!(
            Money::parse("150", Currency::Kes).unwrap().whole_major(),
            Some(150)
        );
        assert_eq!("kes".parse::<Currency>().unwrap(), Currency::Kes);
        assert!("EUR".parse::<Currency>().is_err());
    }

    fn currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(Currency::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn decimal_round_trips(minor in any::<u64>(), c in currency()) {
            let m = Money::from_minor(minor, c);
            prop_assert_eq!(Money::parse(&m.decimal(), c).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}", c in currency()) {
            let _ = Money::parse(&s, c);
        }

        #[test]
        fn parse_never_panics_on_digit_soup(s in "[0-9.]{0,45}", c in currency()) {
            if let Ok(m) = Money::parse(&s, c) {
                // Whatever parsed must print back to an equal amount.
                prop_assert_eq!(Money::parse(&m.decimal(), c).unwrap(), m);
            }
        }

        #[test]
        fn add_then_sub_is_identity(a in any::<u32>(), b in any::<u32>(), c in currency()) {
            let a = Money::from_minor(a.into(), c);
            let b = Money::from_minor(b.into(), c);
            prop_assert_eq!(a.checked_add(b).unwrap().checked_sub(b).unwrap(), a);
        }
    }
}
