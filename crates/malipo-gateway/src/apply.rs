//! What an event means for a payment: the worker's decision, as a pure function of the event and
//! the payment the store already has, so it is testable without a server.

use malipo_core::{PaymentState, Provider};
use malipo_mpesa::{parse_callback, Callback, CallbackKind};
use malipo_paystack::{Event, EventError};
use malipo_store::{EventRecord, JobOutcome, NewPayment, PaymentChange, PaymentRecord, TransitionDetail};

/// What the worker needs to look up before deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The payment named by the callback token, or found by the provider's reference.
    Payment(Option<PaymentRecord>),
}

/// An event's body parsed once, for both the payment lookup and the decision (parsing a
/// Paystack body twice per job was a fifth of the worker's time).
#[derive(Debug)]
// Each lives for one job of a batch and is consumed by `decide`; boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// A Daraja callback, `None` when the stored body no longer parses as its kind.
    Mpesa(Option<Callback>),
    /// A Paystack event, or why its `data` is not in Paystack's shape.
    Paystack(Result<Event, EventError>),
}

/// Parses a stored event's body.
pub fn parse(event: &EventRecord) -> Parsed {
    match event.provider {
        Provider::Mpesa => Parsed::Mpesa(parse_mpesa(event)),
        Provider::Paystack => Parsed::Paystack(Event::from_slice(&event.raw_body)),
    }
}

impl Parsed {
    /// The provider reference the event is about, used to find its payment.
    pub fn provider_reference(&self) -> Option<String> {
        match self {
            Parsed::Mpesa(callback) => match callback.as_ref()? {
                Callback::Stk(cb) => Some(cb.checkout_request_id.clone()),
                Callback::Result(r) => r.conversation_key().map(str::to_string),
                Callback::Timeout(t) => t.conversation_key().map(str::to_string),
                Callback::C2bConfirmation(p) | Callback::C2bValidation(p) => Some(p.trans_id.clone()),
            },
            Parsed::Paystack(event) => event.as_ref().ok()?.reference().map(str::to_string),
        }
    }
}

/// The provider reference an event is about (parses the body; the worker uses [`Parsed`]).
pub fn provider_reference(event: &EventRecord) -> Option<String> {
    parse(event).provider_reference()
}

fn parse_mpesa(event: &EventRecord) -> Option<Callback> {
    let kind = match event.kind.as_str() {
        "stk_callback" => CallbackKind::Stk,
        "c2b_validation" => CallbackKind::C2bValidation,
        "c2b_confirmation" => CallbackKind::C2bConfirmation,
        "queue_timeout" => CallbackKind::Timeout,
        k if k.ends_with("result") => CallbackKind::Result,
        _ => return None,
    };
    parse_callback(kind, &event.raw_body).ok()
}

/// M-Pesa STK result codes (PROVIDERS.md): 0 paid, 1032 cancelled by the customer, 1037 and 1019
/// no answer in time; anything else failed.
fn stk_state(code: i64) -> PaymentState {
    match code {
        0 => PaymentState::Succeeded,
        1032 => PaymentState::Cancelled,
        1037 | 1019 => PaymentState::Expired,
        _ => PaymentState::Failed,
    }
}

fn transition(payment: &PaymentRecord, to: PaymentState, detail: TransitionDetail) -> JobOutcome {
    JobOutcome::apply(
        PaymentChange::Transition {
            id: payment.id,
            to,
            detail,
        },
        None,
    )
}

fn note(text: impl Into<String>) -> JobOutcome {
    JobOutcome {
        note: Some(text.into()),
        ..JobOutcome::processed()
    }
}

/// Decides what a stored event does, from its body parsed by [`parse`]. Errors mean the body no
/// longer parses (it did when stored), which is worth a failed job a person can look at.
pub fn decide(event: &EventRecord, parsed: Parsed, lookup: Lookup) -> Result<JobOutcome, String> {
    let Lookup::Payment(payment) = lookup;
    match parsed {
        Parsed::Mpesa(callback) => decide_mpesa(event, callback, payment),
        Parsed::Paystack(parsed) => decide_paystack(parsed, payment),
    }
}

