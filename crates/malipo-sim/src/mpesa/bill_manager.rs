//! Bill Manager: opt-in, invoices (single and bulk), cancellation, acknowledgements, and the
//! payment push to the opt-in callback URL when a C2B payment names an invoice's account.

use std::sync::Arc;

use serde_json::{json, Value};

use super::fields::Fields;
use super::state::ApiError;
use super::Shared;

/// An invoice the simulator holds.
#[derive(Debug, Clone)]
pub(crate) struct SimInvoice {
    pub account_reference: String,
    pub paid: bool,
}

/// Bill Manager's answer: `rescode` 200 on success, its own code otherwise (behind HTTP 200).
fn answer(code: &str, message: &str, status: Option<&str>) -> Value {
    let mut v = json!({"rescode": code, "resmsg": message});
    if let Some(s) = status {
        v["Status_Message"] = json!(s);
    }
    v
}

/// A phone the way Bill Manager writes it: `07XXXXXXXX` or `01XXXXXXXX`.
fn local_phone(f: &Fields, field: &str) -> Result<String, ApiError> {
    let value = f.text(field)?;
    let ok = value.len() == 10
        && (value.starts_with("07") || value.starts_with("01"))
        && value.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(value)
    } else {
        Err(ApiError::invalid(field))
    }
}

pub(crate) fn opt_in(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let shortcode = f.digits("shortcode")?;
    if !f.text("email")?.contains('@') {
        return Err(ApiError::invalid("email"));
    }
    local_phone(f, "officialContact")?;
    f.one_of("sendReminders", &["0", "1"])?;
    let url = f.url("callbackurl")?;
    shared.lock().bill_manager.insert(shortcode.clone(), url);
    Ok(json!({
        "app_key": format!("AG_{}_{}", chrono::Utc::now().format("%Y%m%d"), shortcode),
        "resmsg": "Success",
        "rescode": "200",
    }))
}

fn invoice(shared: &Shared, f: &Fields) -> Result<(), ApiError> {
    let external = f.len("externalReference", 1, 100)?;
    f.len("billedFullName", 1, 100)?;
    local_phone(f, "billedPhoneNumber")?;
    f.len("billedPeriod", 1, 50)?;
    f.len("invoiceName", 1, 100)?;
    let due = f.text("dueDate")?;
    if chrono::NaiveDate::parse_from_str(due.get(..10).unwrap_or(&due), "%Y-%m-%d").is_err() {
        return Err(ApiError::invalid("dueDate"));
    }
    let account_reference = f.len("accountReference", 1, 20)?;
    f.amount("amount")?;
    shared.lock().invoices.insert(
        external,
        SimInvoice {
            account_reference,
            paid: false,
        },
    );
    Ok(())
}

fn opted_in(shared: &Shared) -> Option<Value> {
    shared.lock().bill_manager.is_empty().then(|| {
        answer(
            "400",
            "Bad Request",
            Some("the shortcode is not opted in to Bill Manager"),
        )
    })
}

pub(crate) fn single(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    if let Some(refusal) = opted_in(shared) {
        return Ok(refusal);
    }
    invoice(shared, f)?;
    Ok(answer("200", "Success", Some("Invoice sent successfully")))
}

pub(crate) fn bulk(shared: &Arc<Shared>, list: &[Fields]) -> Result<Value, ApiError> {
    if let Some(refusal) = opted_in(shared) {
        return Ok(refusal);
    }
    if list.is_empty() || list.len() > 1000 {
        return Err(ApiError::invalid("invoices"));
    }
    for f in list {
        invoice(shared, f)?;
    }
    Ok(answer("200", "Success", Some("Invoice sent successfully")))
}

fn cancel_one(shared: &Shared, f: &Fields) -> Result<Option<Value>, ApiError> {
    let external = f.text("externalReference")?;
    let mut state = shared.lock();
    match state.invoices.get(&external) {
        None => Ok(Some(answer(
            "404",
            "Not Found",
            Some("no invoice has this external reference"),
        ))),
        Some(i) if i.paid => Ok(Some(answer(
            "409",
            "Conflict",
            Some("partially or fully paid invoices cannot be cancelled."),
        ))),
        Some(_) => {
            state.invoices.remove(&external);
            Ok(None)
        }
    }
}

pub(crate) fn cancel(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    Ok(cancel_one(shared, f)?
        .unwrap_or_else(|| answer("200", "Success", Some("Invoice cancelled successfuly."))))
}

pub(crate) fn cancel_bulk(shared: &Arc<Shared>, list: &[Fields]) -> Result<Value, ApiError> {
    for f in list {
        if let Some(refusal) = cancel_one(shared, f)? {
            return Ok(refusal);
        }
    }
    Ok(answer("200", "Success", Some("Invoice cancelled successfuly.")))
}

pub(crate) fn acknowledge(_shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let date = f.text("paymentDate")?;
    if chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_err() {
        return Err(ApiError::invalid("paymentDate"));
    }
    f.amount("paidAmount")?;
    f.len("accountReference", 1, 20)?;
    f.text("transactionId")?;
    local_phone(f, "phoneNumber")?;
    f.len("fullName", 1, 100)?;
    f.len("invoiceName", 1, 100)?;
    f.len("externalReference", 1, 100)?;
    Ok(answer("200", "Success", None))
}

/// The push of a completed C2B payment to a paybill opted in to Bill Manager, if it is; marks
/// the invoice of its account paid. Returns where to POST it and the body.
pub(crate) fn payment_push(
    shared: &Shared,
    shortcode: &str,
    trans_id: &str,
    amount: u64,
    msisdn: &str,
    bill_ref: &str,
) -> Option<(String, Value)> {
    let mut state = shared.lock();
    let url = state.bill_manager.get(shortcode)?.clone();
    for invoice in state.invoices.values_mut() {
        if invoice.account_reference == bill_ref {
            invoice.paid = true;
        }
    }
    Some((
        url,
        json!({
            "transactionId": trans_id,
            "paidAmount": amount.to_string(),
            "msisdn": msisdn,
            "dateCreated": (chrono::Utc::now() + chrono::Duration::hours(3)).format("%Y-%m-%d").to_string(),
            "accountReference": bill_ref,
            "shortCode": shortcode,
        }),
    ))
}
