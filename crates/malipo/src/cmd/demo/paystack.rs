//! The Paystack part of the story: a checkout paid by card, its webhook, and a redelivery.

use malipo_core::PaymentState;
use malipo_gateway::{Endpoint, Outcome};

use super::env::DemoEnv;
use super::report::{Check, Printer};
use super::scenario::{email_of, events, outcome_text, settle, Played, WAIT};

/// The Paystack checkout, paid, its webhook, and a redelivery of it.
pub async fn checkout(demo: &DemoEnv, out: &Printer, played: &mut Played) {
    out.section("Paystack: a checkout, paid by card, and its webhook delivered twice");
    let name = "Paystack checkout: paid, webhook verified, payment succeeded";
    let started = match demo
        .create_payment(
            "demo-checkout-A-1042",
            serde_json::json!({
                "provider": "paystack",
                "email": "wanjiru@example.com",
                "amount": 250_000,
                "currency": "KES",
                "metadata": { "order": "A-1042" },
            }),
        )
        .await
    {
        Ok(s) => s,
        Err(e) => {
            out.line(&format!("  !! checkout not started: {e:#}"));
            return played
                .checks
                .push(Check::new(name, false, "checkout not started".into()));
        }
    };
    let (payment, answer) = started;
    let authorization_url = answer["authorization_url"].as_str().unwrap_or("-").to_string();
    played.payments.push(payment.id);
    let reference = payment.provider_reference.clone().unwrap_or_default();
    out.line(&format!(
        "  -> {}  {:<12} {}  checkout page {}",
        payment.id,
        payment.amount.to_string(),
        email_of(&payment),
        authorization_url
    ));
    if let Err(e) = demo.paystack.authorize(&reference) {
        out.line(&format!("  !! the simulated customer could not pay: {e}"));
        return played.checks.push(Check::new(name, false, e.to_string()));
    }
    out.line("  .. the customer pays on the checkout page (simulated)");
    let log = demo
        .paystack
        .wait_for_deliveries(WAIT, |log| log.iter().any(|d| d.delivered))
        .await;
    let Some(first) = log.iter().find(|d| d.delivered) else {
        out.line("  !! no webhook was delivered");
        return played
            .checks
            .push(Check::new(name, false, "no webhook delivered".into()));
    };
    out.line(&format!(
        "  <- webhook {} signed HMAC-SHA512 -> HTTP {} (signature and source verified, stored, acknowledged)",
        first.event,
        last_status(first)
    ));
    let settled = settle(demo, payment.id, PaymentState::Succeeded).await;
    if let Some(p) = &settled {
        out.line(&format!(
            "  worker: {} pending -> {:<10} {}",
            p.id,
            p.state.to_string(),
            outcome_text(p)
        ));
    }
    played.checks.push(Check::new(
        name,
        settled.is_some(),
        settled.map_or_else(|| "not succeeded in time".into(), |p| outcome_text(&p)),
    ));

    // Paystack occasionally delivers the same webhook twice: same bytes, same signature.
    let name = "duplicate webhook: acknowledged, stored once";
    let before = events(demo).await;
    let dup = match demo.paystack.send_duplicate(first.id) {
        Ok(id) => id,
        Err(e) => return played.checks.push(Check::new(name, false, e.to_string())),
    };
    let log = demo
        .paystack
        .wait_for_deliveries(WAIT, |log| log.get(dup).is_some_and(|d| !d.attempts.is_empty()))
        .await;
    let status = log.get(dup).map_or_else(|| "none".into(), last_status);
    let after = events(demo).await;
    let duplicates = demo
        .state
        .metrics
        .requests(Endpoint::Paystack, Outcome::Duplicate);
    out.line(&format!(
        "  <- the same webhook again (Paystack redelivers now and then) -> HTTP {status}, recognised by its dedup key, not stored again"
    ));
    played.checks.push(Check::new(
        name,
        status == "200" && duplicates == 1 && before == after,
        format!("HTTP {status}; events {before} before, {after} after; {duplicates} duplicate(s) counted"),
    ));
}

fn last_status(d: &malipo_sim::paystack::Delivery) -> String {
    d.attempts
        .last()
        .and_then(|a| a.status)
        .map_or_else(|| "none".to_string(), |s| s.to_string())
}
