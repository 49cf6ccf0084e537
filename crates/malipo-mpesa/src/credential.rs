//! Daraja's `SecurityCredential`: the initiator password encrypted with Safaricom's certificate.
//!
//! Daraja's B2C, B2B, transaction status, account balance and reversal calls carry the initiator
//! password as base64 of RSA PKCS#1 v1.5 ciphertext made with the public key of the certificate
//! Safaricom publishes for that environment (sandbox and production certificates differ).

use base64::Engine as _;
use malipo_core::Secret;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

/// Why a certificate could not be used or a credential could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Neither a PEM nor a DER X.509 certificate.
    #[error("not an X.509 certificate in PEM or DER form: {0}")]
    NotACertificate(String),
    /// The certificate's key is not RSA.
    #[error("the certificate's public key is not an RSA key: {0}")]
    NotRsa(String),
    /// The password is too long for PKCS#1 v1.5 with this key size.
    #[error(
        "the initiator password is {len} bytes; a {bits}-bit key encrypts at most {max} with PKCS#1 v1.5"
    )]
    PasswordTooLong {
        /// Password length in bytes.
        len: usize,
        /// Key size.
        bits: usize,
        /// Largest message the key can encrypt.
        max: usize,
    },
    /// The password is empty.
    #[error("the initiator password is empty")]
    EmptyPassword,
    /// Encryption failed inside the RSA implementation.
    #[error("RSA encryption failed: {0}")]
    Encrypt(#[source] rsa::Error),
}

/// Which Daraja environment a certificate appears to belong to, judged by its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertEnvironment {
    /// The subject names Safaricom's sandbox.
    Sandbox,
    /// The subject names Safaricom but not the sandbox.
    Production,
    /// The subject does not say (for example a test certificate).
    Unknown,
}

/// A Daraja certificate's RSA public key, ready to encrypt initiator passwords.
#[derive(Clone)]
pub struct DarajaCertificate {
    key: RsaPublicKey,
    subject: String,
}

impl std::fmt::Debug for DarajaCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DarajaCertificate")
            .field("subject", &self.subject)
            .field("modulus_bits", &(self.modulus_len() * 8))
            .finish()
    }
}

impl DarajaCertificate {
    /// Reads an X.509 certificate in PEM (`-----BEGIN CERTIFICATE-----`) or DER form, as
    /// downloaded from the Daraja portal.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CredentialError> {
        let trimmed = bytes.trim_ascii_start();
        let cert = if trimmed.starts_with(b"-----BEGIN") {
            Certificate::from_pem(trimmed).map_err(|e| CredentialError::NotACertificate(e.to_string()))?
        } else {
            Certificate::from_der(bytes).map_err(|e| CredentialError::NotACertificate(e.to_string()))?
        };
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| CredentialError::NotACertificate(e.to_string()))?;
        let key =
            RsaPublicKey::from_public_key_der(&spki).map_err(|e| CredentialError::NotRsa(e.to_string()))?;
        Ok(DarajaCertificate {
            key,
            subject: cert.tbs_certificate.subject.to_string(),
        })
    }

    /// The certificate's subject, as `CN=…,O=…`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The RSA modulus length in bytes: the exact length of every ciphertext this key makes.
    pub fn modulus_len(&self) -> usize {
        self.key.size()
    }

    /// Which environment the subject names. Safaricom's sandbox certificate names the sandbox
    /// host; the production one names Safaricom's API host.
    pub fn environment(&self) -> CertEnvironment {
        let subject = self.subject.to_ascii_lowercase();
        if subject.contains("sandbox") {
            CertEnvironment::Sandbox
        } else if subject.contains("safaricom") {
            CertEnvironment::Production
        } else {
            CertEnvironment::Unknown
        }
    }

    /// Encrypts the initiator password into a `SecurityCredential` (base64 of the ciphertext).
    pub fn security_credential(&self, password: &Secret<String>) -> Result<Secret<String>, CredentialError> {
        let plain = password.expose().as_bytes();
        if plain.is_empty() {
            return Err(CredentialError::EmptyPassword);
        }
        // RFC 8017 §7.2.1: PKCS#1 v1.5 padding takes at least 11 bytes of the block.
        let max = self.modulus_len().saturating_sub(11);
        if plain.len() > max {
            return Err(CredentialError::PasswordTooLong {
                len: plain.len(),
                bits: self.modulus_len() * 8,
                max,
            });
        }
        let cipher = self
            .key
            .encrypt(&mut rand::thread_rng(), Pkcs1v15Encrypt, plain)
            .map_err(CredentialError::Encrypt)?;
        Ok(Secret::new(
            base64::engine::general_purpose::STANDARD.encode(cipher),
        ))
    }

    /// Checks that `credential` has the shape of a ciphertext made with this key: base64 that
    /// decodes to exactly the modulus length. A plaintext password never passes.
    pub fn check_ciphertext_shape(&self, credential: &Secret<String>) -> Result<(), String> {
        check_ciphertext_len(credential, Some(self.modulus_len()))
    }
}

/// Checks that `credential` is base64 of `expected_len` bytes (or, without a certificate, of a
/// common RSA modulus length: 128, 256, 384 or 512 bytes). The message never contains the value.
pub fn check_ciphertext_len(credential: &Secret<String>, expected_len: Option<usize>) -> Result<(), String> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credential.expose().trim())
        .map_err(|_| {
            "it is not base64, so it cannot be RSA ciphertext (is it the plaintext password?)".to_string()
        })?;
    match expected_len {
        Some(len) if decoded.len() == len => Ok(()),
        Some(len) => Err(format!(
            "it decodes to {} bytes but the certificate's key makes {len}-byte ciphertexts",
            decoded.len()
        )),
        None if [128, 256, 384, 512].contains(&decoded.len()) => Ok(()),
        None => Err(format!(
            "it decodes to {} bytes, not the length of an RSA ciphertext (256 for Safaricom's 2048-bit key)",
            decoded.len()
        )),
    }
}
