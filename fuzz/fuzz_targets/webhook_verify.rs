//! Standard Webhooks verification: the input is `id \n timestamp \n signature-header \n body`.
//!
//! Whatever the headers, verification never panics and accepts only when one of the header's
//! `v1,` signatures is the body's own; what the signer produces always verifies; a signature by
//! another key never does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_webhooks::{Signer, Verifier, WebhookSecret};

const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let id = parts.next().unwrap_or_default();
    let ts = parts.next().unwrap_or_default();
    let sig = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let verifier = Verifier::new(secret.clone());
    let headers = [("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", sig)];

    if verifier.verify_at(&headers, body, NOW).is_ok() {
        // Accepted: the header must hold the signature our signer computes for these parts.
        let id = std::str::from_utf8(id).unwrap().trim();
        let ts: i64 = std::str::from_utf8(ts).unwrap().trim().parse().unwrap();
        let expected = Signer::new(secret.clone()).sign(id, ts, body).signature;
        let sig = std::str::from_utf8(sig).unwrap();
        assert!(
            sig.split(' ').any(|s| s.trim() == expected || decode_eq(s, &expected)),
            "accepted a header without the body's signature"
        );
    }

    if let Ok(id) = std::str::from_utf8(id) {
        let id = id.trim();
        if !id.is_empty() && id.len() <= 256 {
            let signed = Signer::new(secret.clone()).sign(id, NOW, body);
            let good = [
                ("webhook-id", id.as_bytes().to_vec()),
                ("webhook-timestamp", NOW.to_string().into_bytes()),
                ("webhook-signature", signed.signature.into_bytes()),
            ];
            assert_eq!(verifier.verify_at(&good, body, NOW), Ok(()));
            let forged = Signer::new(WebhookSecret::generate()).sign(id, NOW, body);
            let bad = [
                ("webhook-id", id.as_bytes().to_vec()),
                ("webhook-timestamp", NOW.to_string().into_bytes()),
                ("webhook-signature", forged.signature.into_bytes()),
            ];
            assert!(verifier.verify_at(&bad, body, NOW).is_err());
        }
    }
});

/// Base64 with different padding spellings decodes to the same bytes.
fn decode_eq(given: &str, expected: &str) -> bool {
    use base64::Engine as _;
    let e = base64::engine::general_purpose::STANDARD;
    match (given.strip_prefix("v1,"), expected.strip_prefix("v1,")) {
        (Some(g), Some(x)) => e.decode(g).ok() == e.decode(x).ok(),
        _ => false,
    }
}
