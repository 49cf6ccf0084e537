//! B2B Express Checkout: a USSD prompt on a merchant's till asking it to pay the vendor's
//! paybill; the outcome arrives at the callback URL.

use malipo_core::Money;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::callback::CallbackError;
use crate::client::{Endpoint, Retry};
use crate::de::string_or_number_default;
use crate::{validate, MpesaClient, MpesaError};

const PUSH: Endpoint = Endpoint {
    name: "B2B express checkout",
    path: "/v1/ussdpush/get-msisdn",
};

/// A USSD push to a merchant's till.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct B2bExpressRequest {
    /// The paying merchant's till (debit party).
    pub primary_shortcode: String,
    /// The vendor's paybill receiving the money; `None` uses the settings' shortcode.
    pub receiver_shortcode: Option<String>,
    /// How much, whole shillings.
    pub amount: Money,
    /// The payment's reference, shown to the merchant (1 to 100 characters).
    pub payment_ref: String,
    /// Receives the outcome.
    pub callback_url: Url,
    /// The vendor's name as the merchant knows it (1 to 100 characters).
    pub partner_name: String,
    /// The request's unique id, which the callback carries; `None` makes a random one.
    pub request_ref_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PushBody<'a> {
    primary_short_code: &'a str,
    receiver_short_code: &'a str,
    amount: String,
    payment_ref: &'a str,
    callback_url: &'a str,
    partner_name: &'a str,
    #[serde(rename = "RequestRefID")]
    request_ref_id: &'a str,
}

#[derive(Deserialize)]
struct PushAnswer {
    #[serde(default, deserialize_with = "string_or_number_default")]
    code: String,
    #[serde(default)]
    status: String,
}

/// Daraja's acknowledgement: the prompt was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct B2bExpressAccepted {
    /// `0`.
    pub code: String,
    /// `USSD Initiated Successfully`.
    pub status: String,
    /// The request's id, which the callback carries as `requestId`.
    pub request_ref_id: String,
}

/// A random id in the UUID v4 form.
fn random_request_id() -> String {
    let b: [u8; 16] = rand::thread_rng().gen();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

impl MpesaClient {
    /// Sends a USSD prompt to a merchant's till asking it to pay the vendor's paybill; the
    /// outcome is POSTed to the callback URL ([`B2bExpressCallback`]). Sent once.
    pub async fn b2b_express_checkout(
        &self,
        request: &B2bExpressRequest,
    ) -> Result<B2bExpressAccepted, MpesaError> {
        validate::digits("primaryShortCode", &request.primary_shortcode)?;
        let receiver = request
            .receiver_shortcode
            .as_deref()
            .unwrap_or(&self.settings().shortcode);
        validate::digits("receiverShortCode", receiver)?;
        let amount = validate::whole_shillings("amount", request.amount)?;
        validate::text("paymentRef", &request.payment_ref, 1, 100)?;
        validate::text("partnerName", &request.partner_name, 1, 100)?;
        validate::callback_url("callbackUrl", &request.callback_url)?;
        let request_ref_id = request.request_ref_id.clone().unwrap_or_else(random_request_id);
        validate::text("RequestRefID", &request_ref_id, 1, 64)?;
        let body = PushBody {
            primary_short_code: &request.primary_shortcode,
            receiver_short_code: receiver,
            amount: amount.to_string(),
            payment_ref: &request.payment_ref,
            callback_url: request.callback_url.as_str(),
            partner_name: &request.partner_name,
            request_ref_id: &request_ref_id,
        };
        let answer: PushAnswer = self.post(PUSH, &body, Retry::Once).await?;
        if answer.code.trim() != "0" {
            return Err(MpesaError::Rejected {
                operation: PUSH.name,
                response_code: answer.code,
                description: answer.status,
            });
        }
        Ok(B2bExpressAccepted {
            code: answer.code,
            status: answer.status,
            request_ref_id,
        })
    }
}

/// The outcome of a B2B Express Checkout, as POSTed to its callback URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct B2bExpressCallback {
    /// `0` paid; `4001` cancelled by the merchant; others as Daraja sends them.
    #[serde(deserialize_with = "string_or_number_default")]
    pub result_code: String,
    /// Daraja's description.
    #[serde(default)]
    pub result_desc: String,
    /// The request's id (`RequestRefID` of the push).
    #[serde(deserialize_with = "string_or_number_default")]
    pub request_id: String,
    /// The amount, as sent (`"71.0"`).
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub amount: String,
    /// The payment reference (failures).
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub payment_reference: String,
    /// Daraja's ConversationID (successes).
    #[serde(
        rename = "conversationID",
        default,
        deserialize_with = "string_or_number_default"
    )]
    pub conversation_id: String,
    /// The M-Pesa receipt (successes).
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub transaction_id: String,
    /// `SUCCESS` or `FAILED`.
    #[serde(default)]
    pub status: String,
}

impl B2bExpressCallback {
    /// True when the merchant paid.
    pub fn is_paid(&self) -> bool {
        self.result_code.trim() == "0"
    }

    /// The amount in KES, when it is a valid amount.
    pub fn amount(&self) -> Option<Money> {
        Money::parse(self.amount.trim(), malipo_core::Currency::Kes).ok()
    }

    /// The unique key of this callback: `b2b_express:<requestId>`.
    pub fn dedup_key(&self) -> String {
        format!("b2b_express:{}", self.request_id.trim())
    }
}

/// Parses a B2B Express Checkout callback.
pub fn parse_b2b_express_callback(body: &[u8]) -> Result<B2bExpressCallback, CallbackError> {
    const KIND: &str = "b2b_express";
    if body.trim_ascii_start().first().is_some_and(|b| *b != b'{') {
        return Err(CallbackError::NotAnObject { kind: KIND });
    }
    let cb: B2bExpressCallback = serde_json::from_slice(body).map_err(|source| CallbackError::Malformed {
        kind: KIND,
        path: ".".into(),
        source,
    })?;
    if cb.request_id.trim().is_empty() {
        return Err(CallbackError::MissingId {
            kind: KIND,
            field: "requestId",
        });
    }
    Ok(cb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_callbacks_parse() {
        let paid = br#"{"resultCode":"0","resultDesc":"The service request is processed successfully.","amount":"71.0",
            "requestId":"404e1aec-19e0-4ce3-973d-bd92e94c8021","resultType":"0","conversationID":"AG_20230426_2010434680d9f5a73766",
            "transactionId":"RDQ01NFT1Q","status":"SUCCESS"}"#;
        let cb = parse_b2b_express_callback(paid).unwrap();
        assert!(cb.is_paid());
        assert_eq!(
            cb.amount(),
            Some(Money::from_minor(7100, malipo_core::Currency::Kes))
        );
        assert_eq!(cb.dedup_key(), "b2b_express:404e1aec-19e0-4ce3-973d-bd92e94c8021");
        let cancelled = br#"{"resultCode":4001,"resultDesc":"User cancelled transaction","requestId":"c2a9ba32","amount":"71.0","paymentReference":"MAndbubry3hi"}"#;
        let cb = parse_b2b_express_callback(cancelled).unwrap();
        assert!(!cb.is_paid());
        assert_eq!(cb.payment_reference, "MAndbubry3hi");
        assert!(parse_b2b_express_callback(br#"{"resultCode":"0"}"#).is_err());
    }

    #[test]
    fn request_ids_are_unique_uuid_shaped() {
        let (a, b) = (random_request_id(), random_request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
