//! Group commit of ingests: webhooks arriving together share one transaction.
//!
//! Each ingest is queued on a channel; a few group-commit tasks each take whatever is queued
//! (up to `batch_max`), write it in one statement (its own transaction) and answer every
//! caller through its oneshot once that statement, and so its commit, returned. While one task commits, the next gathers what arrived
//! meanwhile, so throughput grows with concurrency instead of costing a commit per webhook.
//!
//! A batch writes its events sorted by (provider, dedup key): batches of this and every other
//! instance then take the unique index's locks in one order and never deadlock each other. If a
//! request fails, PostgreSQL has aborted the whole transaction; the batch is rolled back and
//! each of its requests run again in a transaction of its own, so one bad request fails alone.
//! The jobs a batch queued are announced to the workers after its commit, by the notifier.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::db::{Db, Wake};
use super::errors::from_pool;
use super::inbox;
use super::notifier::Notifier;
use crate::convert::now_ms;
use crate::{Ingested, NewEvent, StoreError, WriterStats};

/// One queued ingest and where its answer goes.
pub(crate) struct Request {
    pub(crate) event: NewEvent,
    pub(crate) reply: oneshot::Sender<Result<Ingested, StoreError>>,
}

/// Transactions and the ingests they carried.
#[derive(Default)]
pub(crate) struct Counters {
    commits: AtomicU64,
    requests: AtomicU64,
}

impl Counters {
    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            commits: self.commits.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }
}

/// Starts `writers` group-commit tasks on one queue; they end once every sender is gone and the
/// queue is drained.
pub(crate) fn start(
    pool: Pool,
    writers: usize,
    batch_max: usize,
    capacity: usize,
    counters: Arc<Counters>,
) -> (mpsc::Sender<Request>, Vec<tokio::task::JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let rx = Arc::new(Mutex::new(rx));
    // Stops once the last writer is gone.
    let notifier = Arc::new(Notifier::start(pool.clone()));
    let tasks = (0..writers.max(1))
        .map(|_| {
            let (pool, rx, counters) = (pool.clone(), Arc::clone(&rx), Arc::clone(&counters));
            tokio::spawn(run(pool, Arc::clone(&notifier), rx, batch_max.max(1), counters))
        })
        .collect();
    (tx, tasks)
}

async fn run(
    pool: Pool,
    notifier: Arc<Notifier>,
    rx: Arc<Mutex<mpsc::Receiver<Request>>>,
    batch_max: usize,
    counters: Arc<Counters>,
) {
    loop {
        // The queue is held only while gathering, so another task gathers while this commits.
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < batch_max {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch
        };
        counters.commits.fetch_add(1, Ordering::Relaxed);
        counters.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);
        commit(&pool, &notifier, batch).await;
    }
}

/// Writes `batch` in one transaction and answers each request.
async fn commit(pool: &Pool, notifier: &Notifier, mut batch: Vec<Request>) {
    // Callers that gave up (their request was cancelled) need no write.
    batch.retain(|r| !r.reply.is_closed());
    if batch.is_empty() {
        return;
    }
    batch.sort_by(|a, b| {
        (a.event.provider.as_str(), &a.event.dedup_key).cmp(&(b.event.provider.as_str(), &b.event.dedup_key))
    });
    let events: Vec<&NewEvent> = batch.iter().map(|r| &r.event).collect();
    match together(pool, notifier, &events).await {
        Ok(answers) => {
            for (request, answer) in batch.into_iter().zip(answers) {
                let _ = request.reply.send(Ok(answer));
            }
        }
        Err(e) if super::errors::is_gone(&e) || batch.len() == 1 => {
            for request in batch {
                let _ = request.reply.send(Err(e.clone()));
            }
        }
        Err(_) => {
            // One of them failed and took the transaction with it: each alone, so it fails alone.
            for request in batch {
                let answer = together(pool, notifier, &[&request.event])
                    .await
                    .map(|mut a| a.remove(0));
                let _ = request.reply.send(answer);
            }
        }
    }
}

/// Ingests `events` in one transaction; the answers are in the same order. The jobs queued are
/// announced after the commit (see the notifier's module for why not inside it).
///
/// The batch is one statement (see [`inbox::ingest_many`]), so it runs as its own transaction:
/// no `BEGIN` and `COMMIT` round trips around it. Only a batch with duplicates reads their ids
/// in a second statement, after the first committed.
async fn together(
    pool: &Pool,
    notifier: &Notifier,
    events: &[&NewEvent],
) -> Result<Vec<Ingested>, StoreError> {
    let client = pool.get().await.map_err(from_pool)?;
    let wake = Wake::default();
    let answers = inbox::ingest_many(&Db::auto(&client, &wake), events, now_ms()).await;
    // Even when reading the duplicates failed: the new events' jobs are committed.
    notifier.committed(&wake);
    answers
}
