//! C2B Pull Transactions: register a shortcode for pulling, then ask Daraja for the C2B payments
//! it received in a time window, to recover confirmations that never arrived.
//!
//! Daraja keeps the transactions of the last [`PULL_RETENTION`] (48 hours). Its answers are
//! loosely shaped: the list is nested (`"Response": [[{…}]]`), sometimes a string (`"[[]]"`),
//! its keys are lowercase unlike the rest of Daraja, and a failed pull is often answered
//! **HTTP 200** with an error code in the body. [`MpesaClient::pull_transactions`] turns all of
//! that into a [`PullPage`] or one of two clear errors: [`MpesaError::PullNotAllowed`] (the
//! shortcode may not pull: only shortcodes registered for it, usually the head office's, can)
//! and [`MpesaError::PullFailed`] (an error body behind a 2xx status).

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset as _, Utc};
use malipo_core::{Currency, Money, Msisdn};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::client::{Endpoint, Retry};
use crate::de::string_or_number_default;
use crate::{validate, C2bPayment, MpesaClient, MpesaError};

const REGISTER: Endpoint = Endpoint {
    name: "pull register",
    path: "/pulltransactions/v1/register",
};
const QUERY: Endpoint = Endpoint {
    name: "pull query",
    path: "/pulltransactions/v1/query",
};

/// How long Daraja keeps C2B transactions for pulling.
pub const PULL_RETENTION: Duration = Duration::from_secs(48 * 3600);

/// The most pages [`MpesaClient::pull_window`] fetches for one window (a guard against a
/// server that never says it is done).
pub const PULL_MAX_PAGES: usize = 500;

/// Daraja's `ResponseCode` of a query that found transactions, and of a registration.
pub const PULL_OK: &str = "1000";
/// Daraja's `ResponseCode` of a query that found none in the window ("No records found"), and
/// of a registration of a shortcode already registered.
pub const PULL_NONE: &str = "1001";

/// Registers a shortcode for Pull Transactions (once per shortcode; registering again is
/// harmless and answered "already registered").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRegisterRequest {
    /// The shortcode; `None` uses the settings' shortcode.
    pub shortcode: Option<String>,
    /// The organisation's nominated number (on the M-PESA org portal, under the shortcode's KYC
    /// details).
    pub nominated_number: Msisdn,
    /// Daraja's required `CallBackURL`.
    pub callback_url: Url,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RegisterBody<'a> {
    short_code: &'a str,
    request_type: &'a str,
    nominated_number: &'a str,
    #[serde(rename = "CallBackURL")]
    callback_url: &'a str,
}

/// Daraja's answer to a pull registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRegistered {
    /// Daraja's id of the request.
    pub response_ref_id: Option<String>,
    /// `1000` registered, `1001` already registered.
    pub response_status: String,
    /// Daraja's description.
    pub response_description: String,
    /// The shortcode registered.
    pub shortcode: String,
}

impl PullRegistered {
    /// True when the shortcode was registered before this request.
    pub fn already_registered(&self) -> bool {
        self.response_status == PULL_NONE
    }
}

/// One page of a pull: the C2B transactions of `start..end` from row `offset` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullQuery {
    /// The shortcode or till pulled; `None` uses the settings' shortcode.
    pub shortcode: Option<String>,
    /// The window's start (sent in Nairobi time, to the second).
    pub start: DateTime<Utc>,
    /// The window's end.
    pub end: DateTime<Utc>,
    /// Daraja's `OffSetValue`: the first row of the page, from 0.
    pub offset: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueryBody<'a> {
    short_code: &'a str,
    start_date: String,
    end_date: String,
    #[serde(rename = "OffSetValue")]
    offset: String,
}

