//! The simulator's mutable state and the Daraja error answer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

use super::{Endpoint, Fault, Outcome, SentCallback};

/// A Daraja error answer `{requestId, errorCode, errorMessage}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// Daraja's answer to a field it does not accept.
    pub fn invalid(field: &str) -> Self {
        ApiError::new(400, "400.002.02", format!("Bad Request - Invalid {field}"))
    }

    pub fn body(&self) -> Value {
        json!({"requestId": request_id(), "errorCode": self.code, "errorMessage": self.message})
    }
}

/// An id like Daraja's `requestId` / `MerchantRequestID` (`29115-34620561-1`).
pub(crate) fn request_id() -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{}-{}-{}",
        rng.gen_range(1000..99999),
        rng.gen_range(1_000_000..99_999_999),
        rng.gen_range(1..4)
    )
}

/// `len` random characters from `alphabet`.
pub(crate) fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

/// An M-Pesa receipt such as `SGL7C4KF9X`.
pub(crate) fn receipt() -> String {
    format!("S{}", random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 9))
}

/// A ConversationID such as `AG_20191219_00004e48cf7e3533f581`.
pub(crate) fn conversation_id() -> String {
    format!(
        "AG_{}_{}",
        chrono::Utc::now().format("%Y%m%d"),
        random_from(b"0123456789abcdef", 20)
    )
}

/// An STK push the simulator accepted.
#[derive(Debug, Clone)]
pub(crate) struct Push {
    pub merchant_request_id: String,
    pub outcome: Outcome,
    pub decided_at: Instant,
}

/// URLs registered for a shortcode.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    pub confirmation_url: String,
    pub validation_url: String,
    pub cancel_by_default: bool,
    pub masked_msisdn: bool,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub requests: HashMap<Endpoint, u64>,
    pub tokens: HashSet<String>,
    pub token_expiry: HashMap<String, Instant>,
    pub pushes: HashMap<String, Push>,
    pub faults: HashMap<Endpoint, VecDeque<Fault>>,
    pub registrations: HashMap<String, Registration>,
    pub outcomes_by_phone: HashMap<String, Outcome>,
    pub outcomes_by_amount: HashMap<u64, Outcome>,
    pub sent: Vec<SentCallback>,
    /// B2C receipts issued, by OriginatorConversationID, with their amounts (whole KES): a
    /// transaction status query about a receipt answers with its real amount.
    pub b2c_receipts: HashMap<String, (String, u64)>,
    /// Every C2B payment completed, for the pull.
    pub c2b_transactions: Vec<super::pull::C2bTransaction>,
    /// Shortcodes registered for Pull Transactions.
    pub pull_registered: HashSet<String>,
    /// Shortcodes refused at run time (beside the configured ones).
    pub pull_refused: HashSet<String>,
    /// C2B confirmations are dropped (kept in `dropped`) instead of sent.
    pub drop_confirmations: bool,
    /// Dropped confirmations: where each would have gone, and its body.
    pub dropped: Vec<(String, Value)>,
    /// Paybills opted in to Bill Manager, with their callback URLs.
    pub bill_manager: HashMap<String, String>,
    /// Bill Manager invoices by external reference.
    pub invoices: HashMap<String, super::bill_manager::SimInvoice>,
}

impl State {
    pub fn issue_token(&mut self, ttl: Duration) -> String {
        let token = random_from(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            28,
        );
        self.tokens.insert(token.clone());
        self.token_expiry.insert(token.clone(), Instant::now() + ttl);
        token
    }

    pub fn token_valid(&self, token: &str) -> bool {
        self.tokens.contains(token) && self.token_expiry.get(token).is_some_and(|t| Instant::now() < *t)
    }

    pub fn outcome_for(&self, phone: &str, amount: u64, default: &Outcome) -> Outcome {
        self.outcomes_by_phone
            .get(phone)
            .or_else(|| self.outcomes_by_amount.get(&amount))
            .unwrap_or(default)
            .clone()
    }
}
