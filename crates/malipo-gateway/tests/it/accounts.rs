//! Several provider accounts in one deployment, over real HTTP: a request names its account,
//! the payment goes out through that account's credentials and is asked about through them,
//! and a webhook is verified with its own account's key and moves only its account's payments.
//!
//! The simulators know one set of credentials each, so the section's own account is given
//! wrong ones here: only a payment that really went through the named account can succeed.

use malipo_core::{EventStatus, PaymentState, Provider};
use malipo_sim::mpesa::SANDBOX_PASSKEY;
use malipo_sim::paystack::TEST_SECRET_KEY;
use malipo_store::NewPayment;
use serde_json::{json, Value};

use crate::common::{client_from, ApiWorld, TestGateway};

/// `[paystack]` and `[mpesa]` whose own accounts hold credentials the simulators refuse, and
/// named accounts (`ghana`, `nairobi`) holding the ones they accept.
fn sections(ps: &reqwest::Url, mp: &reqwest::Url) -> String {
    format!(
        r#"
[paystack]
secret_key = "sk_test_not_the_simulators_key"
base_url = "{ps}"
webhook_ips = ["127.0.0.0/8"]
[paystack.accounts.ghana]
secret_key = "{TEST_SECRET_KEY}"
[mpesa]
base_url = "{mp}"
shortcode = "600000"
consumer_key = "not-the-simulators-key"
consumer_secret = "not-the-simulators-secret"
passkey = "not-the-passkey"
callback_ips = ["127.0.0.0/8"]
[mpesa.accounts.nairobi]
shortcode = "174379"
consumer_key = "sim-consumer-key"
consumer_secret = "sim-consumer-secret"
passkey = "{SANDBOX_PASSKEY}"
"#
    )
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_goes_out_and_is_settled_through_the_account_it_names() {
    let w = ApiWorld::start_with_sections(sections).await;

    // M-Pesa through `nairobi`: the simulator accepts its credentials; the push's callback
    // (token-bound) settles it.
    let push = json!({"provider": "mpesa", "phone": "0708374149", "amount": 10000,
        "account_reference": "INV-1", "description": "Order 1", "account": "nairobi"});
    let (status, text) = w.post("/v1/payments", &push, None).await;
    assert_eq!(status, 201, "{text}");
    let created = json_of(&text);
    assert_eq!(created["account"], "nairobi", "{text}");
    let id = created["id"].as_str().unwrap().to_string();
    let paid = w.wait_for_payment(&id, "succeeded").await;
    assert_eq!(paid["account"], "nairobi");
    // Its callback URL names its account.
    assert!(
        w.daraja
            .sent_callbacks()
            .iter()
            .any(|c| c.url.contains("/callbacks/mpesa/nairobi/stk/")),
        "{:?}",
        w.daraja.sent_callbacks()
    );

    // The same push through the section's own account reaches Daraja with credentials it
    // refuses: nothing goes out.
    let own = json!({"provider": "mpesa", "phone": "0708374149", "amount": 10000,
        "account_reference": "INV-2", "description": "Order 2"});
    let (status, text) = w.post("/v1/payments", &own, None).await;
    assert_ne!(
        status, 201,
        "the default account's wrong credentials were not used: {text}"
    );

    // Paystack through `ghana`.
    let checkout = json!({"provider": "paystack", "email": "ama@example.com", "amount": 50000,
        "currency": "GHS", "reference": "gh-order-1", "account": "ghana"});
    let (status, text) = w.post("/v1/payments", &checkout, None).await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(json_of(&text)["account"], "ghana");
    assert!(json_of(&text)["authorization_url"].is_string(), "{text}");
    let default_checkout = json!({"provider": "paystack", "email": "ama@example.com", "amount": 50000,
        "currency": "GHS", "reference": "gh-order-2"});
    let (status, text) = w.post("/v1/payments", &default_checkout, None).await;
    assert_eq!(status, 502, "Paystack refuses the default account's key: {text}");

    // An account the configuration does not name, or a malformed name, changes nothing.
    for (account, words) in [("lagos", "configured: default, ghana"), ("Lagos", "lowercase")] {
        let body = json!({"provider": "paystack", "email": "ama@example.com", "amount": 50000,
            "currency": "GHS", "account": account});
        let (status, text) = w.post("/v1/payments", &body, None).await;
        assert_eq!(status, 422, "{text}");
        let err = &json_of(&text)["error"];
        assert_eq!(err["field"], "account", "{text}");
        assert!(err["message"].as_str().unwrap().contains(words), "{text}");
    }
    let payout = json!({"provider": "mpesa", "phone": "0708374149", "amount": 10000,
        "remarks": "salary", "account": "mombasa"});
    let (status, text) = w.post("/v1/payouts", &payout, None).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("configured: default, nairobi"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_callback_url_moves_only_its_own_payments() {
    let gw = TestGateway::start(
        "[mpesa.accounts.nairobi]\nshortcode = \"600638\"\nconsumer_key = \"ck2\"\nconsumer_secret = \"cs2\"\npasskey = \"pk2\"\n",
    )
    .await;
    // A payment of the section's own account, whose genuine token is replayed on the other
    // account's URL: the token is right, the account is not.
    let payment = gw
        .store()
        .insert_payment(NewPayment {
            provider_reference: Some("ws_CO_own".into()),
            provider_request_id: Some("29115-own-1".into()),
            ..NewPayment::pending(Provider::Mpesa, "stk_push", crate::common::kes(1))
        })
        .await
        .unwrap();
    let token = gw
        .state
        .callback_tokens
        .as_ref()
        .unwrap()
        .issue_for(malipo_guard::CallbackRoute::Stk, payment.id);
    let body = serde_json::json!({"Body": {"stkCallback": {
        "MerchantRequestID": "29115-own-1", "CheckoutRequestID": "ws_CO_own", "ResultCode": 1032,
        "ResultDesc": "Request cancelled by user"}}});
    let res = client_from("127.0.0.2")
        .post(gw.url(&format!("/callbacks/mpesa/nairobi/stk/{token}")))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let event = gw.events().await.into_iter().next().unwrap();
    let event = gw.wait_for_status(event.id, EventStatus::Suspicious).await;
    assert!(event.last_error.unwrap().contains("account"));
    assert_eq!(
        gw.store().get_payment(payment.id).await.unwrap().unwrap().state,
        PaymentState::Pending
    );
    // C2B on an account's URL: its own till is recorded under it; another's till is not ours there.
    let confirm = |till: &str, trans: &str| {
        let mut v: Value = serde_json::from_str(include_str!("../fixtures/c2b-confirmation.json")).unwrap();
        v["BusinessShortCode"] = till.into();
        v["TransID"] = trans.into();
        v.to_string()
    };
    for (till, trans) in [("600638", "RKT0000001"), ("174379", "RKT0000002")] {
        let res = client_from("127.0.0.2")
            .post(gw.url("/callbacks/daraja/c2b/nairobi/confirmation"))
            .body(confirm(till, trans))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let recorded = async |trans: &str| {
        for _ in 0..200 {
            if let Some(p) = gw
                .store()
                .find_payment_by_provider_ref(Provider::Mpesa, trans)
                .await
                .unwrap()
            {
                return Some(p);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    };
    assert_eq!(recorded("RKT0000001").await.unwrap().account.as_str(), "nairobi");
    let foreign = gw
        .events()
        .await
        .into_iter()
        .find(|e| e.dedup_key.ends_with("RKT0000002"))
        .unwrap();
    gw.wait_for_status(foreign.id, EventStatus::Suspicious).await;
    assert!(
        gw.store()
            .find_payment_by_provider_ref(Provider::Mpesa, "RKT0000002")
            .await
            .unwrap()
            .is_none(),
        "another account's till on nairobi's URL is not recorded"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c2b_payment_is_recorded_under_the_account_that_owns_the_till() {
    let gw = TestGateway::start(
        "[mpesa.accounts.nairobi]\nshortcode = \"600638\"\nconsumer_key = \"ck2\"\nconsumer_secret = \"cs2\"\npasskey = \"pk2\"\n",
    )
    .await;
    let res = client_from("127.0.0.2")
        .post(gw.url("/callbacks/daraja/c2b/confirmation"))
        .body(include_str!("../fixtures/c2b-confirmation.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let event = gw.events().await.into_iter().next().unwrap();
    gw.wait_for_status(event.id, EventStatus::Processed).await;
    let payment = gw
        .store()
        .find_payment_by_provider_ref(Provider::Mpesa, "RKTQDM7W6S")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(payment.account.as_str(), "nairobi");
    gw.stop().await;
}

/// A Paystack `charge.success` for `reference`, signed with `key`.
fn charge(reference: &str, id: u64, key: &str) -> (Vec<u8>, String) {
    let mut v: Value = serde_json::from_str(include_str!("../fixtures/charge-success.json")).unwrap();
    v["data"]["id"] = id.into();
    v["data"]["reference"] = reference.into();
    v["data"]["amount"] = 50000.into();
    v["data"]["currency"] = "NGN".into();
    let body = serde_json::to_vec(&v).unwrap();
    let signature = malipo_paystack::sign(&body, &malipo_core::Secret::new(key.to_string()));
    (body, signature)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_verified_with_its_accounts_key_and_moves_only_its_accounts_payments() {
    const GHANA_KEY: &str = "sk_test_ghana_obviously_fake";
    let gw = TestGateway::start_with_paystack(
        "",
        &format!("webhook_ips = [\"127.0.0.2\"]\n[paystack.accounts.ghana]\nsecret_key = \"{GHANA_KEY}\""),
    )
    .await;
    let store = gw.store().clone();
    let pending = |reference: &str, account: &str| NewPayment {
        provider_reference: Some(reference.into()),
        account: account.parse().unwrap(),
        ..NewPayment::pending(
            Provider::Paystack,
            "charge",
            malipo_core::Money::from_minor(50000, malipo_core::Currency::Ngn),
        )
    };
    let ghana = store.insert_payment(pending("gh-1", "ghana")).await.unwrap();
    let own = store.insert_payment(pending("own-1", "default")).await.unwrap();
    let post = |path: &'static str, (body, signature): (Vec<u8>, String)| {
        let client = client_from("127.0.0.2");
        let url = gw.url(path);
        async move {
            client
                .post(url)
                .header("x-paystack-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    // Ghana's key on Ghana's path settles Ghana's payment.
    assert_eq!(
        post("/webhooks/paystack/ghana", charge("gh-1", 1, GHANA_KEY)).await,
        200
    );
    // The default account's key is refused on Ghana's path, and Ghana's on the default path.
    assert_eq!(
        post(
            "/webhooks/paystack/ghana",
            charge("gh-1", 2, crate::common::PAYSTACK_KEY)
        )
        .await,
        401
    );
    assert_eq!(
        post("/webhooks/paystack", charge("own-1", 3, GHANA_KEY)).await,
        401
    );
    // A correctly signed webhook of one account naming another account's payment moves nothing.
    assert_eq!(
        post("/webhooks/paystack/ghana", charge("own-1", 4, GHANA_KEY)).await,
        200
    );
    assert_eq!(
        post(
            "/webhooks/paystack",
            charge("gh-1", 5, crate::common::PAYSTACK_KEY)
        )
        .await,
        200
    );

    let settled = |id| {
        let store = store.clone();
        async move {
            for _ in 0..200 {
                let p = store.get_payment(id).await.unwrap().unwrap();
                if p.state != PaymentState::Pending {
                    return p.state;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            PaymentState::Pending
        }
    };
    assert_eq!(settled(ghana.id).await, PaymentState::Succeeded);
    let mut suspicious = Vec::new();
    for _ in 0..200 {
        suspicious = gw
            .events()
            .await
            .into_iter()
            .filter(|e| e.status == EventStatus::Suspicious)
            .collect();
        if suspicious.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(suspicious.len(), 2, "{suspicious:?}");
    for e in &suspicious {
        let note = e.last_error.as_deref().unwrap();
        assert!(
            note.contains("an account's callbacks move only its own payments"),
            "{note}"
        );
    }
    assert_eq!(
        store.get_payment(own.id).await.unwrap().unwrap().state,
        PaymentState::Pending
    );
    // Ghana's events are stored under Ghana, with keys scoped to it.
    let ghana_event = gw
        .events()
        .await
        .into_iter()
        .find(|e| e.status == EventStatus::Processed)
        .unwrap();
    assert_eq!(ghana_event.account.as_ref().map(|a| a.as_str()), Some("ghana"));
    assert!(
        ghana_event.dedup_key.starts_with("ghana:"),
        "{}",
        ghana_event.dedup_key
    );
    gw.stop().await;
}
