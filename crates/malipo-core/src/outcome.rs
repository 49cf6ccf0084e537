//! What a provider's callback or webhook claims, in words every provider shares.
//!
//! Each provider crate turns its own payloads (Daraja result codes, Paystack event names) into
//! one [`Outcome`]; the gateway then compares the outcome with the stored payment and decides,
//! knowing nothing of any provider's wire format. A callback moves a payment only when
//! everything it claims agrees with the payment; the comparison lives with the gateway, the
//! knowledge of what a well-formed callback looks like lives here, in [`Outcome::defect`].

use crate::{Money, Msisdn, PaymentState, Provider};

/// What a callback says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The payment the callback is about reached this state: [`PaymentState::Succeeded`] (money
    /// moved), [`PaymentState::Failed`], [`PaymentState::Cancelled`] or
    /// [`PaymentState::Expired`].
    Settled(PaymentState),
    /// Money went back to the payer: [`Outcome::amount`] of it, or all that remains when the
    /// amount is `None`.
    Refunded,
    /// Nothing for a payment to do (a notice, a queue timeout, a validation request); the text,
    /// when there is one, is kept as the event's note.
    Notice(Option<String>),
}

/// Who paid (for a payout: who was paid), as far as the callback says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payer {
    /// A mobile number (M-Pesa); compared with the payment's.
    Phone(Msisdn),
    /// A mobile number with hidden digits (`2547***1111`, `0712****78`): the digits it shows
    /// are compared with the payment's number.
    Masked(String),
    /// An email address (Paystack); kept, not compared (addresses differ in case and aliases).
    Email(String),
}

/// Whether a masked number (`2547***1111`, `0712****78`, `+254 7** *** 149`) can be `phone`:
/// the digits before the first `*` start it and the digits after the last `*` end it (a
/// leading `0` or `+` standing for Kenya's 254).
fn masked_matches(shown: &str, phone: &Msisdn) -> bool {
    let (Some(first), Some(last)) = (shown.find('*'), shown.rfind('*')) else {
        return false;
    };
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let head = shown[..first].trim();
    let head = match head.strip_prefix('0') {
        Some(rest) => format!("254{}", digits(rest)),
        None => digits(head),
    };
    let tail = digits(&shown[last + 1..]);
    let full = phone.as_str();
    full.starts_with(&head) && full.ends_with(&tail) && head.len() + tail.len() <= full.len()
}

/// A payment learnt of from the callback itself, recorded when no stored payment matches
/// (a C2B payment to the shortcode, a Paystack charge malipo did not start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsolicited {
    /// The payment kind to record (`c2b`, `charge`).
    pub kind: &'static str,
    /// The merchant's reference the payer typed (C2B `BillRefNumber`).
    pub merchant_reference: Option<String>,
    /// A human description.
    pub description: Option<String>,
}

/// A provider callback or webhook, reduced to what it claims about one payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Who sent it. A callback never touches another provider's payment.
    pub provider: Provider,
    /// The provider's identity of the event (CheckoutRequestID, TransID, ConversationID,
    /// Paystack event + id); a dedup key scoped to a payment is built from it.
    pub identity: String,
    /// The provider's reference of the payment: CheckoutRequestID, ConversationID, TransID,
    /// Paystack reference. Finds the payment when the URL names none, and must equal the stored
    /// one when it does.
    pub reference: Option<String>,
    /// The provider's second id of the request, compared with the stored one when the payment
    /// has it: MerchantRequestID of an STK push, OriginatorConversationID of a B2C payment,
    /// `transfer_code` of a Paystack transfer.
    pub request_id: Option<String>,
    /// What it says happened.
    pub claim: Claim,
    /// The amount it is about: what was paid for a success (it must equal the payment's), what
    /// went back for a refund.
    pub amount: Option<Money>,
    /// The provider's receipt (M-Pesa receipt number, Paystack transaction id), already checked
    /// for form by the provider crate.
    pub receipt: Option<String>,
    /// Who paid.
    pub payer: Option<Payer>,
    /// The account paid into (the C2B `BusinessShortCode`); must be one of ours.
    pub payee: Option<String>,
    /// Set when an unknown payment of this kind may be recorded from the callback.
    pub unsolicited: Option<Unsolicited>,
    /// The provider's result code, as text.
    pub result_code: Option<String>,
    /// The provider's result description.
    pub result_desc: Option<String>,
    /// Why the callback cannot be trusted whatever payment it names (a result code that is not
    /// an integer, a success without its receipt, a malformed receipt); such a callback is
    /// suspicious and moves nothing.
    pub defect: Option<String>,
    /// The answer is about a transaction named by its receipt (an M-Pesa transaction status
    /// query), not by the request's ids: it matches only the payment its URL names, and only
    /// when that payment's stored receipt equals [`Outcome::receipt`].
    pub by_receipt: bool,
}

