//! The demo's story, step by step. A step that does not turn out as expected becomes a failed
//! check (with what happened instead) and the story goes on, so the summary shows everything.

use std::time::Duration;

use malipo_core::{EventStatus, Msisdn, PaymentId, PaymentState};
use malipo_store::{DeliveryFilter, DeliveryStatus, EventFilter, PaymentRecord};
use tokio::time::{sleep, Instant};

use super::env::DemoEnv;
use super::report::{Check, Printer};
use super::{daraja, forgeries, paystack};

/// Longest wait for any one thing the simulators or the worker do in the background.
pub const WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

/// What the story produced.
pub struct Played {
    /// Every expected outcome and whether it happened.
    pub checks: Vec<Check>,
    /// The payments started, in order.
    pub payments: Vec<PaymentId>,
}

/// Plays the whole story.
pub async fn play(demo: &DemoEnv, out: &Printer) -> Played {
    let mut played = Played {
        checks: Vec::new(),
        payments: Vec::new(),
    };
    let silent = daraja::stk_pushes(demo, out, &mut played).await;
    daraja::paybill(demo, out, &mut played).await;
    daraja::closed_account(demo, out, &mut played).await;
    paystack::checkout(demo, out, &mut played).await;
    forgeries::play(demo, out, &mut played, silent.as_ref()).await;
    daraja::reconciled(demo, out, &mut played, silent.as_ref()).await;
    // The worker runs in the background: give it (bounded) time to finish the last jobs.
    let name = "every stored event was processed by the worker";
    let all_done = wait_until_async(|| async {
        let s = demo.state.store.stats().await.ok()?;
        let total: u64 = s.events.iter().map(|(_, n)| n).sum();
        (total > 0 && s.events_in(EventStatus::Processed) == total).then_some(total)
    })
    .await;
    played
        .checks
        .push(match (all_done, demo.state.store.stats().await) {
            (Some(total), _) => Check::new(name, true, format!("{total} of {total} processed")),
            (None, Ok(s)) => {
                let total: u64 = s.events.iter().map(|(_, n)| n).sum();
                let processed = s.events_in(EventStatus::Processed);
                Check::new(name, false, format!("{processed} of {total} processed"))
            }
            (None, Err(e)) => Check::new(name, false, e.to_string()),
        });
    your_app(demo, out, &mut played).await;
    played
}

/// What the merchant's app received: one signed delivery per change of a payment's state, each
/// verified by the app, and the validation questions it answered.
async fn your_app(demo: &DemoEnv, out: &Printer, played: &mut Played) {
    out.section("Your app: what malipo sent it (Standard Webhooks, verified by the app)");
    let name = "every payment change reached the merchant's app once, signed and verified";
    // Every delivery the outbox wrote has been sent (bounded wait: the sender runs beside).
    let filter = DeliveryFilter {
        limit: 1000,
        ..DeliveryFilter::default()
    };
    let sent = wait_until_async(|| async {
        let all = demo.state.store.list_deliveries(&filter).await.ok()?;
        (!all.is_empty() && all.iter().all(|d| d.status == DeliveryStatus::Delivered)).then_some(all)
    })
    .await;
    let received = demo.merchant.received();
    for r in &received {
        let about = match r.event_type.as_str() {
            "payment.validation" => format!(
                "{} account {} -> answered {}",
                r.data["transaction_id"].as_str().unwrap_or("?"),
                r.data["account_reference"].as_str().unwrap_or("-"),
                r.answer
                    .as_ref()
                    .map_or_else(|| "nothing".into(), |a| a.to_string())
            ),
            _ => format!(
                "{} {} {}",
                r.data["id"].as_str().unwrap_or("?"),
                r.data["amount"]["currency"].as_str().unwrap_or(""),
                r.data["amount"]["decimal"].as_str().unwrap_or("")
            ),
        };
        out.line(&format!(
            "  {} {:<20} {about}",
            if r.verified { "verified" } else { "FORGED  " },
            r.event_type
        ));
    }
    let deliveries: Vec<&super::merchant::Received> = received
        .iter()
        .filter(|r| r.event_type != "payment.validation")
        .collect();
    let mut ids: Vec<&str> = deliveries.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let all_verified = received.iter().all(|r| r.verified);
    let detail = match &sent {
        Some(all) => format!(
            "{} deliveries recorded, {} received ({} distinct ids), {}",
            all.len(),
            deliveries.len(),
            ids.len(),
            if all_verified {
                "all verified"
            } else {
                "one did not verify"
            }
        ),
        None => "some deliveries were still pending".into(),
    };
    let ok = sent.is_some_and(|all| all.len() == ids.len() && ids.len() == deliveries.len()) && all_verified;
    played.checks.push(Check::new(name, ok, detail));
}

/// Waits (bounded) until the payment reaches `state`.
pub async fn settle(demo: &DemoEnv, id: PaymentId, state: PaymentState) -> Option<PaymentRecord> {
    wait_until_async(|| async move {
        demo.state
            .store
            .get_payment(id)
            .await
            .ok()
            .flatten()
            .filter(|p| p.state == state)
    })
    .await
}

pub async fn events(demo: &DemoEnv) -> usize {
    let filter = EventFilter {
        limit: EventFilter::MAX_LIMIT,
        ..EventFilter::default()
    };
    demo.state.store.list_events(&filter).await.map_or(0, |e| e.len())
}

pub async fn wait_until<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    wait_until_async(|| std::future::ready(probe())).await
}

pub async fn wait_until_async<T, F: std::future::Future<Output = Option<T>>>(
    mut probe: impl FnMut() -> F,
) -> Option<T> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = probe().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(POLL).await;
    }
}

/// The provider's words on how a payment ended.
pub fn outcome_text(p: &PaymentRecord) -> String {
    let said = provider_said(p);
    match p.settled_by {
        Some(malipo_store::SettledBy::Query) => format!("settled by query: {said}"),
        _ => said,
    }
}

fn provider_said(p: &PaymentRecord) -> String {
    match (&p.receipt, &p.result_code, &p.result_desc) {
        (Some(receipt), _, _) => format!("receipt {receipt}"),
        // A C2B payment's TransID is its M-Pesa receipt number.
        (None, _, _) if p.kind == "c2b" => format!(
            "receipt {}, account {}",
            p.provider_reference.as_deref().unwrap_or("-"),
            p.merchant_reference.as_deref().unwrap_or("-")
        ),
        (None, Some(code), Some(desc)) => format!("{code}: {desc}"),
        (None, Some(code), None) => code.clone(),
        (None, None, Some(desc)) => desc.clone(),
        (None, None, None) if p.state == PaymentState::Pending => "waiting for the provider".to_string(),
        (None, None, None) => String::new(),
    }
}

/// The payment's phone, masked.
pub fn phone_of(p: &PaymentRecord) -> String {
    p.msisdn.as_ref().map_or_else(|| "-".to_string(), Msisdn::masked)
}

/// The payment's email, masked: first letter and domain.
pub fn email_of(p: &PaymentRecord) -> String {
    p.email
        .as_deref()
        .map_or_else(|| "-".to_string(), malipo_gateway::api::mask_email_text)
}
