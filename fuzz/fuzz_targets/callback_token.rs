//! Per-payment M-Pesa callback URL tokens: `CallbackTokens::verify_for` on any string.
//!
//! Only a token this key issued for the route verifies: whatever the input (as a token, or written
//! over the issued token at fuzzer-chosen positions), `verify_for` accepts it only if `issue_for`
//! of the id it returns gives back exactly that text, and never on another route. Tokens of
//! fuzzer-chosen payment ids verify back to those ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_core::{PaymentId, Secret};
use malipo_guard::{CallbackRoute, CallbackTokens, MIN_TOKEN_KEY_BYTES, TOKEN_LEN};

const ROUTE: CallbackRoute = CallbackRoute::Stk;

const KEY: &[u8] = b"malipo fuzz token key, 32 bytes or more";

fuzz_target!(|data: &[u8]| {
    let tokens = CallbackTokens::new(Secret::new(KEY.to_vec()));
    let payment = PaymentId::from_parts(1_732_780_800_000, 0x0123_4567_89ab_cdef_fedc);
    let token = tokens.issue_for(ROUTE, payment);
    assert_eq!(token.len(), TOKEN_LEN);

    // The input itself as a token. (Below, the harness issues tokens for ids taken from the
    // input, and libFuzzer learns them from the comparisons: those are issued, so they verify.)
    if let Ok(text) = std::str::from_utf8(data) {
        check(&tokens, text, &token, payment);
    }

    // The issued token with (position, byte) pairs from the input written over it.
    let mut mutated = token.clone().into_bytes();
    for pair in data.chunks_exact(2) {
        mutated[usize::from(pair[0]) % TOKEN_LEN] = pair[1];
    }
    if let Ok(mutated) = String::from_utf8(mutated) {
        check(&tokens, &mutated, &token, payment);
    }

    // Round trip for arbitrary ids.
    if let Some((millis, random)) = data.get(..16).zip(data.get(16..32)) {
        let millis = u128::from_be_bytes(millis.try_into().expect("16 bytes"));
        let random = u128::from_be_bytes(random.try_into().expect("16 bytes"));
        let other = PaymentId::from_parts(millis, random);
        let issued = tokens.issue_for(ROUTE, other);
        assert_eq!(tokens.verify_for(ROUTE, &issued), Some(other));
        assert_eq!(tokens.verify_for(CallbackRoute::Result, &issued), None);
        assert_eq!(issued == token, other == payment);
    }

    // A key from the input: short keys are refused, the rest work.
    let key_len = data.len().min(64);
    match CallbackTokens::try_new(Secret::new(data[..key_len].to_vec())) {
        Ok(t) => {
            assert!(key_len >= MIN_TOKEN_KEY_BYTES);
            assert_eq!(t.verify_for(ROUTE, &t.issue_for(ROUTE, payment)), Some(payment));
        }
        Err(e) => {
            assert!(key_len < MIN_TOKEN_KEY_BYTES);
            let _ = e.to_string();
        }
    }
});

/// `candidate` verifies only if it is exactly the token issued for the id it verifies to; the
/// fixed payment's own token verifies to that payment.
fn check(tokens: &CallbackTokens, candidate: &str, token: &str, payment: PaymentId) {
    match tokens.verify_for(ROUTE, candidate) {
        Some(id) => assert_eq!(
            tokens.issue_for(ROUTE, id),
            candidate,
            "verify({candidate:?}) accepted a token it did not issue"
        ),
        None => assert_ne!(candidate, token, "the issued token was refused"),
    }
    if candidate == token {
        assert_eq!(tokens.verify_for(ROUTE, candidate), Some(payment));
        assert_eq!(tokens.verify_for(CallbackRoute::Timeout, candidate), None);
    }
}
