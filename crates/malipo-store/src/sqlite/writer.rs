//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time, and with `synchronous = FULL` each commit costs an
//! fsync. Instead of letting every request fight for the write lock, one thread owns the
//! read-write connection: it takes every request queued while the previous commit ran (up to
//! `batch_max`), runs them in one `BEGIN IMMEDIATE … COMMIT`, and only then answers each caller.
//! Throughput grows with concurrency while each caller still waits for its own durable commit.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::checkpoint::Doorbell;
use super::health::Health;
use crate::error::{Context, Reason};
use crate::StoreError;

/// One queued write, type-erased so requests of any result type share the queue.
trait Pending: Send {
    /// Whether the write needs its own savepoint: false only for a write that is
    /// all-or-nothing by itself (see [`Writer::write_all_or_nothing`]).
    fn needs_savepoint(&self) -> bool;
    /// Runs the write inside the open transaction; returns whether it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Whether it failed because the storage did (see [`StoreError::is_storage_failure`]).
    fn failed_storage(&self) -> bool;
    /// Answers the caller once the batch's fate is known (`commit` is the commit's error); a
    /// second call does nothing.
    fn finish(&mut self, commit: Option<&StoreError>);
}

struct Request<T, F> {
    savepoint: bool,
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: Option<oneshot::Sender<Result<T, StoreError>>>,
}

impl<T, F> Pending for Request<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn needs_savepoint(&self) -> bool {
        self.savepoint
    }

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

    fn failed_storage(&self) -> bool {
        matches!(&self.outcome, Some(Err(e)) if e.is_storage_failure())
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

/// Counters of the writer's work since the store opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriterStats {
    /// Transactions committed (or attempted).
    pub commits: u64,
    /// Write requests run in them; `requests / commits` is the mean group-commit size.
    pub requests: u64,
}

/// How the writer forms its batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    /// Most requests per transaction.
    pub(crate) max: usize,
    /// Queue capacity before callers wait.
    pub(crate) capacity: usize,
    /// How long to wait for callers coming back (see the loop in `run`).
    pub(crate) commit_delay: Duration,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    requests: AtomicU64,
}

