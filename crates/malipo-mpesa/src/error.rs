//! The one error type of the Daraja client.

use std::time::Duration;

/// Why a Daraja call failed.
///
/// Every variant tells a different story to the caller: [`MpesaError::Invalid`] means nothing was
/// sent, [`MpesaError::Api`] means Daraja refused the request with its own code,
/// [`MpesaError::Timeout`] means the outcome is unknown (query before retrying a payment). No
/// variant ever holds a key, secret, passkey, token or credential.
#[derive(Debug, thiserror::Error)]
pub enum MpesaError {
    /// The request was refused before sending because a field is not what Daraja accepts.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The Daraja field name (`AccountReference`, `Amount`, ...).
        field: &'static str,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// The client settings lack something this operation needs.
    #[error("missing setting for {operation}: {what}")]
    MissingSetting {
        /// The operation that needs it.
        operation: &'static str,
        /// The missing setting.
        what: &'static str,
    },
    /// Daraja answered with its error body `{requestId, errorCode, errorMessage}`.
    #[error("Daraja refused {operation} (HTTP {status}): {error_code} {error_message}{}", request_suffix(.request_id))]
    Api {
        /// The operation.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// Daraja's `requestId`, when it sent one.
        request_id: Option<String>,
        /// Daraja's `errorCode`, such as `400.002.02` or `404.001.03`.
        error_code: String,
        /// Daraja's `errorMessage`.
        error_message: String,
    },
    /// Daraja answered 2xx but with a `ResponseCode` other than `"0"`.
    #[error("Daraja did not accept {operation}: ResponseCode {response_code}: {description}")]
    Rejected {
        /// The operation.
        operation: &'static str,
        /// Daraja's `ResponseCode`.
        response_code: String,
        /// Daraja's `ResponseDescription`.
        description: String,
    },
    /// An HTTP error status whose body is not Daraja's error shape (a proxy page, an empty body).
    #[error("Daraja answered {operation} with HTTP {status}: {body_excerpt}")]
    Http {
        /// The operation.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The first characters of the body, for diagnosis.
        body_excerpt: String,
    },
    /// No answer within the configured timeout; the request may or may not have been processed.
    #[error("{operation} timed out after {timeout:?}; the outcome is unknown (query before retrying)")]
    Timeout {
        /// The operation.
        operation: &'static str,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The request could not be sent or the answer could not be read (DNS, TCP, TLS).
    #[error("could not reach Daraja for {operation}")]
    Transport {
        /// The operation.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The answer is not the JSON shape Daraja documents for this operation.
    #[error("could not decode Daraja's answer to {operation} (HTTP {status}): {detail}")]
    Decode {
        /// The operation.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// What did not match (for the token answer, without any value from the body).
        detail: String,
        /// The JSON error, kept except for the token answer (whose message could quote the token).
        #[source]
        source: Option<serde_json::Error>,
    },
    /// Daraja will not let this shortcode pull its C2B transactions (Pull Transactions works only
    /// for a shortcode registered for it, usually the head office's, not a child paybill or till).
    #[error("Daraja does not let shortcode {shortcode} pull transactions ({operation}: {code} {message}); pulling works only for a shortcode registered for Pull Transactions (usually the head-office shortcode): register it (`malipo mpesa pull-register`), pull the shortcode that is registered instead, or ask Safaricom (apisupport@safaricom.co.ke) to enable Pull Transactions for {shortcode}")]
    PullNotAllowed {
        /// The operation.
        operation: &'static str,
        /// The shortcode refused.
        shortcode: String,
        /// Daraja's code (`400.001`, a `ResponseCode`).
        code: String,
        /// Daraja's message.
        message: String,
    },
    /// Daraja answered a pull with a success status but an error in the body: nothing was
    /// fetched, however the status reads.
    #[error("Daraja answered {operation} with HTTP {status} but the pull failed: {code} {message}; no transactions were fetched, so pull the window again (Daraja keeps 48 hours)")]
    PullFailed {
        /// The operation.
        operation: &'static str,
        /// The HTTP status (200: the failure was only in the body).
        status: u16,
        /// Daraja's code.
        code: String,
        /// Daraja's message.
        message: String,
    },
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
}

fn request_suffix(request_id: &Option<String>) -> String {
    match request_id {
        Some(id) if !id.is_empty() => format!(" (requestId {id})"),
        _ => String::new(),
    }
}

/// Daraja's error code for an expired or unknown access token.
pub const INVALID_ACCESS_TOKEN: &str = "404.001.03";
/// Daraja's error code for an STK push that is still being processed (STK query).
pub const STILL_PROCESSING: &str = "500.001.1001";
/// Daraja's error code for "system busy".
pub const SYSTEM_BUSY: &str = "500.003.02";
/// Daraja's error code for quota exceeded / spike arrest.
pub const SPIKE_ARREST: &str = "500.003.03";

impl MpesaError {
    /// Daraja's `errorCode` when Daraja answered with its error body (or a pull's refusal
    /// code).
    pub fn error_code(&self) -> Option<&str> {
        match self {
            MpesaError::Api { error_code, .. } => Some(error_code),
            MpesaError::PullNotAllowed { code, .. } | MpesaError::PullFailed { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Daraja's `requestId` when Daraja answered with its error body.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            MpesaError::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status, when an answer arrived.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            MpesaError::Api { status, .. }
            | MpesaError::Http { status, .. }
            | MpesaError::Decode { status, .. }
            | MpesaError::PullFailed { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the request may have reached Daraja and been processed anyway, so a payment
    /// must be queried rather than resent. Not when the failure came first: fetching the access
    /// token (the payment request was never sent), or opening the connection (nothing was sent
    /// on it).
    pub fn outcome_unknown(&self) -> bool {
        if self.failed_before_sending() {
            return false;
        }
        match self {
            MpesaError::Transport { .. } | MpesaError::Timeout { .. } | MpesaError::Decode { .. } => true,
            MpesaError::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// True when the request itself never went out: the access token could not be had, or
    /// the connection could not be opened.
    pub fn failed_before_sending(&self) -> bool {
        self.operation() == Some(crate::client::TOKEN.name)
            || matches!(self, MpesaError::Transport { source, .. } if source.is_connect())
    }

    /// The Daraja operation that failed (`token`, `stk_push`, …), when a call was made.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            MpesaError::Api { operation, .. }
            | MpesaError::Rejected { operation, .. }
            | MpesaError::Http { operation, .. }
            | MpesaError::Timeout { operation, .. }
            | MpesaError::Transport { operation, .. }
            | MpesaError::Decode { operation, .. }
            | MpesaError::PullNotAllowed { operation, .. }
            | MpesaError::PullFailed { operation, .. } => Some(operation),
            MpesaError::Invalid { .. } | MpesaError::MissingSetting { .. } | MpesaError::Client(_) => None,
        }
    }

    /// True for failures worth retrying for an operation that cannot move money twice.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            MpesaError::Timeout { .. } | MpesaError::Transport { .. } => true,
            MpesaError::Http { status, .. } => *status >= 500 || *status == 429,
            MpesaError::Api {
                status, error_code, ..
            } => error_code == SYSTEM_BUSY || error_code == SPIKE_ARREST || *status == 429 || *status == 503,
            _ => false,
        }
    }

    pub(crate) fn is_invalid_token(&self) -> bool {
        self.error_code() == Some(INVALID_ACCESS_TOKEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str, request_id: Option<&str>) -> MpesaError {
        MpesaError::Api {
            operation: "stk_query",
            status,
            request_id: request_id.map(str::to_string),
            error_code: code.to_string(),
            error_message: "m".to_string(),
        }
    }

    fn http(status: u16) -> MpesaError {
        MpesaError::Http {
            operation: "stk_query",
            status,
            body_excerpt: String::new(),
        }
    }

    #[test]
    fn only_a_busy_or_unanswered_daraja_is_worth_asking_again() {
        let timeout = MpesaError::Timeout {
            operation: "stk_query",
            timeout: std::time::Duration::from_secs(1),
        };
        assert!(timeout.is_transient());
        for transient in [
            api(500, SYSTEM_BUSY, None),
            api(500, SPIKE_ARREST, None),
            api(429, "400.002.02", None),
            api(503, "400.002.02", None),
            http(500),
            http(502),
            http(429),
        ] {
            assert!(transient.is_transient(), "{transient:?}");
        }
        for final_answer in [
            api(400, "400.002.02", None),
            api(500, STILL_PROCESSING, None),
            api(404, INVALID_ACCESS_TOKEN, None),
            http(400),
            http(499),
            MpesaError::Rejected {
                operation: "stk_query",
                response_code: "1".into(),
                description: "d".into(),
            },
        ] {
            assert!(!final_answer.is_transient(), "{final_answer:?}");
        }
    }

    #[test]
    fn darajas_request_id_and_code_are_kept_and_shown_when_sent() {
        let with = api(400, "400.002.02", Some("29115-1-1"));
        assert_eq!(with.request_id(), Some("29115-1-1"));
        assert!(with.to_string().ends_with(" (requestId 29115-1-1)"), "{with}");
        for without in [api(400, "400.002.02", None), api(400, "400.002.02", Some(""))] {
            assert!(without.to_string().ends_with("400.002.02 m"), "{without}");
        }
        assert_eq!(api(400, "400.002.02", None).request_id(), None);
        assert_eq!(http(500).request_id(), None);
        let refused = MpesaError::PullNotAllowed {
            operation: "pull",
            shortcode: "600000".into(),
            code: "400.001".into(),
            message: "m".into(),
        };
        assert_eq!(refused.error_code(), Some("400.001"));
        let failed = MpesaError::PullFailed {
            operation: "pull",
            status: 200,
            code: "1".into(),
            message: "m".into(),
        };
        assert_eq!(failed.error_code(), Some("1"));
    }
}
