//! The payment role: records, the state machine as a compare-and-set, refunds, the
//! reconciler's schedule.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use malipo_core::{Money, PaymentId, PaymentState, Provider};

use super::{not_found, page, MemoryStore, State};
use crate::port::PaymentStore;
use crate::sqlite::clip;
use crate::{
    NewPayment, PaymentChange, PaymentCheck, PaymentEffect, PaymentFilter, PaymentRecord, PaymentTransition,
    StoreError, TransitionDetail,
};

#[async_trait]
impl PaymentStore for MemoryStore {
    async fn insert_payment(&self, payment: NewPayment) -> Result<PaymentRecord, StoreError> {
        self.write(|s, now| insert(s, &payment, now))
    }

    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
        Ok(self.read(|s| s.payments.get(&id).cloned()))
    }

    async fn find_payment_by_provider_ref(
        &self,
        provider: Provider,
        reference: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        Ok(self.read(|s| by_ref(s, provider, reference).cloned()))
    }

    async fn set_payment_provider_ref(
        &self,
        id: PaymentId,
        reference: &str,
    ) -> Result<PaymentRecord, StoreError> {
        self.write(|s, now| set_provider_ref(s, id, reference, now))
    }

    async fn transition_payment(
        &self,
        id: PaymentId,
        to: PaymentState,
        detail: TransitionDetail,
    ) -> Result<PaymentTransition, StoreError> {
        self.write(|s, now| transition(s, id, to, &detail, now))
    }

    async fn list_payments(&self, filter: &PaymentFilter) -> Result<Vec<PaymentRecord>, StoreError> {
        Ok(self.read(|s| {
            page(
                s.payments
                    .values()
                    .rev()
                    .filter(|p| filter.provider.is_none_or(|x| p.provider == x))
                    .filter(|p| filter.state.is_none_or(|x| p.state == x))
                    .filter(|p| {
                        filter
                            .merchant_reference
                            .as_ref()
                            .is_none_or(|r| p.merchant_reference.as_ref() == Some(r))
                    })
                    .filter(|p| filter.before.is_none_or(|b| p.id < b))
                    .filter(|p| filter.since.is_none_or(|t| p.created_at >= t))
                    .filter(|p| filter.account.as_ref().is_none_or(|a| &p.account == a))
                    .filter(|p| filter.search.as_deref().is_none_or(|q| names(p, q)))
                    .cloned(),
                filter.limit,
            )
        }))
    }

    async fn pending_payments_older_than(
        &self,
        age: Duration,
        limit: usize,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let cutoff = super::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        Ok(self.read(|s| {
            let mut found: Vec<_> = s
                .payments
                .values()
                .filter(|p| p.state == PaymentState::Pending && p.created_at <= cutoff)
                .cloned()
                .collect();
            found.sort_by_key(|p| (p.created_at, p.id));
            page(found.into_iter(), limit)
        }))
    }

    async fn due_payment_checks(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        Ok(self.read(|s| {
            let mut due: Vec<_> = s
                .payments
                .values()
                .filter(|p| p.state == PaymentState::Pending && !p.check.held)
                .filter(|p| p.check.next_at.is_none_or(|at| at <= now))
                .cloned()
                .collect();
            due.sort_by_key(|p| (p.check.next_at.unwrap_or(p.created_at), p.id));
            page(due.into_iter(), limit)
        }))
    }

    async fn record_payment_check(
        &self,
        id: PaymentId,
        check: PaymentCheck,
    ) -> Result<PaymentRecord, StoreError> {
        self.write(|s, now| record_check(s, id, &check, now))
    }

    async fn child_payments(&self, parent: PaymentId) -> Result<Vec<PaymentRecord>, StoreError> {
        Ok(self.read(|s| children(s, parent)))
    }

    async fn insert_child_payment(&self, payment: NewPayment) -> Result<PaymentRecord, StoreError> {
        self.write(|s, now| insert_child(s, &payment, now))
    }

    async fn set_payment_references(
        &self,
        id: PaymentId,
        reference: &str,
        request_id: &str,
    ) -> Result<PaymentRecord, StoreError> {
        self.write(|s, now| {
            let current = must_get(s, id)?;
            current.check_request_id(request_id)?;
            let current = set_provider_ref(s, id, reference, now)?;
            if current.provider_request_id.as_deref() == Some(request_id) {
                return Ok(current);
            }
            let p = s.payments.get_mut(&id).ok_or_else(|| not_found("payment", id))?;
            p.provider_request_id = Some(request_id.to_owned());
            p.updated_at = now;
            Ok(p.clone())
        })
    }
}