/// The handle callers use to queue writes.
pub(crate) struct Writer {
    queue: mpsc::Sender<Message>,
    counters: Arc<Counters>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the writer thread owning `conn`; `doorbell` is rung after each commit (the
    /// checkpoint thread's signal).
    pub(crate) fn start(
        conn: Connection,
        batching: Batching,
        doorbell: Option<Doorbell>,
        health: Arc<Health>,
    ) -> Result<Self, StoreError> {
        let (queue, inbox) = mpsc::channel(batching.capacity.max(1));
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("malipo-sqlite-writer".into())
            .spawn(move || run(conn, inbox, batching, doorbell, &thread_counters, &health))
            .map_err(|e| StoreError::Task(format!("cannot start the database writer thread: {e}")))?;
        Ok(Writer {
            queue,
            counters,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Runs `work` in the next group commit, inside its own savepoint so that its failure
    /// undoes it alone, and returns its result once the commit is durable.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(true, work).await
    }

    /// Like [`Writer::write`] for `work` that is all-or-nothing by itself, saving the
    /// savepoint's cost: one statement (SQLite undoes a failed statement), or work that takes
    /// back its own changes before it fails (the inbox's event and job).
    pub(crate) async fn write_all_or_nothing<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(false, work).await
    }

    async fn submit<T, F>(&self, savepoint: bool, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            savepoint,
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

    /// Whether the writer thread is gone (shut down, or died): writes would fail with
    /// [`StoreError::Closed`].
    pub(crate) fn is_stopped(&self) -> bool {
        self.queue.is_closed()
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            requests: self.counters.requests.load(Ordering::Relaxed),
        }
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

fn run(
    conn: Connection,
    mut inbox: mpsc::Receiver<Message>,
    batching: Batching,
    doorbell: Option<Doorbell>,
    counters: &Counters,
    health: &Health,
) {
    let batch_max = batching.max.max(1);
    let commit_delay = batching.commit_delay;
    let mut batch: Vec<Box<dyn Pending>> = Vec::with_capacity(batch_max);
    let mut stop: Option<oneshot::Sender<()>> = None;
    let mut last_batch = 0;
    while stop.is_none() {
        match inbox.blocking_recv() {
            Some(Message::Write(p)) => batch.push(p),
            Some(Message::Shutdown(done)) => stop = Some(done),
            None => break,
        }
        // Everything that queued up while the last commit ran joins this one.
        drain(&mut inbox, &mut batch, batch_max, &mut stop);
        // The callers answered by the last commit are likely on their way back (closed-loop
        // clients, busy HTTP connections). When far fewer than they have arrived, waiting a
        // moment for them costs little latency and saves a commit; at a low rate batches are
        // small and equal, so nobody waits.
        if !commit_delay.is_zero()
            && stop.is_none()
            && batch.len() < batch_max
            && batch.len() * 2 < last_batch
        {
            std::thread::sleep(commit_delay);
            drain(&mut inbox, &mut batch, batch_max, &mut stop);
        }
        last_batch = batch.len();
        if !batch.is_empty() {
            counters.commits.fetch_add(1, Ordering::Relaxed);
            counters.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);
            // A stat per batch: acknowledging into a deleted or replaced file would lose it.
            if let Err(e) = health.check_identity() {
                for p in batch.iter_mut() {
                    p.finish(Some(&e));
                }
                batch.clear();
                continue;
            }
            if let Some(ok) = commit_batch(&conn, &mut batch) {
                health.record_commit(ok);
            }
            if let Some(bell) = &doorbell {
                bell.catch_up(&conn);
                bell.ring();
            }
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

/// Moves what is queued into `batch`, up to `batch_max`, noting a shutdown request.
fn drain(
    inbox: &mut mpsc::Receiver<Message>,
    batch: &mut Vec<Box<dyn Pending>>,
    batch_max: usize,
    stop: &mut Option<oneshot::Sender<()>>,
) {
    while batch.len() < batch_max && stop.is_none() {
        match inbox.try_recv() {
            Ok(Message::Write(p)) => batch.push(p),
            Ok(Message::Shutdown(done)) => *stop = Some(done),
            Err(_) => break,
        }
    }
}

/// Runs a batch in one transaction, each request that may write more than one statement inside
/// its own savepoint, so a failing request is rolled back alone and the others still commit.
/// Returns whether writes work: `Some(false)` when a transaction or a request failed on the
/// storage, `Some(true)` when transactions that changed rows committed, `None` when nothing was
/// written (which proves nothing).
fn commit_batch(conn: &Connection, batch: &mut Vec<Box<dyn Pending>>) -> Option<bool> {
    let mut start = 0;
    let mut verdict = None;
    while start < batch.len() {
        let (next, committed) = commit_from(conn, batch, start);
        start = next;
        verdict = match (verdict, committed) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), _) | (_, Some(true)) => Some(true),
            (None, None) => None,
        };
    }
    batch.clear();
    verdict
}

/// Commits `batch[start..]`, finishing every request it settles; returns where to go on. Only
/// an error that made SQLite abandon the whole transaction (disk full, I/O error) stops early:
/// the requests before it are answered with that error and the rest get a fresh transaction.
/// The verdict is as [`commit_batch`]'s, for this transaction.
fn commit_from(conn: &Connection, batch: &mut [Box<dyn Pending>], start: usize) -> (usize, Option<bool>) {
    let settle = |batch: &mut [Box<dyn Pending>], err: Option<&StoreError>| {
        for p in batch.iter_mut() {
            p.finish(err);
        }
    };
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").during("starting a write transaction") {
        tracing::error!(error = %e, "cannot start a write transaction");
        settle(&mut batch[start..], Some(&e));
        return (batch.len(), Some(false));
    }
    let mut end = start;
    let mut storage_failed = false;
    let changes_before = conn.total_changes();
    while end < batch.len() {
        let savepoint = batch[end].needs_savepoint();
        let ok = (!savepoint || exec(conn, "SAVEPOINT req").is_ok()) && batch[end].run(conn);
        // A statement that failed on a full disk leaves the transaction open and the commit
        // of the others may still succeed; the store is failing all the same.
        storage_failed |= !ok && batch[end].failed_storage();
        if savepoint && !ok && !conn.is_autocommit() {
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
            return (end, Some(false));
        }
        if savepoint {
            let _ = exec(conn, "RELEASE req");
        }
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
    // An empty transaction commits even on a full disk: only one that wrote says writes work.
    let committed = match (
        failure.is_none() && !storage_failed,
        conn.total_changes() > changes_before,
    ) {
        (false, _) => Some(false),
        (true, true) => Some(true),
        (true, false) => None,
    };
    settle(&mut batch[start..end], failure.as_ref());
    (end, committed)
}

fn exec(conn: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (Writer, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER UNIQUE);")
            .unwrap();
        let batching = Batching {
            max: 64,
            capacity: 16,
            commit_delay: Duration::ZERO,
        };
        let health = Arc::new(Health::new(&dir.path().join("w.db")));
        (Writer::start(conn, batching, None, health).unwrap(), dir)
    }

    type Work = Box<dyn FnOnce(&Connection) -> Result<(), StoreError> + Send>;

    fn insert(conn: &Connection, x: i64) -> Result<(), StoreError> {
        conn.execute("INSERT INTO t (x) VALUES (?1)", [x])
            .map(|_| ())
            .during("test insert")
    }

    /// Holds the writer thread inside a request until the returned sender is used, so the
    /// requests queued meanwhile are committed together in the next batch.
    async fn hold(writer: &Arc<Writer>) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started, running) = oneshot::channel();
        let w = Arc::clone(writer);
        let held = tokio::spawn(async move {
            w.write(move |_| {
                let _ = started.send(());
                let _ = wait.recv();
                Ok(())
            })
            .await
            .unwrap();
        });
        running.await.unwrap();
        (release, held)
    }

