//! `/v1/payments`: start a payment (STK push or Paystack checkout), read one, list them.
//!
//! Amounts are integers in the currency's **minor unit** (KES 100 is `10000`), in requests and
//! answers alike; an answer's amount is `{"minor": 10000, "currency": "KES"}`. M-Pesa takes
//! whole shillings only, so an STK push amount must be a multiple of 100.
//!
//! Outcomes of `POST /v1/payments`:
//!
//! | status | meaning |
//! |---|---|
//! | 201 | the provider accepted: the payment is `pending` until its callback settles it |
//! | 202 | no answer from the provider: the request **may** have gone out; the payment is `pending` and settles by callback or reconciliation. Do not resend it: poll `GET /v1/payments/{id}` |
//! | 409 `conflict` | the Paystack `reference` is already used |
//! | 422 `invalid_field` | a field is not acceptable (`field` names it); nothing was stored or sent |
//! | 422 `provider_not_configured` | this gateway has no such provider |
//! | 502 `provider_refused` | the provider refused; the payment is recorded as `failed` and returned beside the error |
//! | 503 | the database failed (nothing was sent) or the gateway is missing `server.public_base_url` |

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use malipo_core::{AccountName, Currency, Money, Msisdn, PaymentId, PaymentState, Provider};
use malipo_store::{PaymentFilter, PaymentRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{check_content_type, parse_json, ApiQuery};
use super::idempotency::{self, Answer, Outcome};
use crate::payments::{
    start_paystack_checkout, start_stk_push, CheckoutStart, PaymentStartError, StkPushStart,
};
use crate::AppState;

/// The routes of this group.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show))
        .routes(routes!(refund))
        .routes(routes!(payout))
}

/// An amount: integer minor units and the ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AmountBody {
    /// Minor units (cents): KES 100.00 is 10000.
    #[schema(example = 10000)]
    pub minor: u64,
    /// ISO 4217 code.
    #[schema(example = "KES")]
    pub currency: String,
}

impl From<Money> for AmountBody {
    fn from(m: Money) -> Self {
        AmountBody {
            minor: m.minor(),
            currency: m.currency().code().to_string(),
        }
    }
}

/// A payment as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PaymentBody {
    /// Its id.
    #[schema(example = "pay_01JD3W8Q6M2K4X7V9B5N1R0T2Y")]
    pub id: String,
    /// `mpesa` or `paystack`.
    #[schema(example = "mpesa")]
    pub provider: String,
    /// `stk_push`, `charge`, `c2b`…
    pub kind: String,
    /// `pending`, `succeeded`, `failed`, `cancelled`, `expired`, `reversed` or `refunded`.
    #[schema(example = "pending")]
    pub state: String,
    /// How much.
    pub amount: AmountBody,
    /// The provider's reference (Daraja's CheckoutRequestID, the Paystack reference).
    pub provider_reference: Option<String>,
    /// The merchant's own reference.
    pub merchant_reference: Option<String>,
    /// The description given.
    pub description: Option<String>,
    /// The merchant's metadata.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// The paying phone, masked (`2547****4149`).
    pub phone: Option<String>,
    /// The paying email (Paystack).
    pub email: Option<String>,
    /// The provider's receipt once paid (M-Pesa receipt number).
    pub receipt: Option<String>,
    /// The provider's last result code.
    pub result_code: Option<String>,
    /// The provider's last result description.
    pub result_desc: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Paystack checkouts (201 only): where to send the customer to pay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    /// Paystack checkouts (201 only): the code for Paystack's inline checkout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_code: Option<String>,
    /// The provider account it goes through (`default`: the provider section's own).
    pub account: String,
}

impl From<&PaymentRecord> for PaymentBody {
    fn from(p: &PaymentRecord) -> Self {
        PaymentBody {
            id: p.id.to_string(),
            provider: p.provider.as_str().to_string(),
            kind: p.kind.clone(),
            state: p.state.as_str().to_string(),
            amount: p.amount.into(),
            provider_reference: p.provider_reference.clone(),
            merchant_reference: p.merchant_reference.clone(),
            description: p.description.clone(),
            metadata: p.metadata.clone(),
            phone: p.msisdn.as_ref().map(Msisdn::masked),
            email: p.email.clone(),
            receipt: p.receipt.clone(),
            result_code: p.result_code.clone(),
            result_desc: p.result_desc.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            authorization_url: None,
            access_code: None,
            account: p.account.to_string(),
        }
    }
}

/// `POST /v1/payments`: the `provider` field chooses the kind.
// For the document only: the handler dispatches on `provider` itself (see `parse_create`),
// because serde's untagged and tagged enums lose the name of a bad field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CreatePayment {
    /// An M-Pesa STK push.
    Mpesa(CreateStkPush),
    /// A Paystack checkout.
    Paystack(CreateCheckout),
}

/// `"mpesa"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MpesaProvider {
    /// M-Pesa.
    Mpesa,
}

