//! `malipo mpesa ratiba`, `malipo mpesa b2b-express` and `malipo mpesa bill-manager …`: the
//! Daraja products whose answer is an acknowledgement (the outcome is POSTed to a callback URL
//! later) or Bill Manager's `rescode`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use malipo_core::{Currency, Money, Msisdn};
use malipo_mpesa::{
    B2bExpressRequest, BillManagerAnswer, BillManagerOptIn, Invoice, InvoiceItem, MpesaClient,
    PaymentAcknowledgement, RatibaFrequency, RatibaPayee, StandingOrderRequest,
};
use serde_json::Value;
use url::Url;

use super::{kes, Failure, Output};

/// Arguments of `malipo mpesa ratiba`.
#[derive(Debug, Args)]
pub(super) struct RatibaArgs {
    /// The standing order's name, up to 100 characters; unique per customer (one customer
    /// cannot have two standing orders with one name).
    #[arg(long)]
    name: String,
    /// The first day it pays: 2026-12-05 (or 20261205).
    #[arg(long, value_parser = parse_date, value_name = "DATE")]
    start: NaiveDate,
    /// The day it stops, after --start: 2027-12-05 (or 20271205).
    #[arg(long, value_parser = parse_date, value_name = "DATE")]
    end: NaiveDate,
    /// How often it pays (Daraja's Frequency; its codes 1 to 8 are accepted too).
    #[arg(long, value_enum)]
    frequency: Frequency,
    /// Each payment, in whole Kenyan shillings, such as 500 (M-Pesa refuses cents).
    #[arg(long)]
    amount: String,
    /// The paying customer's phone: 0712345678, 254712345678 or +254712345678. They approve
    /// the standing order with their M-PESA PIN.
    #[arg(long)]
    phone: Msisdn,
    /// The account number each payment carries at the paybill (AccountReference), at most 12
    /// characters. Required unless --till.
    #[arg(long, required_unless_present = "till", conflicts_with = "till")]
    account_reference: Option<String>,
    /// Pay a till (Buy Goods) instead of the paybill: the configured mpesa.till_number, or
    /// the till given here.
    #[arg(long, value_name = "TILL", num_args = 0..=1, default_missing_value = "")]
    till: Option<String>,
    /// The paybill paid (BusinessShortCode) [default: mpesa.shortcode]
    #[arg(long, conflicts_with = "till")]
    shortcode: Option<String>,
    /// Where Daraja POSTs the outcome once the customer has answered (https in production).
    #[arg(long, value_name = "URL")]
    callback_url: Url,
    /// TransactionDesc, at most 13 characters.
    #[arg(long, default_value = "Subscription")]
    description: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Frequency {
    /// 1: pays once, on --start.
    #[value(alias = "1")]
    OneOff,
    /// 2: every day.
    #[value(alias = "2")]
    Daily,
    /// 3: every week.
    #[value(alias = "3")]
    Weekly,
    /// 4: every month.
    #[value(alias = "4")]
    Monthly,
    /// 5: every two months.
    #[value(alias = "5")]
    BiMonthly,
    /// 6: every three months.
    #[value(alias = "6")]
    Quarterly,
    /// 7: every six months.
    #[value(alias = "7")]
    HalfYearly,
    /// 8: every year.
    #[value(alias = "8")]
    Yearly,
}

impl From<Frequency> for RatibaFrequency {
    fn from(f: Frequency) -> Self {
        match f {
            Frequency::OneOff => RatibaFrequency::OneOff,
            Frequency::Daily => RatibaFrequency::Daily,
            Frequency::Weekly => RatibaFrequency::Weekly,
            Frequency::Monthly => RatibaFrequency::Monthly,
            Frequency::BiMonthly => RatibaFrequency::BiMonthly,
            Frequency::Quarterly => RatibaFrequency::Quarterly,
            Frequency::HalfYearly => RatibaFrequency::HalfYearly,
            Frequency::Yearly => RatibaFrequency::Yearly,
        }
    }
}

/// Arguments of `malipo mpesa b2b-express`.
#[derive(Debug, Args)]
pub(super) struct B2bExpressArgs {
    /// The merchant's till that pays (primaryShortCode): its operator gets the USSD prompt.
    #[arg(long, value_name = "TILL")]
    merchant_till: String,
    /// The paybill receiving the money (receiverShortCode) [default: mpesa.shortcode]
    #[arg(long, value_name = "SHORTCODE")]
    receiver: Option<String>,
    /// Amount in whole Kenyan shillings, such as 5000 (M-Pesa refuses cents).
    #[arg(long)]
    amount: String,
    /// The payment's reference shown to the merchant (paymentRef), up to 100 characters.
    #[arg(long, value_name = "REF")]
    payment_reference: String,
    /// Your name as the merchant knows you (partnerName), shown in the prompt, up to 100
    /// characters.
    #[arg(long, value_name = "NAME")]
    partner_name: String,
    /// Where Daraja POSTs the outcome: paid, or 4001 when the merchant cancels.
    #[arg(long, value_name = "URL")]
    callback_url: Url,
    /// RequestRefID, which the callback carries as requestId [default: a random UUID]
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
}

/// `malipo mpesa bill-manager …`.
#[derive(Debug, Subcommand)]
pub(super) enum BillManagerCommand {
    /// Opt the paybill in to Bill Manager (first, once; repeating it is harmless). Prints
    /// whether an app key was issued (the key itself only with --show-app-key).
    OptIn(OptInArgs),
    /// Change the paybill's Bill Manager details; every detail is sent again, so give them
    /// all (a missing --send-reminders turns reminders off).
    UpdateOptIn(OptInArgs),
    /// Send one e-invoice by SMS to a customer.
    Invoice(InvoiceArgs),
    /// Send up to 1,000 e-invoices at once from a JSON or CSV file.
    BulkInvoice(BulkInvoiceArgs),
    /// Cancel an unpaid invoice (Bill Manager refuses, with 409, to cancel a paid or partly
    /// paid one).
    Cancel(CancelArgs),
    /// Cancel several unpaid invoices.
    BulkCancel(BulkCancelArgs),
    /// Acknowledge a payment Bill Manager pushed to the callback URL, once reconciled: the
    /// customer then gets an e-receipt.
    Acknowledge(AcknowledgeArgs),
}

#[derive(Debug, Args)]
pub(super) struct OptInArgs {
    /// The organisation's email, shown on invoices and receipts.
    #[arg(long)]
    email: String,
    /// The organisation's phone, shown on invoices and receipts: 0712345678, 254712345678 or
    /// +254712345678.
    #[arg(long, value_name = "PHONE")]
    official_contact: Msisdn,
    /// Send customers SMS reminders 7 and 3 days before the due date and on it.
    #[arg(long)]
    send_reminders: bool,
    /// The logo on invoices and receipts, as Bill Manager takes it (a JPEG image's URL).
    #[arg(long, value_name = "LOGO")]
    logo: Option<String>,
    /// Where Bill Manager POSTs the payments of invoices (https in production).
    #[arg(long, value_name = "URL")]
    callback_url: Url,
    /// The paybill [default: mpesa.shortcode]
    #[arg(long)]
    shortcode: Option<String>,
    /// Print the app key Bill Manager issues. It is a credential: keep it out of logs.
    #[arg(long)]
    show_app_key: bool,
}

#[derive(Debug, Args)]
pub(super) struct InvoiceArgs {
    /// Your unique reference for the invoice (externalReference); cancellations name it.
    #[arg(long, value_name = "REF")]
    external_reference: String,
    /// The customer's full name, shown in the SMS (billedFullName).
    #[arg(long)]
    name: String,
    /// The Safaricom number the invoice goes to: 0712345678, 254712345678 or +254712345678.
    #[arg(long)]
    phone: Msisdn,
    /// The period billed, such as "December 2026" (billedPeriod), up to 50 characters.
    #[arg(long)]
    period: String,
    /// What is billed, such as "Water supply" (invoiceName).
    #[arg(long)]
    invoice_name: String,
    /// When it is due: 2026-12-31.
    #[arg(long, value_parser = parse_date, value_name = "DATE")]
    due: NaiveDate,
    /// The account number the customer pays to (accountReference), up to 20 characters.
    #[arg(long)]
    account_reference: String,
    /// The total, in whole Kenyan shillings.
    #[arg(long)]
    amount: String,
    /// A billed line, NAME=AMOUNT in whole shillings, such as "Water=1000"; repeat it for
    /// each line.
    #[arg(long = "item", value_name = "NAME=AMOUNT", value_parser = parse_item)]
    items: Vec<InvoiceItem>,
}

#[derive(Debug, Args)]
pub(super) struct BulkInvoiceArgs {
    /// The invoices, `-` for standard input: a JSON array of Daraja's invoice objects
    /// (externalReference, billedFullName, billedPhoneNumber, billedPeriod, invoiceName,
    /// dueDate, accountReference, amount, invoiceItems [{itemName, amount}]), or a CSV file
    /// whose header names those columns (invoiceItems as "Water=1000;Sewer=500"). Amounts in
    /// whole shillings.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(Debug, Args)]
pub(super) struct CancelArgs {
    /// The invoice's external reference.
    #[arg(value_name = "REF")]
    external_reference: String,
}

#[derive(Debug, Args)]
pub(super) struct BulkCancelArgs {
    /// The invoices' external references.
    #[arg(value_name = "REF", required_unless_present = "file")]
    external_references: Vec<String>,
    /// Read the references from a file (`-` for standard input): one a line, a CSV with an
    /// externalReference column, or a JSON array (of references, or of invoices, such as the
    /// bulk-invoice file).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct AcknowledgeArgs {
    /// The M-PESA transaction id of the payment (transactionId), such as RJB53MYR1N.
    #[arg(long, value_name = "ID")]
    transaction_id: String,
    /// The amount paid, in whole Kenyan shillings (paidAmount).
    #[arg(long)]
    amount: String,
    /// When it was paid (paymentDate) [default: today in Nairobi]
    #[arg(long, value_parser = parse_date, value_name = "DATE")]
    paid_on: Option<NaiveDate>,
    /// The account paid to (accountReference).
    #[arg(long)]
    account_reference: String,
    /// The customer's phone: 0712345678, 254712345678 or +254712345678.
    #[arg(long)]
    phone: Msisdn,
    /// The customer's full name (fullName).
    #[arg(long)]
    name: String,
    /// The invoice's name (invoiceName).
    #[arg(long)]
    invoice_name: String,
    /// The invoice's external reference (externalReference).
    #[arg(long, value_name = "REF")]
    external_reference: String,
}

/// `2026-12-05`, `20261205`, or a date followed by a time (`2026-12-05 00:00:00`).
fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    let day = s.split([' ', 'T']).next().unwrap_or(s);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(day, "%Y%m%d"))
        .map_err(|_| format!("{s:?} is not a date like 2026-12-05"))
}

