//! `Idempotency-Key`: the same key and body return the first answer and reach the provider once.
//!
//! The key is claimed in the store before anything runs (a row in progress, inserted by the
//! store's single writer, so of any number of racing requests exactly one claims it). The
//! claimant runs the request in its own task, so a client hanging up cannot leave the key in
//! progress, and stores the answer. A duplicate that finds the key in progress waits for that
//! answer (a bounded wait, then 409 `idempotency_in_progress`); one that finds it finished gets
//! the stored status and body byte for byte; one with another body is 422
//! `idempotency_key_reused`. A key in progress past [`INTERRUPTED_AFTER`] belongs to a request
//! whose gateway died while it ran: 409 `idempotency_interrupted` at once, and never run again
//! (it may have reached the provider). Keys are scoped to the API key and kept [`RETENTION`].

use std::future::Future;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use malipo_store::{IdempotencyClaim, StoredResponse, REQUEST_HASH_LEN};
use sha2::{Digest, Sha256};

use super::auth::Caller;
use super::error::ApiError;
use crate::AppState;

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// How long a key and its answer are kept (at least; the pruner runs hourly).
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How long a duplicate waits for the first request's answer before 409: longer than a
/// provider call may take (the clients' default timeout is 30 s).
pub const WAIT: Duration = Duration::from_secs(40);

/// A key in progress for longer than this was claimed by a request that never finished (its
/// gateway stopped while it ran, by `kill -9` or a crash): no request runs this long (a
/// provider call is bounded by the clients' timeout).
pub const INTERRUPTED_AFTER: Duration = Duration::from_secs(120);

/// The longest key accepted.
const MAX_KEY_LEN: usize = 255;

/// An answer as sent: a status and JSON bytes, replayed identically to retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
    /// Whether it is a replay of a stored answer (an `Idempotent-Replayed: true` header).
    pub(crate) replayed: bool,
}

impl Answer {
    /// `value` serialised once, so a stored copy is byte for byte what was sent.
    pub(crate) fn json(status: StatusCode, value: &impl serde::Serialize) -> Answer {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Answer {
            status,
            body,
            replayed: false,
        }
    }

    /// An error answer.
    pub(crate) fn error(e: &ApiError) -> Answer {
        Answer::json(e.status, &e.body())
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.body,
        )
            .into_response();
        if self.replayed {
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}

/// What the request's work did: its answer, and whether nothing happened so the key is freed
/// for a retry (the database failed before anything was recorded or sent).
pub(crate) struct Outcome {
    pub(crate) answer: Answer,
    pub(crate) nothing_done: bool,
}

/// The request's fingerprint: method, path and body with object keys sorted, so a client that
/// re-serialises the same JSON in another key order is not told it reused its key.
pub(crate) fn fingerprint(method: &str, path: &str, body: &serde_json::Value) -> [u8; REQUEST_HASH_LEN] {
    let mut canonical = String::new();
    write_canonical(body, &mut canonical);
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hasher.finalize().into()
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The `Idempotency-Key` header, checked: 1 to 255 visible ASCII characters.
pub(crate) fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            format!("the Idempotency-Key header must be 1 to {MAX_KEY_LEN} visible ASCII characters (a UUID is a good choice)"),
        )
        .with_field("Idempotency-Key")
    };
    let key = value.to_str().map_err(|_| bad())?;
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(key.to_string()))
}

/// How long a duplicate waits for the first request's answer ([`WAIT`]), and after how long in
/// progress the first request is known to be dead ([`INTERRUPTED_AFTER`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Waits {
    pub(crate) answer: Duration,
    pub(crate) interrupted_after: Duration,
}

impl Waits {
    /// The API's.
    pub(crate) const API: Waits = Waits {
        answer: WAIT,
        interrupted_after: INTERRUPTED_AFTER,
    };
}

/// Runs `work` at most once per (`caller`, `key`): see the module documentation. Without a key
/// it simply runs.
pub(crate) async fn run<Fut>(
    state: &AppState,
    caller: Caller,
    key: Option<String>,
    fingerprint: [u8; REQUEST_HASH_LEN],
    waits: Waits,
    work: Fut,
) -> Answer
where
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let Some(key) = key else {
        return work.await.answer;
    };
    let scope = caller.key_id.to_string();
    let deadline = tokio::time::Instant::now() + waits.answer;
    let mut work = Some(work);
    loop {
        let claim = match state
            .store
            .claim_idempotency_key(&scope, &key, &fingerprint)
            .await
        {
            Ok(c) => c,
            Err(e) => return Answer::error(&ApiError::storage(&e)),
        };
        match claim {
            IdempotencyClaim::Claimed => {
                let Some(work) = work.take() else {
                    // Unreachable: a claim is only won once per call, but never panic on it.
                    return Answer::error(&in_progress());
                };
                return run_claimed(state, scope, key, work).await;
            }
            IdempotencyClaim::Completed(stored) => return replay(stored),
            IdempotencyClaim::Mismatch => return Answer::error(
                &ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request; use a new key for a new request",
                )
                .with_field("Idempotency-Key"),
            ),
            IdempotencyClaim::InProgress => {
                match wait_for(state, &scope, &key, deadline, waits.interrupted_after).await {
                    Waited::Answer(stored) => return replay(stored),
                    // The first request did nothing and freed the key: claim it again.
                    Waited::Released => continue,
                    Waited::TimedOut => return Answer::error(&in_progress()),
                    Waited::Interrupted(since) => return Answer::error(&interrupted(since)),
                    Waited::Failed(e) => return Answer::error(&e),
                }
            }
        }
    }
}

