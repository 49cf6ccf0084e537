//! Decoding helpers for the loosely typed values in Daraja callbacks.

use std::fmt;
use std::marker::PhantomData;

use malipo_core::{Currency, Money};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, IntoDeserializer, MapAccess, SeqAccess, Visitor};
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
        // A visitor, not `#[serde(untagged)]`: an untagged enum buffers the value and tries each
        // variant in turn, which made this list the costliest part of reading an STK callback,
        // and it reported a bad item as "did not match any variant" instead of where it is.
        d.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

struct OneOrManyVisitor<T>(PhantomData<T>);

/// Forwards a scalar to `T` as the single item.
macro_rules! one_scalar {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            T::deserialize(v.into_deserializer()).map(|t| OneOrMany(vec![t]))
        }
    )*};
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
    type Value = OneOrMany<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list, a single item or null")
    }

    // JSON's null (the formats' unit); a missing key is `#[serde(default)]`'s business.
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(OneOrMany::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Vec::<T>::deserialize(SeqAccessDeserializer::new(seq)).map(OneOrMany)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|t| OneOrMany(vec![t]))
    }

    one_scalar!(
        visit_bool: bool,
        visit_i64: i64,
        visit_u64: u64,
        visit_f64: f64,
        visit_str: &str,
        visit_string: String
    );
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
/// Whether `text` is made only of what a phone number as Daraja sends it holds: digits, and
/// `*`, `+` or spaces (`2547 ***** 126`).
pub(crate) fn phone_chars_only(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '*' | '+' | ' '))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Item {
        #[serde(rename = "Name")]
        name: String,
    }

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[serde(rename = "Item", default)]
        item: OneOrMany<Item>,
    }

    fn items(json: &str) -> Result<Vec<Item>, String> {
        serde_json::from_str::<Holder>(json)
            .map(|h| h.item.0)
            .map_err(|e| e.to_string())
    }

    fn item(name: &str) -> Item {
        Item { name: name.into() }
    }

    #[test]
    fn a_list_a_single_object_null_and_nothing_are_read() {
        assert_eq!(
            items(r#"{"Item":[{"Name":"a"},{"Name":"b"}]}"#).unwrap(),
            [item("a"), item("b")]
        );
        assert_eq!(items(r#"{"Item":{"Name":"a"}}"#).unwrap(), [item("a")]);
        assert_eq!(items(r#"{"Item":[]}"#).unwrap(), []);
        assert_eq!(items(r#"{"Item":null}"#).unwrap(), []);
        assert_eq!(items("{}").unwrap(), []);
    }

    #[test]
    fn a_scalar_is_one_item_of_a_scalar_type_and_an_error_otherwise() {
        let strings: OneOrMany<String> = serde_json::from_str(r#""x""#).unwrap();
        assert_eq!(strings.0, ["x"]);
        let numbers: OneOrMany<i64> = serde_json::from_str("[1, 2]").unwrap();
        assert_eq!(numbers.0, [1, 2]);
        let flags: OneOrMany<bool> = serde_json::from_str("true").unwrap();
        assert_eq!(flags.0, [true]);
        // An owned string (a `serde_json::Value` hands its strings over) is one item too.
        let owned: OneOrMany<String> = serde_json::from_value(serde_json::json!("y")).unwrap();
        assert_eq!(owned.0, ["y"]);
        let err = items(r#"{"Item":"a"}"#).unwrap_err();
        assert!(err.contains("invalid type: string"), "{err}");
        // Bytes (no JSON value is bytes; other formats have them) say what was expected.
        let bytes = serde::de::value::BytesDeserializer::<serde::de::value::Error>::new(b"x");
        let err = OneOrMany::<String>::deserialize(bytes).unwrap_err().to_string();
        assert!(err.contains("expected a list, a single item or null"), "{err}");
    }

    #[test]
    fn a_bad_item_in_a_list_is_an_error_naming_what_is_wrong() {
        // A list is a list: its bad item is not retried as one item read from a sequence.
        let err = items(r#"{"Item":[{"Name":"a"},{"Nom":"b"}]}"#).unwrap_err();
        assert!(err.contains("missing field `Name`"), "{err}");
        let err = items(r#"{"Item":["a", 1]}"#).unwrap_err();
        assert!(err.contains("invalid type: string"), "{err}");
    }
}
