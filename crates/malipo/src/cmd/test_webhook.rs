//! `malipo send-test-webhook`: a realistic, correctly signed or shaped delivery to any URL, the
//! way `paystack_listen`-style tools let developers test their endpoint locally.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use malipo_core::{Currency, Money, Msisdn, PaymentId, Secret};
use url::Url;

use super::serve::load_config;

/// Arguments of `malipo send-test-webhook`.
#[derive(Debug, Args)]
pub struct TestWebhookArgs {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Debug, Subcommand)]
enum Kind {
    /// A Paystack `charge.success` webhook signed with the secret key (X-Paystack-Signature).
    Paystack(PaystackArgs),
    /// A Daraja STK push callback (`{"Body":{"stkCallback":…}}`).
    MpesaStk(StkArgs),
    /// A delivery as malipo sends it to the merchant's app (Standard Webhooks signed
    /// `payment.succeeded`), to test the receiving endpoint.
    Merchant(MerchantArgs),
}

#[derive(Debug, Args)]
struct MerchantArgs {
    /// The merchant app's endpoint, e.g. http://127.0.0.1:3000/webhooks/malipo.
    #[arg(long)]
    to: Url,
    /// The signing secret (whsec_…) [default: merchant.signing_secret from the config]. Prefer
    /// --secret-env: a secret on the command line is visible to other users of the machine.
    #[arg(long, conflicts_with = "secret_env")]
    secret: Option<String>,
    /// Environment variable holding the signing secret.
    #[arg(long, value_name = "VAR")]
    secret_env: Option<String>,
    /// The event type to send.
    #[arg(long, default_value = "payment.succeeded")]
    event: String,
    /// Amount in major units ("150.50").
    #[arg(long, default_value = "150.50")]
    amount: String,
    /// Currency.
    #[arg(long, default_value = "KES")]
    currency: Currency,
}

