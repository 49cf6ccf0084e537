//! Money going out: M-Pesa B2C payouts, Paystack transfers, and refunds (Paystack refunds,
//! M-Pesa reversals) of succeeded payments.
//!
//! Each is a payment of its own kind (`b2c`, `transfer`, `refund`, `reversal`) with the same
//! state machine as a charge, and is started the way [`crate::payments`] starts one: recorded
//! **before** the provider is called, then
//!
//! | provider answer | the payment | the result |
//! |---|---|---|
//! | accepted | pending, with the provider's reference | `Ok` |
//! | refused (it never went out) | failed, with the provider's code and message | `Err(…Refused)` |
//! | no answer (timeout, 5xx, unreadable) | pending, for reconciliation | `Err(…OutcomeUnknown)`: do not resend |
//!
//! The references a result will be matched against are stored on the payment: a B2C payout's
//! Daraja ConversationID as its provider reference (its OriginatorConversationID is the payment
//! id itself), a transfer's `transfer_code`, a refund's Paystack refund id, a reversal's
//! ConversationID. A refund or reversal names its parent (`parent_id`), and the store refuses,
//! atomically, one larger than what is left of the parent.

use malipo_core::{AccountName, Money, Msisdn, PaymentId, PaymentState, Provider};
use malipo_guard::CallbackRoute;
use malipo_mpesa::{B2cCommand, B2cRequest, MpesaClient, ResultUrls, ReversalRequest};
use malipo_paystack::{CreateRefund, InitiateTransfer};
use malipo_store::{NewPayment, PaymentRecord, StoreError};
use reqwest::Url;

use crate::payments::{
    check_reference, fail, invalid, mpesa_callback_url, mpesa_refusal, paystack_outcome_unknown,
    PaymentStartError,
};
use crate::AppState;

/// An M-Pesa B2C payout to start: send `amount` to `phone`.
#[derive(Debug, Clone, PartialEq)]
pub struct B2cPayoutStart {
    /// The receiving phone.
    pub phone: Msisdn,
    /// Whole Kenyan shillings.
    pub amount: Money,
    /// Daraja's `Remarks`, 2 to 100 characters.
    pub remarks: String,
    /// Daraja's `Occassion`, up to 100 characters.
    pub occasion: Option<String>,
    /// The kind of payment (`BusinessPayment` by default).
    pub command: B2cCommand,
    /// The merchant's own reference, kept on the payment.
    pub merchant_reference: Option<String>,
    /// The merchant's metadata, kept on the payment.
    pub metadata: Option<serde_json::Value>,
    /// The M-Pesa account that pays (`default`: `[mpesa]`'s own).
    pub account: AccountName,
}

impl B2cPayoutStart {
    /// A business payment with the required fields.
    pub fn new(phone: Msisdn, amount: Money, remarks: impl Into<String>) -> Self {
        B2cPayoutStart {
            phone,
            amount,
            remarks: remarks.into(),
            occasion: None,
            command: B2cCommand::BusinessPayment,
            merchant_reference: None,
            metadata: None,
            account: AccountName::default_account(),
        }
    }
}

/// A Paystack transfer to start: send `amount` from the balance to `recipient`.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferStart {
    /// The recipient's code (`RCP_…`).
    pub recipient: String,
    /// The amount, in the recipient's currency.
    pub amount: Money,
    /// Shown to the recipient.
    pub reason: Option<String>,
    /// The transfer's unique reference at Paystack (makes a retry safe: Paystack refuses a
    /// duplicate); `None` derives one from the payment id. Kept as the merchant reference.
    pub reference: Option<String>,
    /// The merchant's metadata, kept on the payment.
    pub metadata: Option<serde_json::Value>,
    /// The Paystack account whose balance pays (`default`: `[paystack]`'s own).
    pub account: AccountName,
}

impl TransferStart {
    /// A transfer with the required fields.
    pub fn new(recipient: impl Into<String>, amount: Money) -> Self {
        TransferStart {
            recipient: recipient.into(),
            amount,
            reason: None,
            reference: None,
            metadata: None,
            account: AccountName::default_account(),
        }
    }
}

