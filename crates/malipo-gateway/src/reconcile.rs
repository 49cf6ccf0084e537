//! The reconciler: asks the provider about payments whose callback never came.
//!
//! Daraja does not resend an STK callback it could not deliver, and a webhook can be lost or
//! refused, so a payment still pending some time after it started ([`ReconcileTiming::after`])
//! is asked about: M-Pesa STK query, Paystack transaction verify, transfer verify and refund
//! fetch, M-Pesa transaction status for B2C payouts and reversals. A final answer settles the
//! payment, recorded as settled by **query** (not by callback); a "still processing" answer, or
//! no answer at all, is asked again after a doubling wait (the schedule is stored on the
//! payment, so a restart loses nothing) until the kind's deadline, when a customer payment is
//! marked expired and a payout is held for a person. An answer that disagrees with the payment
//! (another amount or currency) never settles it: the payment is held with the reason.
//!
//! [`run`] is the background loop [`Gateway::serve`](crate::Gateway::serve) starts;
//! [`reconcile_payment`] asks about one payment now.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use malipo_config::{ReconcileConfig, ReconcileTiming};
use malipo_core::{PaymentId, PaymentState, Provider};
use malipo_mpesa::{IdentifierType, ResultUrls, StkQueryOutcome, TransactionStatusRequest};
use malipo_store::{PaymentCheck, PaymentRecord, SettledBy, StoreError, TransitionDetail};
use tokio::sync::watch;

use crate::AppState;

/// How many providers' questions one tick has in flight at once.
const CONCURRENCY: usize = 8;

/// What reconciling one payment did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reconciled {
    /// The provider's answer settled the payment (recorded as settled by query).
    Settled {
        /// The payment, settled.
        payment: PaymentRecord,
        /// What the provider said.
        answer: String,
    },
    /// The payment was no longer pending (its callback came, or an earlier check settled it);
    /// nothing was asked.
    AlreadySettled(PaymentRecord),
    /// The provider has no final answer yet; the payment is asked about again at its
    /// `check.next_at`.
    StillPending {
        /// The payment, pending.
        payment: PaymentRecord,
        /// What the provider said (or why it could not be asked).
        answer: String,
    },
    /// The question was sent and its answer comes by callback (M-Pesa transaction status);
    /// the payment stays pending and is asked about again if no callback settles it.
    Asked {
        /// The payment, pending.
        payment: PaymentRecord,
        /// Daraja's ConversationID of the status query, which its result callback carries.
        conversation_id: Option<String>,
    },
    /// The deadline passed without a final answer: the payment is expired.
    Expired(PaymentRecord),
    /// The answer disagrees with the payment, or the deadline passed on a payout whose money
    /// may have moved: the reconciler stops asking and a person decides.
    Held {
        /// The payment, pending and held.
        payment: PaymentRecord,
        /// Why.
        reason: String,
    },
    /// The payment is not due yet; it was scheduled for its first check.
    NotDue(PaymentRecord),
}

impl Reconciled {
    /// The payment as it is now.
    pub fn payment(&self) -> &PaymentRecord {
        match self {
            Reconciled::Settled { payment, .. }
            | Reconciled::StillPending { payment, .. }
            | Reconciled::Asked { payment, .. }
            | Reconciled::Held { payment, .. } => payment,
            Reconciled::AlreadySettled(payment)
            | Reconciled::Expired(payment)
            | Reconciled::NotDue(payment) => payment,
        }
    }
}

/// Why a payment could not be reconciled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// No payment has this id.
    #[error("there is no payment {0}")]
    NotFound(PaymentId),
    /// The payment's kind is not one the reconciler can ask a provider about.
    #[error("payment {id} is of kind {kind:?}, which no provider can be asked about; expected stk_push, charge, b2c, transfer, refund or reversal")]
    Unsupported {
        /// The payment.
        id: PaymentId,
        /// Its kind.
        kind: String,
    },
    /// The gateway lacks what asking this provider needs.
    #[error("{provider} is not configured on this gateway: {what}")]
    NotConfigured {
        /// The provider.
        provider: Provider,
        /// What is missing.
        what: &'static str,
    },
    /// The store failed.
    #[error("could not read or record payment {id}")]
    Store {
        /// The payment.
        id: PaymentId,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

/// What a provider's answer means for the payment: the decision, apart from the I/O, so it is
/// testable without a provider.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// A final state.
    Final {
        to: PaymentState,
        detail: TransitionDetail,
        note: String,
    },
    /// No final answer yet, or the provider could not be asked.
    Processing(String),
    /// A question whose answer comes by callback was sent.
    Asked {
        conversation_id: Option<String>,
        note: String,
    },
    /// The answer disagrees with the payment.
    Mismatch(String),
}

