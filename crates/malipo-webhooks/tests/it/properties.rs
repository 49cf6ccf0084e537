//! Any change of id, timestamp, body or signature fails; hostile headers never panic.

use malipo_webhooks::{Signer, Verifier, VerifyError, WebhookSecret};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000;

fn secret() -> WebhookSecret {
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap()
}

fn as_headers(id: &str, ts: &str, sig: &str) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("webhook-id", id.as_bytes().to_vec()),
        ("webhook-timestamp", ts.as_bytes().to_vec()),
        ("webhook-signature", sig.as_bytes().to_vec()),
    ]
}

fn id_strategy() -> impl Strategy<Value = String> {
    "msg_[A-Za-z0-9]{1,40}"
}

proptest! {
    #[test]
    fn what_is_signed_verifies(id in id_strategy(), dt in -300i64..=300, body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let signed = Signer::new(secret()).sign(&id, NOW + dt, &body);
        let h = as_headers(&signed.id, &signed.timestamp.to_string(), &signed.signature);
        prop_assert_eq!(Verifier::new(secret()).verify_at(&h, &body, NOW), Ok(()));
    }

    #[test]
    fn another_body_fails(id in id_strategy(), body in proptest::collection::vec(any::<u8>(), 0..256), other in proptest::collection::vec(any::<u8>(), 0..256)) {
        prop_assume!(body != other);
        let signed = Signer::new(secret()).sign(&id, NOW, &body);
        let h = as_headers(&signed.id, &NOW.to_string(), &signed.signature);
        prop_assert_eq!(Verifier::new(secret()).verify_at(&h, &other, NOW), Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn another_id_fails(id in id_strategy(), other in id_strategy(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assume!(id != other);
        let signed = Signer::new(secret()).sign(&id, NOW, &body);
        let h = as_headers(&other, &NOW.to_string(), &signed.signature);
        prop_assert_eq!(Verifier::new(secret()).verify_at(&h, &body, NOW), Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn another_timestamp_fails(dt in -300i64..=300, shift in -300i64..=300, body in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assume!(shift != 0 && (dt + shift).abs() <= 300);
        let signed = Signer::new(secret()).sign("msg_1", NOW + dt, &body);
        let h = as_headers("msg_1", &(NOW + dt + shift).to_string(), &signed.signature);
        prop_assert_eq!(Verifier::new(secret()).verify_at(&h, &body, NOW), Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn any_changed_signature_byte_fails(at in 3usize..47, bit in 0u8..8, body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let signed = Signer::new(secret()).sign("msg_1", NOW, &body);
        let mut sig = signed.signature.into_bytes();
        prop_assume!(at < sig.len());
        sig[at] ^= 1 << bit;
        let sig = String::from_utf8_lossy(&sig).into_owned();
        let h = as_headers("msg_1", &NOW.to_string(), &sig);
        prop_assert!(Verifier::new(secret()).verify_at(&h, &body, NOW).is_err());
    }

    #[test]
    fn another_secret_fails(body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let signed = Signer::new(WebhookSecret::generate()).sign("msg_1", NOW, &body);
        let h = as_headers("msg_1", &NOW.to_string(), &signed.signature);
        prop_assert_eq!(Verifier::new(secret()).verify_at(&h, &body, NOW), Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn hostile_headers_never_panic_nor_verify(
        id in proptest::collection::vec(any::<u8>(), 0..300),
        ts in proptest::collection::vec(any::<u8>(), 0..30),
        sig in proptest::collection::vec(any::<u8>(), 0..5000),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        now in any::<i64>(),
    ) {
        let h = vec![("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", sig)];
        // Without the secret, random bytes forge nothing.
        prop_assert!(Verifier::new(secret()).verify_at(&h, &body, now).is_err());
    }

    #[test]
    fn hostile_timestamps_never_panic(ts in "[0-9+\\- .eE]{0,25}", now in any::<i64>()) {
        let h = as_headers("msg_1", &ts, "v1,AAAA");
        prop_assert!(Verifier::new(secret()).verify_at(&h, b"[]", now).is_err());
    }

    #[test]
    fn secret_parsing_never_panics(text in ".{0,200}") {
        let _ = text.parse::<WebhookSecret>();
    }
}
