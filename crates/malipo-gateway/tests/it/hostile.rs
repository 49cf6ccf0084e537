//! A table of hostile requests against every Daraja endpoint (STK, result, timeout, C2B
//! validation and confirmation), over real HTTP: each case states the answer and whether it was
//! stored, and the log afterwards holds no line forged from input and no token or key.

use std::sync::{Arc, Mutex, OnceLock};

use malipo_core::{PaymentId, Provider};
use malipo_guard::CallbackRoute;

use crate::common::*;

/// Captures every log line of this test binary from the first use on.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn captured() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        // Global: a scoped subscriber can miss events of tasks on other threads.
        let _ = tracing::subscriber::set_global_default(subscriber);
        logs
    })
}

/// What a log line forged from input would start with.
const FORGED: &str = "FORGED-LOG-LINE";

struct Case {
    name: &'static str,
    /// `stk`, `result`, `timeout` (a valid token of that route is appended unless `path` is
    /// given), `validation` or `confirmation`.
    route: &'static str,
    /// A path of its own (token tricks), relative to the server.
    path: Option<String>,
    body: Vec<u8>,
    status: u16,
    stored: bool,
}

fn case(
    name: &'static str,
    route: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
    stored: bool,
) -> Case {
    Case {
        name,
        route,
        path: None,
        body: body.into(),
        status,
        stored,
    }
}

fn at(name: &'static str, path: String, status: u16) -> Case {
    Case {
        name,
        route: "stk",
        path: Some(path),
        body: br#"{"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_path","ResultCode":0,"ResultDesc":"ok"}}}"#.to_vec(),
        status,
        stored: false,
    }
}

fn stk(checkout: &str, result_code: &str) -> Vec<u8> {
    format!(
        r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"29115-1-1","CheckoutRequestID":{checkout},"ResultCode":{result_code},"ResultDesc":"The service request is processed successfully."}}}}}}"#
    )
    .into_bytes()
}

fn result_body(conversation: &str, code: &str) -> Vec<u8> {
    format!(
        r#"{{"Result":{{"ResultType":0,"ResultCode":{code},"ResultDesc":"ok","OriginatorConversationID":"o-1","ConversationID":{conversation},"TransactionID":"NLJ41HAY6Q"}}}}"#
    )
    .into_bytes()
}

fn c2b(trans_id: &str, amount: &str, shortcode: &str) -> Vec<u8> {
    format!(
        r#"{{"TransactionType":"Pay Bill","TransID":{trans_id},"TransTime":"20191122063845","TransAmount":{amount},"BusinessShortCode":{shortcode},"BillRefNumber":"inv-1","MSISDN":"254708374149","FirstName":"John"}}"#
    )
    .into_bytes()
}

