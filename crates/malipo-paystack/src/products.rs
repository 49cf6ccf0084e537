//! Products (an inventory to sell on payment pages): create, fetch, list, update.

use futures::Stream;
use malipo_core::Money;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, ListQuery};
use crate::de;
use crate::error::Error;
use crate::model::money;
use crate::paging::Listing;
use crate::transactions::non_empty;

/// A product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Product {
    /// Numeric id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    /// `PROD_…` code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub product_code: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    /// Price in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub price: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// Whether stock is unlimited.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub unlimited: Option<bool>,
    /// Units in stock, when limited.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub quantity: Option<u64>,
    /// Units sold.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub quantity_sold: Option<u64>,
    /// Whether it is on sale.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub active: Option<bool>,
}

impl Product {
    /// The price as [`Money`].
    pub fn price(&self) -> Option<Money> {
        money(self.price, self.currency.as_deref())
    }
}

/// What `POST /product` needs; also what `PUT /product/:id` sends.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreateProduct {
    /// Name.
    pub name: String,
    /// Description (Paystack requires one).
    pub description: String,
    /// Price.
    pub price: Money,
    /// Units in stock; `None` is unlimited.
    pub quantity: Option<u64>,
}

impl CreateProduct {
    /// A product with unlimited stock.
    pub fn new(name: impl Into<String>, description: impl Into<String>, price: Money) -> Self {
        CreateProduct {
            name: name.into(),
            description: description.into(),
            price,
            quantity: None,
        }
    }

    /// Limits the stock to `quantity` units.
    pub fn quantity(mut self, quantity: u64) -> Self {
        self.quantity = Some(quantity);
        self
    }
}

#[derive(Serialize)]
struct ProductWire<'a> {
    name: &'a str,
    description: &'a str,
    price: u64,
    currency: &'static str,
    unlimited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    quantity: Option<u64>,
}

impl<'a> From<&'a CreateProduct> for ProductWire<'a> {
    fn from(p: &'a CreateProduct) -> Self {
        ProductWire {
            name: &p.name,
            description: &p.description,
            price: p.price.minor(),
            currency: p.price.currency().code(),
            unlimited: p.quantity.is_none(),
            quantity: p.quantity,
        }
    }
}

impl Client {
    /// Creates a product: `POST /product`.
    pub async fn create_product(&self, req: &CreateProduct) -> Result<Product, Error> {
        non_empty("product name", &req.name)?;
        non_empty("product description", &req.description)?;
        let request = self
            .http_request(Method::POST, &["product"])
            .json(&ProductWire::from(req));
        self.send("POST /product", request).await
    }

    /// One product by id: `GET /product/:id`.
    pub async fn fetch_product(&self, id: u64) -> Result<Product, Error> {
        let id = id.to_string();
        let request = self.http_request(Method::GET, &["product", &id]);
        self.send("GET /product/:id", request).await
    }

    /// Every product, newest first, fetched a page at a time: `GET /product`.
    pub fn list_products(
        &self,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Product, Error>> + Send + Unpin + 'static {
        self.items(Listing::new("GET /product", &["product"]).query(query))
    }

    /// Replaces a product's details: `PUT /product/:id`.
    pub async fn update_product(&self, id: u64, req: &CreateProduct) -> Result<Product, Error> {
        non_empty("product name", &req.name)?;
        let id = id.to_string();
        let request = self
            .http_request(Method::PUT, &["product", &id])
            .json(&ProductWire::from(req));
        self.send("PUT /product/:id", request).await
    }
}
