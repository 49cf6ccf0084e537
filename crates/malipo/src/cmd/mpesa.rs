//! `malipo mpesa`: call the configured Daraja environment from the shell;
//! `malipo sim mpesa`: run the Daraja simulator for a person.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use malipo_core::{Currency, Money, Msisdn};
use malipo_mpesa::{
    stk_result_meaning, AcceptedResponse, AccountBalanceRequest, B2bCommand, B2bRequest, B2cCommand,
    B2cRequest, C2bResponseType, C2bVersion, DynamicQrRequest, IdentifierType, MpesaClient, MpesaError,
    MpesaSettings, QrTransaction, RegisterUrlsRequest, ResultUrls, ReversalRequest, StkPushRequest,
    StkQueryOutcome, TransactionStatusRequest,
};
use malipo_sim::mpesa::{MpesaSim, SimConfig};
use serde::Serialize;
use url::Url;

use crate::Format;

mod products;
mod pull;

/// Arguments of `malipo mpesa`.
#[derive(Debug, Args)]
pub struct MpesaArgs {
    /// Output format: a readable summary, or JSON for scripts (Daraja's answer for calls to
    /// Daraja; malipo's summary for token and pull).
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    format: Format,
    #[command(subcommand)]
    command: MpesaCommand,
}

#[derive(Debug, Subcommand)]
enum MpesaCommand {
    /// Fetch an OAuth access token and print when it expires (the token itself only with --show).
    Token {
        /// Print the token itself. It authorises payments until it expires: keep it out of logs.
        #[arg(long)]
        show: bool,
    },
    /// Ask a customer's phone to approve a payment (Lipa na M-Pesa Online).
    StkPush(StkPushArgs),
    /// Ask what happened to an STK push.
    StkQuery {
        /// The CheckoutRequestID the STK push returned (ws_CO_…).
        checkout_request_id: String,
    },
    /// Pay a customer from the shortcode (B2C v3).
    B2c(B2cArgs),
    /// Pay another business from the shortcode.
    B2b(B2bArgs),
    /// Ask for a transaction's status ("what happened to this receipt?"); the answer is POSTed to --result-url.
    Status(StatusArgs),
    /// Ask for the shortcode's account balances; the answer is POSTed to --result-url.
    Balance(BalanceArgs),
    /// Reverse a payment received by the shortcode; the result is POSTed to --result-url.
    Reversal(ReversalArgs),
    /// Register the C2B confirmation and validation URLs of the shortcode.
    RegisterC2b(RegisterArgs),
    /// Pull the shortcode's C2B payments of a window from Daraja (C2B Pull Transactions) and
    /// store those malipo has not seen as the confirmations that never arrived; the gateway's
    /// worker records their payments. Safe to repeat.
    Pull(pull::PullArgs),
    /// Register the shortcode for C2B Pull Transactions (once per shortcode).
    PullRegister(pull::PullRegisterArgs),
    /// Generate a Dynamic QR code that customers scan in the M-PESA app to pay; writes the PNG
    /// to --out, else prints it as base64.
    Qr(QrArgs),
    /// Create an M-Pesa Ratiba standing order; the customer approves it with their PIN.
    Ratiba(products::RatibaArgs),
    /// B2B Express Checkout: a USSD prompt asking a merchant's till to pay your paybill.
    B2bExpress(products::B2bExpressArgs),
    /// Bill Manager: opt in, send and cancel e-invoices, acknowledge their payments.
    #[command(subcommand)]
    BillManager(products::BillManagerCommand),
}

#[derive(Debug, Args)]
struct StkPushArgs {
    /// The paying phone: 0712345678, 254712345678 or +254712345678.
    #[arg(long)]
    phone: Msisdn,
    /// Amount in whole Kenyan shillings, such as 100 (M-Pesa refuses cents).
    #[arg(long)]
    amount: String,
    /// Where Daraja POSTs the result (https in production).
    #[arg(long, value_name = "URL")]
    callback_url: Url,
    /// AccountReference shown to the customer, at most 12 characters.
    #[arg(long, default_value = "malipo")]
    reference: String,
    /// TransactionDesc, at most 13 characters.
    #[arg(long, default_value = "Payment")]
    description: String,
    /// Pay a till (CustomerBuyGoodsOnline) instead of the paybill: the configured
    /// mpesa.till_number, or the till given here.
    #[arg(long, value_name = "TILL", num_args = 0..=1, default_missing_value = "")]
    till: Option<String>,
}