/// `Water=1000`: the name, then the amount in whole shillings after the last `=`.
fn parse_item(s: &str) -> Result<InvoiceItem, String> {
    let (name, amount) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=AMOUNT, such as Water=1000"))?;
    let amount =
        Money::parse(amount.trim(), Currency::Kes).map_err(|e| format!("the amount of {s:?}: {e}"))?;
    Ok(InvoiceItem {
        name: name.trim().to_string(),
        amount,
    })
}

/// The till given, or the configured one for a bare `--till`.
fn till_or_configured(client: &MpesaClient, till: String) -> anyhow::Result<String> {
    if !till.is_empty() {
        return Ok(till);
    }
    client
        .settings()
        .till_number
        .clone()
        .context("--till without a value needs mpesa.till_number in the configuration")
}

/// Runs `malipo mpesa ratiba`.
pub(super) async fn ratiba(client: &MpesaClient, a: RatibaArgs) -> Result<Output, Failure> {
    let (shortcode, payee) = match a.till {
        Some(till) => (Some(till_or_configured(client, till)?), RatibaPayee::Till),
        None => (
            a.shortcode,
            RatibaPayee::Paybill {
                account_reference: a.account_reference.unwrap_or_default(),
            },
        ),
    };
    let request = StandingOrderRequest {
        name: a.name,
        start: a.start,
        end: a.end,
        shortcode,
        payee,
        amount: kes(&a.amount)?,
        phone: a.phone,
        callback_url: a.callback_url,
        description: a.description,
        frequency: a.frequency.into(),
    };
    let r = client.ratiba_standing_order(&request).await?;
    let text = format!(
        "standing order {:?} sent to {} for approval: {}\n  responseRefID: {}\n  {} {} from {} to {}\n  the customer approves it with their M-PESA PIN; the outcome will be POSTed to {}",
        request.name,
        request.phone,
        r.response_description,
        r.response_ref_id.as_deref().unwrap_or("-"),
        request.amount,
        a.frequency
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string()),
        request.start,
        request.end,
        request.callback_url,
    );
    Ok(Output::new(&r, text)?)
}

