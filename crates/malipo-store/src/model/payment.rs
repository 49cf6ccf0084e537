use chrono::{DateTime, Utc};
use malipo_core::{AccountName, Money, Msisdn, PaymentId, PaymentState, Provider, TransitionError};

use crate::StoreError;

/// A payment to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// Its id, chosen by the caller so the M-Pesa callback token (derived from it) can be put in
    /// the request before the row exists elsewhere.
    pub id: PaymentId,
    /// Who moves the money.
    pub provider: Provider,
    /// What kind of payment (`stk_push`, `c2b`, `b2c`, `charge`, `transfer`…), free text.
    pub kind: String,
    /// Its first state: [`PaymentState::Pending`] for one malipo starts, a final one for a
    /// payment learnt of after the fact (a C2B confirmation).
    pub state: PaymentState,
    /// How much.
    pub amount: Money,
    /// The customer's phone number (M-Pesa).
    pub msisdn: Option<Msisdn>,
    /// The customer's email (Paystack).
    pub email: Option<String>,
    /// The merchant's own reference (order number).
    pub merchant_reference: Option<String>,
    /// The provider's reference: CheckoutRequestID, Paystack reference, ConversationID, TransID.
    /// Unique per provider.
    pub provider_reference: Option<String>,
    /// A human description.
    pub description: Option<String>,
    /// The merchant's metadata, returned in deliveries.
    pub metadata: Option<serde_json::Value>,
    /// The payment a refund or reversal gives money back from.
    pub parent_id: Option<PaymentId>,
    /// The provider's second id of the request (MerchantRequestID, OriginatorConversationID,
    /// transfer code), compared with every callback along with the provider reference.
    pub provider_request_id: Option<String>,
    /// The provider account it goes through (`default`: the provider section's own).
    pub account: AccountName,
    /// For a payment recorded already settled: how it was learnt, when not from the provider's
    /// callback (`None`: a callback).
    pub learnt_by: Option<SettledBy>,
}

impl NewPayment {
    /// A pending payment with only the required fields set.
    pub fn pending(provider: Provider, kind: impl Into<String>, amount: Money) -> Self {
        NewPayment {
            id: PaymentId::new(),
            provider,
            kind: kind.into(),
            state: PaymentState::Pending,
            amount,
            msisdn: None,
            email: None,
            merchant_reference: None,
            provider_reference: None,
            description: None,
            metadata: None,
            parent_id: None,
            provider_request_id: None,
            account: AccountName::default_account(),
            learnt_by: None,
        }
    }

    /// The keys the payment will be found by once recorded: its id, and its provider reference
    /// when it has one.
    pub fn keys(&self) -> Vec<PaymentKey> {
        let reference = self.provider_reference.clone();
        std::iter::once(PaymentKey::Id(self.id))
            .chain(reference.map(|r| PaymentKey::ProviderRef(self.provider, r)))
            .collect()
    }
}

/// The checks and conversions every adapter makes of a payment to record.
impl NewPayment {
    /// The amount in minor units as stored; more than the signed 64-bit column holds is refused.
    pub(crate) fn stored_minor(&self) -> Result<i64, StoreError> {
        i64::try_from(self.amount.minor()).map_err(|_| {
            StoreError::Invalid(format!(
                "amount {} is too large to store (at most {} minor units)",
                self.amount,
                i64::MAX
            ))
        })
    }

