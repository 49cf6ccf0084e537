//! Transfers (payouts from the balance): recipients, initiate, finalize with OTP, verify, list,
//! bulk.

use futures::Stream;
use malipo_core::{Currency, Money};
use reqwest::Method;
use serde::Serialize;

use crate::client::{Client, ListQuery, Page};
use crate::error::Error;
use crate::model::{Transfer, TransferRecipient};
use crate::transactions::non_empty;

/// What `POST /transferrecipient` needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreateTransferRecipient {
    /// `nuban` (Nigeria), `mobile_money` (Ghana, Kenya), `basa` (South Africa), `ghipss`,
    /// `kepss` (Kenya banks), `authorization`, …
    pub recipient_type: String,
    /// The recipient's name.
    pub name: String,
    /// Account or phone number.
    pub account_number: String,
    /// Bank (or mobile-money operator) code from Paystack's bank list.
    pub bank_code: String,
    /// Currency the recipient is paid in.
    pub currency: Option<Currency>,
    /// A note about the recipient.
    pub description: Option<String>,
    /// The recipient's email.
    pub email: Option<String>,
}

impl CreateTransferRecipient {
    /// A recipient of `recipient_type` at `bank_code`/`account_number`.
    pub fn new(
        recipient_type: impl Into<String>,
        name: impl Into<String>,
        account_number: impl Into<String>,
        bank_code: impl Into<String>,
    ) -> Self {
        CreateTransferRecipient {
            recipient_type: recipient_type.into(),
            name: name.into(),
            account_number: account_number.into(),
            bank_code: bank_code.into(),
            currency: None,
            description: None,
            email: None,
        }
    }

    /// Sets the currency.
    pub fn currency(mut self, currency: Currency) -> Self {
        self.currency = Some(currency);
        self
    }

    /// Sets the email.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the note about the recipient.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

#[derive(Serialize)]
pub(crate) struct RecipientWire<'a> {
    #[serde(rename = "type")]
    recipient_type: &'a str,
    name: &'a str,
    account_number: &'a str,
    bank_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
}

impl<'a> From<&'a CreateTransferRecipient> for RecipientWire<'a> {
    fn from(req: &'a CreateTransferRecipient) -> Self {
        RecipientWire {
            recipient_type: &req.recipient_type,
            name: &req.name,
            account_number: &req.account_number,
            bank_code: &req.bank_code,
            currency: req.currency.map(Currency::code),
            description: req.description.as_deref(),
            email: req.email.as_deref(),
        }
    }
}

/// What `POST /transfer` needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InitiateTransfer {
    /// The amount.
    pub amount: Money,
    /// `RCP_…` code.
    pub recipient: String,
    /// Your unique reference (makes retries safe: Paystack refuses a duplicate).
    pub reference: Option<String>,
    /// Shown to the recipient.
    pub reason: Option<String>,
}

impl InitiateTransfer {
    /// Sends `amount` to `recipient` (`RCP_…`).
    pub fn new(amount: Money, recipient: impl Into<String>) -> Self {
        InitiateTransfer {
            amount,
            recipient: recipient.into(),
            reference: None,
            reason: None,
        }
    }

    /// Sets your own unique reference.
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// Sets the reason shown to the recipient.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

#[derive(Serialize)]
struct TransferWire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'static str>,
    amount: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'static str>,
    recipient: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl<'a> TransferWire<'a> {
    fn single(t: &'a InitiateTransfer) -> Self {
        TransferWire {
            source: Some("balance"),
            currency: Some(t.amount.currency().code()),
            ..TransferWire::item(t)
        }
    }

    fn item(t: &'a InitiateTransfer) -> Self {
        TransferWire {
            source: None,
            amount: t.amount.minor(),
            currency: None,
            recipient: &t.recipient,
            reference: t.reference.as_deref(),
            reason: t.reason.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct FinalizeWire<'a> {
    transfer_code: &'a str,
    otp: &'a str,
}

#[derive(Serialize)]
struct BulkWire<'a> {
    currency: &'static str,
    source: &'static str,
    transfers: Vec<TransferWire<'a>>,
}

impl Client {
    /// Registers someone to pay: `POST /transferrecipient`.
    pub async fn create_transfer_recipient(
        &self,
        req: &CreateTransferRecipient,
    ) -> Result<TransferRecipient, Error> {
        let request = self
            .http_request(Method::POST, &["transferrecipient"])
            .json(&RecipientWire::from(req));
        self.send("POST /transferrecipient", request).await
    }

    /// Sends money from the balance: `POST /transfer`. When the account requires OTP the
    /// transfer comes back with `status == "otp"`: finish it with [`Client::finalize_transfer`].
    pub async fn initiate_transfer(&self, req: &InitiateTransfer) -> Result<Transfer, Error> {
        non_empty("recipient", &req.recipient)?;
        let request = self
            .http_request(Method::POST, &["transfer"])
            .json(&TransferWire::single(req));
        self.send("POST /transfer", request).await
    }

    /// Confirms a transfer waiting for OTP: `POST /transfer/finalize_transfer`.
    pub async fn finalize_transfer(&self, transfer_code: &str, otp: &str) -> Result<Transfer, Error> {
        non_empty("transfer code", transfer_code)?;
        non_empty("OTP", otp)?;
        let request = self
            .http_request(Method::POST, &["transfer", "finalize_transfer"])
            .json(&FinalizeWire { transfer_code, otp });
        self.send("POST /transfer/finalize_transfer", request).await
    }

    /// A transfer's current state by your reference: `GET /transfer/verify/:reference`.
    pub async fn verify_transfer(&self, reference: &str) -> Result<Transfer, Error> {
        non_empty("reference", reference)?;
        let request = self.http_request(Method::GET, &["transfer", "verify", reference]);
        self.send("GET /transfer/verify/:reference", request).await
    }

    /// One page of transfers: `GET /transfer`.
    pub async fn list_transfers(&self, query: &ListQuery) -> Result<Page<Transfer>, Error> {
        self.page("GET /transfer", &["transfer"], query).await
    }

    /// Every page of transfers from `query.page` on.
    pub fn transfer_pages(&self, query: ListQuery) -> impl Stream<Item = Result<Page<Transfer>, Error>> + '_ {
        self.pages("GET /transfer", &["transfer"], query)
    }

    /// Sends several transfers at once, all in one currency: `POST /transfer/bulk`. The answer
    /// lists each queued transfer with its `transfer_code`.
    pub async fn bulk_transfer(&self, transfers: &[InitiateTransfer]) -> Result<Vec<Transfer>, Error> {
        let Some(first) = transfers.first() else {
            return Err(Error::InvalidRequest(
                "a bulk transfer needs at least one transfer".to_string(),
            ));
        };
        let currency = first.amount.currency();
        if let Some(other) = transfers.iter().find(|t| t.amount.currency() != currency) {
            return Err(Error::InvalidRequest(format!(
                "a bulk transfer is in one currency: expected {currency}, found {}",
                other.amount.currency()
            )));
        }
        let body = BulkWire {
            currency: currency.code(),
            source: "balance",
            transfers: transfers.iter().map(TransferWire::item).collect(),
        };
        let request = self.http_request(Method::POST, &["transfer", "bulk"]).json(&body);
        self.send("POST /transfer/bulk", request).await
    }
}
