//! Bulk charges: charge many saved authorizations in one batch. Initiate, list batches, fetch
//! one, list its charges, pause, resume.

use futures::Stream;
use malipo_core::Money;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, ListQuery};
use crate::de;
use crate::error::Error;
use crate::model::{money, Customer};
use crate::paging::Listing;
use crate::transactions::non_empty;

/// One charge of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkChargeItem {
    /// The saved authorization (`AUTH_…`).
    pub authorization: String,
    /// The amount.
    pub amount: Money,
    /// Your unique reference.
    pub reference: String,
}

impl BulkChargeItem {
    /// Charges `amount` to `authorization` under `reference`.
    pub fn new(authorization: impl Into<String>, amount: Money, reference: impl Into<String>) -> Self {
        BulkChargeItem {
            authorization: authorization.into(),
            amount,
            reference: reference.into(),
        }
    }
}

#[derive(Serialize)]
struct ItemWire<'a> {
    authorization: &'a str,
    amount: u64,
    currency: &'static str,
    reference: &'a str,
}

/// A batch of charges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct BulkChargeBatch {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `BCH_…` code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub batch_code: Option<String>,
    /// `active`, `paused` or `complete`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// Charges in the batch.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total_charges: Option<u64>,
    /// Charges not attempted yet.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub pending_charges: Option<u64>,
}

/// One charge of a batch, as `GET /bulkcharge/:id_or_code/charges` lists it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct BulkCharge {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `pending`, `success` or `failed`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// Amount in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// The customer charged.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub customer: Option<Customer>,
    /// The transaction made, once attempted (Paystack sends an object or an id).
    #[serde(default)]
    pub transaction: Option<serde_json::Value>,
}

impl BulkCharge {
    /// The amount as [`Money`].
    pub fn amount(&self) -> Option<Money> {
        money(self.amount, self.currency.as_deref())
    }
}

impl Client {
    /// Queues charges of saved authorizations: `POST /bulkcharge`.
    pub async fn initiate_bulk_charge(&self, items: &[BulkChargeItem]) -> Result<BulkChargeBatch, Error> {
        if items.is_empty() {
            return Err(Error::InvalidRequest(
                "a bulk charge needs at least one charge".to_string(),
            ));
        }
        for item in items {
            non_empty("authorization", &item.authorization)?;
            non_empty("reference", &item.reference)?;
        }
        let body: Vec<ItemWire<'_>> = items
            .iter()
            .map(|i| ItemWire {
                authorization: &i.authorization,
                amount: i.amount.minor(),
                currency: i.amount.currency().code(),
                reference: &i.reference,
            })
            .collect();
        let request = self.http_request(Method::POST, &["bulkcharge"]).json(&body);
        self.send("POST /bulkcharge", request).await
    }

    /// Every batch, newest first, fetched a page at a time: `GET /bulkcharge`.
    pub fn list_bulk_charge_batches(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<BulkChargeBatch, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /bulkcharge", &["bulkcharge"]).query(query))
    }

    /// One batch by numeric id or `BCH_…` code: `GET /bulkcharge/:id_or_code`.
    pub async fn fetch_bulk_charge_batch(&self, id_or_code: &str) -> Result<BulkChargeBatch, Error> {
        non_empty("batch id or code", id_or_code)?;
        let request = self.http_request(Method::GET, &["bulkcharge", id_or_code]);
        self.send("GET /bulkcharge/:id_or_code", request).await
    }

    /// The charges of a batch, fetched a page at a time: `GET /bulkcharge/:id_or_code/charges`.
    /// `query.status` filters by `pending`, `success` or `failed`.
    pub fn bulk_charge_batch_charges(
        &self,
        id_or_code: &str,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<BulkCharge, Error>> + Send + Unpin + 'static {
        let listing = Listing::new(
            "GET /bulkcharge/:id_or_code/charges",
            &["bulkcharge", id_or_code, "charges"],
        )
        .require("batch id or code", id_or_code);
        self.items(listing.query(query))
    }

    /// Pauses a batch: `GET /bulkcharge/pause/:code`. Returns Paystack's `message`.
    pub async fn pause_bulk_charge_batch(&self, code: &str) -> Result<String, Error> {
        non_empty("batch code", code)?;
        let request = self.http_request(Method::GET, &["bulkcharge", "pause", code]);
        self.send_ack("GET /bulkcharge/pause/:code", request).await
    }

    /// Resumes a paused batch: `GET /bulkcharge/resume/:code`. Returns Paystack's `message`.
    pub async fn resume_bulk_charge_batch(&self, code: &str) -> Result<String, Error> {
        non_empty("batch code", code)?;
        let request = self.http_request(Method::GET, &["bulkcharge", "resume", code]);
        self.send_ack("GET /bulkcharge/resume/:code", request).await
    }
}
