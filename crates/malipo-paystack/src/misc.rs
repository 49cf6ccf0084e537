//! Miscellaneous: the banks (and mobile-money operators) Paystack knows, the countries it
//! serves, and the states used in address verification.

use futures::Stream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Client;
use crate::de;
use crate::error::Error;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// A bank or mobile-money operator.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Bank {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// Name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Slug, such as `wema-bank`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub slug: Option<String>,
    /// The `bank_code` transfer recipients and verification take.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub code: Option<String>,
    /// Country name, such as `Kenya`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub country: Option<String>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// The recipient type it takes: `nuban`, `mobile_money`, `kepss`, `basa`, …
    #[serde(default, rename = "type", deserialize_with = "de::opt_string")]
    pub bank_type: Option<String>,
    /// Whether it is in service.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub active: Option<bool>,
    /// Whether customers can pay from it directly.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub pay_with_bank: Option<bool>,
}

/// Filters of `GET /bank`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListBanks {
    /// `kenya`, `nigeria`, `ghana`, `south africa`, …
    pub country: Option<String>,
    /// Only banks settling in this ISO currency.
    pub currency: Option<String>,
    /// Only channels of this type, such as `mobile_money`.
    pub bank_type: Option<String>,
    /// Banks per page (Paystack's default 50, at most 100).
    pub per_page: Option<u32>,
}

impl ListBanks {
    /// Every bank.
    pub fn new() -> Self {
        ListBanks::default()
    }

    /// Banks of `country` (such as `kenya`).
    pub fn country(country: impl Into<String>) -> Self {
        ListBanks {
            country: Some(country.into()),
            ..ListBanks::default()
        }
    }

    /// Only banks settling in `currency` (ISO code).
    pub fn currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = Some(currency.into());
        self
    }

    /// Only channels of `bank_type`, such as `mobile_money`.
    pub fn bank_type(mut self, bank_type: impl Into<String>) -> Self {
        self.bank_type = Some(bank_type.into());
        self
    }

    /// Fetches `per_page` banks a request.
    pub fn per_page(mut self, per_page: u32) -> Self {
        self.per_page = Some(per_page);
        self
    }
}

/// A country Paystack serves.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Country {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// Name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Two-letter code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub iso_code: Option<String>,
    /// Its default currency.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub default_currency_code: Option<String>,
    /// Supported currencies and their settings, as sent (the shape is nested and undocumented
    /// field by field).
    #[serde(default)]
    pub relationships: Option<Value>,
}

/// A state or province, for address verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AddressState {
    /// Name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Slug.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub slug: Option<String>,
    /// Abbreviation, such as `AB`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub abbreviation: Option<String>,
}

impl Client {
    /// Every bank matching `filter`, fetched a page at a time by cursor: `GET /bank`.
    pub fn list_banks(
        &self,
        filter: &ListBanks,
    ) -> impl Stream<Item = Result<Bank, Error>> + Send + Unpin + 'static {
        let listing = Listing::new("GET /bank", &["bank"])
            .by_cursor(filter.per_page)
            // Without it `/bank` answers every bank at once, unpaged.
            .filter("use_cursor", Some("true"))
            .filter("country", filter.country.as_deref())
            .filter("currency", filter.currency.as_deref())
            .filter("type", filter.bank_type.as_deref());
        self.items(listing)
    }

    /// The countries Paystack serves: `GET /country`.
    pub async fn list_countries(&self) -> Result<Vec<Country>, Error> {
        let request = self.http_request(Method::GET, &["country"]);
        self.send("GET /country", request).await
    }

    /// The states of `country` (two-letter code) for address verification:
    /// `GET /address_verification/states`.
    pub async fn list_states(&self, country: &str) -> Result<Vec<AddressState>, Error> {
        non_empty("country code", country)?;
        let request = self
            .http_request(Method::GET, &["address_verification", "states"])
            .query(&[("country", country)]);
        self.send("GET /address_verification/states", request).await
    }
}
