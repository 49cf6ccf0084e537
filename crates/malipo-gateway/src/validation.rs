//! Payment validation decided by the merchant's app.
//!
//! Some rails ask, before money moves, whether the receiver wants it (Daraja's C2B validation:
//! "a customer is paying 1,000 to account INV-7; accept?"). When a validation URL is configured,
//! the question is POSTed to the merchant's app, signed like every delivery (Standard Webhooks),
//! and the app's answer is the provider's. The provider waits only a few seconds, so the app has
//! [`Validator::timeout`]; when it does not answer in time, fails, or answers something that is
//! not a decision, the configured [`Fallback`] is the answer, and the decision says so.
//!
//! The app answers a 2xx with `{"accept": true}` or `{"accept": false, "reason": "…"}`, the
//! reason one of [`RejectReason`]'s names.

use std::sync::Arc;
use std::time::{Duration, Instant};

use malipo_core::{EventId, Money};
use malipo_webhooks::{Signer, WebhookSecret};
use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::delivery::{check_url, TargetPolicy, MAX_RESPONSE_BYTES};
use crate::GatewayError;

pub use malipo_config::ValidationFallback as Fallback;

/// What a validation table without any signing secret is told.
const NO_SECRET: &str =
    "[mpesa.c2b_validation] needs a signing secret: set its signing_secret or [merchant] signing_secret";

/// The event type of a validation request.
pub const VALIDATION_EVENT_TYPE: &str = "payment.validation";

/// Why the merchant's app refuses a payment, in words that do not depend on the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The payer's number is not acceptable.
    InvalidPhone,
    /// The account reference typed by the payer names nothing the merchant knows.
    InvalidAccount,
    /// The amount is not what the merchant expects.
    InvalidAmount,
    /// The payer's identity is not acceptable.
    InvalidCustomer,
    /// Any other reason (also any reason name this version does not know).
    Other,
}

impl RejectReason {
    /// The reason's name, as the app sends it.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidPhone => "invalid_phone",
            RejectReason::InvalidAccount => "invalid_account",
            RejectReason::InvalidAmount => "invalid_amount",
            RejectReason::InvalidCustomer => "invalid_customer",
            RejectReason::Other => "other",
        }
    }

    fn parse(name: &str) -> RejectReason {
        match name.trim() {
            "invalid_phone" => RejectReason::InvalidPhone,
            "invalid_account" => RejectReason::InvalidAccount,
            "invalid_amount" => RejectReason::InvalidAmount,
            "invalid_customer" => RejectReason::InvalidCustomer,
            _ => RejectReason::Other,
        }
    }
}

/// What the payment is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The payment may go ahead.
    Accept,
    /// The payment is refused, for this reason.
    Reject(RejectReason),
}

/// The verdict and who gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Accept or reject.
    pub verdict: Verdict,
    /// `None` when the app decided; the reason there was no usable answer when the fallback did.
    pub fallback: Option<String>,
    /// How long the question took.
    pub took: Duration,
}

impl Decision {
    /// One line for the event's record: who decided what, and why a fallback was used.
    pub fn describe(&self, provider_code: Option<&str>) -> String {
        let verdict = match self.verdict {
            Verdict::Accept => "accepted".to_string(),
            Verdict::Reject(r) => match provider_code {
                Some(code) => format!("rejected ({}, {code})", r.as_str()),
                None => format!("rejected ({})", r.as_str()),
            },
        };
        let ms = self.took.as_millis();
        match &self.fallback {
            None => format!("validation {verdict} by the merchant's app in {ms} ms"),
            Some(why) => format!("validation {verdict} by the configured fallback: {why}"),
        }
    }
}

/// A payment asking to be validated, in provider-neutral words.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationRequest {
    /// The provider (`mpesa`).
    pub provider: &'static str,
    /// The account paid into (the M-Pesa shortcode or till).
    pub account: String,
    /// The provider's transaction id.
    pub transaction_id: String,
    /// The amount asked to be paid, when readable.
    #[serde(serialize_with = "amount")]
    pub amount: Option<Money>,
    /// The reference the payer typed (M-Pesa `BillRefNumber`).
    pub account_reference: Option<String>,
    /// The payer's number, when the provider sends it in clear (otherwise masked as sent).
    pub phone: Option<String>,
    /// The payer's name, as the provider gives it.
    pub payer_name: Option<String>,
    /// The provider's kind of transaction (`Pay Bill`, `Buy Goods`).
    pub transaction_type: Option<String>,
}

