//! Subscriptions: a customer charged on a plan's schedule. Create, fetch, list, enable, disable,
//! and the link (or email) to let the subscriber manage it.

use futures::Stream;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, ListQuery};
use crate::error::Error;
use crate::event_data::Subscription;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// What `POST /subscription` needs: who, on which plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateSubscription {
    /// The customer's email or `CUS_…` code.
    pub customer: String,
    /// The `PLN_…` code.
    pub plan: String,
    /// The `AUTH_…` code to charge; Paystack uses the customer's most recent one when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// First charge date (ISO 8601); now when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
}

impl CreateSubscription {
    /// Subscribes `customer` (email or code) to `plan` (code).
    pub fn new(customer: impl Into<String>, plan: impl Into<String>) -> Self {
        CreateSubscription {
            customer: customer.into(),
            plan: plan.into(),
            authorization: None,
            start_date: None,
        }
    }

    /// Charges this authorization.
    pub fn authorization(mut self, code: impl Into<String>) -> Self {
        self.authorization = Some(code.into());
        self
    }

    /// Starts on this date.
    pub fn start_date(mut self, date: impl Into<String>) -> Self {
        self.start_date = Some(date.into());
        self
    }
}

/// Filters of `GET /subscription` beyond paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListSubscriptions {
    /// Paging, and `from`/`to`.
    pub query: ListQuery,
    /// Only this customer's (numeric id).
    pub customer: Option<u64>,
    /// Only this plan's (numeric id).
    pub plan: Option<u64>,
}

impl ListSubscriptions {
    /// Every subscription.
    pub fn new() -> Self {
        ListSubscriptions::default()
    }

    /// Sets paging and the common filters.
    pub fn query(mut self, query: ListQuery) -> Self {
        self.query = query;
        self
    }

    /// Only the subscriptions of customer `id`.
    pub fn customer(mut self, id: u64) -> Self {
        self.customer = Some(id);
        self
    }

    /// Only the subscriptions to plan `id`.
    pub fn plan(mut self, id: u64) -> Self {
        self.plan = Some(id);
        self
    }
}

#[derive(Serialize)]
struct ToggleWire<'a> {
    code: &'a str,
    token: &'a str,
}

#[derive(Deserialize)]
struct LinkWire {
    link: String,
}

impl Client {
    /// Subscribes a customer to a plan: `POST /subscription`. In this answer Paystack sends
    /// `customer` and `plan` as ids, so those fields of the result are `None`; fetch the
    /// subscription for them.
    pub async fn create_subscription(&self, req: &CreateSubscription) -> Result<Subscription, Error> {
        non_empty("customer", &req.customer)?;
        non_empty("plan", &req.plan)?;
        let request = self.http_request(Method::POST, &["subscription"]).json(req);
        self.send("POST /subscription", request).await
    }

    /// One subscription by numeric id or `SUB_…` code: `GET /subscription/:id_or_code`.
    pub async fn fetch_subscription(&self, id_or_code: &str) -> Result<Subscription, Error> {
        non_empty("subscription id or code", id_or_code)?;
        let request = self.http_request(Method::GET, &["subscription", id_or_code]);
        self.send("GET /subscription/:id_or_code", request).await
    }

    /// Every subscription, newest first, fetched a page at a time: `GET /subscription`.
    pub fn list_subscriptions(
        &self,
        filter: &ListSubscriptions,
    ) -> impl Stream<Item = Result<Subscription, Error>> + Send + Unpin + 'static {
        let customer = filter.customer.map(|c| c.to_string());
        let plan = filter.plan.map(|p| p.to_string());
        let listing = Listing::new("GET /subscription", &["subscription"])
            .query(&filter.query)
            .filter("customer", customer.as_deref())
            .filter("plan", plan.as_deref());
        self.items(listing)
    }

    /// Turns a disabled subscription back on: `POST /subscription/enable`. `email_token` is the
    /// subscription's [`Subscription::email_token`]. Returns Paystack's `message`.
    pub async fn enable_subscription(&self, code: &str, email_token: &str) -> Result<String, Error> {
        self.toggle_subscription("enable", "POST /subscription/enable", code, email_token)
            .await
    }

    /// Stops a subscription: `POST /subscription/disable`. Returns Paystack's `message`.
    pub async fn disable_subscription(&self, code: &str, email_token: &str) -> Result<String, Error> {
        self.toggle_subscription("disable", "POST /subscription/disable", code, email_token)
            .await
    }

    async fn toggle_subscription(
        &self,
        action: &str,
        endpoint: &'static str,
        code: &str,
        token: &str,
    ) -> Result<String, Error> {
        non_empty("subscription code", code)?;
        non_empty("email token", token)?;
        let request = self
            .http_request(Method::POST, &["subscription", action])
            .json(&ToggleWire { code, token });
        self.send_ack(endpoint, request).await
    }

    /// A link where the subscriber can update their card or cancel:
    /// `GET /subscription/:code/manage/link`.
    pub async fn subscription_manage_link(&self, code: &str) -> Result<String, Error> {
        non_empty("subscription code", code)?;
        let request = self.http_request(Method::GET, &["subscription", code, "manage", "link"]);
        let answer: LinkWire = self.send("GET /subscription/:code/manage/link", request).await?;
        Ok(answer.link)
    }

    /// Emails the subscriber that link: `POST /subscription/:code/manage/email`. Returns
    /// Paystack's `message`.
    pub async fn email_subscription_manage_link(&self, code: &str) -> Result<String, Error> {
        non_empty("subscription code", code)?;
        let request = self.http_request(Method::POST, &["subscription", code, "manage", "email"]);
        self.send_ack("POST /subscription/:code/manage/email", request)
            .await
    }
}
