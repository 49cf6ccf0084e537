//! [Standard Webhooks](https://www.standardwebhooks.com/) signing and verification, for apps that
//! receive malipo's deliveries (and for malipo, which signs them).
//!
//! Every delivery carries three headers:
//!
//! | header | value |
//! |---|---|
//! | `webhook-id` | the delivery's id, stable across retries: deduplicate on it |
//! | `webhook-timestamp` | when it was signed, in Unix seconds |
//! | `webhook-signature` | `v1,` + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)), several separated by spaces while a secret rotates |
//!
//! The secret is `whsec_` followed by the base64 of the key. [`verify`] checks the headers against
//! the **raw** body (parse the JSON only after it succeeded) and refuses a timestamp more than
//! five minutes away from now, so a captured delivery cannot be replayed later.
//!
//! ```
//! use malipo_webhooks::{verify, Signer, WebhookSecret};
//!
//! let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
//! let body = br#"{"type":"payment.succeeded"}"#;
//!
//! // The sender's side (malipo does this):
//! let headers = Signer::new(secret.clone()).sign_now("msg_p5jXN8AQM9LWM0D4loKWxJek", body);
//!
//! // The receiver's side: any list of (name, value) pairs, or an `http::HeaderMap` with the
//! // `http` feature.
//! let received: Vec<(&str, String)> = headers.iter().map(|(n, v)| (n, v.to_string())).collect();
//! verify(&secret, &received, body)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The crate depends on hmac, sha2, base64, subtle and rand only: no async runtime, no HTTP stack.

mod headers;
mod secret;
mod sign;
mod verify;

pub use headers::HeaderSource;
pub use secret::{SecretError, WebhookSecret};
pub use sign::{SignedHeaders, Signer};
pub use verify::{verify, Verifier, VerifyError, DEFAULT_TOLERANCE};

/// The `webhook-id` header's name.
pub const HEADER_ID: &str = "webhook-id";
/// The `webhook-timestamp` header's name.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The `webhook-signature` header's name.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";
