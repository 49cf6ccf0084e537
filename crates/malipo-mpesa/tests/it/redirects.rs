//! A redirecting Daraja (or something in front of it) never receives the request again: the
//! client does not follow redirects, so the Basic credentials and the STK password stay put.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use malipo_core::Secret;
use malipo_mpesa::{MpesaClient, MpesaSettings};

#[tokio::test]
async fn a_redirect_is_an_error_and_its_target_is_never_called() {
    let stolen = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counter = stolen.clone();
    let app = Router::new()
        .route(
            "/steal",
            axum::routing::any(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { "{}" }
            }),
        )
        .fallback(move || async move {
            (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, format!("http://{addr}/steal"))],
            )
                .into_response()
        });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let settings = MpesaSettings::new(
        format!("http://{addr}").parse().unwrap(),
        Secret::new("key-fake".to_string()),
        Secret::new("secret-fake".to_string()),
        Secret::new("passkey-fake".to_string()),
        "174379".to_string(),
    );
    let client = MpesaClient::new(settings).unwrap();
    let err = client.access_token().await.unwrap_err();
    assert!(err.to_string().contains("307"), "the redirect is reported: {err}");
    assert_eq!(stolen.load(Ordering::SeqCst), 0, "the redirect target was called");
}
