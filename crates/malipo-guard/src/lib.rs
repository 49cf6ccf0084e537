//! Verification of inbound provider requests as a tower layer.
