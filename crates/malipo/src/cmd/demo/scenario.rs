//! The demo's story, step by step. A step that does not turn out as expected becomes a failed
//! check (with what happened instead) and the story goes on, so the summary shows everything.

use std::time::Duration;

use malipo_core::{Currency, Money, Msisdn, PaymentId, PaymentState, Provider, Secret};
use malipo_gateway::payments::{start_paystack_checkout, start_stk_push, CheckoutStart, StkPushStart};
use malipo_gateway::{Endpoint, Outcome};
use malipo_guard::CallbackTokens;
use malipo_mpesa::{stk_result_meaning, C2bSimulateRequest, RegisterUrlsRequest, StkQueryOutcome};
use malipo_store::{EventFilter, PaymentRecord};
use tokio::time::{sleep, Instant};

use super::env::{DemoEnv, STRANGER};
use super::report::{Check, Printer};

/// Longest wait for any one thing the simulators or the worker do in the background.
const WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

/// What the story produced.
pub struct Played {
    /// Every expected outcome and whether it happened.
    pub checks: Vec<Check>,
    /// The payments started, in order.
    pub payments: Vec<PaymentId>,
}

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
        story: "paid, but Daraja never calls back",
        expect: PaymentState::Pending,
    },
];

/// Plays the whole story.
pub async fn play(demo: &DemoEnv, out: &Printer) -> Played {
    let mut played = Played {
        checks: Vec::new(),
        payments: Vec::new(),
    };
    let silent = mpesa(demo, out, &mut played).await;
    paybill(demo, out, &mut played).await;
    paystack(demo, out, &mut played).await;
    forgeries(demo, out, &mut played, silent.as_ref()).await;
    let stats = demo.state.store.stats().await;
    played.checks.push(match stats {
        Ok(s) => {
            let total: u64 = s.events.iter().map(|(_, n)| n).sum();
            let processed = s.events_in(malipo_core::EventStatus::Processed);
            Check::new(
                "every stored event was processed by the worker",
                total > 0 && processed == total,
                format!("{processed} of {total} processed"),
            )
        }
        Err(e) => Check::new(
            "every stored event was processed by the worker",
            false,
            e.to_string(),
        ),
    });
    played
}

