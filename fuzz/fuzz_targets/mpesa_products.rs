//! The callbacks of Daraja's other products on any bytes: M-Pesa Ratiba (standing orders), B2B
//! Express Checkout and the Bill Manager's payment notification.
//!
//! Never a panic; a body that parses parses the same twice (a stored body is read again by the
//! worker), and its `Debug` output can be taken (what logs do).
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_mpesa::{parse_b2b_express_callback, parse_bill_manager_payment, parse_ratiba_callback};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = parse_ratiba_callback(data) {
        let again = parse_ratiba_callback(data).expect("parses again");
        assert_eq!(format!("{c:?}"), format!("{again:?}"));
    }
    if let Ok(c) = parse_b2b_express_callback(data) {
        let again = parse_b2b_express_callback(data).expect("parses again");
        assert_eq!(format!("{c:?}"), format!("{again:?}"));
    }
    if let Ok(p) = parse_bill_manager_payment(data) {
        let again = parse_bill_manager_payment(data).expect("parses again");
        assert_eq!(format!("{p:?}"), format!("{again:?}"));
    }
});
