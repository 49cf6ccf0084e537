//! Lipa na M-Pesa Online: STK push and STK query.

use chrono::Utc;
use malipo_core::{Money, Msisdn};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::{check_accepted, Endpoint, Retry};
use crate::de::{opt_string_or_number, string_or_number};
use crate::error::STILL_PROCESSING;
use crate::{nairobi_timestamp, stk_password, validate, MpesaClient, MpesaError};

const STK_PUSH: Endpoint = Endpoint {
    name: "STK push",
    path: "/mpesa/stkpush/v1/processrequest",
};
const STK_QUERY: Endpoint = Endpoint {
    name: "STK query",
    path: "/mpesa/stkpushquery/v1/query",
};

/// Longest `AccountReference` Daraja accepts.
pub const ACCOUNT_REFERENCE_MAX: usize = 12;
/// Longest `TransactionDesc` Daraja accepts.
pub const TRANSACTION_DESC_MAX: usize = 13;

/// Which kind of account the customer pays into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StkTransaction {
    /// `CustomerPayBillOnline`: PartyB is the paybill shortcode.
    PayBill,
    /// `CustomerBuyGoodsOnline`: PartyB is the till number; the shortcode is the store number.
    BuyGoods {
        /// The till number.
        till: String,
    },
}

impl StkTransaction {
    /// Daraja's `TransactionType`.
    pub fn transaction_type(&self) -> &'static str {
        match self {
            StkTransaction::PayBill => "CustomerPayBillOnline",
            StkTransaction::BuyGoods { .. } => "CustomerBuyGoodsOnline",
        }
    }
}

/// An STK push: ask the customer's phone to approve a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkPushRequest {
    /// Paybill or buy goods.
    pub transaction: StkTransaction,
    /// Whole Kenyan shillings only.
    pub amount: Money,
    /// The paying phone (PartyA and PhoneNumber).
    pub phone: Msisdn,
    /// Where Daraja POSTs the result.
    pub callback_url: Url,
    /// Shown to the customer; at most 12 characters.
    pub account_reference: String,
    /// At most 13 characters.
    pub description: String,
}

impl StkPushRequest {
    /// A paybill push.
    pub fn paybill(
        amount: Money,
        phone: Msisdn,
        callback_url: Url,
        account_reference: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        StkPushRequest {
            transaction: StkTransaction::PayBill,
            amount,
            phone,
            callback_url,
            account_reference: account_reference.into(),
            description: description.into(),
        }
    }

    /// The same push paid to a till (buy goods).
    pub fn to_till(mut self, till: impl Into<String>) -> Self {
        self.transaction = StkTransaction::BuyGoods { till: till.into() };
        self
    }

    /// Checks every field against Daraja's limits; returns the amount in shillings.
    pub fn validate(&self) -> Result<u64, MpesaError> {
        let shillings = validate::whole_shillings("Amount", self.amount)?;
        validate::text(
            "AccountReference",
            &self.account_reference,
            1,
            ACCOUNT_REFERENCE_MAX,
        )?;
        validate::text("TransactionDesc", &self.description, 1, TRANSACTION_DESC_MAX)?;
        validate::callback_url("CallBackURL", &self.callback_url)?;
        if let StkTransaction::BuyGoods { till } = &self.transaction {
            validate::digits("PartyB", till)?;
        }
        Ok(shillings)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StkPushBody<'a> {
    business_short_code: &'a str,
    password: &'a str,
    timestamp: &'a str,
    transaction_type: &'a str,
    amount: u64,
    party_a: &'a str,
    party_b: &'a str,
    phone_number: &'a str,
    #[serde(rename = "CallBackURL")]
    callback_url: &'a str,
    account_reference: &'a str,
    transaction_desc: &'a str,
}

/// Daraja's answer to an accepted STK push (the result comes later, by callback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StkPushResponse {
    /// Daraja's id of the request.
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: String,
    /// The id the callback and STK query use; the dedup key of the callback.
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    /// `"0"` when accepted.
    #[serde(rename = "ResponseCode", deserialize_with = "string_or_number")]
    pub response_code: String,
    /// Daraja's description.
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
    /// The text meant for the customer.
    #[serde(rename = "CustomerMessage", default)]
    pub customer_message: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StkQueryBody<'a> {
    business_short_code: &'a str,
    password: &'a str,
    timestamp: &'a str,
    #[serde(rename = "CheckoutRequestID")]
    checkout_request_id: &'a str,
}

/// What the STK query says about a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StkQueryOutcome {
    /// The customer has not finished yet (Daraja's HTTP 500 `500.001.1001` "being processed").
    Pending {
        /// Daraja's `requestId`.
        request_id: Option<String>,
        /// Daraja's message.
        message: String,
    },
    /// The push has a result.
    Completed(StkQueryResult),
}

