//! `POST /webhooks/paystack` (the `[paystack]` section's own account) and
//! `POST /webhooks/paystack/NAME` (each `[paystack.accounts.NAME]`), each verified with its own
//! account's secret key.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use malipo_core::{AccountName, EventStatus, Provider, Secret};
use malipo_guard::{ClientIp, VerifiedBody};
use malipo_paystack::{identify, Identified};
use malipo_store::NewEvent;

use super::{digest_key, store};
use crate::metrics::Endpoint;
use crate::AppState;

/// The Paystack webhook routes, each behind a Paystack guard holding its account's key
/// (signature of the raw body): a webhook signed with one account's key is refused on another's
/// path.
pub(crate) fn router(state: &AppState) -> Option<Router<AppState>> {
    let secret = Secret::clone(state.paystack_secret.as_deref()?);
    let own = AccountName::default_account();
    let mut router = Router::new()
        .route(
            "/webhooks/paystack",
            post(move |state, body, ip| webhook(state, own.clone(), body, ip)),
        )
        .route_layer(state.guards.paystack(secret));
    for (name, secret) in state.paystack_account_secrets.iter() {
        let account = name.clone();
        router = router.merge(
            Router::new()
                .route(
                    &format!("/webhooks/paystack/{name}"),
                    post(move |state, body, ip| webhook(state, account.clone(), body, ip)),
                )
                .route_layer(state.guards.paystack(secret.clone())),
        );
    }
    Some(router)
}

async fn webhook(
    State(state): State<AppState>,
    account: AccountName,
    Extension(VerifiedBody(body)): Extension<VerifiedBody>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
) -> Response {
    // Only the name and identity are read here; the worker does the typed parse of the stored
    // body (bench/README.md: the full parse was a fifth of the request's CPU).
    let event = match identify(&body) {
        Ok(Identified {
            name,
            dedup_key,
            known: false,
        }) => NewEvent {
            status: EventStatus::RejectedAuthentic,
            last_error: Some(format!("unknown Paystack event {name:?}")),
            ..NewEvent::received(Provider::Paystack, name, dedup_key, body.clone())
        },
        Ok(Identified {
            name,
            dedup_key,
            known: true,
        }) => NewEvent::received(Provider::Paystack, name, dedup_key, body.clone()),
        Err(e) => NewEvent {
            status: EventStatus::Failed,
            last_error: Some(format!("unparseable: {e}")),
            ..NewEvent::received(
                Provider::Paystack,
                "unparseable",
                digest_key("unparseable", &body),
                body.clone(),
            )
        },
    };
    // Another integration numbers its events on its own: a named account's keys are scoped to
    // it, so its event can never be taken for another account's as a duplicate. The section's
    // own account keeps the unscoped keys it always had.
    let dedup_key = if account.is_default() {
        event.dedup_key
    } else {
        format!("{account}:{}", event.dedup_key)
    };
    let event = NewEvent {
        source_ip: Some(ip),
        account: Some(account),
        dedup_key,
        ..event
    };
    match store(&state, Endpoint::Paystack, event).await {
        // Paystack only needs a 2xx; a duplicate is acknowledged the same way so it stops retrying.
        Ok(_) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(response) => response,
    }
}
