//! The sender: one lane per endpoint, each claiming its due deliveries and POSTing them signed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use malipo_store::{DeliveryRecord, DeliveryStore, EndpointId, EndpointRecord, Store};
use malipo_webhooks::{Signer, WebhookSecret};
use reqwest::Url;
use tokio::sync::{watch, Semaphore};

use super::target::{check_url, CheckedResolver, TargetPolicy};
use super::{DeliverySettings, MAX_RESPONSE_BYTES};
use crate::AppState;

/// Sends deliveries until `shutdown` turns true: a lane per endpoint, started as endpoints
/// appear. Returns once every lane finished its in-flight attempts.
pub async fn run(
    state: AppState,
    settings: DeliverySettings,
    name: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let clients = match Clients::new(&settings) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tracing::error!(error = %e, "the delivery sender cannot build its HTTP client; nothing will be delivered");
            return;
        }
    };
    let settings = Arc::new(settings);
    let mut lanes: HashMap<EndpointId, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        match state.store.list_endpoints().await {
            Ok(endpoints) => {
                for e in endpoints {
                    lanes.entry(e.id).or_insert_with(|| {
                        let lane = Lane {
                            store: state.store.clone(),
                            settings: settings.clone(),
                            clients: clients.clone(),
                            endpoint: e.id,
                            worker: format!("{name}/{}", e.id),
                        };
                        tokio::spawn(Arc::new(lane).run(shutdown.clone()))
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "the delivery sender cannot list endpoints; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.poll_interval.max(Duration::from_millis(10)) * 4) => {}
            _ = shutdown.changed() => {}
        }
    }
    for (_, lane) in lanes {
        let _ = lane.await;
    }
}

/// Two clients: one whose resolver drops internal addresses, one that connects anywhere (for
/// endpoints allowed to be private). Neither follows redirects nor uses a proxy.
struct Clients {
    checked: reqwest::Client,
    open: reqwest::Client,
}

impl Clients {
    fn new(settings: &DeliverySettings) -> Result<Self, reqwest::Error> {
        Ok(Clients {
            checked: outbound_client(settings.timeout, true)?,
            open: outbound_client(settings.timeout, false)?,
        })
    }
}

/// An HTTP client for requests to the merchant's app (deliveries, validation questions): no
/// redirects followed, no proxy from the environment, every request bounded by `timeout`, and,
/// when `checked`, only public addresses connected to (see [`CheckedResolver`]).
pub(crate) fn outbound_client(timeout: Duration, checked: bool) -> Result<reqwest::Client, reqwest::Error> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!(
            "malipo/",
            env!("CARGO_PKG_VERSION"),
            " (Standard Webhooks)"
        ));
    let builder = if checked {
        builder.dns_resolver(Arc::new(CheckedResolver))
    } else {
        builder
    };
    builder.build()
}

struct Lane {
    store: Arc<dyn Store>,
    settings: Arc<DeliverySettings>,
    clients: Arc<Clients>,
    endpoint: EndpointId,
    worker: String,
}

