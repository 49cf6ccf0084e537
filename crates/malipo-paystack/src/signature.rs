//! Paystack's webhook signature: `X-Paystack-Signature` is the hex HMAC-SHA512 of the raw body
//! keyed with the account's secret key (<https://paystack.com/docs/payments/webhooks/>).

use hmac::{Hmac, Mac};
use malipo_core::Secret;
use sha2::Sha512;

/// The header Paystack puts the signature in.
pub const SIGNATURE_HEADER: &str = "x-paystack-signature";

/// Why a webhook signature was refused. Never carries the body, the header or the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header (or an empty one).
    #[error("the X-Paystack-Signature header is missing")]
    Missing,
    /// Not 128 hexadecimal characters.
    #[error("the X-Paystack-Signature header is malformed: expected 128 hexadecimal characters")]
    Malformed,
    /// Well formed, but not the HMAC of this body with our key.
    #[error("the X-Paystack-Signature header does not match the body")]
    Mismatch,
}

fn mac(secret: &Secret<String>) -> Hmac<Sha512> {
    // HMAC accepts keys of any length, so this cannot fail.
    Hmac::<Sha512>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length")
}

/// The signature Paystack would send for `raw_body`: lowercase hex of HMAC-SHA512.
pub fn sign(raw_body: &[u8], secret: &Secret<String>) -> String {
    let mut m = mac(secret);
    m.update(raw_body);
    hex::encode(m.finalize().into_bytes())
}

