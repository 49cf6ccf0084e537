//! The token cache: one refresh for many callers, refresh on expiry, retry on 404.001.03.

use std::time::Duration;

use malipo_mpesa::{MpesaClient, StkPushRequest};
use malipo_sim::mpesa::{Endpoint, SimConfig};

use crate::support::{kes, phone, settings_for, sim_config, world, world_with};

#[tokio::test]
async fn a_hundred_concurrent_calls_fetch_one_token() {
    let mut w = world().await;
    let push = StkPushRequest::paybill(kes(1), phone("0708374149"), w.receiver.url("stk"), "A1", "x");
    // The push itself fetches the first token; start from a fresh client for the concurrency part.
    let accepted = w.client.stk_push(&push).await.unwrap();
    w.receiver.next().await;
    let client = MpesaClient::new(settings_for(&w.sim)).unwrap();
    let before = w.sim.token_requests();
    let calls = (0..100).map(|_| {
        let client = client.clone();
        let id = accepted.checkout_request_id.clone();
        tokio::spawn(async move { client.stk_query(&id).await })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    assert_eq!(w.sim.token_requests() - before, 1, "exactly one token request");
    assert_eq!(w.sim.requests(Endpoint::StkQuery), 100);
}

#[tokio::test]
async fn an_expired_token_mid_run_is_refreshed_once_and_the_call_retried() {
    let mut w = world().await;
    let push = StkPushRequest::paybill(kes(2), phone("0708374149"), w.receiver.url("stk"), "A1", "x");
    w.client.stk_push(&push).await.unwrap();
    w.receiver.next().await;
    assert_eq!(w.sim.token_requests(), 1);

    w.sim.expire_tokens();
    let second = w.client.stk_push(&push).await.unwrap();
    assert_eq!(w.sim.token_requests(), 2, "one refresh");
    assert_eq!(w.sim.requests(Endpoint::StkPush), 3, "refused once, retried once");
    let got = w.receiver.next().await;
    assert_eq!(
        got.callback.dedup_key(),
        format!("stk:{}", second.checkout_request_id)
    );
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    let config = SimConfig {
        token_ttl: Duration::from_secs(1),
        ..sim_config()
    };
    let w = world_with(config).await;
    let first = w.client.access_token().await.unwrap();
    assert_eq!(
        w.client.access_token().await.unwrap().token.expose(),
        first.token.expose()
    );
    assert_eq!(w.sim.token_requests(), 1);
    // A one-second token is refreshed half-way through its life.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let second = w.client.access_token().await.unwrap();
    assert_ne!(second.token.expose(), first.token.expose());
    assert_eq!(w.sim.token_requests(), 2);
}

#[tokio::test]
async fn expires_in_as_a_number_is_accepted() {
    let config = SimConfig {
        token_expires_in_as_number: true,
        ..sim_config()
    };
    let w = world_with(config).await;
    let token = w.client.access_token().await.unwrap();
    let life = token.expires_at - chrono::Utc::now();
    assert!(life > chrono::Duration::minutes(55), "{life}");
    assert!(!format!("{token:?}").contains(token.token.expose().as_str()));
}