/// Where a Result callback and its queue timeout go.
#[derive(Debug, Args)]
struct UrlArgs {
    /// Where Daraja POSTs the result.
    #[arg(long, value_name = "URL")]
    result_url: Url,
    /// Where Daraja POSTs a queue timeout notification.
    #[arg(long, value_name = "URL")]
    timeout_url: Url,
}

impl UrlArgs {
    fn urls(&self) -> ResultUrls {
        ResultUrls {
            result_url: self.result_url.clone(),
            queue_timeout_url: self.timeout_url.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum B2cKind {
    /// BusinessPayment: a plain payment.
    Business,
    /// SalaryPayment.
    Salary,
    /// PromotionPayment.
    Promotion,
}

#[derive(Debug, Args)]
struct B2cArgs {
    /// The receiving phone.
    #[arg(long)]
    phone: Msisdn,
    /// Amount in whole Kenyan shillings.
    #[arg(long)]
    amount: String,
    /// The kind of payment (CommandID).
    #[arg(long, value_enum, default_value_t = B2cKind::Business)]
    kind: B2cKind,
    /// Remarks, 2 to 100 characters.
    #[arg(long, default_value = "Payment")]
    remarks: String,
    /// Occasion, up to 100 characters.
    #[arg(long)]
    occasion: Option<String>,
    /// OriginatorConversationID; reuse one only to retry the same payment. A random one by default.
    #[arg(long, value_name = "ID")]
    originator_id: Option<String>,
    #[command(flatten)]
    urls: UrlArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum B2bKind {
    /// BusinessPayBill: pay a paybill (needs --account-reference).
    Paybill,
    /// BusinessBuyGoods: pay a till.
    BuyGoods,
    /// DisburseFundsToBusiness.
    Disburse,
    /// BusinessToBusinessTransfer.
    Transfer,
    /// MerchantToMerchantTransfer.
    MerchantTransfer,
}

#[derive(Debug, Args)]
struct B2bArgs {
    /// The receiving shortcode or till.
    #[arg(long)]
    receiver: String,
    /// Amount in whole Kenyan shillings.
    #[arg(long)]
    amount: String,
    /// The kind of payment (CommandID).
    #[arg(long, value_enum, default_value_t = B2bKind::Paybill)]
    kind: B2bKind,
    /// The receiver is a till number (identifier type 2) rather than a shortcode (4).
    #[arg(long)]
    receiver_is_till: bool,
    /// The account at the receiving paybill, up to 13 characters.
    #[arg(long)]
    account_reference: Option<String>,
    /// The customer on whose behalf the payment is made.
    #[arg(long)]
    requester: Option<Msisdn>,
    /// Remarks, 2 to 100 characters.
    #[arg(long, default_value = "Payment")]
    remarks: String,
    #[command(flatten)]
    urls: UrlArgs,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// The M-Pesa receipt / transaction id, such as NLJ7RT61SV (or give
    /// --original-conversation-id instead).
    #[arg(required_unless_present = "original_conversation_id")]
    transaction_id: Option<String>,
    /// The OriginatorConversationID of the request that made the transaction (a B2C payment
    /// whose result never came has no receipt to ask by).
    #[arg(long, value_name = "ID")]
    original_conversation_id: Option<String>,
    /// Remarks, 2 to 100 characters.
    #[arg(long, default_value = "Status query")]
    remarks: String,
    #[command(flatten)]
    urls: UrlArgs,
}

#[derive(Debug, Args)]
struct BalanceArgs {
    /// Remarks, 2 to 100 characters.
    #[arg(long, default_value = "Balance query")]
    remarks: String,
    #[command(flatten)]
    urls: UrlArgs,
}

#[derive(Debug, Args)]
struct ReversalArgs {
    /// The transaction to reverse, such as NLJ7RT61SV.
    transaction_id: String,
    /// Its amount in whole Kenyan shillings.
    #[arg(long)]
    amount: String,
    /// Remarks, 2 to 100 characters.
    #[arg(long, default_value = "Reversal")]
    remarks: String,
    /// Occasion, up to 100 characters.
    #[arg(long)]
    occasion: Option<String>,
    #[command(flatten)]
    urls: UrlArgs,
}

#[derive(Debug, Args)]
struct RegisterArgs {
    /// Receives confirmations (https; must not contain words like "mpesa" or "safaricom").
    #[arg(long, value_name = "URL")]
    confirmation_url: Url,
    /// Receives validation requests.
    #[arg(long, value_name = "URL")]
    validation_url: Url,
    /// Cancel payments when the validation URL does not answer in time (default: complete them).
    #[arg(long)]
    cancel_on_timeout: bool,
    /// Use the v2 API, whose confirmations mask the customer's number.
    #[arg(long)]
    v2: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum QrKind {
    /// BG: pay a merchant's till (Buy Goods).
    #[value(alias = "bg")]
    BuyGoods,
    /// WA: withdraw cash at an agent till.
    #[value(alias = "wa")]
    Withdraw,
    /// PB: pay a paybill or business number.
    #[value(alias = "pb")]
    Paybill,
    /// SM: send money to a phone number.
    #[value(alias = "sm")]
    SendMoney,
    /// SB: send to a business (its number in phone form).
    #[value(alias = "sb")]
    SendToBusiness,
}

#[derive(Debug, Args)]
struct QrArgs {
    /// The merchant's name shown to the customer.
    #[arg(long)]
    merchant_name: String,
    /// The transaction reference (RefNo).
    #[arg(long, value_name = "REF")]
    reference: String,
    /// Amount in whole Kenyan shillings.
    #[arg(long)]
    amount: String,
    /// What the code pays (TrxCode).
    #[arg(long = "type", value_enum, default_value_t = QrKind::BuyGoods)]
    kind: QrKind,
    /// Who is paid (CPI): the till, paybill or agent number, or the phone for send-money and
    /// send-to-business.
    #[arg(long, value_name = "NUMBER")]
    cpi: String,
    /// The square image's side in pixels.
    #[arg(long, default_value_t = 300)]
    size: u32,
    /// Write the PNG here instead of printing it as base64.
    #[arg(long, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
}

/// Arguments of `malipo sim mpesa`.
#[derive(Debug, Args)]
pub struct SimMpesaArgs {
    /// Port to listen on (127.0.0.1), the one examples/sandbox.toml and examples/local.toml
    /// expect; 0 picks a free one.
    #[arg(long, default_value_t = 9001)]
    pub port: u16,
    /// Milliseconds between an accepted request and its callback.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub callback_delay_ms: u64,
}

/// Turns the `[mpesa]` section into client settings, resolving every secret reference (the
/// gateway's own builder, so the CLI and `serve` read the section the same way).
pub fn settings_from_config(config: &malipo_config::Config) -> anyhow::Result<MpesaSettings> {
    malipo_gateway::mpesa_settings(config)?.context("the configuration has no [mpesa] section")
}

/// What a command prints: JSON for scripts, a summary for people.
struct Output {
    json: serde_json::Value,
    text: String,
}

impl Output {
    fn new<T: Serialize>(value: &T, text: String) -> anyhow::Result<Self> {
        Ok(Output {
            json: serde_json::to_value(value).context("encoding the answer as JSON")?,
            text,
        })
    }

    fn print(&self, format: Format) -> anyhow::Result<()> {
        match format {
            Format::Text => outln!("{}", self.text),
            Format::Json => outln!("{}", serde_json::to_string_pretty(&self.json)?),
        }
        Ok(())
    }
}

/// Runs `malipo mpesa`: exit 0 on success, 1 when Daraja refuses or cannot be reached (with
/// Daraja's code and message), 2 when the configuration or an argument cannot be used.
pub async fn run(args: MpesaArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    // The pull stores what it finds, so it needs the database and the account's client, not
    // just [mpesa]'s own client.
    let command = match args.command {
        MpesaCommand::Pull(a) => return pull::run(a, config, args.format).await,
        MpesaCommand::PullRegister(a) => return pull::register(a, config, args.format).await,
        other => other,
    };
    let settings = malipo_config::Config::load(config)
        .map_err(anyhow::Error::from)
        .and_then(|c| settings_from_config(&c));
    let client = match settings.and_then(|s| MpesaClient::new(s).map_err(anyhow::Error::from)) {
        Ok(client) => client,
        Err(e) => {
            eprint!("{}", crate::out::error_report(&e));
            return Ok(ExitCode::from(2));
        }
    };
    match call(&client, command).await {
        Ok(output) => {
            output.print(args.format)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(Failure::Usage(e)) => {
            eprint!("{}", crate::out::error_report(&e));
            Ok(ExitCode::from(2))
        }
        Err(Failure::Daraja(e)) => {
            report(&e, args.format);
            Ok(ExitCode::from(match e {
                MpesaError::Invalid { .. } | MpesaError::MissingSetting { .. } => 2,
                _ => 1,
            }))
        }
    }
}

enum Failure {
    Usage(anyhow::Error),
    Daraja(MpesaError),
}

impl From<MpesaError> for Failure {
    fn from(e: MpesaError) -> Self {
        Failure::Daraja(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Usage(e)
    }
}

/// Prints a Daraja failure: the error line on stderr, plus a JSON document on stdout with
/// `--format json`.
fn report(e: &MpesaError, format: Format) {
    eprintln!("error: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    if token_failed(e) {
        eprintln!(
            "note: the access token request failed, so nothing else was sent; check mpesa.base_url (is `malipo sim mpesa` running?) and the consumer key and secret"
        );
    } else if e.outcome_unknown() {
        eprintln!("note: the request may have been processed; query it before sending it again");
    }
    if format == Format::Json {
        let doc = serde_json::json!({"error": {
            "message": e.to_string(),
            "http_status": e.http_status(),
            "request_id": e.request_id(),
            "error_code": e.error_code(),
            "outcome_unknown": e.outcome_unknown() && !token_failed(e),
        }});
        outln!("{doc:#}");
    }
}

/// Whether the failure is the OAuth token request's, which every call makes first: nothing
/// that could move money was sent.
fn token_failed(e: &MpesaError) -> bool {
    let operation = match e {
        MpesaError::Api { operation, .. }
        | MpesaError::Rejected { operation, .. }
        | MpesaError::Http { operation, .. }
        | MpesaError::Timeout { operation, .. }
        | MpesaError::Transport { operation, .. }
        | MpesaError::Decode { operation, .. } => *operation,
        _ => return false,
    };
    operation == "token"
}

fn kes(amount: &str) -> anyhow::Result<Money> {
    Money::parse(amount.trim(), Currency::Kes).with_context(|| format!("--amount {amount:?}"))
}

fn accepted_text(what: &str, a: &AcceptedResponse, result_url: Option<&Url>) -> String {
    let mut text = format!(
        "{what} accepted: {}\n  ConversationID:           {}\n  OriginatorConversationID: {}",
        a.response_description,
        a.conversation_id.as_deref().unwrap_or("-"),
        a.originator_conversation_id.as_deref().unwrap_or("-"),
    );
    if let Some(url) = result_url {
        text.push_str(&format!("\n  the result will be POSTed to {url}"));
    }
    text
}

async fn call(client: &MpesaClient, command: MpesaCommand) -> Result<Output, Failure> {
    Ok(match command {
        MpesaCommand::Token { show } => {
            let token = client.access_token().await?;
            let left = (token.expires_at - chrono::Utc::now()).num_minutes();
            let mut text = format!(
                "access token obtained from {}; expires at {} (in {left} min)",
                client.settings().base_url,
                token.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
            let mut json = serde_json::json!({"expires_at": token.expires_at.to_rfc3339()});
            if show {
                text.push_str(&format!("\n{}", token.token.expose()));
                json["access_token"] = serde_json::json!(token.token.expose());
            } else {
                text.push_str("\n(pass --show to print the token itself)");
            }
            Output { json, text }
        }
        MpesaCommand::StkPush(a) => {
            let mut request = StkPushRequest::paybill(
                kes(&a.amount)?,
                a.phone.clone(),
                a.callback_url,
                a.reference,
                a.description,
            );
            if let Some(till) = a.till {
                let till = if till.is_empty() {
                    client
                        .settings()
                        .till_number
                        .clone()
                        .context("--till without a value needs mpesa.till_number in the configuration")?
                } else {
                    till
                };
                request = request.to_till(till);
            }
            let r = client.stk_push(&request).await?;
            let text = format!(
                "STK push sent to {}: {}\n  CheckoutRequestID: {}\n  MerchantRequestID: {}\n  follow it with: malipo mpesa stk-query {}",
                a.phone,
                r.customer_message.as_deref().unwrap_or(&r.response_description),
                r.checkout_request_id,
                r.merchant_request_id,
                r.checkout_request_id,
            );
            Output::new(&r, text)?
        }
        MpesaCommand::StkQuery { checkout_request_id } => {
            let outcome = client.stk_query(&checkout_request_id).await?;
            let text = match &outcome {
                StkQueryOutcome::Pending { message, .. } => {
                    format!("{checkout_request_id}: still being processed ({message})")
                }
                StkQueryOutcome::Completed(r) => {
                    let code = r.result_code.as_deref().unwrap_or("-");
                    let meaning = r
                        .result_code_number()
                        .and_then(stk_result_meaning)
                        .unwrap_or("see ResultDesc");
                    format!(
                        "{checkout_request_id}: ResultCode {code} ({meaning}): {}",
                        r.result_desc.as_deref().unwrap_or("")
                    )
                }
            };
            Output::new(&outcome, text)?
        }
        MpesaCommand::B2c(a) => {
            let command = match a.kind {
                B2cKind::Business => B2cCommand::BusinessPayment,
                B2cKind::Salary => B2cCommand::SalaryPayment,
                B2cKind::Promotion => B2cCommand::PromotionPayment,
            };
            let mut request = B2cRequest::new(
                command,
                kes(&a.amount)?,
                a.phone,
                a.remarks,
                a.urls.result_url.clone(),
                a.urls.timeout_url.clone(),
            );
            request.occasion = a.occasion;
            if let Some(id) = a.originator_id {
                request.originator_conversation_id = id;
            }
            let r = client.b2c(&request).await?;
            Output::new(&r, accepted_text("B2C payment", &r, Some(&a.urls.result_url)))?
        }
        MpesaCommand::B2b(a) => {
            let request = B2bRequest {
                command: match a.kind {
                    B2bKind::Paybill => B2bCommand::BusinessPayBill,
                    B2bKind::BuyGoods => B2bCommand::BusinessBuyGoods,
                    B2bKind::Disburse => B2bCommand::DisburseFundsToBusiness,
                    B2bKind::Transfer => B2bCommand::BusinessToBusinessTransfer,
                    B2bKind::MerchantTransfer => B2bCommand::MerchantToMerchantTransfer,
                },
                amount: kes(&a.amount)?,
                receiver: a.receiver,
                receiver_identifier_type: if a.receiver_is_till {
                    IdentifierType::TillNumber
                } else {
                    IdentifierType::Shortcode
                },
                account_reference: a.account_reference,
                requester: a.requester,
                remarks: a.remarks,
                result_url: a.urls.result_url.clone(),
                queue_timeout_url: a.urls.timeout_url.clone(),
            };
            let r = client.b2b(&request).await?;
            Output::new(&r, accepted_text("B2B payment", &r, Some(&a.urls.result_url)))?
        }
        MpesaCommand::Status(a) => {
            let request = TransactionStatusRequest {
                transaction_id: a.transaction_id,
                original_conversation_id: a.original_conversation_id,
                party_a: None,
                identifier_type: IdentifierType::Shortcode,
                remarks: a.remarks,
                occasion: None,
                urls: a.urls.urls(),
            };
            let r = client.transaction_status(&request).await?;
            Output::new(
                &r,
                accepted_text("transaction status query", &r, Some(&a.urls.result_url)),
            )?
        }
        MpesaCommand::Balance(a) => {
            let request = AccountBalanceRequest {
                party_a: None,
                identifier_type: IdentifierType::Shortcode,
                remarks: a.remarks,
                urls: a.urls.urls(),
            };
            let r = client.account_balance(&request).await?;
            Output::new(
                &r,
                accepted_text("account balance query", &r, Some(&a.urls.result_url)),
            )?
        }
        MpesaCommand::Reversal(a) => {
            let request = ReversalRequest {
                transaction_id: a.transaction_id,
                amount: kes(&a.amount)?,
                receiver_party: None,
                remarks: a.remarks,
                occasion: a.occasion,
                urls: a.urls.urls(),
            };
            let r = client.reversal(&request).await?;
            Output::new(&r, accepted_text("reversal", &r, Some(&a.urls.result_url)))?
        }
        MpesaCommand::RegisterC2b(a) => {
            let request = RegisterUrlsRequest {
                shortcode: None,
                response_type: if a.cancel_on_timeout {
                    C2bResponseType::Cancelled
                } else {
                    C2bResponseType::Completed
                },
                confirmation_url: a.confirmation_url,
                validation_url: a.validation_url,
                version: if a.v2 { C2bVersion::V2 } else { C2bVersion::V1 },
            };
            let r = client.register_c2b_urls(&request).await?;
            Output::new(&r, accepted_text("C2B URL registration", &r, None))?
        }
        MpesaCommand::Qr(a) => {
            let request = DynamicQrRequest {
                merchant_name: a.merchant_name,
                reference: a.reference,
                amount: kes(&a.amount)?,
                transaction: match a.kind {
                    QrKind::BuyGoods => QrTransaction::BuyGoods,
                    QrKind::Withdraw => QrTransaction::WithdrawAtAgent,
                    QrKind::Paybill => QrTransaction::Paybill,
                    QrKind::SendMoney => QrTransaction::SendMoney,
                    QrKind::SendToBusiness => QrTransaction::SendToBusiness,
                },
                credit_party: a.cpi,
                size: a.size,
            };
            let qr = client.dynamic_qr(&request).await?;
            let text = match &a.out {
                Some(path) => {
                    let png = qr.png()?;
                    std::fs::write(path, &png).with_context(|| format!("writing {}", path.display()))?;
                    format!(
                        "QR code written to {} ({} bytes, PNG, {}x{} px): {}",
                        path.display(),
                        png.len(),
                        a.size,
                        a.size,
                        qr.response_description
                    )
                }
                None => qr.qr_code.trim().to_string(),
            };
            Output::new(&qr, text)?
        }
        MpesaCommand::Ratiba(a) => products::ratiba(client, a).await?,
        MpesaCommand::B2bExpress(a) => products::b2b_express(client, a).await?,
        MpesaCommand::BillManager(c) => products::bill_manager(client, c).await?,
        // `run` handles these before any client is built.
        MpesaCommand::Pull(_) | MpesaCommand::PullRegister(_) => {
            return Err(Failure::Usage(anyhow::anyhow!(
                "the pull commands are run by `run`, with the database"
            )))
        }
    })
}

/// Runs `malipo sim mpesa` until Ctrl-C.
pub async fn run_sim(args: SimMpesaArgs) -> anyhow::Result<ExitCode> {
    let config = SimConfig {
        port: args.port,
        ..SimConfig::default()
    }
    .with_demo_outcomes()
    .callback_delay(Duration::from_millis(args.callback_delay_ms));
    let sim = MpesaSim::start(config)
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let c = sim.config();
    let base = sim.base_url();
    outln!("Daraja simulator listening on {base}");
    outln!("test credentials it accepts (fake, for local use only):");
    outln!("  consumer key     {}", c.consumer_key);
    outln!("  consumer secret  {}", c.consumer_secret);
    outln!("  shortcode        {}", c.shortcode);
    outln!(
        "  passkey          {} (Safaricom's public sandbox passkey)",
        c.passkey
    );
    outln!(
        "  initiator name   {} (any non-empty security credential)",
        c.initiator_name
    );
    outln!(
        "callbacks are POSTed {} ms after each accepted request; outcomes by amount:",
        args.callback_delay_ms
    );
    outln!("  KES 1032 cancelled (1032), 1037 timeout (1037), 1111 insufficient funds (1),");
    outln!("  4040 paid but never calls back (find it with stk-query); any other amount is paid");
    outln!("point malipo at it with:");
    outln!(
        "  [mpesa]\n  base_url = \"{base}\"\n  shortcode = \"{}\"",
        c.shortcode
    );
    outln!(
        "  consumer_key = \"{}\"\n  consumer_secret = \"{}\"",
        c.consumer_key,
        c.consumer_secret
    );
    outln!("  passkey = \"{}\"", c.passkey);
    // The simulator calls back from this machine, not from Safaricom's addresses.
    outln!("  callback_ips = [\"127.0.0.0/8\"]   # the simulator's callbacks come from loopback");
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox_config(base_url: &str) -> malipo_config::Config {
        malipo_config::Config::from_toml(&format!(
            r#"
environment = "sandbox"
[mpesa]
base_url = "{base_url}"
shortcode = "174379"
consumer_key = "sim-consumer-key"
consumer_secret = "sim-consumer-secret"
passkey = "{}"
initiator_name = "testapi"
security_credential = "c2ltdWxhdGVk"
timeout_secs = 5
"#,
            malipo_sim::mpesa::SANDBOX_PASSKEY
        ))
        .expect("a valid sandbox configuration")
    }

    #[test]
    fn settings_come_from_the_mpesa_section() {
        let settings = settings_from_config(&sandbox_config("http://127.0.0.1:9/")).unwrap();
        assert_eq!(settings.base_url.as_str(), "http://127.0.0.1:9/");
        assert_eq!(settings.shortcode, "174379");
        assert_eq!(settings.consumer_key.expose(), "sim-consumer-key");
        assert_eq!(settings.initiator_name.as_deref(), Some("testapi"));
        assert_eq!(
            settings.security_credential.as_ref().map(|s| s.expose().as_str()),
            Some("c2ltdWxhdGVk")
        );
        assert_eq!(settings.timeout, Duration::from_secs(5));
        let printed = format!("{settings:?}");
        assert!(!printed.contains("sim-consumer-secret"), "{printed}");
    }

    #[tokio::test]
    async fn token_is_not_printed_without_show_and_commands_reach_the_simulator() {
        let sim = MpesaSim::start(SimConfig::default()).await.unwrap();
        let settings = settings_from_config(&sandbox_config(sim.base_url().as_str())).unwrap();
        let client = MpesaClient::new(settings).unwrap();

        let hidden = call(&client, MpesaCommand::Token { show: false })
            .await
            .ok()
            .unwrap();
        let token = client.access_token().await.unwrap();
        assert!(
            !hidden.text.contains(token.token.expose().as_str()),
            "{}",
            hidden.text
        );
        assert!(hidden.json.get("access_token").is_none());
        assert!(hidden.text.contains("expires at"));

        let shown = call(&client, MpesaCommand::Token { show: true })
            .await
            .ok()
            .unwrap();
        assert!(shown.text.contains(token.token.expose().as_str()));

        let push = StkPushArgs {
            phone: "0708374149".parse().unwrap(),
            amount: "10".into(),
            callback_url: "http://127.0.0.1:9/hooks/stk".parse().unwrap(),
            reference: "INV-1".into(),
            description: "Test".into(),
            till: None,
        };
        let out = call(&client, MpesaCommand::StkPush(push)).await.ok().unwrap();
        assert!(out.text.contains("CheckoutRequestID"), "{}", out.text);
        assert_eq!(out.json["ResponseCode"], "0");
        let id = out.json["CheckoutRequestID"].as_str().unwrap().to_string();
        let query = call(
            &client,
            MpesaCommand::StkQuery {
                checkout_request_id: id,
            },
        )
        .await
        .ok()
        .unwrap();
        assert!(query.text.contains("still being processed"), "{}", query.text);
        assert_eq!(query.json["status"], "pending");
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn daraja_refusals_keep_the_code() {
        let sim = MpesaSim::start(SimConfig::default()).await.unwrap();
        let settings = settings_from_config(&sandbox_config(sim.base_url().as_str())).unwrap();
        let client = MpesaClient::new(settings).unwrap();
        let result = call(
            &client,
            MpesaCommand::StkQuery {
                checkout_request_id: "ws_CO_unknown".into(),
            },
        )
        .await;
        match result {
            Err(Failure::Daraja(e)) => assert_eq!(e.error_code(), Some("400.002.02")),
            _ => panic!("expected a Daraja error"),
        }
        let bad_amount = StkPushArgs {
            phone: "0708374149".parse().unwrap(),
            amount: "10.50".into(),
            callback_url: "http://127.0.0.1:9/hooks/stk".parse().unwrap(),
            reference: "INV-1".into(),
            description: "Test".into(),
            till: None,
        };
        assert!(matches!(
            call(&client, MpesaCommand::StkPush(bad_amount)).await,
            Err(Failure::Daraja(MpesaError::Invalid { field: "Amount", .. }))
        ));
        sim.shutdown().await;
    }
}
