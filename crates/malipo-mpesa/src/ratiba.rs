//! M-Pesa Ratiba: a standing order on the customer's M-PESA, created after the customer
//! approves a PIN prompt; the outcome arrives at the CallBackURL.

use chrono::NaiveDate;
use malipo_core::{Money, Msisdn};
use serde::Serialize;
use serde_json::Value;
use url::Url;

use crate::callback::CallbackError;
use crate::client::{Endpoint, Retry};
use crate::{validate, MpesaClient, MpesaError, ACCOUNT_REFERENCE_MAX, TRANSACTION_DESC_MAX};

const CREATE: Endpoint = Endpoint {
    name: "Ratiba standing order",
    path: "/standingorder/v1/createStandingOrderExternal",
};

/// How often a standing order pays (Daraja's `Frequency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RatibaFrequency {
    /// 1: once.
    OneOff,
    /// 2: every day.
    Daily,
    /// 3: every week.
    Weekly,
    /// 4: every month.
    Monthly,
    /// 5: every two months.
    BiMonthly,
    /// 6: every quarter.
    Quarterly,
    /// 7: every half year.
    HalfYearly,
    /// 8: every year.
    Yearly,
}

impl RatibaFrequency {
    /// Daraja's code.
    pub fn code(self) -> &'static str {
        match self {
            RatibaFrequency::OneOff => "1",
            RatibaFrequency::Daily => "2",
            RatibaFrequency::Weekly => "3",
            RatibaFrequency::Monthly => "4",
            RatibaFrequency::BiMonthly => "5",
            RatibaFrequency::Quarterly => "6",
            RatibaFrequency::HalfYearly => "7",
            RatibaFrequency::Yearly => "8",
        }
    }
}

/// Where the standing order pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatibaPayee {
    /// A paybill, with the account number each payment carries (at most 12 characters).
    Paybill {
        /// The account reference.
        account_reference: String,
    },
    /// A till (Buy Goods).
    Till,
}

/// A standing order to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingOrderRequest {
    /// Its name, unique per customer (a customer cannot have two with one name).
    pub name: String,
    /// The first day it pays.
    pub start: NaiveDate,
    /// The day it stops.
    pub end: NaiveDate,
    /// The shortcode or till paid; `None` uses the settings' shortcode.
    pub shortcode: Option<String>,
    /// Paybill (with its account reference) or till.
    pub payee: RatibaPayee,
    /// Each payment, whole shillings.
    pub amount: Money,
    /// The paying customer.
    pub phone: Msisdn,
    /// Receives the outcome.
    pub callback_url: Url,
    /// At most 13 characters.
    pub description: String,
    /// How often it pays.
    pub frequency: RatibaFrequency,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody<'a> {
    standing_order_name: &'a str,
    start_date: String,
    end_date: String,
    business_short_code: &'a str,
    transaction_type: &'a str,
    receiver_party_identifier_type: &'a str,
    amount: String,
    party_a: &'a str,
    #[serde(rename = "CallBackURL")]
    callback_url: &'a str,
    account_reference: &'a str,
    transaction_desc: &'a str,
    frequency: &'a str,
}

/// Daraja's acknowledgement: the request is being processed (the customer gets a PIN prompt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandingOrderAccepted {
    /// Daraja's id of the request (`responseRefID`), which the callback carries.
    pub response_ref_id: Option<String>,
    /// `200` when accepted.
    pub response_code: String,
    /// Daraja's description.
    pub response_description: String,
}

/// A key of a JSON object, whatever its case (Ratiba's callbacks write `ResponseHeader` and
/// `responseHeader`, `Name` and `name`).
fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl MpesaClient {
    /// Creates an M-Pesa Ratiba standing order: the customer is asked to approve it with their
    /// PIN, and the outcome is POSTed to the CallBackURL ([`RatibaCallback`]). Sent once.
    pub async fn ratiba_standing_order(
        &self,
        request: &StandingOrderRequest,
    ) -> Result<StandingOrderAccepted, MpesaError> {
        validate::text("StandingOrderName", &request.name, 1, 100)?;
        if request.end <= request.start {
            return Err(validate::invalid(
                "EndDate",
                format!("{} is not after the start {}", request.end, request.start),
            ));
        }
        let amount = validate::whole_shillings("Amount", request.amount)?;
        validate::text("TransactionDesc", &request.description, 1, TRANSACTION_DESC_MAX)?;
        validate::callback_url("CallBackURL", &request.callback_url)?;
        let shortcode = request.shortcode.as_deref().unwrap_or(&self.settings().shortcode);
        validate::digits("BusinessShortCode", shortcode)?;
        let (transaction_type, identifier, reference) = match &request.payee {
            RatibaPayee::Paybill { account_reference } => {
                validate::text("AccountReference", account_reference, 1, ACCOUNT_REFERENCE_MAX)?;
                (
                    "Standing Order Customer Pay Bill",
                    "4",
                    account_reference.as_str(),
                )
            }
            // Daraja's spelling.
            RatibaPayee::Till => ("Standing Order Customer Pay Marchant", "2", ""),
        };
        let body = CreateBody {
            standing_order_name: &request.name,
            start_date: request.start.format("%Y%m%d").to_string(),
            end_date: request.end.format("%Y%m%d").to_string(),
            business_short_code: shortcode,
            transaction_type,
            receiver_party_identifier_type: identifier,
            amount: amount.to_string(),
            party_a: request.phone.as_str(),
            callback_url: request.callback_url.as_str(),
            account_reference: reference,
            transaction_desc: &request.description,
            frequency: request.frequency.code(),
        };
        let answer: Value = self.post(CREATE, &body, Retry::Once).await?;
        let header = get(&answer, "ResponseHeader");
        let code = text(header.and_then(|h| get(h, "responseCode")))
            .or_else(|| text(get(&answer, "ResponseBody").and_then(|b| get(b, "responseCode"))))
            .unwrap_or_default();
        let description = text(header.and_then(|h| get(h, "responseDescription")))
            .or_else(|| text(header.and_then(|h| get(h, "ResultDesc"))))
            .unwrap_or_default();
        if code != "200" && code != "0" {
            return Err(MpesaError::Rejected {
                operation: CREATE.name,
                response_code: code,
                description,
            });
        }
        Ok(StandingOrderAccepted {
            response_ref_id: text(header.and_then(|h| get(h, "responseRefID"))),
            response_code: code,
            response_description: description,
        })
    }
}

