//! What operators and the merchant API do with endpoints and deliveries: plain functions over
//! [`AppState`] (for the merchant API's handlers) or a bare store (for the CLI).

use std::time::Duration;

use chrono::{DateTime, Utc};
use malipo_core::{DeliveryId, EventId, PaymentId, Secret};
use malipo_store::{
    DeliveryFilter, DeliveryRecord, DeliveryStatus, DeliveryStore, EndpointId, EndpointRecord, NewEndpoint,
    StoreError,
};
use malipo_webhooks::WebhookSecret;
use serde::Serialize;

use super::DEFAULT_ROTATION_OVERLAP;
use crate::{AppState, GatewayError};

/// The name of the endpoint `[merchant]` configures.
pub const CONFIG_ENDPOINT_NAME: &str = "merchant";

/// Why an endpoint or delivery operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A field of the request is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault (`url`, `event_types`, `secret`, `name`).
        field: &'static str,
        /// What is wrong and what was expected.
        message: String,
    },
    /// No such endpoint or delivery.
    #[error("{what} {id} not found")]
    NotFound {
        /// `endpoint` or `delivery`.
        what: &'static str,
        /// The id or name asked for.
        id: String,
    },
    /// The store failed.
    #[error("the store failed")]
    Store(#[source] StoreError),
}

impl From<StoreError> for DeliveryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => DeliveryError::NotFound { what, id },
            StoreError::Invalid(message) => DeliveryError::Invalid {
                field: "request",
                message,
            },
            other => DeliveryError::Store(other),
        }
    }
}

/// An endpoint as shown to operators and the merchant API: never its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointView {
    /// Its id (`ep_…`).
    pub id: EndpointId,
    /// Its unique name.
    pub name: String,
    /// Where deliveries go.
    pub url: String,
    /// The event types it receives; empty: every payment, payout and refund event.
    pub event_types: Vec<String>,
    /// Whether deliveries are sent to it.
    pub enabled: bool,
    /// Whether its address may be internal.
    pub allow_private: bool,
    /// Until when the previous secret still signs, during a rotation.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&EndpointRecord> for EndpointView {
    fn from(e: &EndpointRecord) -> Self {
        EndpointView {
            id: e.id,
            name: e.name.clone(),
            url: e.url.clone(),
            event_types: e.event_types.clone(),
            enabled: e.enabled,
            allow_private: e.allow_private,
            previous_secret_until: e.previous_secret_until.filter(|until| *until > Utc::now()),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its (new) secret: answered once, on creation and rotation.
#[derive(Debug, Clone)]
pub struct EndpointWithSecret {
    /// The endpoint.
    pub endpoint: EndpointView,
    /// Its signing secret (`whsec_…`); show it to the operator once, it is not shown again.
    pub secret: Secret<String>,
}

/// A new endpoint.
#[derive(Debug, Clone, Default)]
pub struct CreateEndpoint {
    /// Its unique name.
    pub name: String,
    /// Where deliveries go (`https://…`).
    pub url: String,
    /// Event types it receives (`payment.succeeded`, `payout.*`); empty: every payment, payout
    /// and refund event.
    pub event_types: Vec<String>,
    /// Allow an internal address (development only).
    pub allow_private: bool,
    /// Its secret; `None` generates one.
    pub secret: Option<Secret<String>>,
}

/// A delivery as shown to operators and the merchant API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryView {
    /// Its id: the `webhook-id` of every attempt.
    pub id: DeliveryId,
    /// The endpoint it goes to.
    pub endpoint_id: Option<EndpointId>,
    /// The event type (`payment.succeeded`…).
    pub event_type: String,
    /// The payment it is about.
    pub payment_id: Option<PaymentId>,
    /// The provider event behind it.
    pub event_id: Option<EventId>,
    /// `pending`, `delivered` or `dead_letter`.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The endpoint's last HTTP status.
    pub last_status: Option<u16>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The body sent (parsed JSON), phone numbers and email addresses masked as everywhere an
    /// operator looks (the merchant's app received them in clear).
    pub payload: serde_json::Value,
}

impl From<&DeliveryRecord> for DeliveryView {
    fn from(d: &DeliveryRecord) -> Self {
        DeliveryView {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_type: d.event_type.clone(),
            payment_id: d.payment_id,
            event_id: d.event_id,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: (d.status == DeliveryStatus::Pending).then_some(d.next_attempt_at),
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
            payload: {
                let mut payload = serde_json::from_slice(&d.payload).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&d.payload).into_owned())
                });
                crate::api::mask_personal(&mut payload);
                payload
            },
        }
    }
}

