//! The merchant API's error contract: `{"error": {"code", "message", "field"}}` with the right
//! status, everywhere (extraction failures included). A 5xx body says nothing internal; its
//! cause is logged.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer of the merchant API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code (`unauthorized`, `invalid_field`, `not_found`…).
    pub code: &'static str,
    /// What is wrong and what was expected, for a human.
    pub message: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
    /// The payment concerned, when one was recorded (a provider refusal).
    pub payment: Option<serde_json::Value>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
    /// The payment concerned, when one was recorded (a provider refusal answers 502 with the
    /// failed payment).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payment: Option<serde_json::Value>,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code.
    #[schema(example = "invalid_field")]
    pub code: &'static str,
    /// What is wrong and what was expected.
    pub message: String,
    /// The request field at fault, or null.
    pub field: Option<String>,
}

impl ApiError {
    /// An error with no field.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            payment: None,
        }
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 422 `invalid_field`: a field is present and well-formed JSON but not an acceptable value.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).with_field(field)
    }

    /// 400 `invalid_request`: the request cannot be read (malformed JSON, bad query).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 404 `not_found` for `what` (a payment, an event).
    pub fn not_found(what: &str, id: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no {what} {id}"))
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required: send `Authorization: Bearer mk_…` (create one with `malipo api-key create`)",
        )
    }

    /// 503 `storage_unavailable`; `cause` is logged, never sent.
    pub fn storage(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, "merchant API: the database failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the gateway cannot reach its database; retry later",
        )
    }

    /// The body as it is sent.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                field: self.field.clone(),
            },
            payment: self.payment.clone(),
        }
    }
}

impl From<malipo_store::StoreError> for ApiError {
    fn from(e: malipo_store::StoreError) -> Self {
        match &e {
            malipo_store::StoreError::NotFound { what, id } => ApiError::not_found(what, id),
            _ => ApiError::storage(&e),
        }
    }
}

impl From<crate::delivery::DeliveryError> for ApiError {
    fn from(e: crate::delivery::DeliveryError) -> Self {
        use crate::delivery::DeliveryError;
        match e {
            DeliveryError::Invalid { field, message } => ApiError::invalid_field(field, message),
            DeliveryError::NotFound { what, id } => ApiError::not_found(what, &id),
            DeliveryError::Store(source) => ApiError::from(source),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        // A 503 is the database or a provider being away for a moment: say when to come back, so
        // clients back off instead of hammering a gateway that is recovering.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("5"));
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unavailable_answer_says_when_to_come_back() {
        let cause = std::io::Error::other("connection refused");
        let response = ApiError::storage(&cause).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "5");
        let response = ApiError::bad_request("nope").into_response();
        assert!(response.headers().get(http::header::RETRY_AFTER).is_none());
    }
}