impl Lane {
    /// Claims as many due deliveries as there are free slots and sends each in its own task, so
    /// a slow attempt holds one slot, not the lane; returns after the in-flight ones finished.
    async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let limit = self.settings.per_endpoint_concurrency.clamp(1, 1024);
        let slots = Arc::new(Semaphore::new(limit));
        loop {
            if *shutdown.borrow() {
                break;
            }
            let first = tokio::select! {
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                _ = shutdown.changed() => continue,
            };
            let mut held = vec![first];
            while let Ok(slot) = slots.clone().try_acquire_owned() {
                held.push(slot);
            }
            match self.claim(held.len()).await {
                Some((endpoint, batch)) if !batch.is_empty() => {
                    let endpoint = Arc::new(endpoint);
                    for (d, slot) in batch.into_iter().zip(held.drain(..)) {
                        let lane = self.clone();
                        let endpoint = endpoint.clone();
                        tokio::spawn(async move {
                            lane.attempt(endpoint, d).await;
                            drop(slot);
                        });
                    }
                }
                _ => {
                    drop(held);
                    tokio::select! {
                        _ = tokio::time::sleep(self.settings.poll_interval) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
        // Every slot back means every attempt in flight was recorded.
        let _ = slots.acquire_many(u32::try_from(limit).unwrap_or(u32::MAX)).await;
    }

    /// Up to `n` due deliveries of this endpoint, with the endpoint as it is now (its secrets
    /// after a rotation); `None` when there are none or the store failed.
    async fn claim(&self, n: usize) -> Option<(EndpointRecord, Vec<DeliveryRecord>)> {
        let lease = self.settings.timeout + Duration::from_secs(30);
        claim_batch(&*self.store, self.endpoint, &self.worker, n, lease).await
    }

    /// One attempt, recorded: delivered, to retry, or dead.
    async fn attempt(&self, endpoint: Arc<EndpointRecord>, d: DeliveryRecord) {
        let result = send(&self.clients, &self.settings, &endpoint, &d).await;
        let recorded = match result {
            Ok(status) => {
                tracing::debug!(delivery = %d.id, endpoint = %endpoint.id, status, attempts = d.attempts, "delivered");
                self.store.complete_delivery(d.id, status).await.map(|_| ())
            }
            Err(failure) => {
                let next = self.settings.next_delay(d.attempts).map(|delay| {
                    let delay = retry_after_clamped(delay, failure.retry_after);
                    Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
                });
                tracing::warn!(
                    delivery = %d.id,
                    endpoint = %endpoint.id,
                    status = failure.status,
                    error = %failure.error,
                    attempts = d.attempts,
                    dead = next.is_none(),
                    "delivery attempt failed"
                );
                self.store
                    .fail_delivery(d.id, failure.status, &failure.error, next)
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = recorded {
            // The lease runs out and the delivery is attempted again: at least once.
            tracing::error!(delivery = %d.id, error = %e, "cannot record a delivery attempt");
        }
    }
}

/// Claims up to `n` due deliveries of `endpoint` and reads the endpoint after the claim, so
/// that a delivery queued after a secret rotation is signed with the new secret too: read
/// before the claim, the endpoint could predate a rotation committed before the delivery was
/// queued. The claim itself skips a disabled endpoint. `None` when nothing is due or the store
/// failed (claimed deliveries are then attempted again when their lease ends).
async fn claim_batch<S: DeliveryStore + ?Sized>(
    store: &S,
    endpoint: EndpointId,
    worker: &str,
    n: usize,
    lease: Duration,
) -> Option<(EndpointRecord, Vec<DeliveryRecord>)> {
    let batch = match store.claim_endpoint_deliveries(endpoint, worker, n, lease).await {
        Ok(batch) if batch.is_empty() => return None,
        Ok(batch) => batch,
        Err(e) => {
            tracing::warn!(%endpoint, error = %e, "cannot claim deliveries; retrying");
            return None;
        }
    };
    match store.get_endpoint(&endpoint.to_string()).await {
        Ok(Some(record)) => Some((record, batch)),
        Ok(None) => {
            tracing::warn!(%endpoint, "the endpoint is gone; its claimed deliveries wait");
            None
        }
        Err(e) => {
            tracing::warn!(%endpoint, error = %e, "cannot read the endpoint; its claimed deliveries are retried after their lease");
            None
        }
    }
}

/// Why an attempt did not deliver.
#[derive(Debug)]
struct Failure {
    status: Option<u16>,
    error: String,
    /// The endpoint's `Retry-After`, in seconds.
    retry_after: Option<Duration>,
}

impl Failure {
    fn new(error: impl Into<String>) -> Self {
        Failure {
            status: None,
            error: error.into(),
            retry_after: None,
        }
    }
}

/// Signs and POSTs one delivery; `Ok` with the 2xx status it got.
async fn send(
    clients: &Clients,
    settings: &DeliverySettings,
    endpoint: &EndpointRecord,
    d: &DeliveryRecord,
) -> Result<u16, Failure> {
    let url =
        Url::parse(&endpoint.url).map_err(|e| Failure::new(format!("the endpoint URL is not valid: {e}")))?;
    let policy = TargetPolicy {
        require_https: settings.policy.require_https,
        allow_private: settings.policy.allow_private || endpoint.allow_private,
    };
    check_url(&url, policy).map_err(|e| Failure::new(e.to_string()))?;
    let secrets = endpoint
        .signing_secrets(Utc::now())
        .into_iter()
        .map(|s| s.expose().parse::<WebhookSecret>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::new(format!("the endpoint's signing secret cannot be used: {e}")))?;
    let signed = Signer::with_secrets(secrets).sign_now(&d.id.to_string(), &d.payload);
    let client = if policy.allow_private {
        &clients.open
    } else {
        &clients.checked
    };
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (name, value) in signed.iter() {
        request = request.header(name, value);
    }
    let mut response = request
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| Failure::new(describe(&e, settings.timeout)))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // Read (a bounded part of) the body so the connection can be reused; its content is unused.
    let mut read = 0usize;
    while read < MAX_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) => break,
            Err(e) if status.is_success() => {
                tracing::debug!(delivery = %d.id, error = %e, "reading a 2xx response's body failed");
                break;
            }
            Err(_) => break,
        }
    }
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let error = if status.is_redirection() {
        format!("refused: the endpoint answered {status} (a redirect), which is not followed; update the endpoint's URL")
    } else {
        format!("the endpoint answered {status}")
    };
    Err(Failure {
        status: Some(status.as_u16()),
        error,
        retry_after,
    })
}

/// An error's text with its causes, which hold the useful part (the resolver's refusal, the
/// connection's "refused").
pub(crate) fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} ms", timeout.as_millis());
    }
    let mut text = if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let piece = cause.to_string();
        if !text.contains(&piece) {
            text.push_str(": ");
            text.push_str(&piece);
        }
        source = cause.source();
    }
    if let Some(at) = text.find("refused: ") {
        // The resolver's refusal reads better on its own.
        return text[at..].to_string();
    }
    text
}