fn amount<S: serde::Serializer>(amount: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct View {
        minor: u64,
        currency: &'static str,
        decimal: String,
    }
    amount
        .map(|m| View {
            minor: m.minor(),
            currency: m.currency().code(),
            decimal: m.decimal(),
        })
        .serialize(s)
}

/// The signed question's body: the same envelope as deliveries.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    event_type: &'static str,
    version: u32,
    timestamp: String,
    data: &'a ValidationRequest,
}

/// The app's answer.
#[derive(Deserialize)]
struct Answer {
    accept: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// Asks the merchant's app; built once from the configuration.
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    url: Url,
    signer: Signer,
    timeout: Duration,
    fallback: Fallback,
    policy: TargetPolicy,
    client: reqwest::Client,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("url", &self.inner.url.as_str())
            .field("timeout", &self.inner.timeout)
            .field("fallback", &self.inner.fallback)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// A validator asking `url`, signing with `secrets` (the first signs; during a rotation the
    /// others sign too), answering `fallback` when the app gives no usable answer in `timeout`.
    pub fn new(
        url: Url,
        secrets: Vec<WebhookSecret>,
        timeout: Duration,
        fallback: Fallback,
        policy: TargetPolicy,
    ) -> Result<Validator, GatewayError> {
        check_url(&url, policy)
            .map_err(|e| GatewayError::Config(format!("[mpesa.c2b_validation] url {url}: {e}")))?;
        if secrets.is_empty() {
            return Err(GatewayError::Config(NO_SECRET.into()));
        }
        let client = crate::delivery::outbound_client(timeout, !policy.allow_private)
            .map_err(|e| GatewayError::Config(format!("cannot build the validation HTTP client: {e}")))?;
        Ok(Validator {
            inner: Arc::new(Inner {
                url,
                signer: Signer::with_secrets(secrets),
                timeout,
                fallback,
                policy,
                client,
            }),
        })
    }

    /// The validators of every M-Pesa account with a `c2b_validation` table, by the shortcode
    /// and till they answer for.
    pub fn all_from_config(
        config: &malipo_config::Config,
    ) -> Result<std::collections::HashMap<String, Validator>, GatewayError> {
        let mut by_code = std::collections::HashMap::new();
        let Some(m) = &config.mpesa else {
            return Ok(by_code);
        };
        for (name, account) in m.all_accounts() {
            let Some(v) = &account.c2b_validation else {
                continue;
            };
            let validator = Validator::from_table(config, v).map_err(|e| match e {
                GatewayError::Config(msg) if !name.is_default() => {
                    GatewayError::Config(format!("account {name}: {msg}"))
                }
                other => other,
            })?;
            for code in std::iter::once(&account.shortcode).chain(&account.till_number) {
                by_code.insert(code.trim().to_string(), validator.clone());
            }
        }
        Ok(by_code)
    }

    /// The validator of one `c2b_validation` table.
    fn from_table(
        config: &malipo_config::Config,
        v: &malipo_config::C2bValidationConfig,
    ) -> Result<Validator, GatewayError> {
        let secret_ref = v
            .signing_secret_in(config)
            .ok_or_else(|| GatewayError::Config(NO_SECRET.into()))?;
        let secret: WebhookSecret = secret_ref
            .resolve()?
            .expose()
            .parse()
            .map_err(|e| GatewayError::Config(format!("[mpesa.c2b_validation] signing secret: {e}")))?;
        let allow_private = v
            .allow_private_target
            .unwrap_or_else(|| config.merchant.as_ref().is_some_and(|m| m.allow_private_targets));
        let policy = TargetPolicy {
            require_https: config.environment == malipo_config::Environment::Production,
            allow_private,
        };
        Validator::new(v.url.clone(), vec![secret], v.timeout, v.fallback, policy)
    }

