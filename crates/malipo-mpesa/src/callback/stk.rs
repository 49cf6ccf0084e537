//! The STK push result callback.

use malipo_core::{Currency, Money, Msisdn};
use serde::{Deserialize, Serialize};

use super::values::{int_or_numeric_string, value_to_money, value_to_text, OneOrMany};

/// `{"Body":{"stkCallback":{…}}}`.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct StkEnvelope {
    #[serde(rename = "Body")]
    pub body: StkBody,
}

#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct StkBody {
    #[serde(rename = "stkCallback")]
    pub stk_callback: StkCallback,
}

/// The result of an STK push, as Daraja POSTs it to the CallBackURL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StkCallback {
    /// Daraja's request id.
    #[serde(rename = "MerchantRequestID", default)]
    pub merchant_request_id: String,
    /// The push's id, as returned by the STK push call.
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    /// 0 paid; any other code (1, 1032, 1037, 2001, unknown ones) is kept as sent.
    #[serde(rename = "ResultCode", deserialize_with = "int_or_numeric_string")]
    pub result_code: i64,
    /// Daraja's description of the result.
    #[serde(rename = "ResultDesc", default)]
    pub result_desc: String,
    /// Present when the customer paid.
    #[serde(rename = "CallbackMetadata", default, skip_serializing_if = "Option::is_none")]
    pub callback_metadata: Option<CallbackMetadata>,
}

/// The details of a paid push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackMetadata {
    /// `{Name, Value}` pairs; a single object is read as a list of one.
    #[serde(rename = "Item", default)]
    pub item: OneOrMany<MetadataItem>,
}

/// One `{Name, Value}` pair; `Value` may be a number, a string, or missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataItem {
    /// The name, such as `Amount` or `MpesaReceiptNumber`.
    #[serde(rename = "Name")]
    pub name: String,
    /// The value as sent.
    #[serde(rename = "Value", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

impl StkCallback {
    /// True when the customer paid (ResultCode 0).
    pub fn is_paid(&self) -> bool {
        self.result_code == 0
    }

    /// The raw metadata value named `name`.
    pub fn metadata(&self, name: &str) -> Option<&serde_json::Value> {
        self.callback_metadata
            .as_ref()?
            .item
            .as_slice()
            .iter()
            .find(|i| i.name == name)?
            .value
            .as_ref()
    }

    /// The amount paid, read from `Amount` (`1`, `1.00` or `"1.00"`), in KES.
    pub fn amount(&self) -> Option<Money> {
        value_to_money(self.metadata("Amount")?, Currency::Kes)
    }

    /// The M-Pesa receipt number (`MpesaReceiptNumber`).
    pub fn receipt(&self) -> Option<String> {
        value_to_text(self.metadata("MpesaReceiptNumber")?)
    }

    /// The paying phone (`PhoneNumber`), when it is a valid Kenyan number.
    pub fn phone(&self) -> Option<Msisdn> {
        value_to_text(self.metadata("PhoneNumber")?)?.parse().ok()
    }

    /// `TransactionDate` as `YYYYMMDDHHmmss` Nairobi time.
    pub fn transaction_date(&self) -> Option<String> {
        value_to_text(self.metadata("TransactionDate")?)
    }
}
