use hmac::{Hmac, Mac};
use malipo_core::{PaymentId, Secret};
use sha2::Sha256;

use crate::GuardError;

/// Bytes of HMAC-SHA256 kept in a token: 128 bits, beyond guessing.
const TAG_BYTES: usize = 16;
/// Bytes of the payment id (its 128-bit value).
const ID_BYTES: usize = 16;
/// Length of a token in characters (lowercase hex of id then tag).
pub const TOKEN_LEN: usize = 2 * (ID_BYTES + TAG_BYTES);
/// Separates these MACs from any other use of the same key.
const DOMAIN: &[u8] = b"malipo/mpesa-callback-token/v1\0";
/// The shortest key [`CallbackTokens::try_new`] accepts.
pub const MIN_TOKEN_KEY_BYTES: usize = 32;

/// Issues and checks the per-payment callback URL tokens of DESIGN invariant 3.
///
/// Daraja callbacks are not signed, so each STK push, B2C or other request gets its own callback
/// URL ending in a token only the server can make: the payment id followed by a 128-bit
/// HMAC-SHA256 of it under a server key. Checking is stateless (no table of tokens) and constant
/// time, and a valid token names its payment, so a callback can only be about the payment it was
/// issued for.
///
/// A token is 64 lowercase hexadecimal characters. Hex rather than base64 on purpose: Daraja
/// refuses callback URLs containing words such as `mpesa`, `cmd`, `exec`, `sql` or `query`, and
/// every one of them has a letter outside `0-9a-f`, so no token can ever trip that filter.
///
/// ```
/// use malipo_core::{PaymentId, Secret};
/// use malipo_guard::CallbackTokens;
///
/// let tokens = CallbackTokens::new(Secret::new(vec![7u8; 32]));
/// let payment = PaymentId::new();
/// let token = tokens.issue(payment);
/// assert_eq!(tokens.verify(&token), Some(payment));
/// assert_eq!(tokens.verify("0123"), None);
/// ```
#[derive(Clone)]
pub struct CallbackTokens {
    key: Secret<Vec<u8>>,
}

impl std::fmt::Debug for CallbackTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackTokens").field("key", &self.key).finish()
    }
}

impl CallbackTokens {
    /// Tokens under this server key. Use at least [`MIN_TOKEN_KEY_BYTES`] random bytes
    /// ([`CallbackTokens::try_new`] checks that); changing the key invalidates every token issued.
    pub fn new(key: Secret<Vec<u8>>) -> Self {
        CallbackTokens { key }
    }

    /// Like [`CallbackTokens::new`], refusing a key shorter than [`MIN_TOKEN_KEY_BYTES`].
    pub fn try_new(key: Secret<Vec<u8>>) -> Result<Self, GuardError> {
        let len = key.expose().len();
        if len < MIN_TOKEN_KEY_BYTES {
            return Err(GuardError::WeakTokenKey {
                len,
                min: MIN_TOKEN_KEY_BYTES,
            });
        }
        Ok(Self::new(key))
    }

    /// The token for this payment's callback URL (URL-safe: `[0-9a-f]{64}`).
    pub fn issue(&self, payment: PaymentId) -> String {
        let id = payment_bytes(payment);
        let tag = self.mac(&id).finalize().into_bytes();
        let mut token = hex::encode(id);
        token.push_str(&hex::encode(&tag[..TAG_BYTES]));
        token
    }

    /// The payment a token was issued for, or `None` for anything else. Never panics; the tag is
    /// compared in constant time.
    pub fn verify(&self, token: &str) -> Option<PaymentId> {
        // Lowercase only, so that each payment has exactly one token.
        if token.len() != TOKEN_LEN || !token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let raw = hex::decode(token).ok()?;
        let (id, tag) = raw.split_at_checked(ID_BYTES)?;
        self.mac(id).verify_truncated_left(tag).ok()?;
        let value = u128::from_be_bytes(id.try_into().ok()?);
        Some(PaymentId::from_parts(value >> 80, value))
    }

