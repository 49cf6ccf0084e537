//! The one error type of the client.

/// What went wrong calling Paystack. Never contains the secret key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Paystack answered, and refused: an HTTP error status or `"status": false`. `message` is
    /// Paystack's own explanation.
    #[error("Paystack refused {endpoint} with HTTP {status}: {message}")]
    Api {
        /// Method and path template, such as `GET /transaction/verify/:reference`.
        endpoint: &'static str,
        /// HTTP status code.
        status: u16,
        /// Paystack's `message`.
        message: String,
        /// Paystack's machine `code` (such as `invalid_transfer_recipient`), when sent.
        code: Option<String>,
    },
    /// No answer: connection refused, DNS, TLS or a timeout.
    #[error("could not reach Paystack for {endpoint}")]
    Transport {
        /// Method and path template.
        endpoint: &'static str,
        /// The underlying HTTP error.
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not the JSON Paystack documents for this endpoint.
    #[error("Paystack's answer to {endpoint} (HTTP {status}) is not the JSON expected: {{\"status\": true, \"message\": …, \"data\": …}}")]
    Decode {
        /// Method and path template.
        endpoint: &'static str,
        /// HTTP status code.
        status: u16,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
    /// The request was refused before sending: it could not be valid.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("could not build the HTTP client")]
    Build(#[source] reqwest::Error),
}

impl Error {
    /// The HTTP status Paystack answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Paystack's `message`, for refusals.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Whether trying again later may succeed (transport errors, HTTP 429 and 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Api { status, .. } | Error::Decode { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
