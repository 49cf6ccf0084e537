//! `/v1/events`: the provider callbacks and webhooks malipo stored, and replaying one.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use malipo_core::{EventId, EventStatus, Msisdn, Provider};
use malipo_store::{EventFilter, EventSummary, Replayed, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use super::payments::{page_size, parse_since};
use crate::AppState;

/// The routes of this group.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(replay))
}

/// A stored provider event.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventBody {
    /// Its id.
    #[schema(example = "evt_01JD3W8Q6M2K4X7V9B5N1R0T2Y")]
    pub id: String,
    /// `mpesa` or `paystack`.
    pub provider: String,
    /// What kind of callback (`stk_callback`, `charge.success`…).
    pub kind: String,
    /// The provider's identity of the event (one event is stored once per key).
    pub dedup_key: String,
    /// `received`, `processed`, `failed` or `rejected_authentic`.
    pub status: String,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Processing attempts so far.
    pub attempts: u32,
    /// The last processing error.
    pub last_error: Option<String>,
    /// The payment it is about, once known.
    pub payment_id: Option<String>,
    /// The body's size in bytes.
    pub body_len: u64,
    /// `GET /v1/events/{id}` only: the body as received, phone numbers masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub body: Option<serde_json::Value>,
}

impl From<&EventSummary> for EventBody {
    fn from(e: &EventSummary) -> Self {
        EventBody {
            id: e.id.to_string(),
            provider: e.provider.as_str().to_string(),
            kind: e.kind.clone(),
            dedup_key: e.dedup_key.clone(),
            status: e.status.as_str().to_string(),
            received_at: e.received_at,
            attempts: e.attempts,
            last_error: e.last_error.clone(),
            payment_id: e.payment_id.map(|p| p.to_string()),
            body_len: e.body_len,
            body: None,
        }
    }
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// The events, newest first, without bodies.
    pub data: Vec<EventBody>,
    /// Pass as `cursor` for the next page; null when there is no more.
    pub next_cursor: Option<String>,
}

/// Filters of `GET /v1/events`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListEvents {
    /// Only this provider's: `mpesa` or `paystack`.
    pub provider: Option<String>,
    /// Only in this status: `received`, `processed`, `failed` or `rejected_authentic`.
    pub status: Option<String>,
    /// Only received at or after this RFC 3339 time.
    pub since: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<usize>,
}

/// What a replay did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayBody {
    /// The event.
    pub id: String,
    /// `queued` (it will be processed again) or `already_queued` (nothing changed).
    #[schema(example = "queued")]
    pub result: String,
}

