//! The operator's dashboard: `/admin` on the operations listener, off unless `[ops] admin_token`
//! is set.
//!
//! Server-rendered HTML (maud), one stylesheet served from the binary, no script: it works in
//! any browser and on a phone. A login is the admin token; a session is an HttpOnly,
//! SameSite=Strict cookie (Secure in production) with an absolute expiry, and every form carries
//! the session's CSRF token. The three actions an on-call engineer needs are one button each:
//! replay an event, retry a delivery, reconcile a payment.

mod pages;
mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use malipo_core::{DeliveryId, EventId, PaymentId, Secret};
use serde::Deserialize;

pub(crate) use session::Sessions;
use session::{csrf_matches, Session};

use crate::AppState;

/// How the dashboard is set up.
#[derive(Debug, Clone)]
pub struct DashboardSettings {
    /// The login token.
    pub token: Secret<String>,
    /// How long a login lasts.
    pub session_ttl: Duration,
    /// Whether the session cookie is `Secure` (production).
    pub secure_cookies: bool,
}

/// The dashboard's state: the gateway's, and the sessions.
#[derive(Clone)]
pub(crate) struct Dash {
    pub state: AppState,
    pub sessions: Arc<Sessions>,
}

/// The `/admin` routes.
pub(crate) fn router(state: AppState, settings: &DashboardSettings) -> Router {
    let dash = Dash {
        state,
        sessions: Arc::new(Sessions::new(
            settings.token.clone(),
            settings.session_ttl,
            settings.secure_cookies,
        )),
    };
    let private = Router::new()
        .route("/admin", get(overview))
        .route("/admin/payments", get(payments))
        .route("/admin/payments/{id}", get(payment))
        .route("/admin/payments/{id}/reconcile", post(reconcile))
        .route("/admin/events", get(events))
        .route("/admin/events/{id}", get(event))
        .route("/admin/events/{id}/replay", post(replay))
        .route("/admin/deliveries", get(deliveries))
        .route("/admin/deliveries/{id}/retry", post(retry))
        .route("/admin/keys", get(keys))
        .route("/admin/logout", post(logout))
        .route_layer(axum::middleware::from_fn_with_state(
            dash.clone(),
            require_session,
        ));
    Router::new()
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/style.css", get(style))
        .merge(private)
        .with_state(dash)
}

/// Pages and actions need a live session; without one, the login page.
async fn require_session(State(dash): State<Dash>, mut req: Request, next: Next) -> Response {
    match dash.sessions.of(req.headers()) {
        Some(session) => {
            req.extensions_mut().insert(session);
            let mut response = next.run(req).await;
            // Pages show customer data: never from a shared cache, never in the history's cache.
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                "no-store".parse().expect("constant header"),
            );
            response
        }
        None => Redirect::to("/admin/login").into_response(),
    }
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], pages::STYLE)
}

async fn login_page() -> Html<String> {
    Html(pages::login(None).into_string())
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(dash): State<Dash>, Form(form): Form<LoginForm>) -> Response {
    if !dash.sessions.token_matches(form.token.trim()) {
        // Slows guessing down; the answer says nothing of how close the guess was.
        tokio::time::sleep(Duration::from_millis(300)).await;
        tracing::warn!("dashboard: a login with a wrong token was refused");
        return (
            StatusCode::UNAUTHORIZED,
            Html(pages::login(Some("That token is not the admin token.")).into_string()),
        )
            .into_response();
    }
    let cookie = dash.sessions.start();
    tracing::info!("dashboard: an operator logged in");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/admin")).into_response()
}

/// A form that changes something: only its CSRF token.
#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf: String,
}

/// The session of a form that carried its CSRF token. As an extractor (the last argument of an
/// action), it refuses a form without the session's token with 403, before the action runs.
struct Checked(Session);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Checked {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let Some(session) = req.extensions().get::<Session>().cloned() else {
            return Err(Redirect::to("/admin/login").into_response());
        };
        let Form(form) = Form::<ActionForm>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if csrf_matches(&session, &form.csrf) {
            return Ok(Checked(session));
        }
        tracing::warn!("dashboard: a form without its session's CSRF token was refused");
        let page = pages::message(
            "Refused",
            "This form is not from this session. Reload the page and try again.",
        );
        Err((StatusCode::FORBIDDEN, Html(page.into_string())).into_response())
    }
}