/// A refund to start: give back `amount` (all that is left when `None`) of a succeeded payment
/// — a Paystack refund of a charge, an M-Pesa reversal of an STK or C2B payment.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundStart {
    /// The payment to refund.
    pub payment: PaymentId,
    /// How much; `None` refunds what is left.
    pub amount: Option<Money>,
    /// Why (the customer's note at Paystack, Daraja's `Remarks`).
    pub reason: Option<String>,
    /// The merchant's own reference, kept on the refund.
    pub merchant_reference: Option<String>,
}

impl RefundStart {
    /// A full refund of `payment`.
    pub fn full(payment: PaymentId) -> Self {
        RefundStart {
            payment,
            amount: None,
            reason: None,
            merchant_reference: None,
        }
    }

    /// A refund of part of `payment`.
    pub fn partial(payment: PaymentId, amount: Money) -> Self {
        RefundStart {
            amount: Some(amount),
            ..RefundStart::full(payment)
        }
    }
}

/// The reference a transfer has at Paystack: the merchant's, else one derived from the payment
/// id (Paystack references take no underscore).
pub fn transfer_reference(payment: &PaymentRecord) -> String {
    payment
        .merchant_reference
        .clone()
        .unwrap_or_else(|| payment.id.to_string().replace('_', "-"))
}

