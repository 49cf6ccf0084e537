//! The M-Pesa part of the story: STK pushes with every ending, and a C2B paybill payment.

use malipo_core::{Currency, Money, PaymentState, Provider};
use malipo_mpesa::{stk_result_meaning, C2bSimulateRequest, RegisterUrlsRequest, StkQueryOutcome};
use malipo_store::{PaymentRecord, SettledBy};

use super::env::DemoEnv;
use super::merchant::CLOSED_ACCOUNT_PREFIX;
use super::report::{Check, Printer};
use super::scenario::{outcome_text, phone_of, settle, wait_until, wait_until_async, Played};

/// One STK push of the story and how it should end.
struct Push {
    shillings: u64,
    phone: &'static str,
    story: &'static str,
    expect: PaymentState,
}

/// The Daraja simulator picks each ending by amount (`SimConfig::with_demo_outcomes`).
const PUSHES: [Push; 4] = [
    Push {
        shillings: 100,
        phone: "0708374149",
        story: "the customer pays",
        expect: PaymentState::Succeeded,
    },
    Push {
        shillings: 1032,
        phone: "0712345678",
        story: "the customer cancels",
        expect: PaymentState::Cancelled,
    },
    Push {
        shillings: 1111,
        phone: "0722000111",
        story: "not enough money",
        expect: PaymentState::Failed,
    },
    Push {
        shillings: 4040,
        phone: "0110000404",
        story: "paid, but Daraja never calls back (the reconciler asks)",
        expect: PaymentState::Pending,
    },
];

/// The STK pushes; returns the payment that never gets a callback (the forgeries target it).
pub async fn stk_pushes(demo: &DemoEnv, out: &Printer, played: &mut Played) -> Option<PaymentRecord> {
    out.section("M-Pesa: four STK pushes (the Daraja simulator chooses each ending by the amount)");
    out.line("  started as a merchant's backend does: POST /v1/payments on the merchant API, with a key");
    out.line("  sent: payment, amount, phone, Daraja's CheckoutRequestID, what the customer will do");
    let mut started: Vec<(&Push, PaymentRecord)> = Vec::new();
    for push in &PUSHES {
        let name = format!("KES {} STK push: {}", push.shillings, push.story);
        let result = async {
            let (payment, _) = demo
                .create_payment(
                    &format!("demo-order-{}", push.shillings),
                    serde_json::json!({
                        "provider": "mpesa",
                        "phone": push.phone,
                        "amount": push.shillings * 100,
                        "account_reference": "DEMO-1042",
                        "description": "Demo order",
                        "merchant_reference": format!("order-{}", push.shillings),
                    }),
                )
                .await?;
            Ok::<_, anyhow::Error>(payment)
        }
        .await;
        match result {
            Ok(payment) => {
                out.line(&format!(
                    "  -> {}  {:<12} {}  {}  {}",
                    payment.id,
                    payment.amount.to_string(),
                    phone_of(&payment),
                    payment.provider_reference.as_deref().unwrap_or("-"),
                    push.story
                ));
                played.payments.push(payment.id);
                started.push((push, payment));
            }
            Err(e) => {
                out.line(&format!("  !! KES {}: {e:#}", push.shillings));
                played
                    .checks
                    .push(Check::new(&name, false, format!("not started: {e:#}")));
            }
        }
    }

    let expected_callbacks = started
        .iter()
        .filter(|(p, _)| p.expect != PaymentState::Pending)
        .count();
    let callbacks = wait_until(|| {
        let sent = demo.daraja.sent_callbacks();
        (sent.len() >= expected_callbacks).then_some(sent)
    })
    .await
    .unwrap_or_else(|| demo.daraja.sent_callbacks());
    for cb in &callbacks {
        let stk = &cb.body["Body"]["stkCallback"];
        let checkout = stk["CheckoutRequestID"].as_str().unwrap_or("?");
        let payment = started
            .iter()
            .find(|(_, p)| p.provider_reference.as_deref() == Some(checkout))
            .map_or_else(|| "an unknown payment".to_string(), |(_, p)| p.id.to_string());
        out.line(&format!(
            "  <- Daraja calls back for {payment}: ResultCode {:<4} -> HTTP {} (token and source verified, stored, acknowledged)",
            stk["ResultCode"].to_string(),
            cb.status.map_or_else(|| "none".to_string(), |s| s.to_string())
        ));
    }

    let mut silent = None;
    for (push, payment) in started {
        let name = format!("KES {} STK push: {}", push.shillings, push.story);
        if push.expect == PaymentState::Pending {
            let check = no_callback(demo, out, &payment).await;
            played
                .checks
                .push(Check::new(&name, check.is_ok(), check.unwrap_or_else(|e| e)));
            silent = Some(payment);
            continue;
        }
        let settled = settle(demo, payment.id, push.expect).await;
        match &settled {
            Some(p) => out.line(&format!(
                "  worker: {} pending -> {:<10} {}",
                p.id,
                p.state.to_string(),
                outcome_text(p)
            )),
            None => out.line(&format!(
                "  worker: {} did not become {} in time",
                payment.id, push.expect
            )),
        }
        let ok = settled
            .as_ref()
            .is_some_and(|p| push.expect != PaymentState::Succeeded || p.receipt.is_some());
        played.checks.push(Check::new(
            &name,
            ok,
            settled.map_or_else(
                || "no change in time".into(),
                |p| format!("{}, {}", p.state, outcome_text(&p)),
            ),
        ));
    }
    silent
}