async fn logout(State(dash): State<Dash>, headers: HeaderMap, _: Checked) -> Response {
    let cookie = dash.sessions.end(&headers);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/admin/login")).into_response()
}

async fn overview(State(dash): State<Dash>, axum::Extension(session): axum::Extension<Session>) -> Response {
    pages::overview(&dash.state, &session).await
}

/// The payments page's filters, as its form sends them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PaymentQuery {
    pub state: Option<String>,
    pub provider: Option<String>,
    pub account: Option<String>,
    pub q: Option<String>,
    pub since: Option<String>,
    pub before: Option<String>,
}

async fn payments(
    State(dash): State<Dash>,
    axum::Extension(session): axum::Extension<Session>,
    Query(query): Query<PaymentQuery>,
) -> Response {
    pages::payments(&dash.state, &session, query).await
}

async fn payment(
    State(dash): State<Dash>,
    axum::Extension(session): axum::Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    match id.parse::<PaymentId>() {
        Ok(id) => pages::payment(&dash.state, &session, id, None).await,
        Err(_) => pages::not_found("payment", &session),
    }
}

async fn reconcile(State(dash): State<Dash>, Path(id): Path<String>, Checked(session): Checked) -> Response {
    let Ok(id) = id.parse::<PaymentId>() else {
        return pages::not_found("payment", &session);
    };
    let said = match crate::reconcile::reconcile_payment(&dash.state, id).await {
        Ok(done) => format!("Asked the provider: the payment is {}.", done.payment().state),
        Err(e) => format!("Could not reconcile: {e}"),
    };
    pages::payment(&dash.state, &session, id, Some(said)).await
}

/// The events page's filters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EventQuery {
    pub status: Option<String>,
    pub before: Option<String>,
}

async fn events(
    State(dash): State<Dash>,
    axum::Extension(session): axum::Extension<Session>,
    Query(query): Query<EventQuery>,
) -> Response {
    pages::events(&dash.state, &session, query).await
}

async fn event(
    State(dash): State<Dash>,
    axum::Extension(session): axum::Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    match id.parse::<EventId>() {
        Ok(id) => pages::event(&dash.state, &session, id, None).await,
        Err(_) => pages::not_found("event", &session),
    }
}

async fn replay(State(dash): State<Dash>, Path(id): Path<String>, Checked(session): Checked) -> Response {
    let Ok(parsed) = id.parse::<EventId>() else {
        return pages::not_found("event", &session);
    };
    let said = match crate::api::replay(&dash.state, &id).await {
        Ok(r) if r.result == "queued" => "Queued for processing again.".to_string(),
        Ok(_) => "Already waiting for processing; nothing changed.".to_string(),
        Err(e) => format!("Could not replay: {e}"),
    };
    pages::event(&dash.state, &session, parsed, Some(said)).await
}

/// The deliveries page's filter.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DeliveryQuery {
    pub status: Option<String>,
}

async fn deliveries(
    State(dash): State<Dash>,
    axum::Extension(session): axum::Extension<Session>,
    Query(query): Query<DeliveryQuery>,
) -> Response {
    pages::deliveries(&dash.state, &session, query, None).await
}

async fn retry(State(dash): State<Dash>, Path(id): Path<String>, Checked(session): Checked) -> Response {
    let said = match id.parse::<DeliveryId>() {
        Ok(parsed) => match crate::delivery::retry_delivery(&dash.state, parsed).await {
            Ok(_) => format!("{id} is queued to be sent again now."),
            Err(e) => format!("Could not retry {id}: {e}"),
        },
        Err(_) => format!("{id} is not a delivery id."),
    };
    pages::deliveries(&dash.state, &session, DeliveryQuery::default(), Some(said)).await
}

async fn keys(State(dash): State<Dash>, axum::Extension(session): axum::Extension<Session>) -> Response {
    pages::keys(&dash.state, &session).await
}