    fn mac(&self, id: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose()).expect("HMAC takes any key length");
        mac.update(DOMAIN);
        mac.update(id);
        mac
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The 128-bit value of a payment id, big-endian. `malipo-core` prints an id as its prefix and 26
/// Crockford base32 digits of that value; it has no accessor for the number, so it is decoded here.
fn payment_bytes(payment: PaymentId) -> [u8; ID_BYTES] {
    let text = payment.to_string();
    let body = text.rsplit('_').next().unwrap_or_default();
    let value = body.bytes().fold(0u128, |acc, b| {
        let digit = CROCKFORD.iter().position(|&c| c == b).unwrap_or(0) as u128;
        (acc << 5) | digit
    });
    value.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tokens() -> CallbackTokens {
        CallbackTokens::new(Secret::new(b"test-only key, 32 bytes or more!!".to_vec()))
    }

    #[test]
    fn issued_token_verifies_to_its_payment() {
        let t = tokens();
        for _ in 0..50 {
            let p = PaymentId::new();
            let token = t.issue(p);
            assert_eq!(token.len(), TOKEN_LEN);
            assert!(token
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert_eq!(t.verify(&token), Some(p));
        }
    }

    #[test]
    fn id_bytes_decode_the_printed_id() {
        let p = PaymentId::from_parts(0x0123_4567_89ab, 0xdead_beef_cafe_f00d_1234);
        let v = u128::from_be_bytes(payment_bytes(p));
        assert_eq!(PaymentId::from_parts(v >> 80, v), p);
        assert_eq!((v >> 80) as u64, p.timestamp_millis());
    }

    #[test]
    fn forged_or_altered_tokens_are_refused() {
        let t = tokens();
        let p = PaymentId::new();
        let token = t.issue(p);
        // Another key.
        let other = CallbackTokens::new(Secret::new(vec![1u8; 32]));
        assert_eq!(other.verify(&token), None);
        // Every single-character change.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let altered = String::from_utf8(bytes).unwrap();
            assert_eq!(t.verify(&altered), None, "position {i}");
        }
        // Same id, another payment's tag.
        let q = PaymentId::new();
        let spliced = format!("{}{}", &token[..32], &t.issue(q)[32..]);
        assert_eq!(t.verify(&spliced), None);
        assert_eq!(t.verify(&token.to_uppercase()), None);
        assert_eq!(t.verify(&token[..63]), None);
        assert_eq!(t.verify(&format!("{token}0")), None);
        assert_eq!(t.verify(""), None);
        assert_eq!(t.verify(&p.to_string()), None);
    }

    #[test]
    fn no_token_holds_a_word_daraja_refuses() {
        let t = tokens();
        for _ in 0..200 {
            let token = t.issue(PaymentId::new());
            for word in ["mpesa", "safaricom", "exec", "cmd", "sql", "query"] {
                assert!(!token.contains(word));
            }
        }
    }

    #[test]
    fn debug_does_not_print_the_key() {
        let t = CallbackTokens::new(Secret::new(b"super-secret-key-material-0123456789".to_vec()));
        let printed = format!("{t:?}");
        assert!(!printed.contains("super-secret"), "{printed}");
        assert!(printed.contains("REDACTED"));
    }

    #[test]
    fn weak_keys_are_refused_by_try_new() {
        let err = CallbackTokens::try_new(Secret::new(vec![0u8; 8]))
            .unwrap_err()
            .to_string();
        assert!(err.contains('8') && err.contains("32"), "{err}");
        assert!(CallbackTokens::try_new(Secret::new(vec![0u8; 32])).is_ok());
    }

    proptest! {
        #[test]
        fn verify_never_panics(s in "\\PC{0,80}") {
            prop_assert_eq!(tokens().verify(&s), None);
        }

        #[test]
        fn verify_never_panics_on_hex(s in "[0-9a-f]{60,68}") {
            prop_assert_eq!(tokens().verify(&s), None);
        }

        #[test]
        fn round_trips(millis in 0u128..(1 << 48), random in any::<u128>()) {
            let p = PaymentId::from_parts(millis, random);
            let t = tokens();
            prop_assert_eq!(t.verify(&t.issue(p)), Some(p));
        }
    }
}
