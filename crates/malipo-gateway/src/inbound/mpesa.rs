//! Daraja callbacks: STK, C2B validation and confirmation, results and queue timeouts.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::{Extension, Json, Router};
use malipo_core::{EventStatus, PaymentId, Provider};
use malipo_guard::{CallbackPayment, ClientIp, VerifiedBody};
use malipo_mpesa::{
    callback_ack, parse_callback, C2bRejection, C2bValidationResponse, Callback, CallbackKind,
};
use malipo_store::NewEvent;
use sha2::{Digest, Sha256};

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
    let payment = payment.map(|CallbackPayment(id)| id);
    let (event, answer) = match parse_callback(kind, &body) {
        Ok(callback) => (
            NewEvent::received(
                Provider::Mpesa,
                callback.kind_name(),
                dedup_key(&callback, payment, &body),
                body.clone(),
            ),
            answer(state, &callback),
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
        payment_id: payment,
        ..event
    };
    match store(state, endpoint, event).await {
        Ok(_) => Json(answer).into_response(),
        Err(response) => response,
    }
}

/// The event's dedup key, scoped so that no callback can make another's a duplicate.
///
/// On a token route the key names the payment the URL names and ends with a digest of the exact
/// body: a retried delivery (the same bytes) is stored once, while a callback naming another
/// payment's CheckoutRequestID, or junk posted before the genuine callback, is stored as its
/// own event and cannot take the genuine callback's key. C2B keys name the shortcode paid, so a
/// confirmation sent for a foreign till cannot take the key of ours with the same TransID.
fn dedup_key(callback: &Callback, payment: Option<PaymentId>, body: &[u8]) -> String {
    let kind = callback.kind().as_str();
    match (payment, callback) {
        (Some(id), _) => {
            let identity = callback.outcome().identity;
            let digest = hex::encode(&Sha256::digest(body)[..8]);
            format!("{kind}:{id}:{identity}:{digest}")
        }
        (None, Callback::C2bConfirmation(p) | Callback::C2bValidation(p)) => {
            format!("{kind}:{}:{}", p.business_short_code.trim(), p.trans_id.trim())
        }
        (None, _) => callback.dedup_key(),
    }
}

/// The answer Daraja expects; a validation request for a shortcode that is not ours is refused
/// (and stored, to be marked suspicious by the worker).
fn answer(state: &AppState, callback: &Callback) -> serde_json::Value {
    match callback {
        Callback::C2bValidation(p)
            if !state
                .mpesa_shortcodes
                .iter()
                .any(|s| *s == p.business_short_code.trim()) =>
        {
            C2bValidationResponse::Reject(C2bRejection::InvalidShortcode).to_json()
        }
        _ => callback.acknowledgement(),
    }
}
