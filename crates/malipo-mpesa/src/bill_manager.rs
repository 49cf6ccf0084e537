//! Bill Manager: opt a paybill in, send e-invoices (one or up to 1,000 at once), cancel them,
//! receive the payments pushed to the opt-in callback URL, and acknowledge them so the customer
//! gets an e-receipt.
//!
//! Every answer is `{"rescode": "200", "resmsg": …}` on success; any other `rescode` (even
//! behind HTTP 200) is [`MpesaError::Rejected`] with Bill Manager's own message, such as
//! `409 partially or fully paid invoices cannot be cancelled`.

use chrono::NaiveDate;
use malipo_core::{Currency, Money, Msisdn, Secret};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::callback::CallbackError;
use crate::client::{Endpoint, Retry};
use crate::de::string_or_number_default;
use crate::{validate, MpesaClient, MpesaError};

const OPT_IN: Endpoint = Endpoint {
    name: "Bill Manager opt-in",
    path: "/v1/billmanager-invoice/optin",
};
const CHANGE_OPT_IN: Endpoint = Endpoint {
    name: "Bill Manager opt-in change",
    path: "/v1/billmanager-invoice/change-optin-details",
};
const SINGLE: Endpoint = Endpoint {
    name: "Bill Manager invoice",
    path: "/v1/billmanager-invoice/single-invoicing",
};
const BULK: Endpoint = Endpoint {
    name: "Bill Manager bulk invoices",
    path: "/v1/billmanager-invoice/bulk-invoicing",
};
const CANCEL: Endpoint = Endpoint {
    name: "Bill Manager invoice cancellation",
    path: "/v1/billmanager-invoice/cancel-single-invoice",
};
const CANCEL_BULK: Endpoint = Endpoint {
    name: "Bill Manager bulk invoice cancellation",
    path: "/v1/billmanager-invoice/cancel-bulk-invoices",
};
const ACKNOWLEDGE: Endpoint = Endpoint {
    name: "Bill Manager payment acknowledgement",
    path: "/v1/billmanager-invoice/reconciliation",
};

/// The most invoices one bulk request may carry.
pub const BULK_INVOICES_MAX: usize = 1000;

/// The answer Bill Manager expects to a payment pushed to the callback URL.
pub const BILL_MANAGER_ACK: &str = r#"{"resmsg":"Success","rescode":"200"}"#;

/// A paybill's Bill Manager settings (opt-in, or a change of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillManagerOptIn {
    /// The paybill; `None` uses the settings' shortcode.
    pub shortcode: Option<String>,
    /// The organisation's email, shown on invoices and receipts.
    pub email: String,
    /// The organisation's phone, shown on invoices and receipts.
    pub official_contact: Msisdn,
    /// Send SMS reminders 7 and 3 days before and on the due date.
    pub send_reminders: bool,
    /// The logo embedded in invoices and receipts (as Bill Manager takes it), if any.
    pub logo: Option<String>,
    /// Where Bill Manager pushes the payments of invoices ([`BillManagerPayment`]).
    pub callback_url: Url,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OptInBody<'a> {
    shortcode: &'a str,
    email: &'a str,
    official_contact: String,
    send_reminders: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    logo: Option<&'a str>,
    #[serde(rename = "callbackurl")]
    callback_url: &'a str,
}

/// Bill Manager's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillManagerAnswer {
    /// `200` on success.
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub rescode: String,
    /// `Success`, `Conflict`, …
    #[serde(default)]
    pub resmsg: String,
    /// A longer message (`Invoice sent successfully`), when sent.
    #[serde(rename = "Status_Message", default)]
    pub status_message: Option<String>,
    /// The app key issued at opt-in (a credential for Bill Manager: kept secret).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_secret"
    )]
    pub app_key: Option<Secret<String>>,
}

/// A secret read from an answer (`Secret` itself is never deserialised implicitly).
fn opt_secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Secret<String>>, D::Error> {
    Ok(Option::<String>::deserialize(d)?
        .filter(|s| !s.is_empty())
        .map(Secret::new))
}

/// One billed line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceItem {
    /// What it is.
    pub name: String,
    /// How much, whole shillings.
    pub amount: Money,
}

