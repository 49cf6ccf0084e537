//! Settlements: payouts of the balance to the merchant's bank, and the transactions each paid.

use futures::Stream;
use malipo_core::Money;
use serde::{Deserialize, Serialize};

use crate::client::{Client, ListQuery};
use crate::de;
use crate::error::Error;
use crate::model::{money, Transaction};
use crate::paging::Listing;

/// A settlement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Settlement {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `success`, `processing`, `pending` or `failed`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// What the transactions it covers brought in, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total_amount: Option<u64>,
    /// What was paid out after fees and deductions, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub effective_amount: Option<u64>,
    /// Fees, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total_fees: Option<u64>,
    /// Deductions such as refunds and chargebacks, in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub deductions: Option<u64>,
    /// When it was (or will be) paid.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub settlement_date: Option<String>,
}

impl Settlement {
    /// What was paid out as [`Money`].
    pub fn amount(&self) -> Option<Money> {
        money(self.effective_amount, self.currency.as_deref())
    }
}

impl Client {
    /// Every settlement, newest first, fetched a page at a time: `GET /settlement`.
    pub fn list_settlements(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Settlement, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /settlement", &["settlement"]).query(query))
    }

    /// The transactions settlement `id` paid out, fetched a page at a time:
    /// `GET /settlement/:id/transactions`.
    pub fn settlement_transactions(
        &self,
        id: u64,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Transaction, Error>> + Send + Unpin + 'static {
        let id = id.to_string();
        let listing = Listing::new(
            "GET /settlement/:id/transactions",
            &["settlement", &id, "transactions"],
        );
        self.items(listing.query(query))
    }
}
