//! The listener's limits over real sockets: slow clients are cut off, caps hold, good clients
//! are still served.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use malipo_gateway::listener::{self, ListenerCounters, ListenerLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

struct Server {
    addr: SocketAddr,
    counters: Arc<ListenerCounters>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(limits: ListenerLimits) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/ok", get(|| async { "ok" }));
    let counters = Arc::new(ListenerCounters::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(listener::serve(listener, app, limits, counters.clone(), async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        counters,
        stop: Some(stop),
    }
}

async fn connect_from(local: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Whether the server closed `stream` (end of file or a reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar answer before closing is fine; keep reading to the end.
            Ok(Ok(_)) => continue,
        }
    }
}

async fn get_ok(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_good_ones_still_served() {
    let server = start(ListenerLimits {
        header_read_timeout: Duration::from_secs(1),
        max_connections: 1_000,
        max_connections_per_ip: 600,
        ..ListenerLimits::default()
    })
    .await;
    // 500 connections that send half a header and then nothing.
    let mut slow = Vec::new();
    for _ in 0..500 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Le")
            .await
            .unwrap();
        slow.push(s);
    }
    // A good request is still answered while they hang on.
    let started = Instant::now();
    let answer = get_ok(server.addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the good request waited {:?} behind the slow ones",
        started.elapsed()
    );
    // After the header timeout every slow connection is closed by the server.
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(10)).await,
            "slow connection {i} is still open"
        );
    }
    // The server's task gives its slot back just after the close the client saw.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.counters.open() != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.counters.open(), 0, "every slot was given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    let server = start(ListenerLimits {
        max_connections: 100,
        max_connections_per_ip: 5,
        ..ListenerLimits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from("127.0.0.2", server.addr).await);
    }
    // Give the server time to take them in.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.counters.open() < 5 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut sixth = connect_from("127.0.0.2", server.addr).await;
    assert!(
        closed_within(&mut sixth, Duration::from_secs(5)).await,
        "the sixth connection from one address was kept"
    );
    assert_eq!(server.counters.refused(), (0, 1));
    // Another address is served meanwhile.
    let mut other = connect_from("127.0.0.3", server.addr).await;
    other
        .write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    other.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held);
}
