//! Per-payment M-Pesa callback URL tokens: `CallbackTokens::verify` on any string.
//!
//! Only a token this key issued verifies: the input as a token is refused unless it is the issued
//! one, and the issued token with bytes replaced at fuzzer-chosen positions is refused unless
//! unchanged. Tokens of fuzzer-chosen payment ids verify back to those ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_core::{PaymentId, Secret};
use malipo_guard::{CallbackTokens, MIN_TOKEN_KEY_BYTES, TOKEN_LEN};

const KEY: &[u8] = b"malipo fuzz token key, 32 bytes or more";

fuzz_target!(|data: &[u8]| {
    let tokens = CallbackTokens::new(Secret::new(KEY.to_vec()));
    let payment = PaymentId::from_parts(1_732_780_800_000, 0x0123_4567_89ab_cdef_fedc);
    let token = tokens.issue(payment);
    assert_eq!(token.len(), TOKEN_LEN);

    // The input itself as a token.
    if let Ok(text) = std::str::from_utf8(data) {
        let expected = (text == token).then_some(payment);
        assert_eq!(tokens.verify(text), expected, "verify({text:?})");
    }

    // The issued token with (position, byte) pairs from the input written over it.
    let mut mutated = token.clone().into_bytes();
    for pair in data.chunks_exact(2) {
        mutated[usize::from(pair[0]) % TOKEN_LEN] = pair[1];
    }
    if let Ok(mutated) = String::from_utf8(mutated) {
        let expected = (mutated == token).then_some(payment);
        assert_eq!(tokens.verify(&mutated), expected, "verify({mutated:?})");
    }

    // Round trip for arbitrary ids.
    if let Some((millis, random)) = data.get(..16).zip(data.get(16..32)) {
        let millis = u128::from_be_bytes(millis.try_into().expect("16 bytes"));
        let random = u128::from_be_bytes(random.try_into().expect("16 bytes"));
        let other = PaymentId::from_parts(millis, random);
        let issued = tokens.issue(other);
        assert_eq!(tokens.verify(&issued), Some(other));
        assert_eq!(issued == token, other == payment);
    }

    // A key from the input: short keys are refused, the rest work.
    let key_len = data.len().min(64);
    match CallbackTokens::try_new(Secret::new(data[..key_len].to_vec())) {
        Ok(t) => {
            assert!(key_len >= MIN_TOKEN_KEY_BYTES);
            assert_eq!(t.verify(&t.issue(payment)), Some(payment));
        }
        Err(e) => {
            assert!(key_len < MIN_TOKEN_KEY_BYTES);
            let _ = e.to_string();
        }
    }
});
