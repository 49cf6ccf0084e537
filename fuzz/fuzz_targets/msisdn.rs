//! Phone numbers from callbacks, the API and the CLI: `Msisdn::from_str` on any UTF-8.
//!
//! On success the number is `254` + 9 digits starting with 7 or 1; its canonical form and the
//! other accepted spellings of it parse back to the same number; masking and the numeric form
//! agree with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use malipo_core::Msisdn;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(msisdn) = text.parse::<Msisdn>() else {
        return;
    };
    let canonical = msisdn.as_str();
    assert_eq!(canonical.len(), 12, "{canonical:?}");
    assert!(canonical.bytes().all(|b| b.is_ascii_digit()), "{canonical:?}");
    assert!(
        canonical.starts_with("2547") || canonical.starts_with("2541"),
        "{canonical:?} is not a Kenyan mobile number"
    );
    // The digits of the input, in order, end with the national number.
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    assert!(digits.ends_with(&canonical[3..]), "{text:?} gave {canonical:?}");

    for spelling in [
        canonical.to_string(),
        format!("+{canonical}"),
        format!("0{}", &canonical[3..]),
        canonical[3..].to_string(),
    ] {
        assert_eq!(spelling.parse::<Msisdn>().as_ref(), Ok(&msisdn), "{spelling:?}");
    }
    assert_eq!(Msisdn::try_from(msisdn.as_u64()).as_ref(), Ok(&msisdn));

    let masked = msisdn.masked();
    assert_eq!(masked.len(), 12);
    assert_eq!(&masked[..4], &canonical[..4]);
    assert_eq!(&masked[8..], &canonical[8..]);
    assert!(
        !format!("{msisdn} {msisdn:?}").contains(canonical),
        "unmasked in Display/Debug"
    );
});