/// List stored events, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    params(ListEvents),
    responses(
        (status = 200, description = "A page; follow `next_cursor` until it is null", body = EventPage),
        (status = 400, description = "A filter or the cursor cannot be read", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListEvents>,
) -> Result<Json<EventPage>, ApiError> {
    list_events(&state, query).await.map(Json)
}

/// A page of events matching `query`.
pub(crate) async fn list_events(state: &AppState, query: ListEvents) -> Result<EventPage, ApiError> {
    let limit = page_size(query.limit)?;
    let filter = EventFilter {
        provider: query
            .provider
            .map(|p| {
                p.parse::<Provider>()
                    .map_err(|e| ApiError::bad_request(e).with_field("provider"))
            })
            .transpose()?,
        status: query
            .status
            .map(|s| {
                s.parse::<EventStatus>()
                    .map_err(|e| ApiError::bad_request(e).with_field("status"))
            })
            .transpose()?,
        since: parse_since(query.since.as_deref())?,
        before: query
            .cursor
            .map(|c| {
                c.parse::<EventId>().map_err(|_| {
                    ApiError::bad_request("the cursor is not one this API gave").with_field("cursor")
                })
            })
            .transpose()?,
        limit: limit + 1,
        payment_id: None,
    };
    let mut found = state.store.list_events(&filter).await?;
    let more = found.len() > limit;
    found.truncate(limit);
    Ok(EventPage {
        next_cursor: if more {
            found.last().map(|e| e.id.to_string())
        } else {
            None
        },
        data: found.iter().map(EventBody::from).collect(),
    })
}

/// Read one event with its body (phone numbers masked).
#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The event id (evt_…)")),
    responses(
        (status = 200, description = "The event with its body", body = EventBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<EventBody>, ApiError> {
    get_event(&state, &id).await.map(Json)
}

/// One event with its masked body; an id that does not parse is 404 like an unknown one.
pub(crate) async fn get_event(state: &AppState, id: &str) -> Result<EventBody, ApiError> {
    let parsed: EventId = id.parse().map_err(|_| ApiError::not_found("event", id))?;
    let Some(event) = state.store.get_event(parsed).await? else {
        return Err(ApiError::not_found("event", id));
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&event.raw_body) {
        Ok(mut v) => {
            mask_personal(&mut v);
            v
        }
        Err(_) => serde_json::Value::String(mask_text(&String::from_utf8_lossy(&event.raw_body))),
    };
    Ok(EventBody {
        body: Some(body),
        ..EventBody::from(&event.summary)
    })
}

/// Queue an event for processing again (a failed one, say).
#[utoipa::path(
    post,
    path = "/v1/events/{id}/replay",
    tag = "events",
    params(("id" = String, Path, description = "The event id (evt_…)")),
    responses(
        (status = 200, description = "Queued, or already waiting", body = ReplayBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
        (status = 409, description = "A processed refund: processing it again would count it twice", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn replay(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<ReplayBody>, ApiError> {
    replay_event(&state, &id).await.map(Json)
}

/// Why an event was not queued again.
#[derive(Debug)]
pub enum ReplayError {
    /// No event has this id.
    NotFound,
    /// Processing it again would count money twice ([`crate::replay_refusal`]).
    Refused(String),
    /// The store failed.
    Store(malipo_store::StoreError),
}

/// Queues a stored event for processing again, unless processing it again would count money
/// twice. Every way to replay (API, dashboard, `malipo replay`) goes through here.
pub async fn replay_checked(store: &dyn Store, id: EventId) -> Result<Replayed, ReplayError> {
    let event = store
        .get_event(id)
        .await
        .map_err(ReplayError::Store)?
        .ok_or(ReplayError::NotFound)?;
    if let Some(why) = crate::apply::replay_refusal(&event) {
        return Err(ReplayError::Refused(why));
    }
    store.replay(id).await.map_err(ReplayError::Store)
}

/// Replays an event and wakes the worker.
pub(crate) async fn replay_event(state: &AppState, id: &str) -> Result<ReplayBody, ApiError> {
    let parsed: EventId = id.parse().map_err(|_| ApiError::not_found("event", id))?;
    let replayed = replay_checked(&*state.store, parsed).await.map_err(|e| match e {
        ReplayError::NotFound => ApiError::not_found("event", id),
        ReplayError::Refused(why) => ApiError::new(axum::http::StatusCode::CONFLICT, "not_replayable", why),
        ReplayError::Store(e) => ApiError::from(e),
    })?;
    let result = match replayed {
        Replayed::Queued => {
            state.worker_wakeup.notify_one();
            "queued"
        }
        Replayed::AlreadyQueued => "already_queued",
    };
    Ok(ReplayBody {
        id: parsed.to_string(),
        result: result.to_string(),
    })
}

/// Masks the personal data in `value`: every value that reads as a Kenyan phone number
/// (`2547****4149`) and every email address (`w***@example.com`), as `malipo events show` does.
pub fn mask_personal(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => *s = mask_text(s),
        Value::Number(n) => {
            if let Some(m) = n.as_u64().and_then(|n| Msisdn::try_from(n).ok()) {
                *value = Value::String(m.masked());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_personal),
        Value::Object(map) => map.values_mut().for_each(mask_personal),
        _ => {}
    }
}

/// Masks, in free text, email addresses and runs of 9 to 13 digits (with an optional +) that
/// parse as a Kenyan mobile number.
pub fn mask_text(s: &str) -> String {
    mask_email_text(&mask_phone_text(s))
}

fn mask_phone_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.trim_start_matches('+').len();
        match run.parse::<Msisdn>() {
            Ok(m) if (9..=13).contains(&digits) => out.push_str(&m.masked()),
            _ => out.push_str(run),
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() || (c == '+' && run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Keeps the first character of each address's local part and its domain.
pub fn mask_email_text(s: &str) -> String {
    let local_char = |c: char| c.is_alphanumeric() || "._%+-'".contains(c);
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('@') {
        let (before, after) = rest.split_at(at);
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| local_char(*c))
            .last()
            .map_or(before.len(), |(i, _)| i);
        let has_domain = after[1..].starts_with(|c: char| c.is_alphanumeric());
        if start == before.len() || !has_domain {
            out.push_str(before);
            out.push('@');
        } else {
            out.push_str(&before[..start]);
            let first = before[start..].chars().next().unwrap_or('*');
            out.push(first);
            out.push_str("***@");
        }
        rest = &after[1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_phone_numbers_in_json_and_text() {
        let mut v = serde_json::json!({
            "PhoneNumber": 254708374149u64,
            "MSISDN": "254712345678",
            "note": "call 0712345678",
            "Amount": 100,
            "ts": 20191219102115u64
        });
        mask_personal(&mut v);
        assert_eq!(v["PhoneNumber"], "2547****4149");
        assert_eq!(v["MSISDN"], "2547****5678");
        assert_eq!(v["note"], "call 2547****5678");
        assert_eq!(v["Amount"], 100);
        assert_eq!(v["ts"], 20191219102115u64);
    }

    #[test]
    fn masks_email_addresses_as_the_demo_does() {
        let mut v = serde_json::json!({
            "customer": { "email": "customer@example.com", "id": 1 },
            "note": "paid by jane.doe+shop@mail.example.org, twice",
            "handle": "@someone",
            "list": ["a@b.co"],
        });
        mask_personal(&mut v);
        assert_eq!(v["customer"]["email"], "c***@example.com");
        assert_eq!(v["customer"]["id"], 1);
        assert_eq!(v["note"], "paid by j***@mail.example.org, twice");
        assert_eq!(v["handle"], "@someone");
        assert_eq!(v["list"][0], "a***@b.co");
    }
}
