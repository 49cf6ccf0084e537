//! The crate's integration tests, one binary: the client against the Paystack simulator over real
//! HTTP on loopback, every webhook fixture, and signed webhook round trips.

mod client;
mod events;
mod webhooks;
