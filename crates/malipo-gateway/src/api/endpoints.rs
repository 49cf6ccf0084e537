//! `/v1/endpoints`: the merchant's delivery endpoints, over the same functions as
//! `malipo endpoints`. A secret is in the answer once, when it is made (creation, rotation).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{check_content_type, parse_json};
use crate::delivery::{self, CreateEndpoint, EndpointView, EndpointWithSecret};
use crate::AppState;

/// The routes of this group.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(enable_endpoint))
        .routes(routes!(disable_endpoint))
        .routes(routes!(rotate_secret))
}

/// The merchant's endpoints (never their secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    /// Every endpoint, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<EndpointView>,
}

/// One endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointBody {
    /// The endpoint, without its secrets.
    #[schema(value_type = Object)]
    pub endpoint: EndpointView,
}

/// An endpoint and its new signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointSecretBody {
    /// The endpoint.
    #[schema(value_type = Object)]
    pub endpoint: EndpointView,
    /// Its signing secret (`whsec_…`): keep it in the receiving app; it is not shown again.
    pub secret: String,
}

impl From<EndpointWithSecret> for EndpointSecretBody {
    fn from(e: EndpointWithSecret) -> Self {
        EndpointSecretBody {
            endpoint: e.endpoint,
            secret: e.secret.expose().clone(),
        }
    }
}

/// A new endpoint. Internal targets are allowed only by the deployment's
/// `[merchant] allow_private_targets`, never per endpoint over the API.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointBody {
    /// Its unique name (letters, digits, `-`, `_`).
    pub name: String,
    /// Where deliveries go (`https://…`).
    pub url: String,
    /// Event types it receives (`payment.succeeded`, `payout.*`, `event.suspicious`); empty or
    /// absent: every payment, payout and refund event.
    #[serde(default)]
    pub event_types: Vec<String>,
}

/// How long the previous secret keeps signing beside the new one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// Seconds of overlap, at most 7 days (default 24 h); 0 ends the old secret at once.
    pub overlap_secs: Option<u64>,
}

/// The longest overlap a rotation may ask for.
const MAX_OVERLAP_SECS: u64 = 7 * 24 * 3600;

fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    empty: Option<T>,
) -> Result<T, ApiError> {
    check_content_type(headers)?;
    let body = body.map_err(|e| ApiError::new(e.status(), "invalid_request", e.body_text()))?;
    match empty {
        Some(default) if body.iter().all(u8::is_ascii_whitespace) => Ok(default),
        _ => parse_json(&body),
    }
}

/// List the merchant's delivery endpoints.
#[utoipa::path(
    get,
    path = "/v1/endpoints",
    tag = "deliveries",
    responses(
        (status = 200, description = "Every endpoint, without its secrets", body = EndpointList),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn list_endpoints(State(state): State<AppState>) -> Result<Json<EndpointList>, ApiError> {
    let data = delivery::list_endpoints(&state).await.map_err(ApiError::from)?;
    Ok(Json(EndpointList { data }))
}

/// Add a delivery endpoint; its generated signing secret is in the answer, once.
#[utoipa::path(
    post,
    path = "/v1/endpoints",
    tag = "deliveries",
    request_body = CreateEndpointBody,
    responses(
        (status = 201, description = "Created; keep `secret`, it is not shown again", body = EndpointSecretBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 422, description = "A field is not acceptable (the name is taken, the URL is not http(s) or is internal, an event type is unknown)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn create_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<EndpointSecretBody>), ApiError> {
    let request: CreateEndpointBody = json_body(&headers, body, None)?;
    let created = delivery::create_endpoint(
        &state,
        CreateEndpoint {
            name: request.name,
            url: request.url,
            event_types: request.event_types,
            allow_private: false,
            secret: None,
        },
    )
    .await
    .map_err(ApiError::from)?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Send deliveries to this endpoint again (those held while it was disabled go out).
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/enable",
    tag = "deliveries",
    params(("id" = String, Path, description = "The endpoint's id (ep_…) or name")),
    responses(
        (status = 200, description = "Enabled", body = EndpointBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn enable_endpoint(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EndpointBody>, ApiError> {
    let endpoint = delivery::set_endpoint_enabled(&state, &id, true)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(EndpointBody { endpoint }))
}

/// Stop sending to this endpoint; its deliveries are kept (and new ones still recorded) and go
/// out when it is enabled again.
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/disable",
    tag = "deliveries",
    params(("id" = String, Path, description = "The endpoint's id (ep_…) or name")),
    responses(
        (status = 200, description = "Disabled", body = EndpointBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn disable_endpoint(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EndpointBody>, ApiError> {
    let endpoint = delivery::set_endpoint_enabled(&state, &id, false)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(EndpointBody { endpoint }))
}

/// Give the endpoint a new signing secret; the previous one keeps signing beside it (both
/// signatures are sent) for the overlap, so the receiving app can switch without a gap.
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/rotate-secret",
    tag = "deliveries",
    params(("id" = String, Path, description = "The endpoint's id (ep_…) or name")),
    request_body(content = Option<RotateBody>, description = "Optional; an empty body keeps the 24 h overlap"),
    responses(
        (status = 200, description = "Rotated; keep `secret`, it is not shown again", body = EndpointSecretBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
        (status = 422, description = "The overlap is over 7 days", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn rotate_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EndpointSecretBody>, ApiError> {
    let request: RotateBody = json_body(&headers, body, Some(RotateBody::default()))?;
    let overlap = match request.overlap_secs {
        Some(secs) if secs > MAX_OVERLAP_SECS => {
            return Err(ApiError::invalid_field(
                "overlap_secs",
                format!("{secs} s is over the 7-day limit ({MAX_OVERLAP_SECS} s)"),
            ))
        }
        other => other.map(std::time::Duration::from_secs),
    };
    let rotated = delivery::rotate_endpoint_secret(&state, &id, overlap)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(rotated.into()))
}