fn check_new(req: &CreateEndpoint) -> Result<Secret<String>, DeliveryError> {
    malipo_store::check_endpoint_name(&req.name).map_err(|message| DeliveryError::Invalid {
        field: "name",
        message,
    })?;
    let url = reqwest::Url::parse(&req.url).map_err(|e| DeliveryError::Invalid {
        field: "url",
        message: format!("{:?} is not a URL ({e}): expected https://host/path", req.url),
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(DeliveryError::Invalid {
            field: "url",
            message: format!("{:?} is not an http(s) URL with a host", req.url),
        });
    }
    // Listings and logs show an endpoint's URL; a password in it would be shown with it. The
    // signature is what authenticates a delivery.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DeliveryError::Invalid {
            field: "url",
            message: "the URL holds a user name or password, which listings would show: verify deliveries by their signature instead".into(),
        });
    }
    // An internal IP literal can be refused now; names are checked when resolved, at send time.
    let policy = super::TargetPolicy {
        require_https: false,
        allow_private: req.allow_private,
    };
    super::check_url(&url, policy).map_err(|e| DeliveryError::Invalid {
        field: "url",
        message: e.to_string(),
    })?;
    for t in &req.event_types {
        malipo_store::check_event_type(t).map_err(|message| DeliveryError::Invalid {
            field: "event_types",
            message,
        })?;
    }
    match &req.secret {
        None => Ok(Secret::new(WebhookSecret::generate().expose_whsec())),
        Some(s) => {
            s.expose()
                .parse::<WebhookSecret>()
                .map_err(|e| DeliveryError::Invalid {
                    field: "secret",
                    message: e.to_string(),
                })?;
            if !s.expose().starts_with(malipo_webhooks::SECRET_PREFIX) {
                return Err(DeliveryError::Invalid {
                    field: "secret",
                    message: "expected \"whsec_\" followed by base64".into(),
                });
            }
            Ok(s.clone())
        }
    }
}

/// Creates an endpoint; its secret (given or generated) is in the answer, once. A name already
/// used is [`DeliveryError::Invalid`].
pub async fn create_endpoint_in<S: DeliveryStore + ?Sized>(
    store: &S,
    req: CreateEndpoint,
) -> Result<EndpointWithSecret, DeliveryError> {
    let secret = check_new(&req)?;
    if store.get_endpoint(&req.name).await?.is_some() {
        return Err(DeliveryError::Invalid {
            field: "name",
            message: format!("an endpoint named {:?} already exists", req.name),
        });
    }
    let record = store
        .upsert_endpoint(
            NewEndpoint {
                name: req.name,
                url: req.url,
                secret: secret.clone(),
                event_types: req.event_types,
                enabled: true,
                allow_private: req.allow_private,
            },
            DEFAULT_ROTATION_OVERLAP,
        )
        .await?;
    Ok(EndpointWithSecret {
        endpoint: EndpointView::from(&record),
        secret,
    })
}

/// Every endpoint, oldest first.
pub async fn list_endpoints_in<S: DeliveryStore + ?Sized>(
    store: &S,
) -> Result<Vec<EndpointView>, DeliveryError> {
    Ok(store
        .list_endpoints()
        .await?
        .iter()
        .map(EndpointView::from)
        .collect())
}

/// Enables or disables an endpoint (by id or name); its deliveries are kept either way.
pub async fn set_endpoint_enabled_in<S: DeliveryStore + ?Sized>(
    store: &S,
    id_or_name: &str,
    enabled: bool,
) -> Result<EndpointView, DeliveryError> {
    Ok(EndpointView::from(
        &store.set_endpoint_enabled(id_or_name, enabled).await?,
    ))
}

/// Gives an endpoint a new generated secret; the old one keeps signing beside it for `overlap`
/// (default 24 h). The new secret is in the answer, once.
pub async fn rotate_endpoint_secret_in<S: DeliveryStore + ?Sized>(
    store: &S,
    id_or_name: &str,
    overlap: Option<Duration>,
) -> Result<EndpointWithSecret, DeliveryError> {
    let secret = Secret::new(WebhookSecret::generate().expose_whsec());
    let record = store
        .rotate_endpoint_secret(
            id_or_name,
            secret.clone(),
            overlap.unwrap_or(DEFAULT_ROTATION_OVERLAP),
        )
        .await?;
    Ok(EndpointWithSecret {
        endpoint: EndpointView::from(&record),
        secret,
    })
}

