//! The worker: claims processing jobs, applies each event to its payment, completes the job.
//!
//! A job whose attempt fails is retried with exponential backoff; after [`MAX_ATTEMPTS`] the
//! event becomes `failed`, visible in `malipo events list --status failed` and replayable.
//!
//! The worker shares the database writer with the inbound path, so it works in batches: one
//! write to claim a batch, one read to look up every job's payment (beside the write keeping
//! the records the events carry), one write to complete them all. Under a backlog the next
//! batch is claimed beside that completion, so the two share a commit. When a fresh ingest
//! wakes it, it first waits [`COALESCE`] for more to arrive, so under a steady stream of
//! webhooks it commits once per several events instead of once per event. Under a burst it
//! works through the backlog in batches of [`BATCH`] at eight ninths of its speed, leaving the
//! rest to acknowledging webhooks, and at full speed once the burst is over.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt as _;
use malipo_core::EventStatus;
use malipo_store::{Job, JobOutcome, PaymentChange, PaymentKey, PaymentRecord, StoreError};

use crate::apply::{decide, parse, Lookup, Parsed};
use crate::AppState;

/// Attempts before an event is left `failed` for a person.
pub const MAX_ATTEMPTS: u32 = 8;
/// Jobs claimed at once. Under a backlog each batch costs two waits for the writer (the next
/// claim shares the completion's), so a larger batch gets more done per wait: with 256 the
/// worker keeps up with a closed loop of Paystack webhooks on two cores, where with 64 it had
/// processed three in five when the load stopped (`bench/ingest`: the highest sustained rate
/// went from 10,000 to 15,000 events/s, STK callbacks from 7,500 to 12,500). The batch is
/// only this large under a backlog; at a steady rate the worker takes what has arrived.
const BATCH: usize = 256;
const LEASE: Duration = Duration::from_secs(60);
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Under a backlog with webhooks still arriving, the worker pauses for its batch's time divided
/// by this after each batch, so it runs at 8/9 of its speed and the inbound path keeps a share.
/// With 4 (4/5 of its speed), STK callbacks at 15,000/s over 128 connections for 60 s grew the
/// queue past `bench/ingest`'s bound in one probe of two (7,616 → 46,776) and raised it in the
/// other (714 → 3,134, max 9,641); with 8 it stayed flat in three (184 → 175, 272 → 517,
/// 575 → 451) with the same p99 of the answers, and the closed loops were no slower.
const YIELD_DIVISOR: u32 = 8;
/// How long the worker lets ingests accumulate after being woken by one.
const COALESCE: Duration = Duration::from_millis(2);

/// Runs until `shutdown` resolves.
pub async fn run(state: AppState, name: String, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut woken_by_ingest = false;
    // The next batch, claimed while the last one completed (see `process`).
    let mut prefetched: Option<Vec<Job>> = None;
    loop {
        if *shutdown.borrow() && prefetched.is_none() {
            return;
        }
        if woken_by_ingest {
            tokio::select! {
                _ = tokio::time::sleep(COALESCE) => {}
                _ = shutdown.changed() => continue,
            }
        }
        let claimed = match prefetched.take() {
            Some(jobs) => jobs,
            None => claim(&state, &name).await,
        };
        let busy = claimed.len() == BATCH;
        let started = Instant::now();
        // A full batch means a backlog: the next batch is claimed in the same commit as this
        // one's completion, saving the writer a round trip per batch. Not when stopping, so a
        // stopping worker leaves no batch leased to nobody.
        let claim_next = (busy && !*shutdown.borrow()).then_some(name.as_str());
        prefetched = process(&state, claimed, claim_next).await;
        if busy {
            // A backlog. While webhooks keep arriving, acknowledging them comes first: the
            // worker leaves the writer (and the CPU) to them for an eighth of the time its batch
            // took. It used to leave them as long as the batch took, draining at half speed;
            // under a steady rate above half its speed the queue then grew without end (the
            // bench's sustained-rate search found processing stuck near 5,000 events/s while a
            // queue of 15,000 emptied in a second once the load stopped).
            if state.worker_wakeup.notified().now_or_never().is_some() {
                tokio::select! {
                    _ = tokio::time::sleep(started.elapsed() / YIELD_DIVISOR) => {}
                    _ = shutdown.changed() => {}
                }
            }
            woken_by_ingest = false;
            continue;
        }
        woken_by_ingest = tokio::select! {
            _ = state.worker_wakeup.notified() => true,
            _ = tokio::time::sleep(IDLE_POLL) => false,
            _ = shutdown.changed() => false,
        };
    }
}

