//! Decoding helpers for the loosely typed values in Daraja callbacks.

use malipo_core::{Currency, Money};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A list that Daraja sometimes sends as a single object (`ReferenceItem`, `ResultParameter`).
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Many(Vec<T>),
            One(T),
        }
        Ok(match Option::<Raw<T>>::deserialize(d)? {
            Some(Raw::Many(v)) => OneOrMany(v),
            Some(Raw::One(t)) => OneOrMany(vec![t]),
            None => OneOrMany(Vec::new()),
        })
    }
}

impl<T: Serialize> Serialize for OneOrMany<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// An integer, or a string holding one (`0`, `"0"`, `1032`).
pub(crate) fn int_or_numeric_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        I(i64),
        S(String),
    }
    match Raw::deserialize(d)? {
        Raw::I(i) => Ok(i),
        Raw::S(s) => s.trim().parse().map_err(|_| {
            serde::de::Error::custom(format!("expected a numeric result code, found the string {s:?}"))
        }),
    }
}

/// Like [`int_or_numeric_string`], for optional fields.
pub(crate) fn opt_int_or_numeric_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "int_or_numeric_string")] i64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// A string or a number as text (receipts, phone numbers, dates).
pub(crate) fn value_to_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An amount sent as a number (`1`, `1.00` which arrives as `1.0`) or a string.
pub(crate) fn value_to_money(value: &serde_json::Value, currency: Currency) -> Option<Money> {
    let text = value_to_text(value)?;
    let text = text.trim();
    // A float such as 10.0 prints as "10.0"; "10.50" and "10.5" both parse.
    Money::parse(text, currency).ok()
}