/// The payment whose callback never comes: no callback moves it, and Daraja's STK query (the
/// reconciler's tool) knows the answer.
async fn no_callback(demo: &DemoEnv, out: &Printer, payment: &PaymentRecord) -> Result<String, String> {
    let Some(checkout) = payment.provider_reference.as_deref() else {
        return Err("no CheckoutRequestID recorded".into());
    };
    let answer = match demo.mpesa_client.stk_query(checkout).await {
        Ok(StkQueryOutcome::Completed(result)) => {
            let meaning = result
                .result_code_number()
                .and_then(stk_result_meaning)
                .unwrap_or("a code malipo does not know");
            format!(
                "ResultCode {}, {meaning}",
                result.result_code.as_deref().unwrap_or("?")
            )
        }
        Ok(StkQueryOutcome::Pending { .. }) => "still being processed".to_string(),
        Err(e) => return Err(format!("STK query failed: {e}")),
    };
    let now = demo.state.store.get_payment(payment.id).await.ok().flatten();
    out.line(&format!(
        "  ?? {} no callback; an STK query (the reconciler's job) says {answer}: pending until reconciled",
        payment.id
    ));
    // The reconciler may already have asked on a slow machine; a callback never moved it.
    match now {
        Some(p) if p.settled_by != Some(SettledBy::Callback) => {
            Ok(format!("{} without a callback; STK query says {answer}", p.state))
        }
        other => Err(format!(
            "expected no callback to move it, found {:?}",
            other.map(|p| (p.state, p.settled_by))
        )),
    }
}

