//! Local copies of provider resources (Paystack customers, plans, subscriptions, transfers,
//! dedicated accounts), kept so merchants can read them without calling the provider, and the
//! checkpoints that make a sync resumable.

use chrono::{DateTime, Utc};
use malipo_core::{AccountName, Provider};
use serde::Serialize;
use serde_json::{Map, Value};

/// Where a record's latest copy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordSource {
    /// A verified webhook carried it.
    Webhook,
    /// A sync pulled it from the provider's API.
    Sync,
}

impl RecordSource {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordSource::Webhook => "webhook",
            RecordSource::Sync => "sync",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webhook" => Some(RecordSource::Webhook),
            "sync" => Some(RecordSource::Sync),
            _ => None,
        }
    }
}

/// A copy of one provider resource to keep, or to merge into the one kept.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    /// The provider holding the original.
    pub provider: Provider,
    /// The provider account it belongs to.
    pub account: AccountName,
    /// What it is, as the provider crate names it (`customer`, `subscription`, …).
    pub kind: String,
    /// The provider's identifier for it (`CUS_…`, `SUB_…`, a numeric id).
    pub id: String,
    /// The provider's JSON object (or, from a webhook, the part of it the event carries).
    pub data: Map<String, Value>,
    /// When the provider last changed it, when the copy says.
    pub updated_at: Option<DateTime<Utc>>,
    /// Where this copy came from.
    pub source: RecordSource,
}

impl NewRecord {
    /// Whether this copy may replace what is kept, last changed at `kept`: a copy older than
    /// the kept one (an API page read before a webhook arrived) must not undo the newer state.
    /// A copy without a time (a webhook's part of the object) always merges in.
    pub fn is_not_older_than(&self, kept: Option<DateTime<Utc>>) -> bool {
        !older(self.updated_at, kept)
    }
}

/// Merges a copy of a record (`copy`, last changed at `copy_at`) into the kept one, the one rule
/// every adapter and the worker follow: a copy older than the kept one is skipped (`false`; see
/// [`NewRecord::is_not_older_than`]); otherwise each of its top-level keys replaces the kept one
/// and keys it lacks are kept (a webhook carries part of an object, a customer's identification
/// or a subscription's new status, and must not erase what a sync stored of the rest), and the
/// kept time becomes the copy's when it has one.
pub fn merge_copy(
    kept: &mut Map<String, Value>,
    kept_at: &mut Option<DateTime<Utc>>,
    copy: Map<String, Value>,
    copy_at: Option<DateTime<Utc>>,
) -> bool {
    if older(copy_at, *kept_at) {
        return false;
    }
    for (key, value) in copy {
        kept.insert(key, value);
    }
    *kept_at = copy_at.or(*kept_at);
    true
}

/// The JSON text a record's data is stored as, by every adapter. A NUL character (`\u0000`,
/// which a customer's name or metadata can carry) becomes U+FFFD: PostgreSQL's `jsonb` refuses
/// it ("unsupported Unicode escape sequence"), and a worker keeps a whole batch's records in one
/// statement, so one such copy would fail every job of its batch.
pub(crate) fn data_text(data: Map<String, Value>) -> String {
    let mut value = Value::Object(data);
    let text = value.to_string();
    if !text.contains("\\u0000") {
        return text;
    }
    replace_nul(&mut value);
    value.to_string()
}

/// [`data_text`]'s replacement on the data itself, for an adapter that keeps it as JSON values.
pub(crate) fn without_nul(data: Map<String, Value>) -> Map<String, Value> {
    let mut value = Value::Object(data);
    replace_nul(&mut value);
    match value {
        Value::Object(data) => data,
        _ => unreachable!("an object stays an object"),
    }
}

fn replace_nul(value: &mut Value) {
    const REPLACEMENT: &str = "\u{FFFD}";
    match value {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', REPLACEMENT),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                replace_nul(&mut item);
                map.insert(key.replace('\0', REPLACEMENT), item);
            }
        }
        _ => {}
    }
}

/// Whether a copy last changed at `copy_at` is older than the kept record's `kept_at`; a copy
/// without a time (a webhook's part of the object) never is.
fn older(copy_at: Option<DateTime<Utc>>, kept_at: Option<DateTime<Utc>>) -> bool {
    matches!((copy_at, kept_at), (Some(new), Some(old)) if new < old)
}

/// A kept record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordEntry {
    /// The provider holding the original.
    pub provider: Provider,
    /// The provider account it belongs to.
    pub account: AccountName,
    /// What it is.
    pub kind: String,
    /// The provider's identifier for it.
    pub id: String,
    /// The merged JSON object.
    pub data: Map<String, Value>,
    /// When the provider last changed it, as the newest copy said.
    pub updated_at: Option<DateTime<Utc>>,
    /// Where the latest copy came from.
    pub source: RecordSource,
    /// When malipo first kept it.
    pub first_seen_at: DateTime<Utc>,
    /// When malipo last merged a copy into it.
    pub last_seen_at: DateTime<Utc>,
}

/// Which records to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFilter {
    /// Only this provider's.
    pub provider: Provider,
    /// Only this kind.
    pub kind: String,
    /// Only this account's.
    pub account: Option<AccountName>,
    /// Only records whose id is this, or whose JSON holds this text (case-insensitive), such as
    /// an email address.
    pub search: Option<String>,
    /// At most this many (newest kept first).
    pub limit: usize,
    /// Skip this many first.
    pub offset: usize,
}

impl RecordFilter {
    /// The first 50 records of `kind`.
    pub fn new(provider: Provider, kind: impl Into<String>) -> Self {
        RecordFilter {
            provider,
            kind: kind.into(),
            account: None,
            search: None,
            limit: 50,
            offset: 0,
        }
    }

    /// Whether `record` passes the filter's conditions (not its paging).
    pub fn matches(&self, record: &RecordEntry) -> bool {
        record.provider == self.provider
            && record.kind == self.kind
            && self.account.as_ref().is_none_or(|a| *a == record.account)
            && self.search.as_deref().is_none_or(|s| {
                record.id == s
                    || Value::Object(record.data.clone())
                        .to_string()
                        .to_lowercase()
                        .contains(&s.to_lowercase())
            })
    }
}

/// How far a sync of one kind of record got: it resumes from `next_page` after an interruption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncCheckpoint {
    /// The provider synced.
    pub provider: Provider,
    /// The account synced.
    pub account: AccountName,
    /// The kind synced.
    pub kind: String,
    /// The sync's lower time bound (empty: everything), as given to the provider; a sync asked
    /// with another bound starts over.
    pub since: String,
    /// The next page to ask for (pages count from 1).
    pub next_page: u32,
    /// Records stored so far by this sync.
    pub synced: u64,
    /// How many the provider said there are, once it said.
    pub total: Option<u64>,
    /// Whether the last page was stored.
    pub done: bool,
}
