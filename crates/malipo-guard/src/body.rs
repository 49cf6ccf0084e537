use axum::body::Body;
use axum::body::HttpBody as _;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{RejectReason, Rejection};

/// The request body exactly as received, after the guard checked it (limit, signature or token).
/// Put in the request extensions; the request body is also rebuilt from the same bytes, so
/// extractors such as `Json` or `Bytes` still work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBody(pub Bytes);

/// Reads the whole body, refusing it with 413 as soon as it is known to exceed `limit`: from the
/// `Content-Length` header or the body's own size hint before reading a byte, and otherwise (a
/// chunked body) as soon as more than `limit` bytes have arrived, so an oversized body is never
/// buffered whole.
pub async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Rejection> {
    let too_large = |what: String| {
        Rejection::new(
            RejectReason::BodyTooLarge,
            format!("the request body is {what}: the limit is {limit} bytes"),
        )
    };
    if let Some(value) = headers.get(header::CONTENT_LENGTH) {
        let declared = value
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                Rejection::new(
                    RejectReason::BodyUnreadable,
                    "the Content-Length header is not a number of bytes",
                )
            })?;
        if declared > limit as u64 {
            return Err(too_large(format!("{declared} bytes long")));
        }
    }
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large(format!(
            "at least {} bytes long",
            body.size_hint().lower()
        )));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(too_large(format!("longer than {limit} bytes")))
        }
        Err(_) => Err(Rejection::new(
            RejectReason::BodyUnreadable,
            "the request body could not be read: the connection broke off or the body was malformed",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_length(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, value.parse().unwrap());
        headers
    }

    #[tokio::test]
    async fn a_content_length_that_is_not_plain_digits_is_refused() {
        // "+5" parses as a number in Rust, but it is not a Content-Length.
        for value in ["+5", "", "5x", "-5"] {
            let refused = read_limited(&with_length(value), Body::from("hello"), 100)
                .await
                .unwrap_err();
            assert_eq!(refused.reason(), RejectReason::BodyUnreadable, "{value:?}");
        }
        let body = read_limited(&with_length("5"), Body::from("hello"), 100)
            .await
            .unwrap();
        assert_eq!(&body[..], b"hello");
    }
}