/// The outcome of a standing order request, as POSTed to its CallBackURL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RatibaCallback {
    /// Daraja's id of the response.
    pub response_ref_id: String,
    /// The request's id.
    pub request_ref_id: Option<String>,
    /// `0` when the standing order was created.
    pub response_code: String,
    /// Daraja's description.
    pub response_description: String,
    /// The `responseData` items, by name, as text (`TransactionID`, `responseCode`, `Status`,
    /// `Msisdn`…).
    pub data: Vec<(String, String)>,
}

impl RatibaCallback {
    /// The value of a `responseData` item (case-insensitive name).
    pub fn item(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the standing order was created: code 0 and, when sent, status `OKAY`.
    pub fn is_created(&self) -> bool {
        let code = self
            .item("responseCode")
            .or(self.item("ResultCode"))
            .unwrap_or(&self.response_code);
        code == "0" && self.item("Status").is_none_or(|s| s.eq_ignore_ascii_case("OKAY"))
    }

    /// The M-Pesa transaction id, when one was made (`0000000000` means none).
    pub fn transaction_id(&self) -> Option<&str> {
        self.item("TransactionID")
            .filter(|t| t.bytes().any(|b| b != b'0'))
    }

    /// The unique key of this callback: `ratiba:<responseRefID>`.
    pub fn dedup_key(&self) -> String {
        format!("ratiba:{}", self.response_ref_id)
    }
}

/// Parses a Ratiba callback (keys in either case; values strings or numbers).
pub fn parse_ratiba_callback(body: &[u8]) -> Result<RatibaCallback, CallbackError> {
    const KIND: &str = "ratiba";
    let value = crate::callback::json_object(KIND, body)?;
    let header = get(&value, "ResponseHeader");
    let response_ref_id = text(header.and_then(|h| get(h, "responseRefID")))
        .filter(|s| !s.is_empty())
        .ok_or(CallbackError::MissingId {
            kind: KIND,
            field: "ResponseHeader.responseRefID",
        })?;
    let data = get(&value, "ResponseBody")
        .and_then(|b| get(b, "ResponseData"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    Some((
                        text(get(item, "Name"))?,
                        text(get(item, "Value")).unwrap_or_default(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(RatibaCallback {
        response_ref_id,
        request_ref_id: text(header.and_then(|h| get(h, "requestRefID"))),
        response_code: text(header.and_then(|h| get(h, "responseCode"))).unwrap_or_default(),
        response_description: text(header.and_then(|h| get(h, "responseDescription"))).unwrap_or_default(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_documented_callback_spellings_parse() {
        let ok = br#"{"responseHeader":{"responseRefID":"0acc0239","requestRefID":"0acc0239","responseCode":"0","responseDescription":"The service request is processed successfully"},
            "responseBody":{"responseData":[{"name":"TransactionID","value":"SC8F2IQMH5"},{"name":"responseCode","value":"0"},{"name":"Status","value":"OKAY"},{"name":"Msisdn","value":"254******867"}]}}"#;
        let cb = parse_ratiba_callback(ok).unwrap();
        assert!(cb.is_created());
        assert_eq!(cb.transaction_id(), Some("SC8F2IQMH5"));
        assert_eq!(cb.dedup_key(), "ratiba:0acc0239");
        let failed = br#"{"ResponseHeader":{"responseRefID":"4dd9b5d9","requestRefID":"c8c2bb31","responseCode":"1037","responseDescription":"Error"},
            "ResponseBody":{"ResponseData":[{"Name":"TransactionID","Value":"0000000000"},{"Name":"responseCode","Value":1037},{"Name":"Status","Value":"ERROR"}]}}"#;
        let cb = parse_ratiba_callback(failed).unwrap();
        assert!(!cb.is_created());
        assert_eq!(cb.transaction_id(), None);
        assert_eq!(cb.item("RESPONSECODE"), Some("1037"));
    }

    #[test]
    fn a_callback_without_its_id_is_refused() {
        assert!(matches!(
            parse_ratiba_callback(br#"{"ResponseBody":{}}"#),
            Err(CallbackError::MissingId { .. })
        ));
        assert!(matches!(
            parse_ratiba_callback(b"[1]"),
            Err(CallbackError::NotAnObject { .. })
        ));
    }
}
