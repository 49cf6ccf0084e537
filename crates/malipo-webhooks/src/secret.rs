use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::SECRET_PREFIX;

/// How many random bytes a generated key has (as svix and the Standard Webhooks libraries do).
const GENERATED_LEN: usize = 24;
/// The longest key accepted: far above any real one, and it bounds what parsing allocates.
const MAX_LEN: usize = 1024;

/// A signing key: `whsec_` + base64 in text form.
///
/// `Debug` and `Display` print `[REDACTED]`; the text form is only ever produced by the explicit
/// [`WebhookSecret::expose_whsec`].
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

/// Why a secret's text was refused. Never contains the text itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text after `whsec_` is not standard base64.
    #[error("the webhook secret is not valid: expected \"whsec_\" followed by standard base64")]
    NotBase64,
    /// The key decodes to nothing.
    #[error("the webhook secret is empty: expected \"whsec_\" followed by the base64 of a key")]
    Empty,
    /// The key is unreasonably long.
    #[error("the webhook secret is too long: at most {MAX_LEN} bytes of key are accepted")]
    TooLong,
}

impl WebhookSecret {
    /// A new random key (24 bytes from the operating system's generator).
    pub fn generate() -> Self {
        let mut key = vec![0u8; GENERATED_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        WebhookSecret { key }
    }

    /// A secret from raw key bytes.
    pub fn from_bytes(key: &[u8]) -> Result<Self, SecretError> {
        match key.len() {
            0 => Err(SecretError::Empty),
            n if n > MAX_LEN => Err(SecretError::TooLong),
            _ => Ok(WebhookSecret { key: key.to_vec() }),
        }
    }

    /// The text form, `whsec_…`: the one way to read the key, so every use is greppable.
    pub fn expose_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// The HMAC ready to take `id.timestamp.body`.
    pub(crate) fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }
}

impl FromStr for WebhookSecret {
    type Err = SecretError;

    /// Reads `whsec_` + base64; the prefix is optional, as in the Standard Webhooks libraries.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b64 = s.trim().strip_prefix(SECRET_PREFIX).unwrap_or(s.trim());
        if b64.len() > MAX_LEN * 2 {
            return Err(SecretError::TooLong);
        }
        let key = STANDARD.decode(b64).map_err(|_| SecretError::NotBase64)?;
        WebhookSecret::from_bytes(&key)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_is_never_printed() {
        let s = WebhookSecret::generate();
        let text = s.expose_whsec();
        assert!(text.starts_with("whsec_"));
        assert_eq!(text.parse::<WebhookSecret>(), Ok(s.clone()));
        assert!(!format!("{s:?} {s}").contains(&text[6..]));
    }

    #[test]
    fn bad_text_is_refused_without_echoing_it() {
        assert_eq!("whsec_!!!".parse::<WebhookSecret>(), Err(SecretError::NotBase64));
        assert_eq!("whsec_".parse::<WebhookSecret>(), Err(SecretError::Empty));
        let e = "whsec_!!!".parse::<WebhookSecret>().unwrap_err().to_string();
        assert!(!e.contains("!!!"));
    }
}