    async fn queued(writer: &Writer, n: usize) {
        while writer.queue.max_capacity() - writer.queue.capacity() < n {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_is_undone_alone_and_the_batch_commits() {
        let (writer, _dir) = writer();
        let writer = Arc::new(writer);
        // Every failure below is independent of the order the spawned requests reach the queue
        // in: each conflicts with itself or with this row, written before the batch.
        writer.write(|c| insert(c, 9)).await.unwrap();
        let (release, held) = hold(&writer).await;
        let spawn = |f: Work, savepoint| {
            let w = Arc::clone(&writer);
            tokio::spawn(async move { w.submit(savepoint, f).await })
        };
        let a = spawn(Box::new(|c| insert(c, 1)), true);
        // Writes a row, then fails: the savepoint must take the row back.
        let b = spawn(
            Box::new(|c| {
                insert(c, 2)?;
                insert(c, 2)
            }),
            true,
        );
        let c = spawn(Box::new(|c| insert(c, 3)), false);
        // A one-statement write failing on a constraint undoes itself without a savepoint.
        let d = spawn(Box::new(|c| insert(c, 9)), false);
        let p = spawn(Box::new(|_| panic!("a bug in a request")), true);
        queued(&writer, 5).await;
        let before = writer.stats();
        release.send(()).unwrap();
        held.await.unwrap();
        assert!(a.await.unwrap().is_ok());
        assert!(matches!(b.await.unwrap(), Err(StoreError::Database { .. })));
        assert!(c.await.unwrap().is_ok());
        assert!(d.await.unwrap().is_err());
        assert!(matches!(p.await.unwrap(), Err(StoreError::Task(_))));
        let after = writer.stats();
        assert_eq!(after.commits - before.commits, 1, "one group commit for the five");
        assert_eq!(after.requests - before.requests, 5);

        let rows = writer
            .write(|c| {
                let mut stmt = c.prepare("SELECT x FROM t ORDER BY x").during("test")?;
                let rows = stmt.query_map([], |r| r.get::<_, i64>(0)).during("test")?;
                rows.collect::<Result<Vec<_>, _>>().during("test")
            })
            .await
            .unwrap();
        assert_eq!(rows, [1, 3, 9]);
        writer.shutdown().await.unwrap();
        assert!(matches!(writer.write(|_| Ok(())).await, Err(StoreError::Closed)));
    }
}
