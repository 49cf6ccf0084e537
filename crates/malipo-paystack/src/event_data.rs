//! The `data` of webhook events that have no API resource of their own in [`crate::model`].
//! Shapes follow Paystack's published examples (<https://paystack.com/docs/payments/webhooks/>).

use malipo_core::Money;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::de;
use crate::dedicated_accounts::DedicatedAccount;
use crate::model::{money, Authorization, Customer, Expandable, Transaction};

/// A chargeback or fraud claim (`charge.dispute.*`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Dispute {
    /// Numeric dispute id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// Amount the customer claims back, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub refund_amount: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// `awaiting-merchant-feedback`, `awaiting-bank-feedback`, `pending`, `resolved`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// `merchant-accepted`, `declined`, `auto-accepted`, … once resolved.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub resolution: Option<String>,
    /// `chargeback` or `fraud`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub category: Option<String>,
    /// The disputed transaction.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub transaction: Option<Transaction>,
    /// The disputed transaction's reference when it is not expanded.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub transaction_reference: Option<String>,
    /// The customer who disputed.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub customer: Option<Customer>,
    /// Deadline for the merchant's answer.
    #[serde(default, deserialize_with = "de::opt_string", rename = "dueAt")]
    pub due_at: Option<String>,
    /// When it was resolved.
    #[serde(default, deserialize_with = "de::opt_string", rename = "resolvedAt")]
    pub resolved_at: Option<String>,
}

impl Dispute {
    /// The disputed amount as [`Money`].
    pub fn amount(&self) -> Option<Money> {
        money(self.refund_amount, self.currency.as_deref())
    }

    /// The disputed transaction's reference.
    pub fn reference(&self) -> Option<&str> {
        self.transaction
            .as_ref()
            .and_then(|t| t.reference.as_deref())
            .or(self.transaction_reference.as_deref())
    }
}

/// A refund's progress (`refund.pending/processing/processed/failed`). Unlike the refund API,
/// these events usually carry no `id` and send `amount` as a string.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct RefundNotice {
    /// Refund id, present only in some events.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub id: Option<String>,
    /// `pending`, `processing`, `processed`, `failed`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// The refunded transaction's reference.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub transaction_reference: Option<String>,
    /// The processor's refund reference; `null` until the processor has one.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub refund_reference: Option<String>,
    /// Amount refunded, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// Who processes the refund.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub processor: Option<String>,
    /// The refunded customer.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub customer: Option<Customer>,
}

impl RefundNotice {
    /// The refunded amount as [`Money`].
    pub fn amount(&self) -> Option<Money> {
        money(self.amount, self.currency.as_deref())
    }
}

/// A subscription plan.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `PLN_…` code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub plan_code: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Amount per interval, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// `daily`, `weekly`, `monthly`, `annually`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub interval: Option<String>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// Description shown on invoices.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    /// How many times a subscriber is charged; 0 or absent is until cancelled.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub invoice_limit: Option<u64>,
    /// Whether Paystack emails invoices.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub send_invoices: Option<bool>,
    /// Whether Paystack texts the subscriber.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub send_sms: Option<bool>,
}

impl Plan {
    /// The amount per interval as [`Money`].
    pub fn amount(&self) -> Option<Money> {
        money(self.amount, self.currency.as_deref())
    }
}

/// A subscription (`subscription.*`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Subscription {
    /// Numeric id (absent from some events).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `SUB_…` code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub subscription_code: Option<String>,
    /// `active`, `non-renewing`, `attention`, `completed`, `cancelled`, `complete`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// Amount per interval, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// Next charge date.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub next_payment_date: Option<String>,
    /// The plan subscribed to.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub plan: Option<Plan>,
    /// The card or account charged.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub authorization: Option<Authorization>,
    /// The subscriber.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub customer: Option<Customer>,
    /// The token that, with the code, enables or disables the subscription.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub email_token: Option<String>,
    /// How many times the subscriber is charged; 0 or absent is until cancelled.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub invoice_limit: Option<u64>,
    /// When it was created.
    #[serde(default, rename = "createdAt", deserialize_with = "de::opt_string")]
    pub created_at: Option<String>,
}

impl Subscription {
    /// The amount per interval as [`Money`] (the currency comes from the plan).
    pub fn amount(&self) -> Option<Money> {
        let currency = self.plan.as_ref().and_then(|p| p.currency.as_deref());
        money(self.amount, currency)
    }
}

/// A subscription invoice (`invoice.*`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Invoice {
    /// `INV_…` code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub invoice_code: Option<String>,
    /// Amount, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// `pending`, `success`, `failed`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// Whether it has been paid.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub paid: Option<bool>,
    /// When it was paid.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub paid_at: Option<String>,
    /// Start of the billed period.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub period_start: Option<String>,
    /// End of the billed period.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub period_end: Option<String>,
    /// The subscription billed.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub subscription: Option<Subscription>,
    /// The subscriber.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub customer: Option<Customer>,
    /// The charge that paid it (`{}` while unpaid).
    #[serde(default, deserialize_with = "de::opt_object")]
    pub transaction: Option<Transaction>,
}

impl Invoice {
    /// The amount as [`Money`] (the currency comes from the charge or the plan).
    pub fn amount(&self) -> Option<Money> {
        let currency = self
            .transaction
            .as_ref()
            .and_then(|t| t.currency.as_deref())
            .or_else(|| {
                self.subscription
                    .as_ref()
                    .and_then(|s| s.plan.as_ref())
                    .and_then(|p| p.currency.as_deref())
            });
        money(self.amount, currency)
    }
}

/// A payment request (an invoice sent to a customer, `paymentrequest.*`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct PaymentRequest {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `PRQ_…` code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub request_code: Option<String>,
    /// Amount, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// `pending`, `success`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// Whether it has been paid.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub paid: Option<bool>,
    /// When it was paid.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub paid_at: Option<String>,
    /// Reference for offline (bank) payment.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub offline_reference: Option<String>,
    /// Description shown to the customer.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    /// When it is due.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub due_date: Option<String>,
    /// The customer: an id in the webhook, an object in some API answers.
    #[serde(default)]
    pub customer: Option<Expandable<Customer>>,
}

impl PaymentRequest {
    /// The amount as [`Money`].
    pub fn amount(&self) -> Option<Money> {
        money(self.amount, self.currency.as_deref())
    }
}

/// The outcome of validating a customer's identity (`customeridentification.*`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct CustomerIdentification {
    /// Customer id (a number in one event, a string in the other).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_id: Option<String>,
    /// `CUS_…` code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_code: Option<String>,
    /// Customer email.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    /// What was checked (country, type, masked numbers), as sent.
    #[serde(default)]
    pub identification: Option<Value>,
    /// Why validation failed.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub reason: Option<String>,
}

/// One card about to expire under a subscription (`subscription.expiring_cards`, whose `data` is
/// a list of these).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ExpiringCard {
    /// `MM/YYYY`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub expiry_date: Option<String>,
    /// What Paystack says about it.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    /// Card brand.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub brand: Option<String>,
    /// The subscription charged to the card.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub subscription: Option<Subscription>,
    /// The card holder.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub customer: Option<Customer>,
}

/// The outcome of assigning a dedicated virtual account (`dedicatedaccount.assign.*`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct DedicatedAccountAssignment {
    /// The customer the account was for.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub customer: Option<Customer>,
    /// The account, when assigned (`null` on failure).
    #[serde(default, deserialize_with = "de::opt_object")]
    pub dedicated_account: Option<DedicatedAccount>,
    /// The identity check behind it, as sent (`{"status": "success"}`).
    #[serde(default)]
    pub identification: Option<Value>,
}