impl Outcome {
    /// An outcome of `provider` with identity `identity` claiming `claim`, nothing else known.
    pub fn new(provider: Provider, identity: impl Into<String>, claim: Claim) -> Self {
        Outcome {
            provider,
            identity: identity.into(),
            reference: None,
            request_id: None,
            claim,
            amount: None,
            receipt: None,
            payer: None,
            payee: None,
            unsolicited: None,
            result_code: None,
            result_desc: None,
            defect: None,
            by_receipt: false,
        }
    }

    /// Records the first defect found (the one worth reading first).
    pub fn flag(&mut self, defect: impl Into<String>) {
        if self.defect.is_none() {
            self.defect = Some(defect.into());
        }
    }

    /// The phone the callback names in clear, if any.
    pub fn payer_phone(&self) -> Option<&Msisdn> {
        match &self.payer {
            Some(Payer::Phone(m)) => Some(m),
            _ => None,
        }
    }

    /// How the phone the callback names differs from `phone`, if it names one that cannot be
    /// `phone` (shown masked): a number in clear that is another, or a masked one whose visible
    /// digits disagree.
    pub fn payer_contradicts(&self, phone: &Msisdn) -> Option<String> {
        match &self.payer {
            Some(Payer::Phone(m)) if m != phone => Some(m.masked()),
            Some(Payer::Masked(shown)) if !masked_matches(shown, phone) => Some(shown.clone()),
            _ => None,
        }
    }

    /// The email the callback names, if any.
    pub fn payer_email(&self) -> Option<&str> {
        match &self.payer {
            Some(Payer::Email(e)) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_defect_is_kept() {
        let mut o = Outcome::new(Provider::Mpesa, "x", Claim::Notice(None));
        assert_eq!(o.defect, None);
        o.flag("first");
        o.flag("second");
        assert_eq!(o.defect.as_deref(), Some("first"));
    }

    #[test]
    fn a_phone_contradicts_only_what_it_cannot_be() {
        let phone: Msisdn = "254708374149".parse().unwrap();
        let with = |payer: Option<Payer>| {
            let mut o = Outcome::new(Provider::Mpesa, "x", Claim::Notice(None));
            o.payer = payer;
            o.payer_contradicts(&phone)
        };
        assert_eq!(with(None), None);
        assert_eq!(with(Some(Payer::Phone(phone.clone()))), None);
        assert_eq!(
            with(Some(Payer::Phone("254711111111".parse().unwrap()))),
            Some("2547****1111".into())
        );
        assert_eq!(with(Some(Payer::Email("a@example.com".into()))), None);
        for agrees in [
            "2547***4149",
            "0708****49",
            "2547********",
            "+254 708 *** 149",
            "*4149",
        ] {
            assert_eq!(with(Some(Payer::Masked(agrees.into()))), None, "{agrees}");
        }
        for differs in [
            "2547***1111",
            "0711****49",
            "2548***4149",
            "25470837414***99",
            "no stars",
        ] {
            assert_eq!(
                with(Some(Payer::Masked(differs.into()))),
                Some(differs.to_string()),
                "{differs}"
            );
        }
    }

    #[test]
    fn the_payer_is_read_as_what_it_is() {
        let mut o = Outcome::new(Provider::Mpesa, "x", Claim::Notice(None));
        assert_eq!((o.payer_phone(), o.payer_email()), (None, None));
        let phone: Msisdn = "254712345678".parse().unwrap();
        o.payer = Some(Payer::Phone(phone.clone()));
        assert_eq!((o.payer_phone(), o.payer_email()), (Some(&phone), None));
        o.payer = Some(Payer::Email("wanjiru@example.com".into()));
        assert_eq!(
            (o.payer_phone(), o.payer_email()),
            (None, Some("wanjiru@example.com"))
        );
    }
}
