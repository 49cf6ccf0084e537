//! What an event means for a payment: the worker's decision, as a pure function of what the
//! event claims and the payment the store already has, so it is testable without a server.
//!
//! The provider crates turn their payloads into a provider-neutral [`Outcome`]
//! ([`malipo_mpesa::Callback::outcome`], [`malipo_paystack::Event::outcome`]); nothing here knows a
//! Daraja result code or a Paystack event name. A callback moves a payment only when everything
//! it claims agrees with the payment: the provider, the provider's ids of the request, the
//! amount and currency, the payer's phone where it is sent in clear, the account paid into.
//! Anything else is completed as [`EventStatus::Suspicious`] with the reason as its note: it
//! moves nothing, and since its dedup key is its own, it blocks nothing either.

use malipo_core::{Claim, EventStatus, Outcome, PaymentId, PaymentState, Provider};
use malipo_mpesa::{parse_callback, CallbackKind};
use malipo_paystack::Event;
use malipo_store::{EventRecord, JobOutcome, NewPayment, PaymentChange, PaymentRecord, TransitionDetail};

/// What the worker needs to look up before deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The payment named by the callback token, or found by the provider's reference.
    Payment(Option<PaymentRecord>),
}

/// An event's body parsed once, for both the payment lookup and the decision (parsing a
/// Paystack body twice per job was a fifth of the worker's time).
#[derive(Debug, Clone, PartialEq, Eq)]
// Each lives for one job of a batch and is consumed by `decide`; boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// What the event claims.
    Outcome(Outcome),
    /// The stored body no longer parses as its kind (it did when stored): worth a retry, then a
    /// person.
    Unparseable(String),
    /// Authentic, but not in the provider's shape: refused for good (a retry would read the same
    /// bytes).
    Invalid(String),
}

/// Parses a stored event's body into what it claims.
pub fn parse(event: &EventRecord) -> Parsed {
    match event.provider {
        Provider::Mpesa => {
            let kind = match event.kind.as_str() {
                "stk_callback" => CallbackKind::Stk,
                "c2b_validation" => CallbackKind::C2bValidation,
                // A payment recovered by C2B Pull Transactions is stored as the confirmation
                // that never came.
                "c2b_confirmation" | crate::c2b_pull::PULLED_KIND => CallbackKind::C2bConfirmation,
                "queue_timeout" => CallbackKind::Timeout,
                k if k.ends_with("result") => CallbackKind::Result,
                _ => return Parsed::Unparseable(format!("stored {} no longer parses", event.kind)),
            };
            match parse_callback(kind, &event.raw_body) {
                Ok(callback) => Parsed::Outcome(callback.outcome()),
                Err(_) => Parsed::Unparseable(format!("stored {} no longer parses", event.kind)),
            }
        }
        Provider::Paystack => paystack_outcome(Event::from_slice(&event.raw_body)),
    }
}

/// [`parse`] for a Paystack event whose body the caller already parsed as JSON.
pub(crate) fn parse_paystack_json(body: serde_json::Value) -> Parsed {
    paystack_outcome(Event::from_value(body))
}

fn paystack_outcome(event: Result<Event, malipo_paystack::EventError>) -> Parsed {
    match event {
        Ok(parsed) => Parsed::Outcome(parsed.outcome()),
        Err(e) => Parsed::Invalid(format!("not a valid Paystack event: {e}")),
    }
}

impl Parsed {
    /// The provider reference the event is about, used to find its payment.
    pub fn provider_reference(&self) -> Option<String> {
        match self {
            Parsed::Outcome(o) => o.reference.clone(),
            Parsed::Unparseable(_) | Parsed::Invalid(_) => None,
        }
    }
}

/// The provider reference an event is about (parses the body; the worker uses [`Parsed`]).
pub fn provider_reference(event: &EventRecord) -> Option<String> {
    parse(event).provider_reference()
}

/// Why `event` must not be processed again, if so: a processed refund that named its payment
/// gave money back, and processing it again would count the same refund twice (a move to a
/// state is idempotent; a refund adds to the refunded total). Replaying any other event is
/// safe: its decision is made again against the payment as it is now.
pub fn replay_refusal(event: &EventRecord) -> Option<String> {
    let summary = &event.summary;
    let payment = summary.payment_id?;
    if summary.status != EventStatus::Processed {
        return None;
    }
    match parse(event) {
        Parsed::Outcome(o) if o.claim == Claim::Refunded => Some(format!(
            "event {} was processed as a refund of payment {payment}; processing it again would count that refund twice",
            summary.id
        )),
        _ => None,
    }
}

