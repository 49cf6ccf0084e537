//! Payments and their state machine.

use malipo_core::{Currency, Money, Msisdn, PaymentId, PaymentState, Provider};
use rusqlite::types::Value;
use rusqlite::{params, Connection, Row};

use super::rows::{self, col};
use crate::error::Context;
use crate::{
    NewPayment, PaymentEffect, PaymentFilter, PaymentKey, PaymentRecord, PaymentTransition, StoreError,
    TransitionDetail,
};

const COLUMNS: &str = "id, provider, kind, state, amount_minor, currency, msisdn, email, \
     merchant_reference, provider_reference, description, metadata, receipt, result_code, \
     result_desc, created_at, updated_at";

fn decode(row: &Row<'_>) -> Result<PaymentRecord, StoreError> {
    const OP: &str = "reading a payment";
    let id: String = col(row, 0, OP)?;
    let provider: String = col(row, 1, OP)?;
    let state: i64 = col(row, 3, OP)?;
    let minor: i64 = col(row, 4, OP)?;
    let currency: String = col(row, 5, OP)?;
    let msisdn: Option<String> = col(row, 6, OP)?;
    let metadata: Option<String> = col(row, 11, OP)?;
    let corrupt = |what: &'static str, detail: String| StoreError::Corrupt { what, detail };
    Ok(PaymentRecord {
        id: rows::id(&id, "payments.id")?,
        provider: rows::provider(&provider)?,
        kind: col(row, 2, OP)?,
        state: PaymentState::from_code(state)
            .ok_or_else(|| corrupt("payments.state", format!("unknown state code {state}")))?,
        amount: Money::from_minor(
            u64::try_from(minor)
                .map_err(|_| corrupt("payments.amount_minor", format!("{minor} is negative")))?,
            currency
                .parse::<Currency>()
                .map_err(|e| corrupt("payments.currency", e.to_string()))?,
        ),
        msisdn: msisdn
            .map(|m| m.parse::<Msisdn>())
            .transpose()
            .map_err(|e| corrupt("payments.msisdn", e.to_string()))?,
        email: col(row, 7, OP)?,
        merchant_reference: col(row, 8, OP)?,
        provider_reference: col(row, 9, OP)?,
        description: col(row, 10, OP)?,
        metadata: metadata
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| corrupt("payments.metadata", e.to_string()))?,
        receipt: col(row, 12, OP)?,
        result_code: col(row, 13, OP)?,
        result_desc: col(row, 14, OP)?,
        created_at: rows::from_ms(col(row, 15, OP)?, "payments.created_at")?,
        updated_at: rows::from_ms(col(row, 16, OP)?, "payments.updated_at")?,
    })
}

/// Records a payment; a taken id or provider reference is a conflict.
pub(crate) fn insert(conn: &Connection, p: &NewPayment, now: i64) -> Result<PaymentRecord, StoreError> {
    const OP: &str = "recording a payment";
    let minor = i64::try_from(p.amount.minor()).map_err(|_| {
        StoreError::Invalid(format!(
            "amount {} is too large to store (at most {} minor units)",
            p.amount,
            i64::MAX
        ))
    })?;
    let metadata = p
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Invalid(format!("payment metadata cannot be stored: {e}")))?;
    let result = conn
        .prepare_cached(
            "INSERT INTO payments (id, provider, kind, state, amount_minor, currency, msisdn, \
             email, merchant_reference, provider_reference, description, metadata, created_at, \
             updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
        )
        .during(OP)?
        .execute(params![
            p.id.to_string(),
            p.provider.as_str(),
            p.kind,
            p.state.code(),
            minor,
            p.amount.currency().code(),
            p.msisdn.as_ref().map(|m| m.as_str()),
            p.email,
            p.merchant_reference,
            p.provider_reference,
            p.description,
            metadata,
            now,
        ]);
    match result {
        Ok(_) => {}
        Err(e) if rows::is_unique_violation(&e) => return Err(conflict(conn, p)?),
        Err(e) => return Err(StoreError::database(OP, e)),
    }
    super::outbox::payment_changed(conn, p.id, None, p.state, now)?;
    // The row is exactly what was bound; reading it back would only cost a lookup.
    let at = rows::from_ms(now, "payments.created_at")?;
    Ok(PaymentRecord {
        id: p.id,
        provider: p.provider,
        kind: p.kind.clone(),
        state: p.state,
        amount: p.amount,
        msisdn: p.msisdn.clone(),
        email: p.email.clone(),
        merchant_reference: p.merchant_reference.clone(),
        provider_reference: p.provider_reference.clone(),
        description: p.description.clone(),
        metadata: p.metadata.clone(),
        receipt: None,
        result_code: None,
        result_desc: None,
        created_at: at,
        updated_at: at,
    })
}

