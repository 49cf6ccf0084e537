//! Paystack's resources as they appear both in API answers and in webhook `data`.
//!
//! Every field is optional and unknown fields are ignored: Paystack adds fields often and omits
//! others per channel, and a payment notification must not be refused because a field we do not
//! need changed shape. Amounts stay in minor units as Paystack sends them; the `amount()` methods
//! pair them with the currency as [`Money`].

use malipo_core::{Currency, Money};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::de;

/// Pairs a minor-unit amount with a currency code; `None` when either is missing or the currency
/// is not one malipo knows.
pub(crate) fn money(amount: Option<u64>, currency: Option<&str>) -> Option<Money> {
    let currency: Currency = currency?.parse().ok()?;
    Some(Money::from_minor(amount?, currency))
}

/// A Paystack customer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Customer {
    /// Paystack's numeric customer id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `CUS_…` code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_code: Option<String>,
    /// Email address the customer paid with.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    /// First name, when given.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub first_name: Option<String>,
    /// Last name, when given.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub last_name: Option<String>,
    /// Phone number, when given.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub phone: Option<String>,
    /// `default`, `allow` (whitelisted) or `deny` (blacklisted).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub risk_action: Option<String>,
    /// Whether the customer's identity was validated.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub identified: Option<bool>,
    /// Whatever metadata the merchant attached.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// When the customer was created.
    #[serde(default, rename = "createdAt", deserialize_with = "de::opt_string")]
    pub created_at: Option<String>,
}

/// A reusable payment authorization (a saved card or account), used by `charge_authorization`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Authorization {
    /// `AUTH_…` code to charge again.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub authorization_code: Option<String>,
    /// Payment channel (`card`, `bank`, `mobile_money`, …).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub channel: Option<String>,
    /// Card type, such as `visa DEBIT`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub card_type: Option<String>,
    /// First six digits of the card.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub bin: Option<String>,
    /// Last four digits of the card.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub last4: Option<String>,
    /// Expiry month, `MM`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub exp_month: Option<String>,
    /// Expiry year, `YYYY`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub exp_year: Option<String>,
    /// Issuing bank.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub bank: Option<String>,
    /// Card brand.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub brand: Option<String>,
    /// Whether it can be charged again.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub reusable: Option<bool>,
    /// `SIG_…`: the same card across authorizations has the same signature.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub signature: Option<String>,
}

/// A transaction (a charge): what `verify`, `fetch`, `list` and `charge.success` carry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Transaction {
    /// Paystack's numeric transaction id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `test` or `live`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub domain: Option<String>,
    /// `success`, `failed`, `abandoned`, `ongoing`, `pending`, `reversed`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// The merchant's unique reference.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub reference: Option<String>,
    /// Amount in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// The processor's answer, such as `Approved`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub gateway_response: Option<String>,
    /// Payment channel.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub channel: Option<String>,
    /// When it was paid (RFC 3339), if it was.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub paid_at: Option<String>,
    /// When it was created (RFC 3339).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub created_at: Option<String>,
    /// Paystack's fees in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub fees: Option<u64>,
    /// The amount asked for before fees were passed on, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub requested_amount: Option<u64>,
    /// Whatever metadata the merchant attached (Paystack sends `""` or `0` when there is none).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// The paying customer.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub customer: Option<Customer>,
    /// The authorization used; reusable ones can be charged again.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub authorization: Option<Authorization>,
}

impl Transaction {
    /// The amount as [`Money`], when the currency is one malipo knows.
    pub fn amount(&self) -> Option<Money> {
        money(self.amount, self.currency.as_deref())
    }

    /// Whether Paystack reports the charge as paid (`status == "success"`).
    pub fn is_successful(&self) -> bool {
        self.status.as_deref() == Some("success")
    }
}

/// The bank or mobile-money details of a transfer recipient.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct RecipientDetails {
    /// Account or phone number.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub account_number: Option<String>,
    /// Account holder's name as the bank knows it.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub account_name: Option<String>,
    /// Bank code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub bank_code: Option<String>,
    /// Bank name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub bank_name: Option<String>,
}

/// Someone transfers can be sent to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TransferRecipient {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `RCP_…` code used to send transfers.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub recipient_code: Option<String>,
    /// `nuban`, `mobile_money`, `basa`, `authorization`, …
    #[serde(default, rename = "type", deserialize_with = "de::opt_string")]
    pub recipient_type: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Email, when given.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    /// Currency the recipient is paid in.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// Whether transfers can be sent.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub active: Option<bool>,
    /// Account details.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub details: Option<RecipientDetails>,
}

/// A reference to another resource that Paystack sends either expanded or as its id or code
/// (a transfer's `recipient` is an object in webhooks, a number in API answers, a code in bulk
/// transfers).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    /// Only the numeric id.
    Id(u64),
    /// Only the code (`RCP_…`, `CUS_…`).
    Code(String),
    /// The whole object.
    Object(T),
}

/// A transfer (a payout from the balance).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Transfer {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `TRF_…` code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub transfer_code: Option<String>,
    /// The merchant's unique reference.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub reference: Option<String>,
    /// Amount in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// `pending`, `otp`, `success`, `failed`, `reversed`, `received`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// The reason shown to the recipient.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub reason: Option<String>,
    /// Where the money comes from (`balance`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub source: Option<String>,
    /// The recipient, expanded or not.
    #[serde(default)]
    pub recipient: Option<Expandable<TransferRecipient>>,
    /// When the money left, if it did.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub transferred_at: Option<String>,
}

impl Transfer {
    /// The amount as [`Money`], when the currency is one malipo knows.
    pub fn amount(&self) -> Option<Money> {
        money(self.amount, self.currency.as_deref())
    }
}

/// A refund of a transaction, as the refund API returns it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Refund {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// The refunded transaction: its id in `fetch`/`list`, the object in `create`.
    #[serde(default)]
    pub transaction: Option<Expandable<Transaction>>,
    /// Amount refunded, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// `pending`, `processing`, `processed`, `failed`, `needs-attention`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// Amount already deducted from the balance, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub deducted_amount: Option<u64>,
    /// Note shown to the customer.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_note: Option<String>,
    /// Note kept for the merchant.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub merchant_note: Option<String>,
}

impl Refund {
    /// The amount as [`Money`], when the currency is one malipo knows.
    pub fn amount(&self) -> Option<Money> {
        money(self.amount, self.currency.as_deref())
    }

    /// The refunded transaction's reference, when Paystack expanded it.
    pub fn transaction_reference(&self) -> Option<&str> {
        match &self.transaction {
            Some(Expandable::Object(t)) => t.reference.as_deref(),
            Some(Expandable::Code(code)) => Some(code),
            _ => None,
        }
    }
}
