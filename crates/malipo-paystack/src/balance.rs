//! Transfer control: the balance available for transfers, and the ledger of what moved it.

use futures::Stream;
use malipo_core::{Currency, Money};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, ListQuery};
use crate::de;
use crate::error::Error;
use crate::paging::Listing;

/// The balance in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Balance {
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// Available balance in minor units. Signed: Paystack's reference does not say a balance
    /// cannot go below zero (after a chargeback, say).
    #[serde(default)]
    pub balance: Option<i64>,
}

impl Balance {
    /// The balance as [`Money`], when it is not negative and the currency is one malipo knows.
    pub fn amount(&self) -> Option<Money> {
        let currency: Currency = self.currency.as_deref()?.parse().ok()?;
        Some(Money::from_minor(u64::try_from(self.balance?).ok()?, currency))
    }
}

/// One movement of the balance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct LedgerEntry {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// The balance after this entry, in minor units.
    #[serde(default)]
    pub balance: Option<i64>,
    /// The change, in minor units: negative for money out.
    #[serde(default)]
    pub difference: Option<i64>,
    /// Why, such as a transfer's reason.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub reason: Option<String>,
    /// What kind of record moved it (`Transfer`, `Transaction`, …).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub model_responsible: Option<String>,
    /// That record's id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub model_row: Option<u64>,
    /// When.
    #[serde(default, rename = "createdAt", deserialize_with = "de::opt_string")]
    pub created_at: Option<String>,
}

impl Client {
    /// The balance in each currency: `GET /balance`.
    pub async fn balance(&self) -> Result<Vec<Balance>, Error> {
        let request = self.http_request(Method::GET, &["balance"]);
        self.send("GET /balance", request).await
    }

    /// Every balance movement, newest first, fetched a page at a time: `GET /balance/ledger`.
    pub fn balance_ledger(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<LedgerEntry, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /balance/ledger", &["balance", "ledger"]).query(query))
    }
}