#[derive(Debug, Args)]
struct PaystackArgs {
    /// Where to POST it, e.g. http://127.0.0.1:8080/webhooks/paystack.
    #[arg(long)]
    to: Url,
    /// Environment variable holding the secret key to sign with [default: paystack.secret_key
    /// from the config].
    #[arg(long, value_name = "VAR")]
    secret_env: Option<String>,
    /// Amount in major units ("100.50").
    #[arg(long, default_value = "100")]
    amount: String,
    /// Currency (KES, as for `malipo paystack init` and `payments checkout`).
    #[arg(long, default_value = "KES")]
    currency: Currency,
    /// Transaction reference [default: a fresh one].
    #[arg(long)]
    reference: Option<String>,
    /// Transaction id, Paystack's dedup identity [default: a fresh one]. Send the same id twice
    /// to see deduplication.
    #[arg(long)]
    id: Option<u64>,
    /// Customer email.
    #[arg(long, default_value = "customer@example.com")]
    email: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StkOutcome {
    /// ResultCode 0 with CallbackMetadata.
    Paid,
    /// 1032: the customer cancelled.
    Cancelled,
    /// 1: insufficient balance.
    Insufficient,
    /// 1037: the phone could not be reached.
    Timeout,
}

#[derive(Debug, Args)]
struct StkArgs {
    /// The full callback URL (with its token), or with --payment the gateway's base URL.
    #[arg(long)]
    to: Url,
    /// Build the callback URL for this payment (pay_…) from the configured token key.
    #[arg(long)]
    payment: Option<PaymentId>,
    /// The outcome to report.
    #[arg(long, value_enum, default_value_t = StkOutcome::Paid)]
    outcome: StkOutcome,
    /// CheckoutRequestID, the dedup identity [default: the --payment's, else a fresh one].
    #[arg(long)]
    checkout_request_id: Option<String>,
    /// Amount in whole shillings [default: the --payment's, else 1].
    #[arg(long)]
    amount: Option<u64>,
    /// The paying phone number [default: the --payment's, else 254708374149].
    #[arg(long)]
    phone: Option<Msisdn>,
}

/// Runs `malipo send-test-webhook`.
pub async fn run(args: TestWebhookArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    // A token-less STK callback URL is answered 404 by the gateway, like any unknown token:
    // say why, since the bare status does not.
    let stk_without_payment = matches!(&args.kind, Kind::MpesaStk(a) if a.payment.is_none());
    let (url, body, headers) = match args.kind {
        Kind::Paystack(a) => paystack(a, config_path)?,
        Kind::MpesaStk(a) => stk(a, config_path).await?,
        Kind::Merchant(a) => merchant(a, config_path)?,
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()?;
    let mut request = client
        .post(url.clone())
        .header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(k, v);
    }
    outln!("POST {} ({} bytes)", without_token(&url), body.len());
    let response = request
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    outln!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    if !text.is_empty() {
        outln!("{text}");
    }
    if status == reqwest::StatusCode::NOT_FOUND && stk_without_payment {
        eprintln!(
            "hint: the gateway accepts an STK callback only at the URL it gave that payment, whose last segment is a token; pass --payment pay_… (from `malipo payments list`) with --to the gateway's base URL, such as http://127.0.0.1:8080, and the same --config as `malipo serve`"
        );
    }
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

type Prepared = (Url, Vec<u8>, Vec<(&'static str, String)>);

fn paystack(a: PaystackArgs, config_path: Option<&Path>) -> anyhow::Result<Prepared> {
    let secret = match &a.secret_env {
        Some(var) => {
            Secret::new(std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?)
        }
        None => load_config(config_path)?
            .paystack
            .context("no [paystack] section in the config; pass --secret-env VAR")?
            .secret_key
            .resolve()?,
    };
    let amount = Money::parse(&a.amount, a.currency)?;
    let id = a.id.unwrap_or_else(|| rand::random::<u32>().into());
    let reference = a.reference.unwrap_or_else(|| format!("T{id}"));
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body = serde_json::json!({
        "event": "charge.success",
        "data": {
            "id": id,
            "domain": "test",
            "status": "success",
            "reference": reference,
            "amount": amount.minor(),
            "message": null,
            "gateway_response": "Successful",
            "paid_at": now,
            "created_at": now,
            "channel": "card",
            "currency": amount.currency().code(),
            "ip_address": "127.0.0.1",
            "metadata": "",
            "fees": null,
            "customer": { "id": 1, "first_name": "Test", "last_name": "Customer", "email": a.email,
                          "customer_code": "CUS_test", "phone": null, "metadata": null, "risk_action": "default" },
            "authorization": { "authorization_code": "AUTH_test", "bin": "408408", "last4": "4081",
                               "exp_month": "12", "exp_year": "2030", "card_type": "visa DEBIT", "bank": "TEST BANK",
                               "country_code": "NG", "brand": "visa", "reusable": true, "signature": "SIG_test" },
            "plan": {}
        }
    });
    let body = serde_json::to_vec(&body)?;
    let signature = malipo_paystack::sign(&body, &secret);
    outln!("event charge.success, id {id}, reference {reference}, {amount}");
    Ok((a.to, body, vec![(malipo_paystack::SIGNATURE_HEADER, signature)]))
}

/// A callback URL as printed: its token (a capability to report on a payment) cut short.
fn without_token(url: &Url) -> String {
    let text = url.to_string();
    match url.path().strip_prefix("/callbacks/mpesa/") {
        Some(rest) if rest.contains('/') => {
            let token = rest.rsplit('/').next().unwrap_or_default();
            text.replace(token, &format!("{}…", token.chars().take(6).collect::<String>()))
        }
        _ => text,
    }
}

async fn stk(a: StkArgs, config_path: Option<&Path>) -> anyhow::Result<Prepared> {
    // With --payment, the callback names that payment as Daraja would: its ids, amount and
    // phone, so the gateway settles it (a made-up one would be kept as suspicious).
    let mut stored = None;
    let url = match a.payment {
        Some(payment) => {
            let config = load_config(config_path)?;
            let gateway_key =
                malipo_gateway::callback_token_key(&config).context("cannot read the callback token key")?;
            let tokens = malipo_guard::CallbackTokens::try_new(gateway_key)?;
            stored = match malipo_gateway::open_store(&config).await {
                Ok(store) => {
                    let found = store.get_payment(payment).await.ok().flatten();
                    let _ = store.close().await;
                    found
                }
                Err(_) => None,
            };
            if stored.is_none() {
                eprintln!("note: payment {payment} is not in the configured database; the callback carries made-up ids and amount");
            }
            a.to.join(&format!(
                "/callbacks/mpesa/stk/{}",
                tokens.issue_for(malipo_guard::CallbackRoute::Stk, payment)
            ))?
        }
        None => a.to,
    };
    let checkout = a
        .checkout_request_id
        .or_else(|| stored.as_ref().and_then(|p| p.provider_reference.clone()))
        .unwrap_or_else(|| format!("ws_CO_{}", chrono::Utc::now().format("%d%m%Y%H%M%S%3f")));
    let merchant_request_id = stored
        .as_ref()
        .and_then(|p| p.provider_request_id.clone())
        .unwrap_or_else(|| format!("{}-{}-1", rand::random::<u16>(), rand::random::<u32>()));
    // M-Pesa amounts are whole shillings.
    let amount = a
        .amount
        .or_else(|| stored.as_ref().map(|p| p.amount.minor() / 100))
        .unwrap_or(1);
    let phone = a
        .phone
        .or_else(|| stored.as_ref().and_then(|p| p.msisdn.clone()))
        .unwrap_or_else(|| "254708374149".parse().expect("a valid MSISDN"));
    let (code, desc) = match a.outcome {
        StkOutcome::Paid => (0, "The service request is processed successfully."),
        StkOutcome::Cancelled => (1032, "Request cancelled by user"),
        StkOutcome::Insufficient => (1, "The balance is insufficient for the transaction."),
        StkOutcome::Timeout => (1037, "DS timeout user cannot be reached"),
    };
    let mut callback = serde_json::json!({
        "MerchantRequestID": merchant_request_id,
        "CheckoutRequestID": checkout,
        "ResultCode": code,
        "ResultDesc": desc,
    });
    if a.outcome == StkOutcome::Paid {
        let receipt: String = (0..10)
            .map(|_| b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[rand::random::<usize>() % 34] as char)
            .collect();
        callback["CallbackMetadata"] = serde_json::json!({ "Item": [
            { "Name": "Amount", "Value": amount },
            { "Name": "MpesaReceiptNumber", "Value": receipt },
            { "Name": "Balance" },
            { "Name": "TransactionDate", "Value": chrono::Utc::now().format("%Y%m%d%H%M%S").to_string().parse::<u64>().unwrap_or(0) },
            { "Name": "PhoneNumber", "Value": phone.as_u64() },
        ]});
    }
    let body = serde_json::to_vec(&serde_json::json!({ "Body": { "stkCallback": callback } }))?;
    outln!(
        "STK callback {checkout}, ResultCode {code}, KES {amount}, phone {}",
        phone.masked()
    );
    Ok((url, body, vec![]))
}

fn merchant(a: MerchantArgs, config_path: Option<&Path>) -> anyhow::Result<Prepared> {
    let secret = match (a.secret, &a.secret_env) {
        (Some(s), _) => Secret::new(s),
        (None, Some(var)) => {
            Secret::new(std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?)
        }
        (None, None) => load_config(config_path)?
            .merchant
            .context("no [merchant] section in the config; pass --secret or --secret-env VAR")?
            .signing_secret
            .resolve()?,
    };
    let secret: malipo_webhooks::WebhookSecret = secret.expose().parse()?;
    malipo_store::check_event_type(&a.event).map_err(anyhow::Error::msg)?;
    let amount = Money::parse(&a.amount, a.currency)?;
    let id = malipo_core::DeliveryId::new();
    let now = chrono::Utc::now();
    let (state, kind) = match a.event.split_once('.') {
        Some(("payout", s)) => (s.to_string(), "b2c"),
        Some(("refund", s)) => (s.to_string(), "refund"),
        Some((_, s)) => (s.to_string(), "stk_push"),
        None => ("succeeded".to_string(), "stk_push"),
    };
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body = serde_json::json!({
        "type": a.event,
        "version": malipo_store::PAYLOAD_VERSION,
        "timestamp": at,
        "data": {
            "id": PaymentId::new(),
            "object": "payment",
            "state": state,
            "provider": "mpesa",
            "kind": kind,
            "amount": { "minor": amount.minor(), "currency": amount.currency().code(), "decimal": amount.decimal() },
            "msisdn": "254708374149",
            "email": null,
            "merchant_reference": "test-order-1",
            "provider_reference": "ws_CO_TEST",
            "description": "malipo send-test-webhook",
            "receipt": "TEST000000",
            "result_code": "0",
            "result_desc": "The service request is processed successfully.",
            "metadata": { "test": true },
            "created_at": at,
            "updated_at": at,
        }
    });
    let body = serde_json::to_vec(&body)?;
    let signed = malipo_webhooks::Signer::new(secret).sign(&id.to_string(), now.timestamp(), &body);
    outln!("event {}, webhook-id {id}", a.event);
    Ok((a.to, body, signed.iter().collect()))
}