/// Leases the next batch of due jobs to `worker` (none when the store fails: logged, and the
/// loop tries again).
async fn claim(state: &AppState, worker: &str) -> Vec<Job> {
    match state.store.claim_jobs(worker, BATCH, LEASE).await {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::error!(error = %e, "the worker cannot claim jobs; retrying");
            Vec::new()
        }
    }
}

/// Decides and completes a claimed batch, in claim order. With `claim_next` (the worker's
/// name), the next batch is claimed beside the last completion and returned: both requests
/// reach the writer together, and the next batch is looked at only once this one is complete,
/// so its lookups see this batch's changes.
async fn process(state: &AppState, jobs: Vec<Job>, claim_next: Option<&str>) -> Option<Vec<Job>> {
    if jobs.is_empty() {
        return None;
    }
    // A Paystack body is parsed once, for the records it carries and for its outcome.
    let bodies: Vec<Option<serde_json::Value>> = jobs.iter().map(crate::records::paystack_json).collect();
    // The resources the events carry are kept before the jobs complete: a failure leaves the
    // jobs to be retried, and merging the same copies again on the retry changes nothing. The
    // payments are looked up meanwhile (a read, beside the write).
    let records = crate::records::from_jobs(&jobs, &bodies);
    let parsed: Vec<Parsed> = jobs
        .iter()
        .zip(bodies)
        .map(|(job, body)| match body {
            Some(body) => crate::apply::parse_paystack_json(body),
            None => parse(&job.event),
        })
        .collect();
    let keys: Vec<Option<PaymentKey>> = jobs.iter().zip(&parsed).map(|(j, p)| payment_key(j, p)).collect();
    let kept = async {
        if records.is_empty() {
            return Ok(());
        }
        state
            .store
            .upsert_records(records)
            .await
            .map(|_| ())
            .map_err(store_error)
    };
    let (kept, found) = tokio::join!(kept, lookup(state, &keys));
    let mut found = match kept.and(found) {
        Ok(found) => found.into_iter(),
        Err(error) => {
            for job in &jobs {
                failed(state, job, error.clone()).await;
            }
            return None;
        }
    };
    let mut batch = Batch::default();
    for ((job, key), parsed) in jobs.into_iter().zip(keys).zip(parsed) {
        let mut payment = found.next().flatten();
        // `decide` must see what processing the jobs one by one would show it. The lookup above
        // was made before any job of this batch: when an earlier job changed or recorded the
        // payment this one is about, that answer is stale, so complete the jobs waiting (if
        // they touch it) and look the payment up again.
        // The payment found again may itself be one the waiting jobs change (found by its
        // reference the first time, before an earlier job recorded it): then once more, after
        // completing them.
        let mut fresh = !batch.stale(key.as_ref(), payment.as_ref());
        while !fresh {
            let waiting = batch.affects(key.as_ref(), payment.as_ref());
            if waiting {
                batch.complete(state).await;
            }
            payment = match lookup(state, std::slice::from_ref(&key)).await {
                Ok(found) => found.into_iter().next().flatten(),
                Err(error) => {
                    failed(state, &job, error).await;
                    break;
                }
            };
            // After a completion nothing waits, so the answer is final.
            fresh = waiting || !batch.affects(key.as_ref(), payment.as_ref());
        }
        if !fresh {
            continue;
        }
        let pending_kind = payment
            .as_ref()
            .filter(|p| p.state == malipo_core::PaymentState::Pending)
            .map(|p| p.kind.clone());
        match decide(&job.event, parsed, Lookup::Payment(payment), &state.mpesa_payees) {
            Ok(outcome) if state.confirm_successes => {
                batch.push(job, crate::apply::confirm_first(outcome, pending_kind.as_deref()))
            }
            Ok(outcome) => batch.push(job, outcome),
            Err(error) => failed(state, &job, error).await,
        }
    }
    match claim_next {
        Some(worker) => Some(tokio::join!(batch.complete(state), claim(state, worker)).1),
        None => {
            batch.complete(state).await;
            None
        }
    }
}