    /// How long the app has to answer.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Asks the app about `request`; never fails: no usable answer is the fallback's decision.
    pub async fn decide(&self, request: &ValidationRequest) -> Decision {
        let started = Instant::now();
        let result = tokio::time::timeout(self.inner.timeout, self.ask(request)).await;
        let took = started.elapsed();
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "the app did not answer within {} ms",
                self.inner.timeout.as_millis()
            )),
        };
        match outcome {
            Ok(verdict) => Decision {
                verdict,
                fallback: None,
                took,
            },
            Err(why) => {
                let verdict = match self.inner.fallback {
                    Fallback::Accept => Verdict::Accept,
                    Fallback::Reject => Verdict::Reject(RejectReason::Other),
                };
                tracing::warn!(url = %self.inner.url, reason = %why, fallback = self.inner.fallback.as_str(), "no usable validation answer; answering with the fallback");
                Decision {
                    verdict,
                    fallback: Some(why),
                    took,
                }
            }
        }
    }

    async fn ask(&self, request: &ValidationRequest) -> Result<Verdict, String> {
        let now = chrono::Utc::now();
        let body = serde_json::to_vec(&Envelope {
            event_type: VALIDATION_EVENT_TYPE,
            version: 1,
            timestamp: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            data: request,
        })
        .map_err(|e| format!("the question cannot be serialised: {e}"))?;
        // A fresh id per question: a repeated question is a new one, and the app must answer
        // it rather than skip it as a duplicate.
        let id = format!("val_{}", EventId::new().to_string().trim_start_matches("evt_"));
        let signed = self.inner.signer.sign(&id, now.timestamp(), &body);
        let mut http = self
            .inner
            .client
            .post(self.inner.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in signed.iter() {
            http = http.header(name, value);
        }
        let timeout = self.inner.timeout;
        let mut response = http.body(body).send().await.map_err(|e| {
            if e.is_timeout() {
                format!("the app did not answer within {} ms", timeout.as_millis())
            } else {
                format!("the request failed: {}", crate::delivery::describe(&e, timeout))
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the app answered {status}"));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the app's answer failed: {e}"))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_RESPONSE_BYTES {
                return Err(format!("the app's answer is over {MAX_RESPONSE_BYTES} bytes"));
            }
        }
        let answer: Answer = serde_json::from_slice(&bytes)
            .map_err(|_| "the app's answer is not {\"accept\": true|false, \"reason\": \"…\"}".to_string())?;
        Ok(match answer.accept {
            true => Verdict::Accept,
            false => Verdict::Reject(
                answer
                    .reason
                    .as_deref()
                    .map(RejectReason::parse)
                    .unwrap_or(RejectReason::Other),
            ),
        })
    }

    /// The policy the target was checked against (for `check-config`).
    pub fn policy(&self) -> TargetPolicy {
        self.inner.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_and_unknown_ones_are_other() {
        for r in [
            RejectReason::InvalidPhone,
            RejectReason::InvalidAccount,
            RejectReason::InvalidAmount,
            RejectReason::InvalidCustomer,
            RejectReason::Other,
        ] {
            assert_eq!(RejectReason::parse(r.as_str()), r);
        }
        assert_eq!(RejectReason::parse("closed_for_lunch"), RejectReason::Other);
    }

    #[test]
    fn a_decision_says_who_decided() {
        let by_app = Decision {
            verdict: Verdict::Reject(RejectReason::InvalidAccount),
            fallback: None,
            took: Duration::from_millis(12),
        };
        assert_eq!(
            by_app.describe(Some("C2B00012")),
            "validation rejected (invalid_account, C2B00012) by the merchant's app in 12 ms"
        );
        let fallback = Decision {
            verdict: Verdict::Accept,
            fallback: Some("the app answered 500 Internal Server Error".into()),
            took: Duration::from_millis(3),
        };
        assert_eq!(
            fallback.describe(None),
            "validation accepted by the configured fallback: the app answered 500 Internal Server Error"
        );
    }

    #[test]
    fn a_private_target_is_refused_unless_allowed() {
        let secret = WebhookSecret::generate();
        let url: Url = "http://127.0.0.1:9/validate".parse().unwrap();
        let strict = TargetPolicy {
            require_https: false,
            allow_private: false,
        };
        let err = Validator::new(
            url.clone(),
            vec![secret.clone()],
            Duration::from_secs(1),
            Fallback::Accept,
            strict,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("loopback"), "{err}");
        let dev = TargetPolicy {
            allow_private: true,
            ..strict
        };
        assert!(Validator::new(url, vec![secret], Duration::from_secs(1), Fallback::Accept, dev).is_ok());
    }
}
