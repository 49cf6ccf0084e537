//! A typed async client for Safaricom's M-Pesa Daraja API.

mod credential;

pub use credential::{check_ciphertext_len, CertEnvironment, CredentialError, DarajaCertificate};