/// `"paystack"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaystackProvider {
    /// Paystack.
    Paystack,
}

/// An M-Pesa STK push: the customer's phone shows a PIN prompt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStkPush {
    /// `mpesa`.
    pub provider: MpesaProvider,
    /// The paying phone: 07XXXXXXXX, 2547XXXXXXXX or +2547XXXXXXXX.
    #[schema(example = "0708374149")]
    pub phone: String,
    /// Minor units; M-Pesa takes whole shillings, so a multiple of 100 (KES 100 is 10000).
    #[schema(example = 10000)]
    #[serde(deserialize_with = "minor_units")]
    pub amount: u64,
    /// `KES` (the only currency M-Pesa takes; the default).
    pub currency: Option<String>,
    /// Shown to the customer (Daraja's AccountReference), 1 to 12 characters.
    #[schema(example = "INV-1042")]
    pub account_reference: String,
    /// Daraja's TransactionDesc, 1 to 13 characters.
    #[schema(example = "Order 1042")]
    pub description: String,
    /// Your own reference (order number), kept on the payment and filterable.
    pub merchant_reference: Option<String>,
    /// Any JSON, kept on the payment.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// The provider account to use, as named in the configuration (`[mpesa.accounts.NAME]`,
    /// `[paystack.accounts.NAME]`); absent: the section's own account (`default`).
    pub account: Option<String>,
}

/// A Paystack checkout: the customer pays on Paystack's page.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCheckout {
    /// `paystack`.
    pub provider: PaystackProvider,
    /// The customer's email.
    #[schema(example = "wanjiru@example.com")]
    pub email: String,
    /// Minor units (kobo, cents), positive.
    #[schema(example = 500000)]
    #[serde(deserialize_with = "minor_units")]
    pub amount: u64,
    /// ISO 4217: KES, NGN, GHS, ZAR, USD or XOF.
    #[schema(example = "NGN")]
    pub currency: String,
    /// The transaction reference (letters, digits, `-`, `.`, `=`); derived from the payment id
    /// when absent.
    pub reference: Option<String>,
    /// Where Paystack sends the customer after paying.
    pub callback_url: Option<String>,
    /// Any JSON, kept on the payment and sent to Paystack.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Your own reference (order number), kept on the payment and filterable.
    pub merchant_reference: Option<String>,
    /// The provider account to use, as named in the configuration (`[mpesa.accounts.NAME]`,
    /// `[paystack.accounts.NAME]`); absent: the section's own account (`default`).
    pub account: Option<String>,
}

/// A page of payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentPage {
    /// The payments, newest first.
    pub data: Vec<PaymentBody>,
    /// Pass as `cursor` for the next page; null when there is no more.
    pub next_cursor: Option<String>,
}

/// Filters of `GET /v1/payments`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListPayments {
    /// Only in this state.
    pub state: Option<String>,
    /// Only this provider's: `mpesa` or `paystack`.
    pub provider: Option<String>,
    /// Only with this merchant reference.
    pub merchant_reference: Option<String>,
    /// Only created at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only through this provider account (`default`: the provider section's own).
    pub account: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<usize>,
}

/// The largest page.
pub const MAX_LIMIT: usize = 100;
/// The page size when none is asked.
pub const DEFAULT_LIMIT: usize = 50;

/// Start a payment (STK push or Paystack checkout).
#[utoipa::path(
    post,
    path = "/v1/payments",
    tag = "payments",
    request_body = CreatePayment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body return the first answer and reach the provider once (kept 24 h)")),
    responses(
        (status = 201, description = "Accepted by the provider; pending until its callback", body = PaymentBody),
        (status = 202, description = "Outcome unknown: may have reached the provider; pending, do not resend", body = PaymentBody),
        (status = 400, description = "Malformed JSON or header", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 409, description = "Reference already used, or the same Idempotency-Key still running", body = ErrorBody),
        (status = 422, description = "A field is not acceptable, the provider is not configured, or the Idempotency-Key was used for another body", body = ErrorBody),
        (status = 502, description = "The provider refused; the failed payment is in `payment`", body = ErrorBody),
        (status = 503, description = "The database is unavailable; nothing was sent", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let prepared = (|| {
        check_content_type(&headers)?;
        let body = body.map_err(|e| ApiError::new(e.status(), "invalid_request", e.body_text()))?;
        let key = idempotency::key_of(&headers)?;
        let value: serde_json::Value = parse_json(&body)?;
        let request = parse_create(&value)?;
        Ok::<_, ApiError>((
            key,
            idempotency::fingerprint("POST", "/v1/payments", &value),
            request,
        ))
    })();
    let (key, fingerprint, request) = match prepared {
        Ok(p) => p,
        Err(e) => return Answer::error(&e),
    };
    let work_state = state.clone();
    let work = async move { create_payment(&work_state, request).await };
    idempotency::run(&state, caller, key, fingerprint, idempotency::Waits::API, work).await
}

/// A `POST /v1/payments/{id}/refund` request; an empty object refunds what is left.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// Minor units to give back, in the payment's currency; absent: all that is left.
    #[schema(example = 5000)]
    #[serde(default, deserialize_with = "some_minor_units")]
    pub amount: Option<u64>,
    /// Why (shown to the customer by Paystack; Daraja's `Remarks`).
    pub reason: Option<String>,
    /// Your own reference for the refund.
    pub merchant_reference: Option<String>,
}

