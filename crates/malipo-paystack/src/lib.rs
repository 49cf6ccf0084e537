//! A typed async client for the Paystack API, its webhook events and their signature.

mod signature;

pub use signature::{sign, verify_signature, SignatureError, SIGNATURE_HEADER};
