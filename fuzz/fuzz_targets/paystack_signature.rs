//! `X-Paystack-Signature` checking: the input is `header \n body`.
//!
//! Whatever the header, verification never panics and accepts only the body's own HMAC-SHA512
//! (hex, either case, surrounding whitespace allowed); the signature we compute always verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_core::Secret;
use malipo_paystack::{sign, verify_signature, SignatureError};

fuzz_target!(|data: &[u8]| {
    let key = Secret::new("sk_test_malipo_fuzz_key".to_string());
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };

    let expected = sign(body, &key);
    assert_eq!(expected.len(), 128);

    match verify_signature(body, Some(header), &key) {
        Ok(()) => assert!(
            header.trim_ascii().eq_ignore_ascii_case(expected.as_bytes()),
            "accepted a header that is not the body's signature: {:?}",
            String::from_utf8_lossy(header)
        ),
        Err(SignatureError::Missing) => assert!(header.trim_ascii().is_empty()),
        Err(SignatureError::Malformed | SignatureError::Mismatch) => {
            assert!(!header.trim_ascii().eq_ignore_ascii_case(expected.as_bytes()))
        }
    }

    assert_eq!(verify_signature(body, Some(expected.as_bytes()), &key), Ok(()));
    assert_eq!(
        verify_signature(body, Some(expected.to_uppercase().as_bytes()), &key),
        Ok(())
    );
    assert_eq!(verify_signature(body, None, &key), Err(SignatureError::Missing));

    // The header treated as a key: another key's signature never verifies. (HMAC pads short keys
    // with zeros, so a key with trailing NULs is the same key.)
    if let Ok(other) = std::str::from_utf8(header) {
        if other.trim_end_matches('\0') != key.expose() {
            let forged = sign(body, &Secret::new(other.to_string()));
            assert_eq!(
                verify_signature(body, Some(forged.as_bytes()), &key),
                Err(SignatureError::Mismatch)
            );
        }
    }
});