/// Refund a succeeded payment, in full or in part: a Paystack refund, or an M-Pesa reversal.
/// The refund is a payment of its own (`kind` `refund` or `reversal`, `parent_id` the
/// payment), settled by the provider's answer or the reconciler.
#[utoipa::path(
    post,
    path = "/v1/payments/{id}/refund",
    tag = "payments",
    request_body = CreateRefund,
    params(
        ("id" = String, Path, description = "The payment to refund (pay_…)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body return the first answer and reach the provider once (kept 24 h)"),
    ),
    responses(
        (status = 201, description = "The refund, pending until the provider settles it", body = PaymentBody),
        (status = 202, description = "Outcome unknown: may have reached the provider; pending, do not resend", body = PaymentBody),
        (status = 400, description = "Malformed JSON or header", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
        (status = 409, description = "The same Idempotency-Key is still running", body = ErrorBody),
        (status = 422, description = "Not refundable (not succeeded), more than is left, or the Idempotency-Key was used for another body", body = ErrorBody),
        (status = 502, description = "The provider refused; the failed refund is in `payment`", body = ErrorBody),
        (status = 503, description = "The database is unavailable; nothing was sent", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn refund(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let prepared = (|| {
        check_content_type(&headers)?;
        let body = body.map_err(|e| ApiError::new(e.status(), "invalid_request", e.body_text()))?;
        let key = idempotency::key_of(&headers)?;
        let value: serde_json::Value = parse_json(&body)?;
        let request: CreateRefund = parse_json(&body)?;
        let parsed: PaymentId = id.parse().map_err(|_| ApiError::not_found("payment", &id))?;
        Ok::<_, ApiError>((
            key,
            idempotency::fingerprint("POST", &format!("/v1/payments/{parsed}/refund"), &value),
            parsed,
            request,
        ))
    })();
    let (key, fingerprint, parsed, request) = match prepared {
        Ok(p) => p,
        Err(e) => return Answer::error(&e),
    };
    let work_state = state.clone();
    let work = async move { refund_payment(&work_state, parsed, request).await };
    idempotency::run(&state, caller, key, fingerprint, idempotency::Waits::API, work).await
}

async fn refund_payment(state: &AppState, id: PaymentId, request: CreateRefund) -> Outcome {
    let parent = match state.store.get_payment(id).await {
        Ok(Some(p)) => p,
        Ok(None) => return nothing_done(ApiError::not_found("payment", &id.to_string())),
        Err(e) => return nothing_done(ApiError::from(e)),
    };
    let start = crate::payouts::RefundStart {
        payment: id,
        amount: request
            .amount
            .map(|minor| Money::from_minor(minor, parent.amount.currency())),
        reason: request.reason,
        merchant_reference: request.merchant_reference,
    };
    match crate::payouts::start_refund(state, start).await {
        Ok(refund) => Outcome {
            answer: Answer::json(StatusCode::CREATED, &PaymentBody::from(&refund)),
            nothing_done: false,
        },
        Err(e) => start_error(state, e).await,
    }
}

/// A `POST /v1/payouts` request: an M-Pesa B2C payment (`provider`, `phone`, `amount`,
/// `remarks`, `occasion`) or a Paystack transfer (`provider`, `recipient`, `amount`, `currency`,
/// `reason`, `reference`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayout {
    /// `mpesa` (B2C) or `paystack` (transfer).
    #[schema(example = "mpesa")]
    pub provider: String,
    /// M-Pesa: the receiving phone.
    pub phone: Option<String>,
    /// Paystack: the transfer recipient code (`RCP_…`).
    pub recipient: Option<String>,
    /// Minor units (M-Pesa: whole shillings, so a multiple of 100).
    #[schema(example = 100000)]
    #[serde(deserialize_with = "minor_units")]
    pub amount: u64,
    /// Paystack: the currency (M-Pesa pays in KES).
    pub currency: Option<String>,
    /// M-Pesa: the remarks Daraja requires (2 to 100 characters).
    pub remarks: Option<String>,
    /// M-Pesa: the occasion.
    pub occasion: Option<String>,
    /// Paystack: the transfer's reason.
    pub reason: Option<String>,
    /// Paystack: the transfer reference (derived from the payout's id when absent).
    pub reference: Option<String>,
    /// Your own reference (a payroll line, say).
    pub merchant_reference: Option<String>,
    /// Kept on the payout and returned in deliveries.
    pub metadata: Option<serde_json::Value>,
    /// The provider account to use, as named in the configuration (`[mpesa.accounts.NAME]`,
    /// `[paystack.accounts.NAME]`); absent: the section's own account (`default`).
    pub account: Option<String>,
}

/// Send money out: an M-Pesa B2C payment or a Paystack transfer. The payout is a payment of its
/// own kind (`b2c`, `transfer`), settled only by a result that agrees with it, or by the
/// reconciler.
#[utoipa::path(
    post,
    path = "/v1/payouts",
    tag = "payments",
    request_body = CreatePayout,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body return the first answer and reach the provider once (kept 24 h)")),
    responses(
        (status = 201, description = "Accepted by the provider; pending until its result", body = PaymentBody),
        (status = 202, description = "Outcome unknown: may have reached the provider; pending, do not resend", body = PaymentBody),
        (status = 400, description = "Malformed JSON or header", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 409, description = "The same Idempotency-Key is still running", body = ErrorBody),
        (status = 422, description = "A field is not acceptable, the provider is not configured, or the Idempotency-Key was used for another body", body = ErrorBody),
        (status = 502, description = "The provider refused; the failed payout is in `payment`", body = ErrorBody),
        (status = 503, description = "The database is unavailable; nothing was sent", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn payout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let prepared = (|| {
        check_content_type(&headers)?;
        let body = body.map_err(|e| ApiError::new(e.status(), "invalid_request", e.body_text()))?;
        let key = idempotency::key_of(&headers)?;
        let value: serde_json::Value = parse_json(&body)?;
        let request: CreatePayout = parse_json(&body)?;
        Ok::<_, ApiError>((
            key,
            idempotency::fingerprint("POST", "/v1/payouts", &value),
            request,
        ))
    })();
    let (key, fingerprint, request) = match prepared {
        Ok(p) => p,
        Err(e) => return Answer::error(&e),
    };
    let work_state = state.clone();
    let work = async move { send_payout(&work_state, request).await };
    idempotency::run(&state, caller, key, fingerprint, idempotency::Waits::API, work).await
}

/// The most minor units an amount may have: what the database holds (2^63 − 1). A larger one
/// is the request's fault (422), not the database's (503, which a client would retry for ever).
const MAX_MINOR_UNITS: u64 = i64::MAX as u64;

fn minor_units<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let minor = u64::deserialize(d)?;
    if minor > MAX_MINOR_UNITS {
        return Err(serde::de::Error::custom(format!(
            "{minor} minor units is too large: at most {MAX_MINOR_UNITS}"
        )));
    }
    Ok(minor)
}

fn some_minor_units<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    minor_units(d).map(Some)
}

/// Refuses the first of `fields` that was given: another provider's field, which would be
/// dropped without a word; `for_what` names what it is for and what this payout takes.
fn refuse_given(fields: &[(&'static str, bool)], for_what: &str) -> Result<(), ApiError> {
    match fields.iter().find(|(_, given)| *given) {
        Some((field, _)) => Err(ApiError::invalid_field(
            *field,
            format!("`{field}` is for {for_what}"),
        )),
        None => Ok(()),
    }
}

fn required<T>(value: Option<T>, field: &'static str, what: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid_field(field, format!("missing field `{field}`: {what}")))
}

async fn send_payout(state: &AppState, r: CreatePayout) -> Outcome {
    let started = match r.provider.as_str() {
        "mpesa" => {
            let checked = (|| {
                if let Some(c) = r.currency.as_deref() {
                    if parse_currency(c)? != Currency::Kes {
                        return Err(ApiError::invalid_field("currency", "M-Pesa pays in KES only"));
                    }
                }
                refuse_given(
                    &[
                        ("recipient", r.recipient.is_some()),
                        ("reason", r.reason.is_some()),
                        ("reference", r.reference.is_some()),
                    ],
                    "a Paystack transfer; an M-Pesa payout takes phone, amount, remarks and occasion",
                )?;
                let phone: Msisdn = required(r.phone, "phone", "the receiving phone, like 0708374149")?
                    .parse()
                    .map_err(|e: malipo_core::MsisdnError| ApiError::invalid_field("phone", e.to_string()))?;
                let amount = Money::from_minor(r.amount, Currency::Kes);
                if amount.whole_major().is_none() || r.amount == 0 {
                    return Err(ApiError::invalid_field(
                        "amount",
                        "M-Pesa pays whole shillings: give a positive multiple of 100 minor units",
                    ));
                }
                let remarks = required(r.remarks, "remarks", "2 to 100 characters Daraja requires")?;
                Ok((phone, amount, remarks))
            })();
            let (phone, amount, remarks) = match checked {
                Ok(c) => c,
                Err(e) => return nothing_done(e),
            };
            let account = match parse_account(r.account.as_deref()) {
                Ok(a) => a,
                Err(e) => return nothing_done(e),
            };
            let (client, base) = match mpesa_parts(state, &account) {
                Ok(parts) => parts,
                Err(e) => return nothing_done(e),
            };
            let start = crate::payouts::B2cPayoutStart {
                account: account.clone(),
                occasion: r.occasion,
                merchant_reference: r.merchant_reference,
                metadata: r.metadata,
                ..crate::payouts::B2cPayoutStart::new(phone, amount, remarks)
            };
            crate::payouts::start_b2c_payout(state, client, base, start).await
        }
        "paystack" => {
            let checked = (|| {
                refuse_given(
                    &[
                        ("phone", r.phone.is_some()),
                        ("remarks", r.remarks.is_some()),
                        ("occasion", r.occasion.is_some()),
                    ],
                    "an M-Pesa payout; a Paystack transfer takes recipient, amount, currency, reason and reference",
                )?;
                let recipient = required(r.recipient, "recipient", "the transfer recipient code (RCP_…)")?;
                let currency = parse_currency(&required(r.currency, "currency", "such as NGN or KES")?)?;
                if r.amount == 0 {
                    return Err(ApiError::invalid_field("amount", "expected a positive amount"));
                }
                Ok((recipient, Money::from_minor(r.amount, currency)))
            })();
            let (recipient, amount) = match checked {
                Ok(c) => c,
                Err(e) => return nothing_done(e),
            };
            let account = match parse_account(r.account.as_deref()) {
                Ok(a) => a,
                Err(e) => return nothing_done(e),
            };
            let client = match paystack_client(state, &account) {
                Ok(client) => client,
                Err(e) => return nothing_done(e),
            };
            let start = crate::payouts::TransferStart {
                account: account.clone(),
                reason: r.reason,
                reference: r.reference,
                metadata: r.metadata,
                ..crate::payouts::TransferStart::new(recipient, amount)
            };
            crate::payouts::start_paystack_transfer(state, client, start).await
        }
        _ => {
            return nothing_done(ApiError::invalid_field(
                "provider",
                "expected \"mpesa\" or \"paystack\"",
            ))
        }
    };
    match started {
        Ok(payout) => Outcome {
            answer: Answer::json(StatusCode::CREATED, &PaymentBody::from(&payout)),
            nothing_done: false,
        },
        Err(e) => start_error(state, e).await,
    }
}

/// A checked `POST /v1/payments` request.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentRequest {
    /// An STK push.
    Mpesa(StkPushStart),
    /// A Paystack checkout.
    Paystack(CheckoutStart),
}

/// Reads and checks a `POST /v1/payments` body; the error names the field at fault.
pub fn parse_create(value: &serde_json::Value) -> Result<PaymentRequest, ApiError> {
    // Dispatch on `provider` by hand: serde's tagged enums lose the path of a bad field.
    let provider = match value.get("provider") {
        None => {
            return Err(ApiError::invalid_field(
                "provider",
                "missing field `provider`: expected \"mpesa\" or \"paystack\"",
            ))
        }
        Some(serde_json::Value::String(p)) => p.as_str(),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "provider",
                "expected \"mpesa\" or \"paystack\"",
            ))
        }
    };
    let rest = serde_json::to_vec(value).unwrap_or_default();
    match provider {
        "mpesa" => {
            let b: CreateStkPush = parse_json(&rest)?;
            let phone: Msisdn = b
                .phone
                .parse()
                .map_err(|e: malipo_core::MsisdnError| ApiError::invalid_field("phone", e.to_string()))?;
            let currency = match b.currency.as_deref() {
                None => Currency::Kes,
                Some(c) => parse_currency(c)?,
            };
            if currency != Currency::Kes {
                return Err(ApiError::invalid_field("currency", "M-Pesa takes KES only"));
            }
            if b.amount == 0 {
                return Err(ApiError::invalid_field(
                    "amount",
                    "expected a positive amount in minor units (KES 100 is 10000)",
                ));
            }
            Ok(PaymentRequest::Mpesa(StkPushStart {
                merchant_reference: b.merchant_reference,
                metadata: b.metadata,
                account: parse_account(b.account.as_deref())?,
                ..StkPushStart::new(
                    phone,
                    Money::from_minor(b.amount, currency),
                    b.account_reference,
                    b.description,
                )
            }))
        }
        "paystack" => {
            let b: CreateCheckout = parse_json(&rest)?;
            let currency = parse_currency(&b.currency)?;
            let callback_url = b
                .callback_url
                .map(|u| {
                    let url = u.parse::<reqwest::Url>().map_err(|e| {
                        ApiError::invalid_field("callback_url", format!("not an absolute URL: {e}"))
                    })?;
                    // Paystack sends the customer's browser there.
                    if !matches!(url.scheme(), "https" | "http") {
                        return Err(ApiError::invalid_field(
                            "callback_url",
                            "expected an http:// or https:// URL (the customer's browser is sent there)",
                        ));
                    }
                    Ok(url)
                })
                .transpose()?;
            Ok(PaymentRequest::Paystack(CheckoutStart {
                account: parse_account(b.account.as_deref())?,
                reference: b.reference,
                callback_url,
                metadata: b.metadata,
                merchant_reference: b.merchant_reference,
                ..CheckoutStart::new(b.email, Money::from_minor(b.amount, currency))
            }))
        }
        other => Err(ApiError::invalid_field(
            "provider",
            format!("unknown provider {other:?}: expected \"mpesa\" or \"paystack\""),
        )),
    }
}