/// The payment an event is about: named by its callback token, or by the provider's reference.
fn payment_key(job: &Job, parsed: &Parsed) -> Option<PaymentKey> {
    let event = &job.event;
    match event.payment_id {
        Some(id) => Some(PaymentKey::Id(id)),
        None => parsed
            .provider_reference()
            .map(|r| PaymentKey::ProviderRef(event.provider, r)),
    }
}

/// Looks up the payments of `keys` (one answer per key) in one round trip.
async fn lookup(state: &AppState, keys: &[Option<PaymentKey>]) -> Result<Vec<Option<PaymentRecord>>, String> {
    let wanted: Vec<PaymentKey> = keys.iter().flatten().cloned().collect();
    let found = state.store.find_payments(&wanted).await.map_err(store_error)?;
    if found.len() != wanted.len() {
        return Err(format!(
            "store: asked for {} payments, got {} answers",
            wanted.len(),
            found.len()
        ));
    }
    let mut found = found.into_iter();
    Ok(keys
        .iter()
        .map(|key| key.as_ref().and_then(|_| found.next().flatten()))
        .collect())
}

/// Jobs decided and waiting to be completed together, with the payments their outcomes touch.
#[derive(Default)]
struct Batch {
    jobs: Vec<Job>,
    outcomes: Vec<JobOutcome>,
    /// The payments the waiting jobs change or record.
    touched: HashSet<PaymentKey>,
    /// Every payment changed or recorded since the batch's first lookup, completed or not: the
    /// first lookup's answer for any of them is stale.
    changed: HashSet<PaymentKey>,
}

impl Batch {
    fn push(&mut self, job: Job, outcome: JobOutcome) {
        let keys = match &outcome.payment {
            Some(
                PaymentChange::Transition { id, .. }
                | PaymentChange::Refund { id, .. }
                | PaymentChange::Confirm { id, .. },
            ) => {
                vec![PaymentKey::Id(*id)]
            }
            Some(PaymentChange::Record(p)) => p.keys(),
            None => Vec::new(),
        };
        for key in keys {
            self.changed.insert(key.clone());
            self.touched.insert(key);
        }
        self.jobs.push(job);
        self.outcomes.push(outcome);
    }

    /// Whether a job looking its payment up by `key` (and finding `found`) would find something
    /// else once the jobs waiting here are completed.
    fn affects(&self, key: Option<&PaymentKey>, found: Option<&PaymentRecord>) -> bool {
        Self::names(&self.touched, key, found)
    }

    /// Whether the batch's first lookup for `key` (which found `found`) may be out of date.
    fn stale(&self, key: Option<&PaymentKey>, found: Option<&PaymentRecord>) -> bool {
        Self::names(&self.changed, key, found)
    }

    fn names(set: &HashSet<PaymentKey>, key: Option<&PaymentKey>, found: Option<&PaymentRecord>) -> bool {
        key.is_some_and(|k| set.contains(k)) || found.is_some_and(|p| set.contains(&PaymentKey::Id(p.id)))
    }

    /// Completes the waiting jobs in one store call; failed ones go through `fail_job`.
    async fn complete(&mut self, state: &AppState) {
        self.touched.clear();
        if self.jobs.is_empty() {
            return;
        }
        let jobs = std::mem::take(&mut self.jobs);
        let outcomes = std::mem::take(&mut self.outcomes);
        let statuses: Vec<EventStatus> = outcomes.iter().map(|o| o.event_status).collect();
        let request = jobs.iter().map(|j| j.id).zip(outcomes).collect();
        let mut results = match state.store.complete_jobs(request).await {
            Ok(results) => results.into_iter(),
            Err(e) => {
                let error = store_error(e);
                for job in &jobs {
                    failed(state, job, error.clone()).await;
                }
                return;
            }
        };
        for (job, status) in jobs.iter().zip(statuses) {
            let result = results
                .next()
                .unwrap_or_else(|| Err(StoreError::Task("the store gave no answer for this job".into())));
            match result {
                Ok(done) => {
                    state.metrics.job_done(true);
                    if status == EventStatus::Suspicious {
                        state.metrics.suspicious();
                        tracing::warn!(event = %job.event.id, provider = %job.event.provider, "suspicious callback: stored, moved nothing");
                    }
                    if let Some(effect) = done.payment {
                        tracing::info!(event = %job.event.id, payment = %effect.payment().id, state = %effect.payment().state, "applied");
                    }
                }
                // Another worker finished it after this one's lease ran out: nothing left to do.
                Err(StoreError::NotFound { what: "job", .. }) => state.metrics.job_done(true),
                Err(e) => failed(state, job, store_error(e)).await,
            }
        }
    }
}

