//! Payments and their state machine.
//!
//! Every change reads the payment `FOR UPDATE` first: the row stays locked until the
//! transaction ends, so of two instances moving one payment the second reads the first's
//! result and decides on it. The `UPDATE … WHERE id = $1 AND state = $2` is the compare-and-set
//! on top, as in the SQLite adapter.

use malipo_core::{Money, PaymentId, PaymentState, Provider};

use super::db::Db;
use super::rows::{fetch, Postgres};
use crate::convert as rows;
use crate::decode::payment::{payment as decode, COLUMNS};
use crate::listing;
use crate::{
    NewPayment, PaymentEffect, PaymentFilter, PaymentKey, PaymentRecord, PaymentTransition, StoreError,
    TransitionDetail,
};
use crate::{PaymentCheck, SettledBy};

/// Records a payment; a taken id or provider reference is a conflict.
pub(crate) async fn insert(db: &Db<'_>, p: &NewPayment, now: i64) -> Result<PaymentRecord, StoreError> {
    match try_insert(db, p, now).await? {
        Some(recorded) => Ok(recorded),
        None => Err(conflict(db, p).await?),
    }
}

/// Records a payment and announces it; `None` when its id or provider reference is taken
/// (nothing written).
async fn try_insert(db: &Db<'_>, p: &NewPayment, now: i64) -> Result<Option<PaymentRecord>, StoreError> {
    const OP: &str = "recording a payment";
    let minor = p.stored_minor()?;
    let metadata = p.stored_metadata()?;
    let settled_by = p.settled_by().map(SettledBy::as_str);
    // The default account is stored as NULL, as in the SQLite schema.
    let account = (!p.account.is_default()).then(|| p.account.as_str());
    // DO NOTHING rather than an error: a failed statement would abort the caller's whole
    // transaction (a batch of jobs), and the holder could not even be looked up in it.
    let inserted = db
        .execute(
            "INSERT INTO payments (id, provider, kind, state, amount_minor, currency, msisdn, \
             email, merchant_reference, provider_reference, description, metadata, created_at, \
             updated_at, parent_id, settled_by, provider_request_id, account) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17) \
             ON CONFLICT DO NOTHING",
            &[
                &p.id.to_string(),
                &p.provider.as_str(),
                &p.kind,
                &p.state.code(),
                &minor,
                &p.amount.currency().code(),
                &p.msisdn.as_ref().map(|m| m.as_str()),
                &p.email,
                &p.merchant_reference,
                &p.provider_reference,
                &p.description,
                &metadata,
                &now,
                &p.parent_id.map(|id| id.to_string()),
                &settled_by,
                &p.provider_request_id,
                &account,
            ],
            OP,
        )
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    let recorded = p.recorded(rows::from_ms(now, "payments.created_at")?);
    super::outbox::payment_changed(db, &recorded, None, p.state, now).await?;
    Ok(Some(recorded))
}