/// The `account` field: absent is the section's own account.
fn parse_account(name: Option<&str>) -> Result<AccountName, ApiError> {
    match name {
        None => Ok(AccountName::default_account()),
        Some(n) => n
            .parse()
            .map_err(|e: malipo_core::AccountNameError| ApiError::invalid_field("account", e.to_string())),
    }
}

/// The Daraja client of `account` and the public URL its callbacks go to, or what to answer:
/// 422 for an account the configuration does not name, else why M-Pesa is unavailable.
fn mpesa_parts<'a>(
    state: &'a AppState,
    account: &AccountName,
) -> Result<(&'a malipo_mpesa::MpesaClient, &'a reqwest::Url), ApiError> {
    match (
        state.providers.mpesa_for(account),
        &state.providers.public_base_url,
    ) {
        (Some(client), Some(base)) => Ok((client, base)),
        (None, _) if !account.is_default() => Err(unknown_account(state, Provider::Mpesa, account)),
        _ => Err(not_configured(state, Provider::Mpesa)),
    }
}

/// The Paystack client of `account`, or what to answer (as [`mpesa_parts`]).
fn paystack_client<'a>(
    state: &'a AppState,
    account: &AccountName,
) -> Result<&'a malipo_paystack::Client, ApiError> {
    match state.providers.paystack_for(account) {
        Some(client) => Ok(client),
        None if !account.is_default() => Err(unknown_account(state, Provider::Paystack, account)),
        None => Err(not_configured(state, Provider::Paystack)),
    }
}

