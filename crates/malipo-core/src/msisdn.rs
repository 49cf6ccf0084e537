use std::fmt;
use std::str::FromStr;

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsisdnError {
    /// Nothing but separators was given.
    #[error("phone number is empty")]
    Empty,
    /// A character other than a digit, a space, a dash or one leading `+`.
    #[error("phone number has {found:?} at position {position}: only digits, spaces, dashes and a leading + are allowed")]
    InvalidCharacter {
        /// The offending character.
        found: char,
        /// Its character index in the input.
        position: usize,
    },
    /// A country code other than Kenya's 254.
    #[error("phone number {0} is not Kenyan: expected the country code 254")]
    NotKenyan(String),
    /// A Kenyan number outside the 7xx and 1xx mobile ranges.
    #[error("phone number is not a Kenyan mobile number: after 254 it must start with 7 or 1, found {0}")]
    NotMobile(char),
    /// The right prefix but the wrong number of digits.
    #[error("phone number has {digits} digits where {expected} were expected (like 0712345678, 254712345678 or +254712345678)")]
    WrongLength {
        /// Digits found.
        digits: usize,
        /// Digits expected for the form it was written in.
        expected: usize,
    },
}

/// A Kenyan mobile number, always stored as `2547XXXXXXXX` or `2541XXXXXXXX`.
///
/// Parses `0712345678`, `0112345678`, `+254712345678`, `254712345678` and `712345678`, with spaces
/// or dashes anywhere. `Display` and `Debug` mask the middle digits (`2547****5678`) so numbers can
/// be logged; [`Msisdn::as_str`] gives the full number for the API call.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn(String);

impl Msisdn {
    /// The full normalised number, `2547XXXXXXXX` or `2541XXXXXXXX`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number for logs: country code and first digit, four stars, last four digits.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..4], &self.0[8..])
    }

    /// The number as an integer, the way Daraja's callbacks carry `PhoneNumber`.
    pub fn as_u64(&self) -> u64 {
        // Twelve ASCII digits always fit in a u64.
        self.0.bytes().fold(0, |n, b| n * 10 + u64::from(b - b'0'))
    }
}

impl FromStr for Msisdn {
    type Err = MsisdnError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut digits = String::with_capacity(13);
        let mut seen_plus = false;
        for (position, c) in input.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                '+' if digits.is_empty() && !seen_plus => seen_plus = true,
                found => return Err(MsisdnError::InvalidCharacter { found, position }),
            }
        }
        if digits.is_empty() {
            return Err(MsisdnError::Empty);
        }
        let (national, expected_total) = if let Some(rest) = digits.strip_prefix("254") {
            (rest, 12)
        } else if seen_plus {
            return Err(MsisdnError::NotKenyan(format!("+{digits}")));
        } else if let Some(rest) = digits.strip_prefix('0') {
            (rest, 10)
        } else {
            (digits.as_str(), 9)
        };
        match national.chars().next() {
            Some('7' | '1') => {}
            Some(other) => return Err(MsisdnError::NotMobile(other)),
            None => {
                return Err(MsisdnError::WrongLength {
                    digits: digits.len(),
                    expected: expected_total,
                })
            }
        }
        if national.len() != 9 {
            return Err(MsisdnError::WrongLength {
                digits: digits.len(),
                expected: expected_total,
            });
        }
        Ok(Msisdn(format!("254{national}")))
    }
}

impl TryFrom<u64> for Msisdn {
    type Error = MsisdnError;
    fn try_from(n: u64) -> Result<Self, Self::Error> {
        n.to_string().parse()
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msisdn({})", self.masked())
    }
}

impl serde::Serialize for Msisdn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Msisdn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_every_kenyan_form() {
        for input in [
            "0712345678",
            "+254712345678",
            "254712345678",
            "712345678",
            "0712 345 678",
            "+254-712-345-678",
            " 254 712 345678 ",
        ] {
            assert_eq!(
                input.parse::<Msisdn>().unwrap().as_str(),
                "254712345678",
                "{input}"
            );
        }
        assert_eq!("0110345678".parse::<Msisdn>().unwrap().as_str(), "254110345678");
        assert_eq!(
            "+254 110 345 678".parse::<Msisdn>().unwrap().as_str(),
            "254110345678"
        );
        assert_eq!(Msisdn::try_from(254708374149).unwrap().as_str(), "254708374149");
    }

    #[test]
    fn errors_name_the_problem() {
        use MsisdnError::*;
        assert_eq!("".parse::<Msisdn>(), Err(Empty));
        assert_eq!(" - ".parse::<Msisdn>(), Err(Empty));
        assert_eq!(
            "07123x5678".parse::<Msisdn>(),
            Err(InvalidCharacter {
                found: 'x',
                position: 5
            })
        );
        assert_eq!(
            "+255712345678".parse::<Msisdn>(),
            Err(NotKenyan("+255712345678".into()))
        );
        assert_eq!("0812345678".parse::<Msisdn>(), Err(NotMobile('8')));
        assert_eq!("254212345678".parse::<Msisdn>(), Err(NotMobile('2')));
        assert_eq!(
            "071234567".parse::<Msisdn>(),
            Err(WrongLength {
                digits: 9,
                expected: 10
            })
        );
        assert_eq!(
            "2547123456789".parse::<Msisdn>(),
            Err(WrongLength {
                digits: 13,
                expected: 12
            })
        );
        assert_eq!(
            "254".parse::<Msisdn>(),
            Err(WrongLength {
                digits: 3,
                expected: 12
            })
        );
        assert_eq!(
            "07+12345678".parse::<Msisdn>(),
            Err(InvalidCharacter {
                found: '+',
                position: 2
            })
        );
    }

    #[test]
    fn display_and_debug_mask() {
        let m: Msisdn = "0712345678".parse().unwrap();
        assert_eq!(m.to_string(), "2547****5678");
        assert_eq!(format!("{m:?}"), "Msisdn(2547****5678)");
        assert_eq!(m.as_u64(), 254712345678);
    }

    proptest! {
        #[test]
        fn every_form_round_trips(prefix in prop::sample::select(vec!['7', '1']), rest in "[0-9]{8}") {
            let canonical = format!("254{prefix}{rest}");
            for form in [
                canonical.clone(),
                format!("+{canonical}"),
                format!("0{prefix}{rest}"),
                format!("{prefix}{rest}"),
                format!("0{prefix}{} {}", &rest[..2], &rest[2..]),
            ] {
                let parsed: Msisdn = form.parse().unwrap();
                prop_assert_eq!(parsed.as_str(), canonical.as_str());
                let again: Msisdn = parsed.as_str().parse().unwrap();
                prop_assert_eq!(again, parsed);
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,30}") {
            if let Ok(m) = s.parse::<Msisdn>() {
                prop_assert_eq!(m.as_str().len(), 12);
                prop_assert!(m.as_str().starts_with("2547") || m.as_str().starts_with("2541"));
            }
        }

        #[test]
        fn never_panics_on_phone_like_soup(s in "[+0-9 -]{0,20}") {
            let _ = s.parse::<Msisdn>();
        }
    }
}