/// The longest wait an endpoint's `Retry-After` can impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The wait before the next attempt: the schedule's, or longer when the endpoint asked for it
/// with `Retry-After` (a 429 or 503), but never more than an hour: an endpoint cannot park its
/// deliveries for days, nor make them come sooner than the schedule.
fn retry_after_clamped(scheduled: Duration, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        Some(asked) => scheduled.max(asked.min(MAX_RETRY_AFTER)),
        None => scheduled,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::DateTime;
    use malipo_core::{DeliveryId, Secret};
    use malipo_store::{DeliveryFilter, DeliveryStatus, NewDelivery, StoreError};

    use super::*;

    /// One endpoint and one due delivery. Its claim commits a secret rotation first, as an
    /// operator's rotation can land between a lane's look at the endpoint and its claim.
    struct RotatedWhileClaiming {
        endpoint: Mutex<EndpointRecord>,
    }

    fn secret(s: &str) -> Secret<String> {
        Secret::new(s.to_string())
    }

    impl RotatedWhileClaiming {
        fn new() -> Self {
            let now = Utc::now();
            RotatedWhileClaiming {
                endpoint: Mutex::new(EndpointRecord {
                    id: EndpointId::new(),
                    name: "shop".into(),
                    url: "https://shop.example/hook".into(),
                    secret: secret("whsec_old"),
                    previous_secret: None,
                    previous_secret_until: None,
                    event_types: Vec::new(),
                    enabled: true,
                    allow_private: false,
                    created_at: now,
                    updated_at: now,
                }),
            }
        }
    }

    #[async_trait::async_trait]
    impl DeliveryStore for RotatedWhileClaiming {
        async fn get_endpoint(&self, _: &str) -> Result<Option<EndpointRecord>, StoreError> {
            Ok(Some(self.endpoint.lock().unwrap().clone()))
        }
        async fn claim_endpoint_deliveries(
            &self,
            endpoint: EndpointId,
            _: &str,
            _: usize,
            _: Duration,
        ) -> Result<Vec<DeliveryRecord>, StoreError> {
            let mut e = self.endpoint.lock().unwrap();
            e.previous_secret = Some(std::mem::replace(&mut e.secret, secret("whsec_new")));
            e.previous_secret_until = Some(Utc::now() + chrono::Duration::hours(24));
            let now = Utc::now();
            Ok(vec![DeliveryRecord {
                id: DeliveryId::new(),
                event_type: "payment.succeeded".into(),
                payload: "{}".into(),
                payment_id: None,
                event_id: None,
                status: DeliveryStatus::Pending,
                attempts: 1,
                next_attempt_at: now,
                last_status: None,
                last_error: None,
                created_at: now,
                updated_at: now,
                endpoint_id: Some(endpoint),
            }])
        }
        async fn enqueue_delivery(&self, _: NewDelivery) -> Result<DeliveryId, StoreError> {
            unreachable!("the claim does not queue")
        }
        async fn claim_deliveries(
            &self,
            _: &str,
            _: usize,
            _: Duration,
        ) -> Result<Vec<DeliveryRecord>, StoreError> {
            unreachable!("a lane claims its endpoint's deliveries")
        }
        async fn complete_delivery(&self, _: DeliveryId, _: u16) -> Result<(), StoreError> {
            unreachable!("the claim does not complete")
        }
        async fn fail_delivery(
            &self,
            _: DeliveryId,
            _: Option<u16>,
            _: &str,
            _: Option<DateTime<Utc>>,
        ) -> Result<DeliveryStatus, StoreError> {
            unreachable!("the claim does not fail")
        }
        async fn redeliver(&self, _: DeliveryId) -> Result<(), StoreError> {
            unreachable!("the claim does not redeliver")
        }
        async fn get_delivery(&self, _: DeliveryId) -> Result<Option<DeliveryRecord>, StoreError> {
            unreachable!("the claim reads no delivery")
        }
        async fn list_deliveries(&self, _: &DeliveryFilter) -> Result<Vec<DeliveryRecord>, StoreError> {
            unreachable!("the claim lists no deliveries")
        }
    }

    #[tokio::test]
    async fn a_claimed_batch_is_signed_with_the_endpoint_as_it_is_after_the_claim() {
        let store = RotatedWhileClaiming::new();
        let id = store.endpoint.lock().unwrap().id;
        let (endpoint, batch) = claim_batch(&store, id, "sender-1", 8, Duration::from_secs(40))
            .await
            .expect("one delivery is due");
        assert_eq!(batch.len(), 1);
        let signing: Vec<&str> = endpoint
            .signing_secrets(Utc::now())
            .into_iter()
            .map(|s| s.expose().as_str())
            .collect();
        assert_eq!(signing, ["whsec_new", "whsec_old"]);
    }

    #[test]
    fn retry_after_lengthens_the_wait_within_an_hour() {
        let s = Duration::from_secs;
        assert_eq!(retry_after_clamped(s(5), None), s(5));
        assert_eq!(retry_after_clamped(s(5), Some(s(120))), s(120));
        assert_eq!(retry_after_clamped(s(300), Some(s(1))), s(300));
        assert_eq!(retry_after_clamped(s(5), Some(s(86_400))), s(3600));
    }
}
