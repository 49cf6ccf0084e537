//! C2B Pull Transactions: recovering paybill and till payments whose confirmation never
//! arrived.
//!
//! Daraja sends a C2B confirmation once; a confirmation lost to an outage would leave the
//! payment unknown to malipo for good. For each M-Pesa account with `c2b_pull` configured,
//! [`run`] asks Daraja every `interval` for the shortcode's C2B payments of the last `lookback`
//! and [`pull_once`] stores each one **as the confirmation it stands for**: the same body shape
//! (a C2B confirmation rebuilt from the pulled row), the same dedup key a confirmation of that
//! TransID gets (`c2b_confirmation:<shortcode>:<TransID>`), the same account scoping and the
//! same worker path. So a pulled payment and its late confirmation are one event, whichever
//! comes first, and a payment malipo already has is a duplicate that changes nothing.
//!
//! A pulled event's kind is `c2b_pull` (the worker reads it as a confirmation) and the worker
//! notes on it that the payment was recorded from the pull, so it is visible afterwards that
//! its confirmation never came.

use std::time::Duration;

use chrono::{DateTime, Utc};
use malipo_core::{AccountName, Provider};
use malipo_mpesa::{Callback, MpesaError, PULL_RETENTION};
use malipo_store::{Ingested, NewEvent, StoreError};
use serde::Serialize;
use tokio::sync::watch;

use crate::AppState;

/// The event kind of a C2B payment recorded from a pull (read as a confirmation).
pub const PULLED_KIND: &str = "c2b_pull";

/// One account's pull schedule, from its `c2b_pull` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullPlan {
    /// The account pulled through.
    pub account: AccountName,
    /// The shortcode or till pulled (the confirmations' `BusinessShortCode`).
    pub shortcode: String,
    /// Time between pulls.
    pub interval: Duration,
    /// How far back each pull looks.
    pub lookback: Duration,
}

impl PullPlan {
    /// The plans of every M-Pesa account whose `c2b_pull` is present and enabled.
    pub fn all_from_config(config: &malipo_config::Config) -> Vec<PullPlan> {
        config
            .mpesa
            .iter()
            .flat_map(|m| m.all_accounts())
            .filter_map(|(account, a)| {
                let pull = a.c2b_pull.as_ref().filter(|p| p.enabled)?;
                Some(PullPlan {
                    shortcode: pull
                        .shortcode
                        .clone()
                        .unwrap_or_else(|| a.shortcode.trim().to_string()),
                    interval: pull.interval,
                    lookback: pull.lookback.min(PULL_RETENTION),
                    account,
                })
            })
            .collect()
    }
}

/// What one pull found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullSummary {
    /// The account pulled through.
    pub account: AccountName,
    /// The shortcode pulled.
    pub shortcode: String,
    /// The window's start.
    pub start: DateTime<Utc>,
    /// The window's end.
    pub end: DateTime<Utc>,
    /// Pages fetched.
    pub pages: usize,
    /// Transactions Daraja listed.
    pub found: usize,
    /// The TransIDs malipo had not seen, now stored (the worker records their payments).
    pub recorded: Vec<String>,
    /// Transactions malipo already had (their confirmation came, or an earlier pull found them).
    pub already_seen: usize,
    /// Rows Daraja listed without a transaction id (nothing can be recorded from them).
    pub unreadable: usize,
    /// Daraja's last `ResponseCode` and message (`1001 No records found` for a quiet window).
    pub daraja_response: (String, String),
    /// Why the answer is doubtful, when it is: Daraja answers a shortcode it does not let pull
    /// the way it answers a quiet window (`1001`), so an empty window in which malipo itself
    /// recorded C2B payments of the account is reported here.
    pub doubt: Option<String>,
}

