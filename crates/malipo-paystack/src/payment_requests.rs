//! Payment requests (invoices sent to a customer): create, fetch, list, verify, notify,
//! finalize a draft, archive, totals.

use futures::Stream;
use malipo_core::Money;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, ListQuery};
use crate::de;
use crate::error::Error;
use crate::event_data::PaymentRequest;
use crate::model::money;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// One line of a payment request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LineItem {
    /// What it is.
    pub name: String,
    /// Price of one unit.
    pub amount: Money,
    /// How many.
    pub quantity: u32,
}

impl LineItem {
    /// `quantity` of `name` at `amount` each.
    pub fn new(name: impl Into<String>, amount: Money, quantity: u32) -> Self {
        LineItem {
            name: name.into(),
            amount,
            quantity,
        }
    }
}

/// What `POST /paymentrequest` needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreatePaymentRequest {
    /// The customer's `CUS_…` code or numeric id.
    pub customer: String,
    /// The total; when `None`, Paystack adds up the line items.
    pub amount: Option<Money>,
    /// What it is for.
    pub description: Option<String>,
    /// Due date (ISO 8601).
    pub due_date: Option<String>,
    /// The lines.
    pub line_items: Vec<LineItem>,
    /// Keep it as a draft (not sent) until finalized.
    pub draft: bool,
}

impl CreatePaymentRequest {
    /// A request to `customer` for `amount`.
    pub fn new(customer: impl Into<String>, amount: Money) -> Self {
        CreatePaymentRequest {
            customer: customer.into(),
            amount: Some(amount),
            description: None,
            due_date: None,
            line_items: Vec::new(),
            draft: false,
        }
    }

    /// A request to `customer` for the sum of `line_items`.
    pub fn itemized(customer: impl Into<String>, line_items: Vec<LineItem>) -> Self {
        CreatePaymentRequest {
            customer: customer.into(),
            amount: None,
            description: None,
            due_date: None,
            line_items,
            draft: false,
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the due date.
    pub fn due_date(mut self, date: impl Into<String>) -> Self {
        self.due_date = Some(date.into());
        self
    }

    /// Keeps it as a draft: Paystack sends nothing until [`Client::finalize_payment_request`].
    pub fn draft(mut self) -> Self {
        self.draft = true;
        self
    }
}

#[derive(Serialize)]
struct LineWire<'a> {
    name: &'a str,
    amount: u64,
    quantity: u32,
}

#[derive(Serialize)]
struct RequestWire<'a> {
    customer: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<u64>,
    currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    due_date: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    line_items: Vec<LineWire<'a>>,
    draft: bool,
}

/// An amount in one currency, as `GET /paymentrequest/totals` lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct CurrencyTotal {
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// Amount in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
}

impl CurrencyTotal {
    /// The total as [`Money`].
    pub fn amount(&self) -> Option<Money> {
        money(self.amount, self.currency.as_deref())
    }
}

/// What `GET /paymentrequest/totals` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct PaymentRequestTotals {
    /// Still to be paid, per currency.
    #[serde(default)]
    pub pending: Vec<CurrencyTotal>,
    /// Paid, per currency.
    #[serde(default)]
    pub successful: Vec<CurrencyTotal>,
    /// Both, per currency.
    #[serde(default)]
    pub total: Vec<CurrencyTotal>,
}

impl Client {
    /// Sends (or drafts) a payment request: `POST /paymentrequest`.
    pub async fn create_payment_request(&self, req: &CreatePaymentRequest) -> Result<PaymentRequest, Error> {
        non_empty("customer", &req.customer)?;
        let currency = match (&req.amount, req.line_items.first()) {
            (Some(amount), _) => amount.currency(),
            (None, Some(line)) => line.amount.currency(),
            (None, None) => {
                return Err(Error::InvalidRequest(
                    "a payment request needs an amount or at least one line item".to_string(),
                ))
            }
        };
        if let Some(other) = req.line_items.iter().find(|l| l.amount.currency() != currency) {
            return Err(Error::InvalidRequest(format!(
                "a payment request is in one currency: expected {currency}, found {} in line item {:?}",
                other.amount.currency(),
                other.name
            )));
        }
        let body = RequestWire {
            customer: &req.customer,
            amount: req.amount.map(Money::minor),
            currency: currency.code(),
            description: req.description.as_deref(),
            due_date: req.due_date.as_deref(),
            line_items: req
                .line_items
                .iter()
                .map(|l| LineWire {
                    name: &l.name,
                    amount: l.amount.minor(),
                    quantity: l.quantity,
                })
                .collect(),
            draft: req.draft,
        };
        let request = self.http_request(Method::POST, &["paymentrequest"]).json(&body);
        self.send("POST /paymentrequest", request).await
    }

    /// One payment request by numeric id or `PRQ_…` code: `GET /paymentrequest/:id_or_code`.
    pub async fn fetch_payment_request(&self, id_or_code: &str) -> Result<PaymentRequest, Error> {
        non_empty("payment request id or code", id_or_code)?;
        let request = self.http_request(Method::GET, &["paymentrequest", id_or_code]);
        self.send("GET /paymentrequest/:id_or_code", request).await
    }

    /// Every payment request, newest first, fetched a page at a time: `GET /paymentrequest`.
    /// `query.status` filters by status (`pending`, `success`, …).
    pub fn list_payment_requests(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<PaymentRequest, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /paymentrequest", &["paymentrequest"]).query(query))
    }

    /// A payment request's state with its customer expanded: `GET /paymentrequest/verify/:code`.
    pub async fn verify_payment_request(&self, code: &str) -> Result<PaymentRequest, Error> {
        non_empty("payment request code", code)?;
        let request = self.http_request(Method::GET, &["paymentrequest", "verify", code]);
        self.send("GET /paymentrequest/verify/:code", request).await
    }

    /// Emails the customer a reminder: `POST /paymentrequest/notify/:code`. Returns Paystack's
    /// `message`.
    pub async fn notify_payment_request(&self, code: &str) -> Result<String, Error> {
        non_empty("payment request code", code)?;
        let request = self.http_request(Method::POST, &["paymentrequest", "notify", code]);
        self.send_ack("POST /paymentrequest/notify/:code", request).await
    }

    /// Sends a draft: `POST /paymentrequest/finalize/:code`.
    pub async fn finalize_payment_request(&self, code: &str) -> Result<PaymentRequest, Error> {
        non_empty("payment request code", code)?;
        let request = self
            .http_request(Method::POST, &["paymentrequest", "finalize", code])
            .json(&serde_json::json!({ "send_notification": true }));
        self.send("POST /paymentrequest/finalize/:code", request).await
    }

    /// Hides a payment request from lists and stops it being paid:
    /// `POST /paymentrequest/archive/:code`. Returns Paystack's `message`.
    pub async fn archive_payment_request(&self, code: &str) -> Result<String, Error> {
        non_empty("payment request code", code)?;
        let request = self.http_request(Method::POST, &["paymentrequest", "archive", code]);
        self.send_ack("POST /paymentrequest/archive/:code", request).await
    }

    /// Pending and paid totals per currency: `GET /paymentrequest/totals`.
    pub async fn payment_request_totals(&self) -> Result<PaymentRequestTotals, Error> {
        let request = self.http_request(Method::GET, &["paymentrequest", "totals"]);
        self.send("GET /paymentrequest/totals", request).await
    }
}
