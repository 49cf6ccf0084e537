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

    #[test]
    fn signs_and_verifies() {
        let key = Secret::new("sk_test_obviously_fake".to_string());
        let body = br#"{"event":"charge.success","data":{"id":1}}"#;
        let sig = sign(body, &key);
        assert_eq!(sig.len(), 128);
        assert_eq!(verify_signature(body, Some(sig.as_bytes()), &key), Ok(()));
        assert_eq!(
            verify_signature(body, Some(sig.to_uppercase().as_bytes()), &key),
            Ok(())
        );
        assert_eq!(
            verify_signature(b"{}", Some(sig.as_bytes()), &key),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify_signature(body, None, &key), Err(SignatureError::Missing));
        assert_eq!(
            verify_signature(body, Some(b""), &key),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(body, Some(&sig.as_bytes()[..127]), &key),
            Err(SignatureError::Malformed)
        );
        let mut non_hex = sig.clone().into_bytes();
        non_hex[0] = b'g';
        assert_eq!(
            verify_signature(body, Some(&non_hex), &key),
            Err(SignatureError::Malformed)
        );
    }
}
