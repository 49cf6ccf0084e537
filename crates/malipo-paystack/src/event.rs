//! Typed Paystack webhook events: `{"event": "<name>", "data": {…}}`.

use malipo_core::{Claim, Money, Outcome, Payer, PaymentState, Provider, Unsolicited};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::event_data::{
    CustomerIdentification, DedicatedAccountAssignment, Dispute, ExpiringCard, Invoice, PaymentRequest,
    RefundNotice, Subscription,
};
use crate::model::{Transaction, Transfer};

/// Why a webhook body could not be read as a Paystack event. The body itself is never included.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The body is not JSON at all.
    #[error("the webhook body is not JSON: expected {{\"event\": \"<name>\", \"data\": {{…}}}}")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but not an object with a string `event` field.
    #[error(
        "the webhook body has no non-blank string `event` field: expected {{\"event\": \"<name>\", \"data\": {{…}}}}"
    )]
    MissingEvent,
    /// A known event whose `data` is missing or not in Paystack's shape.
    #[error("the `data` of a `{event}` event is missing or not in the shape Paystack documents")]
    BadData {
        /// The event name.
        event: String,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
}

/// What the accessors of [`Event`] read from each kind of `data`.
trait Data {
    /// The event's identity within its name: see [`Event::dedup_key`].
    fn identity(&self) -> Option<String>;
    fn reference(&self) -> Option<&str>;
    fn amount(&self) -> Option<Money>;
    fn status(&self) -> Option<&str>;
    fn email(&self) -> Option<&str>;
}

macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal, )*) => {
        /// A Paystack webhook event, typed by its `event` name.
        ///
        /// Build one with [`Event::from_slice`] on the raw (already signature-checked) body.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        // Events are parsed one per request and consumed at once; boxing buys nothing.
        #[allow(clippy::large_enum_variant)]
        pub enum Event {
            $( $(#[$doc])* $variant($ty), )*
            /// Any event name not listed above (one Paystack added after this crate was
            /// written), with the whole payload as sent.
            Unknown {
                /// The `event` field.
                name: String,
                /// The whole body, `event` included.
                raw: Value,
            },
        }

        impl Event {
            /// Every event name with a typed variant.
            pub const KNOWN: &'static [&'static str] = &[$($name),*];

            /// The `event` field, such as `"charge.success"`.
            pub fn name(&self) -> &str {
                match self {
                    $( Event::$variant(_) => $name, )*
                    Event::Unknown { name, .. } => name,
                }
            }

            fn data(&self) -> Option<&dyn Data> {
                match self {
                    $( Event::$variant(d) => Some(d), )*
                    Event::Unknown { .. } => None,
                }
            }

            fn parse_known(name: &str, data: Value) -> Option<Result<Event, serde_json::Error>> {
                Some(match name {
                    $( $name => serde_json::from_value::<$ty>(data).map(Event::$variant), )*
                    _ => return None,
                })
            }
        }
    };
}