    /// The metadata as stored: JSON text.
    pub(crate) fn stored_metadata(&self) -> Result<Option<String>, StoreError> {
        self.metadata
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Invalid(format!("payment metadata cannot be stored: {e}")))
    }

    /// How its state was learnt: a payment recorded already settled was learnt of from the
    /// provider's own callback (a C2B confirmation, a Paystack charge malipo did not start),
    /// unless [`NewPayment::learnt_by`] says otherwise.
    pub(crate) fn settled_by(&self) -> Option<SettledBy> {
        (self.state != PaymentState::Pending).then_some(self.learnt_by.unwrap_or(SettledBy::Callback))
    }

    /// The record of it as stored at `at`: exactly what was bound, so no adapter reads it back.
    pub(crate) fn recorded(&self, at: DateTime<Utc>) -> PaymentRecord {
        PaymentRecord {
            id: self.id,
            provider: self.provider,
            kind: self.kind.clone(),
            state: self.state,
            amount: self.amount,
            msisdn: self.msisdn.clone(),
            email: self.email.clone(),
            merchant_reference: self.merchant_reference.clone(),
            provider_reference: self.provider_reference.clone(),
            description: self.description.clone(),
            metadata: self.metadata.clone(),
            receipt: None,
            result_code: None,
            result_desc: None,
            created_at: at,
            updated_at: at,
            settled_by: self.settled_by(),
            parent_id: self.parent_id,
            check: CheckSchedule::default(),
            provider_request_id: self.provider_request_id.clone(),
            refunded: Money::from_minor(0, self.amount.currency()),
            account: self.account.clone(),
        }
    }

    /// The payment a refund or reversal gives money back from.
    pub(crate) fn refunded_payment(&self) -> Result<PaymentId, StoreError> {
        self.parent_id.ok_or_else(|| {
            StoreError::Invalid("a refund or reversal needs the payment it gives money back from".into())
        })
    }

    /// Refuses a refund or reversal of `parent` that is not settled or in another currency.
    pub(crate) fn check_refund_of(&self, parent: &PaymentRecord) -> Result<(), StoreError> {
        if !matches!(
            parent.state,
            PaymentState::Succeeded | PaymentState::PartiallyRefunded
        ) {
            return Err(StoreError::Invalid(format!(
                "payment {} is {}; only a succeeded payment can be refunded",
                parent.id, parent.state
            )));
        }
        if self.amount.currency() != parent.amount.currency() {
            return Err(StoreError::Invalid(format!(
                "the refund is in {} but payment {} was paid in {}",
                self.amount.currency().code(),
                parent.id,
                parent.amount.currency().code()
            )));
        }
        Ok(())
    }

    /// Refuses a refund of nothing, or of more than the `left` minor units of `parent`.
    pub(crate) fn check_refund_fits(&self, parent: &PaymentRecord, left: u64) -> Result<(), StoreError> {
        if self.amount.minor() == 0 || self.amount.minor() > left {
            return Err(StoreError::Invalid(format!(
                "the refund of {} is more than the {} left to refund of payment {} (or zero)",
                self.amount,
                Money::from_minor(left, parent.amount.currency()),
                parent.id
            )));
        }
        Ok(())
    }
}

/// A stored payment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PaymentRecord {
    /// Its id.
    pub id: PaymentId,
    /// Who moves the money.
    pub provider: Provider,
    /// What kind of payment.
    pub kind: String,
    /// Where it stands.
    pub state: PaymentState,
    /// How much.
    pub amount: Money,
    /// The customer's phone number.
    pub msisdn: Option<Msisdn>,
    /// The customer's email.
    pub email: Option<String>,
    /// The merchant's reference.
    pub merchant_reference: Option<String>,
    /// The provider's reference.
    pub provider_reference: Option<String>,
    /// A human description.
    pub description: Option<String>,
    /// The merchant's metadata.
    pub metadata: Option<serde_json::Value>,
    /// The provider's receipt (M-Pesa receipt number, Paystack transaction id).
    pub receipt: Option<String>,
    /// The provider's last result code (M-Pesa `ResultCode`, Paystack `gateway_response`).
    pub result_code: Option<String>,
    /// The provider's last result description.
    pub result_desc: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// How its final state was learnt; `None` while pending or when nothing was settled (a
    /// provider refused the request at start).
    pub settled_by: Option<SettledBy>,
    /// The payment a refund or reversal gives money back from.
    pub parent_id: Option<PaymentId>,
    /// The reconciler's schedule while it is pending.
    pub check: CheckSchedule,
    /// The provider's second id of the request (MerchantRequestID of an STK push,
    /// OriginatorConversationID of a B2C payment, transfer code of a Paystack transfer).
    pub provider_request_id: Option<String>,
    /// How much of it went back to the payer (zero unless refunded), in its currency.
    pub refunded: Money,
    /// The provider account it goes through (`default`: the provider section's own).
    pub account: AccountName,
}

impl PaymentRecord {
    /// What a refund may still return: the amount less what was refunded already.
    pub fn refundable(&self) -> Money {
        Money::from_minor(
            self.amount.minor().saturating_sub(self.refunded.minor()),
            self.amount.currency(),
        )
    }
}

