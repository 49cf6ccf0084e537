//! Each error class, retries where safe, none where not, and no secret in any error.

use std::time::Duration;

use malipo_core::Secret;
use malipo_mpesa::{MpesaClient, MpesaError, StkPushRequest, StkQueryOutcome};
use malipo_sim::mpesa::{Endpoint, Fault};

use crate::support::{kes, phone, settings_for, world, World, CREDENTIAL};

fn push(w: &World) -> StkPushRequest {
    StkPushRequest::paybill(kes(1), phone("0708374149"), w.receiver.url("stk"), "A1", "x")
}

/// Every secret the client holds, and the token it was issued.
async fn secrets(w: &World) -> Vec<String> {
    let c = w.sim.config();
    let mut all = vec![
        c.consumer_key.clone(),
        c.consumer_secret.clone(),
        c.passkey.clone(),
        CREDENTIAL.to_string(),
    ];
    if let Ok(t) = w.client.access_token().await {
        all.push(t.token.expose().clone());
    }
    all
}

fn assert_no_secret(err: &MpesaError, secrets: &[String]) {
    let mut printed = format!("{err}\n{err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        printed.push_str(&format!("\n{s}\n{s:?}"));
        source = s.source();
    }
    for secret in secrets {
        assert!(
            !printed.contains(secret.as_str()),
            "a secret leaked into: {printed}"
        );
    }
}