/// The 422 for an account the configuration does not name.
fn unknown_account(state: &AppState, provider: Provider, account: &AccountName) -> ApiError {
    let known: Vec<String> = match provider {
        Provider::Mpesa => state
            .providers
            .mpesa
            .iter()
            .map(|_| "default".to_string())
            .chain(state.providers.mpesa_accounts.keys().map(|n| n.to_string()))
            .collect(),
        Provider::Paystack => state
            .providers
            .paystack
            .iter()
            .map(|_| "default".to_string())
            .chain(state.providers.paystack_accounts.keys().map(|n| n.to_string()))
            .collect(),
    };
    ApiError::invalid_field(
        "account",
        format!(
            "{provider} has no account {account:?} on this gateway (configured: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ),
    )
}

fn parse_currency(code: &str) -> Result<Currency, ApiError> {
    code.parse()
        .map_err(|e: malipo_core::MoneyError| ApiError::invalid_field("currency", e.to_string()))
}

/// Starts the payment and says what to answer; the handler's testable core.
pub(crate) async fn create_payment(state: &AppState, request: PaymentRequest) -> Outcome {
    let result = match request {
        PaymentRequest::Mpesa(push) => {
            let (client, base) = match mpesa_parts(state, &push.account) {
                Ok(parts) => parts,
                Err(e) => return nothing_done(e),
            };
            start_stk_push(state, client, base, push)
                .await
                .map(|p| PaymentBody::from(&p))
        }
        PaymentRequest::Paystack(checkout) => {
            let client = match paystack_client(state, &checkout.account) {
                Ok(client) => client,
                Err(e) => return nothing_done(e),
            };
            start_paystack_checkout(state, client, checkout)
                .await
                .map(|started| PaymentBody {
                    authorization_url: Some(started.authorization_url),
                    access_code: Some(started.access_code),
                    ..PaymentBody::from(&started.payment)
                })
        }
    };
    match result {
        Ok(body) => Outcome {
            answer: Answer::json(StatusCode::CREATED, &body),
            nothing_done: false,
        },
        Err(e) => start_error(state, e).await,
    }
}

fn nothing_done(e: ApiError) -> Outcome {
    Outcome {
        answer: Answer::error(&e),
        nothing_done: true,
    }
}

fn not_configured(state: &AppState, provider: Provider) -> ApiError {
    let configured = match provider {
        Provider::Mpesa => state.providers.mpesa.is_some(),
        Provider::Paystack => state.providers.paystack.is_some(),
    };
    if configured {
        // M-Pesa is there but callbacks could not reach us: the operator's problem, not the caller's.
        tracing::error!("merchant API: an STK push needs server.public_base_url, which is not set");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unavailable",
            "M-Pesa payments are not available on this gateway right now",
        )
    } else {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "provider_not_configured",
            format!("{provider} is not configured on this gateway"),
        )
        .with_field("provider")
    }
}