fn nested(depth: usize) -> Vec<u8> {
    let mut s = String::from(r#"{"Body":{"stkCallback":"#);
    s.push_str(&"[".repeat(depth));
    s.push_str(&"]".repeat(depth));
    s.push_str("}}");
    s.into_bytes()
}

fn cases(token: &dyn Fn(CallbackRoute) -> String) -> Vec<Case> {
    let injected = format!("\"ws_CO_1\\n{FORGED} level=ERROR admin logged in\"");
    let raw_newline = format!("{{\"Body\":{{\"stkCallback\":{{\"CheckoutRequestID\":\"a\n{FORGED}\"}}}}}}");
    let big = format!(
        "{{\"Body\":{{\"stkCallback\":{{\"ResultDesc\":\"{}\"}}}}}}",
        "x".repeat(70 * 1024)
    );
    let stk_token = token(CallbackRoute::Stk);
    let result_token = token(CallbackRoute::Result);
    vec![
        // STK: the body.
        case("stk: oversized", "stk", big.clone(), 413, false),
        case("stk: not JSON", "stk", "not json", 200, true),
        case("stk: empty", "stk", "", 200, true),
        case("stk: a JSON array", "stk", "[1,2,3]", 200, true),
        case("stk: null", "stk", "null", 200, true),
        case("stk: deep nesting", "stk", nested(20_000), 200, true),
        case("stk: invalid UTF-8", "stk", b"{\"Body\":{\"stkCallback\":\"\xff\xfe\"}}".to_vec(), 200, true),
        case("stk: ResultCode an object", "stk", stk("\"ws_CO_obj\"", "{\"a\":1}"), 200, true),
        case("stk: ResultCode a huge number", "stk", stk("\"ws_CO_huge\"", "1e400"), 200, true),
        case("stk: CheckoutRequestID a number", "stk", stk("12", "0"), 200, true),
        case("stk: CheckoutRequestID empty", "stk", stk("\"\"", "0"), 200, true),
        case("stk: newline meant for the log", "stk", stk(&injected, "1032"), 200, true),
        case("stk: raw newline in a string", "stk", raw_newline.clone(), 200, true),
        case("stk: NUL in an id", "stk", stk("\"ws_CO\\u0000x\"", "0"), 200, true),
        case("stk: 10,000 metadata items", "stk", {
            let items = (0..10_000).map(|i| format!("{{\"Name\":\"n{i}\"}}")).collect::<Vec<_>>().join(",");
            format!(r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_items","ResultCode":0,"ResultDesc":"d","CallbackMetadata":{{"Item":[{items}]}}}}}}}}"#)
        }, 413, false),
        // Token tricks: nothing is stored without the right token on the right route.
        at("token: none", "/callbacks/mpesa/stk/".to_string(), 404),
        at("token: forged", "/callbacks/mpesa/stk/00112233445566778899aabbccddeeff".to_string(), 404),
        at("token: upper-cased", format!("/callbacks/mpesa/stk/{}", stk_token.to_uppercase()), 404),
        at("token: with a trailing slash", format!("/callbacks/mpesa/stk/{stk_token}/"), 404),
        at("token: with a suffix", format!("/callbacks/mpesa/stk/{stk_token}x"), 404),
        at("token: truncated", format!("/callbacks/mpesa/stk/{}", &stk_token[..stk_token.len() - 1]), 404),
        at("token: percent-encoded dots", format!("/callbacks/mpesa/stk/..%2f..%2fwebhooks%2fpaystack{stk_token}"), 404),
        at("token: a result token on the STK route", format!("/callbacks/mpesa/stk/{result_token}"), 404),
        at("token: an STK token on the result route", format!("/callbacks/mpesa/result/{stk_token}"), 404),
        at("token: an STK token on the timeout route", format!("/callbacks/mpesa/timeout/{stk_token}"), 404),
        at("token: encoded NUL", format!("/callbacks/mpesa/stk/{stk_token}%00"), 404),
        at("token: a query string appended", format!("/callbacks/mpesa/stk/{stk_token}x?token={stk_token}"), 404),
        // Result and timeout routes.
        case("result: oversized", "result", big.clone(), 413, false),
        case("result: not JSON", "result", "{{{", 200, true),
        case("result: ReferenceItem a string", "result", br#"{"Result":{"ResultType":0,"ResultCode":0,"ResultDesc":"ok","OriginatorConversationID":"o","ConversationID":"AG_ref","ReferenceData":{"ReferenceItem":"x"}}}"#.to_vec(), 200, true),
        case("result: ResultCode a string", "result", result_body("\"AG_str\"", "\"0\""), 200, true),
        case("result: newline meant for the log", "result", result_body(&injected.replace("ws_CO_1", "AG_1"), "0"), 200, true),
        case("timeout: not JSON", "timeout", "\u{0}\u{1}", 200, true),
        case("timeout: empty object", "timeout", "{}", 200, true),
        // C2B: the allowlist is their only check, so every body is read with suspicion.
        case("c2b confirmation: oversized", "confirmation", big.clone(), 413, false),
        case("c2b confirmation: not JSON", "confirmation", "<xml/>", 200, true),
        case("c2b confirmation: amount a word", "confirmation", c2b("\"TX1\"", "\"ten\"", "\"174379\""), 200, true),
        case("c2b confirmation: negative amount", "confirmation", c2b("\"TX2\"", "\"-10.00\"", "\"174379\""), 200, true),
        case("c2b confirmation: foreign shortcode", "confirmation", c2b("\"TX3\"", "\"10.00\"", "\"999999\""), 200, true),
        case("c2b confirmation: newline in TransID", "confirmation", c2b(&injected.replace("ws_CO_1", "TX4"), "\"10.00\"", "\"174379\""), 200, true),
        case("c2b validation: oversized", "validation", big, 413, false),
        case("c2b validation: not JSON", "validation", "]", 200, true),
        case("c2b validation: wrong types", "validation", c2b("1", "[]", "{}"), 200, true),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_to_every_daraja_endpoint() {
    let logs = captured();
    let gw = TestGateway::start("").await;
    let payment = PaymentId::new();
    let tokens = gw.state.callback_tokens.clone().expect("M-Pesa is configured");
    let token = |route| tokens.issue_for(route, payment);
    let table = cases(&token);
    assert!(table.len() >= 40, "{} cases", table.len());
    let client = client_from("127.0.0.2");
    for c in &table {
        let path = c.path.clone().unwrap_or_else(|| match c.route {
            "stk" => format!("/callbacks/mpesa/stk/{}", token(CallbackRoute::Stk)),
            "result" => format!("/callbacks/mpesa/result/{}", token(CallbackRoute::Result)),
            "timeout" => format!("/callbacks/mpesa/timeout/{}", token(CallbackRoute::Timeout)),
            "validation" => "/callbacks/daraja/c2b/validation".to_string(),
            "confirmation" => "/callbacks/daraja/c2b/confirmation".to_string(),
            other => panic!("unknown route {other}"),
        });
        let before = gw.events().await.len();
        let res = client
            .post(gw.url(&path))
            .header("content-type", "application/json")
            .body(c.body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(res.status().as_u16(), c.status, "{}", c.name);
        let after = gw.events().await;
        assert_eq!(
            after.len() - before,
            usize::from(c.stored),
            "{}: stored rows",
            c.name
        );
        if c.stored {
            // Whatever it said, it is an M-Pesa event, tied to the payment its token named
            // (token routes) and never processed into a payment of another provider.
            assert_eq!(after[0].provider, Provider::Mpesa, "{}", c.name);
        }
    }
    // Let the worker take every stored event through settlement, which logs its decisions.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let payments = gw
        .store()
        .list_payments(&malipo_store::PaymentFilter::default())
        .await
        .unwrap();
    assert!(
        payments.is_empty(),
        "no hostile body became a payment: {payments:?}"
    );
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    for line in text.lines() {
        assert!(
            !line.starts_with(FORGED),
            "a log line was forged from input: {line}"
        );
    }
    for route in [CallbackRoute::Stk, CallbackRoute::Result, CallbackRoute::Timeout] {
        let t = token(route);
        assert!(!text.contains(&t), "a callback token reached the log");
    }
    assert!(!text.contains(PAYSTACK_KEY), "a key reached the log");
    gw.stop().await;
}