fn by_ref<'a>(s: &'a State, provider: Provider, reference: &str) -> Option<&'a PaymentRecord> {
    s.payments
        .values()
        .find(|p| p.provider == provider && p.provider_reference.as_deref() == Some(reference))
}

fn must_get(s: &State, id: PaymentId) -> Result<PaymentRecord, StoreError> {
    s.payments
        .get(&id)
        .cloned()
        .ok_or_else(|| not_found("payment", id))
}

fn insert(s: &mut State, p: &NewPayment, now: DateTime<Utc>) -> Result<PaymentRecord, StoreError> {
    p.stored_minor()?;
    if let Some(reference) = &p.provider_reference {
        if let Some(holder) = by_ref(s, p.provider, reference) {
            return Err(StoreError::Conflict {
                what: format!("{} provider reference {reference:?}", p.provider),
                holder: holder.id.to_string(),
            });
        }
    }
    if s.payments.contains_key(&p.id) {
        return Err(StoreError::Conflict {
            what: format!("payment id {}", p.id),
            holder: p.id.to_string(),
        });
    }
    let record = p.recorded(now);
    s.payments.insert(p.id, record.clone());
    Ok(record)
}

fn set_provider_ref(
    s: &mut State,
    id: PaymentId,
    reference: &str,
    now: DateTime<Utc>,
) -> Result<PaymentRecord, StoreError> {
    let current = must_get(s, id)?;
    if current.provider_reference.as_deref() == Some(reference) {
        return Ok(current);
    }
    if let Some(holder) = by_ref(s, current.provider, reference) {
        return Err(StoreError::Conflict {
            what: format!("{} provider reference {reference:?}", current.provider),
            holder: holder.id.to_string(),
        });
    }
    let p = s.payments.get_mut(&id).ok_or_else(|| not_found("payment", id))?;
    p.provider_reference = Some(reference.to_owned());
    p.updated_at = now;
    Ok(p.clone())
}

/// The state machine's compare-and-set: the move is checked against the stored state and
/// applied under the same lock.
fn transition(
    s: &mut State,
    id: PaymentId,
    to: PaymentState,
    detail: &TransitionDetail,
    now: DateTime<Utc>,
) -> Result<PaymentTransition, StoreError> {
    let p = s.payments.get_mut(&id).ok_or_else(|| not_found("payment", id))?;
    let previous = p.state;
    previous
        .transition(to)
        .map_err(|source| StoreError::IllegalTransition { id, source })?;
    p.state = to;
    keep(&mut p.result_code, &detail.result_code);
    keep(&mut p.result_desc, &detail.result_desc);
    keep(&mut p.receipt, &detail.receipt);
    if previous != to && detail.settled_by.is_some() {
        p.settled_by = detail.settled_by;
    }
    p.updated_at = now;
    let payment = p.clone();
    if previous != to && to == PaymentState::Succeeded {
        if let Some(parent) = payment.parent_id {
            refund_parent(s, parent, now)?;
        }
    }
    Ok(PaymentTransition { payment, previous })
}

/// `COALESCE(new, old)`.
fn keep(field: &mut Option<String>, new: &Option<String>) {
    if new.is_some() {
        field.clone_from(new);
    }
}

fn refund(
    s: &mut State,
    id: PaymentId,
    amount: Money,
    detail: &TransitionDetail,
    now: DateTime<Utc>,
) -> Result<PaymentEffect, StoreError> {
    let current = must_get(s, id)?;
    let to = match current.refund_to(amount)? {
        Ok(to) => to,
        Err(refused) => return Ok(refused),
    };
    let p = s.payments.get_mut(&id).ok_or_else(|| not_found("payment", id))?;
    p.state = to;
    p.refunded = Money::from_minor(
        current.refunded.minor().saturating_add(amount.minor()),
        current.amount.currency(),
    );
    keep(&mut p.result_code, &detail.result_code);
    keep(&mut p.result_desc, &detail.result_desc);
    p.updated_at = now;
    Ok(PaymentEffect::Changed {
        previous: Some(current.state),
        payment: p.clone(),
    })
}