/// An e-invoice sent by SMS to a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// Your unique reference for it (cancellations name it).
    pub external_reference: String,
    /// The customer's name, shown in the SMS.
    pub billed_full_name: String,
    /// The Safaricom number the invoice goes to.
    pub billed_phone: Msisdn,
    /// The period billed (`August 2021`).
    pub billed_period: String,
    /// What is billed (`Water supply`).
    pub invoice_name: String,
    /// When it is due.
    pub due_date: NaiveDate,
    /// The account number the customer pays to.
    pub account_reference: String,
    /// The total, whole shillings.
    pub amount: Money,
    /// The billed lines, if any.
    pub items: Vec<InvoiceItem>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvoiceBody<'a> {
    external_reference: &'a str,
    billed_full_name: &'a str,
    billed_phone_number: String,
    billed_period: &'a str,
    invoice_name: &'a str,
    due_date: String,
    account_reference: &'a str,
    amount: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    invoice_items: Vec<ItemBody<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemBody<'a> {
    item_name: &'a str,
    amount: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelBody<'a> {
    external_reference: &'a str,
}

/// What you tell Bill Manager once a pushed payment is reconciled: the customer then gets an
/// e-receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAcknowledgement {
    /// When it was paid.
    pub payment_date: NaiveDate,
    /// How much, whole shillings.
    pub paid_amount: Money,
    /// The account paid to.
    pub account_reference: String,
    /// The M-PESA transaction id.
    pub transaction_id: String,
    /// The customer's phone.
    pub phone: Msisdn,
    /// The customer's name.
    pub full_name: String,
    /// The invoice's name.
    pub invoice_name: String,
    /// The invoice's external reference.
    pub external_reference: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AcknowledgeBody<'a> {
    payment_date: String,
    paid_amount: String,
    account_reference: &'a str,
    transaction_id: &'a str,
    phone_number: String,
    full_name: &'a str,
    invoice_name: &'a str,
    external_reference: &'a str,
}

/// Bill Manager writes phones the local way (`07XXXXXXXX`).
fn local(phone: &Msisdn) -> String {
    format!("0{}", &phone.as_str()[3..])
}

fn check_answer(endpoint: Endpoint, answer: BillManagerAnswer) -> Result<BillManagerAnswer, MpesaError> {
    if answer.rescode.trim() == "200" {
        return Ok(answer);
    }
    Err(MpesaError::Rejected {
        operation: endpoint.name,
        response_code: answer.rescode,
        description: match &answer.status_message {
            Some(m) if !m.is_empty() => format!("{}: {m}", answer.resmsg),
            _ => answer.resmsg,
        },
    })
}

fn invoice_body(invoice: &Invoice) -> Result<InvoiceBody<'_>, MpesaError> {
    validate::text("externalReference", &invoice.external_reference, 1, 100)?;
    validate::text("billedFullName", &invoice.billed_full_name, 1, 100)?;
    validate::text("billedPeriod", &invoice.billed_period, 1, 50)?;
    validate::text("invoiceName", &invoice.invoice_name, 1, 100)?;
    validate::text("accountReference", &invoice.account_reference, 1, 20)?;
    let amount = validate::whole_shillings("amount", invoice.amount)?;
    let mut items = Vec::with_capacity(invoice.items.len());
    for item in &invoice.items {
        validate::text("itemName", &item.name, 1, 100)?;
        items.push(ItemBody {
            item_name: &item.name,
            amount: validate::whole_shillings("invoiceItems.amount", item.amount)?.to_string(),
        });
    }
    Ok(InvoiceBody {
        external_reference: &invoice.external_reference,
        billed_full_name: &invoice.billed_full_name,
        billed_phone_number: local(&invoice.billed_phone),
        billed_period: &invoice.billed_period,
        invoice_name: &invoice.invoice_name,
        due_date: invoice.due_date.format("%Y-%m-%d").to_string(),
        account_reference: &invoice.account_reference,
        amount: amount.to_string(),
        invoice_items: items,
    })
}

