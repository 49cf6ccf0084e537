//! Daraja callbacks: STK, C2B validation and confirmation, results and queue timeouts.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::{Extension, Json, Router};
use malipo_core::{AccountName, EventStatus, PaymentId, Provider};
use malipo_guard::{CallbackPayment, ClientIp, VerifiedBody};
use malipo_mpesa::{
    callback_ack, parse_callback, C2bPayment, C2bRejection, C2bValidationResponse, Callback, CallbackKind,
};
use malipo_store::NewEvent;
use sha2::{Digest, Sha256};

use super::{digest_key, store};
use crate::metrics::Endpoint;
use crate::validation::{RejectReason, ValidationRequest, Verdict};
use crate::AppState;

/// The Daraja routes. Token routes carry the per-payment callback token (DESIGN invariant 3);
/// the C2B routes, registered once per shortcode, rely on the source allowlist.
///
/// Daraja refuses to register C2B URLs containing "mpesa", so the C2B routes are also served
/// under `/callbacks/daraja/c2b/…`.
pub(crate) fn router(state: &AppState) -> Option<Router<AppState>> {
    let tokens = state.callback_tokens.clone()?;
    // The section's own account's routes name no account; each named account has its own,
    // under its name, and what comes in on them is that account's (the worker checks it).
    let mut accounts: Vec<Option<AccountName>> = vec![None];
    accounts.extend(state.providers.mpesa_accounts.keys().cloned().map(Some));
    let mut with_tokens = Router::new();
    let mut c2b = Router::new();
    for account in accounts {
        let at = |route: &str| match &account {
            None => format!("/callbacks/{route}"),
            Some(name) => format!(
                "/callbacks/{}",
                route.replacen("mpesa/", &format!("mpesa/{name}/"), 1)
            ),
        };
        let c2b_at = |prefix: &str, kind: &str| match &account {
            None => format!("/callbacks/{prefix}/c2b/{kind}"),
            Some(name) => format!("/callbacks/{prefix}/c2b/{name}/{kind}"),
        };
        with_tokens = with_tokens
            .route(
                &at("mpesa/stk/{token}"),
                with_token(CallbackKind::Stk, Endpoint::MpesaStk, account.clone()),
            )
            .route(
                &at("mpesa/result/{token}"),
                with_token(CallbackKind::Result, Endpoint::MpesaResult, account.clone()),
            )
            .route(
                &at("mpesa/timeout/{token}"),
                with_token(CallbackKind::Timeout, Endpoint::MpesaTimeout, account.clone()),
            );
        for prefix in ["mpesa", "daraja"] {
            c2b = c2b
                .route(
                    &c2b_at(prefix, "validation"),
                    source_only(
                        CallbackKind::C2bValidation,
                        Endpoint::MpesaC2bValidation,
                        account.clone(),
                    ),
                )
                .route(
                    &c2b_at(prefix, "confirmation"),
                    source_only(
                        CallbackKind::C2bConfirmation,
                        Endpoint::MpesaC2bConfirmation,
                        account.clone(),
                    ),
                );
        }
    }
    let with_tokens = with_tokens.route_layer(state.guards.mpesa_callback(tokens));
    let c2b = c2b.route_layer(state.guards.mpesa_c2b());
    Some(with_tokens.merge(c2b))
}

/// A route whose guard put the token's payment in the extensions.
fn with_token(
    kind: CallbackKind,
    endpoint: Endpoint,
    account: Option<AccountName>,
) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>,
              Extension(payment): Extension<CallbackPayment>,
              Extension(body): Extension<VerifiedBody>,
              Extension(ip): Extension<ClientIp>| async move {
            handle(&state, kind, endpoint, Some(payment), account, body, ip).await
        },
    )
}

/// A route protected by the source allowlist alone (C2B).
fn source_only(
    kind: CallbackKind,
    endpoint: Endpoint,
    account: Option<AccountName>,
) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>,
              Extension(body): Extension<VerifiedBody>,
              Extension(ip): Extension<ClientIp>| async move {
            handle(&state, kind, endpoint, None, account, body, ip).await
        },
    )
}

