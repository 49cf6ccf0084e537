//! The HTTP client: authentication, the `{status, message, data, meta}` envelope, errors and
//! pagination. The endpoint groups live in their own modules (see [`crate::API_GROUPS`]).

use std::fmt;
use std::time::Duration;

use futures::Stream;
use malipo_core::Secret;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::de;
use crate::error::Error;

/// Paystack's production API (test and live mode are chosen by the key, not the host).
pub const DEFAULT_BASE_URL: &str = "https://api.paystack.co";

/// A Paystack API client. Cheap to clone (the connection pool is shared).
///
/// `Debug` shows the base URL only; the secret key is sent in the `Authorization` header and
/// appears nowhere else.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: Url,
    secret_key: Secret<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url.as_str())
            .field("secret_key", &self.secret_key)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]: base URL (for a simulator) and timeouts.
#[derive(Debug)]
pub struct ClientBuilder {
    secret_key: Secret<String>,
    base_url: Option<Url>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl ClientBuilder {
    /// Sends requests to `base_url` instead of <https://api.paystack.co> (a simulator, a proxy).
    pub fn base_url(mut self, base_url: Url) -> Self {
        self.base_url = Some(base_url);
        self
    }

    /// Gives up on a whole request after this long (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Gives up connecting after this long (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = match self.base_url {
            Some(url) => url,
            None => Url::parse(DEFAULT_BASE_URL)
                .map_err(|e| Error::InvalidRequest(format!("default base URL: {e}")))?,
        };
        if base_url.cannot_be_a_base() || !matches!(base_url.scheme(), "http" | "https") {
            return Err(Error::InvalidRequest(format!(
                "base URL {base_url} is not usable: expected an http(s) URL such as {DEFAULT_BASE_URL}"
            )));
        }
        let http = reqwest::Client::builder()
            // A redirect would resend the request, secret key header included, to wherever the
            // answer points.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("malipo-paystack/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Build)?;
        Ok(Client {
            http,
            base_url,
            secret_key: self.secret_key,
        })
    }
}

impl Client {
    /// A client for the production API with default timeouts.
    pub fn new(secret_key: Secret<String>) -> Result<Client, Error> {
        Client::builder(secret_key).build()
    }

    /// Starts building a client.
    pub fn builder(secret_key: Secret<String>) -> ClientBuilder {
        ClientBuilder {
            secret_key,
            base_url: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The API base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// `base_url` + the path segments, each percent-encoded, so a reference containing `/` or
    /// `?` stays one segment instead of changing the endpoint.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub(crate) fn http_request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.authorized(method, self.url(segments))
    }

    /// A request to `url` carrying the key; `url` must be under [`Client::base_url`].
    pub(crate) fn authorized(&self, method: Method, url: Url) -> RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(self.secret_key.expose())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Sends a request and unwraps Paystack's envelope into `data`.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        request: RequestBuilder,
    ) -> Result<T, Error> {
        self.send_enveloped(endpoint, request).await.map(|e| e.0)
    }

