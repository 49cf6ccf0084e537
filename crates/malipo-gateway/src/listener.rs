//! Serving a router on a TCP listener with limits a hostile client cannot outlast.
//!
//! `axum::serve` sets no header-read timeout and no connection cap: a client that opens
//! connections and trickles a partial header holds a descriptor and memory for as long as it
//! likes. Here every connection must deliver each request's header within
//! [`ListenerLimits::header_read_timeout`] (the same timer runs while a keep-alive connection
//! sits idle between requests, so it also bounds idle connections), and the listener holds at
//! most [`ListenerLimits::max_connections`] connections, at most
//! [`ListenerLimits::max_connections_per_ip`] of them from one address (trusted proxies are
//! exempt: every client behind them shares their address). A connection over a cap is closed at
//! once and counted.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// Limits of one listener.
#[derive(Debug, Clone)]
pub struct ListenerLimits {
    /// Time a client has to send a request's header, and the longest a keep-alive connection may
    /// sit idle.
    pub header_read_timeout: Duration,
    /// Connections open at once on this listener.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// Addresses exempt from the per-address cap (the trusted proxies).
    pub exempt: Vec<IpNet>,
    /// How long a graceful shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_connections_per_ip: 256,
            exempt: Vec::new(),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// What the listeners counted, for `/metrics`.
#[derive(Debug, Default)]
pub struct ListenerCounters {
    open: AtomicU64,
    accepted: AtomicU64,
    refused_listener_full: AtomicU64,
    refused_client_full: AtomicU64,
}

impl ListenerCounters {
    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections closed at once because a cap was reached: (listener full, one address's share
    /// full).
    pub fn refused(&self) -> (u64, u64) {
        (
            self.refused_listener_full.load(Ordering::Relaxed),
            self.refused_client_full.load(Ordering::Relaxed),
        )
    }

    /// Encodes the counters for `/metrics`.
    pub fn encode(&self, encoder: &mut prometheus_client::encoding::DescriptorEncoder) -> std::fmt::Result {
        let (listener_full, client_full) = self.refused();
        crate::metrics::gauge(
            encoder,
            "malipo_connections_open",
            "Client connections open now.",
            [(vec![], i64::try_from(self.open()).unwrap_or(i64::MAX))],
        )?;
        crate::metrics::counter(
            encoder,
            "malipo_connections_accepted",
            "Client connections accepted.",
            [(vec![], self.accepted.load(Ordering::Relaxed))],
        )?;
        crate::metrics::counter(
            encoder,
            "malipo_connections_refused",
            "Connections closed at once because a cap was reached.",
            [
                (vec![("reason", "listener_full")], listener_full),
                (vec![("reason", "client_full")], client_full),
            ],
        )
    }
}

/// Open connections per client address; a [`Slot`] gives its place back when dropped.
#[derive(Debug, Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

struct Slot {
    table: Arc<PerIp>,
    ip: Option<IpAddr>,
    counters: Arc<ListenerCounters>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Ordering::Relaxed);
        if let Some(ip) = self.ip {
            if let Ok(mut table) = self.table.0.lock() {
                if let Some(n) = table.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        table.remove(&ip);
                    }
                }
            }
        }
    }
}

/// Takes a place for a connection from `peer`, or says which cap is reached.
fn admit(
    limits: &ListenerLimits,
    table: &Arc<PerIp>,
    counters: &Arc<ListenerCounters>,
    peer: IpAddr,
) -> Option<Slot> {
    if counters.open.load(Ordering::Relaxed) as usize >= limits.max_connections {
        counters.refused_listener_full.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    let capped = !limits.exempt.iter().any(|net| net.contains(&peer));
    if capped {
        let mut t = table.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let n = t.entry(peer).or_insert(0);
        if *n >= limits.max_connections_per_ip {
            counters.refused_client_full.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *n += 1;
    }
    counters.open.fetch_add(1, Ordering::Relaxed);
    counters.accepted.fetch_add(1, Ordering::Relaxed);
    Some(Slot {
        table: table.clone(),
        ip: capped.then_some(peer),
        counters: counters.clone(),
    })
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves; then stops accepting and
/// waits up to [`ListenerLimits::shutdown_grace`] for the requests in flight. Each request
/// carries `ConnectInfo<SocketAddr>` of its socket peer, as the guard expects.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ListenerLimits,
    counters: Arc<ListenerCounters>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let table = Arc::new(PerIp::default());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors or a connection reset before it was accepted: the listener
                // itself is fine; pause briefly so a descriptor shortage does not spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = admit(&limits, &table, &counters, peer.ip()) else {
            // Dropping the stream closes it: no bytes are read from a client over its share.
            drop(stream);
            continue;
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                app.clone().oneshot(request)
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that vanishes mid-request or exceeds the header timeout ends here; it
            // is the client's failure, not the server's.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = limits.shutdown_grace.as_secs(),
            "requests still running after the shutdown grace period were cut off"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_per_address_and_give_places_back() {
        let limits = ListenerLimits {
            max_connections: 3,
            max_connections_per_ip: 2,
            exempt: vec!["10.0.0.1/32".parse().unwrap()],
            ..ListenerLimits::default()
        };
        let table = Arc::new(PerIp::default());
        let counters = Arc::new(ListenerCounters::default());
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let a1 = admit(&limits, &table, &counters, a).unwrap();
        let _a2 = admit(&limits, &table, &counters, a).unwrap();
        assert!(
            admit(&limits, &table, &counters, a).is_none(),
            "a's share is full"
        );
        let _b1 = admit(&limits, &table, &counters, b).unwrap();
        assert!(
            admit(&limits, &table, &counters, b).is_none(),
            "the listener is full"
        );
        assert_eq!(counters.refused(), (1, 1));
        drop(a1);
        assert_eq!(counters.open(), 2);
        let _proxy = admit(&limits, &table, &counters, "10.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(counters.open(), 3);
        assert_eq!(table.0.lock().unwrap().get(&a), Some(&1));
    }
}
