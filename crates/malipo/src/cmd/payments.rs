//! `malipo payments list|show|stk-push|checkout`: read the payments malipo tracks, and start
//! one from the shell without writing code (the same library functions the API calls).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use malipo_core::{Currency, Money, Msisdn, PaymentId, PaymentState, Provider};
use malipo_gateway::api::PaymentBody;
use malipo_gateway::payments::{start_paystack_checkout, start_stk_push, CheckoutStart, StkPushStart};
use malipo_store::{PaymentFilter, PaymentRecord, Store};

use super::serve::load_config;
use crate::Format;

/// Arguments of `malipo payments`.
#[derive(Debug, Args)]
pub struct PaymentsArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// List tracked payments, newest first.
    List(ListArgs),
    /// Show one payment.
    Show(ShowArgs),
    /// Start an M-Pesa STK push (the customer's phone shows a PIN prompt). The payment is
    /// recorded first and settles when Daraja's callback reaches the running `malipo serve`
    /// (at server.public_base_url).
    StkPush(StkPushArgs),
    /// Start a Paystack checkout and print the URL the customer pays at. The payment settles
    /// when Paystack's webhook reaches the running `malipo serve`.
    Checkout(CheckoutArgs),
    /// Ask the provider about a payment now (STK query, Paystack verify, M-Pesa transaction
    /// status) and settle it from the answer, as the reconciler does for a callback that never
    /// came. Safe to repeat.
    Reconcile(ShowArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only this provider's payments: mpesa or paystack.
    #[arg(long)]
    provider: Option<Provider>,
    /// Only payments in this state: pending, succeeded, failed, cancelled, expired,
    /// partially_refunded or refunded.
    #[arg(long)]
    state: Option<PaymentState>,
    /// Only payments with this merchant reference (your order number).
    #[arg(long, value_name = "REF")]
    merchant_reference: Option<String>,
    /// Only payments created since: an RFC 3339 time (2026-11-28T07:00:00Z) or an age (30m, 2h, 7d).
    #[arg(long, value_parser = super::parse_since)]
    since: Option<DateTime<Utc>>,
    /// Only payments through this provider account ("default": the section's own).
    #[arg(long, value_name = "NAME")]
    account: Option<malipo_core::AccountName>,
    /// Only payments this text names: merchant reference, provider reference, receipt, or
    /// (four digits or more) the end of the payer's phone number.
    #[arg(long, value_name = "TEXT")]
    search: Option<String>,
    /// Only payments older than this one (pay_…): the last id of the previous page.
    #[arg(long, value_name = "ID")]
    before: Option<PaymentId>,
    /// At most this many (1 to 1000; continue with --before, which a line on standard error
    /// gives when more may follow).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
    limit: u16,
    /// Output format (json: the API's payment shape).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The payment's id (pay_…).
    id: PaymentId,
    /// Output format (json: the API's payment shape).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct StkPushArgs {
    /// The paying phone: 07XXXXXXXX, 2547XXXXXXXX or +2547XXXXXXXX.
    #[arg(long)]
    phone: Msisdn,
    /// Whole Kenyan shillings, such as 100 (M-Pesa takes no cents).
    #[arg(long)]
    amount: String,
    /// Shown to the customer (Daraja's AccountReference), at most 12 characters.
    #[arg(long, value_name = "REF")]
    account_reference: String,
    /// Daraja's TransactionDesc, at most 13 characters.
    #[arg(long)]
    description: String,
    /// Your own reference (order number), kept on the payment.
    #[arg(long, value_name = "REF")]
    merchant_reference: Option<String>,
    /// JSON kept on the payment, such as '{"cart": 42}'.
    #[arg(long, value_parser = parse_json)]
    metadata: Option<serde_json::Value>,
    /// The account to use, as named in malipo.toml ([mpesa.accounts.NAME]) [default: the
    /// section's own]
    #[arg(long, value_name = "NAME")]
    account: Option<malipo_core::AccountName>,
    /// Output format (json: the API's payment shape).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct CheckoutArgs {
    /// The customer's email.
    #[arg(long)]
    email: String,
    /// The amount in major units, such as 5000 or 150.50.
    #[arg(long)]
    amount: String,
    /// The currency: KES, NGN, GHS, ZAR, USD or XOF.
    #[arg(long)]
    currency: Currency,
    /// The Paystack reference (letters, digits, '-', '.', '='); derived from the payment id
    /// when absent.
    #[arg(long)]
    reference: Option<String>,
    /// Where Paystack sends the customer after paying.
    #[arg(long, value_name = "URL")]
    callback_url: Option<url::Url>,
    /// Your own reference (order number), kept on the payment.
    #[arg(long, value_name = "REF")]
    merchant_reference: Option<String>,
    /// JSON kept on the payment and sent to Paystack, such as '{"cart": 42}'.
    #[arg(long, value_parser = parse_json)]
    metadata: Option<serde_json::Value>,
    /// The account to use, as named in malipo.toml ([paystack.accounts.NAME]) [default: the
    /// section's own]
    #[arg(long, value_name = "NAME")]
    account: Option<malipo_core::AccountName>,
    /// Output format (json: the API's payment shape, with authorization_url and access_code).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn parse_json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))
}

