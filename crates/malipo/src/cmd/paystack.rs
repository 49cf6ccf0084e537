//! `malipo paystack`: call the configured Paystack account from the shell, sign a webhook body;
//! `malipo sim paystack`: run the Paystack simulator for a person.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use malipo_core::{Currency, Money, Secret};
use malipo_paystack::{
    Client, CreateRefund, CreateTransferRecipient, InitializeTransaction, InitiateTransfer, ListQuery,
    Refund, Transaction, Transfer, TransferRecipient,
};
use malipo_sim::paystack::{PaystackSim, SimConfig, TEST_OTP, TEST_SECRET_KEY};

use crate::Format;

/// Arguments of `malipo paystack`.
#[derive(Debug, Args)]
pub struct PaystackArgs {
    /// Output format: readable text, or JSON for scripts (Paystack's answer for calls to
    /// Paystack; malipo's summary for sync, records and sign).
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    format: Format,
    #[command(subcommand)]
    command: PaystackCommand,
}

#[derive(Debug, Subcommand)]
enum PaystackCommand {
    #[command(flatten)]
    Api(ApiCommand),
    /// Print the X-Paystack-Signature header Paystack would send with the body read from
    /// standard input (for testing a webhook endpoint by hand).
    Sign(SignArgs),
    /// Copy the account's customers, plans, subscriptions, transfers and dedicated accounts into
    /// the database, resuming an interrupted sync where it stopped; webhooks keep them current.
    Sync(super::paystack_records::SyncArgs),
    /// List the kept customers, plans, subscriptions, transfers or dedicated accounts, or show one.
    Records(super::paystack_records::RecordsArgs),
}

