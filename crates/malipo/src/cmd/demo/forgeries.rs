//! The forgeries: a tampered webhook, a forged callback token, a stranger at a real callback URL.

use malipo_core::{Msisdn, PaymentState, Secret};
use malipo_guard::CallbackTokens;
use malipo_store::{PaymentRecord, SettledBy};

use super::env::{DemoEnv, STRANGER};
use super::report::{Check, Printer};
use super::scenario::{events, Played};

/// Three forgeries against the gateway, each of which must be refused with nothing stored.
pub async fn play(demo: &DemoEnv, out: &Printer, played: &mut Played, target: Option<&PaymentRecord>) {
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
    let guessed = CallbackTokens::new(Secret::new(rand::random::<[u8; 32]>().to_vec()))
        .issue_for(malipo_guard::CallbackRoute::Stk, target.id);
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
            let path = format!(
                "callbacks/mpesa/stk/{}",
                tokens.issue_for(malipo_guard::CallbackRoute::Stk, target.id)
            );
            post(demo, &path, forged, &[("x-forwarded-for", STRANGER)]).await
        }
        None => Err("the gateway has no callback tokens".into()),
    };
    let story = format!("\"paid\" STK callback at the real callback URL, relayed for {STRANGER}");
    report_forgery(out, played, &story, 403, result);

    let after = events(demo).await;
    let still = demo.state.store.get_payment(target.id).await.ok().flatten();
    // The reconciler may settle the payment meanwhile, by Daraja's own answer; no forged
    // callback may.
    let untouched = still
        .as_ref()
        .is_some_and(|p| p.state == PaymentState::Pending || p.settled_by == Some(SettledBy::Query));
    played.checks.push(Check::new(
        "forgeries left nothing behind",
        before == after && untouched,
        format!(
            "events {before} before, {after} after; {} is {}",
            target.id,
            still.map_or("missing".into(), |p| p.state.to_string())
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
