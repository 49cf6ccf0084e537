//! Starting payments: the outbound half of the merchant API (STK push, Paystack checkout).
//!
//! Both functions record the payment **before** calling the provider, so a payment the provider
//! may have seen always has a row: a crash between the two leaves a pending payment the
//! reconciler can query, never a charge malipo knows nothing of. What happens after the call
//! depends on what the provider said:
//!
//! | provider answer | the payment | the result |
//! |---|---|---|
//! | accepted | pending, with the provider's reference | `Ok` |
//! | refused (it never went out) | failed, with the provider's code and message | `Err(…Refused)` |
//! | no answer (timeout, 5xx, unreadable) | pending, for reconciliation | `Err(…OutcomeUnknown)`: do not resend |
//!
//! ```no_run
//! # async fn demo(state: &malipo_gateway::AppState, client: &malipo_mpesa::MpesaClient)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use malipo_core::{Currency, Money};
//! use malipo_gateway::payments::{start_stk_push, StkPushStart};
//!
//! let public_base_url = "https://pay.example.com".parse()?;
//! let push = StkPushStart::new("0708374149".parse()?, Money::from_major(100, Currency::Kes)?, "INV-1042", "Order 1042");
//! let payment = start_stk_push(state, client, &public_base_url, push).await?;
//! println!("{} is {}; Daraja's CheckoutRequestID {:?}", payment.id, payment.state, payment.provider_reference);
//! # Ok(()) }
//! ```

use malipo_core::{AccountName, Money, Msisdn, PaymentId, PaymentState, Provider};
use malipo_mpesa::{MpesaClient, MpesaError, StkPushRequest};
use malipo_paystack::InitializeTransaction;
use malipo_store::{NewPayment, PaymentRecord, StoreError, TransitionDetail};
use reqwest::Url;

use crate::AppState;

/// An STK push to start: ask `phone` to approve `amount`.
#[derive(Debug, Clone, PartialEq)]
pub struct StkPushStart {
    /// The paying phone.
    pub phone: Msisdn,
    /// Whole Kenyan shillings.
    pub amount: Money,
    /// Shown to the customer (Daraja's `AccountReference`, at most 12 characters).
    pub account_reference: String,
    /// Daraja's `TransactionDesc`, at most 13 characters.
    pub description: String,
    /// The merchant's own reference (order number), kept on the payment.
    pub merchant_reference: Option<String>,
    /// The merchant's metadata, kept on the payment and returned in deliveries.
    pub metadata: Option<serde_json::Value>,
    /// The M-Pesa account (shortcode and Daraja app) asking (`default`: `[mpesa]`'s own).
    pub account: AccountName,
}

impl StkPushStart {
    /// A push with the required fields; no merchant reference or metadata.
    pub fn new(
        phone: Msisdn,
        amount: Money,
        account_reference: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        StkPushStart {
            phone,
            amount,
            account_reference: account_reference.into(),
            description: description.into(),
            merchant_reference: None,
            metadata: None,
            account: AccountName::default_account(),
        }
    }
}

/// A Paystack checkout to start: `email` pays `amount` on Paystack's page.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutStart {
    /// The customer's email (Paystack requires one).
    pub email: String,
    /// The amount, in any currency the Paystack account takes.
    pub amount: Money,
    /// The transaction reference; `None` derives one from the payment id (`pay-01J…`).
    pub reference: Option<String>,
    /// Where Paystack sends the customer after paying.
    pub callback_url: Option<Url>,
    /// The merchant's metadata, kept on the payment and sent to Paystack.
    pub metadata: Option<serde_json::Value>,
    /// The merchant's own reference (order number), kept on the payment.
    pub merchant_reference: Option<String>,
    /// The Paystack account the customer pays (`default`: `[paystack]`'s own).
    pub account: AccountName,
}

