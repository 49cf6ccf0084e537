//! `/v1/deliveries`: what was sent to the merchant's endpoints, over the same functions as
//! `malipo deliveries`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use malipo_core::{DeliveryId, PaymentId};
use malipo_store::{DeliveryFilter, DeliveryStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use super::payments::page_size;
use crate::delivery::{self, DeliveryView};
use crate::AppState;

/// The routes of this group.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(show_delivery))
        .routes(routes!(retry_delivery))
}

/// One delivery: its endpoint, event type, status, attempts and last answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBody {
    /// The delivery.
    #[schema(value_type = Object)]
    pub delivery: DeliveryView,
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    /// The deliveries.
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<DeliveryView>,
    /// Pass as `cursor` for the next page; null when this page is the last.
    pub next_cursor: Option<String>,
}

/// Filters of `GET /v1/deliveries`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListDeliveries {
    /// Only in this status: `pending`, `delivered` or `dead_letter`.
    pub status: Option<String>,
    /// Only about this payment (pay_…).
    pub payment: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<usize>,
}

/// List deliveries to the merchant's endpoints, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/deliveries",
    tag = "deliveries",
    params(ListDeliveries),
    responses(
        (status = 200, description = "A page; follow `next_cursor` until it is null", body = DeliveryPage),
        (status = 400, description = "A filter or the cursor cannot be read", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn list_deliveries(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListDeliveries>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let limit = page_size(query.limit)?;
    let status = query
        .status
        .as_deref()
        .map(|s| s.parse::<DeliveryStatus>())
        .transpose()
        .map_err(|_| {
            ApiError::bad_request("expected pending, delivered or dead_letter").with_field("status")
        })?;
    let payment_id = query
        .payment
        .as_deref()
        .map(|p| p.parse::<PaymentId>())
        .transpose()
        .map_err(|_| ApiError::bad_request("expected a payment id (pay_…)").with_field("payment"))?;
    let before = query
        .cursor
        .as_deref()
        .map(|c| c.parse::<DeliveryId>())
        .transpose()
        .map_err(|_| ApiError::bad_request("not a cursor this API gave").with_field("cursor"))?;
    // One more than asked, to know whether another page exists.
    let filter = DeliveryFilter {
        status,
        payment_id,
        before,
        limit: limit + 1,
        ..DeliveryFilter::default()
    };
    let mut data = delivery::list_deliveries(&state, &filter)
        .await
        .map_err(ApiError::from)?;
    let more = data.len() > limit;
    data.truncate(limit);
    let next_cursor = more.then(|| data.last().map(|d| d.id.to_string())).flatten();
    Ok(Json(DeliveryPage { data, next_cursor }))
}

/// One delivery.
#[utoipa::path(
    get,
    path = "/v1/deliveries/{id}",
    tag = "deliveries",
    params(("id" = String, Path, description = "The delivery id (dlv_…), also its webhook-id")),
    responses(
        (status = 200, description = "The delivery", body = DeliveryBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such delivery", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn show_delivery(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryBody>, ApiError> {
    let parsed: DeliveryId = id.parse().map_err(|_| ApiError::not_found("delivery", &id))?;
    let view = delivery::get_delivery(&state, parsed)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(DeliveryBody { delivery: view }))
}

/// Send a delivery again now (a dead-lettered one, say), with the same webhook-id.
#[utoipa::path(
    post,
    path = "/v1/deliveries/{id}/retry",
    tag = "deliveries",
    params(("id" = String, Path, description = "The delivery id (dlv_…)")),
    responses(
        (status = 202, description = "Queued to be sent again", body = DeliveryBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such delivery", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn retry_delivery(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryBody>), ApiError> {
    let parsed: DeliveryId = id.parse().map_err(|_| ApiError::not_found("delivery", &id))?;
    let view = delivery::retry_delivery(&state, parsed)
        .await
        .map_err(ApiError::from)?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryBody { delivery: view })))
}