/// Decides what a stored event does, from its body parsed by [`parse`], the payment the store
/// has for it, and `payees`, the accounts money may be paid into (the configured M-Pesa
/// shortcode and till). An error means the stored body no longer parses (it did when stored):
/// worth a retry, then a person.
pub fn decide(
    event: &EventRecord,
    parsed: Parsed,
    lookup: Lookup,
    payees: &[Payee],
) -> Result<JobOutcome, String> {
    let Lookup::Payment(payment) = lookup;
    match parsed {
        Parsed::Outcome(outcome) => {
            if let (Some(route), Some(p)) = (&event.summary.account, payment.as_ref()) {
                if *route != p.account {
                    return Ok(suspicious(format!(
                        "came in on account {route}'s route but names payment {} of account {}: an account's callbacks move only its own payments",
                        p.id, p.account
                    )));
                }
            }
            // On an account's own route only that account's shortcodes are ours.
            let codes: Vec<String> = payees
                .iter()
                .filter(|p| event.summary.account.as_ref().is_none_or(|a| *a == p.account))
                .map(|p| p.code.clone())
                .collect();
            let mut decided = settle(event.payment_id, &outcome, payment.as_ref(), &codes);
            // A payment learnt of from the event belongs to the account it came in through: the
            // route's, else the one owning the shortcode paid.
            if let Some(PaymentChange::Record(new)) = decided.payment.as_mut() {
                let by_payee = outcome
                    .payee
                    .as_ref()
                    .and_then(|code| payees.iter().find(|p| &p.code == code))
                    .map(|p| p.account.clone());
                if let Some(account) = event.summary.account.clone().or(by_payee) {
                    new.account = account;
                }
                // Learnt by asking Daraja (its list of transactions), not from a confirmation.
                if event.kind == crate::c2b_pull::PULLED_KIND {
                    new.learnt_by = Some(malipo_store::SettledBy::Query);
                }
                if event.kind == crate::c2b_pull::PULLED_KIND && decided.note.is_none() {
                    decided.note = Some(
                        "recorded from C2B Pull Transactions (settled by pull): its confirmation never arrived".into(),
                    );
                }
            }
            Ok(decided)
        }
        Parsed::Unparseable(error) => Err(error),
        Parsed::Invalid(error) => Ok(JobOutcome {
            event_status: EventStatus::Failed,
            note: Some(error),
            ..JobOutcome::processed()
        }),
    }
}

/// An account money may be paid into: an M-Pesa shortcode or till of one of the deployment's
/// accounts. A C2B payment to any other is suspicious and never recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payee {
    /// The shortcode or till number.
    pub code: String,
    /// The account it belongs to.
    pub account: malipo_core::AccountName,
}

/// The decision itself: what `outcome` does to `payment`, the payment the callback URL names
/// (`named`) or the one its provider reference found.
pub fn settle(
    named: Option<PaymentId>,
    outcome: &Outcome,
    payment: Option<&PaymentRecord>,
    payees: &[String],
) -> JobOutcome {
    if let Some(defect) = &outcome.defect {
        return suspicious(defect.clone());
    }
    if let Some(payee) = &outcome.payee {
        if !payees.iter().any(|ours| ours == payee) {
            return suspicious(format!(
                "paid into {payee:?}, which is not one of ours ({})",
                if payees.is_empty() {
                    "none configured".to_string()
                } else {
                    payees.join(", ")
                }
            ));
        }
    }
    if let Claim::Notice(note) = &outcome.claim {
        return JobOutcome {
            note: note.clone(),
            ..JobOutcome::processed()
        };
    }
    let Some(p) = payment else {
        return unknown_payment(named, outcome);
    };
    if p.provider != outcome.provider {
        return suspicious(format!(
            "a {} callback cannot move {}, a {} payment",
            outcome.provider, p.id, p.provider
        ));
    }
    if let Some(reason) = mismatched_ids(named, outcome, p) {
        return suspicious(reason);
    }
    let detail = TransitionDetail {
        result_code: outcome.result_code.clone(),
        result_desc: outcome.result_desc.clone(),
        receipt: outcome.receipt.clone(),
        settled_by: Some(malipo_store::SettledBy::Callback),
    };
    match &outcome.claim {
        Claim::Settled(to) => settled(outcome, p, *to, detail),
        Claim::Refunded => refunded(outcome, p, detail),
        Claim::Notice(_) => JobOutcome::processed(),
    }
}

fn suspicious(reason: String) -> JobOutcome {
    JobOutcome {
        event_status: EventStatus::Suspicious,
        note: Some(reason),
        ..JobOutcome::processed()
    }
}