/// The checks every adapter makes before changing a stored payment.
impl PaymentRecord {
    /// Where giving `amount` back takes the payment: `Err` for an amount that does not fit,
    /// `Ok(Err(refused))` when its state refuses the move (a refund of a pending payment).
    pub(crate) fn refund_to(&self, amount: Money) -> Result<Result<PaymentState, PaymentEffect>, StoreError> {
        let refundable = self.refundable();
        if amount.currency() != self.amount.currency()
            || amount.minor() > refundable.minor()
            || amount.minor() == 0
        {
            return Err(StoreError::Invalid(format!(
                "a refund of {amount} does not fit payment {}: {refundable} remains to refund",
                self.id
            )));
        }
        let to = if amount == refundable {
            PaymentState::Refunded
        } else {
            PaymentState::PartiallyRefunded
        };
        Ok(match self.state.transition(to) {
            Ok(_) => Ok(to),
            Err(error) => Err(PaymentEffect::Refused {
                payment: self.clone(),
                error,
            }),
        })
    }

    /// What its refunds and reversals (`children`) leave to refund: the amount less those
    /// pending or succeeded.
    pub(crate) fn left_to_refund(&self, children: &[PaymentRecord]) -> u64 {
        let taken = children
            .iter()
            .filter(|c| matches!(c.state, PaymentState::Pending | PaymentState::Succeeded))
            .map(|c| c.amount.minor())
            .fold(0u64, u64::saturating_add);
        self.amount.minor().saturating_sub(taken)
    }

    /// The state a payment moves to once one of its refunds (`children`) succeeded: partly or
    /// fully refunded by those that succeeded, or `None` when it is there already or cannot go.
    pub(crate) fn refunded_state(&self, children: &[PaymentRecord]) -> Option<PaymentState> {
        let refunded = children
            .iter()
            .filter(|c| c.state == PaymentState::Succeeded)
            .map(|c| c.amount.minor())
            .fold(0u64, u64::saturating_add);
        let to = if refunded >= self.amount.minor() {
            PaymentState::Refunded
        } else {
            PaymentState::PartiallyRefunded
        };
        (self.state.can_become(to) && self.state != to).then_some(to)
    }

    /// Refuses a provider request id other than the one already stored: once set, it never
    /// changes.
    pub(crate) fn check_request_id(&self, request_id: &str) -> Result<(), StoreError> {
        if let Some(stored) = self.provider_request_id.as_deref().filter(|s| *s != request_id) {
            return Err(StoreError::Conflict {
                what: format!(
                    "payment {}'s request id (it is {stored:?}, not {request_id:?})",
                    self.id
                ),
                holder: self.id.to_string(),
            });
        }
        Ok(())
    }
}

/// What the provider said along with a state change; `None` fields leave the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransitionDetail {
    /// The provider's result code.
    pub result_code: Option<String>,
    /// The provider's result description.
    pub result_desc: Option<String>,
    /// The provider's receipt.
    pub receipt: Option<String>,
    /// How the state was learnt; kept only when the state actually changes, so a late callback
    /// repeating what a query settled does not rewrite how it was settled.
    pub settled_by: Option<SettledBy>,
}

/// A successful [`PaymentStore::transition_payment`](crate::PaymentStore::transition_payment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTransition {
    /// The payment after the move.
    pub payment: PaymentRecord,
    /// Its state before; equal to `payment.state` when the move was a repeat (idempotent).
    pub previous: PaymentState,
}

impl PaymentTransition {
    /// Whether the state actually changed.
    pub fn changed(&self) -> bool {
        self.previous != self.payment.state
    }
}

/// How a worker finds the payment an event is about, for
/// [`PaymentStore::find_payments`](crate::PaymentStore::find_payments).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PaymentKey {
    /// By its id (the M-Pesa callback token names it).
    Id(PaymentId),
    /// By the provider's reference (CheckoutRequestID, Paystack reference, ConversationID).
    ProviderRef(Provider, String),
}

