//! The dashboard in a real browser: headless Chromium, driven through chromedriver, against a
//! real `malipo serve`. An operator logs in (after a wrong token is refused), finds a failed
//! event, presses replay and sees it processed, and finds a payment by its receipt. Every page
//! is saved as a screenshot under `target/tmp/dashboard-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test` installs them). Without them
//! the test says so and passes, except under `CI=true`, where it fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use malipo_core::{Currency, EventStatus, Money, PaymentState, Provider};
use malipo_store::{
    EventStore, Ingested, NewEvent, NewPayment, PaymentStore, SqliteOptions, SqliteStore, TransitionDetail,
};

const TOKEN: &str = "browser-test-admin-token-obviously-fake";
const PAYSTACK_KEY: &str = "sk_test_browser_obviously_fake";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A database with a payment paid (receipt QKL1RT61SV) and a Paystack `charge.success` that
/// failed earlier (its retries ran out while, say, the disk was full): replaying it now works.
async fn seed(db: &Path) -> (String, String) {
    let store = SqliteStore::open(db, SqliteOptions::default()).unwrap();
    let payment = store
        .insert_payment(NewPayment {
            msisdn: Some("0708374149".parse().unwrap()),
            merchant_reference: Some("order-1042".into()),
            ..NewPayment::pending(
                Provider::Mpesa,
                "stk_push",
                Money::from_minor(10_000, Currency::Kes),
            )
        })
        .await
        .unwrap();
    store
        .transition_payment(
            payment.id,
            PaymentState::Succeeded,
            TransitionDetail {
                receipt: Some("QKL1RT61SV".into()),
                ..TransitionDetail::default()
            },
        )
        .await
        .unwrap();
    let body = serde_json::json!({
        "event": "charge.success",
        "data": {"id": 4_000_000_777u64, "status": "success", "reference": "walk-in-7", "amount": 50000,
                 "currency": "NGN", "paid_at": "2026-12-04T09:00:00.000Z",
                 "customer": {"email": "ama@example.com"}}
    });
    let failed = NewEvent {
        status: EventStatus::Failed,
        last_error: Some("store: database or disk is full (5 attempts)".into()),
        ..NewEvent::received(
            Provider::Paystack,
            "charge.success",
            "charge.success:4000000777",
            serde_json::to_vec(&body).unwrap(),
        )
    };
    let event = match store.ingest(failed).await.unwrap() {
        Ingested::New(id) => id,
        other => panic!("{other:?}"),
    };
    malipo_store::OpsStore::close(&store).await.unwrap();
    (payment.id.to_string(), event.to_string())
}

async fn shot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.len() > 1000, "an empty screenshot of {name}");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The page's main text once it shows `expected`: a click that navigates returns before the
/// next page is there, and the old page's elements go stale under the reader.
async fn wait_for(client: &Client, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = match client.find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if seen.contains(expected) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed {expected:?}: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_replays_a_failed_event_and_finds_a_payment_in_a_browser() {
    let (Some(chromium), Some(chromedriver)) = (tool("chromium"), tool("chromedriver")) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: the dashboard's browser test needs chromium and chromedriver (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "skipped: chromium or chromedriver is not installed (apt-get install chromium chromium-driver)"
        );
        return;
    };
    // The WebDriver client's TLS stack needs a process-wide choice (nothing here uses TLS).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dash.db");
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[paystack]\nsecret_key = \"{PAYSTACK_KEY}\"\n[ops]\nadmin_token = {{ env = \"T_ADMIN_TOKEN\" }}\n",
            db.display()
        ),
    )
    .unwrap();
    let migrate = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--log", "warn", "--config", config.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{migrate:?}");
    let (payment, event) = seed(&db).await;

    let mut server = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--log", "warn", "serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("T_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let ops = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ops listening on ").map(str::to_string))
        .expect("serve prints the ops listener's address");
    let _server = Killed(server);

    let port = free_port();
    let driver = Killed(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.path().display())],
        }),
    );
    let started = Instant::now();
    let client = loop {
        match ClientBuilder::rustls()
            .expect("a TLS config")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => break c,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("chromedriver did not start: {e}"),
        }
    };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    let run = async {
        // A wrong token is refused; the right one opens the overview.
        client.goto(&format!("{ops}/admin")).await.unwrap();
        assert!(client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/login"));
        shot(&client, &shots, "01-login").await;
        let token = client.find(Locator::Id("token")).await.unwrap();
        token.send_keys("not-the-admin-token").await.unwrap();
        client
            .find(Locator::Css("form.login button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&client, "That token is not the admin token.").await;
        shot(&client, &shots, "02-login-refused").await;
        let token = client.find(Locator::Id("token")).await.unwrap();
        token.send_keys(TOKEN).await.unwrap();
        client
            .find(Locator::Css("form.login button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&client, "events failed or suspicious").await;
        shot(&client, &shots, "03-overview").await;

        // The failed event is listed first; replay it and watch it be processed.
        client
            .find(Locator::LinkText("Events"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&client, "Need a person").await;
        shot(&client, &shots, "04-events").await;
        client
            .find(Locator::LinkText(&event))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert!(wait_for(&client, "Replay").await.contains("failed"));
        shot(&client, &shots, "05-event-failed").await;
        client
            .find(Locator::Css("form[action$='/replay'] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&client, "Queued for processing again.").await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            client.goto(&format!("{ops}/admin/events/{event}")).await.unwrap();
            let page = wait_for(&client, "Status").await;
            if page.contains("processed") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the replayed event was never processed: {page}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        shot(&client, &shots, "06-event-processed").await;

        // A payment found by its receipt.
        client.goto(&format!("{ops}/admin/payments")).await.unwrap();
        let search = client.find(Locator::Css("input[name=q]")).await.unwrap();
        search.send_keys("QKL1RT61SV").await.unwrap();
        client
            .find(Locator::Css("form.filters button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&client, &payment).await;
        shot(&client, &shots, "07-payments-found").await;
        client
            .find(Locator::LinkText(&payment))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let page = wait_for(&client, "Receipt").await;
        assert!(
            page.contains("QKL1RT61SV") && page.contains("2547****4149"),
            "{page}"
        );
        assert!(!page.contains("254708374149"), "a phone number in full: {page}");
        shot(&client, &shots, "08-payment").await;
        for (path, name) in [("/admin/deliveries", "09-deliveries"), ("/admin/keys", "10-keys")] {
            client.goto(&format!("{ops}{path}")).await.unwrap();
            shot(&client, &shots, name).await;
        }

        // A form without the session's CSRF token is refused, even with the session's cookie.
        let cookie = client.get_named_cookie("malipo_session").await.unwrap();
        let forged = reqwest::Client::new()
            .post(format!("{ops}/admin/events/{event}/replay"))
            .header("cookie", format!("malipo_session={}", cookie.value()))
            .form(&[("csrf", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);

        // Logging out ends the session.
        client
            .find(Locator::Css("header form button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&client, "Operator login").await;
        client.goto(&format!("{ops}/admin")).await.unwrap();
        wait_for(&client, "Operator login").await;
        assert!(client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/login"));
    };
    run.await;
    client.close().await.unwrap();
    drop(driver);
    eprintln!("screenshots in {}", shots.display());
}
