//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time, and with `synchronous = FULL` each commit costs an
//! fsync. Instead of letting every request fight for the write lock, one thread owns the
//! read-write connection: it takes every request queued while the previous commit ran (up to
//! `batch_max`), runs them in one `BEGIN IMMEDIATE … COMMIT`, and only then answers each caller.
//! Throughput grows with concurrency while each caller still waits for its own durable commit.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Context, Reason};
use crate::StoreError;

/// One queued write, type-erased so requests of any result type share the queue.
trait Pending: Send {
    /// Runs the write inside the open transaction; returns whether it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known (`commit` is the commit's error); a
    /// second call does nothing.
    fn finish(&mut self, commit: Option<&StoreError>);
}

struct Request<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: Option<oneshot::Sender<Result<T, StoreError>>>,
}

impl<T, F> Pending for Request<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        // A panicking request must not take the writer (and every later write) down with it.
        let outcome = catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(StoreError::Task("a write request panicked".into())));
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(&mut self, commit: Option<&StoreError>) {
        let Some(reply) = self.reply.take() else {
            return;
        };
        let outcome = match (self.outcome.take(), commit) {
            (Some(Ok(_)), Some(err)) => Err(err.clone()),
            (Some(outcome), _) => outcome,
            (None, _) => Err(StoreError::Task("a write request was not run".into())),
        };
        // The caller may have gone away (its request was cancelled); the write stands anyway.
        let _ = reply.send(outcome);
    }
}

enum Message {
    Write(Box<dyn Pending>),
    Shutdown(oneshot::Sender<()>),
}

/// The handle callers use to queue writes.
pub(crate) struct Writer {
    queue: mpsc::Sender<Message>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the writer thread owning `conn`.
    pub(crate) fn start(conn: Connection, batch_max: usize, capacity: usize) -> Result<Self, StoreError> {
        let (queue, inbox) = mpsc::channel(capacity.max(1));
        let thread = std::thread::Builder::new()
            .name("malipo-sqlite-writer".into())
            .spawn(move || run(conn, inbox, batch_max.max(1)))
            .map_err(|e| StoreError::Task(format!("cannot start the database writer thread: {e}")))?;
        Ok(Writer {
            queue,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Runs `work` in the next group commit and returns its result once the commit is durable.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            work: Some(work),
            outcome: None,
            reply: Some(reply),
        };
        self.queue
            .send(Message::Write(Box::new(request)))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Commits what is queued, stops the thread and waits for it.
    pub(crate) async fn shutdown(&self) -> Result<(), StoreError> {
        let (done, stopped) = oneshot::channel();
        if self.queue.send(Message::Shutdown(done)).await.is_ok() {
            let _ = stopped.await;
        }
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?
                .map_err(|_| StoreError::Task("the database writer thread panicked".into()))?;
        }
        Ok(())
    }
}

fn run(conn: Connection, mut inbox: mpsc::Receiver<Message>, batch_max: usize) {
    let mut batch: Vec<Box<dyn Pending>> = Vec::with_capacity(batch_max);
    let mut stop: Option<oneshot::Sender<()>> = None;
    while stop.is_none() {
        match inbox.blocking_recv() {
            Some(Message::Write(p)) => batch.push(p),
            Some(Message::Shutdown(done)) => stop = Some(done),
            None => break,
        }
        // Everything that queued up while the last commit ran joins this one.
        while batch.len() < batch_max && stop.is_none() {
            match inbox.try_recv() {
                Ok(Message::Write(p)) => batch.push(p),
                Ok(Message::Shutdown(done)) => stop = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(&conn, &mut batch);
        }
    }
    // Requests that arrived after the shutdown are dropped with the inbox: their callers get
    // `StoreError::Closed`.
    drop(inbox);
    if let Err(e) = conn.execute_batch("PRAGMA optimize") {
        tracing::debug!(error = %e, "PRAGMA optimize failed at shutdown");
    }
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

/// Runs a batch in one transaction, each request inside its own savepoint so a failing request
/// is rolled back alone and the others still commit.
fn commit_batch(conn: &Connection, batch: &mut Vec<Box<dyn Pending>>) {
    let mut start = 0;
    while start < batch.len() {
        start = commit_from(conn, batch, start);
    }
    batch.clear();
}

/// Commits `batch[start..]`, finishing every request it settles; returns where to go on. Only
/// an error that made SQLite abandon the whole transaction (disk full, I/O error) stops early:
/// the requests before it are answered with that error and the rest get a fresh transaction.
fn commit_from(conn: &Connection, batch: &mut [Box<dyn Pending>], start: usize) -> usize {
    let settle = |batch: &mut [Box<dyn Pending>], err: Option<&StoreError>| {
        for p in batch.iter_mut() {
            p.finish(err);
        }
    };
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").during("starting a write transaction") {
        tracing::error!(error = %e, "cannot start a write transaction");
        settle(&mut batch[start..], Some(&e));
        return batch.len();
    }
    let mut end = start;
    while end < batch.len() {
        let ok = exec(conn, "SAVEPOINT req").is_ok() && batch[end].run(conn);
        if !ok && !conn.is_autocommit() {
            let _ = exec(conn, "ROLLBACK TO req");
        }
        end += 1;
        if conn.is_autocommit() {
            let e = StoreError::Database {
                op: "running a write transaction",
                source: Reason::cause("SQLite rolled the transaction back after an error"),
            };
            tracing::error!(error = %e, "write transaction abandoned");
            settle(&mut batch[start..end], Some(&e));
            return end;
        }
        let _ = exec(conn, "RELEASE req");
    }
    let failure = match exec(conn, "COMMIT").during("committing a write transaction") {
        Ok(()) => None,
        Err(e) => {
            tracing::error!(error = %e, requests = end - start, "group commit failed");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Some(e)
        }
    };
    settle(&mut batch[start..end], failure.as_ref());
    end
}

fn exec(conn: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}