/// Deliveries matching `filter`, newest first.
pub async fn list_deliveries_in<S: DeliveryStore + ?Sized>(
    store: &S,
    filter: &DeliveryFilter,
) -> Result<Vec<DeliveryView>, DeliveryError> {
    Ok(store
        .list_deliveries(filter)
        .await?
        .iter()
        .map(DeliveryView::from)
        .collect())
}

/// One delivery.
pub async fn get_delivery_in<S: DeliveryStore + ?Sized>(
    store: &S,
    id: DeliveryId,
) -> Result<DeliveryView, DeliveryError> {
    store
        .get_delivery(id)
        .await?
        .as_ref()
        .map(DeliveryView::from)
        .ok_or_else(|| DeliveryError::NotFound {
            what: "delivery",
            id: id.to_string(),
        })
}

/// Queues a delivered or dead-lettered delivery again, due now, its retry schedule started over
/// (same id, so receivers that saw it deduplicate).
pub async fn retry_delivery_in<S: DeliveryStore + ?Sized>(
    store: &S,
    id: DeliveryId,
) -> Result<DeliveryView, DeliveryError> {
    let current = get_delivery_in(store, id).await?;
    if current.status == DeliveryStatus::Pending {
        // Starting its schedule over would also forget the attempts it made.
        let next = current.next_attempt_at.map_or_else(
            || "soon".to_string(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        return Err(DeliveryError::Invalid {
            field: "id",
            message: format!(
                "delivery {id} is still pending ({} attempt(s), the next at {next}): it goes out by itself; retry is for delivered or dead-lettered deliveries",
                current.attempts
            ),
        });
    }
    store.redeliver(id).await?;
    get_delivery_in(store, id).await
}

/// [`create_endpoint_in`] on the gateway's store.
pub async fn create_endpoint(
    state: &AppState,
    req: CreateEndpoint,
) -> Result<EndpointWithSecret, DeliveryError> {
    create_endpoint_in(&*state.store, req).await
}

/// [`list_endpoints_in`] on the gateway's store.
pub async fn list_endpoints(state: &AppState) -> Result<Vec<EndpointView>, DeliveryError> {
    list_endpoints_in(&*state.store).await
}

/// [`set_endpoint_enabled_in`] on the gateway's store.
pub async fn set_endpoint_enabled(
    state: &AppState,
    id_or_name: &str,
    enabled: bool,
) -> Result<EndpointView, DeliveryError> {
    set_endpoint_enabled_in(&*state.store, id_or_name, enabled).await
}

/// [`rotate_endpoint_secret_in`] on the gateway's store.
pub async fn rotate_endpoint_secret(
    state: &AppState,
    id_or_name: &str,
    overlap: Option<Duration>,
) -> Result<EndpointWithSecret, DeliveryError> {
    rotate_endpoint_secret_in(&*state.store, id_or_name, overlap).await
}

/// [`list_deliveries_in`] on the gateway's store.
pub async fn list_deliveries(
    state: &AppState,
    filter: &DeliveryFilter,
) -> Result<Vec<DeliveryView>, DeliveryError> {
    list_deliveries_in(&*state.store, filter).await
}

/// [`get_delivery_in`] on the gateway's store.
pub async fn get_delivery(state: &AppState, id: DeliveryId) -> Result<DeliveryView, DeliveryError> {
    get_delivery_in(&*state.store, id).await
}

/// [`retry_delivery_in`] on the gateway's store.
pub async fn retry_delivery(state: &AppState, id: DeliveryId) -> Result<DeliveryView, DeliveryError> {
    retry_delivery_in(&*state.store, id).await
}

/// Creates or updates the endpoint `[merchant]` configures (named [`CONFIG_ENDPOINT_NAME`]):
/// its URL, secret (a changed secret is rotated in with the default overlap) and
/// private-address flag. Nothing without a `[merchant]` section.
pub async fn seed_from_config<S: DeliveryStore + ?Sized>(
    store: &S,
    config: &malipo_config::Config,
) -> Result<(), GatewayError> {
    let Some(m) = &config.merchant else {
        return Ok(());
    };
    let secret = m.signing_secret.resolve()?;
    secret
        .expose()
        .parse::<WebhookSecret>()
        .map_err(|e| GatewayError::Config(format!("merchant.signing_secret: {e}")))?;
    store
        .upsert_endpoint(
            NewEndpoint {
                name: CONFIG_ENDPOINT_NAME.into(),
                url: m.webhook_url.to_string(),
                secret,
                event_types: m.event_types.clone(),
                enabled: true,
                allow_private: m.allow_private_targets,
            },
            DEFAULT_ROTATION_OVERLAP,
        )
        .await?;
    Ok(())
}