events! {
    /// A payment succeeded.
    ChargeSuccess(Transaction) = "charge.success",
    /// A customer disputed a charge.
    ChargeDisputeCreate(Dispute) = "charge.dispute.create",
    /// A dispute is still waiting for the merchant.
    ChargeDisputeRemind(Dispute) = "charge.dispute.remind",
    /// A dispute was resolved.
    ChargeDisputeResolve(Dispute) = "charge.dispute.resolve",
    /// A transfer reached the recipient.
    TransferSuccess(Transfer) = "transfer.success",
    /// A transfer failed.
    TransferFailed(Transfer) = "transfer.failed",
    /// A transfer was reversed back to the balance.
    TransferReversed(Transfer) = "transfer.reversed",
    /// A refund was started and waits for the processor.
    RefundPending(RefundNotice) = "refund.pending",
    /// The processor received a refund.
    RefundProcessing(RefundNotice) = "refund.processing",
    /// A refund was paid back.
    RefundProcessed(RefundNotice) = "refund.processed",
    /// A refund failed.
    RefundFailed(RefundNotice) = "refund.failed",
    /// A refund could not be completed and waits for the merchant (such as new account details
    /// for the customer).
    RefundNeedsAttention(RefundNotice) = "refund.needs-attention",
    /// A subscription was created.
    SubscriptionCreate(Subscription) = "subscription.create",
    /// A subscription was disabled.
    SubscriptionDisable(Subscription) = "subscription.disable",
    /// A subscription will not renew.
    SubscriptionNotRenew(Subscription) = "subscription.not_renew",
    /// Cards charged by subscriptions expire this month (`data` is a list).
    SubscriptionExpiringCards(Vec<ExpiringCard>) = "subscription.expiring_cards",
    /// An invoice was created for a subscription.
    InvoiceCreate(Invoice) = "invoice.create",
    /// An invoice changed (usually: it was paid).
    InvoiceUpdate(Invoice) = "invoice.update",
    /// Charging an invoice failed.
    InvoicePaymentFailed(Invoice) = "invoice.payment_failed",
    /// A payment request was sent.
    PaymentRequestPending(PaymentRequest) = "paymentrequest.pending",
    /// A payment request was paid.
    PaymentRequestSuccess(PaymentRequest) = "paymentrequest.success",
    /// A customer's identity was validated.
    CustomerIdentificationSuccess(CustomerIdentification) = "customeridentification.success",
    /// A customer's identity could not be validated.
    CustomerIdentificationFailed(CustomerIdentification) = "customeridentification.failed",
    /// A dedicated virtual account was assigned to a customer.
    DedicatedAccountAssignSuccess(DedicatedAccountAssignment) = "dedicatedaccount.assign.success",
    /// A dedicated virtual account could not be assigned.
    DedicatedAccountAssignFailed(DedicatedAccountAssignment) = "dedicatedaccount.assign.failed",
}

/// Events whose `data` is a list rather than an object.
const LIST_DATA: [&str; 1] = ["subscription.expiring_cards"];

impl Event {
    /// Parses a raw webhook body. Never panics: malformed JSON, a missing `event` field or a known
    /// event whose `data` is not an object of the documented shape are errors; an event name not
    /// in [`Event::KNOWN`] becomes [`Event::Unknown`] with the whole payload.
    pub fn from_slice(body: &[u8]) -> Result<Event, EventError> {
        Event::from_value(serde_json::from_slice(body).map_err(EventError::NotJson)?)
    }

    /// [`Event::from_slice`] for a body already parsed as JSON (by a caller that also reads it
    /// another way, and so parses it once).
    pub fn from_value(mut raw: Value) -> Result<Event, EventError> {
        let name = match raw.get("event") {
            // A blank name would make every such body one event kind with one dedup namespace.
            Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
            _ => return Err(EventError::MissingEvent),
        };
        if !Event::KNOWN.contains(&name.as_str()) {
            return Ok(Event::Unknown { name, raw });
        }
        let data = raw
            .as_object_mut()
            .and_then(|o| o.remove("data"))
            .unwrap_or(Value::Null);
        let wants_list = LIST_DATA.contains(&name.as_str());
        if wants_list && !data.is_array() || !wants_list && !data.is_object() {
            use serde::de::Error as _;
            let expected = if wants_list { "a list" } else { "an object" };
            return Err(EventError::BadData {
                event: name,
                source: serde_json::Error::custom(format!("expected `data` to be {expected}")),
            });
        }
        match Event::parse_known(&name, data) {
            Some(Ok(event)) => Ok(event),
            Some(Err(source)) => Err(EventError::BadData { event: name, source }),
            // Unreachable: the name is in KNOWN, which the same macro generated.
            None => Err(EventError::MissingEvent),
        }
    }