async fn conflict(db: &Db<'_>, p: &NewPayment) -> Result<StoreError, StoreError> {
    if let Some(reference) = &p.provider_reference {
        if let Some(holder) = find_by_provider_ref(db, p.provider, reference).await? {
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
pub(crate) async fn get(db: &Db<'_>, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
    const OP: &str = "reading a payment";
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1");
    db.opt(&sql, &[&id.to_string()], OP)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

async fn must_get(db: &Db<'_>, id: PaymentId) -> Result<PaymentRecord, StoreError> {
    get(db, id).await?.ok_or_else(|| not_found(id))
}

fn not_found(id: PaymentId) -> StoreError {
    StoreError::NotFound {
        what: "payment",
        id: id.to_string(),
    }
}

/// One payment, locked until the transaction ends: the read every change decides on.
async fn lock(db: &Db<'_>, id: PaymentId) -> Result<PaymentRecord, StoreError> {
    const OP: &str = "locking a payment";
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1 FOR UPDATE");
    db.opt(&sql, &[&id.to_string()], OP)
        .await?
        .as_ref()
        .map(decode)
        .transpose()?
        .ok_or_else(|| not_found(id))
}

/// The payment with this provider reference.
pub(crate) async fn find_by_provider_ref(
    db: &Db<'_>,
    provider: Provider,
    reference: &str,
) -> Result<Option<PaymentRecord>, StoreError> {
    const OP: &str = "finding a payment by provider reference";
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE provider = $1 AND provider_reference = $2");
    db.opt(&sql, &[&provider.as_str(), &reference], OP)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// The payment `p` would record, if it is there already: the one with its provider reference,
/// else the one with its id (one statement for what were two lookups, a round trip each).
async fn recorded(db: &Db<'_>, p: &NewPayment) -> Result<Option<PaymentRecord>, StoreError> {
    const OP: &str = "finding a recorded payment";
    let sql = format!(
        "SELECT {COLUMNS} FROM payments WHERE (provider = $1 AND provider_reference = $2) OR id = $3 \
         ORDER BY CASE WHEN id = $3 THEN 1 ELSE 0 END LIMIT 1"
    );
    db.opt(
        &sql,
        &[&p.provider.as_str(), &p.provider_reference, &p.id.to_string()],
        OP,
    )
    .await?
    .as_ref()
    .map(decode)
    .transpose()
}

/// The payment `key` names.
pub(crate) async fn find(db: &Db<'_>, key: &PaymentKey) -> Result<Option<PaymentRecord>, StoreError> {
    match key {
        PaymentKey::Id(id) => get(db, *id).await,
        PaymentKey::ProviderRef(provider, reference) => find_by_provider_ref(db, *provider, reference).await,
    }
}

/// Sets the provider reference.
pub(crate) async fn set_provider_ref(
    db: &Db<'_>,
    id: PaymentId,
    reference: &str,
    now: i64,
) -> Result<PaymentRecord, StoreError> {
    const OP: &str = "setting a payment's provider reference";
    let current = lock(db, id).await?;
    if current.provider_reference.as_deref() == Some(reference) {
        return Ok(current);
    }
    // Looked up first: a unique violation would abort the transaction, holder unknown.
    if let Some(holder) = find_by_provider_ref(db, current.provider, reference).await? {
        return Err(StoreError::Conflict {
            what: format!("{} provider reference {reference:?}", current.provider),
            holder: holder.id.to_string(),
        });
    }
    db.execute(
        "UPDATE payments SET provider_reference = $1, updated_at = $2 WHERE id = $3",
        &[&reference, &now, &id.to_string()],
        OP,
    )
    .await?;
    must_get(db, id).await
}

/// Sets both ids the provider gave the request; see the SQLite adapter.
pub(crate) async fn set_references(
    db: &Db<'_>,
    id: PaymentId,
    reference: &str,
    request_id: &str,
    now: i64,
) -> Result<PaymentRecord, StoreError> {
    const OP: &str = "setting a payment's provider ids";
    let current = lock(db, id).await?;
    current.check_request_id(request_id)?;
    let current = set_provider_ref(db, id, reference, now).await?;
    if current.provider_request_id.as_deref() == Some(request_id) {
        return Ok(current);
    }
    db.execute(
        "UPDATE payments SET provider_request_id = $1, updated_at = $2 WHERE id = $3",
        &[&request_id, &now, &id.to_string()],
        OP,
    )
    .await?;
    must_get(db, id).await
}

/// Gives part or all of a succeeded payment back; the state follows the refunded total.
async fn refund(
    db: &Db<'_>,
    id: PaymentId,
    amount: Money,
    detail: &TransitionDetail,
    now: i64,
) -> Result<PaymentEffect, StoreError> {
    const OP: &str = "refunding a payment";
    let current = lock(db, id).await?;
    let to = match current.refund_to(amount)? {
        Ok(to) => to,
        Err(refused) => return Ok(refused),
    };
    let refunded = i64::try_from(current.refunded.minor().saturating_add(amount.minor())).unwrap_or(i64::MAX);
    db.execute(
        "UPDATE payments SET state = $1, refunded_minor = $2, \
         result_code = COALESCE($3, result_code), result_desc = COALESCE($4, result_desc), \
         updated_at = $5 WHERE id = $6 AND state = $7",
        &[
            &to.code(),
            &refunded,
            &detail.result_code,
            &detail.result_desc,
            &now,
            &id.to_string(),
            &current.state.code(),
        ],
        OP,
    )
    .await?;
    let payment = must_get(db, id).await?;
    super::outbox::payment_changed(db, &payment, Some(current.state), to, now).await?;
    Ok(PaymentEffect::Changed {
        previous: Some(current.state),
        payment,
    })
}

/// Moves a payment: the locked read decides, the update is a compare-and-set against it.
pub(crate) async fn transition(
    db: &Db<'_>,
    id: PaymentId,
    to: PaymentState,
    detail: &TransitionDetail,
    now: i64,
) -> Result<PaymentTransition, StoreError> {
    const OP: &str = "changing a payment's state";
    let current = lock(db, id).await?;
    let previous = current.state;
    previous
        .transition(to)
        .map_err(|source| StoreError::IllegalTransition { id, source })?;
    // The payment as changed comes back with the update, instead of a read after it.
    let sql = format!(
        "UPDATE payments SET state = $1, \
         result_code = COALESCE($2, result_code), result_desc = COALESCE($3, result_desc), \
         receipt = COALESCE($4, receipt), updated_at = $5, \
         settled_by = CASE WHEN $7::bigint <> $1::bigint THEN COALESCE($8, settled_by) ELSE settled_by END \
         WHERE id = $6 AND state = $7 RETURNING {COLUMNS}"
    );
    let changed = db
        .opt(
            &sql,
            &[
                &to.code(),
                &detail.result_code,
                &detail.result_desc,
                &detail.receipt,
                &now,
                &id.to_string(),
                &previous.code(),
                &detail.settled_by.map(SettledBy::as_str),
            ],
            OP,
        )
        .await?;
    let Some(changed) = changed else {
        return Err(StoreError::database(
            OP,
            crate::error::Reason(format!("payment {id} changed state concurrently")),
        ));
    };
    let payment = decode(&changed)?;
    super::outbox::payment_changed(db, &payment, Some(previous), to, now).await?;
    if previous != to && to == PaymentState::Succeeded {
        if let Some(parent) = payment.parent_id {
            Box::pin(refund_parent(db, parent, now)).await?;
        }
    }
    Ok(PaymentTransition { payment, previous })
}

/// Applies a job outcome's payment change.
pub(crate) async fn apply(
    db: &Db<'_>,
    change: &crate::PaymentChange,
    now: i64,
) -> Result<PaymentEffect, StoreError> {
    match change {
        crate::PaymentChange::Transition { id, to, detail } => {
            match transition(db, *id, *to, detail, now).await {
                Ok(t) if t.changed() => Ok(PaymentEffect::Changed {
                    previous: Some(t.previous),
                    payment: t.payment,
                }),
                Ok(t) => Ok(PaymentEffect::Unchanged(t.payment)),
                Err(StoreError::IllegalTransition { source, .. }) => Ok(PaymentEffect::Refused {
                    payment: must_get(db, *id).await?,
                    error: source,
                }),
                Err(e) => Err(e),
            }
        }
        crate::PaymentChange::Refund { id, amount, detail } => refund(db, *id, *amount, detail, now).await,
        crate::PaymentChange::Confirm { id, note } => {
            let check = PaymentCheck {
                asked: false,
                next_at: Some(rows::from_ms(now, "now")?),
                note: Some(note.clone()),
                hold: false,
            };
            Ok(PaymentEffect::Unchanged(
                record_check(db, *id, &check, now).await?,
            ))
        }
        // Inserted first: a payment recorded from a callback is almost always new, so the
        // common case is one statement; when its id or reference is taken (recorded by an
        // earlier job, or by another instance's, whose insert this one waited for), the one
        // there is the answer.
        crate::PaymentChange::Record(p) => match try_insert(db, p, now).await? {
            Some(payment) => Ok(PaymentEffect::Changed {
                payment,
                previous: None,
            }),
            None => recorded(db, p)
                .await?
                .map(PaymentEffect::Unchanged)
                .ok_or_else(|| not_found(p.id)),
        },
    }
}

/// Payments matching `filter`, newest first.
pub(crate) async fn list(db: &Db<'_>, filter: &PaymentFilter) -> Result<Vec<PaymentRecord>, StoreError> {
    let q = listing::payments::<Postgres>(filter);
    fetch(db, q, filter.limit, "listing payments", decode).await
}

/// Pending payments created at or before `cutoff`, oldest first.
pub(crate) async fn pending_before(
    db: &Db<'_>,
    cutoff: i64,
    limit: usize,
) -> Result<Vec<PaymentRecord>, StoreError> {
    const OP: &str = "listing pending payments";
    let sql = format!(
        "SELECT {COLUMNS} FROM payments WHERE state = 0 AND created_at <= $1 \
         ORDER BY created_at, id LIMIT $2"
    );
    db.query(&sql, &[&cutoff, &rows::page(limit)], OP)
        .await?
        .iter()
        .map(decode)
        .collect()
}

/// Pending, unheld payments never scheduled or due by `now`, the longest waiting first.
pub(crate) async fn due_checks(
    db: &Db<'_>,
    now: i64,
    limit: usize,
) -> Result<Vec<PaymentRecord>, StoreError> {
    const OP: &str = "listing payments due for a check";
    let sql = format!(
        "SELECT {COLUMNS} FROM payments WHERE state = 0 AND NOT check_held \
         AND (next_check_at IS NULL OR next_check_at <= $1) \
         ORDER BY COALESCE(next_check_at, created_at), id LIMIT $2"
    );
    db.query(&sql, &[&now, &rows::page(limit)], OP)
        .await?
        .iter()
        .map(decode)
        .collect()
}

/// Records a check's schedule while the payment is pending.
pub(crate) async fn record_check(
    db: &Db<'_>,
    id: PaymentId,
    check: &PaymentCheck,
    now: i64,
) -> Result<PaymentRecord, StoreError> {
    const OP: &str = "recording a payment check";
    db.execute(
        "UPDATE payments SET next_check_at = $1, check_attempts = check_attempts + $2, \
         check_note = COALESCE($3, check_note), check_held = $4, updated_at = $5 \
         WHERE id = $6 AND state = 0",
        &[
            &check.next_at.map(rows::to_ms),
            &i64::from(check.asked),
            &check.note.as_deref().map(rows::clip),
            &check.hold,
            &now,
            &id.to_string(),
        ],
        OP,
    )
    .await?;
    must_get(db, id).await
}

/// The payments whose parent is `parent`, oldest first.
pub(crate) async fn children(db: &Db<'_>, parent: PaymentId) -> Result<Vec<PaymentRecord>, StoreError> {
    const OP: &str = "listing a payment's refunds";
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE parent_id = $1 ORDER BY created_at, id");
    db.query(&sql, &[&parent.to_string()], OP)
        .await?
        .iter()
        .map(decode)
        .collect()
}

/// What is left to give back of `parent`: its amount less its refunds that are pending or
/// succeeded.
async fn remaining(db: &Db<'_>, parent: &PaymentRecord) -> Result<u64, StoreError> {
    Ok(parent.left_to_refund(&children(db, parent.id).await?))
}

/// Records a refund or reversal after checking its parent. The parent is locked first, so two
/// refunds racing from two instances are checked one after the other against what is left.
pub(crate) async fn insert_child(db: &Db<'_>, p: &NewPayment, now: i64) -> Result<PaymentRecord, StoreError> {
    let parent_id = p.refunded_payment()?;
    let parent = lock(db, parent_id).await?;
    p.check_refund_of(&parent)?;
    let left = remaining(db, &parent).await?;
    p.check_refund_fits(&parent, left)?;
    insert(db, p, now).await
}

/// Moves a parent whose refund succeeded to partly or fully refunded.
async fn refund_parent(db: &Db<'_>, parent: PaymentId, now: i64) -> Result<(), StoreError> {
    let Some(current) = get(db, parent).await? else {
        return Ok(());
    };
    let children = children(db, parent).await?;
    if let Some(to) = current.refunded_state(&children) {
        transition(db, parent, to, &TransitionDetail::default(), now).await?;
    }
    Ok(())
}
