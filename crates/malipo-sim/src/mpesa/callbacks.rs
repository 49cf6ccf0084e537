//! The callbacks the simulator sends, in Daraja's shapes, and their delivery.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::pull::C2bTransaction;
use super::state::{random_from, receipt, Registration};
use super::{Outcome, SentCallback, Shared};

fn nairobi_stamp() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(3))
        .format("%Y%m%d%H%M%S")
        .to_string()
}

/// `{"Body":{"stkCallback":…}}`, with CallbackMetadata only when paid.
pub(crate) fn stk(
    merchant_id: &str,
    checkout_id: &str,
    outcome: &Outcome,
    amount: u64,
    phone: &str,
) -> Value {
    let mut callback = json!({
        "MerchantRequestID": merchant_id,
        "CheckoutRequestID": checkout_id,
        "ResultCode": outcome.result_code(),
        "ResultDesc": outcome.result_desc(),
    });
    if outcome.is_paid() {
        callback["CallbackMetadata"] = json!({"Item": [
            // Daraja sends the amount as a float (1.00) and phone and date as numbers.
            {"Name": "Amount", "Value": amount as f64},
            {"Name": "MpesaReceiptNumber", "Value": receipt()},
            {"Name": "Balance"},
            {"Name": "TransactionDate", "Value": nairobi_stamp().parse::<u64>().unwrap_or(0)},
            {"Name": "PhoneNumber", "Value": phone.parse::<u64>().unwrap_or(0)},
        ]});
    }
    json!({"Body": {"stkCallback": callback}})
}

/// `{"Result":{…}}` with ResultParameters when there are any.
pub(crate) fn result(
    originator: &str,
    conversation: &str,
    outcome: &Outcome,
    params: Vec<(&str, Value)>,
    queue: &str,
) -> Value {
    // Daraja's TransactionID is the transaction's receipt, which a B2C result repeats as its
    // TransactionReceipt parameter.
    let receipt_param = params
        .iter()
        .find(|(k, _)| *k == "TransactionReceipt")
        .and_then(|(_, v)| v.as_str().map(str::to_string));
    let transaction_id = match (outcome.is_paid(), receipt_param) {
        (true, Some(r)) => r,
        (true, None) => receipt(),
        (false, _) => "SKL0000000".to_string(),
    };
    let mut result = json!({
        "ResultType": 0,
        "ResultCode": outcome.result_code(),
        "ResultDesc": outcome.result_desc(),
        "OriginatorConversationID": originator,
        "ConversationID": conversation,
        "TransactionID": transaction_id,
        "ReferenceData": {"ReferenceItem": {
            "Key": "QueueTimeoutURL",
            "Value": format!("https://internalsandbox.safaricom.co.ke/mpesa/{queue}/v1/submit"),
        }},
    });
    if !params.is_empty() {
        let list: Vec<Value> = params
            .into_iter()
            .map(|(k, v)| {
                if v.is_null() {
                    json!({"Key": k})
                } else {
                    json!({"Key": k, "Value": v})
                }
            })
            .collect();
        result["ResultParameters"] = json!({"ResultParameter": list});
    }
    json!({"Result": result})
}

/// The queue timeout notification.
pub(crate) fn queue_timeout(originator: &str, conversation: &str) -> Value {
    json!({"Result": {
        "ResultType": 1,
        "ResultCode": 1,
        "ResultDesc": "The request timed out in the queue.",
        "OriginatorConversationID": originator,
        "ConversationID": conversation,
    }})
}

/// A simulated customer payment to a registered shortcode.
pub(crate) struct C2bPayment {
    pub command: String,
    pub amount: u64,
    pub msisdn: String,
    pub bill_ref: String,
    pub shortcode: String,
}