/// The API field a Daraja field name stands for.
fn api_field(daraja: &str) -> &'static str {
    match daraja {
        "Amount" => "amount",
        "AccountReference" => "account_reference",
        "TransactionDesc" => "description",
        "PhoneNumber" => "phone",
        _ => "request",
    }
}

async fn start_error(state: &AppState, e: PaymentStartError) -> Outcome {
    match e {
        PaymentStartError::Invalid {
            field: "public_base_url",
            ..
        } => {
            tracing::error!(error = %e, "merchant API: server.public_base_url cannot carry callback URLs");
            nothing_done(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                "M-Pesa payments are not available on this gateway right now",
            ))
        }
        PaymentStartError::Invalid { field, reason } => nothing_done(ApiError::invalid_field(field, reason)),
        PaymentStartError::InvalidPush(malipo_mpesa::MpesaError::Invalid { field, reason })
            if api_field(field) != "request" =>
        {
            nothing_done(ApiError::invalid_field(api_field(field), reason))
        }
        PaymentStartError::InvalidPush(source) => {
            tracing::error!(error = %source, "merchant API: the STK push could not be built");
            nothing_done(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                "M-Pesa payments are not available on this gateway right now",
            ))
        }
        PaymentStartError::NotConfigured { provider, .. } => nothing_done(not_configured(state, provider)),
        PaymentStartError::Record(source) => match &source {
            malipo_store::StoreError::Conflict { .. } => nothing_done(
                ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "this reference is already used by another payment",
                )
                .with_field("reference"),
            ),
            _ => nothing_done(ApiError::storage(&source)),
        },
        PaymentStartError::MpesaRefused { ref payment, .. }
        | PaymentStartError::PaystackRefused { ref payment, .. } => {
            let provider = if payment.provider == Provider::Mpesa {
                "Daraja"
            } else {
                "Paystack"
            };
            let err = ApiError {
                payment: serde_json::to_value(PaymentBody::from(payment.as_ref())).ok(),
                ..ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "provider_refused",
                    match payment.result_code.as_deref() {
                        Some("not_sent") => format!(
                            "the payment was not sent to {provider} ({}); it is recorded as failed",
                            payment.result_desc.as_deref().unwrap_or("no description")
                        ),
                        code => format!(
                            "{provider} refused the payment ({}: {}); it is recorded as failed",
                            code.unwrap_or("no code"),
                            payment.result_desc.as_deref().unwrap_or("no description")
                        ),
                    },
                )
            };
            Outcome {
                answer: Answer::error(&err),
                nothing_done: false,
            }
        }
        PaymentStartError::MpesaOutcomeUnknown { payment, .. }
        | PaymentStartError::PaystackOutcomeUnknown { payment, .. } => Outcome {
            answer: Answer::json(StatusCode::ACCEPTED, &PaymentBody::from(payment.as_ref())),
            nothing_done: false,
        },
        PaymentStartError::ReferenceNotRecorded { payment_id, .. } => {
            let answer = match state.store.get_payment(payment_id).await {
                Ok(Some(p)) => Answer::json(StatusCode::ACCEPTED, &PaymentBody::from(&p)),
                Ok(None) | Err(_) => Answer::error(&ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    format!("payment {payment_id} was sent to the provider but cannot be read now; do not resend it, read it later"),
                )),
            };
            Outcome {
                answer,
                nothing_done: false,
            }
        }
    }
}