    /// Like [`Client::send`], also returning the envelope's `meta` (pagination).
    pub(crate) async fn send_enveloped<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        request: RequestBuilder,
    ) -> Result<(T, PageMeta), Error> {
        let envelope = self.send_envelope::<T>(endpoint, request).await?;
        Ok((envelope.data, envelope.meta.unwrap_or_default()))
    }

    /// Like [`Client::send`], returning `message`, `data` (which may be absent when `T` is an
    /// `Option`) and the HTTP status.
    pub(crate) async fn send_raw<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        request: RequestBuilder,
    ) -> Result<(Option<String>, T, u16), Error> {
        let envelope = self.send_envelope::<T>(endpoint, request).await?;
        Ok((envelope.message, envelope.data, envelope.http_status))
    }

    async fn send_envelope<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        request: RequestBuilder,
    ) -> Result<Envelope<T>, Error> {
        let transport = |source| Error::Transport { endpoint, source };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        tracing::debug!(endpoint, status = status.as_u16(), "paystack answered");
        let status = status.as_u16();
        if !(200..300).contains(&status) {
            return Err(refusal(endpoint, status, &body));
        }
        let envelope: Envelope<T> =
            serde_json::from_slice(&body).map_err(|source| match refusal_of(&body) {
                // `"status": false` with a 200 is still a refusal, not a decoding problem.
                Some((message, code)) => Error::Api {
                    endpoint,
                    status,
                    message,
                    code,
                },
                None => Error::Decode {
                    endpoint,
                    status,
                    source,
                },
            })?;
        if !envelope.status {
            return Err(Error::Api {
                endpoint,
                status,
                message: envelope.message.unwrap_or_default(),
                code: None,
            });
        }
        Ok(Envelope {
            http_status: status,
            ..envelope
        })
    }

    /// Sends a request whose answer carries no `data` that matters (`{"status": true, "message":
    /// "Subscription disabled successfully"}`) and returns Paystack's `message`.
    pub(crate) async fn send_ack(
        &self,
        endpoint: &'static str,
        request: RequestBuilder,
    ) -> Result<String, Error> {
        let (message, _, _) = self
            .send_raw::<Option<serde::de::IgnoredAny>>(endpoint, request)
            .await?;
        Ok(message.unwrap_or_default())
    }

    /// Fetches one page of a list endpoint.
    pub(crate) async fn page<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        segments: &[&str],
        query: &ListQuery,
    ) -> Result<Page<T>, Error> {
        let request = self.http_request(Method::GET, segments).query(&query.pairs());
        let (items, meta) = self.send_enveloped::<Vec<T>>(endpoint, request).await?;
        Ok(Page { items, meta })
    }

    /// Every page of a list endpoint from `query.page` (default 1) on, fetched lazily.
    pub(crate) fn pages<'a, T: DeserializeOwned + 'a>(
        &'a self,
        endpoint: &'static str,
        segments: &'static [&'static str],
        query: ListQuery,
    ) -> impl Stream<Item = Result<Page<T>, Error>> + 'a {
        futures::stream::unfold(Some(query), move |state| async move {
            let query = state?;
            match self.page::<T>(endpoint, segments, &query).await {
                Ok(page) => {
                    let next = page.next_query(&query);
                    Some((Ok(page), next))
                }
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: bool,
    #[serde(default)]
    message: Option<String>,
    data: T,
    #[serde(default)]
    meta: Option<PageMeta>,
    #[serde(skip)]
    http_status: u16,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

fn refusal_of(body: &[u8]) -> Option<(String, Option<String>)> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    Some((parsed.message?, parsed.code))
}

fn refusal(endpoint: &'static str, status: u16, body: &[u8]) -> Error {
    let (message, code) = refusal_of(body).unwrap_or_else(|| {
        (
            format!("no Paystack error message in the answer ({} bytes)", body.len()),
            None,
        )
    });
    Error::Api {
        endpoint,
        status,
        message,
        code,
    }
}

/// Filters and paging of the list endpoints. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Items per page (Paystack's default is 50).
    pub per_page: Option<u32>,
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Only items in this status (`success`, `failed`, `abandoned`, …).
    pub status: Option<String>,
    /// Only items created at or after this ISO 8601 timestamp.
    pub from: Option<String>,
    /// Only items created at or before this ISO 8601 timestamp.
    pub to: Option<String>,
}

impl ListQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(n) = self.per_page {
            pairs.push(("perPage", n.to_string()));
        }
        if let Some(n) = self.page {
            pairs.push(("page", n.to_string()));
        }
        for (name, value) in [("status", &self.status), ("from", &self.from), ("to", &self.to)] {
            if let Some(v) = value {
                pairs.push((name, v.clone()));
            }
        }
        pairs
    }
}

/// Paystack's pagination `meta`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct PageMeta {
    /// Number of items across all pages.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total: Option<u64>,
    /// This page's number.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub page: Option<u64>,
    /// Number of pages.
    #[serde(default, rename = "pageCount", deserialize_with = "de::opt_u64")]
    pub page_count: Option<u64>,
    /// Items per page.
    #[serde(default, rename = "perPage", deserialize_with = "de::opt_u64")]
    pub per_page: Option<u64>,
    /// The cursor of the following page, on endpoints paged by cursor (`use_cursor=true`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub next: Option<String>,
    /// The cursor of the preceding page, on endpoints paged by cursor.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub previous: Option<String>,
}

/// One page of a list endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Paging information.
    pub meta: PageMeta,
}

impl<T> Page<T> {
    /// The query for the following page, or `None` when this is the last one.
    pub(crate) fn next_query(&self, query: &ListQuery) -> Option<ListQuery> {
        if self.items.is_empty() {
            return None;
        }
        let current = self.meta.page.unwrap_or(u64::from(query.page.unwrap_or(1)));
        let more = match (self.meta.page_count, self.meta.per_page) {
            (Some(count), _) => current < count,
            // No page count: a full page may have a successor, a short one has not.
            (None, Some(per_page)) => self.items.len() as u64 >= per_page,
            (None, None) => false,
        };
        let next = u32::try_from(current.checked_add(1)?).ok()?;
        more.then(|| ListQuery {
            page: Some(next),
            ..query.clone()
        })
    }
}