/// Records a failed attempt: retried with backoff, or given up after [`MAX_ATTEMPTS`].
async fn failed(state: &AppState, job: &Job, error: String) {
    state.metrics.job_done(false);
    let event_id = job.event.id;
    let retry_at = (job.attempts < MAX_ATTEMPTS).then(|| {
        let backoff = Duration::from_secs(2u64.saturating_pow(job.attempts).min(600));
        Utc::now() + backoff
    });
    tracing::warn!(event = %event_id, attempts = job.attempts, retry = retry_at.is_some(), %error, "processing failed");
    if let Err(e) = state.store.fail_job(job.id, &error, retry_at).await {
        tracing::error!(event = %event_id, error = %e, "could not record the failed attempt; the lease will expire and the job run again");
    }
}

fn store_error(e: StoreError) -> String {
    format!("store: {e}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use malipo_core::{EventStatus, PaymentState, Provider};
    use malipo_guard::{GuardConfig, Guards};
    use malipo_store::{NewEvent, SqliteOptions, SqliteStore};

    use super::*;

    struct Fixture {
        state: AppState,
        sqlite: SqliteStore,
        _dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteStore::open(dir.path().join("w.db"), SqliteOptions::default()).unwrap();
        let state = AppState {
            store: Arc::new(sqlite.clone()),
            metrics: Arc::default(),
            guards: Guards::new(GuardConfig::default()).into(),
            callback_tokens: None,
            paystack_secret: None,
            paystack_account_secrets: Default::default(),
            worker_wakeup: Arc::default(),
            providers: Default::default(),
            connections: Arc::default(),
            confirm_successes: false,
            mpesa_payees: Vec::new().into(),
            c2b_validators: Default::default(),
        };
        Fixture {
            state,
            sqlite,
            _dir: dir,
        }
    }

    fn charge(id: u64, reference: &str) -> NewEvent {
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/charge-success.json")).unwrap();
        v["data"]["id"] = id.into();
        v["data"]["reference"] = reference.into();
        let body = serde_json::to_vec(&v).unwrap();
        NewEvent::received(Provider::Paystack, "charge.success", format!("charge:{id}"), body)
    }

    /// The fixture's charge amount, NGN 100.00.
    const CHARGED: u64 = 10_000;

    fn refund(reference: &str) -> NewEvent {
        refund_event("refund.processed", reference, CHARGED)
    }

    fn refund_event(name: &str, reference: &str, amount: u64) -> NewEvent {
        let body = serde_json::json!({
            "event": name,
            "data": {"status": name.trim_start_matches("refund."), "transaction_reference": reference, "amount": amount.to_string(), "currency": "NGN"},
        });
        NewEvent::received(
            Provider::Paystack,
            name,
            format!("{name}:{reference}"),
            serde_json::to_vec(&body).unwrap(),
        )
    }

    /// Stores `events`, claims them all in one batch and processes it in the order given (jobs
    /// stored in the same millisecond are claimed in no particular order).
    async fn process_all(f: &Fixture, events: Vec<NewEvent>) -> Vec<malipo_core::EventId> {
        let mut ids = Vec::new();
        for e in events {
            ids.push(f.state.store.ingest(e).await.unwrap().id());
        }
        let mut jobs = claimed(f, "test").await;
        assert_eq!(jobs.len(), ids.len(), "one batch");
        jobs.sort_by_key(|j| ids.iter().position(|id| *id == j.event.id));
        process(&f.state, jobs, None).await;
        ids
    }

    /// A batch of due jobs, leased to `worker`.
    async fn claimed(f: &Fixture, worker: &str) -> Vec<Job> {
        f.state.store.claim_jobs(worker, BATCH, LEASE).await.unwrap()
    }

    /// The Paystack payment with provider reference `reference` (it must exist).
    async fn payment(f: &Fixture, reference: &str) -> PaymentRecord {
        f.state
            .store
            .find_payment_by_provider_ref(Provider::Paystack, reference)
            .await
            .unwrap()
            .unwrap()
    }

    async fn event(f: &Fixture, id: malipo_core::EventId) -> (EventStatus, Option<String>) {
        let e = f.state.store.get_event(id).await.unwrap().unwrap();
        (e.status, e.last_error.clone())
    }

    #[tokio::test]
    async fn a_batch_of_unrelated_events_is_completed_in_one_write() {
        let f = fixture();
        let events = (0..10)
            .map(|i| charge(i, &format!("ref-{i}")))
            .collect::<Vec<_>>();
        let mut ids = Vec::new();
        for e in events {
            ids.push(f.state.store.ingest(e).await.unwrap().id());
        }
        let jobs = claimed(&f, "test").await;
        let before = f.sqlite.writer_stats();
        process(&f.state, jobs, None).await;
        let after = f.sqlite.writer_stats();
        // One write completes the ten jobs; the one before it keeps the customer they all carry
        // (merged into one record).
        assert_eq!(
            after.requests - before.requests,
            2,
            "one write for ten jobs, one for their records"
        );
        for id in ids {
            assert_eq!(event(&f, id).await, (EventStatus::Processed, None));
        }
        let payments = f
            .state
            .store
            .list_payments(&malipo_store::PaymentFilter::default())
            .await
            .unwrap();
        assert_eq!(payments.len(), 10);
        assert!(payments.iter().all(|p| p.state == PaymentState::Succeeded));
    }

    #[tokio::test]
    async fn the_batch_claimed_beside_a_completion_is_returned_and_sees_that_completion() {
        let f = fixture();
        let charged = f.state.store.ingest(charge(7, "ref-7")).await.unwrap().id();
        let first = f.state.store.claim_jobs("test", 1, LEASE).await.unwrap();
        assert_eq!(first.len(), 1);
        let refund = f.state.store.ingest(refund("ref-7")).await.unwrap().id();
        let next = process(&f.state, first, Some("test"))
            .await
            .expect("the next batch");
        assert_eq!(
            next.iter().map(|j| j.event.id).collect::<Vec<_>>(),
            vec![refund],
            "the refund's job was claimed with the charge's completion"
        );
        assert_eq!(event(&f, charged).await, (EventStatus::Processed, None));
        assert!(
            claimed(&f, "other").await.is_empty(),
            "the prefetched job is leased"
        );
        // The refund is decided after the charge's completion committed, so it finds the
        // payment the charge recorded.
        assert!(process(&f.state, next, None).await.is_none());
        assert_eq!(event(&f, refund).await, (EventStatus::Processed, None));
        let refunded = payment(&f, "ref-7").await;
        assert_eq!(refunded.state, PaymentState::Refunded);
    }

    #[tokio::test]
    async fn a_stopping_worker_claims_nothing_ahead_and_leaves_no_job_leased() {
        let f = fixture();
        let queued = 12 * BATCH;
        for i in 0..queued {
            f.state
                .store
                .ingest(charge(i as u64, &format!("ref-{i}")))
                .await
                .unwrap();
        }
        let waiting = || async { f.state.store.stats().await.unwrap().jobs_queued as usize };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(run(f.state.clone(), "test".into(), stopped));
        // Stop it once it is working through the backlog (claiming ahead).
        while waiting().await == queued {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let done_before_stop = queued - waiting().await;
        stop.send(true).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(30), worker)
            .await
            .expect("the worker stops")
            .unwrap();
        // After the stop it finishes the batch it holds and the one claimed beside it, and
        // claims nothing more (a worker that kept claiming ahead would drain the whole backlog):
        // most of the backlog is left, all of it due at once for another worker, none waiting
        // out a lease.
        let mut left = 0;
        loop {
            let claimed = f.state.store.claim_jobs("other", BATCH, LEASE).await.unwrap();
            if claimed.is_empty() {
                break;
            }
            left += claimed.len();
        }
        assert!(
            left >= queued / 2,
            "{left} of {queued} jobs left after the stop ({done_before_stop} done before it)"
        );
        assert_eq!(waiting().await, left, "no job is leased to the stopped worker");
    }

    #[tokio::test]
    async fn nothing_is_claimed_ahead_for_an_empty_batch() {
        let f = fixture();
        f.state.store.ingest(charge(1, "ref-1")).await.unwrap();
        assert!(process(&f.state, Vec::new(), Some("test")).await.is_none());
        assert_eq!(claimed(&f, "test").await.len(), 1);
    }

    #[tokio::test]
    async fn a_later_event_of_the_batch_sees_the_payment_an_earlier_one_recorded() {
        let f = fixture();
        // A charge malipo did not start is recorded by its first event; the refund in the same
        // batch finds it only if it is looked up after the charge's completion.
        let ids = process_all(&f, vec![charge(7, "ref-7"), refund("ref-7"), charge(8, "ref-8")]).await;
        for id in &ids {
            assert_eq!(event(&f, *id).await, (EventStatus::Processed, None));
        }
        let refunded = payment(&f, "ref-7").await;
        assert_eq!(refunded.state, PaymentState::Refunded);
        let other = payment(&f, "ref-8").await;
        assert_eq!(other.state, PaymentState::Succeeded);
    }

    #[tokio::test]
    async fn a_refund_after_a_notice_in_the_same_batch_is_decided_on_the_recorded_payment() {
        let f = fixture();
        // The charge records R; the notice about R forces a completion and a fresh lookup; the
        // refund after it must not reuse the batch's first lookup (made before R existed), or it
        // is decided as "no payment matches" and the refund is lost.
        let ids = process_all(
            &f,
            vec![
                charge(9, "ref-9"),
                refund_event("refund.pending", "ref-9", CHARGED),
                refund_event("refund.processed", "ref-9", CHARGED),
            ],
        )
        .await;
        for id in &ids {
            assert_eq!(event(&f, *id).await, (EventStatus::Processed, None));
        }
        let p = payment(&f, "ref-9").await;
        assert_eq!(p.state, PaymentState::Refunded);
        assert_eq!(p.refunded.minor(), CHARGED);
    }

    #[tokio::test]
    async fn partial_refunds_in_one_batch_add_up() {
        let f = fixture();
        let mut first = refund_event("refund.processed", "ref-3", 4_000);
        first.dedup_key = "refund.processed:r1".into();
        let mut second = refund_event("refund.processed", "ref-3", 6_000);
        second.dedup_key = "refund.processed:r2".into();
        let mut third = refund_event("refund.processed", "ref-3", 1);
        third.dedup_key = "refund.processed:r3".into();
        let ids = process_all(&f, vec![charge(3, "ref-3"), first, second, third]).await;
        for id in &ids[..3] {
            assert_eq!(event(&f, *id).await, (EventStatus::Processed, None));
        }
        let (status, reason) = event(&f, ids[3]).await;
        assert_eq!(status, EventStatus::Suspicious);
        assert!(reason.unwrap().contains("refunded"));
        let p = payment(&f, "ref-3").await;
        assert_eq!(p.state, PaymentState::Refunded);
        assert_eq!(f.state.metrics.suspicious_total(), 1);
    }

    #[tokio::test]
    async fn an_event_that_fails_is_retried_and_the_others_complete() {
        let f = fixture();
        // An M-Pesa callback whose stored body no longer parses is worth a retry.
        let broken = NewEvent::received(Provider::Mpesa, "stk_callback", "stk:broken", &b"{}"[..]);
        let ids = process_all(&f, vec![charge(1, "ref-1"), broken, charge(2, "ref-2")]).await;
        assert_eq!(event(&f, ids[0]).await.0, EventStatus::Processed);
        let (status, error) = event(&f, ids[1]).await;
        assert_eq!(status, EventStatus::Received, "released for a retry");
        assert!(error.is_some_and(|e| e.contains("no longer parses")));
        assert_eq!(event(&f, ids[2]).await.0, EventStatus::Processed);
        let stats = f.state.store.stats().await.unwrap();
        assert_eq!(
            (stats.jobs_queued, stats.jobs_due),
            (1, 0),
            "retried later, not now"
        );
    }
}