/// The reconciler settles the payment whose callback never came, by Daraja's STK query.
pub async fn reconciled(demo: &DemoEnv, out: &Printer, played: &mut Played, silent: Option<&PaymentRecord>) {
    out.section("Reconciliation: the push whose callback never came");
    let name = "the push with no callback: settled succeeded by the reconciler's STK query";
    let Some(payment) = silent else {
        return played
            .checks
            .push(Check::new(name, false, "no such payment was started".into()));
    };
    out.line(&format!(
        "  .. {} has had no callback for 1 s ([reconcile] stk_push.after; 2 minutes by default): the reconciler asks Daraja",
        payment.id
    ));
    let settled = settle(demo, payment.id, PaymentState::Succeeded).await;
    match &settled {
        Some(p) => out.line(&format!(
            "  reconciler: {} pending -> {:<10} {}",
            p.id,
            p.state.to_string(),
            outcome_text(p)
        )),
        None => out.line(&format!("  !! {} was not reconciled in time", payment.id)),
    }
    let ok = settled
        .as_ref()
        .is_some_and(|p| p.settled_by == Some(SettledBy::Query));
    played.checks.push(Check::new(
        name,
        ok,
        settled.map_or_else(
            || "still pending".into(),
            |p| {
                format!(
                    "{}, settled by {}",
                    p.state,
                    p.settled_by.map_or("nothing", SettledBy::as_str)
                )
            },
        ),
    ));
}

/// A customer pays the paybill from the phone's menu (C2B): no push, malipo learns of the
/// payment from Daraja's validation and confirmation and records it.
pub async fn paybill(demo: &DemoEnv, out: &Printer, played: &mut Played) {
    out.section("M-Pesa: a customer pays the paybill from the phone's menu (C2B, nothing started by malipo)");
    let name = "C2B paybill payment: validated, confirmed, recorded as succeeded";
    let result = async {
        // Daraja refuses C2B URLs containing "mpesa": the gateway also serves them under /daraja/.
        let register = RegisterUrlsRequest {
            shortcode: None,
            response_type: Default::default(),
            confirmation_url: demo.public_base_url.join("/callbacks/daraja/c2b/confirmation")?,
            validation_url: demo.public_base_url.join("/callbacks/daraja/c2b/validation")?,
            version: Default::default(),
        };
        demo.mpesa_client.register_c2b_urls(&register).await?;
        out.line("  -> C2B URLs registered for shortcode 174379 (/callbacks/daraja/c2b/validation and /confirmation)");
        let pay = C2bSimulateRequest {
            shortcode: None,
            command: Default::default(),
            amount: Money::from_major(750, Currency::Kes)?,
            phone: "0733000750".parse()?,
            bill_ref_number: Some("ACC-88".into()),
        };
        demo.mpesa_client.simulate_c2b(&pay).await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        out.line(&format!("  !! {e:#}"));
        return played.checks.push(Check::new(name, false, format!("{e:#}")));
    }
    out.line("  .. the customer sends KES 750 to paybill 174379, account ACC-88 (simulated)");
    let confirmation = wait_until(|| {
        demo.daraja
            .sent_callbacks()
            .into_iter()
            .find(|c| c.url.ends_with("/c2b/confirmation"))
    })
    .await;
    for cb in demo
        .daraja
        .sent_callbacks()
        .iter()
        .filter(|c| c.url.contains("/c2b/"))
    {
        let step = if cb.url.ends_with("/validation") {
            "validation  "
        } else {
            "confirmation"
        };
        out.line(&format!(
            "  <- Daraja sends the {step} of {} -> HTTP {} (source verified, stored, acknowledged)",
            cb.body["TransID"].as_str().unwrap_or("?"),
            cb.status.map_or_else(|| "none".to_string(), |s| s.to_string())
        ));
    }
    let Some(trans_id) = confirmation.and_then(|c| c.body["TransID"].as_str().map(str::to_string)) else {
        out.line("  !! no confirmation arrived");
        return played
            .checks
            .push(Check::new(name, false, "no confirmation".into()));
    };
    let recorded = wait_until_async(|| {
        let trans_id = trans_id.clone();
        async move {
            demo.state
                .store
                .find_payment_by_provider_ref(Provider::Mpesa, &trans_id)
                .await
                .ok()
                .flatten()
        }
    })
    .await;
    match &recorded {
        Some(p) => {
            played.payments.push(p.id);
            out.line(&format!(
                "  worker: recorded {} {} from {}, account {}",
                p.id,
                p.state,
                phone_of(p),
                p.merchant_reference.as_deref().unwrap_or("-")
            ));
        }
        None => out.line("  !! the worker recorded no payment"),
    }
    played.checks.push(Check::new(
        name,
        recorded
            .as_ref()
            .is_some_and(|p| p.state == PaymentState::Succeeded),
        recorded.map_or_else(
            || "not recorded in time".into(),
            |p| format!("{} {}", p.state, trans_id),
        ),
    ));
}