    /// The key that identifies this event for deduplication: `"<event name>:<identity>"`.
    ///
    /// Paystack's webhooks carry no event id, and a retried delivery repeats the same body. The
    /// identity is, in order of preference, `data.id`, then the first present of: `reference`
    /// (charges, transfers, disputes), `transfer_code` (transfers), `refund_reference` then
    /// `transaction_reference` (refund events, which usually have no id), `invoice_code` plus the
    /// invoice status (an invoice is updated more than once), `subscription_code`,
    /// `request_code`, `customer_code`, `customer_id`. [`Event::Unknown`] events use the same
    /// list on their raw `data`.
    ///
    /// `dedicatedaccount.assign.*` events are keyed by the account's id, else the customer's code.
    ///
    /// Returns `None` when none of these exists (for instance `subscription.expiring_cards`,
    /// whose `data` is a list). Callers then need another identity; the raw body's digest is the
    /// natural one, which [`Event::dedup_key_or_digest`] provides.
    ///
    /// Caveat: refund events that have neither an id nor a `refund_reference` yet are keyed by
    /// the transaction's reference, so two partial refunds of one transaction reaching the same
    /// state before Paystack assigns a refund reference share a key.
    pub fn dedup_key(&self) -> Option<String> {
        let identity = match self {
            Event::Unknown { raw, .. } => raw_identity(raw.get("data")?),
            known => known.data()?.identity(),
        }?;
        Some(format!("{}:{}", self.name(), identity))
    }

    /// [`Event::dedup_key`], or `"<event name>:sha256:<hex digest of raw_body>"` when the event
    /// has no identity field. `raw_body` must be the exact bytes the event was parsed from, so a
    /// retried delivery (same bytes) maps to the same key.
    pub fn dedup_key_or_digest(&self, raw_body: &[u8]) -> String {
        self.dedup_key()
            .unwrap_or_else(|| format!("{}:sha256:{}", self.name(), hex::encode(Sha256::digest(raw_body))))
    }

    /// The transaction reference the event is about, as `verify` takes it: the charge's
    /// reference, the transfer's reference, a refund's or dispute's transaction reference, the
    /// charge that paid an invoice. `None` for subscriptions, payment requests, identity checks
    /// and unknown events.
    pub fn reference(&self) -> Option<&str> {
        self.data()?.reference()
    }

    /// The amount the event is about as [`Money`] (the disputed amount for disputes); `None`
    /// when absent or in a currency malipo does not know.
    pub fn amount(&self) -> Option<Money> {
        self.data()?.amount()
    }

    /// The `data.status` field as sent (`success`, `failed`, `processed`, …).
    pub fn status(&self) -> Option<&str> {
        match self {
            Event::Unknown { raw, .. } => raw.get("data")?.get("status")?.as_str(),
            known => known.data()?.status(),
        }
    }

    /// The customer's (or, for transfers, the recipient's) email address, when present.
    pub fn customer_email(&self) -> Option<&str> {
        self.data()?.email()
    }

    /// The charge, for `charge.success`.
    pub fn as_charge(&self) -> Option<&Transaction> {
        match self {
            Event::ChargeSuccess(t) => Some(t),
            _ => None,
        }
    }

    /// The transfer, for `transfer.*`.
    pub fn as_transfer(&self) -> Option<&Transfer> {
        match self {
            Event::TransferSuccess(t) | Event::TransferFailed(t) | Event::TransferReversed(t) => Some(t),
            _ => None,
        }
    }

    /// The refund notice, for `refund.*`.
    pub fn as_refund(&self) -> Option<&RefundNotice> {
        match self {
            Event::RefundPending(r)
            | Event::RefundProcessing(r)
            | Event::RefundProcessed(r)
            | Event::RefundFailed(r)
            | Event::RefundNeedsAttention(r) => Some(r),
            _ => None,
        }
    }
}

const RAW_IDENTITY_FIELDS: [&str; 9] = [
    "id",
    "reference",
    "transfer_code",
    "refund_reference",
    "transaction_reference",
    "invoice_code",
    "subscription_code",
    "request_code",
    "customer_code",
];

