use std::fmt;
use std::str::FromStr;

/// The payment state machine.
///
/// ```text
/// Pending ──▶ Succeeded ──▶ PartiallyRefunded ──▶ Refunded
///    │            └───────────────────────────────▲
///    ├──▶ Failed
///    ├──▶ Cancelled   (the customer declined, M-Pesa 1032)
///    └──▶ Expired     (no answer: M-Pesa 1037/1019, or reconciliation gave up)
/// ```
/// Final states never go back to `Pending`; a late or repeated callback cannot flip a settled
/// payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Started; waiting for the provider's answer.
    Pending,
    /// Money moved.
    Succeeded,
    /// The provider refused or the payment failed.
    Failed,
    /// The customer cancelled.
    Cancelled,
    /// No answer in time.
    Expired,
    /// Part of a succeeded payment was refunded.
    PartiallyRefunded,
    /// All of it was refunded.
    Refunded,
}

/// An illegal move of the payment state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a payment cannot go from {from} to {to}")]
pub struct TransitionError {
    /// The current state.
    pub from: PaymentState,
    /// The state asked for.
    pub to: PaymentState,
}

impl PaymentState {
    /// Every state, in code order.
    pub const ALL: [PaymentState; 7] = [
        PaymentState::Pending,
        PaymentState::Succeeded,
        PaymentState::Failed,
        PaymentState::Cancelled,
        PaymentState::Expired,
        PaymentState::PartiallyRefunded,
        PaymentState::Refunded,
    ];

    /// Whether `self → to` is a legal move. Staying in the same state is legal (a duplicate
    /// callback is idempotent).
    pub fn can_become(self, to: PaymentState) -> bool {
        use PaymentState::*;
        self == to
            || matches!(
                (self, to),
                (Pending, Succeeded | Failed | Cancelled | Expired)
                    | (Succeeded, PartiallyRefunded | Refunded)
                    | (PartiallyRefunded, Refunded)
            )
    }

    /// Moves to `to` if the machine allows it.
    pub fn transition(self, to: PaymentState) -> Result<PaymentState, TransitionError> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }

    /// Whether no further provider answer can change it (refunds aside).
    pub fn is_final(self) -> bool {
        !matches!(self, PaymentState::Pending)
    }

    /// The small integer stored in the database.
    pub const fn code(self) -> i64 {
        match self {
            PaymentState::Pending => 0,
            PaymentState::Succeeded => 1,
            PaymentState::Failed => 2,
            PaymentState::Cancelled => 3,
            PaymentState::Expired => 4,
            PaymentState::PartiallyRefunded => 5,
            PaymentState::Refunded => 6,
        }
    }

    /// The state for a stored code.
    pub fn from_code(code: i64) -> Option<Self> {
        PaymentState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PaymentState::Pending => "pending",
            PaymentState::Succeeded => "succeeded",
            PaymentState::Failed => "failed",
            PaymentState::Cancelled => "cancelled",
            PaymentState::Expired => "expired",
            PaymentState::PartiallyRefunded => "partially_refunded",
            PaymentState::Refunded => "refunded",
        }
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PaymentState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PaymentState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = PaymentState::ALL.iter().map(|st| st.as_str()).collect();
                format!(
                    "unknown payment state {s:?}; expected one of {}",
                    known.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentState::*;
    use super::*;

    #[test]
    fn settled_payments_never_flip() {
        for from in [Succeeded, Failed, Cancelled, Expired, Refunded] {
            assert!(from.transition(Pending).is_err(), "{from}");
        }
        assert!(Failed.transition(Succeeded).is_err());
        assert!(Cancelled.transition(Succeeded).is_err());
        assert!(Refunded.transition(PartiallyRefunded).is_err());
        assert_eq!(Pending.transition(Succeeded), Ok(Succeeded));
        assert_eq!(Succeeded.transition(Succeeded), Ok(Succeeded));
        assert_eq!(Succeeded.transition(PartiallyRefunded), Ok(PartiallyRefunded));
    }

    #[test]
    fn codes_and_names_round_trip() {
        for s in PaymentState::ALL {
            assert_eq!(PaymentState::from_code(s.code()), Some(s));
            assert_eq!(s.as_str().parse::<PaymentState>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
    }

    #[test]
    fn only_a_pending_payment_awaits_its_answer() {
        assert!(!Pending.is_final());
        for s in PaymentState::ALL.into_iter().filter(|s| *s != Pending) {
            assert!(s.is_final(), "{s}");
        }
    }
}
