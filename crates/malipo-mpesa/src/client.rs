//! The HTTP core: token cache, authenticated JSON calls, Daraja's error body, retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use malipo_core::Secret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::de::{describe_without_values, opt_string_or_number};
use crate::{MpesaError, MpesaSettings};

/// A Daraja access token and when it expires.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The bearer token (a secret: it authorises payments until it expires).
    pub token: Secret<String>,
    /// When Daraja said it expires.
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
}

/// A typed async client for one Daraja app and shortcode. Cheap to clone (shared state).
///
/// Every call has the settings' timeout. The OAuth token is cached and refreshed before it
/// expires; concurrent callers wait for a single refresh. An "Invalid Access Token" answer
/// (`404.001.03`) discards the token and retries the call once with a fresh one (safe even for
/// payments: Daraja refused the first request before processing it).
#[derive(Clone)]
pub struct MpesaClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    settings: MpesaSettings,
    // A tokio mutex held across the fetch: callers that find no valid token queue behind the
    // one refreshing, then find its token. That is what makes the refresh single-flight.
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for MpesaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpesaClient")
            .field("base_url", &self.inner.settings.base_url.as_str())
            .field("shortcode", &self.inner.settings.shortcode)
            .finish_non_exhaustive()
    }
}

/// Whether a call may be retried on transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Cannot move money twice: retried with backoff.
    Safe,
    /// Could double a payment: sent once (the token retry aside).
    Once,
}

/// One Daraja endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub name: &'static str,
    pub path: &'static str,
}

pub(crate) const TOKEN: Endpoint = Endpoint {
    name: "token",
    path: "/oauth/v1/generate",
};

/// Daraja's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(rename = "requestId", default, deserialize_with = "opt_string_or_number")]
    request_id: Option<String>,
    #[serde(
        rename = "errorCode",
        alias = "resultCode",
        deserialize_with = "opt_string_or_number",
        default
    )]
    error_code: Option<String>,
    #[serde(rename = "errorMessage", alias = "resultDesc", default)]
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(deserialize_with = "crate::de::string_or_number")]
    expires_in: String,
}

/// Daraja's tokens live an hour; a longer claimed life is believed up to this bound, so a
/// hostile or broken answer (`"expires_in": "1e300"`) cannot overflow the expiry arithmetic.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The lifetime a token answer claims, clamped to [`MAX_TOKEN_LIFETIME`]; `None` unless it is a
/// positive number of seconds.
fn token_lifetime(expires_in: &str) -> Option<Duration> {
    let secs = expires_in
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 1.0)?;
    Some(Duration::from_secs_f64(
        secs.min(MAX_TOKEN_LIFETIME.as_secs_f64()),
    ))
}