fn conflict(conn: &Connection, p: &NewPayment) -> Result<StoreError, StoreError> {
    if let Some(reference) = &p.provider_reference {
        if let Some(holder) = find_by_provider_ref(conn, p.provider, reference)? {
            return Ok(StoreError::Conflict {
                what: format!("{} provider reference {reference:?}", p.provider),
                holder: holder.id.to_string(),
            });
        }
    }
    Ok(StoreError::Conflict {
        what: format!("payment id {}", p.id),
        holder: p.id.to_string(),
    })
}

/// One payment.
pub(crate) fn get(conn: &Connection, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
    const OP: &str = "reading a payment";
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM payments WHERE id = ?1"))
        .during(OP)?;
    rows::first(&mut stmt, [id.to_string()], OP, decode)
}

fn must_get(conn: &Connection, id: PaymentId) -> Result<PaymentRecord, StoreError> {
    get(conn, id)?.ok_or_else(|| StoreError::NotFound {
        what: "payment",
        id: id.to_string(),
    })
}

/// The payment with this provider reference.
pub(crate) fn find_by_provider_ref(
    conn: &Connection,
    provider: Provider,
    reference: &str,
) -> Result<Option<PaymentRecord>, StoreError> {
    const OP: &str = "finding a payment by provider reference";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM payments WHERE provider = ?1 AND provider_reference = ?2"
        ))
        .during(OP)?;
    rows::first(&mut stmt, params![provider.as_str(), reference], OP, decode)
}

/// The payment `key` names.
pub(crate) fn find(conn: &Connection, key: &PaymentKey) -> Result<Option<PaymentRecord>, StoreError> {
    match key {
        PaymentKey::Id(id) => get(conn, *id),
        PaymentKey::ProviderRef(provider, reference) => find_by_provider_ref(conn, *provider, reference),
    }
}

/// Sets the provider reference.
pub(crate) fn set_provider_ref(
    conn: &Connection,
    id: PaymentId,
    reference: &str,
    now: i64,
) -> Result<PaymentRecord, StoreError> {
    const OP: &str = "setting a payment's provider reference";
    let current = must_get(conn, id)?;
    if current.provider_reference.as_deref() == Some(reference) {
        return Ok(current);
    }
    let result = conn
        .prepare_cached("UPDATE payments SET provider_reference = ?1, updated_at = ?2 WHERE id = ?3")
        .during(OP)?
        .execute(params![reference, now, id.to_string()]);
    match result {
        Ok(_) => must_get(conn, id),
        Err(e) if rows::is_unique_violation(&e) => {
            let holder = find_by_provider_ref(conn, current.provider, reference)?
                .map_or_else(|| "another payment".to_string(), |p| p.id.to_string());
            Err(StoreError::Conflict {
                what: format!("{} provider reference {reference:?}", current.provider),
                holder,
            })
        }
        Err(e) => Err(StoreError::database(OP, e)),
    }
}