/// Runs `malipo mpesa b2b-express`.
pub(super) async fn b2b_express(client: &MpesaClient, a: B2bExpressArgs) -> Result<Output, Failure> {
    let request = B2bExpressRequest {
        primary_shortcode: a.merchant_till,
        receiver_shortcode: a.receiver,
        amount: kes(&a.amount)?,
        payment_ref: a.payment_reference,
        callback_url: a.callback_url,
        partner_name: a.partner_name,
        request_ref_id: a.request_id,
    };
    let r = client.b2b_express_checkout(&request).await?;
    let receiver = request
        .receiver_shortcode
        .as_deref()
        .unwrap_or(&client.settings().shortcode);
    let text = format!(
        "USSD prompt sent to till {} to pay {} to {receiver}: {}\n  RequestRefID: {}\n  the outcome will be POSTed to {}",
        request.primary_shortcode, request.amount, r.status, r.request_ref_id, request.callback_url,
    );
    Ok(Output::new(&r, text)?)
}

/// Runs `malipo mpesa bill-manager …`.
pub(super) async fn bill_manager(
    client: &MpesaClient,
    command: BillManagerCommand,
) -> Result<Output, Failure> {
    Ok(match command {
        BillManagerCommand::OptIn(a) => opt_in(client, a, false).await?,
        BillManagerCommand::UpdateOptIn(a) => opt_in(client, a, true).await?,
        BillManagerCommand::Invoice(a) => {
            let invoice = Invoice {
                external_reference: a.external_reference,
                billed_full_name: a.name,
                billed_phone: a.phone,
                billed_period: a.period,
                invoice_name: a.invoice_name,
                due_date: a.due,
                account_reference: a.account_reference,
                amount: kes(&a.amount)?,
                items: a.items,
            };
            warn_if_items_differ(&invoice, "");
            let r = client.bill_manager_invoice(&invoice).await?;
            let text = format!(
                "invoice {} sent to {} ({}, due {}): {}",
                invoice.external_reference,
                invoice.billed_phone,
                invoice.amount,
                invoice.due_date,
                said(&r)
            );
            Output::new(&r, text)?
        }
        BillManagerCommand::BulkInvoice(a) => {
            let invoices = read_invoices(&a.file)?;
            let r = client.bill_manager_bulk_invoices(&invoices).await?;
            let total = invoices
                .iter()
                .try_fold(Money::from_minor(0, Currency::Kes), |sum, i| {
                    sum.checked_add(i.amount)
                })
                .context("the invoices' total")?;
            let text = format!(
                "{} invoice{} sent from {} (total {total}): {}",
                invoices.len(),
                if invoices.len() == 1 { "" } else { "s" },
                a.file.display(),
                said(&r)
            );
            Output::new(&r, text)?
        }
        BillManagerCommand::Cancel(a) => {
            let r = client.bill_manager_cancel_invoice(&a.external_reference).await?;
            Output::new(
                &r,
                format!("invoice {} cancelled: {}", a.external_reference, said(&r)),
            )?
        }
        BillManagerCommand::BulkCancel(a) => {
            let mut references = a.external_references;
            if let Some(file) = &a.file {
                references.extend(read_references(file)?);
            }
            let mut seen = HashSet::new();
            references.retain(|r| seen.insert(r.clone()));
            let refs: Vec<&str> = references.iter().map(String::as_str).collect();
            let r = client.bill_manager_cancel_invoices(&refs).await?;
            let text = format!(
                "{} invoice{} cancelled ({}): {}",
                refs.len(),
                if refs.len() == 1 { "" } else { "s" },
                refs.join(", "),
                said(&r)
            );
            Output::new(&r, text)?
        }
        BillManagerCommand::Acknowledge(a) => {
            let ack = PaymentAcknowledgement {
                payment_date: a.paid_on.unwrap_or_else(nairobi_today),
                paid_amount: kes(&a.amount)?,
                account_reference: a.account_reference,
                transaction_id: a.transaction_id,
                phone: a.phone,
                full_name: a.name,
                invoice_name: a.invoice_name,
                external_reference: a.external_reference,
            };
            let r = client.bill_manager_acknowledge(&ack).await?;
            let text = format!(
                "payment {} ({} on {}) acknowledged for invoice {}: {}\n  Bill Manager sends {} an e-receipt",
                ack.transaction_id,
                ack.paid_amount,
                ack.payment_date,
                ack.external_reference,
                said(&r),
                ack.phone,
            );
            Output::new(&r, text)?
        }
    })
}