impl CheckoutStart {
    /// A checkout with the required fields.
    pub fn new(email: impl Into<String>, amount: Money) -> Self {
        CheckoutStart {
            email: email.into(),
            amount,
            reference: None,
            callback_url: None,
            metadata: None,
            merchant_reference: None,
            account: AccountName::default_account(),
        }
    }
}

/// A started Paystack checkout.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutStarted {
    /// The payment, pending, with the reference as its provider reference.
    pub payment: PaymentRecord,
    /// Where to send the customer to pay.
    pub authorization_url: String,
    /// The code for Paystack's inline checkout.
    pub access_code: String,
}

/// Why a payment could not be started. [`PaymentStartError::payment`] gives the payment when
/// one was recorded; [`PaymentStartError::may_have_been_sent`] says whether resending could
/// charge twice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaymentStartError {
    /// The gateway lacks what this provider needs; nothing was stored or sent.
    #[error("{provider} is not configured on this gateway: {what}")]
    NotConfigured {
        /// The provider.
        provider: Provider,
        /// What is missing.
        what: &'static str,
    },
    /// A field cannot be valid; nothing was stored or sent.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The STK push is not one Daraja accepts (amount, lengths); nothing was stored or sent.
    #[error("the STK push is not valid; nothing was stored or sent")]
    InvalidPush(#[source] MpesaError),
    /// The payment could not be recorded (database unavailable, reference already used);
    /// nothing was sent.
    #[error("could not record the payment; nothing was sent")]
    Record(#[source] StoreError),
    /// Daraja refused the push, or it could not be sent (no access token, no connection): it
    /// never reached the customer and the payment is failed.
    #[error("Daraja did not take the STK push of payment {}; it is recorded as {}", .payment.id, .payment.state)]
    MpesaRefused {
        /// The payment as recorded.
        payment: Box<PaymentRecord>,
        /// Daraja's answer.
        #[source]
        source: MpesaError,
    },
    /// No usable answer from Daraja: the push may have reached the customer. The payment stays
    /// pending until its callback arrives or the reconciler's STK query settles it.
    #[error("the STK push of payment {} may or may not have reached Daraja; it stays pending until reconciled, do not resend it", .payment.id)]
    MpesaOutcomeUnknown {
        /// The payment, pending.
        payment: Box<PaymentRecord>,
        /// What went wrong.
        #[source]
        source: MpesaError,
    },
    /// Paystack refused the checkout, or it could not be sent (no connection): the payment is
    /// failed.
    #[error("Paystack did not take the checkout of payment {}; it is recorded as {}", .payment.id, .payment.state)]
    PaystackRefused {
        /// The payment as recorded.
        payment: Box<PaymentRecord>,
        /// Paystack's answer.
        #[source]
        source: malipo_paystack::Error,
    },
    /// No usable answer from Paystack: the checkout may exist. The payment stays pending until
    /// the webhook arrives or the reconciler verifies its reference.
    #[error("the checkout of payment {} may or may not exist at Paystack; it stays pending until verified, do not resend it", .payment.id)]
    PaystackOutcomeUnknown {
        /// The payment, pending.
        payment: Box<PaymentRecord>,
        /// What went wrong.
        #[source]
        source: malipo_paystack::Error,
    },
    /// The provider accepted the request but its reference could not be stored. The request
    /// went out; the payment still settles by its callback (found by its token).
    #[error("{provider} accepted payment {payment_id} (reference {provider_reference}) but recording the reference failed; it was sent, do not resend it")]
    ReferenceNotRecorded {
        /// The provider.
        provider: Provider,
        /// The payment.
        payment_id: PaymentId,
        /// The provider's reference that could not be stored.
        provider_reference: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

impl PaymentStartError {
    /// The payment, when one was recorded and is known.
    pub fn payment(&self) -> Option<&PaymentRecord> {
        match self {
            PaymentStartError::MpesaRefused { payment, .. }
            | PaymentStartError::MpesaOutcomeUnknown { payment, .. }
            | PaymentStartError::PaystackRefused { payment, .. }
            | PaymentStartError::PaystackOutcomeUnknown { payment, .. } => Some(payment),
            _ => None,
        }
    }

    /// True when the request may have reached the provider, so sending it again could charge
    /// the customer twice.
    pub fn may_have_been_sent(&self) -> bool {
        matches!(
            self,
            PaymentStartError::MpesaOutcomeUnknown { .. }
                | PaymentStartError::PaystackOutcomeUnknown { .. }
                | PaymentStartError::ReferenceNotRecorded { .. }
        )
    }

    /// True when the request itself is at fault (a 4xx for an API): invalid fields, a
    /// reference already used, a provider refusal.
    pub fn is_client_error(&self) -> bool {
        match self {
            PaymentStartError::Invalid { .. }
            | PaymentStartError::InvalidPush(_)
            | PaymentStartError::MpesaRefused { .. }
            | PaymentStartError::PaystackRefused { .. } => true,
            PaymentStartError::Record(e) => e.is_client_error(),
            _ => false,
        }
    }
}

/// Starts an STK push: records the payment (pending), sends the push with a callback URL
/// carrying the payment's token (`{public_base_url}/callbacks/mpesa/stk/{token}`), then records
/// Daraja's `CheckoutRequestID`. The result arrives later at the callback URL.
pub async fn start_stk_push(
    state: &AppState,
    client: &MpesaClient,
    public_base_url: &Url,
    req: StkPushStart,
) -> Result<PaymentRecord, PaymentStartError> {
    let tokens = state
        .callback_tokens
        .as_ref()
        .ok_or(PaymentStartError::NotConfigured {
            provider: Provider::Mpesa,
            what: "no callback token key (the [mpesa] section is missing)",
        })?;
    // The id comes first: the token in the callback URL is derived from it.
    let id = PaymentId::new();
    let callback_url = mpesa_callback_url(
        public_base_url,
        &req.account,
        "stk",
        &tokens.issue_for(malipo_guard::CallbackRoute::Stk, id),
    )?;
    let push = StkPushRequest::paybill(
        req.amount,
        req.phone.clone(),
        callback_url,
        req.account_reference,
        req.description.clone(),
    );
    push.validate().map_err(PaymentStartError::InvalidPush)?;
    let payment = state
        .store
        .insert_payment(NewPayment {
            id,
            msisdn: Some(req.phone),
            merchant_reference: req.merchant_reference,
            description: Some(req.description),
            metadata: req.metadata,
            account: req.account,
            ..NewPayment::pending(Provider::Mpesa, "stk_push", req.amount)
        })
        .await
        .map_err(PaymentStartError::Record)?;
    match client.stk_push(&push).await {
        Ok(accepted) => {
            tracing::info!(payment = %id, phone = %push.phone, checkout = %accepted.checkout_request_id, "STK push sent");
            // Both ids Daraja gave the push: a callback settles the payment only if it repeats
            // them.
            state
                .store
                .set_payment_references(id, &accepted.checkout_request_id, &accepted.merchant_request_id)
                .await
                .map_err(|source| PaymentStartError::ReferenceNotRecorded {
                    provider: Provider::Mpesa,
                    payment_id: id,
                    provider_reference: accepted.checkout_request_id.clone(),
                    source,
                })
        }
        Err(source) if source.outcome_unknown() => {
            tracing::warn!(payment = %id, error = %source, "STK push outcome unknown; left pending for reconciliation");
            Err(PaymentStartError::MpesaOutcomeUnknown {
                payment: Box::new(payment),
                source,
            })
        }
        Err(source) => {
            let (code, message) = mpesa_refusal(&source);
            let payment = fail(state, payment, code, message).await;
            Err(PaymentStartError::MpesaRefused {
                payment: Box::new(payment),
                source,
            })
        }
    }
}

/// Starts a Paystack checkout: records the payment (pending, its reference as the provider
/// reference, so the webhook finds it), then initializes the transaction.
pub async fn start_paystack_checkout(
    state: &AppState,
    client: &malipo_paystack::Client,
    req: CheckoutStart,
) -> Result<CheckoutStarted, PaymentStartError> {
    check_email(&req.email)?;
    if req.amount.minor() == 0 {
        return Err(invalid(
            "amount",
            "it is zero; a checkout needs a positive amount",
        ));
    }
    let id = PaymentId::new();
    let reference = match req.reference {
        Some(reference) => check_reference(reference)?,
        // Paystack references take letters, digits, `-`, `.` and `=` only: no underscore.
        None => id.to_string().replace('_', "-"),
    };
    let payment = state
        .store
        .insert_payment(NewPayment {
            id,
            email: Some(req.email.clone()),
            provider_reference: Some(reference.clone()),
            metadata: req.metadata.clone(),
            merchant_reference: req.merchant_reference.clone(),
            account: req.account.clone(),
            ..NewPayment::pending(Provider::Paystack, "charge", req.amount)
        })
        .await
        .map_err(PaymentStartError::Record)?;
    let mut init = InitializeTransaction::new(req.email, req.amount).reference(reference);
    if let Some(url) = req.callback_url {
        init = init.callback_url(url.to_string());
    }
    if let Some(metadata) = req.metadata {
        init = init.metadata(metadata);
    }
    match client.initialize_transaction(&init).await {
        Ok(started) => {
            tracing::info!(payment = %id, reference = %started.reference, "Paystack checkout started");
            Ok(CheckoutStarted {
                payment,
                authorization_url: started.authorization_url,
                access_code: started.access_code,
            })
        }
        Err(source) if paystack_outcome_unknown(&source) => {
            tracing::warn!(payment = %id, error = %source, "Paystack checkout outcome unknown; left pending for verification");
            Err(PaymentStartError::PaystackOutcomeUnknown {
                payment: Box::new(payment),
                source,
            })
        }
        Err(source) => {
            let code = source
                .status()
                .map_or_else(|| "not_sent".to_string(), |s| format!("HTTP {s}"));
            let message = source
                .message()
                .map_or_else(|| source.to_string(), str::to_string);
            let payment = fail(state, payment, code, message).await;
            Err(PaymentStartError::PaystackRefused {
                payment: Box::new(payment),
                source,
            })
        }
    }
}

/// Daraja's code and message for a refusal, for the failed payment's detail.
pub(crate) fn mpesa_refusal(e: &MpesaError) -> (String, String) {
    if e.failed_before_sending() {
        return ("not_sent".to_string(), e.to_string());
    }
    match e {
        MpesaError::Api {
            error_code,
            error_message,
            ..
        } => (error_code.clone(), error_message.clone()),
        MpesaError::Rejected {
            response_code,
            description,
            ..
        } => (response_code.clone(), description.clone()),
        MpesaError::Http { status, .. } => (format!("HTTP {status}"), e.to_string()),
        _ => ("not_sent".to_string(), e.to_string()),
    }
}

/// A transport error may come after Paystack created the transaction (not one opening the
/// connection: nothing was sent); a 5xx or an unreadable answer too. A 4xx (429 included) means
/// it did not.
pub(crate) fn paystack_outcome_unknown(e: &malipo_paystack::Error) -> bool {
    match e {
        malipo_paystack::Error::Transport { source, .. } => !source.is_connect(),
        _ => e.status().is_some_and(|s| s >= 500) || matches!(e, malipo_paystack::Error::Decode { .. }),
    }
}

/// Marks a payment the provider refused as failed. If even that fails, the payment stays
/// pending (the reconciler finds nothing at the provider and settles it) and the error is logged.
pub(crate) async fn fail(
    state: &AppState,
    payment: PaymentRecord,
    code: String,
    message: String,
) -> PaymentRecord {
    let detail = TransitionDetail {
        result_code: Some(code),
        result_desc: Some(message),
        receipt: None,
        settled_by: None,
    };
    match state
        .store
        .transition_payment(payment.id, PaymentState::Failed, detail)
        .await
    {
        Ok(moved) => moved.payment,
        Err(e) => {
            tracing::error!(payment = %payment.id, error = %e, "the provider refused the payment but it could not be marked failed; it stays pending");
            payment
        }
    }
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> PaymentStartError {
    PaymentStartError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// `base` with `segments` appended to its path (a base with a path prefix keeps it).
/// A Daraja callback URL for `route` (`stk`, `result`, `timeout`) carrying `token`; a named
/// account's carries its name (`/callbacks/mpesa/NAME/stk/…`), so an operator reading a URL, a
/// log or Daraja's portal sees which account it belongs to, and the worker checks the payment is
/// that account's.
pub(crate) fn mpesa_callback_url(
    base: &Url,
    account: &AccountName,
    route: &str,
    token: &str,
) -> Result<Url, PaymentStartError> {
    if account.is_default() {
        join(base, &["callbacks", "mpesa", route, token])
    } else {
        join(base, &["callbacks", "mpesa", account.as_str(), route, token])
    }
}

pub(crate) fn join(base: &Url, segments: &[&str]) -> Result<Url, PaymentStartError> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| {
            invalid(
                "public_base_url",
                format!("{base} cannot be a base URL; expected https://HOST[/PATH]"),
            )
        })?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

fn check_email(email: &str) -> Result<(), PaymentStartError> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && !domain.is_empty());
    if ok {
        Ok(())
    } else {
        Err(invalid("email", "expected an address like wanjiru@example.com"))
    }
}

/// Paystack accepts references of letters, digits, `-`, `.` and `=`.
pub(crate) fn check_reference(reference: String) -> Result<String, PaymentStartError> {
    let ok = !reference.is_empty()
        && reference.len() <= 100
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'='));
    if ok {
        Ok(reference)
    } else {
        Err(invalid(
            "reference",
            "expected 1 to 100 letters, digits, '-', '.' or '=' (Paystack's rule)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_urls_keep_a_path_prefix() {
        let base: Url = "https://pay.example.com/malipo/".parse().unwrap();
        let url = join(&base, &["callbacks", "mpesa", "stk", "tok"]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://pay.example.com/malipo/callbacks/mpesa/stk/tok"
        );
        let bare: Url = "http://127.0.0.1:8080".parse().unwrap();
        let url = join(&bare, &["callbacks", "mpesa", "stk", "tok"]).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/callbacks/mpesa/stk/tok");
    }

    #[test]
    fn a_base_that_cannot_have_a_path_is_refused() {
        let base: Url = "mailto:ops@example.com".parse().unwrap();
        assert!(matches!(
            join(&base, &["x"]),
            Err(PaymentStartError::Invalid {
                field: "public_base_url",
                ..
            })
        ));
    }

    #[test]
    fn references_follow_paystacks_rule() {
        assert!(check_reference("order-42.a=b".into()).is_ok());
        for bad in ["", "order_42", "order 42", "ordér"] {
            assert!(check_reference(bad.into()).is_err(), "{bad:?}");
        }
        assert!(check_reference("x".repeat(101)).is_err());
        let generated = PaymentId::new().to_string().replace('_', "-");
        assert!(check_reference(generated).is_ok());
    }

    #[test]
    fn emails_need_a_user_and_a_domain() {
        assert!(check_email("wanjiru@example.com").is_ok());
        for bad in ["", "wanjiru", "@example.com", "wanjiru@", "wan jiru@example.com"] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refusals_keep_darajas_code_and_message() {
        let e = MpesaError::Api {
            operation: "STK push",
            status: 400,
            request_id: Some("r-1".into()),
            error_code: "400.002.02".into(),
            error_message: "Bad Request - Invalid PhoneNumber".into(),
        };
        assert_eq!(
            mpesa_refusal(&e),
            (
                "400.002.02".to_string(),
                "Bad Request - Invalid PhoneNumber".to_string()
            )
        );
    }
}
