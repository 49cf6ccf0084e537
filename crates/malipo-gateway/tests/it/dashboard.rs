//! The operator dashboard over real HTTP on the operations listener: login, sessions, CSRF, the
//! pages and their three actions. (The browser test, with Chromium, is the command line's.)

use std::time::Duration;

use malipo_config::Config;
use malipo_core::{EventStatus, Provider};
use malipo_gateway::Gateway;
use malipo_store::{NewEvent, NewPayment, TransitionDetail};
use tokio::net::TcpListener;

const TOKEN: &str = "dashboard-test-token-obviously-fake";

struct Ops {
    url: String,
    state: malipo_gateway::AppState,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Ops {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn start(extra_ops: &str) -> Ops {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[database]\nurl = \"sqlite://{}\"\n[paystack]\nsecret_key = \"{}\"\n[ops]\nadmin_token = \"{TOKEN}\"\n{extra_ops}\n",
        dir.path().join("dash.db").display(),
        crate::common::PAYSTACK_KEY
    );
    let gateway = Gateway::from_config(&Config::from_toml(&text).unwrap())
        .await
        .unwrap();
    let state = gateway.state().clone();
    let bind = || async { TcpListener::bind("127.0.0.1:0").await.unwrap() };
    let (public, api, ops) = (bind().await, bind().await, bind().await);
    let url = format!("http://{}", ops.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve_all(public, api, ops, async {
        let _ = stopped.await;
    }));
    Ops {
        url,
        state,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        stop: Some(stop),
        _dir: dir,
    }
}

impl Ops {
    /// Logs in; the session cookie (`name=value`).
    async fn login(&self, token: &str) -> (u16, Option<String>) {
        let r = self
            .http
            .post(format!("{}/admin/login", self.url))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string());
        (r.status().as_u16(), cookie)
    }

    async fn get(&self, cookie: &str, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, cookie: &str, path: &str, csrf: &str) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("cookie", cookie)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[at..at + 64].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_logs_in_finds_things_and_acts_on_them() {
    let ops = start("").await;
    // Not logged in: every page sends to the login page.
    let r = ops
        .http
        .get(format!("{}/admin/payments", ops.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/login");
    let (status, cookie) = ops.login("not-the-token").await;
    assert_eq!((status, cookie.is_some()), (401, false));
    let (status, cookie) = ops.login(TOKEN).await;
    assert_eq!(status, 303);
    let cookie = cookie.expect("a session cookie");

    // A payment with a receipt, and an event about it that failed.
    let store = ops.state.store.clone();
    let payment = store
        .insert_payment(NewPayment {
            msisdn: Some("0708374149".parse().unwrap()),
            merchant_reference: Some("order-77".into()),
            ..NewPayment::pending(
                Provider::Mpesa,
                "stk_push",
                malipo_core::Money::from_minor(10_000, malipo_core::Currency::Kes),
            )
        })
        .await
        .unwrap();
    store
        .transition_payment(
            payment.id,
            malipo_core::PaymentState::Succeeded,
            TransitionDetail {
                receipt: Some("QKL1RT61SV".into()),
                ..TransitionDetail::default()
            },
        )
        .await
        .unwrap();
    let failed = NewEvent {
        status: EventStatus::Failed,
        last_error: Some("unparseable stk: expected value".into()),
        payment_id: Some(payment.id),
        ..NewEvent::received(
            Provider::Mpesa,
            "stk_unparseable",
            "stk:digest:1",
            &b"{\"PhoneNumber\": 254708374149"[..],
        )
    };
    let event = match store.ingest(failed).await.unwrap() {
        malipo_store::Ingested::New(id) => id,
        other => panic!("{other:?}"),
    };

    let (status, overview) = ops.get(&cookie, "/admin").await;
    assert_eq!(status, 200, "{overview}");
    assert!(overview.contains("events failed or suspicious"), "{overview}");
    let (status, found) = ops.get(&cookie, "/admin/payments?q=QKL1RT61SV").await;
    assert_eq!(status, 200);
    assert!(
        found.contains(&payment.id.to_string()),
        "found by its receipt: {found}"
    );
    let (_, by_phone) = ops.get(&cookie, "/admin/payments?q=4149").await;
    assert!(
        by_phone.contains(&payment.id.to_string()),
        "found by the phone's last digits"
    );
    assert!(
        !by_phone.contains("254708374149"),
        "a phone number in full: {by_phone}"
    );
    let (_, none) = ops.get(&cookie, "/admin/payments?q=NOPE000000").await;
    assert!(!none.contains(&payment.id.to_string()));

    let (status, page) = ops.get(&cookie, &format!("/admin/payments/{}", payment.id)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&event.to_string()),
        "the payment's page lists its events"
    );
    let (_, events) = ops.get(&cookie, "/admin/events").await;
    assert!(events.contains("Need a person"), "{events}");
    let (status, event_page) = ops.get(&cookie, &format!("/admin/events/{event}")).await;
    assert_eq!(status, 200);
    assert!(
        event_page.contains("2547****4149") && !event_page.contains("254708374149"),
        "{event_page}"
    );

    // Replay: refused without the session's CSRF token, done with it.
    let csrf = csrf_of(&event_page);
    let (status, _) = ops
        .post(&cookie, &format!("/admin/events/{event}/replay"), "0")
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        store.get_event(event).await.unwrap().unwrap().summary.status,
        EventStatus::Failed,
        "a refused form changes nothing"
    );
    let (status, replayed) = ops
        .post(&cookie, &format!("/admin/events/{event}/replay"), &csrf)
        .await;
    assert_eq!(status, 200);
    assert!(replayed.contains("Queued for processing again."), "{replayed}");
    assert_ne!(
        store.get_event(event).await.unwrap().unwrap().summary.status,
        EventStatus::Failed
    );

    for path in ["/admin/deliveries", "/admin/keys", "/admin/style.css"] {
        assert_eq!(ops.get(&cookie, path).await.0, 200, "{path}");
    }
    // Logging out ends the session.
    let (status, _) = ops.post(&cookie, "/admin/logout", &csrf).await;
    assert_eq!(status, 303);
    let r = ops
        .http
        .get(format!("{}/admin", ops.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "a session that ended is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_expires() {
    let ops = start("session_ttl = \"1s\"").await;
    let (_, cookie) = ops.login(TOKEN).await;
    let cookie = cookie.unwrap();
    assert_eq!(ops.get(&cookie, "/admin").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = ops
        .http
        .get(format!("{}/admin", ops.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "an expired session is refused");
}

#[tokio::test]
async fn the_dashboard_is_off_without_a_token_and_a_short_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let short = format!(
        "[database]\nurl = \"sqlite://{}\"\n[ops]\nadmin_token = \"short\"\n",
        db.display()
    );
    let err = match Gateway::from_config(&Config::from_toml(&short).unwrap()).await {
        Ok(_) => panic!("a 5-character admin token was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("at least 16 characters"), "{err}");
    let off = format!("[database]\nurl = \"sqlite://{}\"\n", db.display());
    let gateway = Gateway::from_config(&Config::from_toml(&off).unwrap())
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/admin/login", listener.local_addr().unwrap());
    let app = gateway.ops_router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    assert_eq!(reqwest::get(url).await.unwrap().status(), 404);
}