/// A C2B payment as the pull lists it (Daraja's lowercase keys; numbers or strings accepted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledTransaction {
    /// The M-Pesa transaction id (the confirmation's `TransID`).
    #[serde(rename = "transactionId", deserialize_with = "string_or_number_default")]
    pub transaction_id: String,
    /// When it completed, as Daraja writes it (`2020-08-05T10:13:00Z`, `…+03:00`).
    #[serde(rename = "trxDate", default, deserialize_with = "string_or_number_default")]
    pub trx_date: String,
    /// The payer's number, as sent (a number, sometimes shortened or masked).
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub msisdn: String,
    /// Daraja's `sender` (`MPESA`).
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub sender: String,
    /// `c2b-pay-bill-debit`, `c2b-buy-goods-debit`, …
    #[serde(
        rename = "transactiontype",
        default,
        deserialize_with = "string_or_number_default"
    )]
    pub transaction_type: String,
    /// The account number the customer typed (paybill).
    #[serde(
        rename = "billreference",
        default,
        deserialize_with = "string_or_number_default"
    )]
    pub bill_reference: String,
    /// The amount, as sent (`"168.00"`, `"2697.0"`).
    #[serde(deserialize_with = "string_or_number_default")]
    pub amount: String,
    /// The organisation's name.
    #[serde(
        rename = "organizationname",
        default,
        deserialize_with = "string_or_number_default"
    )]
    pub organization_name: String,
}

fn nairobi() -> FixedOffset {
    // A constant in range: east_opt only fails beyond ±24 h.
    FixedOffset::east_opt(3 * 3600).unwrap_or_else(|| Utc.fix())
}

impl PulledTransaction {
    /// The amount in KES, when it is a valid amount.
    pub fn amount(&self) -> Option<Money> {
        Money::parse(self.amount.trim(), Currency::Kes).ok()
    }

    /// When it completed; a time without a zone is read as Nairobi's.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        let text = self.trx_date.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(t.with_timezone(&Utc));
        }
        ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
            .and_then(|naive| naive.and_local_timezone(nairobi()).single())
            .map(|t| t.with_timezone(&Utc))
    }

    /// The payer's number, when it is a whole Kenyan number.
    pub fn phone(&self) -> Option<Msisdn> {
        self.msisdn.trim().parse().ok()
    }

    /// True for a till (Buy Goods) payment.
    pub fn is_buy_goods(&self) -> bool {
        let kind = self
            .transaction_type
            .to_ascii_lowercase()
            .replace(['-', '_', ' '], "");
        kind.contains("buygoods") || kind.contains("till")
    }

    /// The confirmation Daraja would have sent for this payment to `shortcode`: what the pull
    /// recovers is stored and processed the way that confirmation would have been.
    pub fn to_confirmation(&self, shortcode: &str) -> C2bPayment {
        C2bPayment {
            transaction_type: if self.is_buy_goods() {
                "Buy Goods"
            } else {
                "Pay Bill"
            }
            .to_string(),
            trans_id: self.transaction_id.trim().to_string(),
            trans_time: self
                .time()
                .map(|t| t.with_timezone(&nairobi()).format("%Y%m%d%H%M%S").to_string())
                .unwrap_or_default(),
            trans_amount: self.amount.trim().to_string(),
            business_short_code: shortcode.to_string(),
            bill_ref_number: self.bill_reference.trim().to_string(),
            invoice_number: String::new(),
            org_account_balance: String::new(),
            third_party_trans_id: String::new(),
            msisdn: self.msisdn.trim().to_string(),
            first_name: String::new(),
            middle_name: String::new(),
            last_name: String::new(),
        }
    }
}

/// One page of a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullPage {
    /// Daraja's id of the request.
    pub response_ref_id: Option<String>,
    /// `1000` transactions found, `1001` none in the window.
    pub response_code: String,
    /// Daraja's message.
    pub response_message: String,
    /// The transactions of the page.
    pub transactions: Vec<PulledTransaction>,
    /// Rows listed without a transaction id (they cannot be recorded; counted so they are
    /// reported, not lost silently).
    pub unreadable: usize,
    /// The page number, when Daraja says it.
    pub current_page: Option<u64>,
    /// The number of pages, when Daraja says it.
    pub total_pages: Option<u64>,
}

/// Everything a window held, over as many pages as it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullWindow {
    /// The shortcode pulled.
    pub shortcode: String,
    /// The window's start.
    pub start: DateTime<Utc>,
    /// The window's end.
    pub end: DateTime<Utc>,
    /// Every transaction, once each (by transaction id), in Daraja's order.
    pub transactions: Vec<PulledTransaction>,
    /// Rows without a transaction id, over every page.
    pub unreadable: usize,
    /// How many pages were fetched.
    pub pages: usize,
    /// The last page's `ResponseCode` and message (`1001 No records found` for a quiet
    /// window).
    pub last_response: (String, String),
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number_of(v: Option<&Value>) -> Option<u64> {
    text_of(v)?.parse().ok()
}

