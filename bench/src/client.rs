//! One keep-alive HTTP/1.1 connection of the load generator, reopened when the server closes it.

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::Outgoing;

/// Where the requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's loopback address.
    pub addr: SocketAddr,
    /// The path of requests that do not bring their own, e.g. `/webhooks/paystack`.
    pub path: String,
}

/// Why a request got no HTTP answer.
#[derive(Debug)]
pub enum TransportError {
    /// The TCP connection or the HTTP handshake failed.
    Connect(std::io::Error),
    /// The request or its response broke off.
    Http(hyper::Error),
    /// The request could not be built (a bad signature header).
    Build(http::Error),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Connect(e) => write!(f, "connect: {e}"),
            TransportError::Http(e) => write!(f, "http: {e}"),
            TransportError::Build(e) => write!(f, "request: {e}"),
        }
    }
}

/// A connection that is opened lazily and again after the server closes it (gunicorn's sync
/// workers close after every response; malipo and axum keep it open).
pub struct Client {
    target: Target,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Connections opened so far.
    pub connects: u64,
}

impl Client {
    /// A client of `target`; nothing is opened until the first request.
    pub fn new(target: Target) -> Self {
        let host = HeaderValue::from_str(&target.addr.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("127.0.0.1"));
        Client {
            target,
            host,
            sender: None,
            connects: 0,
        }
    }

    async fn connect(&mut self) -> Result<SendRequest<Full<Bytes>>, TransportError> {
        let stream = TcpStream::connect(self.target.addr)
            .await
            .map_err(TransportError::Connect)?;
        stream.set_nodelay(true).map_err(TransportError::Connect)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(TransportError::Http)?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or the sender is dropped.
            let _ = conn.await;
        });
        self.connects += 1;
        Ok(sender)
    }

    fn request(&self, out: Outgoing<'_>) -> Result<Request<Full<Bytes>>, TransportError> {
        let builder = Request::builder().method(Method::POST);
        let builder = match out.path {
            Some(path) => builder.uri(path),
            None => builder.uri(self.target.path.as_str()),
        };
        let builder = builder
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, "malipo-bench");
        let builder = match out.signature {
            Some(signature) => builder.header(malipo_paystack::SIGNATURE_HEADER, signature),
            None => builder,
        };
        builder.body(Full::new(out.body)).map_err(TransportError::Build)
    }

    /// Sends one request and reads the whole answer; returns its status.
    ///
    /// A request the connection closed before sending (the server hung up between two requests)
    /// is sent again once on a new connection; a request that may have reached the server never
    /// is, so a count of answers is never inflated.
    pub async fn post(&mut self, out: Outgoing<'_>) -> Result<StatusCode, TransportError> {
        let mut request = self.request(out)?;
        let mut retried = false;
        let response = loop {
            let mut sender = match self.sender.take() {
                Some(s) if !s.is_closed() => s,
                _ => self.connect().await?,
            };
            if sender.ready().await.is_err() {
                if retried {
                    return Err(TransportError::Connect(
                        std::io::ErrorKind::ConnectionReset.into(),
                    ));
                }
                retried = true;
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    self.sender = Some(sender);
                    break response;
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if !retried => {
                        retried = true;
                        request = unsent;
                    }
                    _ => return Err(TransportError::Http(e.into_error())),
                },
            }
        };
        let status = response.status();
        let closes = response
            .headers()
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        response
            .into_body()
            .collect()
            .await
            .map_err(TransportError::Http)?;
        if closes {
            self.sender = None;
        }
        Ok(status)
    }

    /// Drops the connection (after a timeout, whose answer would otherwise arrive late).
    pub fn reset(&mut self) {
        self.sender = None;
    }
}
