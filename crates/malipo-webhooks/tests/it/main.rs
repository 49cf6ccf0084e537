//! Integration tests of malipo-webhooks: properties of signing and verification.

mod limits;
mod properties;