fn note(text: impl Into<String>) -> JobOutcome {
    JobOutcome {
        note: Some(text.into()),
        ..JobOutcome::processed()
    }
}

/// No stored payment: record one learnt of from the callback where that is what it is (a C2B
/// payment, a charge malipo did not start), else there is nothing to move.
fn unknown_payment(named: Option<PaymentId>, o: &Outcome) -> JobOutcome {
    if let Some(id) = named {
        return note(format!("payment {id}, named by the callback URL, is not stored"));
    }
    let (Claim::Settled(PaymentState::Succeeded), Some(u)) = (&o.claim, &o.unsolicited) else {
        return note("no payment matches this event");
    };
    let (Some(amount), Some(reference)) = (o.amount, &o.reference) else {
        return suspicious("a payment to record without a usable amount or reference".into());
    };
    JobOutcome::apply(
        PaymentChange::Record(NewPayment {
            state: PaymentState::Succeeded,
            msisdn: o.payer_phone().cloned(),
            email: o.payer_email().map(str::to_string),
            merchant_reference: u.merchant_reference.clone(),
            provider_reference: Some(reference.clone()),
            description: u.description.clone(),
            ..NewPayment::pending(o.provider, u.kind, amount)
        }),
        None,
    )
}

/// Why the callback does not name the request the provider answered for this payment, if it
/// does not.
///
/// A payment whose push was sent but whose answer was lost (a timeout: the ids were never
/// recorded) can only be reached through its own callback URL: there the token is the binding,
/// and the amount, phone and receipt are still compared.
/// Strict settlement: a callback that would move a pending payment to `succeeded` only asks for
/// the provider's confirmation (STK query, Paystack verify), which the reconciler makes at once
/// and settles by query. `kind` is the pending payment's kind. Kinds with no answer but a
/// callback settle as before: C2B (known only from its confirmation), and B2C payouts and
/// reversals, whose transaction status query answers by a result callback to the same URL (so
/// asking first would turn that answer into another question, for ever).
pub fn confirm_first(outcome: JobOutcome, kind: Option<&str>) -> JobOutcome {
    let askable = matches!(kind, Some("stk_push" | "charge" | "transfer" | "refund"));
    match &outcome.payment {
        Some(PaymentChange::Transition {
            id,
            to: PaymentState::Succeeded,
            ..
        }) if askable => JobOutcome {
            payment: Some(PaymentChange::Confirm {
                id: *id,
                note: "a callback says it succeeded; confirming with the provider (strict settlement)".into(),
            }),
            note: Some("success awaiting the provider's confirmation".into()),
            ..outcome
        },
        _ => outcome,
    }
}

fn mismatched_ids(named: Option<PaymentId>, o: &Outcome, p: &PaymentRecord) -> Option<String> {
    if o.by_receipt {
        // A payout whose result never came has no receipt yet: it was asked about by its
        // OriginatorConversationID, which the answer repeats.
        let originator = p.provider_request_id.clone().unwrap_or_else(|| p.id.to_string());
        return match (&o.receipt, &p.receipt) {
            (Some(asked), Some(stored)) if named == Some(p.id) && asked == stored => None,
            (Some(_), None)
                if named == Some(p.id) && o.request_id.as_deref() == Some(originator.as_str()) =>
            {
                None
            }
            _ => Some(format!(
                "an answer about receipt {:?}, not payment {}'s ({:?}) on its own URL",
                o.receipt.as_deref().unwrap_or(""),
                p.id,
                p.receipt.as_deref().unwrap_or("")
            )),
        };
    }
    let Some(stored) = &p.provider_reference else {
        return (named != Some(p.id))
            .then(|| format!("payment {} has no provider reference to compare with", p.id));
    };
    if o.reference.as_deref() != Some(stored.as_str()) {
        return Some(format!(
            "reference {:?} is not payment {}'s ({stored:?})",
            o.reference.as_deref().unwrap_or(""),
            p.id
        ));
    }
    if let Some(stored) = &p.provider_request_id {
        if o.request_id.as_deref() != Some(stored.as_str()) {
            return Some(format!(
                "request id {:?} is not payment {}'s ({stored:?})",
                o.request_id.as_deref().unwrap_or(""),
                p.id
            ));
        }
    }
    None
}

