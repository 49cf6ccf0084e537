//! The simulator's in-memory account: transactions, refunds, recipients, transfers, and the
//! JSON Paystack would render for each (shapes from Paystack's API reference).

use chrono::{SecondsFormat, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{json, Value};

use super::webhook::Delivery;

/// A refusal, rendered as Paystack does: `{"status": false, "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: 400,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: 404,
            message: message.into(),
        }
    }
}

/// Webhooks an operation triggers: `(event name, data)`, sent after the state lock is released.
pub(crate) type Webhooks = Vec<(&'static str, Value)>;

pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A lowercase alphanumeric code such as Paystack's references and `TRF_…` suffixes.
pub(crate) fn code(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(|b| char::from(b).to_ascii_lowercase())
        .collect()
}

#[derive(Debug, Clone)]
pub(crate) struct Tx {
    pub id: u64,
    pub reference: String,
    pub access_code: String,
    pub email: String,
    pub customer_id: u64,
    pub amount: u64,
    pub currency: String,
    pub status: &'static str,
    pub metadata: Value,
    pub created_at: String,
    pub paid_at: Option<String>,
    pub authorization_code: Option<String>,
    pub refunded: u64,
}

impl Tx {
    pub(crate) fn json(&self) -> Value {
        let authorization = match &self.authorization_code {
            Some(code) => json!({
                "authorization_code": code, "bin": "408408", "last4": "4081",
                "exp_month": "12", "exp_year": "2030", "channel": "card",
                "card_type": "visa ", "bank": "TEST BANK", "country_code": "KE",
                "brand": "visa", "reusable": true,
                "signature": format!("SIG_{}", code.trim_start_matches("AUTH_")), "account_name": null
            }),
            None => json!({}),
        };
        json!({
            "id": self.id, "domain": "test", "status": self.status,
            "reference": self.reference, "amount": self.amount, "message": null,
            "gateway_response": if self.paid_at.is_some() { "Successful" } else { "The transaction was not completed" },
            "paid_at": self.paid_at, "created_at": self.created_at,
            "channel": "card", "currency": self.currency, "ip_address": "127.0.0.1",
            "metadata": self.metadata, "log": null, "fees": self.amount / 100 * 3 / 2,
            "fees_split": null, "authorization": authorization,
            "customer": {
                "id": self.customer_id, "first_name": null, "last_name": null,
                "email": self.email, "customer_code": format!("CUS_sim{:012}", self.customer_id),
                "phone": null, "metadata": null, "risk_action": "default",
                "international_format_phone": null
            },
            "plan": null, "split": {}, "order_id": null,
            "paidAt": self.paid_at, "createdAt": self.created_at,
            "requested_amount": self.amount
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RefundRec {
    pub id: u64,
    pub transaction_id: u64,
    pub transaction_reference: String,
    pub email: String,
    pub amount: u64,
    pub currency: String,
    pub status: &'static str,
    pub customer_note: Option<String>,
    pub merchant_note: Option<String>,
    pub created_at: String,
}

impl RefundRec {
    pub(crate) fn json(&self, transaction: Value) -> Value {
        json!({
            "id": self.id, "integration": 100001, "domain": "test",
            "transaction": transaction, "dispute": null, "settlement": null,
            "amount": self.amount, "deducted_amount": self.amount, "fully_deducted": true,
            "currency": self.currency, "channel": "card", "status": self.status,
            "refunded_by": "sim@malipo.test", "refunded_at": null,
            "expected_at": self.created_at, "customer_note": self.customer_note,
            "merchant_note": self.merchant_note, "createdAt": self.created_at,
            "updatedAt": self.created_at
        })
    }

    /// The `data` of `refund.*` events: no id, amount as a string, as Paystack sends it.
    pub(crate) fn event_json(&self) -> Value {
        json!({
            "status": self.status, "transaction_reference": self.transaction_reference,
            "refund_reference": if self.status == "processed" { Some(format!("RF{:010}", self.id)) } else { None },
            "amount": self.amount.to_string(), "currency": self.currency,
            "processor": "sim", "customer": { "first_name": null, "last_name": null, "email": self.email },
            "integration": 100001, "domain": "test"
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Recipient {
    pub id: u64,
    pub code: String,
    pub kind: String,
    pub name: String,
    pub account_number: String,
    pub bank_code: String,
    pub currency: String,
    pub email: Option<String>,
    pub description: Option<String>,
    pub created_at: String,
    /// `false` once deleted: Paystack keeps deleted recipients, inactive.
    pub active: bool,
}

impl Recipient {
    pub(crate) fn json(&self) -> Value {
        json!({
            "active": self.active, "createdAt": self.created_at, "currency": self.currency,
            "description": self.description, "domain": "test", "email": self.email,
            "id": self.id, "integration": 100001, "metadata": null, "name": self.name,
            "recipient_code": self.code, "type": self.kind, "updatedAt": self.created_at,
            "is_deleted": !self.active,
            "details": {
                "authorization_code": null, "account_number": self.account_number,
                "account_name": self.name, "bank_code": self.bank_code, "bank_name": "Sim Bank"
            }
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TransferRec {
    pub id: u64,
    pub code: String,
    pub reference: String,
    pub amount: u64,
    pub currency: String,
    pub recipient: usize,
    pub reason: Option<String>,
    pub status: &'static str,
    pub created_at: String,
    pub transferred_at: Option<String>,
}

impl TransferRec {
    /// `recipient` is the recipient's id in API answers and the whole object in webhooks.
    pub(crate) fn json(&self, recipient: Value) -> Value {
        json!({
            "amount": self.amount, "currency": self.currency, "domain": "test",
            "failures": null, "id": self.id, "integration": 100001, "reason": self.reason,
            "reference": self.reference, "source": "balance", "source_details": null,
            "status": self.status, "titan_code": null, "transfer_code": self.code,
            "transferred_at": self.transferred_at, "recipient": recipient,
            "session": { "provider": null, "id": null },
            "createdAt": self.created_at, "updatedAt": self.created_at,
            "created_at": self.created_at, "updated_at": self.created_at
        })
    }
}

/// Everything the simulated account holds.
#[derive(Debug, Default)]
pub(crate) struct State {
    next_id: u64,
    pub transactions: Vec<Tx>,
    pub refunds: Vec<RefundRec>,
    pub recipients: Vec<Recipient>,
    pub transfers: Vec<TransferRec>,
    pub deliveries: Vec<Delivery>,
    /// Resources kept as the JSON Paystack renders (customers, plans, subscriptions, …).
    pub records: super::records::Records,
    /// Authorization codes that may no longer be charged.
    pub deactivated_authorizations: Vec<String>,
    /// Every authenticated API request, in order.
    pub api_calls: Vec<ApiCall>,
}

/// One authenticated request the simulator answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ApiCall {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request path, such as `/customer/CUS_x`.
    pub path: String,
    /// The HTTP status answered.
    pub status: u16,
}

impl State {
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        // Paystack ids are large numbers; an offset makes ours look alike and never 0.
        4_000_000_000 + self.next_id
    }

    pub(crate) fn tx_by_reference(&self, reference: &str) -> Option<usize> {
        self.transactions.iter().position(|t| t.reference == reference)
    }

    /// The id of the customer paying with `email`: the one created through the API, or the one
    /// an earlier transaction made, or a new one.
    pub(crate) fn customer_id(&mut self, email: &str) -> u64 {
        let created = self
            .records
            .all(super::records::CUSTOMER)
            .iter()
            .find(|c| c["email"].as_str() == Some(email))
            .and_then(|c| c["id"].as_u64());
        if let Some(id) = created {
            return id;
        }
        match self.transactions.iter().find(|t| t.email == email) {
            Some(t) => t.customer_id,
            None => self.next_id(),
        }
    }

    /// Completes a checkout as a paying customer would: the transaction becomes `success` and a
    /// `charge.success` webhook is due.
    pub(crate) fn authorize(&mut self, index: usize) -> Result<Webhooks, ApiError> {
        let tx = self
            .transactions
            .get_mut(index)
            .ok_or_else(|| ApiError::not_found("Transaction not found"))?;
        // A checkout not paid yet, or a charge waiting for the customer's approval elsewhere.
        if !matches!(tx.status, "abandoned" | "pay_offline") {
            return Err(ApiError::bad_request(format!(
                "Transaction {} is already {}",
                tx.reference, tx.status
            )));
        }
        tx.status = "success";
        tx.paid_at = Some(now());
        tx.authorization_code = Some(format!("AUTH_{}", code(10)));
        Ok(vec![("charge.success", tx.json())])
    }

    pub(crate) fn transfer_webhook(&self, index: usize) -> Webhooks {
        let Some(t) = self.transfers.get(index) else {
            return Vec::new();
        };
        let recipient = self
            .recipients
            .get(t.recipient)
            .map_or(Value::Null, Recipient::json);
        let event = match t.status {
            "success" => "transfer.success",
            "failed" => "transfer.failed",
            _ => return Vec::new(),
        };
        vec![(event, t.json(recipient))]
    }

    /// Moves a transfer past OTP: it succeeds, unless it goes to [`super::FAILING_ACCOUNT_NUMBER`].
    pub(crate) fn complete_transfer(&mut self, index: usize) -> Webhooks {
        let failing = self
            .transfers
            .get(index)
            .and_then(|t| self.recipients.get(t.recipient))
            .is_some_and(|r| r.account_number == super::FAILING_ACCOUNT_NUMBER);
        if let Some(t) = self.transfers.get_mut(index) {
            t.status = if failing { "failed" } else { "success" };
            if !failing {
                t.transferred_at = Some(now());
            }
        }
        self.transfer_webhook(index)
    }
}
