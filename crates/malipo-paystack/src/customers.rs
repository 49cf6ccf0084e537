//! Customers: create, fetch, list, update, validate identity, whitelist/blacklist, deactivate a
//! saved authorization.

use futures::Stream;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::client::{Client, ListQuery};
use crate::error::Error;
use crate::model::Customer;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// What `POST /customer` needs: an email, and optionally names, phone and metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateCustomer {
    /// The customer's email address.
    pub email: String,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Anything to keep with the customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

impl CreateCustomer {
    /// A customer known by `email`.
    pub fn new(email: impl Into<String>) -> Self {
        CreateCustomer {
            email: email.into(),
            first_name: None,
            last_name: None,
            phone: None,
            metadata: None,
        }
    }

    /// Sets first and last name.
    pub fn name(mut self, first: impl Into<String>, last: impl Into<String>) -> Self {
        self.first_name = Some(first.into());
        self.last_name = Some(last.into());
        self
    }

    /// Sets the phone number.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    /// Attaches metadata.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// What `PUT /customer/:code` changes; fields left `None` keep their value.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UpdateCustomer {
    /// New first name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// New last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// New phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// New metadata (replaces the old).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

impl UpdateCustomer {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        UpdateCustomer::default()
    }

    /// Sets first and last name.
    pub fn name(mut self, first: impl Into<String>, last: impl Into<String>) -> Self {
        self.first_name = Some(first.into());
        self.last_name = Some(last.into());
        self
    }

    /// Sets the phone number.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    /// Replaces the metadata.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// What `POST /customer/:code/identification` needs to validate a customer's identity against a
/// bank account (Paystack's only documented `type` is `bank_account`, Nigeria only).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ValidateCustomer {
    /// Two-letter country code, such as `NG`.
    pub country: String,
    /// Identification type: `bank_account`.
    #[serde(rename = "type")]
    pub id_type: String,
    /// The customer's bank account number.
    pub account_number: String,
    /// Bank Verification Number.
    pub bvn: String,
    /// Bank code from [`Client::list_banks`].
    pub bank_code: String,
    /// First name as the bank knows it.
    pub first_name: String,
    /// Last name as the bank knows it.
    pub last_name: String,
    /// Middle name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
}

impl ValidateCustomer {
    /// Validation against bank account `account_number` at `bank_code` in `country`.
    pub fn bank_account(
        country: impl Into<String>,
        bvn: impl Into<String>,
        bank_code: impl Into<String>,
        account_number: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
    ) -> Self {
        ValidateCustomer {
            country: country.into(),
            id_type: "bank_account".to_string(),
            account_number: account_number.into(),
            bvn: bvn.into(),
            bank_code: bank_code.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            middle_name: None,
        }
    }
}

/// How Paystack treats a customer's future charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskAction {
    /// Paystack's fraud checks decide.
    Default,
    /// Whitelisted: always allowed.
    Allow,
    /// Blacklisted: always refused.
    Deny,
}

#[derive(Serialize)]
struct RiskWire<'a> {
    customer: &'a str,
    risk_action: RiskAction,
}

impl Client {
    /// Creates a customer: `POST /customer`.
    pub async fn create_customer(&self, req: &CreateCustomer) -> Result<Customer, Error> {
        non_empty("email", &req.email)?;
        let request = self.http_request(Method::POST, &["customer"]).json(req);
        self.send("POST /customer", request).await
    }

    /// One customer by email or `CUS_…` code: `GET /customer/:email_or_code`.
    pub async fn fetch_customer(&self, email_or_code: &str) -> Result<Customer, Error> {
        non_empty("email or customer code", email_or_code)?;
        let request = self.http_request(Method::GET, &["customer", email_or_code]);
        self.send("GET /customer/:email_or_code", request).await
    }

    /// Every customer, newest first, fetched a page at a time: `GET /customer`.
    pub fn list_customers(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Customer, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /customer", &["customer"]).query(query))
    }

    /// Changes a customer's names, phone or metadata: `PUT /customer/:code`.
    pub async fn update_customer(&self, code: &str, req: &UpdateCustomer) -> Result<Customer, Error> {
        non_empty("customer code", code)?;
        let request = self.http_request(Method::PUT, &["customer", code]).json(req);
        self.send("PUT /customer/:code", request).await
    }

    /// Starts validating a customer's identity: `POST /customer/:code/identification`. The answer
    /// only says it started (Paystack's `message`); the result comes as a
    /// `customeridentification.success` or `.failed` webhook.
    pub async fn validate_customer(&self, code: &str, req: &ValidateCustomer) -> Result<String, Error> {
        non_empty("customer code", code)?;
        let request = self
            .http_request(Method::POST, &["customer", code, "identification"])
            .json(req);
        self.send_ack("POST /customer/:code/identification", request)
            .await
    }

    /// Whitelists ([`RiskAction::Allow`]), blacklists ([`RiskAction::Deny`]) or resets a
    /// customer: `POST /customer/set_risk_action`.
    pub async fn set_customer_risk_action(
        &self,
        email_or_code: &str,
        risk_action: RiskAction,
    ) -> Result<Customer, Error> {
        non_empty("email or customer code", email_or_code)?;
        let body = RiskWire {
            customer: email_or_code,
            risk_action,
        };
        let request = self
            .http_request(Method::POST, &["customer", "set_risk_action"])
            .json(&body);
        self.send("POST /customer/set_risk_action", request).await
    }

    /// Stops a saved authorization from being charged again:
    /// `POST /customer/authorization/deactivate`. Returns Paystack's `message`.
    pub async fn deactivate_authorization(&self, authorization_code: &str) -> Result<String, Error> {
        non_empty("authorization code", authorization_code)?;
        let request = self
            .http_request(Method::POST, &["customer", "authorization", "deactivate"])
            .json(&serde_json::json!({ "authorization_code": authorization_code }));
        self.send_ack("POST /customer/authorization/deactivate", request)
            .await
    }
}
