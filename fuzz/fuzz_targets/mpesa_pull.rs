//! Daraja's Pull Transactions answer on any bytes (`parse_pull_answer`, what the C2B pull reads
//! from Daraja every interval).
//!
//! Never a panic; an answer reads the same twice; every transaction it keeps has an id (a row
//! without one is counted as unreadable, not recorded), and the confirmation made from it carries
//! that id (trimmed), so a pulled payment is deduplicated against its callback.
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_mpesa::parse_pull_answer;

fuzz_target!(|data: &[u8]| {
    let first = parse_pull_answer("600000", data);
    let again = parse_pull_answer("600000", data);
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
    if let Ok(page) = first {
        for t in &page.transactions {
            assert!(!t.transaction_id.trim().is_empty(), "a kept row has an id");
            let _ = (t.amount(), t.time(), t.phone(), t.is_buy_goods());
            let confirmation = t.to_confirmation("600000");
            assert_eq!(confirmation.trans_id, t.transaction_id.trim());
        }
    }
});