impl MpesaClient {
    async fn opt_in_call(
        &self,
        endpoint: Endpoint,
        request: &BillManagerOptIn,
    ) -> Result<BillManagerAnswer, MpesaError> {
        let shortcode = request.shortcode.as_deref().unwrap_or(&self.settings().shortcode);
        validate::digits("shortcode", shortcode)?;
        if !request.email.contains('@') {
            return Err(validate::invalid(
                "email",
                format!("{:?} is not an email address", request.email),
            ));
        }
        validate::text("email", &request.email, 3, 100)?;
        validate::callback_url("callbackurl", &request.callback_url)?;
        let body = OptInBody {
            shortcode,
            email: &request.email,
            official_contact: local(&request.official_contact),
            send_reminders: if request.send_reminders { "1" } else { "0" },
            logo: request.logo.as_deref(),
            callback_url: request.callback_url.as_str(),
        };
        check_answer(endpoint, self.post(endpoint, &body, Retry::Safe).await?)
    }

    /// Opts the paybill in to Bill Manager (retried on transient failures: opting in twice is
    /// harmless). The answer's `app_key` is kept secret.
    pub async fn bill_manager_opt_in(
        &self,
        request: &BillManagerOptIn,
    ) -> Result<BillManagerAnswer, MpesaError> {
        self.opt_in_call(OPT_IN, request).await
    }

    /// Changes the paybill's Bill Manager settings.
    pub async fn bill_manager_change_opt_in(
        &self,
        request: &BillManagerOptIn,
    ) -> Result<BillManagerAnswer, MpesaError> {
        self.opt_in_call(CHANGE_OPT_IN, request).await
    }

    /// Sends one e-invoice. Sent once (the customer gets an SMS each time).
    pub async fn bill_manager_invoice(&self, invoice: &Invoice) -> Result<BillManagerAnswer, MpesaError> {
        let body = invoice_body(invoice)?;
        check_answer(SINGLE, self.post(SINGLE, &body, Retry::Once).await?)
    }

    /// Sends up to [`BULK_INVOICES_MAX`] e-invoices at once. Sent once.
    pub async fn bill_manager_bulk_invoices(
        &self,
        invoices: &[Invoice],
    ) -> Result<BillManagerAnswer, MpesaError> {
        if invoices.is_empty() || invoices.len() > BULK_INVOICES_MAX {
            return Err(validate::invalid(
                "invoices",
                format!(
                    "{} invoices; send 1 to {BULK_INVOICES_MAX} at once",
                    invoices.len()
                ),
            ));
        }
        let body = invoices.iter().map(invoice_body).collect::<Result<Vec<_>, _>>()?;
        check_answer(BULK, self.post(BULK, &body, Retry::Once).await?)
    }

    /// Cancels an unpaid invoice by its external reference (a paid or partly paid one cannot
    /// be: Bill Manager answers 409). Retried on transient failures.
    pub async fn bill_manager_cancel_invoice(
        &self,
        external_reference: &str,
    ) -> Result<BillManagerAnswer, MpesaError> {
        validate::text("externalReference", external_reference, 1, 100)?;
        let body = CancelBody { external_reference };
        check_answer(CANCEL, self.post(CANCEL, &body, Retry::Safe).await?)
    }

    /// Cancels several unpaid invoices by their external references.
    pub async fn bill_manager_cancel_invoices(
        &self,
        external_references: &[&str],
    ) -> Result<BillManagerAnswer, MpesaError> {
        if external_references.is_empty() || external_references.len() > BULK_INVOICES_MAX {
            return Err(validate::invalid(
                "externalReference",
                format!(
                    "{} references; give 1 to {BULK_INVOICES_MAX}",
                    external_references.len()
                ),
            ));
        }
        let mut body = Vec::with_capacity(external_references.len());
        for r in external_references {
            validate::text("externalReference", r, 1, 100)?;
            body.push(CancelBody {
                external_reference: r,
            });
        }
        check_answer(CANCEL_BULK, self.post(CANCEL_BULK, &body, Retry::Safe).await?)
    }

    /// Acknowledges a reconciled payment so Bill Manager sends the customer an e-receipt.
    pub async fn bill_manager_acknowledge(
        &self,
        ack: &PaymentAcknowledgement,
    ) -> Result<BillManagerAnswer, MpesaError> {
        let amount = validate::whole_shillings("paidAmount", ack.paid_amount)?;
        validate::transaction_id("transactionId", &ack.transaction_id)?;
        validate::text("accountReference", &ack.account_reference, 1, 20)?;
        validate::text("fullName", &ack.full_name, 1, 100)?;
        validate::text("invoiceName", &ack.invoice_name, 1, 100)?;
        validate::text("externalReference", &ack.external_reference, 1, 100)?;
        let body = AcknowledgeBody {
            payment_date: ack.payment_date.format("%Y-%m-%d").to_string(),
            paid_amount: amount.to_string(),
            account_reference: &ack.account_reference,
            transaction_id: &ack.transaction_id,
            phone_number: local(&ack.phone),
            full_name: &ack.full_name,
            invoice_name: &ack.invoice_name,
            external_reference: &ack.external_reference,
        };
        check_answer(ACKNOWLEDGE, self.post(ACKNOWLEDGE, &body, Retry::Safe).await?)
    }
}