/// Why a pull did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullError {
    /// The account has no Daraja client on this gateway.
    #[error("there is no M-Pesa account {0} on this gateway (an [mpesa.accounts.NAME] table, or \"default\" for [mpesa] itself)")]
    UnknownAccount(AccountName),
    /// The window is not one Daraja can answer.
    #[error("cannot pull {start}..{end}: {reason}")]
    Window {
        /// The window's start.
        start: DateTime<Utc>,
        /// The window's end.
        end: DateTime<Utc>,
        /// What is wrong.
        reason: String,
    },
    /// Daraja refused or failed the pull (see [`MpesaError::PullNotAllowed`] and
    /// [`MpesaError::PullFailed`]).
    #[error("pulling the C2B transactions of shortcode {shortcode} (account {account}) failed: {source}")]
    Daraja {
        /// The account.
        account: AccountName,
        /// The shortcode.
        shortcode: String,
        /// Daraja's error, which says what to do.
        #[source]
        source: MpesaError,
    },
    /// A pulled payment could not be stored; the next pull tries it again.
    #[error("could not store pulled transaction {trans_id}")]
    Store {
        /// The transaction.
        trans_id: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

impl PullError {
    /// The metric's `result` label for this failure.
    pub fn result_label(&self) -> &'static str {
        match self {
            PullError::Daraja {
                source: MpesaError::PullNotAllowed { .. },
                ..
            } => "not_allowed",
            PullError::Daraja {
                source: MpesaError::PullFailed { .. },
                ..
            } => "failed",
            _ => "error",
        }
    }
}