async fn opt_in(client: &MpesaClient, a: OptInArgs, change: bool) -> Result<Output, Failure> {
    let request = BillManagerOptIn {
        shortcode: a.shortcode,
        email: a.email,
        official_contact: a.official_contact,
        send_reminders: a.send_reminders,
        logo: a.logo,
        callback_url: a.callback_url,
    };
    let r = if change {
        client.bill_manager_change_opt_in(&request).await?
    } else {
        client.bill_manager_opt_in(&request).await?
    };
    let shortcode = request
        .shortcode
        .as_deref()
        .unwrap_or(&client.settings().shortcode);
    let mut text = format!(
        "paybill {shortcode} {} Bill Manager: {}\n  payments of invoices will be POSTed to {}\n  reminders: {}",
        if change { "updated its details at" } else { "opted in to" },
        said(&r),
        request.callback_url,
        if request.send_reminders { "on" } else { "off" },
    );
    let mut output = Output::new(&r, String::new())?;
    if let Some(json) = output.json.as_object_mut() {
        json.remove("app_key");
    }
    match (&r.app_key, a.show_app_key) {
        (Some(key), true) => {
            text.push_str(&format!("\n  app key: {}", key.expose()));
            output.json["app_key"] = Value::String(key.expose().clone());
        }
        (Some(_), false) => text.push_str("\n  an app key was issued (pass --show-app-key to print it)"),
        (None, _) => {}
    }
    output.text = text;
    Ok(output)
}

