use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::Mac;

use crate::{WebhookSecret, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

/// Signs deliveries with one secret, or several while a secret rotates (every one of them signs,
/// so a receiver holding either the old or the new secret verifies).
#[derive(Debug, Clone)]
pub struct Signer {
    secrets: Vec<WebhookSecret>,
}

/// The three headers of a signed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `webhook-signature`: `v1,…` signatures separated by spaces.
    pub signature: String,
}

impl SignedHeaders {
    /// `(name, value)` for each header, to set on a request.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, String)> + '_ {
        [
            (HEADER_ID, self.id.clone()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ]
        .into_iter()
    }
}

impl Signer {
    /// A signer with one secret.
    pub fn new(secret: WebhookSecret) -> Self {
        Signer {
            secrets: vec![secret],
        }
    }

    /// A signer with several secrets (the current one first, then those still honoured).
    pub fn with_secrets(secrets: impl IntoIterator<Item = WebhookSecret>) -> Self {
        Signer {
            secrets: secrets.into_iter().collect(),
        }
    }

    /// Signs `body` as message `id` at `timestamp` (Unix seconds).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
        let signature = self
            .secrets
            .iter()
            .map(|s| signature(s, id, timestamp, body))
            .collect::<Vec<_>>()
            .join(" ");
        SignedHeaders {
            id: id.to_owned(),
            timestamp,
            signature,
        }
    }

    /// Signs `body` as message `id` now.
    pub fn sign_now(&self, id: &str, body: &[u8]) -> SignedHeaders {
        self.sign(id, unix_now(), body)
    }
}

/// One `v1,…` signature.
pub(crate) fn signature(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(digest(secret, id, timestamp, body)))
}

/// The raw HMAC-SHA256 of `id.timestamp.body`.
pub(crate) fn digest(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut mac = secret.mac();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_vector() {
        let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        let signed = Signer::new(secret).sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signed.signature,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn every_secret_signs_during_a_rotation() {
        let (a, b) = (WebhookSecret::generate(), WebhookSecret::generate());
        let signed = Signer::with_secrets([a.clone(), b.clone()]).sign("msg_1", 1, b"{}");
        let parts: Vec<&str> = signed.signature.split(' ').collect();
        assert_eq!(
            parts,
            [signature(&a, "msg_1", 1, b"{}"), signature(&b, "msg_1", 1, b"{}")]
        );
    }
}
