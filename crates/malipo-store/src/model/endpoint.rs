use chrono::{DateTime, Utc};
use malipo_core::{Id, IdKind, Secret};

use crate::StoreError;

/// The kind of an [`EndpointId`] (`ep_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointKind {}

impl IdKind for EndpointKind {
    const PREFIX: &'static str = "ep";
}

/// A merchant endpoint's id (`ep_…`), time-sortable like every malipo id.
pub type EndpointId = Id<EndpointKind>;

/// The event types an endpoint receives when its filter is empty: every change of a payment,
/// payout or refund. `event.suspicious` is not among them: it is sent only to endpoints that
/// name it.
pub const DEFAULT_EVENT_PREFIXES: [&str; 3] = ["payment.", "payout.", "refund."];

/// The event type of a suspicious inbound event (authentic but inconsistent with its payment).
pub const EVENT_SUSPICIOUS: &str = "event.suspicious";

/// An endpoint to create or update (by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    /// Its unique name (`merchant` for the one `[merchant]` configures).
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The Standard Webhooks signing secret, `whsec_` + base64.
    pub secret: Secret<String>,
    /// Event types it receives (`payment.succeeded`, or `payout.*` for a family); empty: every
    /// payment, payout and refund event.
    pub event_types: Vec<String>,
    /// Whether deliveries are sent to it.
    pub enabled: bool,
    /// Whether its address may be private, loopback or link-local (development only).
    pub allow_private: bool,
}

/// A stored endpoint. `Debug` redacts its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    /// Its id.
    pub id: EndpointId,
    /// Its unique name.
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The current signing secret.
    pub secret: Secret<String>,
    /// The secret it replaced, still signing during the rotation overlap.
    pub previous_secret: Option<Secret<String>>,
    /// When the previous secret stops signing.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Event types it receives; empty: every payment, payout and refund event.
    pub event_types: Vec<String>,
    /// Whether deliveries are sent to it (a disabled endpoint keeps its queued deliveries).
    pub enabled: bool,
    /// Whether its address may be private, loopback or link-local.
    pub allow_private: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl EndpointRecord {
    /// Whether this endpoint receives `event_type` (enabled or not).
    pub fn subscribes(&self, event_type: &str) -> bool {
        subscribes(&self.event_types, event_type)
    }

    /// The secrets that sign at `now`: the current one, then the previous one during its
    /// overlap.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&Secret<String>> {
        let mut secrets = vec![&self.secret];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if until > now {
                secrets.push(previous);
            }
        }
        secrets
    }
}

/// Whether a filter lets `event_type` through: an exact name, a `family.*` pattern, `*`, or an
/// empty filter (every payment, payout and refund event).
pub(crate) fn subscribes(filter: &[String], event_type: &str) -> bool {
    if filter.is_empty() {
        return DEFAULT_EVENT_PREFIXES.iter().any(|p| event_type.starts_with(p));
    }
    filter.iter().any(|f| {
        f == event_type
            || (f == "*" && event_type != EVENT_SUSPICIOUS)
            || f.strip_suffix('*').is_some_and(|prefix| {
                !prefix.is_empty() && prefix.ends_with('.') && event_type.starts_with(prefix)
            })
    })
}

/// Checks an event-type filter entry: a known `family.name`, a known `family.*`, or `*`. An
/// unknown name is refused, not kept: a misspelt filter would otherwise receive nothing, silently.
pub fn check_event_type(pattern: &str) -> Result<(), String> {
    const FAMILIES: [&str; 3] = ["payment", "payout", "refund"];
    let known = |family: &str, name: &str| match family {
        "event" => name == "suspicious" || name == "*",
        f if FAMILIES.contains(&f) => {
            name == "*"
                || malipo_core::PaymentState::ALL
                    .iter()
                    .any(|s| *s != malipo_core::PaymentState::Pending && s.as_str() == name)
        }
        _ => false,
    };
    if pattern == "*" || pattern.split_once('.').is_some_and(|(f, n)| known(f, n)) {
        return Ok(());
    }
    let names = malipo_core::PaymentState::ALL
        .iter()
        .filter(|s| **s != malipo_core::PaymentState::Pending)
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let shown: String = pattern.chars().take(64).collect();
    Err(format!(
        "event type {shown:?} is not one malipo sends: expected payment., payout. or refund. followed by one of {names} or *; event.suspicious; or *"
    ))
}

/// Checks an endpoint's name: 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`
/// (it is written in paths, commands and logs).
pub fn check_endpoint_name(name: &str) -> Result<(), String> {
    let plain = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if plain {
        return Ok(());
    }
    Err(format!(
        "{:?} is not an endpoint name: expected 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'",
        name.chars().take(64).collect::<String>()
    ))
}

/// Refuses an endpoint that could never be delivered to, before anything is written.
pub(crate) fn check(e: &NewEndpoint) -> Result<(), StoreError> {
    check_endpoint_name(&e.name).map_err(StoreError::Invalid)?;
    let lower = e.url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) || e.url.len() > 2048 {
        return Err(StoreError::Invalid(format!(
            "endpoint URL {:?} is not valid: expected an http:// or https:// URL",
            e.url
        )));
    }
    check_secret(&e.secret)?;
    for t in &e.event_types {
        check_event_type(t).map_err(StoreError::Invalid)?;
    }
    Ok(())
}

/// A secret must at least look like `whsec_…`; its base64 is the gateway's to check.
pub(crate) fn check_secret(secret: &Secret<String>) -> Result<(), StoreError> {
    let s = secret.expose();
    if !s.starts_with("whsec_") || s.len() < 10 || s.len() > 2048 || s.chars().any(char::is_whitespace) {
        // The text is never echoed: it is a key.
        return Err(StoreError::Invalid(
            "the endpoint secret is not valid: expected \"whsec_\" followed by base64".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(subscribes(&[], "payment.succeeded"));
        assert!(subscribes(&[], "refund.refunded"));
        assert!(!subscribes(&[], "event.suspicious"));
        assert!(subscribes(&f(&["event.suspicious"]), "event.suspicious"));
        assert!(!subscribes(&f(&["*"]), "event.suspicious"));
        assert!(subscribes(&f(&["payout.*"]), "payout.succeeded"));
        assert!(!subscribes(&f(&["payout.*"]), "payment.succeeded"));
        assert!(!subscribes(&f(&["payment.failed"]), "payment.succeeded"));
        assert!(check_event_type("payment.succeeded").is_ok());
        assert!(check_event_type("payout.*").is_ok());
        assert!(check_event_type("payout").is_err());
        assert!(check_event_type("pay ment.x").is_err());
        assert!(check_event_type("payment.won").is_err());
        assert!(check_event_type("invoice.*").is_err());
        assert!(check_event_type("event.suspicious").is_ok());
        assert!(check_event_type("refund.partially_refunded").is_ok());
        assert!(check_event_type("payment.pending").is_err());
    }
}