/// Reconciles one payment now, whatever its schedule: asks the provider and settles it from
/// the answer (for the merchant API's `POST /v1/payments/{id}/reconcile` and
/// `malipo payments reconcile ID`). A payment already settled is answered
/// [`Reconciled::AlreadySettled`] without asking. Unlike the background loop, a person's
/// question never expires a payment: only the deadline of the loop does.
pub async fn reconcile_payment(state: &AppState, id: PaymentId) -> Result<Reconciled, ReconcileError> {
    let payment = state
        .store
        .get_payment(id)
        .await
        .map_err(|source| ReconcileError::Store { id, source })?
        .ok_or(ReconcileError::NotFound(id))?;
    check(state, &ReconcileConfig::default(), payment, Utc::now(), true).await
}

/// The background loop: every `config.interval`, reconciles up to `config.batch` payments
/// due a check, until `shutdown` turns true. One payment's failure is logged and its next
/// check pushed back; it never stops the loop.
pub async fn run(state: AppState, config: ReconcileConfig, mut shutdown: watch::Receiver<bool>) {
    tracing::info!(interval = ?config.interval, "reconciler started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        if let Err(e) = tick(&state, &config, Utc::now()).await {
            tracing::error!(error = %e, "the reconciler could not list the payments due a check");
        }
        tokio::select! {
            _ = tokio::time::sleep(config.interval) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!("reconciler stopped");
}

/// One pass of the loop; returns how many payments were looked at.
pub async fn tick(
    state: &AppState,
    config: &ReconcileConfig,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let due = state.store.due_payment_checks(now, config.batch).await?;
    let n = due.len();
    futures::stream::iter(due)
        .for_each_concurrent(CONCURRENCY, |payment| async move {
            let id = payment.id;
            let attempts = payment.check.attempts;
            match check(state, config, payment, now, false).await {
                Ok(done) => log_outcome(&done),
                Err(e) => {
                    tracing::warn!(payment = %id, error = %e, "reconciliation failed; it will be tried again");
                    let next = now + chrono_duration(backoff(config, None, attempts + 1));
                    let note = Some(format!("reconciliation failed: {e}"));
                    if let Err(e) = state
                        .store
                        .record_payment_check(
                            id,
                            PaymentCheck {
                                asked: true,
                                next_at: Some(next),
                                note,
                                hold: false,
                            },
                        )
                        .await
                    {
                        tracing::error!(payment = %id, error = %e, "could not reschedule the payment's check");
                    }
                }
            }
        })
        .await;
    Ok(n)
}

fn log_outcome(done: &Reconciled) {
    let p = done.payment();
    match done {
        Reconciled::Settled { answer, .. } => {
            tracing::info!(payment = %p.id, state = %p.state, answer, "settled by query")
        }
        Reconciled::Expired(_) => tracing::info!(payment = %p.id, "expired: no final answer by the deadline"),
        Reconciled::Held { reason, .. } => {
            tracing::warn!(payment = %p.id, reason, "held for a person")
        }
        Reconciled::StillPending { answer, .. } => {
            tracing::debug!(payment = %p.id, answer, "still pending at the provider")
        }
        _ => {}
    }
}

/// Checks one pending payment at `now`. `manual`: a person asked, so ask now whatever the
/// schedule and never expire.
async fn check(
    state: &AppState,
    config: &ReconcileConfig,
    payment: PaymentRecord,
    now: DateTime<Utc>,
    manual: bool,
) -> Result<Reconciled, ReconcileError> {
    let id = payment.id;
    if payment.state != PaymentState::Pending {
        return Ok(Reconciled::AlreadySettled(payment));
    }
    let Some(timing) = config.timing(&payment.kind) else {
        if manual {
            return Err(ReconcileError::Unsupported {
                id,
                kind: payment.kind.clone(),
            });
        }
        // Nothing can be asked: keep it out of every later batch and say why.
        let reason = format!(
            "payment kind {:?} cannot be asked about at a provider",
            payment.kind
        );
        let payment = record(state, id, false, None, Some(reason.clone()), true).await?;
        return Ok(Reconciled::Held { payment, reason });
    };
    if !manual && payment.check.next_at.is_none() && payment.check.attempts == 0 {
        // First sight: its callback still has until `after` to come.
        let first = payment.created_at + chrono_duration(timing.after);
        if first > now {
            let payment = record(state, id, false, Some(first), None, false).await?;
            return Ok(Reconciled::NotDue(payment));
        }
    }
    let answer = ask(state, &payment).await?;
    let past_deadline = !manual && now >= payment.created_at + chrono_duration(timing.deadline);
    let attempts = payment.check.attempts + 1;
    match answer {
        Answer::Final { to, mut detail, note } => {
            // The question is counted and its answer kept before the move ends the schedule.
            record(state, id, true, payment.check.next_at, Some(note.clone()), false).await?;
            if to == PaymentState::Succeeded && detail.receipt.is_none() {
                detail.receipt = callback_receipt(state, &payment).await;
            }
            settle(state, id, to, detail, note).await
        }
        Answer::Mismatch(reason) => {
            tracing::warn!(payment = %id, reason, "the provider's answer disagrees with the payment; held");
            let payment = record(state, id, true, None, Some(reason.clone()), true).await?;
            Ok(Reconciled::Held { payment, reason })
        }
        Answer::Processing(note) | Answer::Asked { note, .. } if past_deadline => {
            give_up(state, &payment, note).await
        }
        Answer::Processing(note) => {
            let next = now + chrono_duration(backoff(config, Some(timing), attempts));
            let payment = record(state, id, true, Some(next), Some(note.clone()), false).await?;
            Ok(Reconciled::StillPending {
                payment,
                answer: note,
            })
        }
        Answer::Asked {
            conversation_id,
            note,
        } => {
            let next = now + chrono_duration(backoff(config, Some(timing), attempts));
            let payment = record(state, id, true, Some(next), Some(note), false).await?;
            Ok(Reconciled::Asked {
                payment,
                conversation_id,
            })
        }
    }
}

async fn record(
    state: &AppState,
    id: PaymentId,
    asked: bool,
    next_at: Option<DateTime<Utc>>,
    note: Option<String>,
    hold: bool,
) -> Result<PaymentRecord, ReconcileError> {
    state
        .store
        .record_payment_check(
            id,
            PaymentCheck {
                asked,
                next_at,
                note,
                hold,
            },
        )
        .await
        .map_err(|source| ReconcileError::Store { id, source })
}

/// Moves the payment to the answer's state, recorded as settled by query. A callback that
/// settled it meanwhile wins: the move is refused and the payment answered as it is.
async fn settle(
    state: &AppState,
    id: PaymentId,
    to: PaymentState,
    detail: TransitionDetail,
    answer: String,
) -> Result<Reconciled, ReconcileError> {
    let detail = TransitionDetail {
        settled_by: Some(SettledBy::Query),
        ..detail
    };
    match state.store.transition_payment(id, to, detail).await {
        Ok(moved) if moved.changed() => {
            // The check's note says what settled it; the schedule ends with the pending state.
            Ok(Reconciled::Settled {
                payment: moved.payment,
                answer,
            })
        }
        Ok(moved) => Ok(Reconciled::AlreadySettled(moved.payment)),
        Err(StoreError::IllegalTransition { .. }) => {
            let payment = state
                .store
                .get_payment(id)
                .await
                .map_err(|source| ReconcileError::Store { id, source })?
                .ok_or(ReconcileError::NotFound(id))?;
            Ok(Reconciled::AlreadySettled(payment))
        }
        Err(source) => Err(ReconcileError::Store { id, source }),
    }
}

/// The receipt a callback of this payment claimed, when one agrees with it in every respect
/// (as the worker decides). Daraja's STK query confirms a success without its receipt: under
/// strict settlement the callback that asked for the query is where the receipt is, and without
/// it the payment could not be reversed later. A store failure here only leaves it out.
async fn callback_receipt(state: &AppState, payment: &PaymentRecord) -> Option<String> {
    use crate::apply::{decide, parse, Lookup};
    use malipo_store::{EventFilter, PaymentChange};

    let filter = EventFilter {
        payment_id: Some(payment.id),
        provider: Some(payment.provider),
        limit: 20,
        ..EventFilter::default()
    };
    let events = state.store.list_events(&filter).await.ok()?;
    for summary in events {
        let Ok(Some(event)) = state.store.get_event(summary.id).await else {
            continue;
        };
        let decided = decide(
            &event,
            parse(&event),
            Lookup::Payment(Some(payment.clone())),
            &state.mpesa_payees,
        );
        if let Ok(malipo_store::JobOutcome {
            payment:
                Some(PaymentChange::Transition {
                    to: PaymentState::Succeeded,
                    detail:
                        TransitionDetail {
                            receipt: Some(receipt),
                            ..
                        },
                    ..
                }),
            ..
        }) = decided
        {
            return Some(receipt);
        }
    }
    None
}

/// The deadline passed with no final answer. A customer payment (STK push, checkout) is
/// expired: the customer can no longer complete it. A payout or refund is held instead, since
/// its money may have moved and "expired" would tell the merchant it did not.
async fn give_up(
    state: &AppState,
    payment: &PaymentRecord,
    last: String,
) -> Result<Reconciled, ReconcileError> {
    let id = payment.id;
    if matches!(payment.kind.as_str(), "stk_push" | "charge") {
        let detail = TransitionDetail {
            result_desc: Some(format!(
                "no final answer from {} by the deadline (last: {last})",
                payment.provider
            )),
            // `settle` records it as settled by query.
            ..TransitionDetail::default()
        };
        return match settle(state, id, PaymentState::Expired, detail, last).await? {
            Reconciled::Settled { payment, .. } => Ok(Reconciled::Expired(payment)),
            other => Ok(other),
        };
    }
    let reason = format!(
        "no final answer from {} by the deadline (last: {last}); check with the provider before retrying",
        payment.provider
    );
    let payment = record(state, id, true, None, Some(reason.clone()), true).await?;
    Ok(Reconciled::Held { payment, reason })
}

/// Asks the provider about `payment`. An error of the provider is an answer too ("could not
/// ask"), so it is rescheduled like "still processing"; only the gateway's own gaps are errors.
async fn ask(state: &AppState, payment: &PaymentRecord) -> Result<Answer, ReconcileError> {
    match payment.kind.as_str() {
        "stk_push" => {
            let client = mpesa(state, payment)?;
            let Some(checkout) = payment.provider_reference.as_deref() else {
                return Ok(Answer::Processing(
                    "no CheckoutRequestID: Daraja's answer to the push never came, so there is nothing to query; waiting for its callback".into(),
                ));
            };
            Ok(match client.stk_query(checkout).await {
                Ok(outcome) => stk_answer(&outcome),
                Err(e) => Answer::Processing(format!("the STK query failed: {e}")),
            })
        }
        "charge" => {
            let client = paystack(state, payment)?;
            let Some(reference) = payment.provider_reference.as_deref() else {
                return Ok(Answer::Processing("no Paystack reference to verify".into()));
            };
            Ok(match client.verify_transaction(reference).await {
                Ok(tx) => charge_answer(payment, &tx),
                Err(e) => Answer::Processing(format!("the verification failed: {e}")),
            })
        }
        "transfer" => {
            let client = paystack(state, payment)?;
            let reference = crate::payouts::transfer_reference(payment);
            Ok(match client.verify_transfer(&reference).await {
                Ok(transfer) => transfer_answer(payment, &transfer),
                Err(e) => Answer::Processing(format!("the transfer verification failed: {e}")),
            })
        }
        "refund" => {
            let client = paystack(state, payment)?;
            let Some(refund_id) = payment
                .provider_reference
                .as_deref()
                .and_then(|r| r.parse::<u64>().ok())
            else {
                return Ok(Answer::Processing(
                    "no Paystack refund id: Paystack's answer to the refund never came".into(),
                ));
            };
            Ok(match client.fetch_refund(refund_id).await {
                Ok(refund) => refund_answer(payment, &refund),
                Err(e) => Answer::Processing(format!("fetching the refund failed: {e}")),
            })
        }
        "b2c" | "reversal" => transaction_status(state, payment).await,
        other => Err(ReconcileError::Unsupported {
            id: payment.id,
            kind: other.to_string(),
        }),
    }
}

/// B2C payouts and reversals: Daraja's transaction status query answers by a result callback
/// (to the payment's own result URL), so asking is all that can be done here; the callback
/// settles the payment. That it was asked is recorded as the check's note.
async fn transaction_status(state: &AppState, payment: &PaymentRecord) -> Result<Answer, ReconcileError> {
    let client = mpesa(state, payment)?;
    let tokens = state
        .callback_tokens
        .as_ref()
        .ok_or(ReconcileError::NotConfigured {
            provider: Provider::Mpesa,
            what: "no callback token key (the [mpesa] section is missing)",
        })?;
    let base = state
        .providers
        .public_base_url
        .as_ref()
        .ok_or(ReconcileError::NotConfigured {
            provider: Provider::Mpesa,
            what: "server.public_base_url is not set, so the status result has nowhere to go",
        })?;
    // Daraja's status query takes the M-Pesa transaction id, or the OriginatorConversationID of
    // the request that made the transaction: a payout whose result never came has no receipt,
    // but malipo chose its OriginatorConversationID (the payment id). A reversal without a
    // receipt has neither to give, and waits for its result (held at the deadline).
    let transaction_id = payment.receipt.clone();
    let originator = (payment.kind == "b2c").then(|| {
        payment
            .provider_request_id
            .clone()
            .unwrap_or_else(|| payment.id.to_string())
    });
    if transaction_id.is_none() && originator.is_none() {
        return Ok(Answer::Processing(format!(
            "no M-Pesa transaction id yet to ask Daraja's transaction status about for {}; waiting for the result callback",
            payment.id
        )));
    }
    let url = |kind: &str| {
        // A token is valid only on the route it was issued for.
        let route = match kind {
            "timeout" => malipo_guard::CallbackRoute::Timeout,
            _ => malipo_guard::CallbackRoute::Result,
        };
        let token = tokens.issue_for(route, payment.id);
        crate::payments::mpesa_callback_url(base, &payment.account, kind, &token).ok()
    };
    let (Some(result_url), Some(queue_timeout_url)) = (url("result"), url("timeout")) else {
        return Err(ReconcileError::NotConfigured {
            provider: Provider::Mpesa,
            what: "server.public_base_url cannot be a base URL",
        });
    };
    let request = TransactionStatusRequest {
        transaction_id,
        original_conversation_id: originator,
        party_a: None,
        identifier_type: IdentifierType::Shortcode,
        remarks: format!("malipo reconciles {}", payment.id),
        occasion: None,
        urls: ResultUrls {
            result_url,
            queue_timeout_url,
        },
    };
    Ok(match client.transaction_status(&request).await {
        Ok(accepted) => Answer::Asked {
            note: format!(
                "transaction status asked (ConversationID {}); its answer comes by result callback",
                accepted.conversation_id.as_deref().unwrap_or("unknown")
            ),
            conversation_id: accepted.conversation_id,
        },
        Err(e) => Answer::Processing(format!("the transaction status query failed: {e}")),
    })
}

/// The Daraja client of the payment's account: a payment is only ever asked about through the
/// account it went out through.
fn mpesa<'a>(
    state: &'a AppState,
    payment: &PaymentRecord,
) -> Result<&'a malipo_mpesa::MpesaClient, ReconcileError> {
    state
        .providers
        .mpesa_for(&payment.account)
        .ok_or(ReconcileError::NotConfigured {
            provider: Provider::Mpesa,
            what: "no Daraja client for the payment's account (its [mpesa] section or account is missing)",
        })
}