/// Bill Manager's message: `Success: Invoice sent successfully`.
fn said(a: &BillManagerAnswer) -> String {
    match a.status_message.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => format!("{}: {m}", a.resmsg),
        None => a.resmsg.clone(),
    }
}

/// Today's date in Nairobi (UTC+3), the date Bill Manager writes.
fn nairobi_today() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(3)).date_naive()
}

/// A warning on stderr when an invoice's lines do not add up to its amount.
fn warn_if_items_differ(invoice: &Invoice, place: &str) {
    if invoice.items.is_empty() {
        return;
    }
    let sum = invoice
        .items
        .iter()
        .try_fold(Money::from_minor(0, Currency::Kes), |s, i| {
            s.checked_add(i.amount)
        });
    if let Ok(sum) = sum {
        if sum != invoice.amount {
            eprintln!(
                "warning: {place}invoice {}: its items add up to {sum}, not its amount {}",
                invoice.external_reference, invoice.amount
            );
        }
    }
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    Ok(text.trim_start_matches('\u{feff}').to_string())
}

fn is_json(text: &str) -> bool {
    matches!(text.trim_start().chars().next(), Some('[' | '{'))
}

/// The invoices of a JSON or CSV file, checked and normalised (phones, amounts, dates); a
/// mistake names its row.
fn read_invoices(path: &Path) -> anyhow::Result<Vec<Invoice>> {
    let text = read_input(path)?;
    let name = path.display();
    let invoices = if is_json(&text) {
        let value: Value =
            serde_json::from_str(&text).with_context(|| format!("{name} is not valid JSON"))?;
        let Value::Array(rows) = value else {
            bail!("{name}: expected a JSON array of invoices");
        };
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                json_invoice(row).with_context(|| format!("{name}: invoice {} of the array", i + 1))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    } else {
        let records = csv_records(&text).with_context(|| format!("{name} is not valid CSV"))?;
        let Some((header, rows)) = records.split_first() else {
            bail!("{name} is empty: expected a header line and one invoice a line");
        };
        let header: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        for required in INVOICE_FIELDS {
            if !header.iter().any(|h| h == &required.to_ascii_lowercase()) {
                bail!(
                    "{name}: the header has no {required} column (it needs {})",
                    INVOICE_FIELDS.join(", ")
                );
            }
        }
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                let get = |field: &str| {
                    let field = field.to_ascii_lowercase();
                    header
                        .iter()
                        .position(|h| *h == field)
                        .and_then(|at| row.get(at))
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                };
                let items = match get("invoiceItems") {
                    Some(list) => list
                        .split(';')
                        .filter(|s| !s.trim().is_empty())
                        .map(parse_item)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| anyhow::anyhow!("invoiceItems: {e}")),
                    None => Ok(Vec::new()),
                };
                items
                    .and_then(|items| invoice_from(get, items))
                    .with_context(|| format!("{name}: row {} (line {} counting the header)", i + 1, i + 2))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let mut seen = HashSet::new();
    for (i, invoice) in invoices.iter().enumerate() {
        if !seen.insert(invoice.external_reference.as_str()) {
            bail!(
                "{name}: invoice {} repeats the externalReference {:?}; each invoice needs its own",
                i + 1,
                invoice.external_reference
            );
        }
        warn_if_items_differ(invoice, &format!("{name}: "));
    }
    Ok(invoices)
}

