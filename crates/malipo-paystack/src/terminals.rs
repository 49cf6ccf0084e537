//! Terminals (Paystack's point-of-sale devices): list, fetch, update, send an event, check an
//! event was delivered, check presence, commission and decommission.

use futures::Stream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::client::Client;
use crate::de;
use crate::error::Error;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// A terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Terminal {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// The id the terminal endpoints take.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub terminal_id: Option<String>,
    /// The device's serial number.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub serial_number: Option<String>,
    /// The device's maker.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub device_make: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Where it is.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub address: Option<String>,
    /// `active`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
}

/// What a terminal is asked to do with a payment request (`invoice`) or a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TerminalEvent {
    /// Take payment for the payment request with this id (`offline_reference` as `reference`).
    ProcessInvoice {
        /// The payment request's numeric id.
        id: u64,
        /// Its `offline_reference`.
        reference: String,
    },
    /// Show the payment request with this id.
    ViewInvoice {
        /// The payment request's numeric id.
        id: u64,
        /// Its `offline_reference`.
        reference: String,
    },
    /// Print the receipt of the transaction with this id.
    PrintTransaction {
        /// The transaction's numeric id.
        id: u64,
    },
}

impl TerminalEvent {
    fn wire(&self) -> Value {
        match self {
            TerminalEvent::ProcessInvoice { id, reference } => {
                json!({ "type": "invoice", "action": "process", "data": { "id": id, "reference": reference } })
            }
            TerminalEvent::ViewInvoice { id, reference } => {
                json!({ "type": "invoice", "action": "view", "data": { "id": id, "reference": reference } })
            }
            TerminalEvent::PrintTransaction { id } => {
                json!({ "type": "transaction", "action": "print", "data": { "id": id } })
            }
        }
    }
}

/// Whether a terminal can take an event now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TerminalPresence {
    /// Whether it is connected.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub online: Option<bool>,
    /// Whether it is free to take an event.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub available: Option<bool>,
}

#[derive(Deserialize)]
struct EventId {
    #[serde(deserialize_with = "de::opt_string")]
    id: Option<String>,
}

#[derive(Deserialize)]
struct Delivered {
    #[serde(default, deserialize_with = "de::opt_bool")]
    delivered: Option<bool>,
}

impl Client {
    /// Every terminal, fetched a page at a time by cursor: `GET /terminal`.
    pub fn list_terminals(
        &self,
        per_page: Option<u32>,
    ) -> impl Stream<Item = Result<Terminal, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /terminal", &["terminal"]).by_cursor(per_page))
    }

    /// One terminal: `GET /terminal/:terminal_id`.
    pub async fn fetch_terminal(&self, terminal_id: &str) -> Result<Terminal, Error> {
        non_empty("terminal id", terminal_id)?;
        let request = self.http_request(Method::GET, &["terminal", terminal_id]);
        self.send("GET /terminal/:terminal_id", request).await
    }

    /// Renames a terminal or changes its address: `PUT /terminal/:terminal_id`. Returns
    /// Paystack's `message`.
    pub async fn update_terminal(
        &self,
        terminal_id: &str,
        name: &str,
        address: &str,
    ) -> Result<String, Error> {
        non_empty("terminal id", terminal_id)?;
        let request = self
            .http_request(Method::PUT, &["terminal", terminal_id])
            .json(&json!({ "name": name, "address": address }));
        self.send_ack("PUT /terminal/:terminal_id", request).await
    }

    /// Sends an event to a terminal: `POST /terminal/:terminal_id/event`. Returns the event's
    /// id, for [`Client::terminal_event_delivered`].
    pub async fn send_terminal_event(
        &self,
        terminal_id: &str,
        event: &TerminalEvent,
    ) -> Result<String, Error> {
        non_empty("terminal id", terminal_id)?;
        let request = self
            .http_request(Method::POST, &["terminal", terminal_id, "event"])
            .json(&event.wire());
        let answer: EventId = self.send("POST /terminal/:terminal_id/event", request).await?;
        answer
            .id
            .ok_or_else(|| Error::InvalidRequest("Paystack's answer named no event id".to_string()))
    }

    /// Whether the terminal received event `event_id`:
    /// `GET /terminal/:terminal_id/event/:event_id`.
    pub async fn terminal_event_delivered(&self, terminal_id: &str, event_id: &str) -> Result<bool, Error> {
        non_empty("terminal id", terminal_id)?;
        non_empty("event id", event_id)?;
        let request = self.http_request(Method::GET, &["terminal", terminal_id, "event", event_id]);
        let answer: Delivered = self
            .send("GET /terminal/:terminal_id/event/:event_id", request)
            .await?;
        Ok(answer.delivered.unwrap_or(false))
    }

    /// Whether a terminal is online and free: `GET /terminal/:terminal_id/presence`.
    pub async fn terminal_presence(&self, terminal_id: &str) -> Result<TerminalPresence, Error> {
        non_empty("terminal id", terminal_id)?;
        let request = self.http_request(Method::GET, &["terminal", terminal_id, "presence"]);
        self.send("GET /terminal/:terminal_id/presence", request).await
    }

    /// Adds a device to the account by serial number: `POST /terminal/commission_device`.
    /// Returns Paystack's `message`.
    pub async fn commission_terminal(&self, serial_number: &str) -> Result<String, Error> {
        self.terminal_device(
            "commission_device",
            "POST /terminal/commission_device",
            serial_number,
        )
        .await
    }

    /// Removes a device from the account: `POST /terminal/decommission_device`. Returns
    /// Paystack's `message`.
    pub async fn decommission_terminal(&self, serial_number: &str) -> Result<String, Error> {
        self.terminal_device(
            "decommission_device",
            "POST /terminal/decommission_device",
            serial_number,
        )
        .await
    }

    async fn terminal_device(
        &self,
        action: &str,
        endpoint: &'static str,
        serial_number: &str,
    ) -> Result<String, Error> {
        non_empty("serial number", serial_number)?;
        let request = self
            .http_request(Method::POST, &["terminal", action])
            .json(&json!({ "serial_number": serial_number }));
        self.send_ack(endpoint, request).await
    }
}