/// Read one payment.
#[utoipa::path(
    get,
    path = "/v1/payments/{id}",
    tag = "payments",
    params(("id" = String, Path, description = "The payment id (pay_…)")),
    responses(
        (status = 200, description = "The payment", body = PaymentBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such payment (an id that does not parse names none either)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<PaymentBody>, ApiError> {
    get_payment(&state, &id).await.map(axum::Json)
}

/// One payment by its id text; an id that does not parse is 404 like an unknown one.
pub(crate) async fn get_payment(state: &AppState, id: &str) -> Result<PaymentBody, ApiError> {
    let parsed: PaymentId = id.parse().map_err(|_| ApiError::not_found("payment", id))?;
    match state.store.get_payment(parsed).await? {
        Some(p) => Ok(PaymentBody::from(&p)),
        None => Err(ApiError::not_found("payment", id)),
    }
}

/// List payments, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/payments",
    tag = "payments",
    params(ListPayments),
    responses(
        (status = 200, description = "A page; follow `next_cursor` until it is null", body = PaymentPage),
        (status = 400, description = "A filter or the cursor cannot be read", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListPayments>,
) -> Result<axum::Json<PaymentPage>, ApiError> {
    list_payments(&state, query).await.map(axum::Json)
}

/// Checks a page size.
pub(crate) fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit {n} is out of range: expected 1 to {MAX_LIMIT}"
        ))
        .with_field("limit")),
    }
}

/// Reads an RFC 3339 `since`.
pub(crate) fn parse_since(since: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    since
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "since {s:?} is not an RFC 3339 time like 2026-11-28T07:00:00Z"
                    ))
                    .with_field("since")
                })
        })
        .transpose()
}

