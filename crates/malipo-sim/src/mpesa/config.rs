//! What the simulator accepts and how it answers.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The sandbox's public Lipa na M-Pesa Online passkey (published by Safaricom for shortcode
/// 174379), used by default so sandbox-shaped configurations work unchanged.
pub const SANDBOX_PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

/// How a simulated payment ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// ResultCode 0: the customer paid.
    Paid,
    /// ResultCode 1032: the customer cancelled.
    Cancelled,
    /// ResultCode 1: not enough money.
    InsufficientFunds,
    /// ResultCode 1037: the phone could not be reached. For B2C, a queue timeout is posted to
    /// the QueueTimeOutURL instead of a result.
    Timeout,
    /// The customer paid but no callback is ever sent; the STK query reports the payment once
    /// it is decided (for reconciliation tests).
    NeverCallsBack,
    /// Any other result code and description, sent as-is.
    Code {
        /// The ResultCode.
        code: i64,
        /// The ResultDesc.
        desc: String,
    },
    /// The customer never finishes: no callback, and the STK query answers "being processed"
    /// for ever (for reconciliation deadline tests).
    Processing,
    /// The outcome happens but its callback is lost: the STK query reports it once it is
    /// decided (`LostCallback(Box::new(Outcome::Paid))` is [`Outcome::NeverCallsBack`]).
    LostCallback(Box<Outcome>),
}

impl Outcome {
    /// The ResultCode the callback and the query report.
    pub fn result_code(&self) -> i64 {
        match self {
            Outcome::Paid | Outcome::NeverCallsBack => 0,
            Outcome::Cancelled => 1032,
            Outcome::InsufficientFunds => 1,
            Outcome::Timeout => 1037,
            Outcome::Code { code, .. } => *code,
            // Never reported; Daraja's "still processing" has no ResultCode.
            Outcome::Processing => 500,
            Outcome::LostCallback(outcome) => outcome.result_code(),
        }
    }

    /// The ResultDesc, in Daraja's words.
    pub fn result_desc(&self) -> String {
        match self {
            Outcome::Paid | Outcome::NeverCallsBack => {
                "The service request is processed successfully.".into()
            }
            Outcome::Cancelled => "Request cancelled by user".into(),
            Outcome::InsufficientFunds => "The balance is insufficient for the transaction".into(),
            Outcome::Timeout => "DS timeout user cannot be reached".into(),
            Outcome::Code { desc, .. } => desc.clone(),
            Outcome::Processing => "The transaction is being processed".into(),
            Outcome::LostCallback(outcome) => outcome.result_desc(),
        }
    }

    /// True when money moves.
    pub fn is_paid(&self) -> bool {
        self.result_code() == 0
    }

    /// Whether a callback (or queue timeout) is sent for it.
    pub fn calls_back(&self) -> bool {
        !matches!(
            self,
            Outcome::NeverCallsBack | Outcome::Processing | Outcome::LostCallback(_)
        )
    }
}

/// The simulator's settings. `Default` accepts the test credentials printed by
/// `malipo sim mpesa` and pays every push after one second.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// The consumer key the token endpoint accepts.
    pub consumer_key: String,
    /// The consumer secret the token endpoint accepts.
    pub consumer_secret: String,
    /// The business shortcode.
    pub shortcode: String,
    /// The passkey STK passwords are checked against.
    pub passkey: String,
    /// The initiator name B2C/B2B/status/balance/reversal must carry (else ResultCode 2001).
    pub initiator_name: String,
    /// When set, the only SecurityCredential accepted (else ResultCode 2001); when `None`, any
    /// non-empty credential is.
    pub security_credential: Option<String>,
    /// The `expires_in` of issued tokens.
    pub token_ttl: Duration,
    /// Send `expires_in` as a JSON number instead of Daraja's string.
    pub token_expires_in_as_number: bool,
    /// Time between an accepted request and its callback (and the STK query's answer).
    pub callback_delay: Duration,
    /// The outcome when no phone or amount rule matches.
    pub default_outcome: Outcome,
    /// Outcomes by phone number (`2547XXXXXXXX`); checked before amounts.
    pub outcomes_by_phone: HashMap<String, Outcome>,
    /// Outcomes by amount in shillings.
    pub outcomes_by_amount: HashMap<u64, Outcome>,
    /// Refuse STK timestamps more than ten minutes away from Nairobi's clock (catches a client
    /// that sends UTC).
    pub check_timestamp: bool,
    /// Shortcodes refused by Pull Transactions (register and query answer `400.001 Invalid
    /// ShortCode`), as Daraja refuses a shortcode not enabled for pulling.
    pub pull_refused_shortcodes: HashSet<String>,
    /// Rows per page of a pull query.
    pub pull_page_size: usize,
    /// Drop every C2B confirmation (the payment still completes and is listed by the pull);
    /// [`MpesaSimHandle::send_dropped_confirmations`](super::MpesaSimHandle::send_dropped_confirmations)
    /// sends them late.
    pub drop_c2b_confirmations: bool,
    /// How every transaction status query ends, instead of the result this simulator would
    /// send (`Outcome::Timeout`: a queue timeout to the query's `QueueTimeOutURL`).
    pub status_outcome: Option<Outcome>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            port: 0,
            consumer_key: "sim-consumer-key".into(),
            consumer_secret: "sim-consumer-secret".into(),
            shortcode: "174379".into(),
            passkey: SANDBOX_PASSKEY.into(),
            initiator_name: "testapi".into(),
            security_credential: None,
            token_ttl: Duration::from_secs(3599),
            token_expires_in_as_number: false,
            callback_delay: Duration::from_secs(1),
            default_outcome: Outcome::Paid,
            outcomes_by_phone: HashMap::new(),
            outcomes_by_amount: HashMap::new(),
            check_timestamp: true,
            pull_refused_shortcodes: HashSet::new(),
            pull_page_size: 100,
            drop_c2b_confirmations: false,
            status_outcome: None,
        }
    }
}

impl SimConfig {
    /// Sets the callback delay.
    pub fn callback_delay(mut self, delay: Duration) -> Self {
        self.callback_delay = delay;
        self
    }

    /// Sets the outcome for one phone number.
    pub fn outcome_for_phone(mut self, phone: impl Into<String>, outcome: Outcome) -> Self {
        self.outcomes_by_phone.insert(phone.into(), outcome);
        self
    }

    /// Ends every transaction status query with `outcome` (see [`SimConfig::status_outcome`]).
    pub fn status_outcome(mut self, outcome: Outcome) -> Self {
        self.status_outcome = Some(outcome);
        self
    }

    /// Sets the outcome for one amount (shillings).
    pub fn outcome_for_amount(mut self, amount: u64, outcome: Outcome) -> Self {
        self.outcomes_by_amount.insert(amount, outcome);
        self
    }

    /// Outcomes a person can pick by amount: 1032 cancelled, 1037 timeout, 1111 insufficient
    /// funds, 4040 never calls back; any other amount is paid.
    pub fn with_demo_outcomes(self) -> Self {
        self.outcome_for_amount(1032, Outcome::Cancelled)
            .outcome_for_amount(1037, Outcome::Timeout)
            .outcome_for_amount(1111, Outcome::InsufficientFunds)
            .outcome_for_amount(4040, Outcome::NeverCallsBack)
    }
}
