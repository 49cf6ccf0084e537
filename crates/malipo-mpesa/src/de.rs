//! Lenient decoders for Daraja's loosely typed JSON (codes that are sometimes strings, sometimes
//! numbers).

use serde::{Deserialize, Deserializer};

/// A string, or a number turned into its decimal text.
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        N(serde_json::Number),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::S(s) => s,
        Raw::N(n) => n.to_string(),
    })
}

/// Like [`string_or_number`] for optional fields (`null` or absent gives `None`).
pub(crate) fn opt_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        N(serde_json::Number),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        Some(Raw::S(s)) => Some(s),
        Some(Raw::N(n)) => Some(n.to_string()),
        None => None,
    })
}

/// Describes a JSON error by kind and position only, never quoting the input.
pub(crate) fn describe_without_values(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => "unexpected field types or missing fields",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

/// A string, a number as text, or `null` as the empty string.
pub(crate) fn string_or_number_default<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_string_or_number(d)?.unwrap_or_default())
}
