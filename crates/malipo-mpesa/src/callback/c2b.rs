//! C2B validation requests and confirmations, and the validation answer.

use malipo_core::{Currency, Money, Msisdn};
use serde::{Deserialize, Serialize};

use crate::de::string_or_number;

/// A customer payment to the shortcode, as sent to the validation and confirmation URLs.
///
/// v2 confirmations mask `MSISDN` (`2547 ***** 126`), so [`C2bPayment::phone`] is `None` there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct C2bPayment {
    /// `Pay Bill` or `Buy Goods`.
    #[serde(default)]
    pub transaction_type: String,
    /// The M-Pesa transaction id: the dedup key.
    #[serde(rename = "TransID", deserialize_with = "string_or_number")]
    pub trans_id: String,
    /// `YYYYMMDDHHmmss`.
    #[serde(default, deserialize_with = "crate::de::string_or_number_default")]
    pub trans_time: String,
    /// The amount, as Daraja sends it (`"10"` or `"10.00"`).
    #[serde(deserialize_with = "string_or_number")]
    pub trans_amount: String,
    /// The shortcode paid.
    #[serde(default, deserialize_with = "crate::de::string_or_number_default")]
    pub business_short_code: String,
    /// The account number typed by the customer.
    #[serde(default, deserialize_with = "crate::de::string_or_number_default")]
    pub bill_ref_number: String,
    /// Invoice number, usually empty.
    #[serde(default, deserialize_with = "crate::de::string_or_number_default")]
    pub invoice_number: String,
    /// The shortcode's balance after the payment (confirmation only).
    #[serde(default, deserialize_with = "crate::de::string_or_number_default")]
    pub org_account_balance: String,
    /// The id of a validation answer, when one was given.
    #[serde(
        rename = "ThirdPartyTransID",
        default,
        deserialize_with = "crate::de::string_or_number_default"
    )]
    pub third_party_trans_id: String,
    /// The payer's number (masked or hashed on v2).
    #[serde(
        rename = "MSISDN",
        default,
        deserialize_with = "crate::de::string_or_number_default"
    )]
    pub msisdn: String,
    /// The payer's first name.
    #[serde(default)]
    pub first_name: String,
    /// The payer's middle name.
    #[serde(default)]
    pub middle_name: String,
    /// The payer's last name.
    #[serde(default)]
    pub last_name: String,
}

impl C2bPayment {
    /// The amount in KES, when it is a valid amount.
    pub fn amount(&self) -> Option<Money> {
        Money::parse(self.trans_amount.trim(), Currency::Kes).ok()
    }

    /// The payer's number, when it is sent in clear.
    pub fn phone(&self) -> Option<Msisdn> {
        self.msisdn.parse().ok()
    }
}

/// Why a C2B payment is refused at validation (Daraja's rejection codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum C2bRejection {
    /// C2B00011.
    InvalidMsisdn,
    /// C2B00012.
    InvalidAccountNumber,
    /// C2B00013.
    InvalidAmount,
    /// C2B00014.
    InvalidKyc,
    /// C2B00015.
    InvalidShortcode,
    /// C2B00016.
    OtherError,
}

impl C2bRejection {
    /// Daraja's code.
    pub fn code(self) -> &'static str {
        match self {
            C2bRejection::InvalidMsisdn => "C2B00011",
            C2bRejection::InvalidAccountNumber => "C2B00012",
            C2bRejection::InvalidAmount => "C2B00013",
            C2bRejection::InvalidKyc => "C2B00014",
            C2bRejection::InvalidShortcode => "C2B00015",
            C2bRejection::OtherError => "C2B00016",
        }
    }
}

/// The answer to a C2B validation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum C2bValidationResponse {
    /// `{"ResultCode":"0","ResultDesc":"Accepted"}`.
    Accept,
    /// `{"ResultCode":"C2B000xx","ResultDesc":"Rejected"}`.
    Reject(C2bRejection),
}

impl C2bValidationResponse {
    /// The JSON body Daraja expects.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            C2bValidationResponse::Accept => serde_json::json!({"ResultCode": "0", "ResultDesc": "Accepted"}),
            C2bValidationResponse::Reject(r) => {
                serde_json::json!({"ResultCode": r.code(), "ResultDesc": "Rejected"})
            }
        }
    }
}

/// The acknowledgement Daraja expects for STK, confirmation, result and timeout callbacks.
pub const CALLBACK_ACK: &str = r#"{"ResultCode":0,"ResultDesc":"Accepted"}"#;

/// [`CALLBACK_ACK`] as a JSON value.
pub fn callback_ack() -> serde_json::Value {
    serde_json::json!({"ResultCode": 0, "ResultDesc": "Accepted"})
}
