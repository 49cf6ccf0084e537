use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams};
use axum::http::request::Parts;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use malipo_core::{PaymentId, Provider, Secret};
use tower::{Layer, Service};

use crate::body::read_limited;
use crate::{
    CallbackRoute, CallbackTokens, ClientIp, ClientIpResolver, GuardMetrics, IpAllowlist, IpRateLimiter,
    RejectReason, Rejection, VerifiedBody,
};

/// The payment whose callback URL token the request carried (M-Pesa STK, B2C and other result
/// callbacks). Put in the request extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallbackPayment(pub PaymentId);

/// The name of the path parameter holding the callback token: mount token routes as
/// `/callbacks/mpesa/stk/{token}`.
pub const TOKEN_PARAM: &str = "token";

/// What proves a request authentic, beyond its source address.
#[derive(Debug, Clone)]
pub(crate) enum Verification {
    /// Paystack's HMAC-SHA512 of the raw body with the secret key.
    PaystackSignature(Secret<String>),
    /// A callback token (DESIGN invariant 3) in the path parameter [`TOKEN_PARAM`].
    CallbackToken(CallbackTokens),
    /// Nothing but the source allowlist (Daraja C2B validation and confirmation: one URL per
    /// shortcode, so there is no per-request token).
    SourceOnly,
}

#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) provider: Provider,
    pub(crate) verification: Verification,
    pub(crate) body_limit: usize,
    pub(crate) resolver: ClientIpResolver,
    pub(crate) allowlist: Option<IpAllowlist>,
    pub(crate) rate_limiter: Option<Arc<IpRateLimiter>>,
    pub(crate) metrics: Arc<GuardMetrics>,
}

/// The guard as a tower [`Layer`]. Build it with [`crate::Guards`]; mount it with
/// `Router::route_layer` so that an unknown path stays a 404.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    settings: Arc<Settings>,
}

impl GuardLayer {
    pub(crate) fn new(settings: Settings) -> Self {
        GuardLayer {
            settings: Arc::new(settings),
        }
    }

    /// The provider this layer guards.
    pub fn provider(&self) -> Provider {
        self.settings.provider
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            settings: Arc::clone(&self.settings),
            inner,
        }
    }
}

/// The service made by [`GuardLayer`]: checks a request, then hands it on with [`ClientIp`],
/// [`VerifiedBody`] and (token routes) [`CallbackPayment`] in its extensions, or answers the
/// [`Rejection`] itself without calling the inner service.
#[derive(Debug, Clone)]
pub struct GuardService<S> {
    settings: Arc<Settings>,
    inner: S,
}

impl<S> Service<Request<Body>> for GuardService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone is not ready; keep the instance that was polled ready and leave the clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let settings = Arc::clone(&self.settings);
        Box::pin(async move {
            match settings.check(request).await {
                Ok(request) => {
                    settings.metrics.record_accepted(settings.provider);
                    inner.call(request).await
                }
                Err(refused) => {
                    settings.report(&refused);
                    Ok(refused.rejection.into_response())
                }
            }
        })
    }
}

/// A rejection with what the log line needs.
pub(crate) struct Refused {
    rejection: Rejection,
    client_ip: Option<IpAddr>,
    path: String,
}

impl Settings {
    async fn check(&self, request: Request<Body>) -> Result<Request<Body>, Refused> {
        let (mut parts, body) = request.into_parts();
        // Log the route pattern, not the raw path: on token routes the raw path holds a valid
        // token, which is a capability.
        let path = match parts.extensions.get::<MatchedPath>() {
            Some(matched) => matched.as_str().to_string(),
            None => parts.uri.path().to_string(),
        };
        let refuse = |rejection: Rejection, client_ip: Option<IpAddr>| Refused {
            rejection,
            client_ip,
            path: path.clone(),
        };

        // The extractor also reads axum's `MockConnectInfo`, which tests use.
        let Ok(ConnectInfo(peer)) = ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, &()).await
        else {
            return Err(refuse(
                Rejection::new(
                    RejectReason::PeerUnknown,
                    "the server could not determine the client address",
                ),
                None,
            ));
        };
        let client = self.resolver.resolve(peer, &parts.headers);
        let fail = |rejection: Rejection| refuse(rejection, Some(client));