fn in_progress() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_in_progress",
        "a request with this Idempotency-Key is still running; retry with the same key shortly",
    )
    .with_field("Idempotency-Key")
}

/// The first request with this key never finished, and never will. Running it again could
/// reach the provider twice (a second push to the customer, a second payout), so it is not
/// retried: the client is told what to look for instead, at once rather than after a wait.
fn interrupted(since: chrono::DateTime<chrono::Utc>) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_interrupted",
        format!(
            "the request with this Idempotency-Key started at {} and never finished (the gateway stopped while it ran); \
             it may have created a payment and reached the provider: look for it (GET /v1/payments?merchant_reference=…) \
             before sending it again with a new key",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    )
    .with_field("Idempotency-Key")
}

fn replay(stored: StoredResponse) -> Answer {
    Answer {
        status: StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body: stored.body,
        replayed: true,
    }
}

async fn run_claimed<Fut>(state: &AppState, scope: String, key: String, work: Fut) -> Answer
where
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let store = state.store.clone();
    // Its own task: if the client hangs up, the request still finishes and its answer is kept.
    let task = tokio::spawn(async move {
        let outcome = work.await;
        let done = if outcome.nothing_done {
            store.release_idempotency_key(&scope, &key).await
        } else {
            let stored = StoredResponse {
                status: outcome.answer.status.as_u16(),
                body: outcome.answer.body.clone(),
            };
            store.complete_idempotency_key(&scope, &key, stored).await
        };
        if let Err(e) = done {
            // The answer still goes back; retries with this key get 409 until it is pruned,
            // which is safe: they never reach the provider a second time.
            tracing::error!(error = %e, "merchant API: could not record an idempotent answer");
        }
        outcome.answer
    });
    match task.await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::error!(error = %e, "merchant API: a request task failed");
            Answer::error(&ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the request failed; retry with the same Idempotency-Key",
            ))
        }
    }
}

enum Waited {
    Answer(StoredResponse),
    Released,
    TimedOut,
    /// In progress since then, longer than the first request could run.
    Interrupted(chrono::DateTime<chrono::Utc>),
    Failed(ApiError),
}

async fn wait_for(
    state: &AppState,
    scope: &str,
    key: &str,
    deadline: tokio::time::Instant,
    interrupted_after: Duration,
) -> Waited {
    let mut pause = Duration::from_millis(10);
    loop {
        if tokio::time::Instant::now() >= deadline {
            return Waited::TimedOut;
        }
        tokio::time::sleep_until((tokio::time::Instant::now() + pause).min(deadline)).await;
        pause = (pause * 2).min(Duration::from_millis(200));
        match state.store.get_idempotency_key(scope, key).await {
            Ok(Some(record)) => {
                if let Some(stored) = record.response {
                    return Waited::Answer(stored);
                }
                let age = chrono::Utc::now() - record.created_at;
                if age.to_std().is_ok_and(|age| age > interrupted_after) {
                    return Waited::Interrupted(record.created_at);
                }
            }
            Ok(None) => return Waited::Released,
            Err(e) => return Waited::Failed(ApiError::storage(&e)),
        }
    }
}

