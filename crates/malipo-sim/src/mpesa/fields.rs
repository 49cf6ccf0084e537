//! Reading and checking request fields the way Daraja does (strings or numbers accepted).

use serde_json::{Map, Value};

use super::state::ApiError;

/// A request body: a JSON object.
pub(crate) struct Fields(Map<String, Value>);

impl Fields {
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Fields(map)),
            _ => Err(ApiError::new(400, "400.002.02", "Bad Request - Invalid JSON")),
        }
    }

    /// A request body that is a JSON array of objects (bulk requests).
    pub fn parse_list(bytes: &[u8]) -> Result<Vec<Self>, ApiError> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::Object(map) => Ok(Fields(map)),
                    _ => Err(ApiError::new(400, "400.002.02", "Bad Request - Invalid JSON")),
                })
                .collect(),
            _ => Err(ApiError::new(400, "400.002.02", "Bad Request - Invalid JSON")),
        }
    }

    /// The field as text, when present as a string or number.
    pub fn opt(&self, field: &str) -> Option<String> {
        match self.0.get(field)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A present, non-empty field.
    pub fn text(&self, field: &str) -> Result<String, ApiError> {
        self.opt(field)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::invalid(field))
    }

    /// A text of `min..=max` characters (an absent field counts as empty).
    pub fn len(&self, field: &str, min: usize, max: usize) -> Result<String, ApiError> {
        let value = self.opt(field).unwrap_or_default();
        let n = value.chars().count();
        if n < min || n > max {
            return Err(ApiError::invalid(field));
        }
        Ok(value)
    }

    /// 1 to 12 digits.
    pub fn digits(&self, field: &str) -> Result<String, ApiError> {
        let value = self.text(field)?;
        if value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid(field));
        }
        Ok(value)
    }

    /// One of the allowed values.
    pub fn one_of(&self, field: &str, allowed: &[&str]) -> Result<String, ApiError> {
        let value = self.text(field)?;
        if !allowed.contains(&value.as_str()) {
            return Err(ApiError::invalid(field));
        }
        Ok(value)
    }

    /// A whole number of shillings, at least 1 (Daraja refuses decimals).
    pub fn amount(&self, field: &str) -> Result<u64, ApiError> {
        let invalid = || ApiError::invalid(field);
        match self.0.get(field) {
            Some(Value::Number(n)) => n.as_u64().filter(|a| *a >= 1).ok_or_else(invalid),
            Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<u64>().ok().filter(|a| *a >= 1).ok_or_else(invalid)
            }
            _ => Err(invalid()),
        }
    }

    /// A Kenyan mobile number in Daraja's form `2547XXXXXXXX` / `2541XXXXXXXX`.
    pub fn msisdn(&self, field: &str) -> Result<String, ApiError> {
        let value = self.text(field)?;
        let ok = value.len() == 12
            && (value.starts_with("2547") || value.starts_with("2541"))
            && value.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(value)
        } else {
            Err(ApiError::invalid(field))
        }
    }

    /// An http(s) URL with a host.
    pub fn url(&self, field: &str) -> Result<String, ApiError> {
        let value = self.text(field)?;
        match url::Url::parse(&value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(value),
            _ => Err(ApiError::invalid(field)),
        }
    }
}
