use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Why the guard refused a request. Each reason has a stable machine code (used in the JSON body,
/// the metrics and the log line) and a fixed HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The Paystack signature header is absent or empty (401).
    SignatureMissing,
    /// The Paystack signature header is not 128 hexadecimal characters (401).
    SignatureMalformed,
    /// The Paystack signature does not match the body (401).
    SignatureMismatch,
    /// The client address is not in the provider's source allowlist (403).
    SourceNotAllowed,
    /// The callback token in the path is unknown or forged (404).
    UnknownToken,
    /// The body is larger than the configured limit (413).
    BodyTooLarge,
    /// The body could not be read (the client broke off, or a framing error) (400).
    BodyUnreadable,
    /// The client address sent more requests than its rate limit allows (429).
    RateLimited,
    /// The socket peer address is not known: the app was not served with
    /// `into_make_service_with_connect_info::<SocketAddr>()` (500). A deployment error, failed
    /// closed.
    PeerUnknown,
}

impl RejectReason {
    /// Every reason, in a fixed order (the metrics are rendered in this order).
    pub const ALL: [RejectReason; 9] = [
        RejectReason::SignatureMissing,
        RejectReason::SignatureMalformed,
        RejectReason::SignatureMismatch,
        RejectReason::SourceNotAllowed,
        RejectReason::UnknownToken,
        RejectReason::BodyTooLarge,
        RejectReason::BodyUnreadable,
        RejectReason::RateLimited,
        RejectReason::PeerUnknown,
    ];

    /// The stable machine code: the `code` of the JSON body and the `reason` label of the metric.
    pub const fn code(self) -> &'static str {
        match self {
            RejectReason::SignatureMissing => "signature_missing",
            RejectReason::SignatureMalformed => "signature_malformed",
            RejectReason::SignatureMismatch => "signature_mismatch",
            RejectReason::SourceNotAllowed => "source_not_allowed",
            RejectReason::UnknownToken => "unknown_callback_token",
            RejectReason::BodyTooLarge => "body_too_large",
            RejectReason::BodyUnreadable => "body_unreadable",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::PeerUnknown => "peer_address_unknown",
        }
    }

    /// The HTTP status answered for this reason.
    pub const fn status(self) -> StatusCode {
        match self {
            RejectReason::SignatureMissing
            | RejectReason::SignatureMalformed
            | RejectReason::SignatureMismatch => StatusCode::UNAUTHORIZED,
            RejectReason::SourceNotAllowed => StatusCode::FORBIDDEN,
            RejectReason::UnknownToken => StatusCode::NOT_FOUND,
            RejectReason::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RejectReason::BodyUnreadable => StatusCode::BAD_REQUEST,
            RejectReason::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            RejectReason::PeerUnknown => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A refusal by the guard: a reason plus a human explanation, answered as
/// `{"code": "...", "detail": "..."}` with the reason's fixed status.
///
/// The detail never contains the body, a signature or a key: it is built by the guard from fixed
/// text and numbers only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    reason: RejectReason,
    detail: String,
    retry_after_secs: Option<u64>,
}

impl Rejection {
    /// A rejection with its explanation.
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
            retry_after_secs: None,
        }
    }

    /// A 429 telling the client when to come back (whole seconds, at least 1).
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let secs = retry_after_secs.max(1);
        Rejection {
            reason: RejectReason::RateLimited,
            detail: format!("too many requests from this address; retry after {secs} second(s)"),
            retry_after_secs: Some(secs),
        }
    }

    /// Why.
    pub fn reason(&self) -> RejectReason {
        self.reason
    }

    /// The human explanation.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The `Retry-After` value in seconds, for a rate-limit rejection.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.reason.code(), "detail": self.detail });
        let mut response = (self.reason.status(), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn codes_are_unique_and_indexes_match_order() {
        for (i, r) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut codes: Vec<_> = RejectReason::ALL.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), RejectReason::ALL.len());
    }

    #[test]
    fn a_rejection_shows_its_code_detail_and_retry_after() {
        for r in RejectReason::ALL {
            assert_eq!(r.to_string(), r.code());
        }
        let refused = Rejection::new(RejectReason::SignatureMismatch, "the signature does not match");
        assert_eq!(refused.reason(), RejectReason::SignatureMismatch);
        assert_eq!(refused.detail(), "the signature does not match");
        assert_eq!(refused.retry_after_secs(), None);
        let limited = Rejection::rate_limited(7);
        assert_eq!(limited.retry_after_secs(), Some(7));
        assert!(
            limited.detail().contains("retry after 7 second(s)"),
            "{}",
            limited.detail()
        );
    }

    #[tokio::test]
    async fn answers_json_with_fixed_status_and_retry_after() {
        let response = Rejection::rate_limited(0).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], "rate_limited");
        assert!(json["detail"].as_str().unwrap().contains("retry after 1"));

        let response = Rejection::new(RejectReason::SourceNotAllowed, "x").into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
