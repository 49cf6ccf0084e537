//! Apple Pay: the domains a checkout may offer Apple Pay on. Register, list, unregister.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::Error;
use crate::transactions::non_empty;

#[derive(Serialize)]
struct DomainWire<'a> {
    #[serde(rename = "domainName")]
    domain_name: &'a str,
}

#[derive(Deserialize)]
struct DomainsWire {
    #[serde(default, rename = "domainNames")]
    domain_names: Vec<String>,
}

impl Client {
    /// Registers a domain (such as `shop.example.com`) for Apple Pay:
    /// `POST /apple-pay/domain`. Returns Paystack's `message`.
    pub async fn register_apple_pay_domain(&self, domain: &str) -> Result<String, Error> {
        non_empty("domain", domain)?;
        let request = self
            .http_request(Method::POST, &["apple-pay", "domain"])
            .json(&DomainWire { domain_name: domain });
        self.send_ack("POST /apple-pay/domain", request).await
    }

    /// The domains registered for Apple Pay: `GET /apple-pay/domain`.
    pub async fn list_apple_pay_domains(&self) -> Result<Vec<String>, Error> {
        let request = self.http_request(Method::GET, &["apple-pay", "domain"]);
        let answer: DomainsWire = self.send("GET /apple-pay/domain", request).await?;
        Ok(answer.domain_names)
    }

    /// Unregisters a domain: `DELETE /apple-pay/domain`. Returns Paystack's `message`.
    pub async fn unregister_apple_pay_domain(&self, domain: &str) -> Result<String, Error> {
        non_empty("domain", domain)?;
        let request = self
            .http_request(Method::DELETE, &["apple-pay", "domain"])
            .json(&DomainWire { domain_name: domain });
        self.send_ack("DELETE /apple-pay/domain", request).await
    }
}
