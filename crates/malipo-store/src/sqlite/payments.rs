//! Payments and their state machine.

use std::sync::LazyLock;

use malipo_core::{Money, PaymentId, PaymentState, Provider};
use rusqlite::{params, Connection, Row};

use super::rows;
use crate::decode::payment::{payment, COLUMNS};
use crate::error::Context;
use crate::listing;
use crate::{
    NewPayment, PaymentEffect, PaymentFilter, PaymentKey, PaymentRecord, PaymentTransition, StoreError,
    TransitionDetail,
};
use crate::{PaymentCheck, SettledBy};

fn decode(row: &Row<'_>) -> Result<PaymentRecord, StoreError> {
    payment(row)
}

/// Records a payment; a taken id or provider reference is a conflict.
pub(crate) fn insert(conn: &Connection, p: &NewPayment, now: i64) -> Result<PaymentRecord, StoreError> {
    match try_insert(conn, p, now)? {
        Some(recorded) => Ok(recorded),
        None => Err(conflict(conn, p)?),
    }
}

/// Records a payment and announces it; `None` when its id or provider reference is taken
/// (nothing written: SQLite undoes the failed statement alone, not the transaction).
fn try_insert(conn: &Connection, p: &NewPayment, now: i64) -> Result<Option<PaymentRecord>, StoreError> {
    const OP: &str = "recording a payment";
    let minor = p.stored_minor()?;
    let metadata = p.stored_metadata()?;
    let settled_by = p.settled_by().map(SettledBy::as_str);
    let result = conn
        .prepare_cached(
            "INSERT INTO payments (id, provider, kind, state, amount_minor, currency, msisdn, \
             email, merchant_reference, provider_reference, description, metadata, created_at, \
             updated_at, parent_id, settled_by, provider_request_id, account) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16, ?17)",
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
            p.parent_id.map(|id| id.to_string()),
            settled_by,
            p.provider_request_id,
            // The default account is stored as NULL, as rows written before accounts existed are.
            (!p.account.is_default()).then(|| p.account.as_str()),
        ]);
    match result {
        Ok(_) => {}
        Err(e) if rows::is_unique_violation(&e) => return Ok(None),
        Err(e) => return Err(StoreError::database(OP, e)),
    }
    let recorded = p.recorded(rows::from_ms(now, "payments.created_at")?);
    super::outbox::payment_changed(conn, &recorded, None, p.state, now)?;
    Ok(Some(recorded))
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
    // Built once: the writer reads a payment for every change, the worker for every job.
    static SQL: LazyLock<String> = LazyLock::new(|| format!("SELECT {COLUMNS} FROM payments WHERE id = ?1"));
    let mut stmt = conn.prepare_cached(&SQL).during(OP)?;
    rows::first(&mut stmt, [id.to_string()], OP, decode)
}

fn must_get(conn: &Connection, id: PaymentId) -> Result<PaymentRecord, StoreError> {
    get(conn, id)?.ok_or_else(|| not_found(id))
}

fn not_found(id: PaymentId) -> StoreError {
    StoreError::NotFound {
        what: "payment",
        id: id.to_string(),
    }
}

/// The payment `p` would record, if it is there already: the one with its provider reference,
/// else the one with its id.
fn recorded(conn: &Connection, p: &NewPayment) -> Result<Option<PaymentRecord>, StoreError> {
    if let Some(reference) = &p.provider_reference {
        if let Some(found) = find_by_provider_ref(conn, p.provider, reference)? {
            return Ok(Some(found));
        }
    }
    get(conn, p.id)
}

/// The payment with this provider reference.
pub(crate) fn find_by_provider_ref(
    conn: &Connection,
    provider: Provider,
    reference: &str,
) -> Result<Option<PaymentRecord>, StoreError> {
    const OP: &str = "finding a payment by provider reference";
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {COLUMNS} FROM payments WHERE provider = ?1 AND provider_reference = ?2")
    });
    let mut stmt = conn.prepare_cached(&SQL).during(OP)?;
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

