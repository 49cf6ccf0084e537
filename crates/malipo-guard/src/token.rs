use std::sync::Arc;

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
const DOMAIN: &[u8] = b"malipo/mpesa-callback-token/v2\0";
/// The shortest key [`CallbackTokens::try_new`] accepts.
pub const MIN_TOKEN_KEY_BYTES: usize = 32;

/// The callback route a token is issued for: a token is valid on that route only, so a
/// token put in an STK push's callback URL cannot post a B2C result or a queue timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackRoute {
    /// `/callbacks/mpesa/stk/{token}`: an STK push's result.
    Stk,
    /// `/callbacks/mpesa/result/{token}`: a B2C, B2B, status, balance or reversal result.
    Result,
    /// `/callbacks/mpesa/timeout/{token}`: a queue timeout.
    Timeout,
}

impl CallbackRoute {
    /// Every route.
    pub const ALL: [CallbackRoute; 3] = [CallbackRoute::Stk, CallbackRoute::Result, CallbackRoute::Timeout];

    /// The path segment just before the token (`stk`, `result`, `timeout`).
    pub const fn as_str(self) -> &'static str {
        match self {
            CallbackRoute::Stk => "stk",
            CallbackRoute::Result => "result",
            CallbackRoute::Timeout => "timeout",
        }
    }

    /// The route whose path segment is `segment`.
    pub fn from_segment(segment: &str) -> Option<Self> {
        CallbackRoute::ALL.into_iter().find(|r| r.as_str() == segment)
    }
}

/// Issues and checks the per-payment callback URL tokens of DESIGN invariant 3.
///
/// Daraja callbacks are not signed, so each STK push, B2C or other request gets its own callback
/// URL ending in a token only the server can make: the payment id followed by a 128-bit
/// HMAC-SHA256 of the route and the id under a server key. Checking is stateless (no table of
/// tokens) and constant time, and a valid token names its payment and its route, so a callback
/// can only be about the payment it was issued for, on the route it was issued for.
///
/// A token is 64 lowercase hexadecimal characters. Hex rather than base64 on purpose: Daraja
/// refuses callback URLs containing words such as `mpesa`, `cmd`, `exec`, `sql` or `query`, and
/// every one of them has a letter outside `0-9a-f`, so no token can ever trip that filter.
///
/// ```
/// use malipo_core::{PaymentId, Secret};
/// use malipo_guard::{CallbackRoute, CallbackTokens};
///
/// let tokens = CallbackTokens::new(Secret::new(vec![7u8; 32]));
/// let payment = PaymentId::new();
/// let token = tokens.issue_for(CallbackRoute::Stk, payment);
/// assert_eq!(tokens.verify_for(CallbackRoute::Stk, &token), Some(payment));
/// assert_eq!(tokens.verify_for(CallbackRoute::Result, &token), None);
/// assert_eq!(tokens.verify_for(CallbackRoute::Stk, "0123"), None);
/// ```
#[derive(Clone)]
pub struct CallbackTokens {
    /// The HMAC keyed once and shared: a token costs no key set-up, and the gateway's state,
    /// cloned for every request, clones a reference count instead of the key.
    keyed: Secret<Arc<Hmac<Sha256>>>,
}

impl std::fmt::Debug for CallbackTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackTokens")
            .field("key", &self.keyed)
            .finish()
    }
}