/// Verifies `header` (the raw `X-Paystack-Signature` value) against `raw_body` in constant time.
///
/// Hex case is not significant; anything but exactly 128 hex digits is refused before any
/// comparison, so a hostile header can neither panic nor take long.
pub fn verify_signature(
    raw_body: &[u8],
    header: Option<&[u8]>,
    secret: &Secret<String>,
) -> Result<(), SignatureError> {
    let header = header
        .map(<[u8]>::trim_ascii)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::Missing)?;
    if header.len() != 128 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(header).map_err(|_| SignatureError::Malformed)?;
    let mut m = mac(secret);
    m.update(raw_body);
    m.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> Secret<String> {
        Secret::new("sk_test_obviously_fake".to_string())
    }

    const BODY: &[u8] = br#"{"event":"charge.success","data":{"id":1}}"#;
    /// `printf '%s' "$BODY" | openssl dgst -sha512 -hmac sk_test_obviously_fake`
    const BODY_SIG: &str = "a8956ba71d1d1f6aecb6195cf5ca2e47a6822f6681d4493ce61a9e80b17301f30cdf6d991f85e199f582d9709eeb0b38d8e22d62476cb16e3b62f5dc6b7841fd";

    #[test]
    fn matches_an_independent_implementation_on_paystacks_documented_payload() {
        // The charge.success example from Paystack's webhook documentation, signed the way
        // their Node/PHP snippets do (hex HMAC-SHA512 of the raw body); the expected value was
        // computed with `openssl dgst -sha512 -hmac sk_test_malipo_documented_example`.
        let body = include_bytes!("../tests/fixtures/charge-success.json");
        let secret = Secret::new("sk_test_malipo_documented_example".to_string());
        let expected = "91159273d56fddc59207b82a19e6c27eb8f13503503464c756bfefbce04c8c0a5fe0f9778cff8030c84ba748dba044c5e801bd3b354e06569431447ca8ebd3d1";
        assert_eq!(sign(body, &secret), expected);
        assert_eq!(verify_signature(body, Some(expected.as_bytes()), &secret), Ok(()));
        assert_eq!(sign(BODY, &key()), BODY_SIG);
    }

    #[test]
    fn signs_and_verifies() {
        let sig = sign(BODY, &key());
        assert_eq!(sig.len(), 128);
        assert_eq!(verify_signature(BODY, Some(sig.as_bytes()), &key()), Ok(()));
        // Surrounding whitespace is not part of the value (proxies sometimes add it).
        let padded = format!(" {sig}\t");
        assert_eq!(verify_signature(BODY, Some(padded.as_bytes()), &key()), Ok(()));
    }

    #[test]
    fn a_different_body_or_key_is_a_mismatch() {
        assert_eq!(
            verify_signature(b"{}", Some(BODY_SIG.as_bytes()), &key()),
            Err(SignatureError::Mismatch)
        );
        let mut one_byte_more = BODY.to_vec();
        one_byte_more.push(b' ');
        assert_eq!(
            verify_signature(&one_byte_more, Some(BODY_SIG.as_bytes()), &key()),
            Err(SignatureError::Mismatch)
        );
        let other = Secret::new("sk_test_other_fake".to_string());
        assert_eq!(
            verify_signature(BODY, Some(BODY_SIG.as_bytes()), &other),
            Err(SignatureError::Mismatch)
        );
        // A well-formed but wrong signature (all zeros).
        let zeros = "0".repeat(128);
        assert_eq!(
            verify_signature(BODY, Some(zeros.as_bytes()), &key()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_or_empty_header() {
        assert_eq!(verify_signature(BODY, None, &key()), Err(SignatureError::Missing));
        assert_eq!(
            verify_signature(BODY, Some(b""), &key()),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(BODY, Some(b"   "), &key()),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn uppercase_hex_is_the_same_signature() {
        // Hex case carries no information, so accepting it opens nothing: the bytes compared
        // are the same 64 bytes of MAC.
        let upper = BODY_SIG.to_uppercase();
        assert_eq!(verify_signature(BODY, Some(upper.as_bytes()), &key()), Ok(()));
        let mut mixed = BODY_SIG.to_string();
        mixed.replace_range(0..10, &BODY_SIG[0..10].to_uppercase());
        assert_eq!(verify_signature(BODY, Some(mixed.as_bytes()), &key()), Ok(()));
    }

    #[test]
    fn hostile_headers_are_refused_without_panicking() {
        let sig = BODY_SIG.as_bytes();
        let ten_kb = "a".repeat(10 * 1024);
        let ten_kb_of_sig = BODY_SIG.repeat(80);
        let mut non_hex = sig.to_vec();
        non_hex[0] = b'g';
        // 128 bytes, but not ASCII: 64 two-byte characters.
        let non_ascii = "é".repeat(64);
        let mut with_nul = sig.to_vec();
        with_nul[64] = 0;
        let sha256_sized = &sig[..64];
        let cases: Vec<(&str, &[u8])> = vec![
            ("truncated by one", &sig[..127]),
            ("half length", sha256_sized),
            ("one extra digit", b"a8956ba71d1d1f6aecb6195cf5ca2e47a6822f6681d4493ce61a9e80b17301f30cdf6d991f85e199f582d9709eeb0b38d8e22d62476cb16e3b62f5dc6b7841fd0"),
            ("10 KB", ten_kb.as_bytes()),
            ("10 KB of repeated signature", ten_kb_of_sig.as_bytes()),
            ("non-hex digit", &non_hex),
            ("non-ASCII", non_ascii.as_bytes()),
            ("invalid UTF-8", &[0xff; 128]),
            ("NUL inside", &with_nul),
            ("prefixed like other providers", b"sha512=a8956ba71d1d1f6aecb6195cf5ca2e47a6822f6681d4493ce61a9e80b17301f30cdf6d991f85e199f582d9709eeb0b38d8e22d62476cb16e3b62f5dc6b78"),
        ];
        for (what, header) in cases {
            assert_eq!(
                verify_signature(BODY, Some(header), &key()),
                Err(SignatureError::Malformed),
                "{what}"
            );
        }
    }

    #[test]
    fn errors_say_what_was_expected_and_leak_nothing() {
        let text = SignatureError::Malformed.to_string();
        assert!(text.contains("128 hexadecimal"), "{text}");
        for e in [
            SignatureError::Missing,
            SignatureError::Malformed,
            SignatureError::Mismatch,
        ] {
            let printed = format!("{e} {e:?}");
            assert!(!printed.contains("sk_test"), "{printed}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in prop::collection::vec(any::<u8>(), 0..256),
                        header in prop::option::of(prop::collection::vec(any::<u8>(), 0..300))) {
            let _ = verify_signature(&body, header.as_deref(), &key());
        }

        #[test]
        fn never_panics_on_near_misses(body in prop::collection::vec(any::<u8>(), 0..64),
                                       header in "[0-9a-fA-Fg-z ]{120,136}") {
            let _ = verify_signature(&body, Some(header.as_bytes()), &key());
        }

        #[test]
        fn sign_then_verify_round_trips(body in prop::collection::vec(any::<u8>(), 0..256),
                                        secret in "[ -~]{0,64}") {
            let secret = Secret::new(secret);
            let sig = sign(&body, &secret);
            prop_assert_eq!(verify_signature(&body, Some(sig.as_bytes()), &secret), Ok(()));
        }

        #[test]
        fn any_flipped_digit_is_refused(at in 0usize..128, body in prop::collection::vec(any::<u8>(), 0..64)) {
            let sig = sign(&body, &key());
            let mut bytes = sig.into_bytes();
            bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
            prop_assert_eq!(verify_signature(&body, Some(&bytes), &key()), Err(SignatureError::Mismatch));
        }
    }
}