/// Pulls the C2B transactions of `shortcode` through `account`'s client over `start..end` and
/// stores each one malipo has not seen as the confirmation it stands for. Safe to repeat: what
/// is stored already is a duplicate. Counted in `malipo_c2b_pulls_total{result}` (`ok`,
/// `doubtful`, `not_allowed`, `failed`, `error`).
pub async fn pull_once(
    state: &AppState,
    account: &AccountName,
    shortcode: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<PullSummary, PullError> {
    let result = pull(state, account, shortcode, start, end).await;
    match &result {
        // An empty answer contradicted by malipo's own records is the sign of a shortcode
        // Daraja does not let pull: counted apart, so it can be alerted on.
        Ok(summary) if summary.doubt.is_some() => state.metrics.c2b_pull("doubtful", 0),
        Ok(summary) => state.metrics.c2b_pull("ok", summary.recorded.len() as u64),
        Err(e) => state.metrics.c2b_pull(e.result_label(), 0),
    }
    result
}

async fn pull(
    state: &AppState,
    account: &AccountName,
    shortcode: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<PullSummary, PullError> {
    let client = state
        .providers
        .mpesa_for(account)
        .ok_or_else(|| PullError::UnknownAccount(account.clone()))?;
    let oldest = Utc::now()
        - chrono::Duration::from_std(PULL_RETENTION).unwrap_or_else(|_| chrono::Duration::hours(48));
    if start < oldest - chrono::Duration::minutes(5) {
        return Err(PullError::Window {
            start,
            end,
            reason: "Daraja keeps C2B transactions for pulling 48 hours; start later".into(),
        });
    }
    let window = client
        .pull_window(Some(shortcode), start, end)
        .await
        .map_err(|source| PullError::Daraja {
            account: account.clone(),
            shortcode: shortcode.to_string(),
            source,
        })?;
    let mut summary = PullSummary {
        account: account.clone(),
        shortcode: shortcode.to_string(),
        start,
        end,
        pages: window.pages,
        found: window.transactions.len(),
        recorded: Vec::new(),
        already_seen: 0,
        unreadable: window.unreadable,
        daraja_response: window.last_response.clone(),
        doubt: None,
    };
    for t in &window.transactions {
        let payment = t.to_confirmation(shortcode);
        let trans_id = payment.trans_id.clone();
        let key = crate::inbound::c2b_dedup_key(&payment);
        let confirmation = Callback::C2bConfirmation(payment);
        // Plain data with string keys: encoding cannot fail.
        let body = serde_json::to_vec(&confirmation.to_json()).unwrap_or_default();
        let event = NewEvent {
            // The section's own account's confirmations come in on routes naming no account.
            account: (!account.is_default()).then(|| account.clone()),
            ..NewEvent::received(Provider::Mpesa, PULLED_KIND, key, body)
        };
        match state.store.ingest(event).await {
            Ok(Ingested::New(id)) => {
                tracing::info!(
                    %account, shortcode, trans_id, event = %id,
                    "C2B payment recovered by pull: its confirmation never arrived"
                );
                summary.recorded.push(trans_id);
            }
            Ok(Ingested::Duplicate(_)) => summary.already_seen += 1,
            Err(source) => return Err(PullError::Store { trans_id, source }),
        }
    }
    if !summary.recorded.is_empty() {
        state.worker_wakeup.notify_one();
    }
    if summary.found == 0 {
        summary.doubt = doubt(state, account, shortcode, start, end).await;
        if let Some(doubt) = &summary.doubt {
            tracing::warn!(%account, shortcode, "{doubt}");
        }
    }
    if summary.unreadable > 0 {
        tracing::warn!(
            %account, shortcode, rows = summary.unreadable,
            "Daraja listed C2B transactions without a transaction id; they cannot be recorded"
        );
    }
    Ok(summary)
}

/// When Daraja listed nothing: the C2B payments malipo itself recorded for the account in the
/// window (a few minutes' margin at the end, for payments still being confirmed), described.
/// A store failure only leaves the doubt unsaid.
async fn doubt(
    state: &AppState,
    account: &AccountName,
    shortcode: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<String> {
    let settled_before = end - chrono::Duration::minutes(5);
    let payments = state
        .store
        .list_payments(&malipo_store::PaymentFilter {
            provider: Some(Provider::Mpesa),
            since: Some(start),
            account: Some(account.clone()),
            limit: 1000,
            ..malipo_store::PaymentFilter::default()
        })
        .await
        .ok()?;
    let known = payments
        .iter()
        .filter(|p| p.kind == "c2b" && p.created_at <= settled_before)
        .count();
    (known > 0).then(|| {
        format!(
            "Daraja listed no C2B transactions for shortcode {shortcode}, yet malipo recorded {known} C2B payment(s) of account {account} in that window from their confirmations: if they were paid to {shortcode}, Daraja is not letting it pull (it answers a shortcode not enabled for Pull Transactions as it answers a quiet window); register it (`malipo mpesa pull-register`) or ask Safaricom (apisupport@safaricom.co.ke) to enable pulling for it"
        )
    })
}

/// Pulls every plan's shortcode at start and then every `interval`, until `stop`. A failure
/// is logged (Daraja's error says what to do) and counted; the next pull tries again.
pub async fn run(state: AppState, plans: Vec<PullPlan>, mut stop: watch::Receiver<bool>) {
    let tasks: Vec<_> = plans
        .into_iter()
        .map(|plan| tokio::spawn(run_plan(state.clone(), plan, stop.clone())))
        .collect();
    let _ = stop.wait_for(|s| *s).await;
    for task in tasks {
        let _ = task.await;
    }
}

async fn run_plan(state: AppState, plan: PullPlan, mut stop: watch::Receiver<bool>) {
    tracing::info!(
        account = %plan.account, shortcode = plan.shortcode,
        interval = ?plan.interval, lookback = ?plan.lookback,
        "pulling C2B transactions periodically"
    );
    loop {
        let end = Utc::now();
        let start =
            end - chrono::Duration::from_std(plan.lookback).unwrap_or_else(|_| chrono::Duration::hours(2));
        match pull_once(&state, &plan.account, &plan.shortcode, start, end).await {
            Ok(s) if !s.recorded.is_empty() => tracing::info!(
                account = %s.account, shortcode = s.shortcode, found = s.found,
                recorded = s.recorded.len(), "C2B pull recorded payments whose confirmation never arrived"
            ),
            Ok(s) => tracing::debug!(
                account = %s.account, shortcode = s.shortcode, found = s.found,
                "C2B pull: nothing new"
            ),
            Err(
                e @ PullError::Daraja {
                    source: MpesaError::PullNotAllowed { .. },
                    ..
                },
            ) => {
                tracing::error!(error = %e, "C2B pull refused")
            }
            Err(e) => tracing::warn!(error = %e, "C2B pull failed; trying again at the next interval"),
        }
        tokio::select! {
            _ = tokio::time::sleep(plan.interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
