//! Refunds: create (full or partial), fetch, list.

use futures::Stream;
use malipo_core::Money;
use reqwest::Method;
use serde::Serialize;

use crate::client::{Client, ListQuery, Page};
use crate::error::Error;
use crate::model::Refund;
use crate::transactions::non_empty;

/// What `POST /refund` needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreateRefund {
    /// The transaction's reference or numeric id.
    pub transaction: String,
    /// How much to refund; `None` refunds the whole transaction.
    pub amount: Option<Money>,
    /// Shown to the customer.
    pub customer_note: Option<String>,
    /// Kept for the merchant.
    pub merchant_note: Option<String>,
}

impl CreateRefund {
    /// A full refund of `transaction` (reference or id).
    pub fn full(transaction: impl Into<String>) -> Self {
        CreateRefund {
            transaction: transaction.into(),
            amount: None,
            customer_note: None,
            merchant_note: None,
        }
    }

    /// A partial refund of `amount`.
    pub fn partial(transaction: impl Into<String>, amount: Money) -> Self {
        CreateRefund {
            amount: Some(amount),
            ..CreateRefund::full(transaction)
        }
    }

    /// Sets the note shown to the customer.
    pub fn customer_note(mut self, note: impl Into<String>) -> Self {
        self.customer_note = Some(note.into());
        self
    }

    /// Sets the note kept for the merchant.
    pub fn merchant_note(mut self, note: impl Into<String>) -> Self {
        self.merchant_note = Some(note.into());
        self
    }
}

#[derive(Serialize)]
struct CreateRefundWire<'a> {
    transaction: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merchant_note: Option<&'a str>,
}

impl Client {
    /// Refunds a transaction fully or partly: `POST /refund`.
    pub async fn create_refund(&self, req: &CreateRefund) -> Result<Refund, Error> {
        non_empty("transaction", &req.transaction)?;
        let body = CreateRefundWire {
            transaction: &req.transaction,
            amount: req.amount.map(Money::minor),
            currency: req.amount.map(|m| m.currency().code()),
            customer_note: req.customer_note.as_deref(),
            merchant_note: req.merchant_note.as_deref(),
        };
        let request = self.http_request(Method::POST, &["refund"]).json(&body);
        self.send("POST /refund", request).await
    }

    /// One refund by id: `GET /refund/:id`.
    pub async fn fetch_refund(&self, id: u64) -> Result<Refund, Error> {
        let id = id.to_string();
        let request = self.http_request(Method::GET, &["refund", &id]);
        self.send("GET /refund/:id", request).await
    }

    /// One page of refunds: `GET /refund`.
    pub async fn list_refunds(&self, query: &ListQuery) -> Result<Page<Refund>, Error> {
        self.page("GET /refund", &["refund"], query).await
    }

    /// Every page of refunds from `query.page` on.
    pub fn refund_pages(&self, query: ListQuery) -> impl Stream<Item = Result<Page<Refund>, Error>> + '_ {
        self.pages("GET /refund", &["refund"], query)
    }
}
