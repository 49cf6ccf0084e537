//! Daraja callbacks: STK, C2B validation and confirmation, results and queue timeouts.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::{Extension, Json, Router};
use malipo_core::{EventStatus, Provider};
use malipo_guard::{CallbackPayment, ClientIp, VerifiedBody};
use malipo_mpesa::{callback_ack, parse_callback, CallbackKind};
use malipo_store::NewEvent;

use super::{digest_key, store};
use crate::metrics::Endpoint;
use crate::AppState;

/// The Daraja routes. Token routes carry the per-payment callback token (DESIGN invariant 3);
/// the C2B routes, registered once per shortcode, rely on the source allowlist.
///
/// Daraja refuses to register C2B URLs containing "mpesa", so the C2B routes are also served
/// under `/callbacks/daraja/c2b/…`.
pub(crate) fn router(state: &AppState) -> Option<Router<AppState>> {
    let tokens = state.callback_tokens.clone()?;
    let with_token = Router::new()
        .route(
            "/callbacks/mpesa/stk/{token}",
            with_token(CallbackKind::Stk, Endpoint::MpesaStk),
        )
        .route(
            "/callbacks/mpesa/result/{token}",
            with_token(CallbackKind::Result, Endpoint::MpesaResult),
        )
        .route(
            "/callbacks/mpesa/timeout/{token}",
            with_token(CallbackKind::Timeout, Endpoint::MpesaTimeout),
        )
        .route_layer(state.guards.mpesa_callback(tokens));
    let validation = || source_only(CallbackKind::C2bValidation, Endpoint::MpesaC2bValidation);
    let confirmation = || source_only(CallbackKind::C2bConfirmation, Endpoint::MpesaC2bConfirmation);
    let c2b = Router::new()
        .route("/callbacks/mpesa/c2b/validation", validation())
        .route("/callbacks/mpesa/c2b/confirmation", confirmation())
        .route("/callbacks/daraja/c2b/validation", validation())
        .route("/callbacks/daraja/c2b/confirmation", confirmation())
        .route_layer(state.guards.mpesa_c2b());
    Some(with_token.merge(c2b))
}

/// A route whose guard put the token's payment in the extensions.
fn with_token(kind: CallbackKind, endpoint: Endpoint) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>,
              Extension(payment): Extension<CallbackPayment>,
              Extension(body): Extension<VerifiedBody>,
              Extension(ip): Extension<ClientIp>| async move {
            handle(&state, kind, endpoint, Some(payment), body, ip).await
        },
    )
}

/// A route protected by the source allowlist alone (C2B).
fn source_only(kind: CallbackKind, endpoint: Endpoint) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>,
              Extension(body): Extension<VerifiedBody>,
              Extension(ip): Extension<ClientIp>| async move {
            handle(&state, kind, endpoint, None, body, ip).await
        },
    )
}

async fn handle(
    state: &AppState,
    kind: CallbackKind,
    endpoint: Endpoint,
    payment: Option<CallbackPayment>,
    VerifiedBody(body): VerifiedBody,
    ClientIp(ip): ClientIp,
) -> Response {
    let (event, answer) = match parse_callback(kind, &body) {
        Ok(callback) => (
            NewEvent::received(
                Provider::Mpesa,
                callback.kind_name(),
                callback.dedup_key(),
                body.clone(),
            ),
            callback.acknowledgement(),
        ),
        // Authentic (right source, right token) but unreadable: keep it for a person to look at,
        // and acknowledge so Daraja does not resend garbage.
        Err(e) => (
            NewEvent {
                status: EventStatus::Failed,
                last_error: Some(format!("unparseable {}: {e}", kind.as_str())),
                ..NewEvent::received(
                    Provider::Mpesa,
                    format!("{}_unparseable", kind.as_str()),
                    digest_key(kind.as_str(), &body),
                    body.clone(),
                )
            },
            callback_ack(),
        ),
    };
    let event = NewEvent {
        source_ip: Some(ip),
        payment_id: payment.map(|CallbackPayment(id)| id),
        ..event
    };
    match store(state, endpoint, event).await {
        Ok(_) => Json(answer).into_response(),
        Err(response) => response,
    }
}