/// The Paystack client of the payment's account.
fn paystack<'a>(
    state: &'a AppState,
    payment: &PaymentRecord,
) -> Result<&'a malipo_paystack::Client, ReconcileError> {
    state
        .providers
        .paystack_for(&payment.account)
        .ok_or(ReconcileError::NotConfigured {
            provider: Provider::Paystack,
            what:
                "no Paystack client for the payment's account (its [paystack] section or account is missing)",
        })
}

/// The STK query's answer. Daraja's query answer carries no amount (only the callback's
/// metadata does), so the payment is settled by the result code alone: the amount asked for
/// is the one Daraja showed the customer for this CheckoutRequestID.
fn stk_answer(outcome: &StkQueryOutcome) -> Answer {
    let result = match outcome {
        StkQueryOutcome::Pending { message, .. } => {
            return Answer::Processing(format!("Daraja: {message}"));
        }
        StkQueryOutcome::Completed(result) => result,
    };
    let Some(code) = result.result_code.clone() else {
        return Answer::Processing(format!(
            "Daraja answered the query without a result code: {}",
            result.response_description
        ));
    };
    let desc = result.result_desc.clone().unwrap_or_default();
    let Some(number) = result.result_code_number() else {
        return Answer::Mismatch(format!(
            "Daraja's STK query answered an unknown result code {code:?} ({desc})"
        ));
    };
    // The same mapping as the STK callback's, with one code only a query gives: 4999, "the
    // transaction is still under processing", which is no outcome yet.
    if number == 4999 {
        return Answer::Processing(format!("Daraja: ResultCode {code} ({desc})"));
    }
    let to = match number {
        0 => PaymentState::Succeeded,
        1032 => PaymentState::Cancelled,
        1037 | 1019 => PaymentState::Expired,
        _ => PaymentState::Failed,
    };
    Answer::Final {
        to,
        note: format!("STK query: ResultCode {code} ({desc})"),
        detail: TransitionDetail {
            result_code: Some(code),
            result_desc: Some(desc),
            ..TransitionDetail::default()
        },
    }
}

