//! `/v1/paystack/{kind}`: the local copies of the Paystack account's customers, plans,
//! subscriptions, transfers and dedicated accounts (kept from webhooks and `malipo paystack
//! sync`), read without calling Paystack.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use malipo_core::{AccountName, Provider};
use malipo_paystack::RecordKind;
use malipo_store::{RecordEntry, RecordFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use super::payments::page_size;
use crate::AppState;

/// The routes of this group.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(show))
}

/// A kept Paystack resource.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RecordBody {
    /// `customer`, `plan`, `subscription`, `transfer` or `dedicated_account`.
    pub kind: String,
    /// Its code (`CUS_…`, `PLN_…`, `SUB_…`, `TRF_…`) or a dedicated account's numeric id.
    #[schema(example = "CUS_xnxdt6s1zg1f4nx")]
    pub id: String,
    /// The provider account it belongs to (`default`: the `[paystack]` section's own).
    pub account: String,
    /// The object as Paystack rendered it, merged from every copy received.
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// When Paystack last changed it, as the newest copy said.
    pub updated_at: Option<DateTime<Utc>>,
    /// Where the latest copy came from: `webhook` or `sync`.
    pub source: String,
    /// When malipo last merged a copy into it.
    pub last_seen_at: DateTime<Utc>,
}

impl From<RecordEntry> for RecordBody {
    fn from(r: RecordEntry) -> Self {
        RecordBody {
            kind: r.kind,
            id: r.id,
            account: r.account.to_string(),
            data: r.data,
            updated_at: r.updated_at,
            source: r.source.as_str().to_string(),
            last_seen_at: r.last_seen_at,
        }
    }
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordPage {
    /// The records, most recently updated first.
    pub data: Vec<RecordBody>,
    /// Pass as `cursor` for the next page; null when there is no more.
    pub next_cursor: Option<String>,
}

/// Filters of `GET /v1/paystack/{kind}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListRecords {
    /// Only this account's (`default`, or a `[paystack.accounts.NAME]`).
    pub account: Option<String>,
    /// Only records whose code is this, or whose object holds this text (an email address).
    pub search: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<usize>,
}

/// The account query parameter of the show route.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordAccount {
    /// The account it belongs to (default `default`).
    pub account: Option<String>,
}

fn kind(name: &str) -> Result<RecordKind, ApiError> {
    RecordKind::parse(name).ok_or_else(|| ApiError::not_found("record kind", name).with_field("kind"))
}

fn account(name: Option<String>) -> Result<Option<AccountName>, ApiError> {
    name.map(|n| {
        n.parse::<AccountName>()
            .map_err(|e| ApiError::bad_request(e.to_string()).with_field("account"))
    })
    .transpose()
}

/// List kept customers, plans, subscriptions, transfers or dedicated accounts.
#[utoipa::path(
    get,
    path = "/v1/paystack/{kind}",
    tag = "records",
    params(
        ("kind" = String, Path, description = "customers, plans, subscriptions, transfers or dedicated-accounts"),
        ListRecords
    ),
    responses(
        (status = 200, description = "A page; follow `next_cursor` until it is null", body = RecordPage),
        (status = 400, description = "A filter or the cursor cannot be read", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "Not a kind malipo keeps", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn list(
    State(state): State<AppState>,
    Path(kind_name): Path<String>,
    ApiQuery(query): ApiQuery<ListRecords>,
) -> Result<Json<RecordPage>, ApiError> {
    let kind = kind(&kind_name)?;
    let limit = page_size(query.limit)?;
    let offset = match query.cursor.as_deref() {
        None => 0,
        Some(c) => c
            .strip_prefix("o")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::bad_request("the cursor is not one this API gave").with_field("cursor")
            })?,
    };
    let filter = RecordFilter {
        account: account(query.account)?,
        search: query.search.filter(|s| !s.trim().is_empty()),
        limit: limit + 1,
        offset,
        ..RecordFilter::new(Provider::Paystack, kind.as_str())
    };
    let mut found = state.store.list_records(&filter).await?;
    let more = found.len() > limit;
    found.truncate(limit);
    Ok(Json(RecordPage {
        next_cursor: more.then(|| format!("o{}", offset + limit)),
        data: found.into_iter().map(RecordBody::from).collect(),
    }))
}

/// Read one kept customer, plan, subscription, transfer or dedicated account.
#[utoipa::path(
    get,
    path = "/v1/paystack/{kind}/{id}",
    tag = "records",
    params(
        ("kind" = String, Path, description = "customers, plans, subscriptions, transfers or dedicated-accounts"),
        ("id" = String, Path, description = "Its code (CUS_…), or a dedicated account's id"),
        RecordAccount
    ),
    responses(
        (status = 200, description = "The record", body = RecordBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "Not kept (run `malipo paystack sync`), or not a kind malipo keeps", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn show(
    State(state): State<AppState>,
    Path((kind_name, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<RecordAccount>,
) -> Result<Json<RecordBody>, ApiError> {
    let kind = kind(&kind_name)?;
    let account = account(query.account)?.unwrap_or_else(AccountName::default_account);
    match state
        .store
        .get_record(Provider::Paystack, kind.as_str(), &account, &id)
        .await?
    {
        Some(record) => Ok(Json(record.into())),
        None => Err(ApiError::not_found(kind.as_str(), &id)),
    }
}
