//! `POST /v1/payments/{id}/reconcile`: ask the provider about one payment now.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use malipo_core::PaymentId;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::payments::PaymentBody;
use crate::reconcile::{reconcile_payment, ReconcileError, Reconciled};
use crate::AppState;

/// The routes of this group.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(reconcile))
}

/// What asking the provider did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReconcileBody {
    /// `settled`, `already_settled`, `still_pending`, `asked` (the answer comes by callback),
    /// `expired`, `held` (a person must decide) or `not_due`.
    pub result: String,
    /// What the provider said, or why a person must decide.
    pub detail: Option<String>,
    /// The payment as it is now.
    pub payment: PaymentBody,
}

impl From<&Reconciled> for ReconcileBody {
    fn from(r: &Reconciled) -> Self {
        let (result, detail) = match r {
            Reconciled::Settled { answer, .. } => ("settled", Some(answer.clone())),
            Reconciled::AlreadySettled(_) => ("already_settled", None),
            Reconciled::StillPending { answer, .. } => ("still_pending", Some(answer.clone())),
            Reconciled::Asked { conversation_id, .. } => (
                "asked",
                conversation_id
                    .as_ref()
                    .map(|c| format!("the answer comes by result callback (ConversationID {c})")),
            ),
            Reconciled::Expired(_) => ("expired", None),
            Reconciled::Held { reason, .. } => ("held", Some(reason.clone())),
            Reconciled::NotDue(_) => ("not_due", None),
        };
        ReconcileBody {
            result: result.to_string(),
            detail,
            payment: PaymentBody::from(r.payment()),
        }
    }
}

/// Ask the provider about a payment now (STK query, Paystack verify, M-Pesa transaction
/// status) and settle it from the answer. Safe to repeat: a settled payment is not asked again.
#[utoipa::path(
    post,
    path = "/v1/payments/{id}/reconcile",
    tag = "payments",
    params(("id" = String, Path, description = "The payment id (pay_…)")),
    responses(
        (status = 200, description = "What the provider said and the payment now", body = ReconcileBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
        (status = 422, description = "The payment's kind cannot be asked about", body = ErrorBody),
        (status = 503, description = "The provider is not configured, or the database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn reconcile(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ReconcileBody>, ApiError> {
    let parsed: PaymentId = id.parse().map_err(|_| ApiError::not_found("payment", &id))?;
    match reconcile_payment(&state, parsed).await {
        Ok(done) => Ok(Json(ReconcileBody::from(&done))),
        Err(ReconcileError::NotFound(_)) => Err(ApiError::not_found("payment", &id)),
        Err(e @ ReconcileError::Unsupported { .. }) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_reconcilable",
            e.to_string(),
        )),
        Err(e @ ReconcileError::NotConfigured { .. }) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_not_configured",
            e.to_string(),
        )),
        Err(e) => {
            tracing::error!(payment = %parsed, error = %e, "reconciling a payment failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "the payment could not be reconciled now; try again",
            ))
        }
    }
}