/// Paystack's verify answer. A success settles only when its amount and currency are the
/// payment's: a checkout paid for another amount is a person's call.
fn charge_answer(payment: &PaymentRecord, tx: &malipo_paystack::Transaction) -> Answer {
    let status = tx.status.as_deref().unwrap_or("unknown");
    let detail = TransitionDetail {
        result_code: tx.gateway_response.clone().or_else(|| Some(status.to_string())),
        result_desc: Some(format!("verified: {status}")),
        receipt: tx.id.map(|id| id.to_string()),
        settled_by: None,
    };
    match status {
        "success" => match tx.amount() {
            Some(paid) if paid == payment.amount => Answer::Final {
                to: PaymentState::Succeeded,
                detail,
                note: format!("Paystack verify: success, {paid}"),
            },
            paid => Answer::Mismatch(format!(
                "Paystack reports the charge paid with {} ({} {}) but the payment is for {}",
                paid.map_or_else(|| "an unreadable amount".to_string(), |m| m.to_string()),
                tx.amount.map_or_else(|| "?".to_string(), |a| a.to_string()),
                tx.currency.as_deref().unwrap_or("?"),
                payment.amount
            )),
        },
        "failed" => Answer::Final {
            to: PaymentState::Failed,
            detail,
            note: "Paystack verify: failed".into(),
        },
        "reversed" => {
            Answer::Mismatch("Paystack reports the charge reversed: it was paid, then given back".into())
        }
        // abandoned (the page was opened, not paid), ongoing, pending, processing, queued: the
        // customer may still pay until the deadline.
        other => Answer::Processing(format!("Paystack verify: {other}")),
    }
}

