//! Waking workers when another instance queued work: `LISTEN` on a connection of its own.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio_postgres::AsyncMessage;

use super::connect::{connect_one_with, Target};
use super::db::{DELIVERIES_CHANNEL, JOBS_CHANNEL};

/// Keeps a `LISTEN` connection open, reconnecting when it drops, and wakes `jobs` on
/// `malipo_jobs` and `deliveries` on `malipo_deliveries` notifications. Dropping it stops
/// listening.
///
/// Hand it the gateway's own wake-ups (the `Notify` the worker waits on): a job ingested by any
/// instance then wakes every instance's worker at once instead of at its next poll. Each
/// (re)connection also wakes both once, since notifications sent while it was away are lost.
#[derive(Debug)]
pub struct WorkListener {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WorkListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WorkListener {
    pub(crate) fn start(target: Target, jobs: Arc<Notify>, deliveries: Arc<Notify>) -> Self {
        WorkListener {
            task: tokio::spawn(listen(target, jobs, deliveries)),
        }
    }
}

const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

async fn listen(target: Target, jobs: Arc<Notify>, deliveries: Arc<Notify>) {
    let mut retry = RETRY_FIRST;
    loop {
        match listen_once(&target, &jobs, &deliveries).await {
            Ok(()) => retry = RETRY_FIRST,
            Err(e) => {
                tracing::warn!(database = %target.described, error = %e, "listening for queued work failed; retrying");
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

/// One connection's life: returns when it ends.
async fn listen_once(target: &Target, jobs: &Notify, deliveries: &Notify) -> Result<(), String> {
    let (channels_tx, mut channels) = mpsc::unbounded_channel::<String>();
    let client = connect_one_with(target, move |message| {
        if let AsyncMessage::Notification(n) = message {
            let _ = channels_tx.send(n.channel().to_owned());
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    client
        .batch_execute(&format!("LISTEN {JOBS_CHANNEL}; LISTEN {DELIVERIES_CHANNEL}"))
        .await
        .map_err(|e| e.to_string())?;
    // Whatever was queued while nobody listened.
    jobs.notify_one();
    deliveries.notify_one();
    // The sender lives in the connection's driver: the channel ends with the connection.
    while let Some(channel) = channels.recv().await {
        match channel.as_str() {
            JOBS_CHANNEL => jobs.notify_one(),
            DELIVERIES_CHANNEL => deliveries.notify_one(),
            _ => {}
        }
    }
    drop(client);
    Ok(())
}
