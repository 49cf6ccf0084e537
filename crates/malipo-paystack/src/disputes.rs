//! Disputes (chargebacks and fraud claims): list, fetch, add evidence, get an upload URL,
//! resolve.

use futures::Stream;
use malipo_core::Money;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, ListQuery};
use crate::de;
use crate::error::Error;
use crate::event_data::Dispute;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// What `POST /dispute/:id/evidence` needs: what shows the customer got what they paid for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DisputeEvidence {
    /// The customer's email.
    pub customer_email: String,
    /// The customer's name.
    pub customer_name: String,
    /// The customer's phone.
    pub customer_phone: String,
    /// What was sold.
    pub service_details: String,
    /// Where it was delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_address: Option<String>,
    /// When it was delivered (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_date: Option<String>,
}

impl DisputeEvidence {
    /// Evidence about the customer and what they bought.
    pub fn new(
        customer_email: impl Into<String>,
        customer_name: impl Into<String>,
        customer_phone: impl Into<String>,
        service_details: impl Into<String>,
    ) -> Self {
        DisputeEvidence {
            customer_email: customer_email.into(),
            customer_name: customer_name.into(),
            customer_phone: customer_phone.into(),
            service_details: service_details.into(),
            delivery_address: None,
            delivery_date: None,
        }
    }

    /// Sets where and when it was delivered.
    pub fn delivered(mut self, address: impl Into<String>, date: impl Into<String>) -> Self {
        self.delivery_address = Some(address.into());
        self.delivery_date = Some(date.into());
        self
    }
}

/// Evidence as Paystack keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Evidence {
    /// Numeric id, given when resolving a fraud claim.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// The dispute's id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub dispute: Option<u64>,
    /// The customer's email.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_email: Option<String>,
    /// What was sold.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub service_details: Option<String>,
}

/// Where to upload a file backing a dispute answer (`PUT` the file there), and its name to give
/// when resolving.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct UploadUrl {
    /// The pre-signed URL.
    #[serde(default, rename = "signedUrl", deserialize_with = "de::opt_string")]
    pub signed_url: Option<String>,
    /// The name to give as `uploaded_filename`.
    #[serde(default, rename = "fileName", deserialize_with = "de::opt_string")]
    pub file_name: Option<String>,
}

/// The merchant's answer to a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisputeResolution {
    /// The merchant agrees and refunds `refund_amount`.
    MerchantAccepted,
    /// The merchant contests it.
    Declined,
}

/// What `PUT /dispute/:id/resolve` needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ResolveDispute {
    /// Accept or decline.
    pub resolution: DisputeResolution,
    /// Why.
    pub message: String,
    /// How much to refund (zero when declining).
    pub refund_amount: Money,
    /// The file uploaded to an [`UploadUrl`].
    pub uploaded_filename: String,
    /// The [`Evidence`] id (Paystack asks for one when declining a fraud claim).
    pub evidence: Option<u64>,
}

impl ResolveDispute {
    /// An answer backed by `uploaded_filename`.
    pub fn new(
        resolution: DisputeResolution,
        message: impl Into<String>,
        refund_amount: Money,
        uploaded_filename: impl Into<String>,
    ) -> Self {
        ResolveDispute {
            resolution,
            message: message.into(),
            refund_amount,
            uploaded_filename: uploaded_filename.into(),
            evidence: None,
        }
    }

    /// Points at the evidence given.
    pub fn evidence(mut self, id: u64) -> Self {
        self.evidence = Some(id);
        self
    }
}

#[derive(Serialize)]
struct ResolveWire<'a> {
    resolution: DisputeResolution,
    message: &'a str,
    refund_amount: u64,
    uploaded_filename: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<u64>,
}

impl Client {
    /// Every dispute, newest first, fetched a page at a time: `GET /dispute`. `query.status`
    /// filters by status (`awaiting-merchant-feedback`, `resolved`, …).
    pub fn list_disputes(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Dispute, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /dispute", &["dispute"]).query(query))
    }

    /// One dispute by id: `GET /dispute/:id`.
    pub async fn fetch_dispute(&self, id: u64) -> Result<Dispute, Error> {
        let id = id.to_string();
        let request = self.http_request(Method::GET, &["dispute", &id]);
        self.send("GET /dispute/:id", request).await
    }

    /// Gives evidence for a dispute: `POST /dispute/:id/evidence`.
    pub async fn add_dispute_evidence(&self, id: u64, req: &DisputeEvidence) -> Result<Evidence, Error> {
        non_empty("customer email", &req.customer_email)?;
        non_empty("service details", &req.service_details)?;
        let id = id.to_string();
        let request = self
            .http_request(Method::POST, &["dispute", &id, "evidence"])
            .json(req);
        self.send("POST /dispute/:id/evidence", request).await
    }

    /// Where to upload a file for a dispute: `GET /dispute/:id/upload_url`.
    pub async fn dispute_upload_url(&self, id: u64, file_name: &str) -> Result<UploadUrl, Error> {
        non_empty("file name", file_name)?;
        let id = id.to_string();
        let request = self
            .http_request(Method::GET, &["dispute", &id, "upload_url"])
            .query(&[("upload_filename", file_name)]);
        self.send("GET /dispute/:id/upload_url", request).await
    }

    /// Accepts or declines a dispute: `PUT /dispute/:id/resolve`.
    pub async fn resolve_dispute(&self, id: u64, req: &ResolveDispute) -> Result<Dispute, Error> {
        non_empty("message", &req.message)?;
        non_empty("uploaded file name", &req.uploaded_filename)?;
        let body = ResolveWire {
            resolution: req.resolution,
            message: &req.message,
            refund_amount: req.refund_amount.minor(),
            uploaded_filename: &req.uploaded_filename,
            evidence: req.evidence,
        };
        let id = id.to_string();
        let request = self
            .http_request(Method::PUT, &["dispute", &id, "resolve"])
            .json(&body);
        self.send("PUT /dispute/:id/resolve", request).await
    }
}
