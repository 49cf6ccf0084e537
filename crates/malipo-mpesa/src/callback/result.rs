//! Result callbacks (B2C, B2B, transaction status, account balance, reversal) and queue timeouts.

use malipo_core::{Currency, Money};
use serde::{Deserialize, Serialize};

use super::values::{opt_int_or_numeric_string, phone_chars_only, value_to_money, value_to_text, OneOrMany};
use crate::de::opt_string_or_number;

/// `{"Result":{…}}`.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct ResultEnvelope {
    #[serde(rename = "Result")]
    pub result: ResultCallback,
}

/// The outcome of an initiator operation, POSTed to the ResultURL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultCallback {
    /// Usually 0.
    #[serde(
        rename = "ResultType",
        default,
        deserialize_with = "opt_int_or_numeric_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub result_type: Option<i64>,
    /// `0` success; other codes (`1` insufficient funds, `2001` invalid initiator, reversal
    /// codes such as `R000002`) kept as sent, numbers printed as text.
    #[serde(rename = "ResultCode", deserialize_with = "crate::de::string_or_number")]
    pub result_code: String,
    /// Daraja's description.
    #[serde(rename = "ResultDesc", default)]
    pub result_desc: String,
    /// The originator's id (ours for B2C v3).
    #[serde(
        rename = "OriginatorConversationID",
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub originator_conversation_id: Option<String>,
    /// Daraja's conversation id, as in the request's immediate answer.
    #[serde(
        rename = "ConversationID",
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub conversation_id: Option<String>,
    /// The M-Pesa transaction id.
    #[serde(
        rename = "TransactionID",
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// Missing on most failures.
    #[serde(rename = "ResultParameters", default, skip_serializing_if = "Option::is_none")]
    pub result_parameters: Option<ResultParameters>,
    /// Usually the QueueTimeoutURL echoed back.
    #[serde(rename = "ReferenceData", default, skip_serializing_if = "Option::is_none")]
    pub reference_data: Option<ReferenceData>,
}

/// `{"ResultParameter": [...]}` (a single object is read as a list of one).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResultParameters {
    /// The parameters.
    #[serde(rename = "ResultParameter", default)]
    pub result_parameter: OneOrMany<KeyValue>,
}

/// `{"ReferenceItem": {...}}` or `{"ReferenceItem": [...]}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReferenceData {
    /// The items.
    #[serde(rename = "ReferenceItem", default)]
    pub reference_item: OneOrMany<KeyValue>,
}

/// A `{Key, Value}` pair; `Value` may be any JSON value or missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key.
    #[serde(rename = "Key")]
    pub key: String,
    /// The value as sent.
    #[serde(rename = "Value", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// Which operation a result answers, judged from its parameters (Daraja does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    /// B2C payment.
    B2c,
    /// B2B payment.
    B2b,
    /// Transaction status query.
    TransactionStatus,
    /// Account balance query.
    AccountBalance,
    /// Reversal.
    Reversal,
    /// Not recognisable (typically a failure without parameters).
    Unknown,
}

impl ResultCallback {
    /// True when the operation succeeded (ResultCode 0).
    pub fn is_success(&self) -> bool {
        self.result_code_number() == Some(0)
    }

    /// The result code as a number, when it is one.
    pub fn result_code_number(&self) -> Option<i64> {
        self.result_code.trim().parse().ok()
    }

    /// The parameter named `key`.
    pub fn parameter(&self, key: &str) -> Option<&serde_json::Value> {
        self.result_parameters
            .as_ref()?
            .result_parameter
            .as_slice()
            .iter()
            .find(|p| p.key == key)?
            .value
            .as_ref()
    }

    /// The parameter named `key` as text (strings as they are, numbers printed).
    pub fn parameter_text(&self, key: &str) -> Option<String> {
        value_to_text(self.parameter(key)?)
    }

    /// The amount moved (`TransactionAmount` or `Amount`), in KES.
    pub fn amount(&self) -> Option<Money> {
        let value = self
            .parameter("TransactionAmount")
            .or_else(|| self.parameter("Amount"))?;
        value_to_money(value, Currency::Kes)
    }

