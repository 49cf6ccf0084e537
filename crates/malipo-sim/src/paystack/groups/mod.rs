//! The API groups beyond transactions, refunds and transfers, one module each.

use std::sync::Arc;

use axum::Router;

use super::Shared;

mod apple_pay;
mod balance;
pub(crate) mod bulk_charges;
mod charges;
mod customers;
mod dedicated;
pub(crate) mod disputes;
mod misc;
mod pages;
pub(crate) mod payment_requests;
mod plans;
mod products;
mod recipients;
pub(crate) mod settlements;
mod splits;
mod subaccounts;
mod subscriptions;
mod terminals;
mod verification;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .merge(customers::router())
        .merge(plans::router())
        .merge(subscriptions::router())
        .merge(recipients::router())
        .merge(balance::router())
        .merge(verification::router())
        .merge(misc::router())
        .merge(dedicated::router())
        .merge(subaccounts::router())
        .merge(splits::router())
        .merge(settlements::router())
        .merge(disputes::router())
        .merge(products::router())
        .merge(pages::router())
        .merge(payment_requests::router())
        .merge(charges::router())
        .merge(bulk_charges::router())
        .merge(apple_pay::router())
        .merge(terminals::router())
}
