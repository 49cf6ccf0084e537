//! Transfer recipients beyond creating one ([`Client::create_transfer_recipient`]): bulk create,
//! list, fetch, update, delete.

use futures::Stream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, ListQuery};
use crate::error::Error;
use crate::model::TransferRecipient;
use crate::paging::Listing;
use crate::transactions::non_empty;
use crate::transfers::{CreateTransferRecipient, RecipientWire};

/// What `POST /transferrecipient/bulk` answers.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct BulkRecipients {
    /// The recipients created (or found: an existing account gives its existing recipient).
    #[serde(default)]
    pub success: Vec<TransferRecipient>,
    /// The entries refused, as Paystack describes them. Paystack's reference shows this list
    /// only empty, so its items are left untyped.
    #[serde(default)]
    pub errors: Vec<Value>,
}

/// What `PUT /transferrecipient/:id_or_code` changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UpdateTransferRecipient {
    /// The recipient's name (Paystack requires it on every update).
    pub name: String,
    /// The recipient's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl UpdateTransferRecipient {
    /// Renames the recipient.
    pub fn new(name: impl Into<String>) -> Self {
        UpdateTransferRecipient {
            name: name.into(),
            email: None,
        }
    }

    /// Sets the email.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }
}

#[derive(Serialize)]
struct BulkWire<'a> {
    batch: Vec<RecipientWire<'a>>,
}

impl Client {
    /// Creates several recipients at once: `POST /transferrecipient/bulk`.
    pub async fn bulk_create_transfer_recipients(
        &self,
        recipients: &[CreateTransferRecipient],
    ) -> Result<BulkRecipients, Error> {
        if recipients.is_empty() {
            return Err(Error::InvalidRequest(
                "a bulk recipient creation needs at least one recipient".to_string(),
            ));
        }
        let body = BulkWire {
            batch: recipients.iter().map(RecipientWire::from).collect(),
        };
        let request = self
            .http_request(Method::POST, &["transferrecipient", "bulk"])
            .json(&body);
        self.send("POST /transferrecipient/bulk", request).await
    }

    /// Every active recipient, newest first, fetched a page at a time: `GET /transferrecipient`.
    pub fn list_transfer_recipients(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<TransferRecipient, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /transferrecipient", &["transferrecipient"]).query(query))
    }

    /// One recipient by numeric id or `RCP_…` code: `GET /transferrecipient/:id_or_code`.
    pub async fn fetch_transfer_recipient(&self, id_or_code: &str) -> Result<TransferRecipient, Error> {
        non_empty("recipient id or code", id_or_code)?;
        let request = self.http_request(Method::GET, &["transferrecipient", id_or_code]);
        self.send("GET /transferrecipient/:id_or_code", request).await
    }

    /// Renames a recipient or changes its email: `PUT /transferrecipient/:id_or_code`. Returns
    /// Paystack's `message`.
    pub async fn update_transfer_recipient(
        &self,
        id_or_code: &str,
        req: &UpdateTransferRecipient,
    ) -> Result<String, Error> {
        non_empty("recipient id or code", id_or_code)?;
        non_empty("recipient name", &req.name)?;
        let request = self
            .http_request(Method::PUT, &["transferrecipient", id_or_code])
            .json(req);
        self.send_ack("PUT /transferrecipient/:id_or_code", request).await
    }

    /// Deactivates a recipient (Paystack keeps it, inactive): `DELETE
    /// /transferrecipient/:id_or_code`. Returns Paystack's `message`.
    pub async fn delete_transfer_recipient(&self, id_or_code: &str) -> Result<String, Error> {
        non_empty("recipient id or code", id_or_code)?;
        let request = self.http_request(Method::DELETE, &["transferrecipient", id_or_code]);
        self.send_ack("DELETE /transferrecipient/:id_or_code", request)
            .await
    }
}
