//! Payment pages (a hosted page customers pay on): create, fetch, list, update, check a slug,
//! add products.

use futures::Stream;
use malipo_core::Money;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, ListQuery};
use crate::de;
use crate::error::Error;
use crate::model::money;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// A payment page.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct PaymentPage {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// Name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    /// The page's address is `https://paystack.com/pay/<slug>`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub slug: Option<String>,
    /// Fixed amount in minor units; `None` lets the customer choose.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// Whether it takes payments.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub active: Option<bool>,
    /// Where the customer goes after paying.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub redirect_url: Option<String>,
    /// Products sold on the page, as sent.
    #[serde(default)]
    pub products: Option<Value>,
}

impl PaymentPage {
    /// The fixed amount as [`Money`].
    pub fn amount(&self) -> Option<Money> {
        money(self.amount, self.currency.as_deref())
    }
}

/// What `POST /page` needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreatePaymentPage {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// A fixed amount; `None` lets the customer choose.
    pub amount: Option<Money>,
    /// The page's slug; Paystack makes one when `None`.
    pub slug: Option<String>,
    /// Where the customer goes after paying.
    pub redirect_url: Option<String>,
}

impl CreatePaymentPage {
    /// A page named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        CreatePaymentPage {
            name: name.into(),
            description: None,
            amount: None,
            slug: None,
            redirect_url: None,
        }
    }

    /// Fixes the amount.
    pub fn amount(mut self, amount: Money) -> Self {
        self.amount = Some(amount);
        self
    }

    /// Sets the slug.
    pub fn slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Some(slug.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

#[derive(Serialize)]
struct PageWire<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    slug: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_url: Option<&'a str>,
}

/// What `PUT /page/:id_or_slug` changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UpdatePaymentPage {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Turns the page on or off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl UpdatePaymentPage {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        UpdatePaymentPage::default()
    }

    /// Renames the page.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Turns the page on or off.
    pub fn active(mut self, active: bool) -> Self {
        self.active = Some(active);
        self
    }
}

#[derive(Serialize)]
struct ProductsWire<'a> {
    product: &'a [u64],
}

impl Client {
    /// Creates a payment page: `POST /page`.
    pub async fn create_payment_page(&self, req: &CreatePaymentPage) -> Result<PaymentPage, Error> {
        non_empty("page name", &req.name)?;
        let body = PageWire {
            name: &req.name,
            description: req.description.as_deref(),
            amount: req.amount.map(Money::minor),
            currency: req.amount.map(|m| m.currency().code()),
            slug: req.slug.as_deref(),
            redirect_url: req.redirect_url.as_deref(),
        };
        let request = self.http_request(Method::POST, &["page"]).json(&body);
        self.send("POST /page", request).await
    }

    /// One page by numeric id or slug: `GET /page/:id_or_slug`.
    pub async fn fetch_payment_page(&self, id_or_slug: &str) -> Result<PaymentPage, Error> {
        non_empty("page id or slug", id_or_slug)?;
        let request = self.http_request(Method::GET, &["page", id_or_slug]);
        self.send("GET /page/:id_or_slug", request).await
    }

    /// Every payment page, newest first, fetched a page at a time: `GET /page`.
    pub fn list_payment_pages(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<PaymentPage, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /page", &["page"]).query(query))
    }

    /// Changes a page: `PUT /page/:id_or_slug`.
    pub async fn update_payment_page(
        &self,
        id_or_slug: &str,
        req: &UpdatePaymentPage,
    ) -> Result<PaymentPage, Error> {
        non_empty("page id or slug", id_or_slug)?;
        let request = self.http_request(Method::PUT, &["page", id_or_slug]).json(req);
        self.send("PUT /page/:id_or_slug", request).await
    }

    /// Whether `slug` is free: `GET /page/check_slug_availability/:slug`. Paystack's reference
    /// shows only the answer for a free slug; a 400 refusal is read as "taken" (`Ok(false)`),
    /// any other error is returned.
    pub async fn payment_page_slug_available(&self, slug: &str) -> Result<bool, Error> {
        non_empty("slug", slug)?;
        let request = self.http_request(Method::GET, &["page", "check_slug_availability", slug]);
        match self
            .send_ack("GET /page/check_slug_availability/:slug", request)
            .await
        {
            Ok(_) => Ok(true),
            Err(Error::Api { status: 400, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Adds products (by id) to a page: `POST /page/:id/product`.
    pub async fn add_payment_page_products(
        &self,
        page_id: u64,
        products: &[u64],
    ) -> Result<PaymentPage, Error> {
        if products.is_empty() {
            return Err(Error::InvalidRequest(
                "adding products needs at least one product id".to_string(),
            ));
        }
        let id = page_id.to_string();
        let request = self
            .http_request(Method::POST, &["page", &id, "product"])
            .json(&ProductsWire { product: products });
        self.send("POST /page/:id/product", request).await
    }
}
