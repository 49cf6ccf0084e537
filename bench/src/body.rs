//! The webhooks the load generator sends: Paystack `charge.success` bodies in the shape of the
//! fixture, each with its own `data.id` and `reference`, signed ahead of the run.

use bytes::Bytes;
use malipo_core::Secret;

/// Paystack's example `charge.success` webhook (about 1.1 KB), copied from the shared fixtures.
pub const FIXTURE: &str = include_str!("../fixtures/charge-success.json");

/// Where the unique parts sit in [`FIXTURE`]; replaced per request.
const FIXTURE_ID: &str = "\"id\":302961,";
const FIXTURE_REFERENCE: &str = "\"reference\":\"qTPrJoy9Bx\"";

/// Length of a hex HMAC-SHA512 signature.
const SIG_LEN: usize = 128;

/// The first `data.id` handed out; far from the fixture's own so a body is never the fixture.
const FIRST_ID: u64 = 1_000_000_000;

/// Why the template could not be built.
#[derive(Debug)]
pub struct TemplateError(&'static str);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the charge.success fixture does not have the expected shape: {}",
            self.0
        )
    }
}

impl std::error::Error for TemplateError {}

/// The fixture cut around its `data.id` and `reference`, so a body is three copies and two
/// formatted numbers (cheap enough to do at send time; the signature is the expensive part).
#[derive(Debug, Clone)]
pub struct Template {
    head: String,
    middle: String,
    tail: String,
}

impl Template {
    /// Cuts [`FIXTURE`].
    pub fn new() -> Result<Self, TemplateError> {
        let fixture = FIXTURE.trim_end();
        let (head, rest) = fixture
            .split_once(FIXTURE_ID)
            .ok_or(TemplateError("no \"id\":302961 in data"))?;
        let (middle, tail) = rest
            .split_once(FIXTURE_REFERENCE)
            .ok_or(TemplateError("no \"reference\" after data.id"))?;
        Ok(Template {
            head: format!("{head}\"id\":"),
            middle: format!(",{middle}\"reference\":\"bench-"),
            tail: format!("\"{tail}"),
        })
    }

    /// The body of the `n`-th webhook: `data.id` = 1,000,000,000 + n, `reference` = `bench-<n>`.
    pub fn body(&self, n: u64) -> Bytes {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(self.head.len() + self.middle.len() + self.tail.len() + 32);
        s.push_str(&self.head);
        let _ = write!(s, "{}", FIRST_ID + n);
        s.push_str(&self.middle);
        let _ = write!(s, "{n:010}");
        s.push_str(&self.tail);
        Bytes::from(s)
    }
}

/// `count` webhooks signed ahead of the run: the bodies are rebuilt at send time from the
/// [`Template`], the signatures (hex HMAC-SHA512, the costly part) are computed here, in
/// parallel, 128 bytes each.
pub struct SignedPool {
    template: Template,
    signatures: Vec<u8>,
}

impl SignedPool {
    /// Signs the first `count` bodies with `secret`, on every core.
    pub fn generate(template: Template, secret: &Secret<String>, count: usize) -> Self {
        let mut signatures = vec![0u8; count * SIG_LEN];
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let per_thread = count.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for (chunk_no, chunk) in signatures.chunks_mut(per_thread * SIG_LEN).enumerate() {
                let template = &template;
                scope.spawn(move || {
                    let first = chunk_no * per_thread;
                    for (i, out) in chunk.chunks_exact_mut(SIG_LEN).enumerate() {
                        let n = (first + i) as u64;
                        let sig = malipo_paystack::sign(&template.body(n), secret);
                        out.copy_from_slice(sig.as_bytes());
                    }
                });
            }
        });
        SignedPool { template, signatures }
    }

    /// How many signed webhooks the pool holds.
    pub fn len(&self) -> usize {
        self.signatures.len() / SIG_LEN
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty()
    }

    /// The `n`-th body and its signature header value, or `None` past the end of the pool.
    pub fn get(&self, n: usize) -> Option<(Bytes, &[u8])> {
        let sig = self.signatures.get(n * SIG_LEN..(n + 1) * SIG_LEN)?;
        Some((self.template.body(n as u64), sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_distinct_valid_json_of_the_fixture_shape() {
        let t = Template::new().unwrap();
        let a: serde_json::Value = serde_json::from_slice(&t.body(0)).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&t.body(7)).unwrap();
        let fixture: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        assert_eq!(a["event"], "charge.success");
        assert_eq!(a["data"]["id"], 1_000_000_000u64);
        assert_eq!(b["data"]["id"], 1_000_000_007u64);
        assert_eq!(b["data"]["reference"], "bench-0000000007");
        assert_eq!(a["data"]["customer"], fixture["data"]["customer"]);
        let keys = |v: &serde_json::Value| v["data"].as_object().map(|o| o.len());
        assert_eq!(keys(&a), keys(&fixture));
    }

    #[test]
    fn pool_signatures_verify() {
        let secret = Secret::new("sk_test_bench".to_owned());
        let pool = SignedPool::generate(Template::new().unwrap(), &secret, 5);
        assert_eq!(pool.len(), 5);
        for n in 0..5 {
            let (body, sig) = pool.get(n).unwrap();
            malipo_paystack::verify_signature(&body, Some(sig), &secret).unwrap();
        }
        assert!(pool.get(5).is_none());
    }
}
