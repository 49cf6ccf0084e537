//! What the reconciler reads in the providers' answers to its questions, on any JSON: Daraja's
//! STK query answer, and Paystack's transaction (verify), transfer (verify) and refund (fetch).
//! A final answer settles a payment by query, so these decide money as much as a callback does.
//!
//! Never a panic; an amount read as `Money` keeps the answer's minor units and currency; a result
//! code reads as the number it is written as, and only 0 reads as paid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_core::{Currency, Money};
use malipo_mpesa::StkQueryResult;
use malipo_paystack::{Refund, Transaction, Transfer};

/// What `amount()` must give for `amount` in `currency`: money only in a currency malipo knows.
fn expected(amount: Option<u64>, currency: Option<&str>) -> Option<Money> {
    let currency: Currency = currency?.parse().ok()?;
    Some(Money::from_minor(amount?, currency))
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(tx) = serde_json::from_value::<Transaction>(value.clone()) {
        assert_eq!(tx.amount(), expected(tx.amount, tx.currency.as_deref()), "{tx:?}");
        assert_eq!(tx.is_successful(), tx.status.as_deref() == Some("success"));
    }
    if let Ok(transfer) = serde_json::from_value::<Transfer>(value.clone()) {
        assert_eq!(
            transfer.amount(),
            expected(transfer.amount, transfer.currency.as_deref()),
            "{transfer:?}"
        );
    }
    if let Ok(refund) = serde_json::from_value::<Refund>(value.clone()) {
        assert_eq!(
            refund.amount(),
            expected(refund.amount, refund.currency.as_deref()),
            "{refund:?}"
        );
        let _ = refund.transaction_reference();
    }
    if let Ok(answer) = serde_json::from_value::<StkQueryResult>(value) {
        let number = answer.result_code_number();
        assert_eq!(
            number,
            answer.result_code.as_deref().and_then(|c| c.trim().parse::<i64>().ok())
        );
        assert_eq!(answer.is_paid(), number == Some(0), "{answer:?}");
    }
});
