//! The malipo gateway service.