/// A payment change carried by a [`JobOutcome`](crate::JobOutcome).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentChange {
    /// A callback says a pending payment succeeded, but settlement is strict: leave it pending
    /// and have the reconciler confirm it with the provider now (it is settled by query).
    Confirm {
        /// The payment.
        id: PaymentId,
        /// Why, kept as the payment's check note.
        note: String,
    },
    /// Move an existing payment.
    Transition {
        /// The payment.
        id: PaymentId,
        /// The state to move to.
        to: PaymentState,
        /// What the provider said.
        detail: TransitionDetail,
    },
    /// Record a payment learnt of from the event (a C2B confirmation), unless one with the same
    /// provider reference exists already (a replayed event).
    Record(NewPayment),
    /// Give `amount` back to the payer: the refunded total grows by it and the payment becomes
    /// [`PaymentState::PartiallyRefunded`], or [`PaymentState::Refunded`] once nothing is left.
    /// A refund above what remains, or of a payment that did not succeed, is refused.
    Refund {
        /// The payment.
        id: PaymentId,
        /// How much went back, in the payment's currency.
        amount: Money,
        /// What the provider said.
        detail: TransitionDetail,
    },
}

/// What a [`PaymentChange`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEffect {
    /// The payment was recorded or moved to a new state.
    Changed {
        /// The payment now.
        payment: PaymentRecord,
        /// Its state before; `None` when it was just recorded.
        previous: Option<PaymentState>,
    },
    /// Nothing to do: already in that state, or already recorded.
    Unchanged(PaymentRecord),
    /// The state machine refused the move (a late callback for a settled payment); the event is
    /// still completed and the refusal is kept as its `last_error`.
    Refused {
        /// The payment as it stays.
        payment: PaymentRecord,
        /// The refused move.
        error: TransitionError,
    },
}

impl PaymentEffect {
    /// The payment after the change.
    pub fn payment(&self) -> &PaymentRecord {
        match self {
            PaymentEffect::Changed { payment, .. }
            | PaymentEffect::Unchanged(payment)
            | PaymentEffect::Refused { payment, .. } => payment,
        }
    }
}

/// Which payments [`PaymentStore::list_payments`](crate::PaymentStore::list_payments) returns, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFilter {
    /// Only this provider's.
    pub provider: Option<Provider>,
    /// Only in this state.
    pub state: Option<PaymentState>,
    /// Only with this merchant reference.
    pub merchant_reference: Option<String>,
    /// Only older than this payment (the last id of the previous page).
    pub before: Option<PaymentId>,
    /// At most this many (capped at 1,000).
    pub limit: usize,
    /// Only created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only through this provider account.
    pub account: Option<AccountName>,
    /// Only those this text names: their merchant reference, provider reference or receipt,
    /// or (four digits or more) the end of their phone number.
    pub search: Option<String>,
}

impl Default for PaymentFilter {
    fn default() -> Self {
        PaymentFilter {
            provider: None,
            state: None,
            merchant_reference: None,
            before: None,
            limit: 50,
            since: None,
            account: None,
            search: None,
        }
    }
}

/// How a payment's final state was learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettledBy {
    /// The provider's callback or webhook said so.
    Callback,
    /// malipo asked the provider because no callback came: the reconciler (STK query, Paystack
    /// verify, transfer or refund fetch) or the C2B pull (the provider's list of transactions).
    Query,
}

impl SettledBy {
    /// The stored name: `callback` or `query`.
    pub fn as_str(self) -> &'static str {
        match self {
            SettledBy::Callback => "callback",
            SettledBy::Query => "query",
        }
    }
}

impl std::fmt::Display for SettledBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SettledBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "callback" => Ok(SettledBy::Callback),
            "query" => Ok(SettledBy::Query),
            other => Err(format!(
                "{other:?} is not how a payment is settled; expected callback or query"
            )),
        }
    }
}

/// The reconciler's schedule of a pending payment.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CheckSchedule {
    /// When the provider is asked next; `None` before the reconciler first saw the payment.
    pub next_at: Option<DateTime<Utc>>,
    /// How many times the provider was asked.
    pub attempts: u32,
    /// What the last question brought, or why the payment is held.
    pub note: Option<String>,
    /// The provider's answer disagrees with the payment: the reconciler stops asking and a
    /// person decides.
    pub held: bool,
}

/// A change of a pending payment's schedule, for
/// [`PaymentStore::record_payment_check`](crate::PaymentStore::record_payment_check).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentCheck {
    /// The provider was asked (the attempt count goes up); false when only scheduling.
    pub asked: bool,
    /// When to ask next.
    pub next_at: Option<DateTime<Utc>>,
    /// What the provider said, kept as the payment's check note (`None` keeps the old one).
    pub note: Option<String>,
    /// Stop asking and leave the payment for a person.
    pub hold: bool,
}
