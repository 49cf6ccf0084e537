//! Daraja callbacks in the provider-neutral words of [`malipo_core::Outcome`]: what each result
//! code means, which ids name the request, and what a well-formed success carries.

use malipo_core::{Claim, Outcome, Payer, PaymentState, Provider, Unsolicited};

use super::values::phone_chars_only;
use super::{C2bPayment, Callback, ResultCallback, ResultCode, ResultKind, StkCallback};

/// Length of an M-Pesa receipt (transaction id), such as `NLJ7RT61SV`.
pub const RECEIPT_LEN: usize = 10;

/// Whether `text` has the form of an M-Pesa receipt or transaction id: exactly
/// [`RECEIPT_LEN`] uppercase ASCII letters and digits (`NLJ7RT61SV`, `RKTQDM7W6S`).
pub fn is_receipt(text: &str) -> bool {
    text.len() == RECEIPT_LEN && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// What an STK result code means for the payment (Daraja's codes seen in practice): 0 paid, 1032
/// cancelled by the customer, 1037 (phone unreachable) and 1019 (expired) no answer in time,
/// anything else failed.
pub fn stk_claim(code: i64) -> PaymentState {
    match code {
        0 => PaymentState::Succeeded,
        1032 => PaymentState::Cancelled,
        1037 | 1019 => PaymentState::Expired,
        _ => PaymentState::Failed,
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Flags a missing or malformed receipt on a success.
fn check_receipt(outcome: &mut Outcome, receipt: Option<String>, field: &str) {
    match receipt {
        None => outcome.flag(format!("a success without {field}")),
        Some(r) if !is_receipt(&r) => {
            outcome.flag(format!(
                "{field} {:?} is not a receipt ({RECEIPT_LEN} uppercase letters and digits)",
                clip(&r)
            ));
        }
        Some(r) => outcome.receipt = Some(r),
    }
}

/// Who a phone number as sent names: a number in clear, or one with hidden digits; nothing for
/// text that is neither.
fn payer(text: Option<String>) -> Option<Payer> {
    let text = text?;
    let text = text.trim();
    if let Ok(phone) = text.parse() {
        return Some(Payer::Phone(phone));
    }
    let masked = text.contains('*') && text.chars().any(|c| c.is_ascii_digit()) && phone_chars_only(text);
    masked.then(|| Payer::Masked(text.to_string()))
}

/// Keeps a hostile value short in a reason.
fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

impl StkCallback {
    /// What this STK result claims about its push.
    pub fn outcome(&self) -> Outcome {
        let claim = match self.result_code {
            ResultCode::Integer(code) => Claim::Settled(stk_claim(code)),
            // Nothing is claimed; the defect below says why.
            ResultCode::Irregular(_) => Claim::Notice(None),
        };
        let mut o = Outcome::new(Provider::Mpesa, self.checkout_request_id.trim(), claim);
        o.reference = non_empty(&self.checkout_request_id);
        o.request_id = non_empty(&self.merchant_request_id);
        o.result_code = Some(self.result_code.to_string());
        o.result_desc = non_empty(&self.result_desc);
        if let ResultCode::Irregular(value) = &self.result_code {
            o.flag(format!("ResultCode {value} is not a JSON integer"));
        }
        if o.request_id.is_none() {
            o.flag("no MerchantRequestID");
        }
        o.amount = self.amount();
        o.payer = payer(self.phone_text());
        if let Some(name) = self.conflicting_item() {
            o.flag(format!(
                "CallbackMetadata gives {:?} twice, with different values",
                clip(name)
            ));
        }
        if self.is_paid() {
            if self.callback_metadata.is_none() {
                o.flag("a success without CallbackMetadata");
            }
            check_receipt(&mut o, self.receipt(), "MpesaReceiptNumber");
        }
        o
    }
}

impl ResultCallback {
    /// What this result claims about its request. B2C, B2B and reversal results settle their
    /// payment; status and balance results, and failures too bare to tell their kind, are
    /// notices.
    pub fn outcome(&self) -> Outcome {
        let kind = self.kind();
        let claim = match kind {
            // A reversal's result is the outcome of the reversal malipo requested (on that
            // reversal's own result URL), like a payout's.
            ResultKind::B2c | ResultKind::B2b | ResultKind::Reversal => Claim::Settled(if self.is_success() {
                PaymentState::Succeeded
            } else {
                PaymentState::Failed
            }),
            ResultKind::Unknown if self.is_success() => Claim::Settled(PaymentState::Succeeded),
            // A failed transaction status query, sent to the payout's own result URL, looks just
            // like this (no parameters, no queue URL naming the operation). Read as the payout's
            // failure, it would tell the merchant to pay again while the money may have gone.
            ResultKind::Unknown => Claim::Notice(Some(format!(
                "a failure (ResultCode {}) that names no operation: the payout's or a status query's; nothing settled",
                self.result_code
            ))),
            // A status query answers about the transaction it names: its `TransactionStatus`
            // is the outcome, when the query itself succeeded and the status is a final one.
            ResultKind::TransactionStatus => match self.parameter_text("TransactionStatus").as_deref() {
                Some("Completed") if self.is_success() => Claim::Settled(PaymentState::Succeeded),
                Some("Failed" | "Cancelled" | "Declined") if self.is_success() => {
                    Claim::Settled(PaymentState::Failed)
                }
                status => Claim::Notice(Some(format!(
                    "transaction status result: {}",
                    status.unwrap_or("no TransactionStatus")
                ))),
            },
            ResultKind::AccountBalance => {
                Claim::Notice(Some(format!("{kind:?} result: not a payment's outcome")))
            }
        };
        let mut o = Outcome::new(
            Provider::Mpesa,
            self.conversation_key().unwrap_or_default().trim(),
            claim,
        );
        o.reference = self.conversation_id.as_deref().and_then(non_empty);
        o.request_id = self.originator_conversation_id.as_deref().and_then(non_empty);
        o.result_code = Some(self.result_code.clone());
        o.result_desc = non_empty(&self.result_desc);
        o.amount = self.amount();
        if kind == ResultKind::TransactionStatus {
            // Its ids are the query's, not the transaction's; the receipt asked about names it,
            // and its parameters repeat the OriginatorConversationID of the transaction (what
            // a query for a payout whose result never came names it by).
            o.by_receipt = true;
            o.request_id = self
                .parameter_text("OriginatorConversationID")
                .filter(|s| !s.trim().is_empty());
            // A success it reports can settle a payout that has no receipt yet: its receipt must
            // be one, so nothing malformed is ever stored as a receipt.
            if o.claim == Claim::Settled(PaymentState::Succeeded) {
                check_receipt(&mut o, self.receipt(), "ReceiptNo");
            } else {
                o.receipt = self.receipt();
            }
            return o;
        }
        if o.claim == Claim::Settled(PaymentState::Succeeded) {
            check_receipt(&mut o, self.receipt(), "TransactionReceipt");
            // The receipt and the TransactionID name the same transaction.
            if let (Some(receipt), Some(id)) = (
                self.parameter_text("TransactionReceipt"),
                self.transaction_id
                    .as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty()),
            ) {
                if receipt != id {
                    o.flag(format!(
                        "TransactionID {:?} is not the TransactionReceipt {:?}",
                        clip(id),
                        clip(&receipt)
                    ));
                }
            }
        }
        // A payout's receiver, compared with the payout's phone.
        if kind == ResultKind::B2c {
            o.payer = payer(self.receiver_phone_text());
        }
        o
    }
}

impl C2bPayment {
    /// What this C2B payment claims: money received on [`C2bPayment::business_short_code`],
    /// recorded as a payment when `confirmed` (a confirmation), a notice otherwise (a
    /// validation request).
    pub fn outcome(&self, confirmed: bool) -> Outcome {
        let claim = if confirmed {
            Claim::Settled(PaymentState::Succeeded)
        } else {
            Claim::Notice(None)
        };
        let mut o = Outcome::new(Provider::Mpesa, self.trans_id.trim(), claim);
        o.reference = non_empty(&self.trans_id);
        o.amount = self.amount();
        if confirmed && o.amount.is_some_and(|a| a.minor() == 0) {
            o.flag("a C2B payment of nothing (TransAmount 0)");
        }
        o.payer = payer(Some(self.msisdn.clone()));
        o.payee = Some(self.business_short_code.trim().to_string());
        if confirmed {
            o.unsolicited = Some(Unsolicited {
                kind: "c2b",
                merchant_reference: non_empty(&self.bill_ref_number),
                description: Some(format!("C2B {}", self.transaction_type)),
            });
            check_receipt(&mut o, non_empty(&self.trans_id), "TransID");
        }
        o
    }
}

impl Callback {
    /// What the callback claims, in the provider-neutral words the gateway decides on.
    pub fn outcome(&self) -> Outcome {
        match self {
            Callback::Stk(cb) => cb.outcome(),
            Callback::Result(r) => r.outcome(),
            Callback::C2bConfirmation(p) => p.outcome(true),
            Callback::C2bValidation(p) => p.outcome(false),
            Callback::Timeout(t) => {
                let mut o = Outcome::new(
                    Provider::Mpesa,
                    t.conversation_key().unwrap_or_default().trim(),
                    // Daraja did not process the request in time; its outcome is unknown, so the
                    // reconciler's status query decides, not this notice.
                    Claim::Notice(Some("queue timeout: left to reconciliation".into())),
                );
                o.reference = t.conversation_id.as_deref().and_then(non_empty);
                o.request_id = t.originator_conversation_id.as_deref().and_then(non_empty);
                o
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_callback, CallbackKind};

    fn stk(body: serde_json::Value) -> Outcome {
        parse_callback(CallbackKind::Stk, body.to_string().as_bytes())
            .unwrap()
            .outcome()
    }

    fn paid(code: serde_json::Value, items: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"Body": {"stkCallback": {
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": "ws_CO_1",
            "ResultCode": code,
            "ResultDesc": "ok",
            "CallbackMetadata": {"Item": items},
        }}})
    }

    fn items(receipt: serde_json::Value) -> serde_json::Value {
        serde_json::json!([
            {"Name": "Amount", "Value": 1.00},
            {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "PhoneNumber", "Value": 254708374149u64},
        ])
    }

    #[test]
    fn a_status_result_reporting_success_needs_a_well_formed_receipt() {
        let status = |receipt: &str| {
            let body = serde_json::json!({"Result": {
            "ResultType": 0, "ResultCode": 0, "ResultDesc": "ok",
            "OriginatorConversationID": "q-1", "ConversationID": "AG_q",
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}},
            "ResultParameters": {"ResultParameter": [
                {"Key": "TransactionStatus", "Value": "Completed"},
                {"Key": "ReceiptNo", "Value": receipt},
                {"Key": "OriginatorConversationID", "Value": "pay_x"},
                {"Key": "Amount", "Value": 300},
            ]}}});
            parse_callback(CallbackKind::Result, body.to_string().as_bytes())
                .unwrap()
                .outcome()
        };
        let good = status("MBN31H462N");
        assert_eq!(
            (good.defect.as_deref(), good.receipt.as_deref()),
            (None, Some("MBN31H462N"))
        );
        assert_eq!(good.request_id.as_deref(), Some("pay_x"));
        let bad = status("MBN3`H462N");
        assert!(bad.defect.is_some(), "{bad:?}");
        assert_eq!(bad.receipt, None);
    }

    #[test]
    fn receipts_are_ten_uppercase_letters_and_digits() {
        for good in ["NLJ7RT61SV", "RKTQDM7W6S", "NLJ41HAY6Q", "SGL7C4KF9X"] {
            assert!(is_receipt(good), "{good}");
        }
        for bad in [
            "",
            "NLJ7RT61S",
            "NLJ7RT61SVX",
            "nlj7rt61sv",
            "NLJ7RT-1SV",
            "'; DROP TA",
            "NLJ7RT61SÜ",
        ] {
            assert!(!is_receipt(bad), "{bad}");
        }
    }

    #[test]
    fn a_well_formed_success_claims_the_payment_paid() {
        let o = stk(paid(0.into(), items("NLJ7RT61SV".into())));
        assert_eq!(o.defect, None);
        assert_eq!(o.claim, Claim::Settled(PaymentState::Succeeded));
        assert_eq!(o.reference.as_deref(), Some("ws_CO_1"));
        assert_eq!(o.request_id.as_deref(), Some("29115-34620561-1"));
        assert_eq!(o.receipt.as_deref(), Some("NLJ7RT61SV"));
        assert_eq!(o.amount.unwrap().minor(), 100);
        assert_eq!(o.payer_phone().unwrap().as_str(), "254708374149");
    }

    #[test]
    fn irregular_result_codes_claim_nothing() {
        for code in [
            serde_json::json!("0"),
            serde_json::json!(false),
            serde_json::Value::Null,
            serde_json::json!(0.0),
        ] {
            let o = stk(paid(code.clone(), items("NLJ7RT61SV".into())));
            assert_eq!(o.claim, Claim::Notice(None), "{code}");
            assert!(o.defect.unwrap().contains("not a JSON integer"), "{code}");
        }
    }

    #[test]
    fn a_success_without_its_receipt_or_metadata_is_defective() {
        let no_meta = serde_json::json!({"Body": {"stkCallback": {
            "MerchantRequestID": "m", "CheckoutRequestID": "c", "ResultCode": 0, "ResultDesc": "ok",
        }}});
        assert!(stk(no_meta).defect.unwrap().contains("CallbackMetadata"));
        let no_receipt = paid(0.into(), serde_json::json!([{"Name": "Amount", "Value": 1}]));
        assert!(stk(no_receipt).defect.unwrap().contains("MpesaReceiptNumber"));
        let sql = paid(0.into(), items("1' OR '1'='1".into()));
        assert!(stk(sql).defect.unwrap().contains("is not a receipt"));
    }

    #[test]
    fn failure_codes_keep_their_meaning() {
        for (code, state) in [
            (1032, PaymentState::Cancelled),
            (1037, PaymentState::Expired),
            (1019, PaymentState::Expired),
            (1, PaymentState::Failed),
            (2001, PaymentState::Failed),
        ] {
            let body = serde_json::json!({"Body": {"stkCallback": {
                "MerchantRequestID": "m", "CheckoutRequestID": "c", "ResultCode": code,
            }}});
            let o = stk(body);
            assert_eq!(o.claim, Claim::Settled(state), "{code}");
            assert_eq!(o.defect, None, "{code}");
        }
    }
}
