//! Where verification draws its lines: every header source, the exact bounds of ids, timestamps,
//! signature headers and keys, and secrets that never print.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use malipo_webhooks::{
    HeaderSource, SecretError, Signer, Verifier, VerifyError, WebhookSecret, DEFAULT_TOLERANCE, HEADER_ID,
    HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

const NOW: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"type":"payment.succeeded"}"#;

fn secret() -> WebhookSecret {
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap()
}

/// The three headers of a delivery signed at `timestamp`, names in mixed case as proxies send them.
fn signed(id: &str, timestamp: i64) -> [(String, String); 3] {
    let s = Signer::new(secret()).sign(id, timestamp, BODY);
    [
        ("Webhook-Id".into(), s.id),
        ("WEBHOOK-TIMESTAMP".into(), s.timestamp.to_string()),
        ("webhook-Signature".into(), s.signature),
    ]
}

fn verify<H: HeaderSource + ?Sized>(headers: &H) -> Result<(), VerifyError> {
    Verifier::new(secret()).verify_at(headers, BODY, NOW)
}

#[test]
fn every_header_source_finds_the_headers_whatever_their_case() {
    let array = signed("msg_1", NOW);
    assert_eq!(verify(&array), Ok(()));
    assert_eq!(verify(&array[..]), Ok(()));
    assert_eq!(verify(&array.to_vec()), Ok(()));
    let by_ref: &[(String, String); 3] = &array;
    assert_eq!(verify(&by_ref), Ok(()));
    let hash: HashMap<String, String> = array.iter().cloned().collect();
    assert_eq!(verify(&hash), Ok(()));
    let tree: BTreeMap<String, String> = array.iter().cloned().collect();
    assert_eq!(verify(&tree), Ok(()));
    let mut map = http::HeaderMap::new();
    for (name, value) in &array {
        map.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    assert_eq!(verify(&map), Ok(()));

    // Each source says which header is missing, and a changed value fails.
    for dropped in [HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE] {
        let kept: Vec<_> = array
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(dropped))
            .cloned()
            .collect();
        let expected = Err(VerifyError::MissingHeader(dropped));
        assert_eq!(verify(&kept), expected);
        assert_eq!(verify(&kept.iter().cloned().collect::<HashMap<_, _>>()), expected);
        assert_eq!(
            verify(&kept.iter().cloned().collect::<BTreeMap<_, _>>()),
            expected
        );
        let mut map = map.clone();
        map.remove(dropped);
        assert_eq!(verify(&map), expected);
    }
    let mut forged = array.clone();
    forged[0].1 = "msg_2".into();
    assert_eq!(verify(&forged), Err(VerifyError::NoMatchingSignature));
}

#[test]
fn ids_may_be_1_to_256_bytes() {
    assert_eq!(verify(&signed(&"i".repeat(256), NOW)), Ok(()));
    for id in [String::new(), "i".repeat(257)] {
        assert_eq!(
            verify(&signed(&id, NOW)),
            Err(VerifyError::InvalidHeader(HEADER_ID)),
            "an id of {} bytes",
            id.len()
        );
    }
}

#[test]
fn timestamps_within_the_tolerance_inclusive_verify() {
    let tolerance = DEFAULT_TOLERANCE.as_secs() as i64;
    assert_eq!(verify(&signed("msg_1", NOW - tolerance)), Ok(()));
    assert_eq!(verify(&signed("msg_1", NOW + tolerance)), Ok(()));
    assert_eq!(
        verify(&signed("msg_1", NOW - tolerance - 1)),
        Err(VerifyError::TimestampTooOld)
    );
    assert_eq!(
        verify(&signed("msg_1", NOW + tolerance + 1)),
        Err(VerifyError::TimestampTooNew)
    );
    let strict = Verifier::new(secret()).tolerance(Duration::from_secs(10));
    assert_eq!(
        strict.verify_at(&signed("msg_1", NOW - 11), BODY, NOW),
        Err(VerifyError::TimestampTooOld)
    );
}

#[test]
fn a_nineteen_digit_timestamp_is_read_and_judged_by_its_time() {
    // The longest timestamp an i64 holds is 19 digits: read, then refused as far in the future.
    let far = 1_000_000_000_000_000_000;
    assert_eq!(verify(&signed("msg_1", far)), Err(VerifyError::TimestampTooNew));
}

#[test]
fn the_signature_header_may_be_up_to_4096_bytes() {
    let [id, ts, (name, signature)] = signed("msg_1", NOW);
    // Signatures of other versions are skipped: a header padded with them still verifies.
    let padded = |len: usize| {
        let filler = len - signature.len() - " v1a,".len();
        (name.clone(), format!("v1a,{} {signature}", "A".repeat(filler)))
    };
    let at_limit = [id.clone(), ts.clone(), padded(4096)];
    assert_eq!(at_limit[2].1.len(), 4096);
    assert_eq!(verify(&at_limit), Ok(()));
    assert_eq!(
        verify(&[id, ts, padded(4097)]),
        Err(VerifyError::InvalidHeader(HEADER_SIGNATURE))
    );
}

#[test]
fn keys_may_be_1_to_1024_bytes_in_either_form() {
    let longest = WebhookSecret::from_bytes(&[7u8; 1024]).unwrap();
    assert_eq!(WebhookSecret::from_bytes(&[7u8; 1025]), Err(SecretError::TooLong));
    assert_eq!(WebhookSecret::from_bytes(&[]), Err(SecretError::Empty));
    // The text form of the longest key is read back (its base64 is 1,368 characters).
    let text = longest.expose_whsec();
    assert_eq!(text.parse::<WebhookSecret>(), Ok(longest));
    let too_long = WebhookSecret::from_bytes(&[7u8; 1024])
        .unwrap()
        .expose_whsec()
        .replace("whsec_", "whsec_BwcH");
    assert_eq!(too_long.parse::<WebhookSecret>(), Err(SecretError::TooLong));
}

#[test]
fn a_secret_prints_as_redacted() {
    let s = WebhookSecret::generate();
    assert_eq!(format!("{s:?}"), "WebhookSecret([REDACTED])");
    assert_eq!(s.to_string(), "[REDACTED]");
}
