//! Dedicated virtual accounts: a bank account number of a customer's own, paid into by bank
//! transfer (Nigeria and Ghana). Create, list, fetch, deactivate, requery, list providers.

use futures::Stream;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::de;
use crate::error::Error;
use crate::model::Customer;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// The bank behind a dedicated account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct DedicatedBank {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// Name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// The `provider_slug`/`preferred_bank`, such as `wema-bank`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub slug: Option<String>,
}

/// A dedicated virtual account.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct DedicatedAccount {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// The account's name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub account_name: Option<String>,
    /// The account number customers transfer to.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub account_number: Option<String>,
    /// Whether it is assigned to a customer.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub assigned: Option<bool>,
    /// Whether it accepts transfers.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub active: Option<bool>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// The bank.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub bank: Option<DedicatedBank>,
    /// The customer it belongs to.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub customer: Option<Customer>,
    /// When it was created.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub created_at: Option<String>,
}

/// A bank that can provide dedicated accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct DedicatedProvider {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// The slug to give as `preferred_bank`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub provider_slug: Option<String>,
    /// Paystack's id of the bank.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub bank_id: Option<u64>,
    /// The bank's name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub bank_name: Option<String>,
}

/// What `POST /dedicated_account` needs: an existing customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateDedicatedAccount {
    /// The customer's `CUS_…` code or numeric id.
    pub customer: String,
    /// A provider's slug (see [`Client::dedicated_account_providers`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_bank: Option<String>,
    /// `ACCT_…` code of a subaccount to split payments with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<String>,
    /// `SPL_…` code of a split to apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_code: Option<String>,
}

impl CreateDedicatedAccount {
    /// An account for `customer` (code or id).
    pub fn new(customer: impl Into<String>) -> Self {
        CreateDedicatedAccount {
            customer: customer.into(),
            preferred_bank: None,
            subaccount: None,
            split_code: None,
        }
    }

    /// Asks for this provider's bank.
    pub fn preferred_bank(mut self, slug: impl Into<String>) -> Self {
        self.preferred_bank = Some(slug.into());
        self
    }
}

/// Filters of `GET /dedicated_account`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListDedicatedAccounts {
    /// Active accounts (`true`, the default) or deactivated ones.
    pub active: bool,
    /// Only accounts in this ISO currency.
    pub currency: Option<String>,
    /// Only this provider's.
    pub provider_slug: Option<String>,
    /// Only this customer's (numeric id).
    pub customer: Option<u64>,
    /// Items per page.
    pub per_page: Option<u32>,
}

impl Default for ListDedicatedAccounts {
    fn default() -> Self {
        ListDedicatedAccounts {
            active: true,
            currency: None,
            provider_slug: None,
            customer: None,
            per_page: None,
        }
    }
}

impl ListDedicatedAccounts {
    /// Every active account.
    pub fn new() -> Self {
        ListDedicatedAccounts::default()
    }

    /// Deactivated accounts instead of active ones.
    pub fn inactive(mut self) -> Self {
        self.active = false;
        self
    }

    /// Only customer `id`'s.
    pub fn customer(mut self, id: u64) -> Self {
        self.customer = Some(id);
        self
    }

    /// Only accounts in `currency` (ISO code).
    pub fn currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = Some(currency.into());
        self
    }

    /// Only `provider_slug`'s accounts.
    pub fn provider_slug(mut self, slug: impl Into<String>) -> Self {
        self.provider_slug = Some(slug.into());
        self
    }

    /// Fetches `per_page` accounts a request.
    pub fn per_page(mut self, per_page: u32) -> Self {
        self.per_page = Some(per_page);
        self
    }
}

impl Client {
    /// Creates a dedicated account for an existing customer: `POST /dedicated_account`.
    pub async fn create_dedicated_account(
        &self,
        req: &CreateDedicatedAccount,
    ) -> Result<DedicatedAccount, Error> {
        non_empty("customer", &req.customer)?;
        let request = self.http_request(Method::POST, &["dedicated_account"]).json(req);
        self.send("POST /dedicated_account", request).await
    }

    /// Every dedicated account matching `filter`, fetched a page at a time:
    /// `GET /dedicated_account`.
    pub fn list_dedicated_accounts(
        &self,
        filter: &ListDedicatedAccounts,
    ) -> impl Stream<Item = Result<DedicatedAccount, Error>> + Send + Unpin + 'static {
        let customer = filter.customer.map(|c| c.to_string());
        let listing = Listing::new("GET /dedicated_account", &["dedicated_account"])
            .per_page(filter.per_page)
            .filter("active", Some(if filter.active { "true" } else { "false" }))
            .filter("currency", filter.currency.as_deref())
            .filter("provider_slug", filter.provider_slug.as_deref())
            .filter("customer", customer.as_deref());
        self.items(listing)
    }

    /// One dedicated account by id: `GET /dedicated_account/:id`.
    pub async fn fetch_dedicated_account(&self, id: u64) -> Result<DedicatedAccount, Error> {
        let id = id.to_string();
        let request = self.http_request(Method::GET, &["dedicated_account", &id]);
        self.send("GET /dedicated_account/:id", request).await
    }

    /// Deactivates a dedicated account: `DELETE /dedicated_account/:id`. Returns the account as
    /// it now is.
    pub async fn deactivate_dedicated_account(&self, id: u64) -> Result<DedicatedAccount, Error> {
        let id = id.to_string();
        let request = self.http_request(Method::DELETE, &["dedicated_account", &id]);
        self.send("DELETE /dedicated_account/:id", request).await
    }

    /// Asks Paystack to look again for transfers into an account it has not reported yet:
    /// `GET /dedicated_account/requery`. `date` (`YYYY-MM-DD`) narrows the search. Returns
    /// Paystack's `message`; any transfer found arrives as a `charge.success` webhook.
    pub async fn requery_dedicated_account(
        &self,
        account_number: &str,
        provider_slug: &str,
        date: Option<&str>,
    ) -> Result<String, Error> {
        non_empty("account number", account_number)?;
        non_empty("provider slug", provider_slug)?;
        let mut query = vec![
            ("account_number", account_number),
            ("provider_slug", provider_slug),
        ];
        if let Some(date) = date {
            query.push(("date", date));
        }
        let request = self
            .http_request(Method::GET, &["dedicated_account", "requery"])
            .query(&query);
        self.send_ack("GET /dedicated_account/requery", request).await
    }

    /// The banks that can provide dedicated accounts:
    /// `GET /dedicated_account/available_providers`.
    pub async fn dedicated_account_providers(&self) -> Result<Vec<DedicatedProvider>, Error> {
        let request = self.http_request(Method::GET, &["dedicated_account", "available_providers"]);
        self.send("GET /dedicated_account/available_providers", request)
            .await
    }
}