/// A customer pays to an account the shop has closed: the merchant's app refuses it at
/// validation, so Daraja never takes the money and no confirmation follows.
pub async fn closed_account(demo: &DemoEnv, out: &Printer, played: &mut Played) {
    let name = "C2B payment to a closed account: refused by the merchant's app at validation, never recorded";
    let account = format!("{CLOSED_ACCOUNT_PREFIX}-17");
    let pay = async {
        let pay = C2bSimulateRequest {
            shortcode: None,
            command: Default::default(),
            amount: Money::from_major(300, Currency::Kes)?,
            phone: "0722000300".parse()?,
            bill_ref_number: Some(account.clone()),
        };
        demo.mpesa_client.simulate_c2b(&pay).await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = pay {
        out.line(&format!("  !! {e:#}"));
        return played.checks.push(Check::new(name, false, format!("{e:#}")));
    }
    out.line(&format!(
        "  .. another customer sends KES 300 to account {account}, which the shop closed (simulated)"
    ));
    let asked = wait_until(|| {
        demo.merchant
            .received()
            .into_iter()
            .find(|r| r.data["account_reference"] == account.as_str())
    })
    .await;
    let Some(asked) = asked else {
        out.line("  !! the merchant's app was never asked");
        return played
            .checks
            .push(Check::new(name, false, "the app was never asked".into()));
    };
    let trans_id = asked.data["transaction_id"].as_str().unwrap_or("?").to_string();
    out.line(&format!(
        "  <- Daraja sends the validation of {trans_id} -> malipo asks your app (signed) -> it answers {}",
        asked
            .answer
            .as_ref()
            .map_or_else(|| "nothing".to_string(), |a| a.to_string())
    ));
    // The simulator sends a confirmation only when the validation was accepted: give it the
    // time it would take, then look.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let confirmed = demo
        .daraja
        .sent_callbacks()
        .iter()
        .any(|c| c.url.ends_with("/c2b/confirmation") && c.body["TransID"] == trans_id.as_str());
    let recorded = demo
        .state
        .store
        .find_payment_by_provider_ref(Provider::Mpesa, &trans_id)
        .await
        .ok()
        .flatten();
    let note = validation_note(demo, &trans_id).await;
    out.line(&format!(
        "  -> Daraja was answered {}; no confirmation followed, nothing was recorded",
        note.as_deref().unwrap_or("(no note)")
    ));
    let refused = asked.verified
        && asked.answer.as_ref().is_some_and(|a| a["accept"] == false)
        && note.as_deref().is_some_and(|n| n.contains("C2B00012"));
    played.checks.push(Check::new(
        name,
        refused && !confirmed && recorded.is_none(),
        format!(
            "{}; confirmation {}; payment {}",
            note.unwrap_or_else(|| "no decision recorded".into()),
            if confirmed { "sent" } else { "never sent" },
            if recorded.is_some() {
                "recorded"
            } else {
                "not recorded"
            }
        ),
    ));
}

/// The note of the stored validation event of `trans_id`: who decided what.
async fn validation_note(demo: &DemoEnv, trans_id: &str) -> Option<String> {
    let filter = malipo_store::EventFilter {
        limit: malipo_store::EventFilter::MAX_LIMIT,
        ..Default::default()
    };
    demo.state
        .store
        .list_events(&filter)
        .await
        .ok()?
        .into_iter()
        .find(|e| e.kind == "c2b_validation" && e.dedup_key.ends_with(trans_id))
        .and_then(|e| e.last_error)
}