/// The STK pushes; returns the payment that never gets a callback (the forgeries target it).
async fn mpesa(demo: &DemoEnv, out: &Printer, played: &mut Played) -> Option<PaymentRecord> {
    out.section("M-Pesa: four STK pushes (the Daraja simulator chooses each ending by the amount)");
    out.line("  sent: payment, amount, phone, Daraja's CheckoutRequestID, what the customer will do");
    let mut started: Vec<(&Push, PaymentRecord)> = Vec::new();
    for push in &PUSHES {
        let name = format!("KES {} STK push: {}", push.shillings, push.story);
        let result = async {
            let phone: Msisdn = push.phone.parse()?;
            let amount = Money::from_major(push.shillings, Currency::Kes)?;
            let mut start = StkPushStart::new(phone, amount, "DEMO-1042", "Demo order");
            start.merchant_reference = Some(format!("order-{}", push.shillings));
            Ok::<_, anyhow::Error>(
                start_stk_push(&demo.state, &demo.mpesa_client, &demo.public_base_url, start).await?,
            )
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

/// The payment whose callback never comes: it stays pending, and Daraja's STK query (the
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
    let state = demo
        .state
        .store
        .get_payment(payment.id)
        .await
        .ok()
        .flatten()
        .map(|p| p.state);
    out.line(&format!(
        "  ?? {} no callback; an STK query (the reconciler's job) says {answer}: pending until reconciled",
        payment.id
    ));
    match state {
        Some(PaymentState::Pending) => Ok(format!("pending; STK query says {answer}")),
        other => Err(format!("expected pending, found {other:?}")),
    }
}

/// A customer pays the paybill from the phone's menu (C2B): no push, malipo learns of the
/// payment from Daraja's validation and confirmation and records it.
async fn paybill(demo: &DemoEnv, out: &Printer, played: &mut Played) {
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

/// The Paystack checkout, paid, its webhook, and a redelivery of it.
async fn paystack(demo: &DemoEnv, out: &Printer, played: &mut Played) {
    out.section("Paystack: a checkout, paid by card, and its webhook delivered twice");
    let name = "Paystack checkout: paid, webhook verified, payment succeeded";
    let amount = Money::from_major(2_500, Currency::Kes);
    let start = match amount {
        Ok(amount) => CheckoutStart {
            metadata: Some(serde_json::json!({ "order": "A-1042" })),
            ..CheckoutStart::new("wanjiru@example.com", amount)
        },
        Err(e) => return played.checks.push(Check::new(name, false, e.to_string())),
    };
    let started = match start_paystack_checkout(&demo.state, &demo.paystack_client, start).await {
        Ok(s) => s,
        Err(e) => {
            out.line(&format!("  !! checkout not started: {:#}", anyhow::Error::new(e)));
            return played
                .checks
                .push(Check::new(name, false, "checkout not started".into()));
        }
    };
    let payment = started.payment;
    played.payments.push(payment.id);
    let reference = payment.provider_reference.clone().unwrap_or_default();
    out.line(&format!(
        "  -> {}  {:<12} {}  checkout page {}",
        payment.id,
        payment.amount.to_string(),
        email_of(&payment),
        started.authorization_url
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

/// Three forgeries against the gateway, each of which must be refused with nothing stored.
async fn forgeries(demo: &DemoEnv, out: &Printer, played: &mut Played, target: Option<&PaymentRecord>) {
    out.section("Forgeries: each must be refused, with nothing stored");
    let before = events(demo).await;

    // 1. A real webhook with the amount lowered, under its original signature.
    let tampered = demo
        .paystack
        .deliveries()
        .into_iter()
        .find(|d| d.delivered)
        .and_then(|d| {
            let mut body: serde_json::Value = serde_json::from_str(&d.body).ok()?;
            body["data"]["amount"] = 100.into();
            Some((body.to_string(), d.signature))
        });
    let result = match tampered {
        Some((body, signature)) => {
            post(
                demo,
                "webhooks/paystack",
                body,
                &[("x-paystack-signature", signature.as_str())],
            )
            .await
        }
        None => Err("no delivered webhook to tamper with".into()),
    };
    report_forgery(
        out,
        played,
        "Paystack webhook with the amount changed to KES 1.00, original signature",
        401,
        result,
    );

    let Some(target) = target else {
        played.checks.push(Check::new(
            "forged M-Pesa callbacks",
            false,
            "no pending payment to target".into(),
        ));
        return;
    };
    let forged = forged_paid_callback(target);

    // 2. A "paid" callback for the pending payment, with a token made without the server key.
    let guessed = CallbackTokens::new(Secret::new(rand::random::<[u8; 32]>().to_vec())).issue(target.id);
    let result = post(
        demo,
        &format!("callbacks/mpesa/stk/{guessed}"),
        forged.clone(),
        &[],
    )
    .await;
    report_forgery(
        out,
        played,
        "\"paid\" STK callback with a token forged without the server key",
        404,
        result,
    );

    // 3. The same "paid" callback at the payment's real callback URL, from a stranger.
    let result = match &demo.state.callback_tokens {
        Some(tokens) => {
            let path = format!("callbacks/mpesa/stk/{}", tokens.issue(target.id));
            post(demo, &path, forged, &[("x-forwarded-for", STRANGER)]).await
        }
        None => Err("the gateway has no callback tokens".into()),
    };
    let story = format!("\"paid\" STK callback at the real callback URL, relayed for {STRANGER}");
    report_forgery(out, played, &story, 403, result);

    let after = events(demo).await;
    let still = demo
        .state
        .store
        .get_payment(target.id)
        .await
        .ok()
        .flatten()
        .map(|p| p.state);
    played.checks.push(Check::new(
        "forgeries left nothing behind",
        before == after && still == Some(PaymentState::Pending),
        format!(
            "events {before} before, {after} after; {} is {}",
            target.id,
            still.map_or("missing".into(), |s| s.to_string())
        ),
    ));
}

fn report_forgery(
    out: &Printer,
    played: &mut Played,
    story: &str,
    expected: u16,
    result: Result<(u16, String), String>,
) {
    match &result {
        Ok((status, code)) => out.line(&format!("  x  {story} -> HTTP {status} {code}")),
        Err(e) => out.line(&format!("  !! {story}: {e}")),
    }
    let ok = matches!(&result, Ok((status, _)) if *status == expected);
    let detail = match result {
        Ok((status, code)) => format!("HTTP {status} {code}"),
        Err(e) => e,
    };
    played.checks.push(Check::new(
        &format!("refused: {story} (HTTP {expected})"),
        ok,
        detail,
    ));
}

/// An STK callback claiming the payment was made, in Daraja's shape.
fn forged_paid_callback(payment: &PaymentRecord) -> String {
    serde_json::json!({ "Body": { "stkCallback": {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": payment.provider_reference.as_deref().unwrap_or("ws_CO_0"),
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": { "Item": [
            { "Name": "Amount", "Value": payment.amount.whole_major().unwrap_or(1) },
            { "Name": "MpesaReceiptNumber", "Value": "FORGED0001" },
            { "Name": "PhoneNumber", "Value": payment.msisdn.as_ref().map_or(0, Msisdn::as_u64) },
        ]},
    }}})
    .to_string()
}

/// POSTs JSON to the gateway; the status and the refusal's machine `code`.
async fn post(
    demo: &DemoEnv,
    path: &str,
    body: String,
    headers: &[(&str, &str)],
) -> Result<(u16, String), String> {
    let url = demo.gateway_url.join(path).map_err(|e| e.to_string())?;
    let mut request = demo
        .http
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let json: serde_json::Value = response.json().await.unwrap_or_default();
    Ok((status, json["code"].as_str().unwrap_or_default().to_string()))
}

/// Waits (bounded) until the payment reaches `state`.
async fn settle(demo: &DemoEnv, id: PaymentId, state: PaymentState) -> Option<PaymentRecord> {
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

async fn events(demo: &DemoEnv) -> usize {
    let filter = EventFilter {
        limit: EventFilter::MAX_LIMIT,
        ..EventFilter::default()
    };
    demo.state.store.list_events(&filter).await.map_or(0, |e| e.len())
}

async fn wait_until<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    wait_until_async(|| std::future::ready(probe())).await
}

async fn wait_until_async<T, F: std::future::Future<Output = Option<T>>>(
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

fn last_status(d: &malipo_sim::paystack::Delivery) -> String {
    d.attempts
        .last()
        .and_then(|a| a.status)
        .map_or_else(|| "none".to_string(), |s| s.to_string())
}

/// The provider's words on how a payment ended.
pub fn outcome_text(p: &PaymentRecord) -> String {
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
    match p.email.as_deref().and_then(|e| e.split_once('@')) {
        Some((user, domain)) => {
            let first: String = user.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "-".to_string(),
    }
}