fn settled(o: &Outcome, p: &PaymentRecord, to: PaymentState, detail: TransitionDetail) -> JobOutcome {
    match (o.amount, to) {
        (Some(amount), _) if amount != p.amount => {
            return suspicious(format!("amount {amount} is not the payment's {}", p.amount));
        }
        (None, PaymentState::Succeeded) => {
            return suspicious(format!(
                "a success without an amount (the payment is {})",
                p.amount
            ));
        }
        _ => {}
    }
    if let Some(phone) = &p.msisdn {
        if let Some(named) = o.payer_contradicts(phone) {
            return suspicious(format!(
                "names phone {named}, not the payment's {}",
                phone.masked()
            ));
        }
    }
    if p.state == to {
        if let (Some(kept), Some(claimed)) = (&p.receipt, &detail.receipt) {
            if kept != claimed && to == PaymentState::Succeeded {
                // One request is paid once: another receipt is another payment, or a forgery.
                return suspicious(format!(
                    "a second success with receipt {claimed:?}, but the payment succeeded with {kept:?}"
                ));
            }
        }
        // A late copy that agrees: the store leaves the payment as it is.
        return JobOutcome::apply(PaymentChange::Transition { id: p.id, to, detail }, None);
    }
    if to == PaymentState::Succeeded
        && matches!(p.state, PaymentState::PartiallyRefunded | PaymentState::Refunded)
    {
        return note(format!("already succeeded, and {} since", p.state));
    }
    if p.state.can_become(to) {
        JobOutcome::apply(PaymentChange::Transition { id: p.id, to, detail }, None)
    } else {
        suspicious(format!("claims {to}, but the payment is already {}", p.state))
    }
}

