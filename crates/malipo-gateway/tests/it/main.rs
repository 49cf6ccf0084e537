//! The gateway over real HTTP on loopback: one test binary, a module per endpoint group.

mod common;
mod delivery;
mod mpesa_callbacks;
mod paystack_webhooks;
mod rate_limit;
