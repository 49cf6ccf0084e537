//! Verification of inbound provider requests as a tower layer any axum app can mount.
//!
//! Provider callbacks are money moving: the guard makes sure that what reaches a handler really
//! came from the provider, before a byte of it is parsed. For each request, in this order:
//!
//! 1. **Client address** ([`ClientIpResolver`], DESIGN invariant 4): the socket peer, unless the
//!    peer is a trusted proxy; then `X-Forwarded-For` is walked from the right to the first
//!    address that is not a trusted proxy. Put in the extensions as [`ClientIp`].
//! 2. **Source allowlist** ([`IpAllowlist`]): Safaricom's or Paystack's published addresses by
//!    default; **403** otherwise.
//! 3. **Rate limit** ([`RateLimit`], per client address, per provider): **429** with
//!    `Retry-After`.
//! 4. **Callback token** (M-Pesa routes with `{token}`, DESIGN invariant 3, [`CallbackTokens`]):
//!    **404** when unknown or issued for another route (the path segment before the token,
//!    [`CallbackRoute`]); the payment goes in the extensions as [`CallbackPayment`].
//! 5. **Body limit** (64 KiB by default): **413** as soon as the body is known to be too large,
//!    from `Content-Length` or while streaming a chunked body, never buffering it whole; **400**
//!    when it cannot be read.
//! 6. **Paystack signature**: `X-Paystack-Signature` checked on the raw bytes; **401** when
//!    missing or wrong.
//!
//! A request that passes goes on with its body rebuilt from the checked bytes, which are also in
//! the extensions as [`VerifiedBody`]. A refused one is answered by the layer itself with
//! `{"code": "<reason>", "detail": "<what is wrong>"}` ([`Rejection`]), counted in
//! [`GuardMetrics`] and logged once at WARN with reason, provider, client address and route
//! pattern: never the body, a signature or a key.
//!
//! # Mounting
//!
//! Build [`Guards`] once from a [`GuardConfig`], take one layer per kind of route, and mount it
//! with `route_layer` (so that a path that matches no route stays a plain 404). Serve the app with
//! `into_make_service_with_connect_info::<SocketAddr>()`: the guard needs the peer address and
//! refuses requests without it.
//!
//! ```
//! use std::net::SocketAddr;
//!
//! use axum::routing::post;
//! use axum::{Extension, Router};
//! use malipo_core::Secret;
//! use malipo_guard::{CallbackPayment, CallbackTokens, ClientIp, GuardConfig, Guards, VerifiedBody};
//!
//! async fn paystack(Extension(VerifiedBody(raw)): Extension<VerifiedBody>) -> &'static str {
//!     // `raw` is exactly what Paystack signed; parse it now.
//!     let _ = raw;
//!     "ok"
//! }
//!
//! async fn stk(
//!     Extension(CallbackPayment(payment)): Extension<CallbackPayment>,
//!     Extension(ClientIp(from)): Extension<ClientIp>,
//!     body: axum::body::Bytes,
//! ) -> &'static str {
//!     let _ = (payment, from, body);
//!     r#"{"ResultCode":0,"ResultDesc":"Accepted"}"#
//! }
//!
//! let guards = Guards::new(GuardConfig::default());
//! let tokens = CallbackTokens::new(Secret::new(vec![0x42; 32]));
//! let app: Router = Router::new()
//!     .route("/webhooks/paystack", post(paystack))
//!     .route_layer(guards.paystack(Secret::new("sk_test_xxx".to_string())))
//!     .merge(
//!         Router::new()
//!             .route("/callbacks/mpesa/stk/{token}", post(stk))
//!             .route_layer(guards.mpesa_callback(tokens.clone())),
//!     );
//! let _service = app.into_make_service_with_connect_info::<SocketAddr>();
//!
//! // When starting an STK push, give Daraja this payment's own URL:
//! let payment = malipo_core::PaymentId::new();
//! let url = format!("https://pay.example.com/callbacks/mpesa/stk/{}", tokens.issue_for(malipo_guard::CallbackRoute::Stk, payment));
//! # assert!(url.len() > 64);
//! ```

mod allowlist;
mod body;
mod client_ip;
mod config;
mod error;
mod layer;
mod log_budget;
mod metrics;
mod net;
mod rate_limit;
mod rejection;
mod token;

pub use allowlist::{IpAllowlist, PAYSTACK_WEBHOOK_IPS, SAFARICOM_CALLBACK_IPS};
pub use body::VerifiedBody;
pub use client_ip::{parse_forwarded_entry, ClientIp, ClientIpResolver};
pub use config::{GuardConfig, Guards, ProviderGuardConfig, SourceCheck, DEFAULT_BODY_LIMIT};
pub use error::GuardError;
pub use layer::{CallbackPayment, GuardLayer, GuardService, TOKEN_PARAM};
pub use log_budget::REFUSAL_LINES_PER_SECOND;
pub use metrics::GuardMetrics;
pub use net::parse_net;
pub use rate_limit::{IpRateLimiter, RateLimit};
pub use rejection::{RejectReason, Rejection};
pub use token::{CallbackRoute, CallbackTokens, MIN_TOKEN_KEY_BYTES, TOKEN_LEN};