impl MpesaClient {
    /// Builds a client (rustls, the settings' timeout on connect and on the whole call).
    pub fn new(settings: MpesaSettings) -> Result<Self, MpesaError> {
        let http = reqwest::Client::builder()
            // A redirect would post the JSON body again (the STK password, from which the passkey
            // can be recovered, or the SecurityCredential) to wherever the answer points.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("malipo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(MpesaError::Client)?;
        Ok(MpesaClient {
            inner: Arc::new(Inner {
                http,
                settings,
                token: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &MpesaSettings {
        &self.inner.settings
    }

    /// A valid access token: the cached one, or a fresh one when it is missing or due for
    /// refresh. Concurrent callers share one fetch.
    pub async fn access_token(&self) -> Result<AccessToken, MpesaError> {
        let mut slot = self.inner.token.lock().await;
        if let Some(cached) = slot.as_ref() {
            if Instant::now() < cached.refresh_at {
                return Ok(cached.token.clone());
            }
        }
        let fresh = self.fetch_token_with_retries().await?;
        let token = fresh.token.clone();
        *slot = Some(fresh);
        Ok(token)
    }

    /// Forgets `used` if it is still the cached token, so the next call fetches a new one. A
    /// token already replaced by another caller is left alone (no second refresh).
    async fn invalidate(&self, used: &AccessToken) {
        let mut slot = self.inner.token.lock().await;
        if slot
            .as_ref()
            .is_some_and(|c| c.token.token.expose() == used.token.expose())
        {
            *slot = None;
        }
    }

    async fn fetch_token_with_retries(&self) -> Result<CachedToken, MpesaError> {
        let policy = self.inner.settings.retry;
        let mut attempt = 1;
        loop {
            match self.fetch_token().await {
                Err(e) if e.is_transient() && attempt < policy.max_attempts => {
                    tracing::warn!(error = %e, attempt, "Daraja token fetch failed; retrying");
                    tokio::time::sleep(policy.delay(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn fetch_token(&self) -> Result<CachedToken, MpesaError> {
        let settings = &self.inner.settings;
        let request = self
            .inner
            .http
            .get(self.url(TOKEN.path))
            .query(&[("grant_type", "client_credentials")])
            .basic_auth(
                settings.consumer_key.expose(),
                Some(settings.consumer_secret.expose()),
            );
        let (status, body) = self.exchange(TOKEN, request).await?;
        if !(200..300).contains(&status) {
            return Err(error_from_body(TOKEN, status, &body));
        }
        // The answer holds the token: describe decode errors without quoting the body.
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| MpesaError::Decode {
            operation: TOKEN.name,
            status,
            detail: describe_without_values(&e),
            source: None,
        })?;
        let invalid = |detail: &str| MpesaError::Decode {
            operation: TOKEN.name,
            status,
            detail: detail.to_string(),
            source: None,
        };
        if answer.access_token.is_empty() {
            return Err(invalid("access_token is empty"));
        }
        let lifetime = token_lifetime(&answer.expires_in)
            .ok_or_else(|| invalid("expires_in is not a positive number of seconds"))?;
        let lifetime_secs = lifetime.as_secs();
        // Refresh a margin before expiry, but never later than half-way through a short life.
        let early = lifetime.saturating_sub(settings.token_refresh_margin);
        let refresh_after = early.max(lifetime / 2);
        let expires_at =
            Utc::now() + chrono::Duration::from_std(lifetime).unwrap_or_else(|_| chrono::Duration::hours(1));
        tracing::debug!(expires_in = lifetime_secs, "fetched a Daraja access token");
        Ok(CachedToken {
            token: AccessToken {
                token: Secret::new(answer.access_token),
                expires_at,
            },
            refresh_at: Instant::now() + refresh_after,
        })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.inner.settings.base_url.as_str().trim_end_matches('/'),
            path
        )
    }

    /// Sends and reads the whole answer, mapping timeouts and transport failures.
    async fn exchange(
        &self,
        endpoint: Endpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, bytes::Bytes), MpesaError> {
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                MpesaError::Timeout {
                    operation: endpoint.name,
                    timeout: self.inner.settings.timeout,
                }
            } else {
                MpesaError::Transport {
                    operation: endpoint.name,
                    source: e.without_url(),
                }
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport)?;
        Ok((status, body))
    }

    /// POSTs `body` with the bearer token and decodes a 2xx answer as `T`. Retries once with a
    /// fresh token on `404.001.03`; with [`Retry::Safe`], retries transient failures with
    /// backoff.
    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        body: &B,
        retry: Retry,
    ) -> Result<T, MpesaError> {
        let policy = self.inner.settings.retry;
        let max_attempts = match retry {
            Retry::Safe => policy.max_attempts.max(1),
            Retry::Once => 1,
        };
        let mut attempt = 1;
        let mut token_retried = false;
        loop {
            let token = self.access_token().await?;
            match self.post_once(endpoint, body, &token).await {
                Err(e) if e.is_invalid_token() && !token_retried => {
                    tracing::info!(
                        operation = endpoint.name,
                        "Daraja refused the access token; refreshing once"
                    );
                    token_retried = true;
                    self.invalidate(&token).await;
                }
                Err(e) if e.is_transient() && attempt < max_attempts => {
                    tracing::warn!(operation = endpoint.name, error = %e, attempt, "retrying");
                    tokio::time::sleep(policy.delay(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn post_once<B: Serialize, T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        body: &B,
        token: &AccessToken,
    ) -> Result<T, MpesaError> {
        let request = self
            .inner
            .http
            .post(self.url(endpoint.path))
            .bearer_auth(token.token.expose())
            .json(body);
        let (status, bytes) = self.exchange(endpoint, request).await?;
        if !(200..300).contains(&status) {
            return Err(error_from_body(endpoint, status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| MpesaError::Decode {
            operation: endpoint.name,
            status,
            detail: e.to_string(),
            source: Some(e),
        })
    }
}

/// Turns a non-2xx answer into [`MpesaError::Api`] when it has Daraja's error shape, else
/// [`MpesaError::Http`] with a short excerpt.
fn error_from_body(endpoint: Endpoint, status: u16, body: &[u8]) -> MpesaError {
    if let Ok(ErrorBody {
        request_id,
        error_code: Some(error_code),
        error_message,
    }) = serde_json::from_slice::<ErrorBody>(body)
    {
        return MpesaError::Api {
            operation: endpoint.name,
            status,
            request_id,
            error_code,
            error_message: error_message.unwrap_or_default(),
        };
    }
    let text = String::from_utf8_lossy(body);
    let mut excerpt: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if excerpt.is_empty() {
        excerpt = "(empty body)".to_string();
    }
    MpesaError::Http {
        operation: endpoint.name,
        status,
        body_excerpt: excerpt,
    }
}

/// Checks an "accepted for processing" answer's `ResponseCode`.
pub(crate) fn check_accepted(
    operation: &'static str,
    response_code: &str,
    description: &str,
) -> Result<(), MpesaError> {
    if response_code.trim() == "0" {
        Ok(())
    } else {
        Err(MpesaError::Rejected {
            operation,
            response_code: response_code.to_string(),
            description: description.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifetimes_are_positive_and_bounded() {
        assert_eq!(token_lifetime("3599"), Some(Duration::from_secs(3599)));
        assert_eq!(token_lifetime(" 3599.0 "), Some(Duration::from_secs(3599)));
        // A hostile or broken answer cannot overflow `Instant + lifetime`.
        for huge in ["1e300", "18446744073709551615", "9999999999999999999999"] {
            assert_eq!(token_lifetime(huge), Some(MAX_TOKEN_LIFETIME), "{huge}");
            let _ = Instant::now() + token_lifetime(huge).unwrap();
        }
        for bad in ["", "0", "0.5", "-1", "NaN", "inf", "soon"] {
            assert_eq!(token_lifetime(bad), None, "{bad}");
        }
    }
}