    /// The receipt (`TransactionReceipt`, `ReceiptNo`), else the TransactionID.
    pub fn receipt(&self) -> Option<String> {
        self.parameter_text("TransactionReceipt")
            .or_else(|| self.parameter_text("ReceiptNo"))
            .or_else(|| self.transaction_id.clone().filter(|t| !t.is_empty()))
    }

    /// The receiving phone of a B2C payment, from `ReceiverPartyPublicName`
    /// (`254708374149 - John Doe`), as sent: in clear or masked.
    pub fn receiver_phone_text(&self) -> Option<String> {
        let name = self.parameter_text("ReceiverPartyPublicName")?;
        let phone = name.split(" - ").next()?.trim();
        (!phone.is_empty() && phone_chars_only(phone)).then(|| phone.to_string())
    }

    /// The id to deduplicate on: ConversationID, else OriginatorConversationID.
    pub fn conversation_key(&self) -> Option<&str> {
        first_non_empty(&self.conversation_id, &self.originator_conversation_id)
    }

    /// Which operation this result answers.
    pub fn kind(&self) -> ResultKind {
        let has = |k: &str| self.parameter(k).is_some();
        if has("AccountBalance") {
            ResultKind::AccountBalance
        } else if has("OriginalTransactionID") {
            ResultKind::Reversal
        } else if has("ReceiptNo") || has("TransactionStatus") {
            ResultKind::TransactionStatus
        } else if has("B2CRecipientIsRegisteredCustomer") || has("TransactionReceipt") {
            ResultKind::B2c
        } else if has("InitiatorAccountCurrentBalance") || has("DebitPartyAffectedAccountBalance") {
            ResultKind::B2b
        } else {
            self.kind_from_reference_data()
        }
    }

    /// Failures carry no parameters, but the echoed QueueTimeoutURL names Daraja's queue.
    fn kind_from_reference_data(&self) -> ResultKind {
        let urls: Vec<String> = self
            .reference_data
            .iter()
            .flat_map(|r| r.reference_item.as_slice())
            .filter_map(|i| i.value.as_ref().and_then(value_to_text))
            .map(|v| v.to_ascii_lowercase())
            .collect();
        let any = |needle: &str| urls.iter().any(|u| u.contains(needle));
        if any("b2cresults") || any("/b2c") {
            ResultKind::B2c
        } else if any("b2bresults") || any("/b2b") {
            ResultKind::B2b
        } else if any("reversal") {
            ResultKind::Reversal
        } else if any("accountbalance") {
            ResultKind::AccountBalance
        } else if any("transactionstatus") {
            ResultKind::TransactionStatus
        } else {
            ResultKind::Unknown
        }
    }
}

/// A queue timeout notification: Daraja could not process the request in time. It is not a
/// final failure; query the transaction status before acting on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueTimeout {
    /// The originator's id.
    #[serde(
        rename = "OriginatorConversationID",
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub originator_conversation_id: Option<String>,
    /// Daraja's conversation id.
    #[serde(
        rename = "ConversationID",
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub conversation_id: Option<String>,
    /// A result code, when one is sent.
    #[serde(
        rename = "ResultCode",
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub result_code: Option<String>,
    /// A description, when one is sent.
    #[serde(rename = "ResultDesc", default, skip_serializing_if = "Option::is_none")]
    pub result_desc: Option<String>,
}

impl QueueTimeout {
    /// The id to deduplicate on: ConversationID, else OriginatorConversationID.
    pub fn conversation_key(&self) -> Option<&str> {
        first_non_empty(&self.conversation_id, &self.originator_conversation_id)
    }
}

/// The timeout body is documented loosely: accept it wrapped in `Result` or flat.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum TimeoutEnvelope {
    Wrapped {
        #[serde(rename = "Result")]
        result: QueueTimeout,
    },
    Flat(QueueTimeout),
}

fn first_non_empty<'a>(a: &'a Option<String>, b: &'a Option<String>) -> Option<&'a str> {
    a.as_deref()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| b.as_deref().filter(|s| !s.trim().is_empty()))
}