async fn handle(
    state: &AppState,
    kind: CallbackKind,
    endpoint: Endpoint,
    payment: Option<CallbackPayment>,
    account: Option<AccountName>,
    VerifiedBody(body): VerifiedBody,
    ClientIp(ip): ClientIp,
) -> Response {
    let payment = payment.map(|CallbackPayment(id)| id);
    let (event, answer) = match parse_callback(kind, &body) {
        Ok(callback) => {
            let event = NewEvent::received(
                Provider::Mpesa,
                callback.kind_name(),
                dedup_key(&callback, payment, &body),
                body.clone(),
            );
            match answer(state, &callback, account.as_ref()).await {
                Answer::Ack(answer) => (event, answer),
                // The merchant's decision is the event's whole processing: it is stored done,
                // with the decision as its note.
                Answer::Decided(answer, note) => (
                    NewEvent {
                        status: EventStatus::Processed,
                        last_error: Some(note),
                        ..event
                    },
                    answer,
                ),
            }
        }
        // Authentic (right source, right token) but unreadable: keep it for a person to look at,
        // and acknowledge so Daraja does not resend garbage. A validation request is a question,
        // not a notice: one nobody can read (its account, its amount) is refused, never accepted
        // unasked.
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
            match kind {
                CallbackKind::C2bValidation => {
                    C2bValidationResponse::Reject(C2bRejection::OtherError).to_json()
                }
                _ => callback_ack(),
            },
        ),
    };
    let event = NewEvent {
        source_ip: Some(ip),
        payment_id: payment,
        account,
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
        (None, Callback::C2bConfirmation(p)) => c2b_dedup_key(p),
        (None, Callback::C2bValidation(p)) => {
            format!("{kind}:{}:{}", p.business_short_code.trim(), p.trans_id.trim())
        }
        (None, _) => callback.dedup_key(),
    }
}

/// The dedup key of a C2B confirmation: the shortcode paid and the TransID. A payment
/// recovered by C2B Pull Transactions is stored under the same key (`c2b_pull`), so it and its
/// confirmation, whichever comes first, are one event.
pub(crate) fn c2b_dedup_key(p: &C2bPayment) -> String {
    format!(
        "{}:{}:{}",
        CallbackKind::C2bConfirmation.as_str(),
        p.business_short_code.trim(),
        p.trans_id.trim()
    )
}

/// What Daraja is answered, and whether the answer is a decision to record.
enum Answer {
    /// The acknowledgement; the worker processes the event.
    Ack(serde_json::Value),
    /// The merchant's app (or the fallback) decided a validation request: the answer and a note
    /// saying who decided what.
    Decided(serde_json::Value, String),
}

/// The answer Daraja expects. A validation request for a shortcode that is not ours is refused
/// (and stored, to be marked suspicious by the worker); one for ours is decided by the
/// merchant's app when `[mpesa.c2b_validation]` is configured, and accepted otherwise.
async fn answer(state: &AppState, callback: &Callback, account: Option<&AccountName>) -> Answer {
    let Callback::C2bValidation(p) = callback else {
        return Answer::Ack(callback.acknowledgement());
    };
    let shortcode = p.business_short_code.trim();
    // On an account's own URL, only that account's shortcodes are ours.
    if !state
        .mpesa_payees
        .iter()
        .any(|p| p.code == shortcode && account.is_none_or(|a| *a == p.account))
    {
        return Answer::Ack(C2bValidationResponse::Reject(C2bRejection::InvalidShortcode).to_json());
    }
    let Some(validator) = state.c2b_validators.get(shortcode) else {
        return Answer::Ack(callback.acknowledgement());
    };
    let decision = validator.decide(&validation_request(p)).await;
    state.metrics.validation(&decision);
    let response = match decision.verdict {
        Verdict::Accept => C2bValidationResponse::Accept,
        Verdict::Reject(reason) => C2bValidationResponse::Reject(rejection(reason)),
    };
    let code = match response {
        C2bValidationResponse::Reject(r) => Some(r.code()),
        C2bValidationResponse::Accept => None,
    };
    Answer::Decided(response.to_json(), decision.describe(code))
}

/// A C2B payment as the merchant's app is asked about it.
fn validation_request(p: &C2bPayment) -> ValidationRequest {
    let name = [&p.first_name, &p.middle_name, &p.last_name]
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let non_empty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    ValidationRequest {
        provider: Provider::Mpesa.as_str(),
        account: p.business_short_code.trim().to_string(),
        transaction_id: p.trans_id.trim().to_string(),
        amount: p.amount(),
        account_reference: non_empty(&p.bill_ref_number),
        phone: p
            .phone()
            .map(|m| m.as_str().to_string())
            .or_else(|| non_empty(&p.msisdn)),
        payer_name: non_empty(&name),
        transaction_type: non_empty(&p.transaction_type),
    }
}

/// Daraja's rejection code for the app's reason.
fn rejection(reason: RejectReason) -> C2bRejection {
    match reason {
        RejectReason::InvalidPhone => C2bRejection::InvalidMsisdn,
        RejectReason::InvalidAccount => C2bRejection::InvalidAccountNumber,
        RejectReason::InvalidAmount => C2bRejection::InvalidAmount,
        RejectReason::InvalidCustomer => C2bRejection::InvalidKyc,
        RejectReason::Other => C2bRejection::OtherError,
    }
}
