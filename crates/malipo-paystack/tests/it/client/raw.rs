//! `Client::request`: any endpoint, with the typed methods' key handling, envelope and errors.

use malipo_paystack::{Error, Method, Transaction};
use serde_json::{json, Value};

use super::{kes, paid, sim};
use malipo_sim::paystack::SimConfig;

#[tokio::test]
async fn reaches_any_endpoint_and_decodes_data_into_the_type_asked_for() {
    let (sim, client) = sim(SimConfig::default()).await;
    paid(&sim, &client, "raw-1", kes(2_500)).await;

    let tx: Transaction = client
        .request(Method::GET, "transaction/verify/raw-1", None)
        .await
        .unwrap();
    assert!(tx.is_successful());
    assert_eq!(tx.amount(), Some(kes(2_500)));

    // A body, and a query after `?`.
    let created: Value = client
        .request(
            Method::POST,
            "/customer",
            Some(&json!({"email": "raw@example.com"})),
        )
        .await
        .unwrap();
    assert_eq!(created["email"], json!("raw@example.com"));
    let banks: Vec<Value> = client
        .request(Method::GET, "bank?country=kenya&type=mobile_money", None)
        .await
        .unwrap();
    assert!(!banks.is_empty());
    assert!(
        banks.iter().all(|b| b["type"] == json!("mobile_money")),
        "{banks:?}"
    );

    // An answer without `data` decodes as `None` (or `()`).
    let code = tx
        .authorization
        .and_then(|a| a.authorization_code)
        .expect("an authorization");
    let body = json!({"authorization_code": code});
    let nothing: Option<Value> = client
        .request(Method::POST, "customer/authorization/deactivate", Some(&body))
        .await
        .unwrap();
    assert_eq!(nothing, None);
    client
        .request::<()>(Method::POST, "customer/authorization/deactivate", Some(&body))
        .await
        .unwrap();
}

#[tokio::test]
async fn refusals_and_shape_errors_are_the_usual_errors() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let err = client
        .request::<Value>(Method::GET, "transaction/verify/nope", None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.message(), Some("Transaction reference not found"));
    assert!(err.to_string().contains("GET (Client::request)"), "{err}");

    // `data` is a list; asking for a number is a decoding error that keeps the status.
    let err = client
        .request::<u64>(Method::GET, "transaction", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
}

#[tokio::test]
async fn paths_that_could_leave_the_base_url_are_refused_before_sending() {
    let (sim, client) = sim(SimConfig::default()).await;
    for path in [
        "",
        "/",
        "https://evil.example/steal",
        "//evil.example/steal",
        "customer/../transaction",
        "./customer",
    ] {
        let err = client
            .request::<Value>(Method::GET, path, None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{path:?}: {err:?}");
        assert!(err.to_string().contains("the path"), "{err}");
    }
    assert!(sim.api_calls().is_empty(), "nothing was sent");
}