/// Moves a payment; the writer thread serialises writes, so read-check-update is atomic here.
pub(crate) fn transition(
    conn: &Connection,
    id: PaymentId,
    to: PaymentState,
    detail: &TransitionDetail,
    now: i64,
) -> Result<PaymentTransition, StoreError> {
    const OP: &str = "changing a payment's state";
    let current = must_get(conn, id)?;
    let previous = current.state;
    previous
        .transition(to)
        .map_err(|source| StoreError::IllegalTransition { id, source })?;
    // The state in the WHERE makes the update a compare-and-set, as the PostgreSQL adapter
    // must do it; here it always matches because this connection is the only writer.
    let changed = conn
        .prepare_cached(
            "UPDATE payments SET state = ?1, \
             result_code = COALESCE(?2, result_code), result_desc = COALESCE(?3, result_desc), \
             receipt = COALESCE(?4, receipt), updated_at = ?5 WHERE id = ?6 AND state = ?7",
        )
        .during(OP)?
        .execute(params![
            to.code(),
            detail.result_code,
            detail.result_desc,
            detail.receipt,
            now,
            id.to_string(),
            previous.code(),
        ])
        .during(OP)?;
    if changed == 0 {
        return Err(StoreError::database(
            OP,
            crate::error::Reason(format!("payment {id} changed state concurrently")),
        ));
    }
    super::outbox::payment_changed(conn, id, Some(previous), to, now)?;
    Ok(PaymentTransition {
        payment: must_get(conn, id)?,
        previous,
    })
}

/// Applies a job outcome's payment change.
pub(crate) fn apply(
    conn: &Connection,
    change: &crate::PaymentChange,
    now: i64,
) -> Result<PaymentEffect, StoreError> {
    match change {
        crate::PaymentChange::Transition { id, to, detail } => {
            match transition(conn, *id, *to, detail, now) {
                Ok(t) if t.changed() => Ok(PaymentEffect::Changed {
                    previous: Some(t.previous),
                    payment: t.payment,
                }),
                Ok(t) => Ok(PaymentEffect::Unchanged(t.payment)),
                Err(StoreError::IllegalTransition { source, .. }) => Ok(PaymentEffect::Refused {
                    payment: must_get(conn, *id)?,
                    error: source,
                }),
                Err(e) => Err(e),
            }
        }
        crate::PaymentChange::Record(p) => {
            let existing = match &p.provider_reference {
                Some(r) => find_by_provider_ref(conn, p.provider, r)?,
                None => None,
            };
            let existing = match existing {
                Some(found) => Some(found),
                None => get(conn, p.id)?,
            };
            if let Some(existing) = existing {
                return Ok(PaymentEffect::Unchanged(existing));
            }
            Ok(PaymentEffect::Changed {
                payment: insert(conn, p, now)?,
                previous: None,
            })
        }
    }
}

/// Payments matching `filter`, newest first.
pub(crate) fn list(conn: &Connection, filter: &PaymentFilter) -> Result<Vec<PaymentRecord>, StoreError> {
    const OP: &str = "listing payments";
    let mut q = rows::Listing::select(COLUMNS, "payments");
    if let Some(p) = filter.provider {
        q.constant(format_args!("provider = '{}'", p.as_str()));
    }
    if let Some(s) = filter.state {
        q.constant(format_args!("state = {}", s.code()));
    }
    if let Some(r) = &filter.merchant_reference {
        q.bound("merchant_reference =", Value::Text(r.clone()));
    }
    if let Some(before) = filter.before {
        q.bound("id <", Value::Text(before.to_string()));
    }
    q.fetch(conn, filter.limit, OP, decode)
}

/// Pending payments created at or before `cutoff`, oldest first.
pub(crate) fn pending_before(
    conn: &Connection,
    cutoff: i64,
    limit: usize,
) -> Result<Vec<PaymentRecord>, StoreError> {
    const OP: &str = "listing pending payments";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM payments WHERE state = 0 AND created_at <= ?1 \
             ORDER BY created_at, id LIMIT ?2"
        ))
        .during(OP)?;
    rows::all(&mut stmt, params![cutoff, rows::page(limit)], OP, decode)
}