        if let Some(allowlist) = &self.allowlist {
            if !allowlist.contains(client) {
                return Err(fail(Rejection::new(
                    RejectReason::SourceNotAllowed,
                    format!(
                        "requests from {client} are not accepted: it is not a published {} \
                         source address",
                        self.provider
                    ),
                )));
            }
        }
        if let Some(limiter) = &self.rate_limiter {
            limiter.check(client).map_err(&fail)?;
        }
        let payment = match &self.verification {
            Verification::CallbackToken(tokens) => {
                Some(token_payment(&mut parts, tokens).await.map_err(&fail)?)
            }
            _ => None,
        };

        let bytes = read_limited(&parts.headers, body, self.body_limit)
            .await
            .map_err(&fail)?;

        if let Verification::PaystackSignature(secret) = &self.verification {
            let header = parts
                .headers
                .get(malipo_paystack::SIGNATURE_HEADER)
                .map(|v| v.as_bytes());
            if let Err(e) = malipo_paystack::verify_signature(&bytes, header, secret) {
                let reason = match e {
                    malipo_paystack::SignatureError::Missing => RejectReason::SignatureMissing,
                    malipo_paystack::SignatureError::Malformed => RejectReason::SignatureMalformed,
                    malipo_paystack::SignatureError::Mismatch => RejectReason::SignatureMismatch,
                };
                return Err(fail(Rejection::new(reason, e.to_string())));
            }
        }

        parts.extensions.insert(ClientIp(client));
        if let Some(payment) = payment {
            parts.extensions.insert(CallbackPayment(payment));
        }
        parts.extensions.insert(VerifiedBody(bytes.clone()));
        Ok(Request::from_parts(parts, Body::from(bytes)))
    }

    /// Counts the rejection and logs it once, within the shared budget of
    /// [`REFUSAL_LINES_PER_SECOND`](crate::REFUSAL_LINES_PER_SECOND) (a line reports how many
    /// refusals went unlogged before it). The line names the reason, provider, client address
    /// and route; never the body, a header value or a key.
    fn report(&self, refused: &Refused) {
        let reason = refused.rejection.reason();
        self.metrics.record_rejected(self.provider, reason);
        let client_ip = refused
            .client_ip
            .map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        if reason == RejectReason::PeerUnknown {
            tracing::error!(
                reason = reason.code(),
                provider = %self.provider,
                path = %refused.path,
                "inbound callback refused: no ConnectInfo<SocketAddr> on the request; serve the \
                 app with into_make_service_with_connect_info::<SocketAddr>()"
            );
        } else if let Some(suppressed) = self.metrics.log_budget.admit() {
            tracing::warn!(
                reason = reason.code(),
                provider = %self.provider,
                client_ip = %client_ip,
                path = %refused.path,
                detail = refused.rejection.detail(),
                suppressed_since_last = suppressed,
                "inbound callback refused"
            );
        }
    }
}

async fn token_payment(parts: &mut Parts, tokens: &CallbackTokens) -> Result<PaymentId, Rejection> {
    let unknown = || {
        Rejection::new(
            RejectReason::UnknownToken,
            "the callback URL token is unknown: this server issued no such callback URL",
        )
    };
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| unknown())?;
    let token = params
        .iter()
        .find_map(|(name, value)| (name == TOKEN_PARAM).then_some(value))
        .ok_or_else(unknown)?;
    // The route is the path segment before the token (`…/stk/{token}`): a token is valid on the
    // route it was issued for only.
    let route = parts
        .uri
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .nth(1)
        .and_then(CallbackRoute::from_segment)
        .ok_or_else(unknown)?;
    tokens.verify_for(route, token).ok_or_else(unknown)
}