/// Starts a B2C payout: records the payment (pending), sends the request with result and
/// timeout URLs carrying the payment's token (`/callbacks/mpesa/result/{token}`,
/// `/callbacks/mpesa/timeout/{token}`) and the payment id as OriginatorConversationID, then
/// records Daraja's ConversationID. The result arrives later at the result URL.
pub async fn start_b2c_payout(
    state: &AppState,
    client: &MpesaClient,
    public_base_url: &Url,
    req: B2cPayoutStart,
) -> Result<PaymentRecord, PaymentStartError> {
    let tokens = state
        .callback_tokens
        .as_ref()
        .ok_or(PaymentStartError::NotConfigured {
            provider: Provider::Mpesa,
            what: "no callback token key (the [mpesa] section is missing)",
        })?;
    whole_shillings(req.amount)?;
    let remarks_len = req.remarks.chars().count();
    if !(2..=100).contains(&remarks_len) {
        return Err(invalid("remarks", "expected 2 to 100 characters (Daraja's rule)"));
    }
    if req.occasion.as_deref().is_some_and(|o| o.chars().count() > 100) {
        return Err(invalid(
            "occasion",
            "expected at most 100 characters (Daraja's rule)",
        ));
    }
    let id = PaymentId::new();
    // A token is valid only on the route it was issued for.
    let result_token = tokens.issue_for(CallbackRoute::Result, id);
    let timeout_token = tokens.issue_for(CallbackRoute::Timeout, id);
    let result_url = mpesa_callback_url(public_base_url, &req.account, "result", &result_token)?;
    let timeout_url = mpesa_callback_url(public_base_url, &req.account, "timeout", &timeout_token)?;
    let mut request = B2cRequest::new(
        req.command,
        req.amount,
        req.phone.clone(),
        req.remarks.clone(),
        result_url,
        timeout_url,
    );
    // The payment id is our OriginatorConversationID: Daraja echoes it in the result, so the
    // payout is found by it even before its ConversationID is stored.
    request.originator_conversation_id = id.to_string();
    request.occasion = req.occasion;
    let payment = state
        .store
        .insert_payment(NewPayment {
            id,
            msisdn: Some(req.phone),
            merchant_reference: req.merchant_reference,
            description: Some(req.remarks),
            metadata: req.metadata,
            account: req.account.clone(),
            ..NewPayment::pending(Provider::Mpesa, "b2c", req.amount)
        })
        .await
        .map_err(PaymentStartError::Record)?;
    match client.b2c(&request).await {
        Ok(accepted) => {
            tracing::info!(payment = %id, conversation = ?accepted.conversation_id, "B2C payout sent");
            // Its result must repeat both: Daraja's ConversationID and the OriginatorConversationID
            // malipo chose (the payment id).
            let originator = accepted
                .originator_conversation_id
                .unwrap_or_else(|| id.to_string());
            record_references(
                state,
                payment,
                Provider::Mpesa,
                accepted.conversation_id,
                originator,
            )
            .await
        }
        Err(source) if source.outcome_unknown() => {
            tracing::warn!(payment = %id, error = %source, "B2C outcome unknown; left pending for reconciliation");
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

/// Starts a Paystack transfer: records the payment (pending; the transfer's reference as its
/// provider and merchant reference, as a checkout's), initiates the transfer, then records
/// Paystack's `transfer_code` as the request id a webhook must repeat. The result arrives by
/// `transfer.success` / `transfer.failed` webhook, found by the reference it names (also when
/// Paystack's answer to the initiation was lost), or the reconciler verifies the reference.
pub async fn start_paystack_transfer(
    state: &AppState,
    client: &malipo_paystack::Client,
    req: TransferStart,
) -> Result<PaymentRecord, PaymentStartError> {
    if req.recipient.trim().is_empty() || req.recipient.len() > 100 {
        return Err(invalid(
            "recipient",
            "expected a transfer recipient code like RCP_1a2b3c",
        ));
    }
    if req.amount.minor() == 0 {
        return Err(invalid(
            "amount",
            "it is zero; a transfer needs a positive amount",
        ));
    }
    let id = PaymentId::new();
    let reference = match req.reference {
        Some(reference) => check_reference(reference)?,
        None => id.to_string().replace('_', "-"),
    };
    let payment = state
        .store
        .insert_payment(NewPayment {
            id,
            merchant_reference: Some(reference.clone()),
            provider_reference: Some(reference.clone()),
            description: req.reason.clone(),
            metadata: req.metadata,
            account: req.account.clone(),
            ..NewPayment::pending(Provider::Paystack, "transfer", req.amount)
        })
        .await
        .map_err(PaymentStartError::Record)?;
    let mut transfer = InitiateTransfer::new(req.amount, req.recipient).reference(reference.clone());
    if let Some(reason) = req.reason {
        transfer = transfer.reason(reason);
    }
    match client.initiate_transfer(&transfer).await {
        Ok(sent) => {
            tracing::info!(payment = %id, code = ?sent.transfer_code, status = ?sent.status, "Paystack transfer started");
            let Some(code) = sent.transfer_code.filter(|c| !c.is_empty()) else {
                tracing::warn!(payment = %id, "Paystack accepted the transfer without a transfer_code");
                return Ok(payment);
            };
            record_references(state, payment, Provider::Paystack, Some(reference), code).await
        }
        Err(source) if paystack_outcome_unknown(&source) => {
            tracing::warn!(payment = %id, error = %source, "transfer outcome unknown; left pending for verification");
            Err(PaymentStartError::PaystackOutcomeUnknown {
                payment: Box::new(payment),
                source,
            })
        }
        Err(source) => {
            let payment = fail_paystack(state, payment, &source).await;
            Err(PaymentStartError::PaystackRefused {
                payment: Box::new(payment),
                source,
            })
        }
    }
}

/// Starts a refund of a succeeded payment: a Paystack refund of a Paystack charge, an M-Pesa
/// reversal of an STK or C2B payment (by its receipt, result to the refund's own token URL).
/// Refused with [`PaymentStartError::Invalid`] when the payment is not succeeded or the amount
/// is more than what is left of it after its other refunds (pending ones included).
pub async fn start_refund(state: &AppState, req: RefundStart) -> Result<PaymentRecord, PaymentStartError> {
    let parent = state
        .store
        .get_payment(req.payment)
        .await
        .map_err(PaymentStartError::Record)?
        .ok_or_else(|| invalid("payment", format!("there is no payment {}", req.payment)))?;
    if !matches!(
        parent.state,
        PaymentState::Succeeded | PaymentState::PartiallyRefunded
    ) {
        return Err(invalid(
            "payment",
            format!(
                "payment {} is {}; only a succeeded payment can be refunded",
                parent.id, parent.state
            ),
        ));
    }
    let left = remaining(state, &parent).await?;
    let amount = req.amount.unwrap_or(left);
    if amount.currency() != parent.amount.currency() {
        return Err(invalid(
            "amount",
            format!(
                "expected {}, the currency payment {} was paid in",
                parent.amount.currency().code(),
                parent.id
            ),
        ));
    }
    if amount.minor() == 0 || amount.minor() > left.minor() {
        return Err(invalid(
            "amount",
            format!(
                "{amount} is not between nothing and the {left} left to refund of payment {}",
                parent.id
            ),
        ));
    }
    match parent.provider {
        Provider::Paystack => paystack_refund(state, &parent, amount, req).await,
        Provider::Mpesa => mpesa_reversal(state, &parent, amount, req).await,
    }
}

/// What is left to refund of `parent`: its amount less its refunds pending or succeeded.
async fn remaining(state: &AppState, parent: &PaymentRecord) -> Result<Money, PaymentStartError> {
    let children = state
        .store
        .child_payments(parent.id)
        .await
        .map_err(PaymentStartError::Record)?;
    let taken = children
        .iter()
        .filter(|c| matches!(c.state, PaymentState::Pending | PaymentState::Succeeded))
        .map(|c| c.amount.minor())
        .fold(0u64, u64::saturating_add);
    Ok(Money::from_minor(
        parent.amount.minor().saturating_sub(taken),
        parent.amount.currency(),
    ))
}

/// Records the refund; the store checks the parent and the remainder again, atomically, so two
/// refunds racing cannot both pass.
async fn record_child(state: &AppState, child: NewPayment) -> Result<PaymentRecord, PaymentStartError> {
    state
        .store
        .insert_child_payment(child)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(reason) => PaymentStartError::Invalid {
                field: "amount",
                reason,
            },
            other => PaymentStartError::Record(other),
        })
}

async fn paystack_refund(
    state: &AppState,
    parent: &PaymentRecord,
    amount: Money,
    req: RefundStart,
) -> Result<PaymentRecord, PaymentStartError> {
    let client = state
        .providers
        .paystack_for(&parent.account)
        .ok_or(PaymentStartError::NotConfigured {
            provider: Provider::Paystack,
            what:
                "no Paystack client for the payment's account (its [paystack] section or account is missing)",
        })?;
    let transaction = parent.provider_reference.clone().ok_or_else(|| {
        invalid(
            "payment",
            format!("payment {} has no Paystack reference to refund", parent.id),
        )
    })?;
    let payment = record_child(
        state,
        NewPayment {
            merchant_reference: req.merchant_reference,
            email: parent.email.clone(),
            description: req.reason.clone(),
            parent_id: Some(parent.id),
            account: parent.account.clone(),
            ..NewPayment::pending(Provider::Paystack, "refund", amount)
        },
    )
    .await?;
    let id = payment.id;
    let mut refund = CreateRefund::partial(transaction, amount).merchant_note(format!("malipo {id}"));
    if let Some(reason) = req.reason {
        refund = refund.customer_note(reason);
    }
    match client.create_refund(&refund).await {
        Ok(created) => {
            tracing::info!(payment = %id, parent = %parent.id, refund = ?created.id, "Paystack refund queued");
            record_reference(
                state,
                payment,
                Provider::Paystack,
                created.id.map(|r| r.to_string()),
            )
            .await
        }
        Err(source) if paystack_outcome_unknown(&source) => {
            tracing::warn!(payment = %id, error = %source, "refund outcome unknown; left pending for reconciliation");
            Err(PaymentStartError::PaystackOutcomeUnknown {
                payment: Box::new(payment),
                source,
            })
        }
        Err(source) => {
            let payment = fail_paystack(state, payment, &source).await;
            Err(PaymentStartError::PaystackRefused {
                payment: Box::new(payment),
                source,
            })
        }
    }
}

async fn mpesa_reversal(
    state: &AppState,
    parent: &PaymentRecord,
    amount: Money,
    req: RefundStart,
) -> Result<PaymentRecord, PaymentStartError> {
    let not_configured = |what| PaymentStartError::NotConfigured {
        provider: Provider::Mpesa,
        what,
    };
    let client = state.providers.mpesa_for(&parent.account).ok_or(not_configured(
        "no Daraja client for the payment's account (its [mpesa] section or account is missing)",
    ))?;
    let tokens = state.callback_tokens.as_ref().ok_or(not_configured(
        "no callback token key (the [mpesa] section is missing)",
    ))?;
    let base = state.providers.public_base_url.as_ref().ok_or(not_configured(
        "server.public_base_url is not set, so the result has nowhere to go",
    ))?;
    whole_shillings(amount)?;
    let receipt = parent.receipt.clone().ok_or_else(|| {
        invalid(
            "payment",
            format!("payment {} has no M-Pesa receipt to reverse", parent.id),
        )
    })?;
    let remarks = req
        .reason
        .clone()
        .unwrap_or_else(|| format!("Reversal of {receipt}"));
    if !(2..=100).contains(&remarks.chars().count()) {
        return Err(invalid("reason", "expected 2 to 100 characters (Daraja's rule)"));
    }
    let payment = record_child(
        state,
        NewPayment {
            msisdn: parent.msisdn.clone(),
            merchant_reference: req.merchant_reference,
            description: Some(remarks.clone()),
            parent_id: Some(parent.id),
            account: parent.account.clone(),
            ..NewPayment::pending(Provider::Mpesa, "reversal", amount)
        },
    )
    .await?;
    let id = payment.id;
    let result_token = tokens.issue_for(CallbackRoute::Result, id);
    let timeout_token = tokens.issue_for(CallbackRoute::Timeout, id);
    let request = ReversalRequest {
        transaction_id: receipt,
        amount,
        receiver_party: None,
        remarks,
        occasion: None,
        urls: ResultUrls {
            result_url: mpesa_callback_url(base, &parent.account, "result", &result_token)?,
            queue_timeout_url: mpesa_callback_url(base, &parent.account, "timeout", &timeout_token)?,
        },
    };
    match client.reversal(&request).await {
        Ok(accepted) => {
            tracing::info!(payment = %id, parent = %parent.id, conversation = ?accepted.conversation_id, "M-Pesa reversal sent");
            match accepted.originator_conversation_id {
                Some(originator) => {
                    record_references(
                        state,
                        payment,
                        Provider::Mpesa,
                        accepted.conversation_id,
                        originator,
                    )
                    .await
                }
                None => record_reference(state, payment, Provider::Mpesa, accepted.conversation_id).await,
            }
        }
        Err(source) if source.outcome_unknown() => {
            tracing::warn!(payment = %id, error = %source, "reversal outcome unknown; left pending for reconciliation");
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

/// Stores the provider's reference of an accepted request; an answer without one leaves the
/// payment to its token (M-Pesa) or the reconciler.
async fn record_reference(
    state: &AppState,
    payment: PaymentRecord,
    provider: Provider,
    reference: Option<String>,
) -> Result<PaymentRecord, PaymentStartError> {
    let Some(reference) = reference.filter(|r| !r.is_empty()) else {
        tracing::warn!(payment = %payment.id, "the provider accepted the request without a reference");
        return Ok(payment);
    };
    state
        .store
        .set_payment_provider_ref(payment.id, &reference)
        .await
        .map_err(|source| PaymentStartError::ReferenceNotRecorded {
            provider,
            payment_id: payment.id,
            provider_reference: reference,
            source,
        })
}

/// Records both ids a result must repeat before it moves the payment: the provider's reference
/// (Daraja's ConversationID, a transfer's reference) and the request id (the
/// OriginatorConversationID, a transfer's transfer_code).
async fn record_references(
    state: &AppState,
    payment: PaymentRecord,
    provider: Provider,
    reference: Option<String>,
    request_id: String,
) -> Result<PaymentRecord, PaymentStartError> {
    let Some(reference) = reference.filter(|c| !c.is_empty()) else {
        return record_reference(state, payment, provider, None).await;
    };
    state
        .store
        .set_payment_references(payment.id, &reference, &request_id)
        .await
        .map_err(|source| PaymentStartError::ReferenceNotRecorded {
            provider,
            payment_id: payment.id,
            provider_reference: reference,
            source,
        })
}

async fn fail_paystack(
    state: &AppState,
    payment: PaymentRecord,
    e: &malipo_paystack::Error,
) -> PaymentRecord {
    let code = e
        .status()
        .map_or_else(|| "not_sent".to_string(), |s| format!("HTTP {s}"));
    let message = e.message().map_or_else(|| e.to_string(), str::to_string);
    fail(state, payment, code, message).await
}

/// M-Pesa moves whole shillings only.
fn whole_shillings(amount: Money) -> Result<(), PaymentStartError> {
    if amount.currency() != malipo_core::Currency::Kes || amount.minor() == 0 || amount.minor() % 100 != 0 {
        return Err(invalid(
            "amount",
            format!(
                "{amount} cannot be sent by M-Pesa: expected a positive whole number of Kenyan shillings"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use malipo_core::Currency;

    #[test]
    fn mpesa_amounts_are_whole_shillings() {
        assert!(whole_shillings(Money::from_major(10, Currency::Kes).unwrap()).is_ok());
        assert!(whole_shillings(Money::from_minor(1050, Currency::Kes)).is_err());
        assert!(whole_shillings(Money::from_minor(0, Currency::Kes)).is_err());
        assert!(whole_shillings(Money::from_minor(1000, Currency::Ngn)).is_err());
    }
}
