//! Signs and delivers webhooks the way Paystack does: `X-Paystack-Signature` = hex
//! HMAC-SHA512 of the raw body keyed with the secret key; a non-2xx answer or a network error is
//! retried after an interval. Computed here independently of `malipo-paystack`, so the client's
//! verification is tested against a second implementation.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha512;

use super::Shared;

/// One attempt to deliver a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Attempt {
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why there was no answer (connection refused, timeout).
    pub error: Option<String>,
}

/// A webhook the simulator sent (or recorded, when no URL is configured).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Delivery {
    /// Position in the delivery log, from 0.
    pub id: usize,
    /// The event name, such as `charge.success`.
    pub event: String,
    /// The exact body sent.
    pub body: String,
    /// The `X-Paystack-Signature` sent.
    pub signature: String,
    /// Attempts so far.
    pub attempts: Vec<Attempt>,
    /// Whether an attempt got a 2xx answer.
    pub delivered: bool,
    /// Set when this is a deliberate duplicate of an earlier delivery.
    pub duplicate_of: Option<usize>,
}

pub(crate) fn sign(body: &[u8], key: &str) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; the fallback keeps this
    // function total anyway.
    match Hmac::<Sha512>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Records a webhook and starts delivering it in the background.
pub(crate) fn enqueue(
    shared: &Arc<Shared>,
    event: &str,
    data: serde_json::Value,
    duplicate_of: Option<usize>,
) -> usize {
    let body = serde_json::json!({ "event": event, "data": data }).to_string();
    let signature = sign(body.as_bytes(), shared.config.secret_key.expose());
    record_and_send(shared, event.to_string(), body, signature, duplicate_of)
}

/// Sends an earlier delivery's exact bytes again, as a new delivery.
pub(crate) fn duplicate(shared: &Arc<Shared>, id: usize) -> Option<usize> {
    let original = shared.lock().deliveries.get(id).cloned()?;
    Some(record_and_send(
        shared,
        original.event,
        original.body,
        original.signature,
        Some(id),
    ))
}

fn record_and_send(
    shared: &Arc<Shared>,
    event: String,
    body: String,
    signature: String,
    duplicate_of: Option<usize>,
) -> usize {
    let id = {
        let mut state = shared.lock();
        let id = state.deliveries.len();
        state.deliveries.push(Delivery {
            id,
            event,
            body,
            signature,
            attempts: Vec::new(),
            delivered: false,
            duplicate_of,
        });
        id
    };
    shared.changed();
    if shared.config.webhook_url.is_some() {
        tokio::spawn(deliver(Arc::clone(shared), id));
    }
    id
}

async fn deliver(shared: Arc<Shared>, id: usize) {
    let Some(url) = shared.config.webhook_url.clone() else {
        return;
    };
    let Some((body, signature)) = shared
        .lock()
        .deliveries
        .get(id)
        .map(|d| (d.body.clone(), d.signature.clone()))
    else {
        return;
    };
    for attempt in 1..=shared.config.max_attempts {
        let result = shared
            .http
            .post(url.clone())
            .header("content-type", "application/json")
            .header("x-paystack-signature", &signature)
            .body(body.clone())
            .send()
            .await;
        let (record, ok) = match result {
            Ok(response) => {
                let status = response.status();
                (
                    Attempt {
                        status: Some(status.as_u16()),
                        error: None,
                    },
                    status.is_success(),
                )
            }
            Err(e) => (
                Attempt {
                    status: None,
                    error: Some(e.to_string()),
                },
                false,
            ),
        };
        tracing::debug!(delivery = id, attempt, ok, "paystack sim webhook attempt");
        if let Some(d) = shared.lock().deliveries.get_mut(id) {
            d.attempts.push(record);
            d.delivered = ok;
        }
        shared.changed();
        if ok {
            return;
        }
        if attempt < shared.config.max_attempts {
            tokio::time::sleep(shared.config.retry_interval).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_openssl() {
        // printf '%s' '{"event":"charge.success","data":{"id":1}}' |
        //   openssl dgst -sha512 -hmac sk_test_obviously_fake
        assert_eq!(
            super::sign(
                br#"{"event":"charge.success","data":{"id":1}}"#,
                "sk_test_obviously_fake"
            ),
            "a8956ba71d1d1f6aecb6195cf5ca2e47a6822f6681d4493ce61a9e80b17301f30cdf6d991f85e199f582d9709eeb0b38d8e22d62476cb16e3b62f5dc6b7841fd"
        );
    }
}