/// Sets both ids the provider gave the request, once it answered; a reference already held by
/// another payment is a conflict, and a payment's ids, once set, never change to others.
pub(crate) fn set_references(
    conn: &Connection,
    id: PaymentId,
    reference: &str,
    request_id: &str,
    now: i64,
) -> Result<PaymentRecord, StoreError> {
    const OP: &str = "setting a payment's provider ids";
    let current = must_get(conn, id)?;
    current.check_request_id(request_id)?;
    let current = set_provider_ref(conn, id, reference, now)?;
    if current.provider_request_id.as_deref() == Some(request_id) {
        return Ok(current);
    }
    conn.prepare_cached("UPDATE payments SET provider_request_id = ?1, updated_at = ?2 WHERE id = ?3")
        .during(OP)?
        .execute(params![request_id, now, id.to_string()])
        .during(OP)?;
    must_get(conn, id)
}

/// Gives part or all of a succeeded payment back; the state follows the refunded total.
fn refund(
    conn: &Connection,
    id: PaymentId,
    amount: Money,
    detail: &TransitionDetail,
    now: i64,
) -> Result<PaymentEffect, StoreError> {
    const OP: &str = "refunding a payment";
    let current = must_get(conn, id)?;
    let to = match current.refund_to(amount)? {
        Ok(to) => to,
        Err(refused) => return Ok(refused),
    };
    let refunded = i64::try_from(current.refunded.minor().saturating_add(amount.minor())).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "UPDATE payments SET state = ?1, refunded_minor = ?2, \
         result_code = COALESCE(?3, result_code), result_desc = COALESCE(?4, result_desc), \
         updated_at = ?5 WHERE id = ?6 AND state = ?7",
    )
    .during(OP)?
    .execute(params![
        to.code(),
        refunded,
        detail.result_code,
        detail.result_desc,
        now,
        id.to_string(),
        current.state.code(),
    ])
    .during(OP)?;
    let payment = must_get(conn, id)?;
    super::outbox::payment_changed(conn, &payment, Some(current.state), to, now)?;
    Ok(PaymentEffect::Changed {
        previous: Some(current.state),
        payment,
    })
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
    // must do it; here it always matches because this connection is the only writer. The
    // moved row is computed (`moved`), not read back: `RETURNING` it, as the PostgreSQL
    // adapter does to save a round trip, measured slower here than even a read by primary key
    // (11,213-12,386 STK callbacks/s against 12,632-12,926).
    let changed = conn
        .prepare_cached(
            "UPDATE payments SET state = ?1, \
             result_code = COALESCE(?2, result_code), result_desc = COALESCE(?3, result_desc), \
             receipt = COALESCE(?4, receipt), updated_at = ?5, \
             settled_by = CASE WHEN ?7 <> ?1 THEN COALESCE(?8, settled_by) ELSE settled_by END \
             WHERE id = ?6 AND state = ?7",
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
            detail.settled_by.map(SettledBy::as_str),
        ])
        .during(OP)?;
    if changed == 0 {
        return Err(StoreError::database(
            OP,
            crate::error::Reason(format!("payment {id} changed state concurrently")),
        ));
    }
    let payment = moved(current, to, detail, rows::from_ms(now, "payments.updated_at")?);
    super::outbox::payment_changed(conn, &payment, Some(previous), to, now)?;
    if previous != to && to == PaymentState::Succeeded {
        if let Some(parent) = payment.parent_id {
            refund_parent(conn, parent, now)?;
        }
    }
    Ok(PaymentTransition { payment, previous })
}

/// The row `transition`'s UPDATE leaves, computed from the row before it by the same rules,
/// so the writer does not read back what it has just written (a payment read per change; the
/// storage suite compares the two).
fn moved(
    mut payment: PaymentRecord,
    to: PaymentState,
    detail: &TransitionDetail,
    now: chrono::DateTime<chrono::Utc>,
) -> PaymentRecord {
    let keep_or = |kept: &mut Option<String>, new: &Option<String>| {
        if let Some(new) = new {
            *kept = Some(new.clone());
        }
    };
    keep_or(&mut payment.result_code, &detail.result_code);
    keep_or(&mut payment.result_desc, &detail.result_desc);
    keep_or(&mut payment.receipt, &detail.receipt);
    if payment.state != to && detail.settled_by.is_some() {
        payment.settled_by = detail.settled_by;
    }
    payment.state = to;
    payment.updated_at = now;
    payment
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
        crate::PaymentChange::Refund { id, amount, detail } => refund(conn, *id, *amount, detail, now),
        crate::PaymentChange::Confirm { id, note } => {
            let check = PaymentCheck {
                asked: false,
                next_at: Some(rows::from_ms(now, "now")?),
                note: Some(note.clone()),
                hold: false,
            };
            Ok(PaymentEffect::Unchanged(record_check(conn, *id, &check, now)?))
        }
        // Inserted first: a payment recorded from a callback is almost always new, so the
        // common case is one statement; when its id or reference is taken (by an earlier job),
        // the one there is the answer.
        crate::PaymentChange::Record(p) => match try_insert(conn, p, now)? {
            Some(payment) => Ok(PaymentEffect::Changed {
                payment,
                previous: None,
            }),
            None => recorded(conn, p)?
                .map(PaymentEffect::Unchanged)
                .ok_or_else(|| not_found(p.id)),
        },
    }
}