/// The first of `keys` the object has, as text.
fn field(obj: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text_of(obj.get(*k)))
}

/// The transactions nested anywhere in `Response`: a list, a list of lists, a single object,
/// or all of these written as a JSON string (`"[[]]"`).
fn flatten(value: &Value, into: &mut Vec<serde_json::Map<String, Value>>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, into)),
        Value::Object(obj) => into.push(obj.clone()),
        Value::String(s) => {
            if let Ok(inner) = serde_json::from_str::<Value>(s) {
                if !inner.is_string() {
                    flatten(&inner, into);
                }
            }
        }
        _ => {}
    }
}

/// Messages by which Daraja says a shortcode may not pull.
const NOT_ALLOWED_WORDS: [&str; 8] = [
    "not registered",
    "not allowed",
    "not authorized",
    "not authorised",
    "not permitted",
    "not enabled",
    "not subscribed",
    "invalid shortcode",
];

/// Messages by which Daraja says a window simply has no transactions.
const NOTHING_WORDS: [&str; 3] = [
    "no records",
    "no transactions",
    "does not have any available transactions",
];

/// What an answer that is not a page of transactions means.
fn refusal(endpoint: Endpoint, status: u16, shortcode: &str, code: &str, message: &str) -> MpesaError {
    let lower = message.to_ascii_lowercase();
    // Daraja documents 400.001 as "Invalid ShortCode": for a pull, a shortcode it will not serve.
    if code.starts_with("400.001") || NOT_ALLOWED_WORDS.iter().any(|w| lower.contains(w)) {
        return MpesaError::PullNotAllowed {
            operation: endpoint.name,
            shortcode: shortcode.to_string(),
            code: code.to_string(),
            message: message.to_string(),
        };
    }
    MpesaError::PullFailed {
        operation: endpoint.name,
        status,
        code: code.to_string(),
        message: message.to_string(),
    }
}

/// Reads the body of a 2xx answer to a Pull query as [`MpesaClient::pull_transactions`] does:
/// a page, or the error the body says (Daraja answers some refusals with HTTP 200). For an
/// embedder that calls Daraja with its own HTTP client; never panics, whatever the bytes.
pub fn parse_pull_answer(shortcode: &str, body: &[u8]) -> Result<PullPage, MpesaError> {
    let answer: Value = serde_json::from_slice(body).map_err(|e| MpesaError::Decode {
        operation: QUERY.name,
        status: 200,
        detail: "the answer is not JSON".into(),
        source: Some(e),
    })?;
    read_page(shortcode, &answer)
}

/// Reads a 2xx answer to a query: a page, or the error its body says.
fn read_page(shortcode: &str, answer: &Value) -> Result<PullPage, MpesaError> {
    let Some(obj) = answer.as_object() else {
        return Err(MpesaError::Decode {
            operation: QUERY.name,
            status: 200,
            detail: "the answer is not a JSON object".into(),
            source: None,
        });
    };
    let ref_id = field(obj, &["ResponseRefID", "requestId"]);
    // Daraja's usual error body, behind a 200.
    if let Some(code) = field(obj, &["errorCode"]) {
        let message = field(obj, &["errorMessage"]).unwrap_or_default();
        return Err(refusal(QUERY, 200, shortcode, &code, &message));
    }
    let code = field(obj, &["ResponseCode", "Response Code", "ResultCode"]).unwrap_or_default();
    let message = field(
        obj,
        &[
            "ResponseMessage",
            "ResponseDescription",
            "Response Message",
            "ResultDesc",
        ],
    )
    .unwrap_or_default();
    let nothing = NOTHING_WORDS
        .iter()
        .any(|w| message.to_ascii_lowercase().contains(w));
    match code.as_str() {
        PULL_OK | "0" => {}
        // Documented as "no transactions in the window" (its body may still carry "[[]]").
        PULL_NONE => {}
        "" if obj.contains_key("Response") => {}
        _ if nothing => {
            return Ok(PullPage {
                response_ref_id: ref_id,
                response_code: code,
                response_message: message,
                transactions: Vec::new(),
                unreadable: 0,
                current_page: None,
                total_pages: None,
            })
        }
        "" => {
            return Err(MpesaError::Decode {
                operation: QUERY.name,
                status: 200,
                detail: "the answer has neither a ResponseCode nor a Response list".into(),
                source: None,
            })
        }
        _ => return Err(refusal(QUERY, 200, shortcode, &code, &message)),
    }
    let mut rows = Vec::new();
    if let Some(list) = obj.get("Response").or_else(|| obj.get("Transaction")) {
        flatten(list, &mut rows);
    }
    let mut transactions = Vec::with_capacity(rows.len());
    let mut unreadable = 0;
    for row in rows {
        match serde_json::from_value::<PulledTransaction>(Value::Object(row)) {
            Ok(t) if !t.transaction_id.trim().is_empty() => transactions.push(t),
            _ => unreadable += 1,
        }
    }
    Ok(PullPage {
        response_ref_id: ref_id,
        response_code: code,
        response_message: message,
        transactions,
        unreadable,
        current_page: number_of(obj.get("CurrentPage")),
        total_pages: number_of(obj.get("TotalPages")),
    })
}

