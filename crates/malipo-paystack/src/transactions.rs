//! Transactions: initialize a checkout, verify, fetch, list, charge a saved authorization.

use futures::Stream;
use malipo_core::Money;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, ListQuery, Page};
use crate::error::Error;
use crate::model::Transaction;

/// What `POST /transaction/initialize` needs: who pays and how much.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InitializeTransaction {
    /// The customer's email address (Paystack requires one).
    pub email: String,
    /// The amount; sent in minor units with its currency.
    pub amount: Money,
    /// Your unique reference; Paystack generates one when `None`.
    pub reference: Option<String>,
    /// Where Paystack sends the customer after paying (overrides the dashboard setting).
    pub callback_url: Option<String>,
    /// Anything to get back in the webhook and on verify.
    pub metadata: Option<Value>,
    /// Limit the channels offered (`card`, `bank`, `mobile_money`, `ussd`, …).
    pub channels: Option<Vec<String>>,
}

impl InitializeTransaction {
    /// A checkout for `amount` paid by `email`.
    pub fn new(email: impl Into<String>, amount: Money) -> Self {
        InitializeTransaction {
            email: email.into(),
            amount,
            reference: None,
            callback_url: None,
            metadata: None,
            channels: None,
        }
    }

    /// Sets your own unique reference.
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// Sets the URL the customer returns to.
    pub fn callback_url(mut self, url: impl Into<String>) -> Self {
        self.callback_url = Some(url.into());
        self
    }

    /// Attaches metadata.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Limits the payment channels offered.
    pub fn channels(mut self, channels: Vec<String>) -> Self {
        self.channels = Some(channels);
        self
    }
}

#[derive(Serialize)]
struct InitializeWire<'a> {
    email: &'a str,
    amount: u64,
    currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channels: Option<&'a [String]>,
}

/// Where to send the customer to pay.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct InitializedTransaction {
    /// The checkout page.
    pub authorization_url: String,
    /// The code for Paystack's inline/popup checkout.
    pub access_code: String,
    /// The transaction's reference (yours, or Paystack's when you gave none).
    pub reference: String,
}

/// What `POST /transaction/charge_authorization` needs: a returning customer's saved authorization.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChargeAuthorization {
    /// The email the authorization belongs to.
    pub email: String,
    /// The amount.
    pub amount: Money,
    /// `AUTH_…` code from an earlier successful, reusable charge.
    pub authorization_code: String,
    /// Your unique reference.
    pub reference: Option<String>,
    /// Anything to get back in the webhook and on verify.
    pub metadata: Option<Value>,
}

impl ChargeAuthorization {
    /// Charges `amount` to `authorization_code` of `email`.
    pub fn new(email: impl Into<String>, amount: Money, authorization_code: impl Into<String>) -> Self {
        ChargeAuthorization {
            email: email.into(),
            amount,
            authorization_code: authorization_code.into(),
            reference: None,
            metadata: None,
        }
    }

    /// Sets your own unique reference.
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// Attaches metadata.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

#[derive(Serialize)]
struct ChargeWire<'a> {
    email: &'a str,
    amount: u64,
    currency: &'static str,
    authorization_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Value>,
}

impl Client {
    /// Starts a checkout: `POST /transaction/initialize`.
    pub async fn initialize_transaction(
        &self,
        req: &InitializeTransaction,
    ) -> Result<InitializedTransaction, Error> {
        let body = InitializeWire {
            email: &req.email,
            amount: req.amount.minor(),
            currency: req.amount.currency().code(),
            reference: req.reference.as_deref(),
            callback_url: req.callback_url.as_deref(),
            metadata: req.metadata.as_ref(),
            channels: req.channels.as_deref(),
        };
        let request = self
            .http_request(Method::POST, &["transaction", "initialize"])
            .json(&body);
        self.send("POST /transaction/initialize", request).await
    }

    /// The transaction's current state, from Paystack: `GET /transaction/verify/:reference`.
    /// Call this before fulfilling an order; the webhook alone is not proof.
    pub async fn verify_transaction(&self, reference: &str) -> Result<Transaction, Error> {
        non_empty("reference", reference)?;
        let request = self.http_request(Method::GET, &["transaction", "verify", reference]);
        self.send("GET /transaction/verify/:reference", request).await
    }

    /// One transaction by Paystack's numeric id: `GET /transaction/:id`.
    pub async fn fetch_transaction(&self, id: u64) -> Result<Transaction, Error> {
        let id = id.to_string();
        let request = self.http_request(Method::GET, &["transaction", &id]);
        self.send("GET /transaction/:id", request).await
    }

    /// One page of transactions: `GET /transaction`.
    pub async fn list_transactions(&self, query: &ListQuery) -> Result<Page<Transaction>, Error> {
        self.page("GET /transaction", &["transaction"], query).await
    }

    /// Every page of transactions from `query.page` on, fetched as the stream is polled.
    pub fn transaction_pages(
        &self,
        query: ListQuery,
    ) -> impl Stream<Item = Result<Page<Transaction>, Error>> + '_ {
        self.pages("GET /transaction", &["transaction"], query)
    }

    /// Charges a returning customer's saved card or account:
    /// `POST /transaction/charge_authorization`.
    pub async fn charge_authorization(&self, req: &ChargeAuthorization) -> Result<Transaction, Error> {
        non_empty("authorization_code", &req.authorization_code)?;
        let body = ChargeWire {
            email: &req.email,
            amount: req.amount.minor(),
            currency: req.amount.currency().code(),
            authorization_code: &req.authorization_code,
            reference: req.reference.as_deref(),
            metadata: req.metadata.as_ref(),
        };
        let request = self
            .http_request(Method::POST, &["transaction", "charge_authorization"])
            .json(&body);
        self.send("POST /transaction/charge_authorization", request).await
    }
}

/// Refuses an empty path parameter, which would silently address another endpoint.
pub(crate) fn non_empty(what: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        Err(Error::InvalidRequest(format!(
            "the {what} is empty: expected a non-empty value"
        )))
    } else {
        Ok(())
    }
}