/// Payments matching `filter`, newest first.
pub(crate) fn list(conn: &Connection, filter: &PaymentFilter) -> Result<Vec<PaymentRecord>, StoreError> {
    let q = listing::payments::<rows::Sqlite>(filter);
    rows::fetch(conn, q, filter.limit, "listing payments", decode)
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

/// Pending, unheld payments never scheduled or due by `now`, the longest waiting first.
pub(crate) fn due_checks(
    conn: &Connection,
    now: i64,
    limit: usize,
) -> Result<Vec<PaymentRecord>, StoreError> {
    const OP: &str = "listing payments due for a check";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM payments WHERE state = 0 AND check_held = 0 \
             AND (next_check_at IS NULL OR next_check_at <= ?1) \
             ORDER BY COALESCE(next_check_at, created_at), id LIMIT ?2"
        ))
        .during(OP)?;
    rows::all(&mut stmt, params![now, rows::page(limit)], OP, decode)
}

/// Records a check's schedule while the payment is pending.
pub(crate) fn record_check(
    conn: &Connection,
    id: PaymentId,
    check: &PaymentCheck,
    now: i64,
) -> Result<PaymentRecord, StoreError> {
    const OP: &str = "recording a payment check";
    conn.prepare_cached(
        "UPDATE payments SET next_check_at = ?1, check_attempts = check_attempts + ?2, \
         check_note = COALESCE(?3, check_note), check_held = ?4, updated_at = ?5 \
         WHERE id = ?6 AND state = 0",
    )
    .during(OP)?
    .execute(params![
        check.next_at.map(rows::to_ms),
        i64::from(check.asked),
        check.note.as_deref().map(rows::clip),
        i64::from(check.hold),
        now,
        id.to_string(),
    ])
    .during(OP)?;
    must_get(conn, id)
}

/// The payments whose parent is `parent`, oldest first.
pub(crate) fn children(conn: &Connection, parent: PaymentId) -> Result<Vec<PaymentRecord>, StoreError> {
    const OP: &str = "listing a payment's refunds";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM payments WHERE parent_id = ?1 ORDER BY created_at, id"
        ))
        .during(OP)?;
    rows::all(&mut stmt, [parent.to_string()], OP, decode)
}

/// What is left to give back of `parent`: its amount less its refunds that are pending or
/// succeeded (a pending one may still go through, so it is spoken for).
fn remaining(conn: &Connection, parent: &PaymentRecord) -> Result<u64, StoreError> {
    Ok(parent.left_to_refund(&children(conn, parent.id)?))
}

/// Records a refund or reversal after checking its parent, in the writer's transaction.
pub(crate) fn insert_child(conn: &Connection, p: &NewPayment, now: i64) -> Result<PaymentRecord, StoreError> {
    let parent_id = p.refunded_payment()?;
    let parent = must_get(conn, parent_id)?;
    p.check_refund_of(&parent)?;
    let left = remaining(conn, &parent)?;
    p.check_refund_fits(&parent, left)?;
    insert(conn, p, now)
}

/// Moves a parent whose refund succeeded to partly or fully refunded, by the sum of its
/// succeeded refunds.
fn refund_parent(conn: &Connection, parent: PaymentId, now: i64) -> Result<(), StoreError> {
    let Some(current) = get(conn, parent)? else {
        return Ok(());
    };
    let children = children(conn, parent)?;
    if let Some(to) = current.refunded_state(&children) {
        transition(conn, parent, to, &TransitionDetail::default(), now)?;
    }
    Ok(())
}