/// Daraja's date form for the pull: `YYYY-MM-DD HH:mm:ss`, Nairobi time.
fn pull_date(t: DateTime<Utc>) -> String {
    t.with_timezone(&nairobi())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A window's end in Daraja's form, rounded up to the whole second: a payment made in the
/// window's last fraction of a second is inside it.
fn pull_end_date(t: DateTime<Utc>) -> String {
    use chrono::Timelike as _;
    if t.nanosecond() == 0 {
        pull_date(t)
    } else {
        pull_date(t + chrono::Duration::seconds(1))
    }
}

impl MpesaClient {
    /// Registers a shortcode for Pull Transactions (retried on transient failures: registering
    /// twice is harmless). A shortcode Daraja will not let pull is
    /// [`MpesaError::PullNotAllowed`].
    pub async fn pull_register(&self, request: &PullRegisterRequest) -> Result<PullRegistered, MpesaError> {
        let shortcode = request.shortcode.as_deref().unwrap_or(&self.settings().shortcode);
        validate::digits("ShortCode", shortcode)?;
        validate::callback_url("CallBackURL", &request.callback_url)?;
        let body = RegisterBody {
            short_code: shortcode,
            request_type: "Pull",
            nominated_number: request.nominated_number.as_str(),
            callback_url: request.callback_url.as_str(),
        };
        let answer: Value = self
            .post(REGISTER, &body, Retry::Safe)
            .await
            .map_err(|e| reclassify(REGISTER, shortcode, e))?;
        let obj = answer.as_object().cloned().unwrap_or_default();
        if let Some(code) = field(&obj, &["errorCode"]) {
            let message = field(&obj, &["errorMessage"]).unwrap_or_default();
            return Err(refusal(REGISTER, 200, shortcode, &code, &message));
        }
        let status = field(&obj, &["ResponseStatus", "Response Status", "ResponseCode"]).unwrap_or_default();
        let description = field(
            &obj,
            &["ResponseDescription", "Response Description", "ResponseMessage"],
        )
        .unwrap_or_default();
        if status != PULL_OK && status != PULL_NONE && status != "0" {
            return Err(refusal(REGISTER, 200, shortcode, &status, &description));
        }
        Ok(PullRegistered {
            response_ref_id: field(&obj, &["ResponseRefID"]),
            response_status: status,
            response_description: description,
            shortcode: field(&obj, &["ShortCode"]).unwrap_or_else(|| shortcode.to_string()),
        })
    }

    /// Fetches one page of the C2B transactions of a window (retried on transient failures: a
    /// query moves no money). An error body behind HTTP 200 is [`MpesaError::PullFailed`]; a
    /// shortcode that may not pull is [`MpesaError::PullNotAllowed`].
    pub async fn pull_transactions(&self, query: &PullQuery) -> Result<PullPage, MpesaError> {
        let shortcode = query.shortcode.as_deref().unwrap_or(&self.settings().shortcode);
        validate::digits("ShortCode", shortcode)?;
        if query.end <= query.start {
            return Err(validate::invalid(
                "EndDate",
                format!(
                    "the window ends ({}) before it starts ({}); give an end after the start",
                    query.end, query.start
                ),
            ));
        }
        let body = QueryBody {
            short_code: shortcode,
            start_date: pull_date(query.start),
            end_date: pull_end_date(query.end),
            offset: query.offset.to_string(),
        };
        let answer: Value = self
            .post(QUERY, &body, Retry::Safe)
            .await
            .map_err(|e| reclassify(QUERY, shortcode, e))?;
        read_page(shortcode, &answer)
    }

    /// Fetches every page of a window: each transaction once, whatever the paging (a row
    /// offset, as Daraja documents `OffSetValue`, or page numbers when the answer carries
    /// `CurrentPage`/`TotalPages`). Stops at an empty page, a page with nothing new, or
    /// [`PULL_MAX_PAGES`].
    pub async fn pull_window(
        &self,
        shortcode: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<PullWindow, MpesaError> {
        let shortcode = shortcode.unwrap_or(&self.settings().shortcode).to_string();
        let mut window = PullWindow {
            shortcode: shortcode.clone(),
            start,
            end,
            transactions: Vec::new(),
            unreadable: 0,
            pages: 0,
            last_response: (String::new(), String::new()),
        };
        let mut seen = HashSet::new();
        let mut offset = 0u64;
        while window.pages < PULL_MAX_PAGES {
            let page = self
                .pull_transactions(&PullQuery {
                    shortcode: Some(shortcode.clone()),
                    start,
                    end,
                    offset,
                })
                .await?;
            window.pages += 1;
            window.unreadable += page.unreadable;
            window.last_response = (page.response_code.clone(), page.response_message.clone());
            let rows = page.transactions.len() + page.unreadable;
            let mut new = 0;
            for t in page.transactions {
                if seen.insert(t.transaction_id.trim().to_string()) {
                    window.transactions.push(t);
                    new += 1;
                }
            }
            if rows == 0 || new == 0 {
                break;
            }
            offset = match (page.current_page, page.total_pages) {
                (Some(current), Some(total)) if current + 1 >= total => break,
                (Some(current), Some(_)) => current + 1,
                _ => offset + rows as u64,
            };
        }
        Ok(window)
    }
}

/// A non-2xx refusal in Daraja's error shape, read as what it means for a pull.
fn reclassify(endpoint: Endpoint, shortcode: &str, e: MpesaError) -> MpesaError {
    match e {
        MpesaError::Api {
            status,
            error_code,
            error_message,
            ..
        } if !e_is_auth(&error_code) => refusal(endpoint, status, shortcode, &error_code, &error_message),
        other => other,
    }
}

/// Token and authentication refusals keep their own error (they are about the app, not the
/// shortcode).
fn e_is_auth(code: &str) -> bool {
    code.starts_with("404.001") || code.starts_with("400.008") || code.starts_with("401")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use serde_json::json;

    #[test]
    fn an_answer_body_is_read_as_the_client_reads_it() {
        let body = br#"{"ResponseCode": "1000", "ResponseMessage": "Success",
            "Response": [[{"transactionId": "yzlyrEsRG1", "amount": "168.00"}, {"amount": "1"}]]}"#;
        let page = parse_pull_answer("600000", body).unwrap();
        assert_eq!(page.transactions.len(), 1);
        assert_eq!(page.transactions[0].transaction_id, "yzlyrEsRG1");
        assert_eq!(page.unreadable, 1);
        assert!(matches!(
            parse_pull_answer("600000", b"<html>busy</html>"),
            Err(MpesaError::Decode {
                status: 200,
                source: Some(_),
                ..
            })
        ));
        assert!(matches!(
            parse_pull_answer("600000", b"[1, 2]"),
            Err(MpesaError::Decode { source: None, .. })
        ));
        assert!(matches!(
            parse_pull_answer(
                "600000",
                br#"{"errorCode": "500.003.1001", "errorMessage": "busy"}"#
            ),
            Err(MpesaError::PullFailed { .. })
        ));
    }

    #[test]
    fn a_nested_list_is_read_with_lowercase_keys_and_numbers() {
        let page = read_page(
            "600000",
            &json!({"ResponseRefID": "26178-42530161-2", "ResponseCode": "1000", "ResponseMessage": "Success",
            "Response": [[
                {"transactionId": "yzlyrEsRG1", "trxDate": "2020-08-05T10:13:00Z", "msisdn": 254722000000u64,
                 "sender": "UAT2", "transactiontype": "c2b-pay-bill-debit", "billreference": "37207636392",
                 "amount": "168.00", "organizationname": "Daraja Pull API Test"},
                {"transactionId": "ZobjR29vdz", "trxDate": "2025-01-24T10:56:11+03:00", "msisdn": 72200000,
                 "transactiontype": "c2b-buy-goods-debit", "billreference": "", "amount": 2697.0}
            ]]}),
        )
        .unwrap();
        assert_eq!(page.transactions.len(), 2);
        let first = &page.transactions[0];
        assert_eq!(first.amount(), Some(Money::from_minor(16_800, Currency::Kes)));
        assert_eq!(
            first.phone().map(|p| p.as_str().to_string()),
            Some("254722000000".into())
        );
        assert_eq!(first.time().unwrap().to_rfc3339(), "2020-08-05T10:13:00+00:00");
        let second = &page.transactions[1];
        assert!(second.is_buy_goods());
        // A shortened number is kept as sent, but is no phone.
        assert_eq!(second.phone(), None);
        assert_eq!(second.time().unwrap().to_rfc3339(), "2025-01-24T07:56:11+00:00");
        let confirmation = second.to_confirmation("600000");
        assert_eq!(confirmation.transaction_type, "Buy Goods");
        assert_eq!(
            confirmation.trans_time, "20250124105611",
            "Nairobi time, as confirmations carry"
        );
        assert_eq!(confirmation.business_short_code, "600000");
        assert_eq!(
            confirmation.amount(),
            Some(Money::from_minor(269_700, Currency::Kes))
        );
    }

    #[test]
    fn no_records_is_an_empty_page_in_every_documented_form() {
        for body in [
            json!({"ResponseCode": "1001", "ResponseMessage": "No records found", "Response": "[[]]"}),
            json!({"ResponseCode": 1001, "ResponseMessage": "Null", "Transaction": "[[]]"}),
            json!({"ResponseCode": "1000", "ResponseMessage": "Success", "Response": []}),
            json!({"ResponseCode": "500", "ResponseMessage": "Failed to retrieve transactions. The short code does not have any available transactions."}),
        ] {
            let page = read_page("600000", &body).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert!(page.transactions.is_empty(), "{body}");
        }
    }

    #[test]
    fn an_error_behind_http_200_is_a_failed_pull_not_an_empty_one() {
        let e = read_page(
            "600000",
            &json!({"ResponseCode": "500.003.02", "ResponseMessage": "Internal server error"}),
        )
        .unwrap_err();
        assert!(
            matches!(&e, MpesaError::PullFailed { status: 200, code, .. } if code == "500.003.02"),
            "{e:?}"
        );
        assert!(e.to_string().contains("HTTP 200"), "{e}");
        let e = read_page(
            "600000",
            &json!({"requestId": "1-2-3", "errorCode": "500.001.1001", "errorMessage": "Unable to process"}),
        )
        .unwrap_err();
        assert!(matches!(e, MpesaError::PullFailed { .. }), "{e:?}");
    }

    #[test]
    fn a_shortcode_that_may_not_pull_is_told_what_to_do() {
        for body in [
            json!({"errorCode": "400.001", "errorMessage": "Invalid ShortCode"}),
            json!({"ResponseCode": "401", "ResponseMessage": "Shortcode not registered for Pull"}),
        ] {
            let e = read_page("600111", &body).unwrap_err();
            assert!(
                matches!(&e, MpesaError::PullNotAllowed { shortcode, .. } if shortcode == "600111"),
                "{e:?}"
            );
            let text = e.to_string();
            assert!(text.contains("600111") && text.contains("Safaricom"), "{text}");
        }
    }

    #[test]
    fn rows_without_an_id_are_counted_not_dropped_silently() {
        let page = read_page(
            "600000",
            &json!({"ResponseCode": "1000", "Response": [[{"amount": "10"}, {"transactionId": "ABC123", "amount": "10"}]]}),
        )
        .unwrap();
        assert_eq!((page.transactions.len(), page.unreadable), (1, 1));
    }

    #[test]
    fn dates_are_sent_in_nairobi_time() {
        let t = Utc.with_ymd_and_hms(2026, 12, 4, 21, 30, 5).unwrap();
        assert_eq!(pull_date(t), "2026-12-05 00:30:05");
        // An end is rounded up, so the last fraction of a second stays in the window.
        assert_eq!(pull_end_date(t), "2026-12-05 00:30:05");
        let later = t + chrono::Duration::milliseconds(250);
        assert_eq!(pull_end_date(later), "2026-12-05 00:30:06");
    }
}