fn refunded(o: &Outcome, p: &PaymentRecord, detail: TransitionDetail) -> JobOutcome {
    let Some(amount) = o.amount else {
        return suspicious("a refund without an amount".into());
    };
    let remains = p.refundable();
    if amount.currency() != p.amount.currency() {
        return suspicious(format!(
            "a refund of {amount} for a payment in {}",
            p.amount.currency().code()
        ));
    }
    if !matches!(p.state, PaymentState::Succeeded | PaymentState::PartiallyRefunded) {
        return suspicious(format!("a refund of {amount} for a payment that is {}", p.state));
    }
    if amount.minor() == 0 || amount.minor() > remains.minor() {
        return suspicious(format!("a refund of {amount} when {remains} remains to refund"));
    }
    JobOutcome::apply(
        PaymentChange::Refund {
            id: p.id,
            amount,
            detail,
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use malipo_core::{Currency, Money, Msisdn};
    use proptest::prelude::*;

    use super::*;

    fn kes(minor: u64) -> Money {
        Money::from_minor(minor, Currency::Kes)
    }

    fn stk_payment(amount: Money) -> PaymentRecord {
        let now = chrono::Utc::now();
        PaymentRecord {
            id: PaymentId::new(),
            provider: Provider::Mpesa,
            kind: "stk_push".into(),
            state: PaymentState::Pending,
            amount,
            msisdn: Some("254708374149".parse().unwrap()),
            email: None,
            merchant_reference: None,
            provider_reference: Some("ws_CO_1".into()),
            description: None,
            metadata: None,
            receipt: None,
            result_code: None,
            result_desc: None,
            created_at: now,
            updated_at: now,
            provider_request_id: Some("29115-1-1".into()),
            refunded: Money::from_minor(0, amount.currency()),
            settled_by: None,
            parent_id: None,
            check: Default::default(),
            account: malipo_core::AccountName::default_account(),
        }
    }

    fn paid(amount: Money) -> Outcome {
        let mut o = Outcome::new(
            Provider::Mpesa,
            "ws_CO_1",
            Claim::Settled(PaymentState::Succeeded),
        );
        o.reference = Some("ws_CO_1".into());
        o.request_id = Some("29115-1-1".into());
        o.amount = Some(amount);
        o.receipt = Some("NLJ7RT61SV".into());
        o.payer = Some(malipo_core::Payer::Phone(
            "254708374149".parse::<Msisdn>().unwrap(),
        ));
        o
    }

    fn status(outcome: &JobOutcome) -> EventStatus {
        outcome.event_status
    }

    #[test]
    fn a_status_answer_settles_a_payout_without_receipt_only_by_its_own_originator_id() {
        let mut payout = stk_payment(kes(100_000));
        payout.kind = "b2c".into();
        payout.provider_reference = Some("AG_20191219_00005797af5d7d75f652".into());
        payout.provider_request_id = Some(payout.id.to_string());
        let answer = |originator: &str| {
            let mut o = paid(kes(100_000));
            o.by_receipt = true;
            o.payer = None;
            o.reference = Some("AG_query_conversation".into());
            o.request_id = Some(originator.to_string());
            o
        };
        let own = answer(&payout.id.to_string());
        let settled = settle(Some(payout.id), &own, Some(&payout), &[]);
        assert_eq!(status(&settled), EventStatus::Processed, "{settled:?}");
        // Another payout's id, or the right id on a URL naming no payment: nothing moves.
        let other = answer(&PaymentId::new().to_string());
        assert_eq!(
            status(&settle(Some(payout.id), &other, Some(&payout), &[])),
            EventStatus::Suspicious
        );
        assert_eq!(
            status(&settle(None, &own, Some(&payout), &[])),
            EventStatus::Suspicious
        );
        // Once the payout has a receipt, only that receipt is believed.
        payout.receipt = Some("QKL1RT61SV".into());
        assert_eq!(
            status(&settle(Some(payout.id), &own, Some(&payout), &[])),
            EventStatus::Suspicious
        );
    }

    #[test]
    fn a_callback_that_agrees_settles() {
        let p = stk_payment(kes(404_000));
        let out = settle(Some(p.id), &paid(kes(404_000)), Some(&p), &[]);
        assert_eq!(status(&out), EventStatus::Processed);
        assert!(matches!(
            out.payment,
            Some(PaymentChange::Transition {
                to: PaymentState::Succeeded,
                ..
            })
        ));
    }

    #[test]
    fn each_disagreement_is_suspicious_and_moves_nothing() {
        let p = stk_payment(kes(404_000));
        type Forge = Box<dyn Fn(&mut Outcome)>;
        let cases: Vec<(&str, Forge)> = vec![
            ("amount", Box::new(|o| o.amount = Some(kes(100)))),
            (
                "amount",
                Box::new(|o| o.amount = Some(Money::from_minor(404_000, Currency::Ngn))),
            ),
            ("without an amount", Box::new(|o| o.amount = None)),
            ("reference", Box::new(|o| o.reference = Some("ws_CO_2".into()))),
            ("request id", Box::new(|o| o.request_id = Some("other".into()))),
            ("request id", Box::new(|o| o.request_id = None)),
            (
                "names phone",
                Box::new(|o| o.payer = Some(malipo_core::Payer::Phone("254711111111".parse().unwrap()))),
            ),
            ("defect", Box::new(|o| o.flag("defect"))),
            ("cannot move", Box::new(|o| o.provider = Provider::Paystack)),
        ];
        for (why, change) in cases {
            let mut o = paid(kes(404_000));
            change(&mut o);
            let out = settle(Some(p.id), &o, Some(&p), &[]);
            assert_eq!(status(&out), EventStatus::Suspicious, "{why}");
            assert_eq!(out.payment, None, "{why}");
            assert!(
                out.note.as_deref().unwrap().contains(why),
                "{why}: {:?}",
                out.note
            );
        }
    }

    #[test]
    fn a_success_after_a_cancel_is_suspicious_and_a_repeat_is_not() {
        let mut p = stk_payment(kes(100));
        p.state = PaymentState::Cancelled;
        let out = settle(Some(p.id), &paid(kes(100)), Some(&p), &[]);
        assert_eq!(status(&out), EventStatus::Suspicious);
        let mut cancel = paid(kes(100));
        cancel.claim = Claim::Settled(PaymentState::Cancelled);
        cancel.amount = None;
        let out = settle(Some(p.id), &cancel, Some(&p), &[]);
        assert_eq!(status(&out), EventStatus::Processed);
    }

    /// Regression: a second success with another receipt passed as a late copy, and its receipt
    /// replaced the payment's.
    #[test]
    fn a_second_success_with_another_receipt_is_suspicious() {
        let mut p = stk_payment(kes(100));
        p.state = PaymentState::Succeeded;
        p.receipt = Some("NLJ7RT61SV".into());
        let same = settle(Some(p.id), &paid(kes(100)), Some(&p), &[]);
        assert_eq!(status(&same), EventStatus::Processed);
        assert!(matches!(same.payment, Some(PaymentChange::Transition { .. })));
        let mut other = paid(kes(100));
        other.receipt = Some("QKX1AB23CD".into());
        let out = settle(Some(p.id), &other, Some(&p), &[]);
        assert_eq!(status(&out), EventStatus::Suspicious);
        assert_eq!(out.payment, None);
        assert!(out.note.as_deref().unwrap().contains("QKX1AB23CD"), "{out:?}");
        // A payment settled by a query has no receipt yet: a callback's fills it in.
        p.receipt = None;
        let out = settle(Some(p.id), &other, Some(&p), &[]);
        assert_eq!(status(&out), EventStatus::Processed);
    }

    #[test]
    fn a_late_success_after_a_refund_is_noted_and_a_late_failure_is_suspicious() {
        for state in [PaymentState::PartiallyRefunded, PaymentState::Refunded] {
            let mut p = stk_payment(kes(100));
            p.state = state;
            // The success it reports already happened; the refund since stands.
            let out = settle(Some(p.id), &paid(kes(100)), Some(&p), &[]);
            assert_eq!(
                (out.event_status, out.payment.as_ref()),
                (EventStatus::Processed, None)
            );
            assert_eq!(out.note, Some(format!("already succeeded, and {state} since")));
            // A payment that was paid and refunded cannot have failed.
            let mut failed = paid(kes(100));
            failed.claim = Claim::Settled(PaymentState::Failed);
            let out = settle(Some(p.id), &failed, Some(&p), &[]);
            assert_eq!(status(&out), EventStatus::Suspicious, "{state}");
            assert_eq!(out.payment, None);
        }
    }

    #[test]
    fn a_payment_whose_ids_were_never_recorded_is_bound_by_its_token_alone() {
        let mut p = stk_payment(kes(100));
        p.provider_reference = None;
        p.provider_request_id = None;
        let out = settle(Some(p.id), &paid(kes(100)), Some(&p), &[]);
        assert!(out.payment.is_some());
        // The rest is still compared.
        let out = settle(Some(p.id), &paid(kes(1)), Some(&p), &[]);
        assert_eq!(status(&out), EventStatus::Suspicious);
        // Without the token, nothing binds the callback to it.
        let out = settle(None, &paid(kes(100)), Some(&p), &[]);
        assert_eq!(status(&out), EventStatus::Suspicious);
    }

    #[test]
    fn money_into_a_foreign_account_is_suspicious() {
        let mut o = paid(kes(100));
        o.reference = Some("RKTQDM7W6S".into());
        o.payee = Some("600638".into());
        o.unsolicited = Some(malipo_core::Unsolicited {
            kind: "c2b",
            merchant_reference: None,
            description: None,
        });
        let out = settle(None, &o, None, &["174379".to_string()]);
        assert_eq!(status(&out), EventStatus::Suspicious);
        assert_eq!(out.payment, None);
        let out = settle(None, &o, None, &["600638".to_string()]);
        assert!(matches!(out.payment, Some(PaymentChange::Record(_))));
    }

    #[test]
    fn a_charge_malipo_did_not_start_is_recorded_with_what_the_event_says_of_it() {
        let mut o = Outcome::new(
            Provider::Paystack,
            "charge.success:1",
            Claim::Settled(PaymentState::Succeeded),
        );
        o.reference = Some("T123".into());
        o.amount = Some(Money::from_minor(250_000, Currency::Ngn));
        o.payer = Some(malipo_core::Payer::Email("buyer@example.com".into()));
        o.unsolicited = Some(malipo_core::Unsolicited {
            kind: "charge",
            merchant_reference: Some("order-9".into()),
            description: Some("a charge from the dashboard".into()),
        });
        let out = settle(None, &o, None, &[]);
        let Some(PaymentChange::Record(new)) = out.payment else {
            panic!("recorded: {out:?}");
        };
        assert_eq!(new.state, PaymentState::Succeeded);
        assert_eq!(new.kind, "charge");
        assert_eq!(new.amount, Money::from_minor(250_000, Currency::Ngn));
        assert_eq!(new.email.as_deref(), Some("buyer@example.com"));
        assert_eq!(new.msisdn, None);
        assert_eq!(new.merchant_reference.as_deref(), Some("order-9"));
        assert_eq!(new.provider_reference.as_deref(), Some("T123"));
        assert_eq!(new.description.as_deref(), Some("a charge from the dashboard"));

        // Without a claim to record, nothing is recorded, and the event says why.
        o.unsolicited = None;
        let out = settle(None, &o, None, &[]);
        assert_eq!(
            (out.event_status, out.payment.as_ref()),
            (EventStatus::Processed, None)
        );
        assert_eq!(out.note.as_deref(), Some("no payment matches this event"));
        let named = PaymentId::new();
        let out = settle(Some(named), &o, None, &[]);
        assert_eq!(
            out.note,
            Some(format!(
                "payment {named}, named by the callback URL, is not stored"
            ))
        );
    }

    #[test]
    fn strict_settlement_asks_first_only_about_payments_a_provider_can_be_asked_about() {
        let p = stk_payment(kes(100));
        let success = settle(Some(p.id), &paid(kes(100)), Some(&p), &[]);
        assert!(matches!(success.payment, Some(PaymentChange::Transition { .. })));
        for kind in ["stk_push", "charge", "transfer", "refund"] {
            let out = confirm_first(success.clone(), Some(kind));
            assert!(
                matches!(out.payment, Some(PaymentChange::Confirm { id, .. }) if id == p.id),
                "{kind}: {out:?}"
            );
            assert_eq!(
                out.note.as_deref(),
                Some("success awaiting the provider's confirmation")
            );
            assert_eq!(out.delivery, success.delivery, "{kind}");
        }
        // A C2B payment is known only from its confirmation: no provider answers about it, so
        // asking first would leave it pending for ever. A payout's or reversal's status comes
        // back only as another result callback, which would be asked about again.
        for kind in [Some("c2b"), Some("b2c"), Some("reversal"), None] {
            assert_eq!(confirm_first(success.clone(), kind), success, "{kind:?}");
        }
        // Only a success waits; a failure settles at once.
        let mut cancelled = paid(kes(100));
        cancelled.claim = Claim::Settled(PaymentState::Cancelled);
        let failure = settle(Some(p.id), &cancelled, Some(&p), &[]);
        assert!(matches!(failure.payment, Some(PaymentChange::Transition { .. })));
        assert_eq!(confirm_first(failure.clone(), Some("stk_push")), failure);
    }

    #[test]
    fn refunds_keep_a_total() {
        let mut p = stk_payment(kes(10_000));
        p.state = PaymentState::Succeeded;
        let refund = |minor| {
            let mut o = Outcome::new(Provider::Mpesa, "r", Claim::Refunded);
            o.reference = Some("ws_CO_1".into());
            o.request_id = Some("29115-1-1".into());
            o.amount = Some(kes(minor));
            o
        };
        let out = settle(None, &refund(4_000), Some(&p), &[]);
        assert!(matches!(out.payment, Some(PaymentChange::Refund { amount, .. }) if amount == kes(4_000)));
        p.state = PaymentState::PartiallyRefunded;
        p.refunded = kes(4_000);
        let out = settle(None, &refund(6_001), Some(&p), &[]);
        assert_eq!(status(&out), EventStatus::Suspicious);
        let out = settle(None, &refund(6_000), Some(&p), &[]);
        assert!(matches!(out.payment, Some(PaymentChange::Refund { .. })));
    }

    /// An event as the store would hand it back: `kind` and `body` as received.
    fn stored(provider: Provider, kind: &str, body: &str) -> EventRecord {
        EventRecord {
            summary: malipo_store::EventSummary {
                id: malipo_core::EventId::new(),
                provider,
                kind: kind.into(),
                dedup_key: format!("{kind}:test"),
                received_at: chrono::Utc::now(),
                source_ip: None,
                status: EventStatus::Received,
                attempts: 0,
                last_error: None,
                payment_id: None,
                body_len: body.len() as u64,
                account: None,
            },
            raw_body: body.as_bytes().to_vec().into(),
        }
    }

    #[test]
    fn only_a_processed_refund_of_a_payment_is_refused_a_replay() {
        let refund = r#"{"event":"refund.processed","data":{"status":"processed","transaction_reference":"ref-77","refund_reference":"RR77","amount":"5000","currency":"NGN"}}"#;
        let with = |body: &str, status: EventStatus, payment: Option<PaymentId>| {
            let mut e = stored(Provider::Paystack, "refund.processed", body);
            e.summary.status = status;
            e.summary.payment_id = payment;
            e
        };
        let paid = Some(PaymentId::new());
        let applied = with(refund, EventStatus::Processed, paid);
        let why = replay_refusal(&applied).expect("a counted refund is not counted again");
        assert!(why.contains(&applied.summary.id.to_string()), "{why}");
        assert!(why.contains("twice"), "{why}");
        // Not applied: suspicious, failed, or processed without a payment (none matched then).
        for (status, payment) in [
            (EventStatus::Suspicious, paid),
            (EventStatus::Failed, paid),
            (EventStatus::Processed, None),
        ] {
            assert_eq!(replay_refusal(&with(refund, status, payment)), None, "{status:?}");
        }
        // A move to a state is idempotent: replaying a processed success is fine.
        assert_eq!(
            replay_refusal(&with(CHARGE_SUCCESS, EventStatus::Processed, paid)),
            None
        );
    }

    const STK_PAID: &str = include_str!("../tests/fixtures/stk-callback-paid.json");
    const B2C_RESULT: &str = include_str!("../tests/fixtures/b2c-result-success.json");
    const C2B_CONFIRMATION: &str = include_str!("../tests/fixtures/c2b-confirmation.json");
    const CHARGE_SUCCESS: &str = include_str!("../tests/fixtures/charge-success.json");
    /// Daraja's answer when a request timed out in its queue (`QueueTimeOutURL`).
    const QUEUE_TIMEOUT: &str = r#"{"Result":{"ResultType":1,"ResultCode":1,"ResultDesc":"The request timed out in the queue.","OriginatorConversationID":"10571-7910404-1","ConversationID":"AG_20191219_00004e48cf7e3533f581","TransactionID":"NLJ0000000"}}"#;

    #[test]
    fn a_stored_callback_parses_as_the_kind_it_was_stored_as() {
        use malipo_mpesa::{parse_callback, CallbackKind};
        for (kind, as_kind, body) in [
            ("stk_callback", CallbackKind::Stk, STK_PAID),
            ("b2c_result", CallbackKind::Result, B2C_RESULT),
            (
                "c2b_confirmation",
                CallbackKind::C2bConfirmation,
                C2B_CONFIRMATION,
            ),
            (
                crate::c2b_pull::PULLED_KIND,
                CallbackKind::C2bConfirmation,
                C2B_CONFIRMATION,
            ),
            ("queue_timeout", CallbackKind::Timeout, QUEUE_TIMEOUT),
        ] {
            let callback = parse_callback(as_kind, body.as_bytes()).expect(kind);
            assert_eq!(
                parse(&stored(Provider::Mpesa, kind, body)),
                Parsed::Outcome(callback.outcome()),
                "{kind}"
            );
        }
        // A kind this build does not process is left to a person, whatever its body: read as a
        // result it would parse.
        for kind in ["ratiba_callback", "stk", "result_of_something"] {
            assert!(
                matches!(
                    parse(&stored(Provider::Mpesa, kind, B2C_RESULT)),
                    Parsed::Unparseable(_)
                ),
                "{kind}"
            );
        }
        assert!(matches!(
            parse(&stored(Provider::Mpesa, "stk_callback", "{}")),
            Parsed::Unparseable(_)
        ));
    }

    #[test]
    fn the_provider_reference_is_the_one_the_event_names() {
        let stk = stored(Provider::Mpesa, "stk_callback", STK_PAID);
        let checkout = serde_json::from_str::<serde_json::Value>(STK_PAID).unwrap()["Body"]["stkCallback"]
            ["CheckoutRequestID"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(provider_reference(&stk), Some(checkout));
        let charge = stored(Provider::Paystack, "charge.success", CHARGE_SUCCESS);
        let reference = serde_json::from_str::<serde_json::Value>(CHARGE_SUCCESS).unwrap()["data"]
            ["reference"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(provider_reference(&charge), Some(reference));
        let broken = stored(
            Provider::Paystack,
            "charge.success",
            "{\"event\":\"charge.success\"}",
        );
        assert_eq!(provider_reference(&broken), None);
    }

    fn any_money() -> impl Strategy<Value = Money> {
        (
            any::<u64>(),
            prop::sample::select(vec![Currency::Kes, Currency::Ngn, Currency::Usd]),
        )
            .prop_map(|(minor, c)| Money::from_minor(minor, c))
    }

    fn any_claim() -> impl Strategy<Value = Claim> {
        prop::sample::select(vec![
            Claim::Settled(PaymentState::Succeeded),
            Claim::Settled(PaymentState::Failed),
            Claim::Settled(PaymentState::Cancelled),
            Claim::Settled(PaymentState::Expired),
        ])
    }

    proptest! {
        /// Whatever else it says, a callback whose amount differs from the payment's never
        /// moves it.
        #[test]
        fn a_different_amount_never_settles(
            stored in any_money(),
            claimed in any_money(),
            claim in any_claim(),
            state in prop::sample::select(PaymentState::ALL.to_vec()),
            named in any::<bool>(),
            receipt in proptest::option::of("[A-Z0-9]{10}"),
        ) {
            prop_assume!(stored != claimed);
            let mut p = stk_payment(stored);
            p.state = state;
            let mut o = paid(claimed);
            o.claim = claim;
            o.receipt = receipt;
            let out = settle(named.then_some(p.id), &o, Some(&p), &[]);
            prop_assert_eq!(out.payment, None);
            prop_assert_eq!(out.event_status, EventStatus::Suspicious);
        }

        /// Without the payment's own ids, nothing moves it either.
        #[test]
        fn another_requests_ids_never_settle(
            reference in "[a-zA-Z0-9_]{0,30}",
            request_id in "[0-9-]{0,20}",
        ) {
            let p = stk_payment(kes(100));
            prop_assume!(reference != "ws_CO_1" || request_id != "29115-1-1");
            let mut o = paid(kes(100));
            o.reference = Some(reference);
            o.request_id = Some(request_id);
            let out = settle(Some(p.id), &o, Some(&p), &[]);
            prop_assert_eq!(out.payment, None);
        }
    }
}