/// The fields every invoice has, as Daraja names them.
const INVOICE_FIELDS: [&str; 8] = [
    "externalReference",
    "billedFullName",
    "billedPhoneNumber",
    "billedPeriod",
    "invoiceName",
    "dueDate",
    "accountReference",
    "amount",
];

/// A JSON value as text: strings as they are, numbers written out.
fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A key of a JSON object, whatever its case.
fn json_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn json_invoice(row: &Value) -> anyhow::Result<Invoice> {
    if !row.is_object() {
        bail!("expected an object with {}", INVOICE_FIELDS.join(", "));
    }
    let items = match json_get(row, "invoiceItems") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let field = |f: &str| json_get(item, f).and_then(json_text);
                let name = field("itemName").with_context(|| format!("invoiceItems[{i}]: no itemName"))?;
                let amount = field("amount").with_context(|| format!("invoiceItems[{i}]: no amount"))?;
                Ok(InvoiceItem {
                    amount: Money::parse(&amount, Currency::Kes)
                        .with_context(|| format!("invoiceItems[{i}].amount {amount:?}"))?,
                    name,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        Some(_) => bail!("invoiceItems: expected an array of {{itemName, amount}}"),
    };
    invoice_from(|f| json_get(row, f).and_then(json_text), items)
}

/// An invoice from its fields by Daraja's names.
fn invoice_from(get: impl Fn(&str) -> Option<String>, items: Vec<InvoiceItem>) -> anyhow::Result<Invoice> {
    let field = |name: &str| get(name).with_context(|| format!("{name} is missing or empty"));
    let phone = field("billedPhoneNumber")?;
    let due = field("dueDate")?;
    let amount = field("amount")?;
    Ok(Invoice {
        external_reference: field("externalReference")?,
        billed_full_name: field("billedFullName")?,
        billed_phone: phone
            .parse()
            .with_context(|| format!("billedPhoneNumber {phone:?}"))?,
        billed_period: field("billedPeriod")?,
        invoice_name: field("invoiceName")?,
        due_date: parse_date(&due).map_err(|e| anyhow::anyhow!("dueDate: {e}"))?,
        account_reference: field("accountReference")?,
        amount: Money::parse(&amount, Currency::Kes).with_context(|| format!("amount {amount:?}"))?,
        items,
    })
}

/// The external references of a file: a JSON array (of references or invoice objects), a CSV
/// with an externalReference column, or one reference a line.
fn read_references(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = read_input(path)?;
    let name = path.display();
    if is_json(&text) {
        let value: Value =
            serde_json::from_str(&text).with_context(|| format!("{name} is not valid JSON"))?;
        let Value::Array(rows) = value else {
            bail!("{name}: expected a JSON array of external references");
        };
        return rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                json_text(row)
                    .or_else(|| json_get(row, "externalReference").and_then(json_text))
                    .with_context(|| {
                        format!(
                            "{name}: item {} is neither a reference nor an object with externalReference",
                            i + 1
                        )
                    })
            })
            .collect();
    }
    let records = csv_records(&text).with_context(|| format!("{name} is not valid CSV"))?;
    let column = records.first().and_then(|header| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case("externalReference"))
    });
    let rows = match column {
        Some(_) => &records[1..],
        None => &records[..],
    };
    rows.iter()
        .enumerate()
        .filter_map(|(i, row)| {
            let value = match column {
                Some(at) => row.get(at).map(|v| v.trim().to_string()),
                None if row.len() > 1 => {
                    return Some(Err(anyhow::anyhow!(
                        "{name}: line {} has several columns but the file has no externalReference header",
                        i + 1
                    )))
                }
                None => row.first().map(|v| v.trim().to_string()),
            };
            value.filter(|v| !v.is_empty() && !v.starts_with('#')).map(Ok)
        })
        .collect()
}