/// A page of payments matching `query`; `next_cursor` is set whenever more may follow.
pub(crate) async fn list_payments(state: &AppState, query: ListPayments) -> Result<PaymentPage, ApiError> {
    let limit = page_size(query.limit)?;
    let filter = PaymentFilter {
        provider: query
            .provider
            .map(|p| {
                p.parse::<Provider>()
                    .map_err(|e| ApiError::bad_request(e).with_field("provider"))
            })
            .transpose()?,
        state: query
            .state
            .map(|s| {
                s.parse::<PaymentState>()
                    .map_err(|e| ApiError::bad_request(e.to_string()).with_field("state"))
            })
            .transpose()?,
        merchant_reference: query.merchant_reference,
        before: query
            .cursor
            .map(|c| {
                c.parse::<PaymentId>().map_err(|_| {
                    ApiError::bad_request("the cursor is not one this API gave").with_field("cursor")
                })
            })
            .transpose()?,
        since: parse_since(query.since.as_deref())?,
        account: query
            .account
            .map(|a| {
                a.parse::<AccountName>()
                    .map_err(|e| ApiError::bad_request(e.to_string()).with_field("account"))
            })
            .transpose()?,
        search: None,
        // One more than the page: whether it exists says if there is a next page, so a list
        // never stops silently at a full page.
        limit: limit + 1,
    };
    let mut found = state.store.list_payments(&filter).await?;
    let more = found.len() > limit;
    found.truncate(limit);
    Ok(PaymentPage {
        next_cursor: if more {
            found.last().map(|p| p.id.to_string())
        } else {
            None
        },
        data: found.iter().map(PaymentBody::from).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_field_by_field() {
        let ok = serde_json::json!({"provider":"mpesa","phone":"0708374149","amount":10000,"account_reference":"INV-1","description":"Order 1"});
        assert!(matches!(parse_create(&ok), Ok(PaymentRequest::Mpesa(_))));
        let field = |v: serde_json::Value| parse_create(&v).unwrap_err().field;
        assert_eq!(
            field(serde_json::json!({"phone":"0708374149"})),
            Some("provider".into())
        );
        assert_eq!(
            field(serde_json::json!({"provider":"cash"})),
            Some("provider".into())
        );
        assert_eq!(
            field(
                serde_json::json!({"provider":"mpesa","phone":"12","amount":1,"account_reference":"a","description":"b"})
            ),
            Some("phone".into())
        );
        assert_eq!(
            field(
                serde_json::json!({"provider":"mpesa","phone":"0708374149","amount":-5,"account_reference":"a","description":"b"})
            ),
            Some("amount".into())
        );
        assert_eq!(
            field(
                serde_json::json!({"provider":"mpesa","phone":"0708374149","amount":100,"description":"b"})
            ),
            Some("account_reference".into())
        );
        // Regression: an amount the database cannot hold was a 503 "retry later".
        for huge in [9_223_372_036_854_775_808u64, u64::MAX] {
            let body =
                serde_json::json!({"provider":"paystack","email":"a@b.c","amount":huge,"currency":"NGN"});
            let err = parse_create(&body).unwrap_err();
            assert_eq!(err.field, Some("amount".into()), "{huge}");
            assert!(err.message.contains("too large"), "{}", err.message);
        }
        let most = serde_json::json!({"provider":"paystack","email":"a@b.c","amount":9_223_372_036_854_775_807u64,"currency":"NGN"});
        assert!(parse_create(&most).is_ok());
        assert_eq!(
            field(
                serde_json::json!({"provider":"mpesa","phone":"0708374149","amount":100,"account_reference":"a","description":"b","currency":"NGN"})
            ),
            Some("currency".into())
        );
        assert_eq!(
            field(serde_json::json!({"provider":"paystack","email":"a@b.c","amount":100,"currency":"XYZ"})),
            Some("currency".into())
        );
        assert_eq!(
            field(
                serde_json::json!({"provider":"paystack","email":"a@b.c","amount":100,"currency":"NGN","callback_url":"not a url"})
            ),
            Some("callback_url".into())
        );
        assert_eq!(
            field(
                serde_json::json!({"provider":"paystack","email":"a@b.c","amount":100,"currency":"NGN","callback_url":"javascript:alert(1)"})
            ),
            Some("callback_url".into())
        );
        assert_eq!(
            field(
                serde_json::json!({"provider":"paystack","email":"a@b.c","amount":100,"currency":"NGN","extra":1})
            ),
            Some("extra".into())
        );
    }

    #[test]
    fn page_sizes_and_times_are_checked() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(page_size(Some(3)).unwrap(), 3);
        assert_eq!(page_size(Some(0)).unwrap_err().field.as_deref(), Some("limit"));
        assert!(page_size(Some(MAX_LIMIT + 1)).is_err());
        assert!(parse_since(Some("2026-11-28T07:00:00Z")).unwrap().is_some());
        assert_eq!(
            parse_since(Some("yesterday")).unwrap_err().field.as_deref(),
            Some("since")
        );
    }
}
