//! C2B Pull Transactions: registration, and the query listing the C2B payments this simulator
//! made (confirmed, dropped or held alike), by row offset, in Daraja's nested lowercase shape.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde_json::{json, Value};

use super::fields::Fields;
use super::state::{request_id, ApiError};
use super::Shared;

/// A C2B payment the simulator completed (validation passed or absent), as the pull lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bTransaction {
    /// The shortcode paid.
    pub shortcode: String,
    /// The M-Pesa transaction id (the confirmation's `TransID`).
    pub trans_id: String,
    /// When it completed.
    pub at: DateTime<Utc>,
    /// Whole shillings.
    pub amount: u64,
    /// The payer (`2547XXXXXXXX`).
    pub msisdn: String,
    /// The account number typed.
    pub bill_ref: String,
    /// A till (Buy Goods) payment.
    pub buy_goods: bool,
    /// Whether its confirmation was POSTed (false while dropped or when no URL is registered).
    pub confirmation_sent: bool,
}

fn nairobi() -> FixedOffset {
    FixedOffset::east_opt(3 * 3600).expect("UTC+3 is in range")
}

/// Daraja's documented answer for a shortcode it will not let pull.
fn not_allowed() -> ApiError {
    ApiError::new(400, "400.001", "Invalid ShortCode")
}

fn refused(shared: &Shared, shortcode: &str) -> bool {
    shared.config.pull_refused_shortcodes.contains(shortcode)
        || shared.lock().pull_refused.contains(shortcode)
}

/// `YYYY-MM-DD HH:mm:ss` (or without seconds), Nairobi time.
fn date(f: &Fields, field: &str) -> Result<DateTime<Utc>, ApiError> {
    let text = f.text(field)?;
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|form| NaiveDateTime::parse_from_str(text.trim(), form).ok())
        .and_then(|naive| naive.and_local_timezone(nairobi()).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ApiError::invalid(field))
}

pub(crate) fn register(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let shortcode = f.digits("ShortCode")?;
    f.one_of("RequestType", &["Pull"])?;
    let nominated = f.text("NominatedNumber")?;
    if !(9..=12).contains(&nominated.len()) || !nominated.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid("NominatedNumber"));
    }
    f.url("CallBackURL")?;
    if refused(shared, &shortcode) {
        return Err(not_allowed());
    }
    let new = shared.lock().pull_registered.insert(shortcode.clone());
    let (status, description) = if new {
        ("1000", "Shortcode Registered Successfully")
    } else {
        ("1001", "ShortCode already Registered")
    };
    Ok(json!({
        "ResponseRefID": request_id(),
        "ResponseStatus": status,
        "ShortCode": shortcode,
        "ResponseDescription": description,
    }))
}

pub(crate) fn query(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let shortcode = f.digits("ShortCode")?;
    let start = date(f, "StartDate")?;
    let end = date(f, "EndDate")?;
    let offset: usize = match f.opt("OffSetValue").filter(|s| !s.trim().is_empty()) {
        Some(v) => v.trim().parse().map_err(|_| ApiError::invalid("OffSetValue"))?,
        None => 0,
    };
    if refused(shared, &shortcode) {
        return Err(not_allowed());
    }
    let page_size = shared.config.pull_page_size.max(1);
    let rows: Vec<Value> = {
        let state = shared.lock();
        let mut matching: Vec<&C2bTransaction> = state
            .c2b_transactions
            .iter()
            .filter(|t| t.shortcode == shortcode && t.at >= start && t.at <= end)
            .collect();
        matching.sort_by_key(|t| t.at);
        matching
            .into_iter()
            .skip(offset)
            .take(page_size)
            .map(|t| {
                json!({
                    "transactionId": t.trans_id,
                    "trxDate": t.at.with_timezone(&nairobi()).to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                    // A number, as Daraja sends it.
                    "msisdn": t.msisdn.parse::<u64>().unwrap_or(0),
                    "sender": "MPESA",
                    "transactiontype": if t.buy_goods { "c2b-buy-goods-debit" } else { "c2b-pay-bill-debit" },
                    "billreference": t.bill_ref,
                    "amount": format!("{}.00", t.amount),
                    "organizationname": "Simulated Business",
                })
            })
            .collect()
    };
    if rows.is_empty() {
        return Ok(json!({
            "ResponseRefID": request_id(),
            "ResponseCode": "1001",
            "ResponseMessage": "No records found",
            // Daraja's documented empty body: the nested list, written as a string.
            "Response": "[[]]",
        }));
    }
    Ok(json!({
        "ResponseRefID": request_id(),
        "ResponseCode": "1000",
        "ResponseMessage": "Success",
        "Response": [rows],
    }))
}
