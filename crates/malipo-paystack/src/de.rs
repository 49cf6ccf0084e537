//! Lenient field readers for Paystack's JSON, which is not consistent about types: the same
//! amount arrives as `10000` in `charge.success` and as `"10000"` in `refund.pending`, and
//! `customer_id` is a number in one identification event and a string in the other
//! (<https://paystack.com/docs/payments/webhooks/>).

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_json::Value;

/// A non-negative integer written as a JSON number or a string of digits; `null`, `""` and a
/// missing field are `None`. A fraction, a sign or anything else is an error, never a guess.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a non-negative integer, got {n}"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            s.trim().parse::<u64>().map(Some).map_err(|_| {
                D::Error::custom(format!("expected a non-negative integer, got the string {s:?}"))
            })
        }
        Some(other) => Err(D::Error::custom(format!(
            "expected a non-negative integer, got {}",
            kind(&other)
        ))),
    }
}

/// An identifier written as a string or a number, kept as text; `null` and `""` are `None`.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(D::Error::custom(format!(
            "expected a string or a number, got {}",
            kind(&other)
        ))),
    }
}

/// A boolean that Paystack sometimes writes as `1`/`0`; anything else is `None`.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::Number(n)) => n.as_u64().map(|n| n != 0),
        _ => None,
    })
}

/// An object that may be missing, `null`, or an empty placeholder such as `""` or `0` (Paystack
/// sends `"metadata": 0` and `"plan": {}`); anything that is not an object is `None`.
pub(crate) fn opt_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Option::<Value>::deserialize(d)? {
        Some(v @ Value::Object(_)) => serde_json::from_value(v).map(Some).map_err(D::Error::custom),
        _ => Ok(None),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::opt_u64")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "super::opt_string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "super::opt_bool")]
        b: Option<bool>,
    }

    fn parse(json: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn numbers_may_be_strings() {
        assert_eq!(parse(r#"{"n":10000}"#).unwrap().n, Some(10000));
        assert_eq!(parse(r#"{"n":"10000"}"#).unwrap().n, Some(10000));
        assert_eq!(parse(r#"{"n":null}"#).unwrap().n, None);
        assert_eq!(parse(r#"{"n":""}"#).unwrap().n, None);
        assert_eq!(parse("{}").unwrap().n, None);
        for bad in [r#"{"n":-1}"#, r#"{"n":1.5}"#, r#"{"n":"1e3"}"#, r#"{"n":[]}"#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_may_be_numbers() {
        assert_eq!(parse(r#"{"s":82796315}"#).unwrap().s.as_deref(), Some("82796315"));
        assert_eq!(parse(r#"{"s":"abc"}"#).unwrap().s.as_deref(), Some("abc"));
        assert_eq!(parse(r#"{"s":""}"#).unwrap().s, None);
        assert!(parse(r#"{"s":{}}"#).is_err());
    }

    /// The error names what came instead, so a log says what Paystack sent.
    #[test]
    fn errors_name_the_type_that_came() {
        let err = |json: &str| parse(json).unwrap_err().to_string();
        let array = err(r#"{"n":[]}"#);
        assert!(array.contains("got an array"), "{array}");
        assert!(err(r#"{"n":{}}"#).contains("got an object"));
        assert!(err(r#"{"n":true}"#).contains("got a boolean"));
        assert!(err(r#"{"s":[1]}"#).contains("expected a string or a number, got an array"));
        assert_eq!(super::kind(&serde_json::Value::Null), "null");
        assert_eq!(super::kind(&serde_json::json!(1)), "a number");
        assert_eq!(super::kind(&serde_json::json!("x")), "a string");
    }

    #[test]
    fn booleans_may_be_integers() {
        assert_eq!(parse(r#"{"b":1}"#).unwrap().b, Some(true));
        assert_eq!(parse(r#"{"b":false}"#).unwrap().b, Some(false));
        assert_eq!(parse(r#"{"b":"yes"}"#).unwrap().b, None);
    }
}