/// Paystack's transfer verify answer.
fn transfer_answer(payment: &PaymentRecord, transfer: &malipo_paystack::Transfer) -> Answer {
    let status = transfer.status.as_deref().unwrap_or("unknown");
    let detail = TransitionDetail {
        result_code: Some(status.to_string()),
        result_desc: Some(format!("transfer verified: {status}")),
        receipt: transfer.transfer_code.clone(),
        settled_by: None,
    };
    match status {
        "success" => match transfer.amount() {
            Some(sent) if sent == payment.amount => Answer::Final {
                to: PaymentState::Succeeded,
                detail,
                note: format!("Paystack transfer verify: success, {sent}"),
            },
            sent => Answer::Mismatch(format!(
                "Paystack reports the transfer sent with {} but the payout is for {}",
                sent.map_or_else(|| "an unreadable amount".to_string(), |m| m.to_string()),
                payment.amount
            )),
        },
        // A reversed transfer's money came back to the balance: it did not reach the recipient.
        "failed" | "reversed" | "rejected" | "abandoned" => Answer::Final {
            to: PaymentState::Failed,
            detail,
            note: format!("Paystack transfer verify: {status}"),
        },
        other => Answer::Processing(format!("Paystack transfer verify: {other}")),
    }
}

/// Paystack's refund fetch answer.
fn refund_answer(payment: &PaymentRecord, refund: &malipo_paystack::Refund) -> Answer {
    let status = refund.status.as_deref().unwrap_or("unknown");
    let detail = TransitionDetail {
        result_code: Some(status.to_string()),
        result_desc: Some(format!("refund fetched: {status}")),
        ..TransitionDetail::default()
    };
    match status {
        "processed" => match refund.amount() {
            Some(given) if given == payment.amount => Answer::Final {
                to: PaymentState::Succeeded,
                detail,
                note: format!("Paystack refund: processed, {given}"),
            },
            given => Answer::Mismatch(format!(
                "Paystack reports the refund processed with {} but it is for {}",
                given.map_or_else(|| "an unreadable amount".to_string(), |m| m.to_string()),
                payment.amount
            )),
        },
        "failed" => Answer::Final {
            to: PaymentState::Failed,
            detail,
            note: "Paystack refund: failed".into(),
        },
        "needs-attention" => Answer::Mismatch("Paystack reports the refund needs attention".into()),
        other => Answer::Processing(format!("Paystack refund: {other}")),
    }
}