/// The commands that call the configured account.
#[derive(Debug, Subcommand)]
enum ApiCommand {
    /// Start a checkout (POST /transaction/initialize) and print the URL the customer pays on.
    Init(InitArgs),
    /// Ask Paystack for a transaction's state by reference (GET /transaction/verify/:reference).
    Verify {
        /// The transaction reference.
        reference: String,
    },
    /// Refund a transaction fully, or partly with --amount (POST /refund).
    Refund(RefundArgs),
    /// Pay out from the balance: create a recipient, send, finalize with OTP, verify.
    #[command(subcommand)]
    Transfer(TransferCommand),
    /// List transactions, refunds or transfers, newest first.
    List(ListArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    /// The paying customer's email address (Paystack requires one).
    #[arg(long)]
    email: String,
    /// The amount in major units, such as 150 or 150.50.
    #[arg(long)]
    amount: String,
    /// The currency (KES, NGN, GHS, ZAR, USD, XOF).
    #[arg(long, default_value = "KES")]
    currency: Currency,
    /// Your unique reference [default: Paystack generates one].
    #[arg(long)]
    reference: Option<String>,
    /// Where to send the customer after paying [default: the dashboard setting].
    #[arg(long, value_name = "URL")]
    callback_url: Option<String>,
}

#[derive(Debug, Args)]
struct RefundArgs {
    /// The transaction's reference or numeric id.
    transaction: String,
    /// Refund only this much, in major units [default: the whole transaction].
    #[arg(long)]
    amount: Option<String>,
    /// The currency of --amount.
    #[arg(long, default_value = "KES")]
    currency: Currency,
    /// A note shown to the customer.
    #[arg(long)]
    note: Option<String>,
}

#[derive(Debug, Subcommand)]
enum TransferCommand {
    /// Register someone to pay (POST /transferrecipient); prints the RCP_ code.
    Recipient {
        /// Recipient type: mobile_money, nuban, basa, kepss, ghipss, …
        #[arg(long = "type", value_name = "TYPE")]
        recipient_type: String,
        /// The recipient's name.
        #[arg(long)]
        name: String,
        /// Account or phone number.
        #[arg(long)]
        account_number: String,
        /// Bank or mobile-money operator code from Paystack's bank list.
        #[arg(long)]
        bank_code: String,
        /// The currency the recipient is paid in.
        #[arg(long, default_value = "KES")]
        currency: Currency,
    },
    /// Send money to a recipient (POST /transfer).
    Send {
        /// The recipient's RCP_ code.
        #[arg(long)]
        recipient: String,
        /// The amount in major units, such as 500 or 500.25.
        #[arg(long)]
        amount: String,
        /// The currency.
        #[arg(long, default_value = "KES")]
        currency: Currency,
        /// Your unique reference (makes a retry safe) [default: Paystack generates one].
        #[arg(long)]
        reference: Option<String>,
        /// The reason shown to the recipient.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Confirm a transfer waiting for OTP (POST /transfer/finalize_transfer).
    Finalize {
        /// The transfer's TRF_ code.
        transfer_code: String,
        /// The one-time code Paystack sent to the business phone or email.
        #[arg(long)]
        otp: String,
    },
    /// A transfer's state by your reference (GET /transfer/verify/:reference).
    Verify {
        /// The transfer reference.
        reference: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ListWhat {
    /// Transactions (charges).
    Transactions,
    /// Refunds.
    Refunds,
    /// Transfers (payouts).
    Transfers,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// What to list.
    #[arg(value_enum, default_value_t = ListWhat::Transactions)]
    what: ListWhat,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    page: u32,
    /// Items per page.
    #[arg(long, default_value_t = 20)]
    per_page: u32,
    /// Only items in this status (success, failed, abandoned, …).
    #[arg(long)]
    status: Option<String>,
    /// Fetch every page from --page on, not just one.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Args)]
struct SignArgs {
    /// Name of the environment variable holding the secret key (never pass a key as an
    /// argument: it would land in the shell history and the process list).
    #[arg(long, value_name = "VAR")]
    secret_env: String,
}

/// Arguments of `malipo sim paystack`.
#[derive(Debug, Args)]
pub struct SimPaystackArgs {
    /// Port to listen on (127.0.0.1), the one examples/sandbox.toml and examples/local.toml
    /// expect; 0 picks a free one.
    #[arg(long, default_value_t = 9002)]
    pub port: u16,
    /// Where to POST signed webhooks: the gateway's http://127.0.0.1:8080/webhooks/paystack
    /// [default: record them without sending].
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<url::Url>,
    /// Seconds between webhook delivery attempts after a failure.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub retry_interval: u64,
    /// Webhook delivery attempts, the first included.
    #[arg(long, default_value_t = 5)]
    pub max_attempts: u32,
    /// Make transfers wait for the OTP (the simulator accepts 123456).
    #[arg(long)]
    pub otp: bool,
}

/// Runs `malipo paystack`: exit 0 on success, 1 when Paystack refuses or cannot be reached, 2
/// when the configuration or the input cannot be used.
pub async fn run(args: PaystackArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let format = args.format;
    let command = match args.command {
        PaystackCommand::Sign(sign) => return run_sign(&sign, format, &mut std::io::stdin().lock()),
        PaystackCommand::Sync(sync) => return super::paystack_records::sync(sync, format, config).await,
        PaystackCommand::Records(records) => {
            return super::paystack_records::records(records, format, config).await
        }
        PaystackCommand::Api(command) => command,
    };
    let client = match client(config) {
        Ok(client) => client,
        Err(e) => {
            eprint!("{}", crate::out::error_report(&e));
            return Ok(ExitCode::from(2));
        }
    };
    api(&client, command).await?.print(format)?;
    Ok(ExitCode::SUCCESS)
}

async fn api(client: &Client, command: ApiCommand) -> anyhow::Result<Output> {
    match command {
        ApiCommand::Init(a) => {
            let amount = money(&a.amount, a.currency)?;
            let mut req = InitializeTransaction::new(a.email, amount);
            if let Some(r) = a.reference {
                req = req.reference(r);
            }
            if let Some(url) = a.callback_url {
                req = req.callback_url(url);
            }
            let started = client.initialize_transaction(&req).await?;
            Output::new(
                &started,
                format!(
                    "reference:         {}\naccess code:       {}\nauthorization url: {}",
                    started.reference, started.access_code, started.authorization_url
                ),
            )
        }
        ApiCommand::Verify { reference } => {
            let tx = client.verify_transaction(&reference).await?;
            Output::new(&tx, transaction_text(&tx))
        }
        ApiCommand::Refund(a) => {
            let mut req = match &a.amount {
                Some(amount) => CreateRefund::partial(a.transaction, money(amount, a.currency)?),
                None => CreateRefund::full(a.transaction),
            };
            if let Some(note) = a.note {
                req = req.customer_note(note);
            }
            let refund = client.create_refund(&req).await?;
            Output::new(&refund, refund_text(&refund))
        }
        ApiCommand::Transfer(t) => transfer(client, t).await,
        ApiCommand::List(a) => list(client, a).await,
    }
}

async fn transfer(client: &Client, command: TransferCommand) -> anyhow::Result<Output> {
    match command {
        TransferCommand::Recipient {
            recipient_type,
            name,
            account_number,
            bank_code,
            currency,
        } => {
            let req = CreateTransferRecipient::new(recipient_type, name, account_number, bank_code)
                .currency(currency);
            let r = client.create_transfer_recipient(&req).await?;
            Output::new(&r, recipient_text(&r))
        }
        TransferCommand::Send {
            recipient,
            amount,
            currency,
            reference,
            reason,
        } => {
            let mut req = InitiateTransfer::new(money(&amount, currency)?, recipient);
            if let Some(r) = reference {
                req = req.reference(r);
            }
            if let Some(r) = reason {
                req = req.reason(r);
            }
            let t = client.initiate_transfer(&req).await?;
            let mut text = transfer_text(&t);
            if t.status.as_deref() == Some("otp") {
                text.push_str("\nnext: malipo paystack transfer finalize <TRANSFER_CODE> --otp <OTP>");
            }
            Output::new(&t, text)
        }
        TransferCommand::Finalize { transfer_code, otp } => {
            let t = client.finalize_transfer(&transfer_code, &otp).await?;
            Output::new(&t, transfer_text(&t))
        }
        TransferCommand::Verify { reference } => {
            let t = client.verify_transfer(&reference).await?;
            Output::new(&t, transfer_text(&t))
        }
    }
}

async fn list(client: &Client, a: ListArgs) -> anyhow::Result<Output> {
    let query = ListQuery {
        per_page: Some(a.per_page),
        page: Some(a.page),
        status: a.status,
        ..ListQuery::default()
    };
    macro_rules! collect {
        ($one:ident, $text:ident) => {{
            let mut query = query;
            let mut items = Vec::new();
            loop {
                let page = client.$one(&query).await?;
                let current = page.meta.page.unwrap_or(u64::from(query.page.unwrap_or(1)));
                let last = page.items.is_empty() || page.meta.page_count.is_none_or(|count| current >= count);
                items.extend(page.items);
                if !a.all || last {
                    break;
                }
                query.page = Some(query.page.unwrap_or(1).saturating_add(1));
            }
            let text = if items.is_empty() {
                "nothing found".to_string()
            } else {
                items.iter().map($text).collect::<Vec<_>>().join("\n\n")
            };
            Output::new(&items, text)
        }};
    }
    match a.what {
        ListWhat::Transactions => collect!(list_transactions, transaction_text),
        ListWhat::Refunds => collect!(list_refunds, refund_text),
        ListWhat::Transfers => collect!(list_transfers, transfer_text),
    }
}

fn run_sign(args: &SignArgs, format: Format, stdin: &mut dyn std::io::Read) -> anyhow::Result<ExitCode> {
    let secret = match std::env::var(&args.secret_env) {
        Ok(v) if !v.is_empty() => Secret::new(v),
        _ => {
            eprintln!(
                "error: the environment variable {} is not set or empty: expected the Paystack secret key",
                args.secret_env
            );
            return Ok(ExitCode::from(2));
        }
    };
    let mut body = Vec::new();
    stdin
        .read_to_end(&mut body)
        .context("cannot read the body from standard input")?;
    let signature = malipo_paystack::sign(&body, &secret);
    match format {
        Format::Text => outln!("X-Paystack-Signature: {signature}"),
        Format::Json => outln!(
            "{}",
            serde_json::json!({ "header": "X-Paystack-Signature", "value": signature })
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the client from `[paystack]` of the configuration, resolving the secret reference.
fn client(config: Option<&Path>) -> anyhow::Result<Client> {
    let config = malipo_config::Config::load(config).context("cannot load the configuration")?;
    malipo_gateway::paystack_client(&config)
        .context("cannot build the Paystack client")?
        .context("the configuration has no [paystack] section: add one with secret_key = { env = \"PAYSTACK_SECRET_KEY\" }")
}

fn money(amount: &str, currency: Currency) -> anyhow::Result<Money> {
    Money::parse(amount, currency).with_context(|| format!("--amount {amount:?}"))
}

/// What a command prints: readable text, or JSON.
struct Output {
    json: serde_json::Value,
    text: String,
}

impl Output {
    fn new(value: &impl serde::Serialize, text: String) -> anyhow::Result<Output> {
        Ok(Output {
            json: serde_json::to_value(value).context("cannot render the answer as JSON")?,
            text,
        })
    }

    fn print(&self, format: Format) -> anyhow::Result<()> {
        match format {
            Format::Text => outln!("{}", self.text),
            Format::Json => outln!(
                "{}",
                serde_json::to_string_pretty(&self.json).context("cannot print JSON")?
            ),
        }
        Ok(())
    }
}

fn or_dash(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}

fn amount_text(money: Option<Money>, minor: Option<u64>, currency: Option<&str>) -> String {
    match (money, minor) {
        (Some(m), _) => m.to_string(),
        (None, Some(minor)) => format!("{} {minor} (minor units)", or_dash(currency)),
        (None, None) => "-".to_string(),
    }
}

fn transaction_text(t: &Transaction) -> String {
    format!(
        "reference: {}\nstatus:    {}\namount:    {}\ncustomer:  {}\npaid at:   {}\nid:        {}",
        or_dash(t.reference.as_deref()),
        or_dash(t.status.as_deref()),
        amount_text(t.amount(), t.amount, t.currency.as_deref()),
        or_dash(t.customer.as_ref().and_then(|c| c.email.as_deref())),
        or_dash(t.paid_at.as_deref()),
        t.id.map_or("-".to_string(), |id| id.to_string()),
    )
}

fn refund_text(r: &Refund) -> String {
    format!(
        "refund id:   {}\nstatus:      {}\namount:      {}\ntransaction: {}",
        r.id.map_or("-".to_string(), |id| id.to_string()),
        or_dash(r.status.as_deref()),
        amount_text(r.amount(), r.amount, r.currency.as_deref()),
        match &r.transaction {
            Some(malipo_paystack::Expandable::Id(id)) => id.to_string(),
            _ => or_dash(r.transaction_reference()).to_string(),
        },
    )
}

fn transfer_text(t: &Transfer) -> String {
    format!(
        "reference:     {}\ntransfer code: {}\nstatus:        {}\namount:        {}\nreason:        {}",
        or_dash(t.reference.as_deref()),
        or_dash(t.transfer_code.as_deref()),
        or_dash(t.status.as_deref()),
        amount_text(t.amount(), t.amount, t.currency.as_deref()),
        or_dash(t.reason.as_deref()),
    )
}

fn recipient_text(r: &TransferRecipient) -> String {
    format!(
        "recipient code: {}\nname:           {}\ntype:           {}\naccount:        {}",
        or_dash(r.recipient_code.as_deref()),
        or_dash(r.name.as_deref()),
        or_dash(r.recipient_type.as_deref()),
        or_dash(r.details.as_ref().and_then(|d| d.account_number.as_deref())),
    )
}

/// Runs `malipo sim paystack` until Ctrl-C.
pub async fn run_sim(args: SimPaystackArgs) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let mut config = SimConfig::default()
        .retry_interval(Duration::from_secs(args.retry_interval))
        .max_attempts(args.max_attempts)
        .otp_required(args.otp);
    if let Some(url) = args.webhook_url.clone() {
        config = config.webhook_url(url);
    }
    let sim = PaystackSim::serve(listener, config).context("cannot start the simulator")?;
    let base = sim.base_url().clone();
    outln!("Paystack simulator listening on {base}");
    outln!("secret key it accepts (fake): {TEST_SECRET_KEY}");
    match &args.webhook_url {
        Some(url) => outln!("signed webhooks go to {url}"),
        None => outln!("webhooks are recorded, not sent (pass --webhook-url to send them)"),
    }
    if args.otp {
        outln!("transfers wait for the OTP {TEST_OTP}");
    }
    outln!("point malipo at it with:\n  [paystack]\n  base_url = \"{base}\"\n  secret_key = {{ env = \"PAYSTACK_SECRET_KEY\" }}\n  webhook_ips = [\"127.0.0.0/8\"]   # the simulator's webhooks come from loopback");
    outln!("pay a checkout: open its authorization_url, or POST {base}sim/authorize/<reference>");
    outln!("webhook log: GET {base}sim/deliveries");
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_reads_the_key_from_the_named_variable_only() {
        let var = "PAYSTACK_TEST_SIGN_KEY";
        std::env::set_var(var, "sk_test_obviously_fake");
        let args = SignArgs {
            secret_env: var.to_string(),
        };
        let mut body: &[u8] = br#"{"event":"charge.success","data":{"id":1}}"#;
        let code = run_sign(&args, Format::Text, &mut body).unwrap();
        assert_eq!(code, ExitCode::SUCCESS);

        let missing = SignArgs {
            secret_env: "PAYSTACK_TEST_SIGN_KEY_UNSET".to_string(),
        };
        let code = run_sign(&missing, Format::Text, &mut &b"{}"[..]).unwrap();
        assert_eq!(code, ExitCode::from(2));
    }

    #[test]
    fn texts_show_money_and_dashes_for_what_is_missing() {
        let tx: Transaction = serde_json::from_value(serde_json::json!({
            "id": 7, "reference": "r1", "status": "success", "amount": 15050, "currency": "KES"
        }))
        .unwrap();
        let text = transaction_text(&tx);
        assert!(text.contains("KES 150.50"), "{text}");
        assert!(text.contains("customer:  -"), "{text}");
        let odd: Transfer =
            serde_json::from_value(serde_json::json!({"amount": 5, "currency": "EGP"})).unwrap();
        assert!(transfer_text(&odd).contains("EGP 5 (minor units)"));
    }

    #[test]
    fn the_command_line_parses() {
        use clap::Parser as _;
        let cli = crate::Cli::try_parse_from([
            "malipo",
            "paystack",
            "--format",
            "json",
            "init",
            "--email",
            "a@example.com",
            "--amount",
            "150.50",
        ])
        .unwrap();
        assert!(matches!(cli.command, crate::Command::Paystack(_)));
        for line in [
            &["malipo", "paystack", "verify", "ref-1"][..],
            &["malipo", "paystack", "refund", "ref-1", "--amount", "10"],
            &[
                "malipo",
                "paystack",
                "transfer",
                "send",
                "--recipient",
                "RCP_x",
                "--amount",
                "5",
            ],
            &[
                "malipo", "paystack", "transfer", "finalize", "TRF_x", "--otp", "123456",
            ],
            &["malipo", "paystack", "list", "refunds", "--all"],
            &[
                "malipo",
                "paystack",
                "sign",
                "--secret-env",
                "PAYSTACK_SECRET_KEY",
            ],
            &[
                "malipo",
                "sim",
                "paystack",
                "--port",
                "0",
                "--webhook-url",
                "http://127.0.0.1:1/h",
            ],
        ] {
            crate::Cli::try_parse_from(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        }
        // A key is never an argument.
        assert!(crate::Cli::try_parse_from(["malipo", "paystack", "sign", "--secret", "sk"]).is_err());
    }

    #[tokio::test]
    async fn commands_call_the_configured_account() {
        let sim = PaystackSim::start(SimConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("malipo.toml");
        let var = "PAYSTACK_TEST_CLI_KEY";
        std::env::set_var(var, TEST_SECRET_KEY);
        std::fs::write(
            &path,
            format!(
                "environment = \"sandbox\"\n[paystack]\nbase_url = \"{}\"\nsecret_key = {{ env = \"{var}\" }}\n",
                sim.base_url()
            ),
        )
        .unwrap();
        let client = client(Some(&path)).unwrap();
        assert_eq!(client.base_url(), sim.base_url());

        let parse = |args: &[&str]| -> PaystackArgs {
            use clap::Parser as _;
            let mut line = vec!["malipo", "paystack"];
            line.extend_from_slice(args);
            match crate::Cli::try_parse_from(line).unwrap().command {
                crate::Command::Paystack(a) => a,
                other => panic!("{other:?}"),
            }
        };
        let run_ok = |args: PaystackArgs| {
            let path = path.clone();
            async move { run(args, Some(&path)).await.unwrap() }
        };
        let init = parse(&[
            "init",
            "--email",
            "a@example.com",
            "--amount",
            "12.50",
            "--reference",
            "cli-1",
        ]);
        assert_eq!(run_ok(init).await, ExitCode::SUCCESS);
        sim.authorize("cli-1").unwrap();
        assert_eq!(run_ok(parse(&["verify", "cli-1"])).await, ExitCode::SUCCESS);
        assert_eq!(
            run_ok(parse(&["--format", "json", "refund", "cli-1", "--amount", "2"])).await,
            ExitCode::SUCCESS
        );
        assert_eq!(
            run_ok(parse(&["list", "refunds", "--all"])).await,
            ExitCode::SUCCESS
        );
        // Paystack's refusal is an error carrying its message.
        let err = run(parse(&["verify", "no-such"]), Some(&path)).await.unwrap_err();
        assert!(
            format!("{err:#}").contains("Transaction reference not found"),
            "{err:#}"
        );
        // No [paystack] section: exit 2, not a panic.
        let empty = dir.path().join("empty.toml");
        std::fs::write(&empty, "environment = \"sandbox\"\n").unwrap();
        assert_eq!(
            run(parse(&["verify", "x"]), Some(&empty)).await.unwrap(),
            ExitCode::from(2)
        );
        sim.shutdown().await;
    }
}
