//! The worker: claims processing jobs, applies each event to its payment, completes the job.
//!
//! A job whose attempt fails is retried with exponential backoff; after [`MAX_ATTEMPTS`] the
//! event becomes `failed`, visible in `malipo events list --status failed` and replayable.

use std::time::Duration;

use chrono::Utc;
use malipo_store::{Job, StoreError};

use crate::apply::{decide, provider_reference, Lookup};
use crate::AppState;

/// Attempts before an event is left `failed` for a person.
pub const MAX_ATTEMPTS: u32 = 8;
const BATCH: usize = 64;
const LEASE: Duration = Duration::from_secs(60);
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Runs until `shutdown` resolves.
pub async fn run(state: AppState, name: String, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let claimed = match state.store.claim_jobs(&name, BATCH, LEASE).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, "the worker cannot claim jobs; retrying");
                Vec::new()
            }
        };
        let busy = claimed.len() == BATCH;
        for job in claimed {
            process(&state, job).await;
        }
        if busy {
            continue;
        }
        tokio::select! {
            _ = state.worker_wakeup.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn process(state: &AppState, job: Job) {
    let job_id = job.id;
    let event_id = job.event.id;
    match attempt(state, &job).await {
        Ok(()) => state.metrics.job_done(true),
        Err(error) => {
            state.metrics.job_done(false);
            let retry_at = (job.attempts < MAX_ATTEMPTS).then(|| {
                let backoff = Duration::from_secs(2u64.saturating_pow(job.attempts).min(600));
                Utc::now() + backoff
            });
            tracing::warn!(event = %event_id, attempts = job.attempts, retry = retry_at.is_some(), %error, "processing failed");
            if let Err(e) = state.store.fail_job(job_id, &error, retry_at).await {
                tracing::error!(event = %event_id, error = %e, "could not record the failed attempt; the lease will expire and the job run again");
            }
        }
    }
}

async fn attempt(state: &AppState, job: &Job) -> Result<(), String> {
    let event = &job.event;
    let payment = match event.payment_id {
        Some(id) => state.store.get_payment(id).await.map_err(store_error)?,
        None => match provider_reference(event) {
            Some(reference) => state
                .store
                .find_payment_by_provider_ref(event.provider, &reference)
                .await
                .map_err(store_error)?,
            None => None,
        },
    };
    let outcome = decide(event, Lookup::Payment(payment))?;
    match state.store.complete_job(job.id, outcome).await {
        Ok(done) => {
            if let Some(effect) = done.payment {
                tracing::info!(event = %event.id, payment = %effect.payment().id, state = %effect.payment().state, "applied");
            }
            Ok(())
        }
        // Another worker finished it after this one's lease ran out: nothing left to do.
        Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

fn store_error(e: StoreError) -> String {
    format!("store: {e}")
}
