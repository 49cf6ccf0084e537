//! The escape hatch: any Paystack endpoint this crate has no typed method for, with the same key
//! handling, envelope and errors as the typed ones.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Client;
use crate::error::Error;

impl Client {
    /// Calls `method path` with an optional JSON body and returns Paystack's `data` as `T`.
    ///
    /// `path` is relative to the base URL, such as `"customer/CUS_xnxdt6s1zg1f4nx"` or
    /// `"bank/resolve?account_number=0001234567&bank_code=058"`. Each path segment is
    /// percent-encoded (so a reference with spaces stays one segment); the query after `?` is sent
    /// as written. A path that is empty, absolute (`https://…`, `//host`) or has `.`/`..`
    /// segments is refused before sending, so the key can only go to the configured host.
    ///
    /// For endpoints that answer with no `data`, ask for `Option<T>` or `serde_json::Value`
    /// (`null`). Errors name the method only (`"GET (Client::request)"`), as the path is the
    /// caller's own.
    ///
    /// ```
    /// use malipo_core::Secret;
    /// use malipo_paystack::{Client, Method};
    /// # use malipo_sim::paystack::{PaystackSim, SimConfig, TEST_SECRET_KEY};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = PaystackSim::start(SimConfig::default()).await?;
    /// # let client = Client::builder(Secret::new(TEST_SECRET_KEY.to_string()))
    /// #     .base_url(sim.base_url().clone())
    /// #     .build()?;
    /// #[derive(serde::Deserialize)]
    /// struct Balance {
    ///     currency: String,
    ///     balance: i64,
    /// }
    /// let balances: Vec<Balance> = client.request(Method::GET, "balance", None).await?;
    /// assert!(balances.iter().all(|b| !b.currency.is_empty() && b.balance >= 0));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, Error> {
        let endpoint = label(&method);
        let url = self.raw_url(path)?;
        let mut request = self.authorized(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let (_, data, status) = self.send_raw::<Option<Value>>(endpoint, request).await?;
        serde_json::from_value(data.unwrap_or(Value::Null)).map_err(|source| Error::Decode {
            endpoint,
            status,
            source,
        })
    }

    fn raw_url(&self, path: &str) -> Result<url::Url, Error> {
        let invalid = |why: &str| Error::InvalidRequest(format!("the path {path:?} {why}"));
        let (path_part, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        if path_part.contains("://") || path_part.starts_with("//") {
            return Err(invalid(
                "is absolute: expected a path under the base URL, such as \"customer/CUS_…\"",
            ));
        }
        let segments: Vec<&str> = path_part.trim_start_matches('/').split('/').collect();
        if segments.iter().all(|s| s.trim().is_empty()) {
            return Err(invalid("is empty: expected a path such as \"customer/CUS_…\""));
        }
        if segments.iter().any(|s| matches!(*s, "." | "..")) {
            return Err(invalid("has a `.` or `..` segment: expected a plain path"));
        }
        let mut url = self.base_url().clone();
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty().extend(segments);
        }
        url.set_query(query.filter(|q| !q.is_empty()));
        Ok(url)
    }
}

fn label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET (Client::request)",
        Method::POST => "POST (Client::request)",
        Method::PUT => "PUT (Client::request)",
        Method::DELETE => "DELETE (Client::request)",
        Method::PATCH => "PATCH (Client::request)",
        _ => "(Client::request)",
    }
}
