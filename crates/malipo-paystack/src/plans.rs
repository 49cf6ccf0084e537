//! Plans: the amount and interval subscriptions charge. Create, fetch, list, update.

use futures::Stream;
use malipo_core::Money;
use reqwest::Method;
use serde::Serialize;

use crate::client::{Client, ListQuery};
use crate::error::Error;
use crate::event_data::Plan;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// How often a plan charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    /// Every hour.
    Hourly,
    /// Every day.
    Daily,
    /// Every week.
    Weekly,
    /// Every month.
    Monthly,
    /// Every three months.
    Quarterly,
    /// Every six months.
    Biannually,
    /// Every year.
    Annually,
}

impl Interval {
    /// The name Paystack uses, such as `monthly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Hourly => "hourly",
            Interval::Daily => "daily",
            Interval::Weekly => "weekly",
            Interval::Monthly => "monthly",
            Interval::Quarterly => "quarterly",
            Interval::Biannually => "biannually",
            Interval::Annually => "annually",
        }
    }
}

/// What `POST /plan` needs; also what `PUT /plan/:id_or_code` sends.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreatePlan {
    /// The plan's name.
    pub name: String,
    /// The amount charged each interval.
    pub amount: Money,
    /// How often.
    pub interval: Interval,
    /// Description shown on invoices.
    pub description: Option<String>,
    /// How many times to charge; `None` is until cancelled.
    pub invoice_limit: Option<u32>,
    /// Whether Paystack emails invoices (Paystack's default: yes).
    pub send_invoices: Option<bool>,
    /// Whether Paystack texts subscribers (Paystack's default: yes).
    pub send_sms: Option<bool>,
}

impl CreatePlan {
    /// A plan charging `amount` every `interval`.
    pub fn new(name: impl Into<String>, amount: Money, interval: Interval) -> Self {
        CreatePlan {
            name: name.into(),
            amount,
            interval,
            description: None,
            invoice_limit: None,
            send_invoices: None,
            send_sms: None,
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Stops charging after `limit` invoices.
    pub fn invoice_limit(mut self, limit: u32) -> Self {
        self.invoice_limit = Some(limit);
        self
    }
}

#[derive(Serialize)]
struct PlanWire<'a> {
    name: &'a str,
    amount: u64,
    currency: &'static str,
    interval: Interval,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoice_limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_invoices: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_sms: Option<bool>,
}

impl<'a> From<&'a CreatePlan> for PlanWire<'a> {
    fn from(p: &'a CreatePlan) -> Self {
        PlanWire {
            name: &p.name,
            amount: p.amount.minor(),
            currency: p.amount.currency().code(),
            interval: p.interval,
            description: p.description.as_deref(),
            invoice_limit: p.invoice_limit,
            send_invoices: p.send_invoices,
            send_sms: p.send_sms,
        }
    }
}

/// Filters of `GET /plan` beyond paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListPlans {
    /// Paging, and `status`/`from`/`to`.
    pub query: ListQuery,
    /// Only plans of this interval.
    pub interval: Option<Interval>,
}

impl ListPlans {
    /// Every plan.
    pub fn new() -> Self {
        ListPlans::default()
    }

    /// Sets paging and the common filters.
    pub fn query(mut self, query: ListQuery) -> Self {
        self.query = query;
        self
    }

    /// Only plans of `interval`.
    pub fn interval(mut self, interval: Interval) -> Self {
        self.interval = Some(interval);
        self
    }
}

impl Client {
    /// Creates a plan: `POST /plan`.
    pub async fn create_plan(&self, req: &CreatePlan) -> Result<Plan, Error> {
        non_empty("plan name", &req.name)?;
        let request = self
            .http_request(Method::POST, &["plan"])
            .json(&PlanWire::from(req));
        self.send("POST /plan", request).await
    }

    /// One plan by numeric id or `PLN_…` code: `GET /plan/:id_or_code`.
    pub async fn fetch_plan(&self, id_or_code: &str) -> Result<Plan, Error> {
        non_empty("plan id or code", id_or_code)?;
        let request = self.http_request(Method::GET, &["plan", id_or_code]);
        self.send("GET /plan/:id_or_code", request).await
    }

    /// Every plan, newest first, fetched a page at a time: `GET /plan`.
    pub fn list_plans(
        &self,
        filter: &ListPlans,
    ) -> impl Stream<Item = Result<Plan, Error>> + Send + Unpin + 'static {
        let listing = Listing::new("GET /plan", &["plan"])
            .query(&filter.query)
            .filter("interval", filter.interval.map(Interval::as_str));
        self.items(listing)
    }

    /// Replaces a plan's fields: `PUT /plan/:id_or_code`. Paystack answers with a message only
    /// (such as "Plan updated. 1 subscription(s) affected"), which is returned.
    pub async fn update_plan(&self, id_or_code: &str, req: &CreatePlan) -> Result<String, Error> {
        non_empty("plan id or code", id_or_code)?;
        let request = self
            .http_request(Method::PUT, &["plan", id_or_code])
            .json(&PlanWire::from(req));
        self.send_ack("PUT /plan/:id_or_code", request).await
    }
}
