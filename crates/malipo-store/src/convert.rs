//! Conversions between the port's types and stored columns that both adapters share: times
//! are milliseconds since the epoch, ids and providers text, counts integers, error texts
//! clipped, pages capped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use malipo_core::{Id, IdKind, Provider};

use crate::StoreError;

/// Longest error text kept on a row; a merchant answering with a megabyte of HTML is clipped.
const MAX_ERROR_BYTES: usize = 2_048;

/// The largest page a listing returns.
pub(crate) const MAX_PAGE: usize = 1_000;

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64, what: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        what,
        detail: format!("{ms} is not a time in milliseconds"),
    })
}

pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn page(limit: usize) -> i64 {
    i64::try_from(limit.min(MAX_PAGE)).unwrap_or(0)
}

pub(crate) fn id<K: IdKind>(text: &str, what: &'static str) -> Result<Id<K>, StoreError> {
    text.parse()
        .map_err(|e: malipo_core::IdError| StoreError::Corrupt {
            what,
            detail: e.to_string(),
        })
}

pub(crate) fn opt_id<K: IdKind>(
    text: Option<String>,
    what: &'static str,
) -> Result<Option<Id<K>>, StoreError> {
    text.map(|t| id(&t, what)).transpose()
}

pub(crate) fn provider(text: &str) -> Result<Provider, StoreError> {
    text.parse().map_err(|detail| StoreError::Corrupt {
        what: "provider",
        detail,
    })
}

pub(crate) fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Clips an error text on a character boundary.
pub(crate) fn clip(text: &str) -> &str {
    if text.len() <= MAX_ERROR_BYTES {
        return text;
    }
    let mut end = MAX_ERROR_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