impl CallbackTokens {
    /// Tokens under this server key. Use at least [`MIN_TOKEN_KEY_BYTES`] random bytes
    /// ([`CallbackTokens::try_new`] checks that); changing the key invalidates every token issued.
    pub fn new(key: Secret<Vec<u8>>) -> Self {
        // HMAC takes keys of any length, so this cannot fail.
        let keyed = Hmac::<Sha256>::new_from_slice(key.expose()).expect("HMAC takes any key length");
        CallbackTokens {
            keyed: Secret::new(Arc::new(keyed)),
        }
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

    /// The token for this payment's callback URL on `route` (URL-safe: `[0-9a-f]{64}`); it is
    /// refused on every other route.
    pub fn issue_for(&self, route: CallbackRoute, payment: PaymentId) -> String {
        let id = payment.as_u128().to_be_bytes();
        let tag = self.mac(route, &id).finalize().into_bytes();
        let mut token = hex::encode(id);
        token.push_str(&hex::encode(&tag[..TAG_BYTES]));
        token
    }

    /// The payment a token was issued for on `route`, or `None` for anything else (a token of
    /// another route included). Never panics; the tag is compared in constant time.
    pub fn verify_for(&self, route: CallbackRoute, token: &str) -> Option<PaymentId> {
        // Lowercase only, so that each payment has exactly one token.
        if token.len() != TOKEN_LEN || !token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let raw = hex::decode(token).ok()?;
        let (id, tag) = raw.split_at_checked(ID_BYTES)?;
        self.mac(route, id).verify_truncated_left(tag).ok()?;
        let value = u128::from_be_bytes(id.try_into().ok()?);
        Some(PaymentId::from_parts(value >> 80, value))
    }

    fn mac(&self, route: CallbackRoute, id: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::clone(self.keyed.expose());
        mac.update(DOMAIN);
        // The route's name and a NUL: no route name is a prefix of another's with the id after.
        mac.update(route.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(id);
        mac
    }
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
            let token = t.issue_for(CallbackRoute::Stk, p);
            assert_eq!(token.len(), TOKEN_LEN);
            assert!(token
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert_eq!(t.verify_for(CallbackRoute::Stk, &token), Some(p));
        }
    }

    #[test]
    fn a_token_is_the_ids_value_then_the_truncated_mac_of_domain_route_and_id() {
        // Computed outside Rust (HMAC-SHA256 over the domain, "stk", NUL and the id's 16 bytes):
        // tokens already in Daraja's hands must keep verifying after an upgrade.
        let p = PaymentId::from_parts(0x0123_4567_89ab, 0xdead_beef_cafe_f00d_1234);
        let token = tokens().issue_for(CallbackRoute::Stk, p);
        assert_eq!(
            token,
            "0123456789abdeadbeefcafef00d123449584167ce0b7df4a6fa6eb31eb4548a"
        );
        assert_eq!(tokens().verify_for(CallbackRoute::Stk, &token), Some(p));
    }

    #[test]
    fn forged_or_altered_tokens_are_refused() {
        let t = tokens();
        let p = PaymentId::new();
        let token = t.issue_for(CallbackRoute::Stk, p);
        // Another key.
        let other = CallbackTokens::new(Secret::new(vec![1u8; 32]));
        assert_eq!(other.verify_for(CallbackRoute::Stk, &token), None);
        // Every single-character change.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let altered = String::from_utf8(bytes).unwrap();
            assert_eq!(t.verify_for(CallbackRoute::Stk, &altered), None, "position {i}");
        }
        // Same id, another payment's tag.
        let q = PaymentId::new();
        let spliced = format!("{}{}", &token[..32], &t.issue_for(CallbackRoute::Stk, q)[32..]);
        assert_eq!(t.verify_for(CallbackRoute::Stk, &spliced), None);
        assert_eq!(t.verify_for(CallbackRoute::Stk, &token.to_uppercase()), None);
        assert_eq!(t.verify_for(CallbackRoute::Stk, &token[..63]), None);
        assert_eq!(t.verify_for(CallbackRoute::Stk, &format!("{token}0")), None);
        assert_eq!(t.verify_for(CallbackRoute::Stk, ""), None);
        assert_eq!(t.verify_for(CallbackRoute::Stk, &p.to_string()), None);
    }

    #[test]
    fn a_token_is_valid_on_its_own_route_only() {
        let t = tokens();
        let p = PaymentId::new();
        for issued in CallbackRoute::ALL {
            let token = t.issue_for(issued, p);
            for route in CallbackRoute::ALL {
                let expected = (route == issued).then_some(p);
                assert_eq!(t.verify_for(route, &token), expected, "{issued:?} on {route:?}");
            }
        }
        assert_ne!(
            t.issue_for(CallbackRoute::Stk, p),
            t.issue_for(CallbackRoute::Result, p)
        );
    }

    #[test]
    fn routes_name_their_path_segment() {
        for r in CallbackRoute::ALL {
            assert_eq!(CallbackRoute::from_segment(r.as_str()), Some(r));
        }
        assert_eq!(CallbackRoute::from_segment("c2b"), None);
    }

    #[test]
    fn no_token_holds_a_word_daraja_refuses() {
        let t = tokens();
        for _ in 0..200 {
            let token = t.issue_for(CallbackRoute::Stk, PaymentId::new());
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
            prop_assert_eq!(tokens().verify_for(CallbackRoute::Stk, &s), None);
        }

        #[test]
        fn verify_never_panics_on_hex(s in "[0-9a-f]{60,68}") {
            prop_assert_eq!(tokens().verify_for(CallbackRoute::Stk, &s), None);
        }

        #[test]
        fn round_trips(millis in 0u128..(1 << 48), random in any::<u128>()) {
            let p = PaymentId::from_parts(millis, random);
            let t = tokens();
            prop_assert_eq!(t.verify_for(CallbackRoute::Stk, &t.issue_for(CallbackRoute::Stk, p)), Some(p));
        }
    }
}