#[tokio::test]
async fn daraja_error_bodies_keep_request_id_code_and_message() {
    let w = world().await;
    w.sim.inject_fault(
        Endpoint::StkPush,
        Fault::bad_request("Bad Request - Invalid PhoneNumber"),
    );
    let err = w.client.stk_push(&push(&w)).await.unwrap_err();
    match &err {
        MpesaError::Api {
            status,
            request_id,
            error_code,
            error_message,
            ..
        } => {
            assert_eq!(*status, 400);
            assert!(request_id.as_deref().is_some_and(|r| !r.is_empty()));
            assert_eq!(error_code, "400.002.02");
            assert_eq!(error_message, "Bad Request - Invalid PhoneNumber");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("400.002.02"));
    assert!(!err.outcome_unknown());
    assert_no_secret(&err, &secrets(&w).await);
}

#[tokio::test]
async fn payments_are_never_retried_but_queries_are() {
    let mut w = world().await;
    w.sim.inject_fault(Endpoint::StkPush, Fault::system_busy());
    let err = w.client.stk_push(&push(&w)).await.unwrap_err();
    assert_eq!(err.error_code(), Some("500.003.02"));
    assert_eq!(w.sim.requests(Endpoint::StkPush), 1, "a push is sent once");

    let accepted = w.client.stk_push(&push(&w)).await.unwrap();
    w.receiver.next().await;
    w.sim.inject_fault(Endpoint::StkQuery, Fault::system_busy());
    w.sim.inject_fault(Endpoint::StkQuery, Fault::spike_arrest());
    let outcome = w.client.stk_query(&accepted.checkout_request_id).await.unwrap();
    assert!(matches!(outcome, StkQueryOutcome::Completed(_)));
    assert_eq!(
        w.sim.requests(Endpoint::StkQuery),
        3,
        "two transient failures, then success"
    );

    for _ in 0..3 {
        w.sim.inject_fault(Endpoint::StkQuery, Fault::system_busy());
    }
    let err = w
        .client
        .stk_query(&accepted.checkout_request_id)
        .await
        .unwrap_err();
    assert_eq!(
        err.error_code(),
        Some("500.003.02"),
        "gives up after max_attempts"
    );
}

#[tokio::test]
async fn token_fetch_is_retried_on_transient_failures() {
    let w = world().await;
    w.sim.inject_fault(
        Endpoint::Token,
        Fault::Raw {
            status: 503,
            body: "Service Unavailable".into(),
        },
    );
    w.client.access_token().await.unwrap();
    assert_eq!(w.sim.token_requests(), 2);
}

#[tokio::test]
async fn non_daraja_error_pages_are_http_errors() {
    let w = world().await;
    w.sim.inject_fault(
        Endpoint::StkPush,
        Fault::Raw {
            status: 502,
            body: "<html><body>Bad Gateway</body></html>".into(),
        },
    );
    let err = w.client.stk_push(&push(&w)).await.unwrap_err();
    match &err {
        MpesaError::Http {
            status, body_excerpt, ..
        } => {
            assert_eq!(*status, 502);
            assert!(body_excerpt.contains("Bad Gateway"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.outcome_unknown(), "a 502 may hide a processed push");
}

#[tokio::test]
async fn garbage_answers_are_decode_errors() {
    let w = world().await;
    w.sim.inject_fault(Endpoint::StkPush, Fault::Garbage);
    let err = w.client.stk_push(&push(&w)).await.unwrap_err();
    assert!(matches!(err, MpesaError::Decode { status: 200, .. }), "{err:?}");
    assert!(err.outcome_unknown());

    w.sim.inject_fault(Endpoint::Token, Fault::Garbage);
    let fresh = MpesaClient::new(settings_for(&w.sim)).unwrap();
    let err = fresh.access_token().await.unwrap_err();
    assert!(matches!(err, MpesaError::Decode { source: None, .. }), "{err:?}");
}

#[tokio::test]
async fn an_unreadable_token_answer_is_described_by_kind_and_place_never_quoted() {
    // The token is the answer's one secret: a decode error must not repeat any of it.
    let w = world().await;
    let token = "tok_3nG8sQv1LxW0pZrT7Yc2";
    for (body, kind) in [
        (
            format!(r#"{{"access_token":"{token}","expires_in":"3599""#),
            "truncated JSON at line 1 column",
        ),
        (
            format!(r#"{{"access_token":"{token}",,}}"#),
            "malformed JSON at line 1 column",
        ),
        (
            format!(r#"{{"access_token":["{token}"],"expires_in":"3599"}}"#),
            "unexpected field types or missing fields at line 1 column",
        ),
    ] {
        w.sim
            .inject_fault(Endpoint::Token, Fault::Raw { status: 200, body });
        let fresh = MpesaClient::new(settings_for(&w.sim)).unwrap();
        let err = fresh.access_token().await.unwrap_err();
        let MpesaError::Decode { detail, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(detail.starts_with(kind), "{detail}");
        assert_no_secret(&err, &[token.to_string()]);
    }
}

#[tokio::test]
async fn a_rejected_response_code_is_its_own_error() {
    let w = world().await;
    w.sim.inject_fault(Endpoint::StkPush, Fault::Raw {
        status: 200,
        body: r#"{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_1","ResponseCode":"1","ResponseDescription":"Rejected"}"#.into(),
    });
    let err = w.client.stk_push(&push(&w)).await.unwrap_err();
    assert!(
        matches!(&err, MpesaError::Rejected { response_code, .. } if response_code == "1"),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_answers_are_timeouts() {
    let w = world().await;
    let mut settings = settings_for(&w.sim);
    settings.timeout = Duration::from_millis(200);
    let client = MpesaClient::new(settings).unwrap();
    client.access_token().await.unwrap();
    w.sim
        .inject_fault(Endpoint::StkPush, Fault::Delay(Duration::from_secs(2)));
    let err = client.stk_push(&push(&w)).await.unwrap_err();
    assert!(matches!(err, MpesaError::Timeout { .. }), "{err:?}");
    assert!(err.outcome_unknown());
}

#[tokio::test]
async fn an_unreachable_daraja_is_a_transport_error() {
    let w = world().await;
    let down = malipo_sim::Down::new().unwrap();
    let mut settings = settings_for(&w.sim);
    settings.base_url = format!("http://{}/", down.addr()).parse().unwrap();
    settings.retry = malipo_mpesa::RetryPolicy::NONE;
    let client = MpesaClient::new(settings).unwrap();
    let err = client.access_token().await.unwrap_err();
    assert!(matches!(err, MpesaError::Transport { .. }), "{err:?}");
    assert_no_secret(&err, &secrets(&w).await);
    // Regression: a push that failed at its token fetch was reported as "may have reached
    // Daraja" and left pending for an hour; the push itself was never sent.
    let err = client.stk_push(&push(&w)).await.unwrap_err();
    assert_eq!(err.operation(), Some("token"), "{err:?}");
    assert!(!err.outcome_unknown(), "{err:?}");
}

/// A connection refused sent nothing; one closed after the request may have been processed.
#[tokio::test]
async fn only_a_failure_after_sending_leaves_the_outcome_unknown() {
    let down = malipo_sim::Down::new().unwrap();
    let refused = reqwest::get(format!("http://{}/", down.addr()))
        .await
        .unwrap_err();
    let err = MpesaError::Transport {
        operation: "stk_push",
        source: refused,
    };
    assert!(!err.outcome_unknown(), "{err:?}");

    // A server that reads the request and hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt as _;
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = socket.read(&mut buf).await;
    });
    let cut = reqwest::Client::new()
        .post(format!("http://{addr}/"))
        .body("{}")
        .send()
        .await
        .unwrap_err();
    let err = MpesaError::Transport {
        operation: "stk_push",
        source: cut,
    };
    assert!(err.outcome_unknown(), "{err:?}");
}

#[tokio::test]
async fn wrong_credentials_and_passkey_are_api_errors_without_secrets() {
    let w = world().await;
    let all_secrets = secrets(&w).await;

    let mut bad_secret = settings_for(&w.sim);
    bad_secret.consumer_secret = Secret::new("wrong-secret-value".into());
    let err = MpesaClient::new(bad_secret)
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), Some("400.008.01"), "{err}");
    let mut with_wrong = all_secrets.clone();
    with_wrong.push("wrong-secret-value".into());
    assert_no_secret(&err, &with_wrong);

    let mut bad_passkey = settings_for(&w.sim);
    bad_passkey.passkey = Secret::new("not-the-passkey".into());
    let client = MpesaClient::new(bad_passkey).unwrap();
    let err = client.stk_push(&push(&w)).await.unwrap_err();
    assert_eq!(err.error_code(), Some("500.001.1001"));
    assert!(err.to_string().contains("Wrong credentials"), "{err}");
    let query = client.stk_query("ws_CO_1").await.unwrap_err();
    assert_eq!(
        query.error_code(),
        Some("500.001.1001"),
        "wrong credentials are not 'pending'"
    );
    assert_no_secret(&err, &all_secrets);
}

#[tokio::test]
async fn settings_and_client_debug_print_no_secret() {
    let w = world().await;
    let settings = settings_for(&w.sim);
    let printed = format!("{settings:?} {:?}", w.client);
    for secret in secrets(&w).await {
        assert!(!printed.contains(secret.as_str()), "{printed}");
    }
}