/// Deletes keys older than [`RETENTION`]; the gateway runs it hourly.
pub async fn prune(state: &AppState) -> Result<u64, malipo_store::StoreError> {
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(RETENTION).unwrap_or(chrono::Duration::hours(24));
    state.store.prune_idempotency_keys(cutoff).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_key_order_but_not_values_or_paths() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":{"c":[1,2],"d":"x"}}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":{"d":"x","c":[1,2]},"a":1}"#).unwrap();
        let c: serde_json::Value = serde_json::from_str(r#"{"a":2,"b":{"c":[1,2],"d":"x"}}"#).unwrap();
        let f = |v| fingerprint("POST", "/v1/payments", v);
        assert_eq!(f(&a), f(&b));
        assert_ne!(f(&a), f(&c));
        assert_ne!(f(&a), fingerprint("POST", "/v1/payouts", &a));
    }

    /// A state over the in-memory store: these tests are about the waiting and replaying, which
    /// the key role's contract decides; a database adds nothing to them.
    fn state() -> AppState {
        AppState {
            store: std::sync::Arc::new(malipo_store::memory::MemoryStore::new()),
            metrics: Default::default(),
            guards: malipo_guard::Guards::new(malipo_guard::GuardConfig::default()).into(),
            callback_tokens: None,
            paystack_secret: None,
            paystack_account_secrets: Default::default(),
            worker_wakeup: Default::default(),
            providers: Default::default(),
            connections: Default::default(),
            confirm_successes: false,
            mpesa_payees: Vec::new().into(),
            c2b_validators: Default::default(),
        }
    }

    fn caller() -> Caller {
        Caller {
            key_id: malipo_core::kinds::KeyId::new(),
        }
    }

    fn created() -> Outcome {
        Outcome {
            answer: Answer::json(StatusCode::CREATED, &serde_json::json!({"id": "pay_1"})),
            nothing_done: false,
        }
    }

    #[tokio::test]
    async fn a_duplicate_waits_a_bounded_time_for_a_stuck_first_request_then_gets_409() {
        let state = state();
        let who = caller();
        let fp = [1; REQUEST_HASH_LEN];
        // A first request that never finishes (its process died mid-call, say).
        let scope = who.key_id.to_string();
        state.store.claim_idempotency_key(&scope, "k", &fp).await.unwrap();
        let started = tokio::time::Instant::now();
        let answer = run(
            &state,
            who,
            Some("k".into()),
            fp,
            Waits {
                answer: Duration::from_millis(150),
                interrupted_after: INTERRUPTED_AFTER,
            },
            async { panic!("a duplicate must never run the work") },
        )
        .await;
        assert_eq!(answer.status, StatusCode::CONFLICT);
        assert!(String::from_utf8_lossy(&answer.body).contains("idempotency_in_progress"));
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// Regression: after a `kill -9` mid-request, every retry of its key waited 40 s and got
    /// "still running; retry shortly", for the key's whole day.
    #[tokio::test]
    async fn a_key_whose_request_died_is_said_to_be_interrupted_at_once() {
        let state = state();
        let who = caller();
        let fp = [3; REQUEST_HASH_LEN];
        let scope = who.key_id.to_string();
        state.store.claim_idempotency_key(&scope, "k", &fp).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        let started = tokio::time::Instant::now();
        let waits = Waits {
            answer: Duration::from_secs(30),
            interrupted_after: Duration::from_millis(50),
        };
        let answer = run(&state, who, Some("k".into()), fp, waits, async {
            panic!("an interrupted request is never run again: it may have reached the provider")
        })
        .await;
        assert_eq!(answer.status, StatusCode::CONFLICT);
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        assert!(body.contains("idempotency_interrupted"), "{body}");
        assert!(body.contains("never finished"), "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no wait for an answer that cannot come"
        );
    }

    #[tokio::test]
    async fn a_duplicate_gets_the_answer_once_the_first_finishes_and_a_freed_key_runs_again() {
        let state = state();
        let who = caller();
        let fp = [2; REQUEST_HASH_LEN];
        let scope = who.key_id.to_string();
        state.store.claim_idempotency_key(&scope, "k", &fp).await.unwrap();
        let store = state.store.clone();
        let finisher = tokio::spawn({
            let scope = scope.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let stored = StoredResponse {
                    status: 201,
                    body: b"{\"id\":\"pay_first\"}".to_vec(),
                };
                store.complete_idempotency_key(&scope, "k", stored).await.unwrap();
            }
        });
        let answer = run(&state, who, Some("k".into()), fp, Waits::API, async {
            panic!("a duplicate must never run the work")
        })
        .await;
        finisher.await.unwrap();
        assert_eq!((answer.status, answer.replayed), (StatusCode::CREATED, true));
        assert_eq!(answer.body, b"{\"id\":\"pay_first\"}");

        // A first request that did nothing frees its key; the waiting duplicate then runs.
        state
            .store
            .claim_idempotency_key(&scope, "k2", &fp)
            .await
            .unwrap();
        let store = state.store.clone();
        let releaser = tokio::spawn({
            let scope = scope.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                store.release_idempotency_key(&scope, "k2").await.unwrap();
            }
        });
        let answer = run(&state, who, Some("k2".into()), fp, Waits::API, async {
            created()
        })
        .await;
        releaser.await.unwrap();
        assert_eq!((answer.status, answer.replayed), (StatusCode::CREATED, false));
        let kept = state
            .store
            .get_idempotency_key(&scope, "k2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.response.unwrap().status, 201);
    }

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        let mut h = HeaderMap::new();
        assert_eq!(key_of(&h).unwrap(), None);
        h.insert(HEADER, HeaderValue::from_static("order-42-attempt"));
        assert_eq!(key_of(&h).unwrap().as_deref(), Some("order-42-attempt"));
        h.insert(HEADER, HeaderValue::from_static("has space"));
        assert_eq!(key_of(&h).unwrap_err().field.as_deref(), Some("Idempotency-Key"));
        h.insert(HEADER, HeaderValue::from_str(&"k".repeat(256)).unwrap());
        assert!(key_of(&h).is_err());
    }
}
