//! Extractors whose failures answer in the API's error shape instead of axum's plain text.

use axum::extract::{FromRequestParts, Query};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Refuses a body that is declared as something other than JSON.
pub(crate) fn check_content_type(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) {
        None => Ok(()),
        Some(Ok(ct))
            if ct
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json") =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON: send `Content-Type: application/json`",
        )),
    }
}

/// Parses a JSON body, naming the field at fault.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so a malformed body is 400 and a well-formed one with a bad field is 422.
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = if path == "." || path.is_empty() {
            field_in_message(&inner)
        } else {
            Some(path)
        };
        let err = ApiError::invalid_field(field.clone().unwrap_or_default(), inner);
        match field {
            Some(_) => err,
            None => ApiError { field: None, ..err },
        }
    })
}

/// serde names the field of a missing or unknown field only in its message (`missing field
/// `phone``), not in the path.
fn field_in_message(message: &str) -> Option<String> {
    for lead in ["missing field `", "unknown field `", "unknown variant `"] {
        if let Some(rest) = message.split(lead).nth(1) {
            let name = rest.split('`').next().unwrap_or_default();
            return Some(if lead == "unknown variant `" {
                // An internally tagged enum's tag: the only variant-chosen field is `provider`.
                "provider".to_string()
            } else {
                name.to_string()
            });
        }
    }
    None
}

/// A query string; a bad one is 400 `invalid_request`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Push {
        phone: String,
        amount: u64,
    }

    #[test]
    fn malformed_json_is_400_and_bad_fields_are_422_with_their_name() {
        let e = parse_json::<Push>(b"{\"phone\": ").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "invalid_request"));
        let e = parse_json::<Push>(br#"{"phone":"0708374149","amount":"ten"}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_deref()), (422, Some("amount")));
        let e = parse_json::<Push>(br#"{"amount":10}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("phone"));
        let e = parse_json::<Push>(br#"{"phone":"1","amount":1,"colour":"red"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("colour"));
    }
}