/// A payment Bill Manager pushes to the opt-in callback URL (answer it with
/// [`BILL_MANAGER_ACK`]; Bill Manager tries five times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillManagerPayment {
    /// The M-PESA transaction id.
    #[serde(deserialize_with = "string_or_number_default")]
    pub transaction_id: String,
    /// The amount paid, as sent.
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub paid_amount: String,
    /// The payer's number.
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub msisdn: String,
    /// When it was recorded (`2021-09-15`).
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub date_created: String,
    /// The account paid to.
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub account_reference: String,
    /// The paybill paid.
    #[serde(default, deserialize_with = "string_or_number_default")]
    pub short_code: String,
}

impl BillManagerPayment {
    /// The amount in KES, when it is a valid amount.
    pub fn amount(&self) -> Option<Money> {
        Money::parse(self.paid_amount.trim(), Currency::Kes).ok()
    }

    /// The payer's number, when it is a whole Kenyan number.
    pub fn phone(&self) -> Option<Msisdn> {
        self.msisdn.trim().parse().ok()
    }

    /// The unique key of this push (Bill Manager retries it): `billmanager:<transactionId>`.
    pub fn dedup_key(&self) -> String {
        format!("billmanager:{}", self.transaction_id.trim())
    }
}

/// Parses a payment pushed by Bill Manager.
pub fn parse_bill_manager_payment(body: &[u8]) -> Result<BillManagerPayment, CallbackError> {
    const KIND: &str = "bill_manager_payment";
    let value = crate::callback::json_object(KIND, body)?;
    let payment: BillManagerPayment =
        serde_json::from_value(value).map_err(|source| CallbackError::Malformed {
            kind: KIND,
            path: ".".into(),
            source,
        })?;
    if payment.transaction_id.trim().is_empty() {
        return Err(CallbackError::MissingId {
            kind: KIND,
            field: "transactionId",
        });
    }
    Ok(payment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_payment_push_parses() {
        let body = br#"{"transactionId":"RJB53MYR1N","paidAmount":"5000","msisdn":254722000000,"dateCreated":"2021-10-01","accountReference":"BC001","shortCode":"456545"}"#;
        let p = parse_bill_manager_payment(body).unwrap();
        assert_eq!(p.amount(), Some(Money::from_minor(500_000, Currency::Kes)));
        assert_eq!(
            p.phone().map(|m| m.as_str().to_string()),
            Some("254722000000".into())
        );
        assert_eq!(p.dedup_key(), "billmanager:RJB53MYR1N");
        assert!(matches!(
            parse_bill_manager_payment(br#"{"transactionId":""}"#),
            Err(CallbackError::MissingId { .. })
        ));
    }

    #[test]
    fn an_answer_other_than_200_is_a_refusal_with_bill_managers_words() {
        let answer: BillManagerAnswer = serde_json::from_str(
            r#"{"Status_Message":"partially or fully paid invoices cannot be cancelled.","resmsg":"Conflict","rescode":"409","errors":[]}"#,
        )
        .unwrap();
        let e = check_answer(CANCEL, answer).unwrap_err();
        assert!(
            e.to_string().contains("409") && e.to_string().contains("cannot be cancelled"),
            "{e}"
        );
    }

    #[test]
    fn the_app_key_is_never_printed() {
        let answer: BillManagerAnswer = serde_json::from_str(
            r#"{"app_key":"AG_2376487236_126732989KJ","resmsg":"Success","rescode":"200"}"#,
        )
        .unwrap();
        assert!(!format!("{answer:?}").contains("126732989KJ"));
        assert!(!serde_json::to_string(&answer).unwrap().contains("126732989KJ"));
        assert_eq!(answer.app_key.unwrap().expose(), "AG_2376487236_126732989KJ");
    }
}