/// The wait before the `attempt`th question: the kind's `after`, doubling, capped at
/// `max_backoff` (and never under a second).
fn backoff(config: &ReconcileConfig, timing: Option<&ReconcileTiming>, attempt: u32) -> Duration {
    let base = timing
        .map_or(config.interval, |t| t.after)
        .max(Duration::from_millis(100));
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(config.max_backoff.max(base))
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use malipo_core::{Currency, Money};
    use malipo_mpesa::StkQueryResult;

    fn payment(kind: &str, amount: Money) -> PaymentRecord {
        let now = Utc::now();
        PaymentRecord {
            id: PaymentId::new(),
            provider: Provider::Paystack,
            kind: kind.into(),
            state: PaymentState::Pending,
            amount,
            msisdn: None,
            email: None,
            merchant_reference: None,
            provider_reference: Some("ref-1".into()),
            description: None,
            metadata: None,
            receipt: None,
            result_code: None,
            result_desc: None,
            created_at: now,
            updated_at: now,
            settled_by: None,
            parent_id: None,
            check: Default::default(),
            provider_request_id: None,
            refunded: Money::from_minor(0, amount.currency()),
            account: malipo_core::AccountName::default_account(),
        }
    }

    fn query(code: &str) -> StkQueryOutcome {
        StkQueryOutcome::Completed(
            serde_json::from_value::<StkQueryResult>(serde_json::json!({
                "ResponseCode": "0", "ResultCode": code, "ResultDesc": "desc",
                "MerchantRequestID": "m", "CheckoutRequestID": "c"
            }))
            .unwrap(),
        )
    }

    #[test]
    fn stk_query_codes_map_like_the_callback() {
        let to = |code| match stk_answer(&query(code)) {
            Answer::Final { to, .. } => Some(to),
            _ => None,
        };
        assert_eq!(to("0"), Some(PaymentState::Succeeded));
        assert_eq!(to("1032"), Some(PaymentState::Cancelled));
        assert_eq!(to("1037"), Some(PaymentState::Expired));
        assert_eq!(to("1"), Some(PaymentState::Failed));
        assert!(matches!(stk_answer(&query("SFC_IC0003")), Answer::Mismatch(_)));
        let pending = StkQueryOutcome::Pending {
            request_id: None,
            message: "The transaction is being processed".into(),
        };
        assert!(matches!(stk_answer(&pending), Answer::Processing(_)));
        // "Still under processing" is no outcome: asked again, not failed.
        assert!(matches!(stk_answer(&query("4999")), Answer::Processing(_)));
    }

    #[test]
    fn a_verified_charge_settles_only_with_the_payments_amount_and_currency() {
        let p = payment("charge", Money::from_minor(50_000, Currency::Ngn));
        let tx = |amount: u64, currency: &str, status: &str| -> malipo_paystack::Transaction {
            serde_json::from_value(serde_json::json!({
                "id": 7, "status": status, "reference": "ref-1", "amount": amount, "currency": currency
            }))
            .unwrap()
        };
        assert!(matches!(
            charge_answer(&p, &tx(50_000, "NGN", "success")),
            Answer::Final {
                to: PaymentState::Succeeded,
                ..
            }
        ));
        assert!(matches!(
            charge_answer(&p, &tx(40_000, "NGN", "success")),
            Answer::Mismatch(_)
        ));
        assert!(matches!(
            charge_answer(&p, &tx(50_000, "GHS", "success")),
            Answer::Mismatch(_)
        ));
        assert!(matches!(
            charge_answer(&p, &tx(50_000, "NGN", "failed")),
            Answer::Final {
                to: PaymentState::Failed,
                ..
            }
        ));
        assert!(matches!(
            charge_answer(&p, &tx(50_000, "NGN", "abandoned")),
            Answer::Processing(_)
        ));
    }

    #[test]
    fn a_timed_out_push_expires_and_a_verified_charge_keeps_its_details() {
        for code in ["1037", "1019"] {
            assert!(
                matches!(
                    stk_answer(&query(code)),
                    Answer::Final {
                        to: PaymentState::Expired,
                        ..
                    }
                ),
                "{code}"
            );
        }
        let Answer::Final { detail, note, .. } = stk_answer(&query("1032")) else {
            panic!("final");
        };
        assert_eq!(detail.result_code.as_deref(), Some("1032"));
        assert_eq!(detail.result_desc.as_deref(), Some("desc"));
        assert_eq!(note, "STK query: ResultCode 1032 (desc)");

        let p = payment("charge", Money::from_minor(50_000, Currency::Ngn));
        let tx: malipo_paystack::Transaction = serde_json::from_value(serde_json::json!({
            "id": 7, "status": "success", "reference": "ref-1", "amount": 50_000, "currency": "NGN",
            "gateway_response": "Approved"
        }))
        .unwrap();
        let Answer::Final { detail, .. } = charge_answer(&p, &tx) else {
            panic!("final");
        };
        assert_eq!(detail.receipt.as_deref(), Some("7"));
        assert_eq!(detail.result_code.as_deref(), Some("Approved"));
        assert_eq!(detail.result_desc.as_deref(), Some("verified: success"));
        // Paid, then given back: a person's call, not a failure nor a success.
        let reversed: malipo_paystack::Transaction = serde_json::from_value(serde_json::json!({
            "id": 7, "status": "reversed", "amount": 50_000, "currency": "NGN"
        }))
        .unwrap();
        assert!(matches!(charge_answer(&p, &reversed), Answer::Mismatch(_)));
    }

    #[test]
    fn a_verified_transfer_succeeds_only_with_the_payouts_amount() {
        let p = payment("transfer", Money::from_minor(20_000, Currency::Ngn));
        let transfer = |amount: u64, status: &str| -> malipo_paystack::Transfer {
            serde_json::from_value(serde_json::json!({
                "transfer_code": "TRF_1", "amount": amount, "currency": "NGN", "status": status
            }))
            .unwrap()
        };
        let Answer::Final { to, detail, .. } = transfer_answer(&p, &transfer(20_000, "success")) else {
            panic!("final");
        };
        assert_eq!(to, PaymentState::Succeeded);
        assert_eq!(detail.receipt.as_deref(), Some("TRF_1"));
        assert_eq!(detail.result_code.as_deref(), Some("success"));
        assert!(matches!(
            transfer_answer(&p, &transfer(20_001, "success")),
            Answer::Mismatch(_)
        ));
        for status in ["failed", "reversed", "rejected", "abandoned"] {
            assert!(
                matches!(
                    transfer_answer(&p, &transfer(20_000, status)),
                    Answer::Final {
                        to: PaymentState::Failed,
                        ..
                    }
                ),
                "{status}"
            );
        }
        for status in ["pending", "otp", "received"] {
            assert!(
                matches!(
                    transfer_answer(&p, &transfer(20_000, status)),
                    Answer::Processing(_)
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn a_fetched_refund_is_processed_only_with_its_own_amount() {
        let p = payment("refund", Money::from_minor(6_000, Currency::Ngn));
        let refund = |amount: u64, status: &str| -> malipo_paystack::Refund {
            serde_json::from_value(serde_json::json!({
                "id": 3, "amount": amount, "currency": "NGN", "status": status
            }))
            .unwrap()
        };
        let Answer::Final { to, detail, .. } = refund_answer(&p, &refund(6_000, "processed")) else {
            panic!("final");
        };
        assert_eq!(to, PaymentState::Succeeded);
        assert_eq!(detail.result_code.as_deref(), Some("processed"));
        assert_eq!(detail.result_desc.as_deref(), Some("refund fetched: processed"));
        assert!(matches!(
            refund_answer(&p, &refund(5_999, "processed")),
            Answer::Mismatch(_)
        ));
        assert!(matches!(
            refund_answer(&p, &refund(6_000, "failed")),
            Answer::Final {
                to: PaymentState::Failed,
                ..
            }
        ));
        assert!(matches!(
            refund_answer(&p, &refund(6_000, "needs-attention")),
            Answer::Mismatch(_)
        ));
        assert!(matches!(
            refund_answer(&p, &refund(6_000, "pending")),
            Answer::Processing(_)
        ));
    }

    /// What `log_outcome` writes for `done`, at every level down to DEBUG.
    fn logged(done: &Reconciled) -> String {
        #[derive(Clone, Default)]
        struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || log_outcome(done));
        let text = lines.0.lock().unwrap().clone();
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn what_a_pass_did_to_a_payment_is_logged_with_the_payment() {
        let p = payment("charge", Money::from_minor(50_000, Currency::Ngn));
        let id = p.id.to_string();
        let cases = [
            (
                Reconciled::Settled {
                    payment: p.clone(),
                    answer: "Paystack verify: success".into(),
                },
                &["INFO", "settled by query", "Paystack verify: success"][..],
            ),
            (
                Reconciled::Expired(p.clone()),
                &["INFO", "expired: no final answer by the deadline"],
            ),
            (
                Reconciled::Held {
                    payment: p.clone(),
                    reason: "another amount".into(),
                },
                &["WARN", "held for a person", "another amount"],
            ),
            (
                Reconciled::StillPending {
                    payment: p.clone(),
                    answer: "Paystack verify: abandoned".into(),
                },
                &["DEBUG", "still pending at the provider", "abandoned"],
            ),
        ];
        for (done, says) in cases {
            let line = logged(&done);
            // The payment as a field of its own, which a log search can match.
            assert!(line.contains(&format!("payment={id}")), "{line}");
            for part in says {
                assert!(line.contains(part), "{part:?} in {line}");
            }
        }
        // Nothing happened to tell about.
        assert_eq!(logged(&Reconciled::NotDue(p.clone())), "");
        assert_eq!(logged(&Reconciled::AlreadySettled(p)), "");
    }

    #[test]
    fn backoff_doubles_from_after_up_to_the_cap() {
        let config = ReconcileConfig {
            max_backoff: Duration::from_secs(600),
            ..ReconcileConfig::default()
        };
        let t = ReconcileTiming::new(Duration::from_secs(120), Duration::from_secs(3600));
        let waits: Vec<u64> = (1..=6).map(|n| backoff(&config, Some(&t), n).as_secs()).collect();
        assert_eq!(waits, [120, 240, 480, 600, 600, 600]);
        assert_eq!(backoff(&config, Some(&t), u32::MAX).as_secs(), 600);
    }
}