/// Applies a job outcome's payment change, as the SQLite adapter's `payments::apply` does.
pub(super) fn apply(
    s: &mut State,
    change: &PaymentChange,
    now: DateTime<Utc>,
) -> Result<PaymentEffect, StoreError> {
    match change {
        PaymentChange::Transition { id, to, detail } => match transition(s, *id, *to, detail, now) {
            Ok(t) if t.changed() => Ok(PaymentEffect::Changed {
                previous: Some(t.previous),
                payment: t.payment,
            }),
            Ok(t) => Ok(PaymentEffect::Unchanged(t.payment)),
            Err(StoreError::IllegalTransition { source, .. }) => Ok(PaymentEffect::Refused {
                payment: must_get(s, *id)?,
                error: source,
            }),
            Err(e) => Err(e),
        },
        PaymentChange::Refund { id, amount, detail } => refund(s, *id, *amount, detail, now),
        PaymentChange::Confirm { id, note } => {
            let check = PaymentCheck {
                asked: false,
                next_at: Some(now),
                note: Some(note.clone()),
                hold: false,
            };
            Ok(PaymentEffect::Unchanged(record_check(s, *id, &check, now)?))
        }
        PaymentChange::Record(p) => {
            let existing = p
                .provider_reference
                .as_deref()
                .and_then(|r| by_ref(s, p.provider, r))
                .or_else(|| s.payments.get(&p.id))
                .cloned();
            if let Some(existing) = existing {
                return Ok(PaymentEffect::Unchanged(existing));
            }
            Ok(PaymentEffect::Changed {
                payment: insert(s, p, now)?,
                previous: None,
            })
        }
    }
}

fn record_check(
    s: &mut State,
    id: PaymentId,
    check: &PaymentCheck,
    now: DateTime<Utc>,
) -> Result<PaymentRecord, StoreError> {
    let p = s.payments.get_mut(&id).ok_or_else(|| not_found("payment", id))?;
    if p.state == PaymentState::Pending {
        p.check.next_at = check.next_at;
        p.check.attempts += u32::from(check.asked);
        if let Some(note) = &check.note {
            p.check.note = Some(clip(note).to_owned());
        }
        p.check.held = check.hold;
        p.updated_at = now;
    }
    Ok(p.clone())
}

fn children(s: &State, parent: PaymentId) -> Vec<PaymentRecord> {
    let mut found: Vec<_> = s
        .payments
        .values()
        .filter(|p| p.parent_id == Some(parent))
        .cloned()
        .collect();
    found.sort_by_key(|p| (p.created_at, p.id));
    found
}

fn insert_child(s: &mut State, p: &NewPayment, now: DateTime<Utc>) -> Result<PaymentRecord, StoreError> {
    let parent_id = p.refunded_payment()?;
    let parent = must_get(s, parent_id)?;
    p.check_refund_of(&parent)?;
    let left = parent.left_to_refund(&children(s, parent_id));
    p.check_refund_fits(&parent, left)?;
    insert(s, p, now)
}

fn refund_parent(s: &mut State, parent: PaymentId, now: DateTime<Utc>) -> Result<(), StoreError> {
    let Some(current) = s.payments.get(&parent).cloned() else {
        return Ok(());
    };
    let children = children(s, parent);
    if let Some(to) = current.refunded_state(&children) {
        transition(s, parent, to, &TransitionDetail::default(), now)?;
    }
    Ok(())
}

/// Whether search text `q` names `p`, as the SQLite adapter reads it.
fn names(p: &PaymentRecord, q: &str) -> bool {
    let q = q.trim();
    let is = |v: &Option<String>| v.as_deref() == Some(q);
    is(&p.merchant_reference)
        || is(&p.provider_reference)
        || is(&p.receipt)
        || (q.len() >= 4
            && q.bytes().all(|b| b.is_ascii_digit())
            && p.msisdn.as_ref().is_some_and(|m| m.as_str().ends_with(q)))
}