fn decide_mpesa(
    event: &EventRecord,
    callback: Option<Callback>,
    payment: Option<PaymentRecord>,
) -> Result<JobOutcome, String> {
    let callback = callback.ok_or_else(|| format!("stored {} no longer parses", event.kind))?;
    Ok(match (callback, payment) {
        (Callback::Stk(cb), Some(p)) => transition(
            &p,
            stk_state(cb.result_code),
            TransitionDetail {
                result_code: Some(cb.result_code.to_string()),
                result_desc: Some(cb.result_desc.clone()),
                receipt: cb.receipt(),
                settled_by: Some(malipo_store::SettledBy::Callback),
            },
        ),
        (Callback::Result(r), Some(p)) => transition(
            &p,
            if r.is_success() {
                PaymentState::Succeeded
            } else {
                PaymentState::Failed
            },
            TransitionDetail {
                result_code: Some(r.result_code.to_string()),
                result_desc: Some(r.result_desc.clone()),
                receipt: r.receipt(),
                settled_by: Some(malipo_store::SettledBy::Callback),
            },
        ),
        (Callback::C2bConfirmation(c2b), _) => match c2b.amount() {
            Some(amount) => JobOutcome::apply(
                PaymentChange::Record(NewPayment {
                    state: PaymentState::Succeeded,
                    msisdn: c2b.phone(),
                    merchant_reference: Some(c2b.bill_ref_number.clone()).filter(|s| !s.is_empty()),
                    provider_reference: Some(c2b.trans_id.clone()),
                    description: Some(format!("C2B {}", c2b.transaction_type)),
                    ..NewPayment::pending(Provider::Mpesa, "c2b", amount)
                }),
                None,
            ),
            None => note(format!(
                "C2B confirmation with an unreadable amount {:?}",
                c2b.trans_amount
            )),
        },
        // A queue timeout says Daraja did not process the request in time; its outcome is
        // unknown, so the reconciler's status query decides, not this event.
        (Callback::Timeout(_), _) => note("queue timeout: left to reconciliation"),
        (Callback::C2bValidation(_), _) => JobOutcome::processed(),
        (_, None) => note("no payment matches this callback"),
    })
}

fn decide_paystack(
    parsed: Result<Event, EventError>,
    payment: Option<PaymentRecord>,
) -> Result<JobOutcome, String> {
    // Ingestion only identified the event; a body whose `data` is not in Paystack's shape is
    // refused here, for good (a retry would read the same bytes).
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            return Ok(JobOutcome {
                event_status: malipo_core::EventStatus::Failed,
                note: Some(format!("not a valid Paystack event: {e}")),
                ..JobOutcome::processed()
            })
        }
    };
    let detail = TransitionDetail {
        result_code: parsed.status().map(str::to_string),
        result_desc: Some(parsed.name().to_string()),
        receipt: parsed.as_charge().and_then(|c| c.id).map(|id| id.to_string()),
        settled_by: Some(malipo_store::SettledBy::Callback),
    };
    let target = match parsed.name() {
        "charge.success" | "transfer.success" => Some(PaymentState::Succeeded),
        "transfer.failed" => Some(PaymentState::Failed),
        "transfer.reversed" | "refund.processed" => Some(PaymentState::Refunded),
        _ => None,
    };
    Ok(match (target, payment) {
        (Some(to), Some(p)) => transition(&p, to, detail),
        // A charge malipo did not start (a payment page, the dashboard): record it as paid.
        (Some(PaymentState::Succeeded), None) if parsed.name() == "charge.success" => {
            match (parsed.amount(), parsed.reference()) {
                (Some(amount), Some(reference)) => JobOutcome::apply(
                    PaymentChange::Record(NewPayment {
                        state: PaymentState::Succeeded,
                        email: parsed.customer_email().map(str::to_string),
                        provider_reference: Some(reference.to_string()),
                        ..NewPayment::pending(Provider::Paystack, "charge", amount)
                    }),
                    None,
                ),
                _ => note("charge.success without a usable amount or reference"),
            }
        }
        (Some(_), None) => note("no payment matches this event"),
        (None, _) => JobOutcome::processed(),
    })
}