/// The records of a CSV text (RFC 4180: quoted fields may hold commas, quotes doubled, line
/// breaks); blank lines are skipped.
fn csv_records(text: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            c => field.push(c),
        }
    }
    if quoted {
        bail!("a quoted field is never closed");
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records.retain(|r: &Vec<String>| r.iter().any(|f| !f.trim().is_empty()));
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_commas_and_blank_lines() {
        let records = csv_records("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\n1,\n").unwrap();
        assert_eq!(
            records,
            vec![
                vec!["a".to_string(), "b".into()],
                vec!["x, y".into(), "say \"hi\"".into()],
                vec!["1".into(), String::new()],
            ]
        );
        assert!(csv_records("a,\"b\n").is_err());
    }

    #[test]
    fn dates_and_items_parse_or_say_what_is_expected() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert_eq!(parse_date("2026-12-05"), Ok(day));
        assert_eq!(parse_date("20261205"), Ok(day));
        assert_eq!(parse_date("2026-12-05 00:00:00.00"), Ok(day));
        assert!(parse_date("05/12/2026").unwrap_err().contains("like 2026-12-05"));
        let item = parse_item("Water = bill=1000").unwrap();
        assert_eq!(item.name, "Water = bill");
        assert_eq!(item.amount, Money::from_minor(100_000, Currency::Kes));
        assert!(parse_item("Water").unwrap_err().contains("NAME=AMOUNT"));
    }

    #[test]
    fn invoices_read_from_json_and_csv_alike() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("invoices.json");
        std::fs::write(
            &json,
            r#"[{"externalReference":"INV-1","billedFullName":"Jane Doe","billedPhoneNumber":"0712345678",
                "billedPeriod":"December 2026","invoiceName":"Water","dueDate":"2026-12-31",
                "accountReference":"ACC-1","amount":1500,
                "invoiceItems":[{"itemName":"Water","amount":"1000"},{"itemName":"Sewer","amount":500}]}]"#,
        )
        .unwrap();
        let csv = dir.path().join("invoices.csv");
        std::fs::write(
            &csv,
            "externalReference,billedFullName,billedPhoneNumber,billedPeriod,invoiceName,dueDate,accountReference,amount,invoiceItems\n\
             INV-1,Jane Doe,+254712345678,December 2026,Water,2026-12-31,ACC-1,1500,Water=1000;Sewer=500\n",
        )
        .unwrap();
        let from_json = read_invoices(&json).unwrap();
        assert_eq!(from_json, read_invoices(&csv).unwrap());
        assert_eq!(from_json[0].billed_phone.as_str(), "254712345678");
        assert_eq!(from_json[0].items.len(), 2);

        std::fs::write(
            &csv,
            "externalReference,billedFullName,billedPhoneNumber,billedPeriod,invoiceName,dueDate,accountReference,amount\n\
             INV-1,Jane Doe,0712345678,December 2026,Water,2026-12-31,ACC-1,1500\n\
             INV-2,John Doe,12345,December 2026,Water,2026-12-31,ACC-2,1500\n",
        )
        .unwrap();
        let e = format!("{:#}", read_invoices(&csv).unwrap_err());
        assert!(
            e.contains("row 2") && e.contains("billedPhoneNumber \"12345\""),
            "{e}"
        );
        std::fs::write(&csv, "externalReference,amount\nINV-1,10\n").unwrap();
        let e = format!("{:#}", read_invoices(&csv).unwrap_err());
        assert!(e.contains("no billedFullName column"), "{e}");
    }

    #[test]
    fn references_come_from_lines_csv_or_json() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("refs");
        std::fs::write(&file, "INV-1\n\n# a comment\nINV-2\n").unwrap();
        assert_eq!(read_references(&file).unwrap(), ["INV-1", "INV-2"]);
        std::fs::write(&file, "amount,externalReference\n10,INV-3\n").unwrap();
        assert_eq!(read_references(&file).unwrap(), ["INV-3"]);
        std::fs::write(&file, r#"["INV-4", {"externalReference": "INV-5"}]"#).unwrap();
        assert_eq!(read_references(&file).unwrap(), ["INV-4", "INV-5"]);
        std::fs::write(&file, "INV-1,INV-2\n").unwrap();
        assert!(read_references(&file).is_err());
    }
}