fn c2b_body(p: &C2bPayment, trans_id: &str, masked: bool, confirmation: bool) -> Value {
    let msisdn = if masked {
        format!("{} ***** {}", &p.msisdn[..4], &p.msisdn[9..])
    } else {
        p.msisdn.clone()
    };
    json!({
        "TransactionType": if p.command == "CustomerBuyGoodsOnline" { "Buy Goods" } else { "Pay Bill" },
        "TransID": trans_id,
        "TransTime": nairobi_stamp(),
        "TransAmount": format!("{}.00", p.amount),
        "BusinessShortCode": p.shortcode,
        "BillRefNumber": p.bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": if confirmation { "49197.00" } else { "" },
        "ThirdPartyTransID": "",
        "MSISDN": msisdn,
        "FirstName": "John",
        "MiddleName": "",
        "LastName": "Doe",
    })
}

/// POSTs `body` to `url` and records the attempt; returns the receiver's answer.
async fn post(shared: &Shared, url: &str, body: Value) -> Option<(u16, Value)> {
    let answer = shared.http.post(url).json(&body).send().await;
    let (status, reply) = match answer {
        Ok(r) => {
            let status = r.status().as_u16();
            let reply = r.json::<Value>().await.unwrap_or(Value::Null);
            (Some(status), reply)
        }
        Err(e) => {
            tracing::warn!(url, error = %e, "the simulated callback could not be delivered");
            (None, Value::Null)
        }
    };
    shared.lock().sent.push(SentCallback {
        url: url.to_string(),
        body,
        status,
    });
    status.map(|s| (s, reply))
}

/// Sends `body` to `url` after `delay`, once (Daraja does not retry reliably).
pub(crate) fn deliver_later(shared: Arc<Shared>, delay: Duration, url: String, body: Value) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        post(&shared, &url, body).await;
    });
}

/// Sends a confirmation now and marks its payment's confirmation as sent.
pub(crate) async fn post_confirmation(shared: &Shared, url: &str, body: Value) {
    let trans_id = body["TransID"].as_str().unwrap_or_default().to_string();
    post(shared, url, body).await;
    let mut state = shared.lock();
    if let Some(t) = state.c2b_transactions.iter_mut().find(|t| t.trans_id == trans_id) {
        t.confirmation_sent = true;
    }
}

/// Validation (when a validation URL is registered), then, unless refused, the payment
/// completes (the pull lists it) and its confirmation is sent, or kept back while
/// confirmations are dropped.
pub(crate) fn c2b_later(shared: Arc<Shared>, registration: Option<Registration>, payment: C2bPayment) {
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.callback_delay).await;
        let trans_id = format!("S{}", random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 9));
        let mut proceed = true;
        if let Some(registration) = registration.as_ref().filter(|r| !r.validation_url.is_empty()) {
            let body = c2b_body(&payment, &trans_id, false, false);
            proceed = match post(&shared, &registration.validation_url, body).await {
                Some((200, reply)) => {
                    let code = &reply["ResultCode"];
                    code == "0" || code == 0
                }
                // No usable answer: Daraja applies the registered default.
                _ => !registration.cancel_by_default,
            };
        }
        if !proceed {
            return;
        }
        let drop = {
            let mut state = shared.lock();
            state.c2b_transactions.push(C2bTransaction {
                shortcode: payment.shortcode.clone(),
                trans_id: trans_id.clone(),
                at: chrono::Utc::now(),
                amount: payment.amount,
                msisdn: payment.msisdn.clone(),
                bill_ref: payment.bill_ref.clone(),
                buy_goods: payment.command == "CustomerBuyGoodsOnline",
                confirmation_sent: false,
            });
            state.drop_confirmations
        };
        // A paybill opted in to Bill Manager also gets the payment pushed to its callback URL.
        if let Some((url, body)) = super::bill_manager::payment_push(
            &shared,
            &payment.shortcode,
            &trans_id,
            payment.amount,
            &payment.msisdn,
            &payment.bill_ref,
        ) {
            post(&shared, &url, body).await;
        }
        let Some(registration) = registration else {
            return;
        };
        let body = c2b_body(&payment, &trans_id, registration.masked_msisdn, true);
        if drop {
            tracing::info!(trans_id, "simulated C2B confirmation dropped");
            shared.lock().dropped.push((registration.confirmation_url, body));
        } else {
            post_confirmation(&shared, &registration.confirmation_url, body).await;
        }
    });
}