/// A finished push as the STK query reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StkQueryResult {
    /// Daraja's request id.
    #[serde(rename = "MerchantRequestID", default)]
    pub merchant_request_id: String,
    /// The checkout request asked about.
    #[serde(rename = "CheckoutRequestID", default)]
    pub checkout_request_id: String,
    /// `"0"` when the query itself was accepted.
    #[serde(rename = "ResponseCode", deserialize_with = "string_or_number")]
    pub response_code: String,
    /// Daraja's description of the query.
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
    /// The payment's result code, a string here (`"0"`, `"1032"`, or codes like `SFC_IC0003`).
    #[serde(rename = "ResultCode", default, deserialize_with = "opt_string_or_number")]
    pub result_code: Option<String>,
    /// The payment's result description.
    #[serde(rename = "ResultDesc", default)]
    pub result_desc: Option<String>,
}

impl StkQueryResult {
    /// The result code as a number when it is one.
    pub fn result_code_number(&self) -> Option<i64> {
        self.result_code.as_deref().and_then(|c| c.trim().parse().ok())
    }

    /// True when the customer paid (ResultCode 0).
    pub fn is_paid(&self) -> bool {
        self.result_code_number() == Some(0)
    }
}

/// The meaning of an STK result code seen in practice, or `None` for codes we do not know.
pub fn stk_result_meaning(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => "paid",
        1 => "insufficient balance",
        1001 => "subscriber busy (another transaction in progress)",
        1019 => "transaction expired",
        1025 | 9999 => "the push could not be sent to the phone",
        1032 => "cancelled by the customer",
        1037 => "phone unreachable (timed out)",
        2001 => "wrong PIN or invalid initiator information",
        _ => return None,
    })
}

impl MpesaClient {
    /// Sends an STK push. Fields are checked before sending; the password uses the current
    /// Nairobi time. Sent once (a retry could charge twice); on a timeout, query instead.
    pub async fn stk_push(&self, request: &StkPushRequest) -> Result<StkPushResponse, MpesaError> {
        let amount = request.validate()?;
        let settings = self.settings();
        validate::digits("BusinessShortCode", &settings.shortcode)?;
        let timestamp = nairobi_timestamp(Utc::now());
        let password = stk_password(&settings.shortcode, &settings.passkey, &timestamp);
        let party_b = match &request.transaction {
            StkTransaction::PayBill => settings.shortcode.as_str(),
            StkTransaction::BuyGoods { till } => till.as_str(),
        };
        let body = StkPushBody {
            business_short_code: &settings.shortcode,
            password: password.expose(),
            timestamp: &timestamp,
            transaction_type: request.transaction.transaction_type(),
            amount,
            party_a: request.phone.as_str(),
            party_b,
            phone_number: request.phone.as_str(),
            callback_url: request.callback_url.as_str(),
            account_reference: &request.account_reference,
            transaction_desc: &request.description,
        };
        let response: StkPushResponse = self.post(STK_PUSH, &body, Retry::Once).await?;
        check_accepted(
            STK_PUSH.name,
            &response.response_code,
            &response.response_description,
        )?;
        Ok(response)
    }

    /// Asks what happened to an STK push. "Still being processed" is
    /// [`StkQueryOutcome::Pending`], not an error. Retried on transient failures.
    pub async fn stk_query(&self, checkout_request_id: &str) -> Result<StkQueryOutcome, MpesaError> {
        validate::text("CheckoutRequestID", checkout_request_id, 1, 64)?;
        let settings = self.settings();
        let timestamp = nairobi_timestamp(Utc::now());
        let password = stk_password(&settings.shortcode, &settings.passkey, &timestamp);
        let body = StkQueryBody {
            business_short_code: &settings.shortcode,
            password: password.expose(),
            timestamp: &timestamp,
            checkout_request_id,
        };
        match self
            .post::<_, StkQueryResult>(STK_QUERY, &body, Retry::Safe)
            .await
        {
            Ok(result) => Ok(StkQueryOutcome::Completed(result)),
            Err(MpesaError::Api {
                error_code,
                error_message,
                request_id,
                ..
            }) if is_still_processing(&error_code, &error_message) => Ok(StkQueryOutcome::Pending {
                request_id,
                message: error_message,
            }),
            Err(e) => Err(e),
        }
    }
}

/// `500.001.1001` is also Daraja's generic code, so the message must say "processed"/"processing".
fn is_still_processing(code: &str, message: &str) -> bool {
    code == STILL_PROCESSING && message.to_ascii_lowercase().contains("process")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_needs_code_and_message() {
        assert!(is_still_processing(
            "500.001.1001",
            "The transaction is being processed"
        ));
        assert!(!is_still_processing("500.001.1001", "Wrong credentials"));
        assert!(!is_still_processing("400.002.02", "being processed"));
    }

    #[test]
    fn query_result_code_may_be_non_numeric() {
        let r: StkQueryResult = serde_json::from_str(
            r#"{"ResponseCode":"0","ResponseDescription":"ok","MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":"SFC_IC0003","ResultDesc":"x"}"#,
        )
        .unwrap();
        assert_eq!(r.result_code.as_deref(), Some("SFC_IC0003"));
        assert_eq!(r.result_code_number(), None);
        assert!(!r.is_paid());
    }
}