fn raw_identity(data: &Value) -> Option<String> {
    RAW_IDENTITY_FIELDS.iter().find_map(|f| match data.get(f)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The first candidate that is not blank: a blank reference identifies nothing, and would make
/// unrelated events duplicates of each other.
fn first(candidates: &[Option<&str>]) -> Option<String> {
    candidates
        .iter()
        .flatten()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

fn id_or(id: Option<u64>, rest: &[Option<&str>]) -> Option<String> {
    id.map(|id| id.to_string()).or_else(|| first(rest))
}

fn email(c: &Option<crate::model::Customer>) -> Option<&str> {
    c.as_ref()?.email.as_deref()
}

impl Data for Transaction {
    fn identity(&self) -> Option<String> {
        id_or(self.id, &[self.reference.as_deref()])
    }
    fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }
    fn amount(&self) -> Option<Money> {
        Transaction::amount(self)
    }
    fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
    fn email(&self) -> Option<&str> {
        email(&self.customer)
    }
}

impl Data for Dispute {
    fn identity(&self) -> Option<String> {
        id_or(self.id, &[Dispute::reference(self)])
    }
    fn reference(&self) -> Option<&str> {
        Dispute::reference(self)
    }
    fn amount(&self) -> Option<Money> {
        Dispute::amount(self)
    }
    fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
    fn email(&self) -> Option<&str> {
        email(&self.customer)
    }
}

impl Data for Transfer {
    fn identity(&self) -> Option<String> {
        id_or(
            self.id,
            &[self.reference.as_deref(), self.transfer_code.as_deref()],
        )
    }
    fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }
    fn amount(&self) -> Option<Money> {
        Transfer::amount(self)
    }
    fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
    fn email(&self) -> Option<&str> {
        match self.recipient.as_ref()? {
            crate::model::Expandable::Object(r) => r.email.as_deref(),
            _ => None,
        }
    }
}

impl Data for RefundNotice {
    fn identity(&self) -> Option<String> {
        first(&[
            self.id.as_deref(),
            self.refund_reference.as_deref(),
            self.transaction_reference.as_deref(),
        ])
    }
    fn reference(&self) -> Option<&str> {
        self.transaction_reference.as_deref()
    }
    fn amount(&self) -> Option<Money> {
        RefundNotice::amount(self)
    }
    fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
    fn email(&self) -> Option<&str> {
        email(&self.customer)
    }
}

impl Data for Subscription {
    fn identity(&self) -> Option<String> {
        id_or(self.id, &[self.subscription_code.as_deref()])
    }
    fn reference(&self) -> Option<&str> {
        None
    }
    fn amount(&self) -> Option<Money> {
        Subscription::amount(self)
    }
    fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
    fn email(&self) -> Option<&str> {
        email(&self.customer)
    }
}

impl Data for Invoice {
    fn identity(&self) -> Option<String> {
        let code = self.invoice_code.as_deref()?;
        Some(match self.status.as_deref() {
            Some(status) => format!("{code}:{status}"),
            None => code.to_string(),
        })
    }
    fn reference(&self) -> Option<&str> {
        self.transaction.as_ref()?.reference.as_deref()
    }
    fn amount(&self) -> Option<Money> {
        Invoice::amount(self)
    }
    fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
    fn email(&self) -> Option<&str> {
        email(&self.customer)
    }
}

impl Data for PaymentRequest {
    fn identity(&self) -> Option<String> {
        id_or(self.id, &[self.request_code.as_deref()])
    }
    fn reference(&self) -> Option<&str> {
        None
    }
    fn amount(&self) -> Option<Money> {
        PaymentRequest::amount(self)
    }
    fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
    fn email(&self) -> Option<&str> {
        match self.customer.as_ref()? {
            crate::model::Expandable::Object(c) => c.email.as_deref(),
            _ => None,
        }
    }
}

impl Data for CustomerIdentification {
    fn identity(&self) -> Option<String> {
        first(&[self.customer_code.as_deref(), self.customer_id.as_deref()])
    }
    fn reference(&self) -> Option<&str> {
        None
    }
    fn amount(&self) -> Option<Money> {
        None
    }
    fn status(&self) -> Option<&str> {
        None
    }
    fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
}

impl Data for Vec<ExpiringCard> {
    // A list of cards has no one identity; the body's digest keys it (`dedup_key_or_digest`).
    fn identity(&self) -> Option<String> {
        None
    }
    fn reference(&self) -> Option<&str> {
        None
    }
    fn amount(&self) -> Option<Money> {
        None
    }
    fn status(&self) -> Option<&str> {
        None
    }
    fn email(&self) -> Option<&str> {
        None
    }
}

impl Data for DedicatedAccountAssignment {
    fn identity(&self) -> Option<String> {
        let account = self.dedicated_account.as_ref().and_then(|a| a.id);
        let customer = self.customer.as_ref();
        id_or(
            account,
            &[
                customer.and_then(|c| c.customer_code.as_deref()),
                customer.and_then(|c| c.email.as_deref()),
            ],
        )
    }
    fn reference(&self) -> Option<&str> {
        None
    }
    fn amount(&self) -> Option<Money> {
        None
    }
    fn status(&self) -> Option<&str> {
        self.identification.as_ref()?.get("status")?.as_str()
    }
    fn email(&self) -> Option<&str> {
        email(&self.customer)
    }
}

impl Event {
    /// What the event claims, in the provider-neutral words the gateway decides on:
    /// `charge.success` paid (recorded when malipo did not start the charge), `transfer.success`
    /// and `transfer.failed` settle a transfer, `refund.processed` and `transfer.reversed` give
    /// money back; every other event is a notice that moves nothing.
    pub fn outcome(&self) -> Outcome {
        let claim = match self {
            Event::ChargeSuccess(_) | Event::TransferSuccess(_) => Claim::Settled(PaymentState::Succeeded),
            Event::TransferFailed(_) => Claim::Settled(PaymentState::Failed),
            Event::RefundProcessed(_) | Event::TransferReversed(_) => Claim::Refunded,
            _ => Claim::Notice(None),
        };
        let mut o = Outcome::new(
            Provider::Paystack,
            self.dedup_key().unwrap_or_else(|| self.name().to_string()),
            claim,
        );
        o.reference = self
            .reference()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        o.amount = self.amount();
        o.payer = self.customer_email().map(|e| Payer::Email(e.to_string()));
        o.result_code = self.status().map(str::to_string);
        o.result_desc = Some(self.name().to_string());
        match self {
            Event::ChargeSuccess(charge) => {
                // The event's name and its transaction's status must agree: a "success" whose
                // transaction failed or was abandoned is no payment.
                if let Some(status) = charge.status.as_deref().filter(|s| *s != "success") {
                    o.flag(format!("a charge.success whose transaction status is {status:?}"));
                }
                o.receipt = charge.id.map(|id| id.to_string());
                o.unsolicited = Some(Unsolicited {
                    kind: "charge",
                    merchant_reference: None,
                    description: None,
                });
            }
            Event::TransferSuccess(t) | Event::TransferFailed(t) | Event::TransferReversed(t) => {
                o.request_id = t
                    .transfer_code
                    .as_deref()
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string);
                // Paystack's id of the transfer is its receipt, as verifying it gives.
                o.receipt = o.request_id.clone();
            }
            _ => {}
        }
        // An amount in a currency malipo does not know cannot be compared: say so, rather than
        // treat it as absent.
        if o.amount.is_none() && matches!(o.claim, Claim::Settled(_) | Claim::Refunded) {
            if let Some(currency) = self
                .currency()
                .filter(|c| c.parse::<malipo_core::Currency>().is_err())
            {
                o.flag(format!("amount in {currency:?}, a currency malipo does not know"));
            }
        }
        o
    }

    /// The `data.currency` field as sent.
    fn currency(&self) -> Option<&str> {
        match self {
            Event::ChargeSuccess(t) => t.currency.as_deref(),
            Event::TransferSuccess(t) | Event::TransferFailed(t) | Event::TransferReversed(t) => {
                t.currency.as_deref()
            }
            Event::RefundPending(r)
            | Event::RefundProcessing(r)
            | Event::RefundProcessed(r)
            | Event::RefundFailed(r)
            | Event::RefundNeedsAttention(r) => r.currency.as_deref(),
            _ => None,
        }
    }
}