/// Runs `malipo payments`.
pub async fn run(args: PaymentsArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    match args.action {
        Action::List(a) => {
            let store = open(&config).await?;
            let result = list(&*store, a).await;
            store.close().await?;
            result
        }
        Action::Show(a) => {
            let store = open(&config).await?;
            let result = show(&*store, a).await;
            store.close().await?;
            result
        }
        Action::StkPush(a) => stk_push(&config, a).await,
        Action::Checkout(a) => checkout(&config, a).await,
        Action::Reconcile(a) => reconcile(&config, a).await,
    }
}

async fn reconcile(config: &malipo_config::Config, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let state = parts(config).await?;
    let result = malipo_gateway::reconcile::reconcile_payment(&state, args.id).await;
    state.store.close().await?;
    let done = result.with_context(|| format!("cannot reconcile payment {}", args.id))?;
    let body = malipo_gateway::api::ReconcileBody::from(&done);
    match args.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&body)?),
        Format::Text => {
            outln!("result:  {}", body.result);
            if let Some(detail) = &body.detail {
                outln!("detail:  {detail}");
            }
            print_payment(done.payment(), None, Format::Text)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn open(config: &malipo_config::Config) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    malipo_gateway::open_store(config)
        .await
        .context("cannot open the database")
}

async fn list(store: &dyn Store, args: ListArgs) -> anyhow::Result<ExitCode> {
    let filter = PaymentFilter {
        provider: args.provider,
        state: args.state,
        merchant_reference: args.merchant_reference,
        before: args.before,
        since: args.since,
        limit: usize::from(args.limit),
        account: args.account,
        search: args.search,
    };
    let payments = store.list_payments(&filter).await?;
    // Said on standard error, so it shows with --format json too and never breaks the JSON.
    if payments.len() == filter.limit {
        if let Some(last) = payments.last() {
            eprintln!(
                "more payments may match: list the next ones with --before {}",
                last.id
            );
        }
    }
    match args.format {
        Format::Json => {
            let bodies: Vec<PaymentBody> = payments.iter().map(PaymentBody::from).collect();
            outln!("{}", serde_json::to_string_pretty(&bodies)?);
        }
        Format::Text if payments.is_empty() => outln!("no payments match"),
        Format::Text => {
            outln!(
                "{:<30}  {:<8}  {:<9}  {:>16}  {:<20}  {:<24}  CREATED",
                "ID",
                "PROVIDER",
                "STATE",
                "AMOUNT",
                "MERCHANT REF",
                "PROVIDER REF"
            );
            for p in &payments {
                outln!(
                    "{:<30}  {:<8}  {:<9}  {:>16}  {:<20}  {:<24}  {}",
                    p.id.to_string(),
                    p.provider.as_str(),
                    p.state.as_str(),
                    p.amount.to_string(),
                    p.merchant_reference.as_deref().unwrap_or("-"),
                    p.provider_reference.as_deref().unwrap_or("-"),
                    p.created_at.format("%Y-%m-%d %H:%M:%S")
                );
            }
            outln!("\n{} payment(s)", payments.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(store: &dyn Store, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let Some(p) = store.get_payment(args.id).await? else {
        anyhow::bail!("no payment {} (list them with `malipo payments list`)", args.id);
    };
    print_payment(&p, None, args.format)?;
    Ok(ExitCode::SUCCESS)
}

fn print_payment(p: &PaymentRecord, checkout: Option<(&str, &str)>, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let mut body = PaymentBody::from(p);
            if let Some((url, code)) = checkout {
                body.authorization_url = Some(url.to_string());
                body.access_code = Some(code.to_string());
            }
            outln!("{}", serde_json::to_string_pretty(&body)?);
        }
        Format::Text => {
            let dash = |v: Option<&str>| v.unwrap_or("-").to_string();
            outln!("id:                 {}", p.id);
            outln!("provider:           {} ({})", p.provider, p.kind);
            if !p.account.is_default() {
                outln!("account:            {}", p.account);
            }
            outln!("state:              {}", p.state);
            outln!("amount:             {}", p.amount);
            outln!(
                "phone:              {}",
                p.msisdn.as_ref().map_or_else(|| "-".into(), Msisdn::masked)
            );
            outln!(
                "email:              {}",
                p.email
                    .as_deref()
                    .map_or_else(|| "-".into(), malipo_gateway::api::mask_email_text)
            );
            outln!("merchant reference: {}", dash(p.merchant_reference.as_deref()));
            outln!("provider reference: {}", dash(p.provider_reference.as_deref()));
            outln!("receipt:            {}", dash(p.receipt.as_deref()));
            if p.result_code.is_some() || p.result_desc.is_some() {
                outln!(
                    "result:             {} {}",
                    dash(p.result_code.as_deref()),
                    dash(p.result_desc.as_deref())
                );
            }
            outln!("created:            {}", p.created_at.to_rfc3339());
            outln!("updated:            {}", p.updated_at.to_rfc3339());
            if let Some(m) = &p.metadata {
                outln!("metadata:           {m}");
            }
            if let Some((url, code)) = checkout {
                outln!("pay at:             {url}");
                outln!("access code:        {code}");
            }
        }
    }
    Ok(())
}

/// The gateway's parts built from the configuration, as `malipo serve` builds them (same
/// database, same callback token key), without serving.
async fn parts(config: &malipo_config::Config) -> anyhow::Result<malipo_gateway::AppState> {
    let gateway = malipo_gateway::Gateway::from_config(config)
        .await
        .context("cannot build the gateway from the configuration")?;
    Ok(gateway.state().clone())
}

async fn stk_push(config: &malipo_config::Config, args: StkPushArgs) -> anyhow::Result<ExitCode> {
    let amount = Money::parse(&args.amount, Currency::Kes).context("--amount")?;
    if amount.whole_major().is_none() {
        anyhow::bail!(
            "--amount {}: M-Pesa takes whole shillings, such as 100",
            args.amount
        );
    }
    let state = parts(config).await?;
    let result = async {
        let account = args
            .account
            .unwrap_or_else(malipo_core::AccountName::default_account);
        let client = state.providers.mpesa_for(&account).with_context(|| {
            if account.is_default() {
                "M-Pesa is not configured: add an [mpesa] section to malipo.toml".to_string()
            } else {
                format!("--account {account}: there is no [mpesa.accounts.{account}] in malipo.toml")
            }
        })?;
        let base = state
            .providers
            .public_base_url
            .as_ref()
            .context("server.public_base_url is not set: Daraja needs it to send the result back")?;
        let push = StkPushStart {
            merchant_reference: args.merchant_reference,
            metadata: args.metadata,
            account: account.clone(),
            ..StkPushStart::new(args.phone, amount, args.account_reference, args.description)
        };
        let payment = start_stk_push(&state, client, base, push)
            .await
            .context("the STK push was not started")?;
        print_payment(&payment, None, args.format)?;
        if args.format == Format::Text {
            outln!(
                "\nthe customer now has a PIN prompt; follow it with `malipo payments show {}`",
                payment.id
            );
        }
        anyhow::Ok(())
    }
    .await;
    state.store.close().await?;
    result.map(|()| ExitCode::SUCCESS)
}

async fn checkout(config: &malipo_config::Config, args: CheckoutArgs) -> anyhow::Result<ExitCode> {
    let amount = Money::parse(&args.amount, args.currency).context("--amount")?;
    let state = parts(config).await?;
    let result = async {
        let account = args
            .account
            .unwrap_or_else(malipo_core::AccountName::default_account);
        let client = state.providers.paystack_for(&account).with_context(|| {
            if account.is_default() {
                "Paystack is not configured: add a [paystack] section to malipo.toml".to_string()
            } else {
                format!("--account {account}: there is no [paystack.accounts.{account}] in malipo.toml")
            }
        })?;
        let start = CheckoutStart {
            account: account.clone(),
            reference: args.reference,
            callback_url: args.callback_url,
            metadata: args.metadata,
            merchant_reference: args.merchant_reference,
            ..CheckoutStart::new(args.email, amount)
        };
        let started = start_paystack_checkout(&state, client, start)
            .await
            .context("the checkout was not started")?;
        print_payment(
            &started.payment,
            Some((&started.authorization_url, &started.access_code)),
            args.format,
        )?;
        anyhow::Ok(())
    }
    .await;
    state.store.close().await?;
    result.map(|()| ExitCode::SUCCESS)
}
