use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::sign::{digest, unix_now};
use crate::{HeaderSource, WebhookSecret, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

/// How far a delivery's timestamp may be from the receiver's clock: five minutes, as the
/// Standard Webhooks libraries use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Longest `webhook-id` accepted; real ones are about 30 characters.
const MAX_ID_LEN: usize = 256;
/// Longest `webhook-signature` header read; a rotation sends two or three signatures.
const MAX_SIGNATURE_HEADER: usize = 4096;

/// Why a delivery was not accepted as authentic. The messages name the header at fault, never
/// the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is absent.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// A header is present but not in the expected form.
    #[error("the {0} header is malformed")]
    InvalidHeader(&'static str),
    /// The timestamp is older than the tolerance allows (a replay, or a very late retry).
    #[error("the webhook-timestamp is too old: expected one within the tolerance of now")]
    TimestampTooOld,
    /// The timestamp is ahead of the receiver's clock by more than the tolerance.
    #[error("the webhook-timestamp is too far in the future: expected one within the tolerance of now")]
    TimestampTooNew,
    /// No `v1` signature in the header matches the body.
    #[error("no signature in webhook-signature matches the body")]
    NoMatchingSignature,
}

/// Verifies deliveries with one secret (or several, while the sender rotates) and a
/// configurable tolerance.
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<WebhookSecret>,
    tolerance: Duration,
}

/// Verifies a delivery with `secret` and the [`DEFAULT_TOLERANCE`] against the current time.
///
/// `body` must be the raw bytes received, before any JSON parsing.
pub fn verify<H: HeaderSource + ?Sized>(
    secret: &WebhookSecret,
    headers: &H,
    body: &[u8],
) -> Result<(), VerifyError> {
    Verifier::new(secret.clone()).verify(headers, body)
}

impl Verifier {
    /// A verifier with one secret and the default tolerance.
    pub fn new(secret: WebhookSecret) -> Self {
        Verifier {
            secrets: vec![secret],
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// A verifier accepting a signature by any of `secrets`.
    pub fn with_secrets(secrets: impl IntoIterator<Item = WebhookSecret>) -> Self {
        Verifier {
            secrets: secrets.into_iter().collect(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Sets how far the timestamp may be from now.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies against the current time.
    pub fn verify<H: HeaderSource + ?Sized>(&self, headers: &H, body: &[u8]) -> Result<(), VerifyError> {
        self.verify_at(headers, body, unix_now())
    }

    /// Verifies as if the time were `now` (Unix seconds).
    pub fn verify_at<H: HeaderSource + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let id = header_text(headers, HEADER_ID)?;
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(VerifyError::InvalidHeader(HEADER_ID));
        }
        let timestamp = parse_timestamp(header_text(headers, HEADER_TIMESTAMP)?)?;
        let signatures = header_text(headers, HEADER_SIGNATURE)?;
        if signatures.len() > MAX_SIGNATURE_HEADER {
            return Err(VerifyError::InvalidHeader(HEADER_SIGNATURE));
        }

        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        if timestamp < now.saturating_sub(tolerance) {
            return Err(VerifyError::TimestampTooOld);
        }
        if timestamp > now.saturating_add(tolerance) {
            return Err(VerifyError::TimestampTooNew);
        }

        let expected: Vec<[u8; 32]> = self
            .secrets
            .iter()
            .map(|s| digest(s, id, timestamp, body))
            .collect();
        for candidate in signatures.split(' ') {
            // Other versions (v1a: asymmetric) are skipped, as the specification asks.
            let Some(b64) = candidate.strip_prefix("v1,") else {
                continue;
            };
            let Ok(given) = STANDARD.decode(b64) else {
                continue;
            };
            if expected.iter().any(|e| bool::from(e.as_slice().ct_eq(&given))) {
                return Ok(());
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }
}

fn header_text<'h, H: HeaderSource + ?Sized>(
    headers: &'h H,
    name: &'static str,
) -> Result<&'h str, VerifyError> {
    let raw = headers.header(name).ok_or(VerifyError::MissingHeader(name))?;
    std::str::from_utf8(raw)
        .map(str::trim)
        .map_err(|_| VerifyError::InvalidHeader(name))
}

fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    // Digits only: `+5`, ` 5` or `5.0` would sign differently from how they verify.
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::InvalidHeader(HEADER_TIMESTAMP));
    }
    let ts: i64 = text
        .parse()
        .map_err(|_| VerifyError::InvalidHeader(HEADER_TIMESTAMP))?;
    // A leading zero would be a second spelling of the same timestamp with another signature.
    if ts.to_string() != text {
        return Err(VerifyError::InvalidHeader(HEADER_TIMESTAMP));
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(sig: &str) -> Vec<(&'static str, String)> {
        vec![
            ("Webhook-Id", ID.to_string()),
            ("webhook-timestamp", TS.to_string()),
            ("webhook-signature", sig.to_string()),
        ]
    }

    fn verifier() -> Verifier {
        Verifier::new(SECRET.parse().unwrap())
    }

    #[test]
    fn the_vector_verifies_within_the_tolerance_only() {
        assert_eq!(verifier().verify_at(&headers(SIG), BODY, TS), Ok(()));
        assert_eq!(verifier().verify_at(&headers(SIG), BODY, TS + 300), Ok(()));
        assert_eq!(
            verifier().verify_at(&headers(SIG), BODY, TS + 301),
            Err(VerifyError::TimestampTooOld)
        );
        assert_eq!(
            verifier().verify_at(&headers(SIG), BODY, TS - 301),
            Err(VerifyError::TimestampTooNew)
        );
        // The real clock is years past the vector.
        assert_eq!(
            verify(&SECRET.parse().unwrap(), &headers(SIG), BODY),
            Err(VerifyError::TimestampTooOld)
        );
    }

    #[test]
    fn any_matching_signature_among_several_is_enough() {
        let sig = format!("v1a,abc v1,AAAA {SIG} v2,zzz");
        assert_eq!(verifier().verify_at(&headers(&sig), BODY, TS), Ok(()));
        assert_eq!(
            verifier().verify_at(&headers("v1,AAAA v1a,xyz"), BODY, TS),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_named() {
        let mut h = headers(SIG);
        h.remove(0);
        assert_eq!(
            verifier().verify_at(&h, BODY, TS),
            Err(VerifyError::MissingHeader(HEADER_ID))
        );
        let mut h = headers(SIG);
        h[1].1 = "01614265330".into();
        assert_eq!(
            verifier().verify_at(&h, BODY, TS),
            Err(VerifyError::InvalidHeader(HEADER_TIMESTAMP))
        );
        h[1].1 = "-5".into();
        assert_eq!(
            verifier().verify_at(&h, BODY, TS),
            Err(VerifyError::InvalidHeader(HEADER_TIMESTAMP))
        );
    }
}
