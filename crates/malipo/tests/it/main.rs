//! The `malipo` binary driven as a user drives it: one test binary, a module per command group.

mod api;
mod check_config;
mod command_secrets;
mod common;
mod dashboard;
mod deliveries;
mod demo;
mod deployment;
mod events;
mod kill9;
mod mpesa_products;
mod mpesa_pull;
mod mpesa_qr;
mod newcomer;
mod no_secrets_in_logs;
mod operator_commands;
mod payments;
mod paystack_sync;
mod postgres;
mod readme;
mod security_credential;
mod workers;
