//! The gateway over real HTTP on loopback: one test binary, a module per endpoint group.

mod accounts;
mod api;
mod c2b_pull;
mod checklist;
mod common;
mod dashboard;
mod delivery;
mod hostile;
mod listener;
mod mpesa_callbacks;
mod ops;
mod payouts;
mod paystack_webhooks;
mod rate_limit;
mod reconcile;
mod records;
mod settlement;
mod storage;
mod validation;
