//! Subaccounts: businesses a payment is shared with, each paid out to its own bank account.
//! Create, fetch, list, update.

use futures::Stream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, ListQuery};
use crate::de;
use crate::error::Error;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// A subaccount.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Subaccount {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `ACCT_…` code, used in splits and when initializing a transaction.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub subaccount_code: Option<String>,
    /// The business's name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub business_name: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    /// The bank paid out to (Paystack answers with the bank's name, not the code sent).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub settlement_bank: Option<String>,
    /// The account paid out to.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub account_number: Option<String>,
    /// The percentage of each payment the main account keeps.
    #[serde(default)]
    pub percentage_charge: Option<f64>,
    /// `auto`, `weekly`, `monthly` or `manual`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub settlement_schedule: Option<String>,
    /// Whether it takes part in payments.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub active: Option<bool>,
    /// Whether Paystack verified the account.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub is_verified: Option<bool>,
    /// Contact email.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub primary_contact_email: Option<String>,
    /// Whatever metadata the merchant attached.
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// What `POST /subaccount` needs; also what `PUT /subaccount/:id_or_code` sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateSubaccount {
    /// The business's name.
    pub business_name: String,
    /// Bank code from [`Client::list_banks`].
    pub settlement_bank: String,
    /// The account to pay out to.
    pub account_number: String,
    /// The percentage of each payment the main account keeps (such as `18.2`).
    pub percentage_charge: f64,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Contact email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_contact_email: Option<String>,
    /// Anything to keep with the subaccount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

impl CreateSubaccount {
    /// A subaccount paid out to `account_number` at `settlement_bank`, the main account keeping
    /// `percentage_charge` percent.
    pub fn new(
        business_name: impl Into<String>,
        settlement_bank: impl Into<String>,
        account_number: impl Into<String>,
        percentage_charge: f64,
    ) -> Self {
        CreateSubaccount {
            business_name: business_name.into(),
            settlement_bank: settlement_bank.into(),
            account_number: account_number.into(),
            percentage_charge,
            description: None,
            primary_contact_email: None,
            metadata: None,
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the contact email.
    pub fn primary_contact_email(mut self, email: impl Into<String>) -> Self {
        self.primary_contact_email = Some(email.into());
        self
    }
}

impl Client {
    /// Creates a subaccount: `POST /subaccount`.
    pub async fn create_subaccount(&self, req: &CreateSubaccount) -> Result<Subaccount, Error> {
        check(req)?;
        let request = self.http_request(Method::POST, &["subaccount"]).json(req);
        self.send("POST /subaccount", request).await
    }

    /// One subaccount by numeric id or `ACCT_…` code: `GET /subaccount/:id_or_code`.
    pub async fn fetch_subaccount(&self, id_or_code: &str) -> Result<Subaccount, Error> {
        non_empty("subaccount id or code", id_or_code)?;
        let request = self.http_request(Method::GET, &["subaccount", id_or_code]);
        self.send("GET /subaccount/:id_or_code", request).await
    }

    /// Every subaccount, newest first, fetched a page at a time: `GET /subaccount`.
    pub fn list_subaccounts(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Subaccount, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /subaccount", &["subaccount"]).query(query))
    }

    /// Replaces a subaccount's details: `PUT /subaccount/:id_or_code`.
    pub async fn update_subaccount(
        &self,
        id_or_code: &str,
        req: &CreateSubaccount,
    ) -> Result<Subaccount, Error> {
        non_empty("subaccount id or code", id_or_code)?;
        check(req)?;
        let request = self
            .http_request(Method::PUT, &["subaccount", id_or_code])
            .json(req);
        self.send("PUT /subaccount/:id_or_code", request).await
    }
}

fn check(req: &CreateSubaccount) -> Result<(), Error> {
    non_empty("business name", &req.business_name)?;
    non_empty("settlement bank", &req.settlement_bank)?;
    non_empty("account number", &req.account_number)?;
    if !(0.0..=100.0).contains(&req.percentage_charge) {
        return Err(Error::InvalidRequest(format!(
            "the percentage charge {} is not a percentage: expected 0 to 100",
            req.percentage_charge
        )));
    }
    Ok(())
}
