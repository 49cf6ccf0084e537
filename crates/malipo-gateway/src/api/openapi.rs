//! `GET /v1/openapi.json`: the OpenAPI 3.1 document, generated from the handlers' annotations
//! (the same ones the router is built from, so a route cannot be missing from it).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The document's fixed parts; paths and schemas come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "malipo merchant API",
        version = "1",
        description = "Start and track M-Pesa and Paystack payments. Authenticate with `Authorization: Bearer mk_…` (`malipo api-key create`). Amounts are integers in the currency's minor unit: `{\"minor\": 10000, \"currency\": \"KES\"}` is KES 100.00. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`. Lists are newest first and paged by `cursor`: follow `next_cursor` until it is null. `POST` requests take an `Idempotency-Key` header."
    ),
    modifiers(&BearerKey),
    tags(
        (name = "payments", description = "Start, read and list payments"),
        (name = "events", description = "Provider callbacks and webhooks as stored"),
        (name = "records", description = "Paystack customers, plans, subscriptions, transfers and dedicated accounts kept locally"),
        (name = "meta", description = "This document")
    )
)]
pub(crate) struct ApiDoc;

/// Declares the `api_key` bearer scheme the operations name.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("mk_test_… (sandbox) or mk_live_… (production)")
                    .build(),
            ),
        );
    }
}

/// The routes of this group (not behind the API key: the document holds no secret).
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(document))
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
async fn document() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        super::openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".to_string())
    });
    ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response()
}
