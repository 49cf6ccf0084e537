//! Transaction splits: a named way to share payments between subaccounts, given by its `SPL_…`
//! code when initializing a transaction. Create, fetch, list, update, add or remove a
//! subaccount.

use futures::Stream;
use malipo_core::Currency;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, ListQuery};
use crate::de;
use crate::error::Error;
use crate::paging::Listing;
use crate::subaccounts::Subaccount;
use crate::transactions::non_empty;

/// How a split divides a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitType {
    /// Shares are percentages.
    Percentage,
    /// Shares are amounts in minor units.
    Flat,
}

/// Who pays Paystack's fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bearer {
    /// One subaccount (name it with [`CreateSplit::bearer_subaccount`]).
    Subaccount,
    /// The main account.
    Account,
    /// Everyone, in proportion to their share.
    AllProportional,
    /// Everyone, equally.
    All,
}

/// One subaccount's share of a split, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SplitShare {
    /// `ACCT_…` code (expanded to the whole subaccount in answers).
    pub subaccount: String,
    /// Percentage points for a [`SplitType::Percentage`] split, minor units for a flat one.
    /// Paystack's reference shows whole numbers only.
    pub share: u64,
}

impl SplitShare {
    /// `subaccount` (`ACCT_…`) gets `share`.
    pub fn new(subaccount: impl Into<String>, share: u64) -> Self {
        SplitShare {
            subaccount: subaccount.into(),
            share,
        }
    }
}

/// A subaccount's share as a split shows it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct SplitMember {
    /// The subaccount.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub subaccount: Option<Subaccount>,
    /// Its share.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub share: Option<u64>,
}

/// A transaction split.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Split {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `SPL_…` code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub split_code: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// `percentage` or `flat`.
    #[serde(default, rename = "type", deserialize_with = "de::opt_string")]
    pub split_type: Option<String>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// Whether it can be used.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub active: Option<bool>,
    /// Who pays Paystack's fee.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub bearer_type: Option<String>,
    /// The members and their shares.
    #[serde(default)]
    pub subaccounts: Vec<SplitMember>,
}

/// What `POST /split` needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateSplit {
    /// Name.
    pub name: String,
    /// Percentages or flat amounts.
    #[serde(rename = "type")]
    pub split_type: SplitType,
    /// Currency of the payments it splits.
    pub currency: Currency,
    /// The members.
    pub subaccounts: Vec<SplitShare>,
    /// Who pays Paystack's fee (Paystack's default: the main account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_type: Option<Bearer>,
    /// The `ACCT_…` that pays the fee when `bearer_type` is [`Bearer::Subaccount`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_subaccount: Option<String>,
}

impl CreateSplit {
    /// A split of payments in `currency` among `subaccounts`.
    pub fn new(
        name: impl Into<String>,
        split_type: SplitType,
        currency: Currency,
        subaccounts: Vec<SplitShare>,
    ) -> Self {
        CreateSplit {
            name: name.into(),
            split_type,
            currency,
            subaccounts,
            bearer_type: None,
            bearer_subaccount: None,
        }
    }

    /// Sets who pays Paystack's fee.
    pub fn bearer(mut self, bearer: Bearer) -> Self {
        self.bearer_type = Some(bearer);
        self
    }

    /// Makes subaccount `code` pay Paystack's fee.
    pub fn bearer_subaccount(mut self, code: impl Into<String>) -> Self {
        self.bearer_type = Some(Bearer::Subaccount);
        self.bearer_subaccount = Some(code.into());
        self
    }
}

/// What `PUT /split/:id` changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UpdateSplit {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Turns the split on or off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl UpdateSplit {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        UpdateSplit::default()
    }

    /// Renames the split.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Turns the split on or off.
    pub fn active(mut self, active: bool) -> Self {
        self.active = Some(active);
        self
    }
}

#[derive(Serialize)]
struct RemoveWire<'a> {
    subaccount: &'a str,
}

impl Client {
    /// Creates a split: `POST /split`.
    pub async fn create_split(&self, req: &CreateSplit) -> Result<Split, Error> {
        non_empty("split name", &req.name)?;
        if req.subaccounts.is_empty() {
            return Err(Error::InvalidRequest(
                "a split needs at least one subaccount".to_string(),
            ));
        }
        let request = self.http_request(Method::POST, &["split"]).json(req);
        self.send("POST /split", request).await
    }

    /// One split by numeric id: `GET /split/:id`.
    pub async fn fetch_split(&self, id: u64) -> Result<Split, Error> {
        let id = id.to_string();
        let request = self.http_request(Method::GET, &["split", &id]);
        self.send("GET /split/:id", request).await
    }

    /// Every split, newest first, fetched a page at a time: `GET /split`.
    pub fn list_splits(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Split, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /split", &["split"]).query(query))
    }

    /// Renames a split or turns it on or off: `PUT /split/:id`.
    pub async fn update_split(&self, id: u64, req: &UpdateSplit) -> Result<Split, Error> {
        let id = id.to_string();
        let request = self.http_request(Method::PUT, &["split", &id]).json(req);
        self.send("PUT /split/:id", request).await
    }

    /// Adds a subaccount to a split, or changes its share: `POST /split/:id/subaccount/add`.
    pub async fn add_split_subaccount(&self, id: u64, share: &SplitShare) -> Result<Split, Error> {
        non_empty("subaccount", &share.subaccount)?;
        let id = id.to_string();
        let request = self
            .http_request(Method::POST, &["split", &id, "subaccount", "add"])
            .json(share);
        self.send("POST /split/:id/subaccount/add", request).await
    }

    /// Removes a subaccount from a split: `POST /split/:id/subaccount/remove`. Returns
    /// Paystack's `message`.
    pub async fn remove_split_subaccount(&self, id: u64, subaccount: &str) -> Result<String, Error> {
        non_empty("subaccount", subaccount)?;
        let id = id.to_string();
        let request = self
            .http_request(Method::POST, &["split", &id, "subaccount", "remove"])
            .json(&RemoveWire { subaccount });
        self.send_ack("POST /split/:id/subaccount/remove", request).await
    }
}
