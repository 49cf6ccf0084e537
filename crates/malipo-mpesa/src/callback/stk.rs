//! The STK push result callback.

use malipo_core::{Currency, Money, Msisdn};
use serde::{Deserialize, Serialize};

use super::values::{value_to_money, value_to_text, OneOrMany};

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
    /// 0 paid; any other code (1, 1032, 1037, 2001, unknown ones) is kept as sent. Daraja sends
    /// a JSON integer here; anything else (`"0"`, `false`, `null`, missing) is kept as
    /// [`ResultCode::Irregular`] so it can be refused rather than read as a result.
    #[serde(rename = "ResultCode", default)]
    pub result_code: ResultCode,
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

/// An STK callback's `ResultCode`: the integer Daraja sends, or whatever else arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultCode {
    /// A JSON integer, as Daraja sends it (0 paid, 1032 cancelled, …).
    Integer(i64),
    /// Anything else (a string such as `"0"`, a boolean, `null`, a fraction, nothing at all):
    /// not a result, whatever it looks like.
    Irregular(serde_json::Value),
}

impl Default for ResultCode {
    /// A missing `ResultCode` is irregular.
    fn default() -> Self {
        ResultCode::Irregular(serde_json::Value::Null)
    }
}

impl ResultCode {
    /// The code, when it is a JSON integer.
    pub fn integer(&self) -> Option<i64> {
        match self {
            ResultCode::Integer(code) => Some(*code),
            ResultCode::Irregular(_) => None,
        }
    }
}

impl PartialEq<i64> for ResultCode {
    fn eq(&self, other: &i64) -> bool {
        self.integer() == Some(*other)
    }
}

impl std::fmt::Display for ResultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResultCode::Integer(code) => write!(f, "{code}"),
            ResultCode::Irregular(value) => write!(f, "{value}"),
        }
    }
}

impl<'de> Deserialize<'de> for ResultCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        // `as_i64` answers only for an integer that fits: `0.0`, `"0"` and 2^63 are irregular.
        Ok(match value.as_i64() {
            Some(code) => ResultCode::Integer(code),
            None => ResultCode::Irregular(value),
        })
    }
}

impl Serialize for ResultCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ResultCode::Integer(code) => s.serialize_i64(*code),
            ResultCode::Irregular(value) => value.serialize(s),
        }
    }
}

impl StkCallback {
    /// True when the customer paid (ResultCode the integer 0).
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

    /// `PhoneNumber` as sent: in clear, or masked (`2547***1111`).
    pub fn phone_text(&self) -> Option<String> {
        value_to_text(self.metadata("PhoneNumber")?)
    }

    /// The name of a metadata item given twice with different values, if any: which of them
    /// counts would be a guess (the first, for [`StkCallback::metadata`]).
    pub fn conflicting_item(&self) -> Option<&str> {
        let items = self.callback_metadata.as_ref()?.item.as_slice();
        items.iter().enumerate().find_map(|(i, a)| {
            items[i + 1..]
                .iter()
                .any(|b| b.name == a.name && b.value != a.value)
                .then_some(a.name.as_str())
        })
    }

    /// `TransactionDate` as `YYYYMMDDHHmmss` Nairobi time.
    pub fn transaction_date(&self) -> Option<String> {
        value_to_text(self.metadata("TransactionDate")?)
    }
}
