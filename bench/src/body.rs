//! The requests the load generator sends: Paystack `charge.success` webhooks in the shape of the
//! fixture, each with its own `data.id` and `reference`, signed ahead of the run
//! ([`SignedPool`]); and M-Pesa STK callbacks, each for its own tracked payment and posted to
//! that payment's token URL ([`StkPool`]). Both are pools of numbered requests behind
//! [`RequestPool`], which the loads are generic over (no dynamic dispatch on the hot path).

use bytes::Bytes;
use malipo_core::Secret;

/// One request of a load, built at send time.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// Its own path, or `None` for the target's.
    pub path: Option<String>,
    /// The JSON body.
    pub body: Bytes,
    /// The `x-paystack-signature` header value, when the request carries one.
    pub signature: Option<&'a [u8]>,
}

/// A numbered, bounded supply of requests (the `n`-th is the same whenever it is asked for).
pub trait RequestPool: Send + Sync + 'static {
    /// The `n`-th request, or `None` past the end of the pool.
    fn request(&self, n: usize) -> Option<Outgoing<'_>>;
    /// How many requests the pool holds.
    fn size(&self) -> usize;
}

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

impl RequestPool for SignedPool {
    fn request(&self, n: usize) -> Option<Outgoing<'_>> {
        let (body, signature) = self.get(n)?;
        Some(Outgoing {
            path: None,
            body,
            signature: Some(signature),
        })
    }

    fn size(&self) -> usize {
        self.len()
    }
}

/// Daraja's example STK callback of a paid push (the gateway's test fixture).
pub const STK_FIXTURE: &str = include_str!("../fixtures/stk-callback-paid.json");

/// The amount the fixture's callback reports, in KES cents (`"Value":1.00`): what every
/// seeded payment asks for, so the callback agrees with it.
pub const STK_AMOUNT_MINOR: u64 = 100;

/// Where STK callbacks are posted: the default account's route, then the payment's token.
pub const STK_PATH_PREFIX: &str = "/callbacks/mpesa/stk/";

/// Length of a callback token (`[0-9a-f]{64}`, `malipo_guard::TOKEN_LEN`).
const TOKEN_LEN: usize = malipo_guard::TOKEN_LEN;

/// The identity of the `n`-th STK payment and its callback: what the seeded payment stores and
/// what its callback repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkIds {
    /// Daraja's CheckoutRequestID (the payment's provider reference).
    pub checkout_request_id: String,
    /// Daraja's MerchantRequestID (the payment's provider request id).
    pub merchant_request_id: String,
    /// The M-Pesa receipt the callback carries (unique per payment).
    pub receipt: String,
    /// The payer's phone, `2547XXXXXXXX`.
    pub phone: String,
}

impl StkIds {
    /// The ids of the `n`-th payment.
    pub fn of(n: u64) -> Self {
        const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        // A receipt is ten capitals and digits, like Daraja's: `B` and n in base 36.
        let mut receipt = [b'0'; 10];
        receipt[0] = b'B';
        let mut rest = n;
        for slot in receipt[1..].iter_mut().rev() {
            *slot = DIGITS[(rest % 36) as usize];
            rest /= 36;
        }
        StkIds {
            checkout_request_id: format!("ws_CO_bench{n:012}"),
            merchant_request_id: format!("bench-{n:010}-1"),
            receipt: String::from_utf8_lossy(&receipt).into_owned(),
            phone: format!("2547{:08}", n % 100_000_000),
        }
    }
}

/// The STK fixture cut around its per-payment values, in the order they appear.
#[derive(Debug, Clone)]
pub struct StkTemplate {
    /// The text before each hole, then the text after the last.
    parts: [String; 5],
}

impl StkTemplate {
    /// Cuts [`STK_FIXTURE`] around MerchantRequestID, CheckoutRequestID, the receipt and the
    /// phone number.
    pub fn new() -> Result<Self, TemplateError> {
        let holes: [(&str, &'static str); 4] = [
            ("\"29115-34620561-1\"", "no MerchantRequestID 29115-34620561-1"),
            (
                "\"ws_CO_191220191020363925\"",
                "no CheckoutRequestID after MerchantRequestID",
            ),
            ("\"NLJ7RT61SV\"", "no MpesaReceiptNumber after CheckoutRequestID"),
            ("254708374149", "no PhoneNumber after MpesaReceiptNumber"),
        ];
        let mut rest = STK_FIXTURE.trim_end();
        let mut parts: [String; 5] = Default::default();
        for (i, (hole, missing)) in holes.into_iter().enumerate() {
            let (before, after) = rest.split_once(hole).ok_or(TemplateError(missing))?;
            parts[i] = before.to_owned();
            rest = after;
        }
        parts[4] = rest.to_owned();
        if !STK_FIXTURE.contains("{\"Name\":\"Amount\",\"Value\":1.00}") {
            return Err(TemplateError("the amount is not 1.00"));
        }
        Ok(StkTemplate { parts })
    }

    /// The callback settling the `n`-th payment ([`StkIds::of`]`(n)`).
    pub fn body(&self, n: u64) -> Bytes {
        let ids = StkIds::of(n);
        let p = &self.parts;
        let mut s = String::with_capacity(p.iter().map(String::len).sum::<usize>() + 80);
        s.push_str(&p[0]);
        s.push('"');
        s.push_str(&ids.merchant_request_id);
        s.push('"');
        s.push_str(&p[1]);
        s.push('"');
        s.push_str(&ids.checkout_request_id);
        s.push('"');
        s.push_str(&p[2]);
        s.push('"');
        s.push_str(&ids.receipt);
        s.push('"');
        s.push_str(&p[3]);
        s.push_str(&ids.phone);
        s.push_str(&p[4]);
        Bytes::from(s)
    }
}

/// STK callbacks for payments the gateway tracks: the `n`-th is [`StkTemplate::body`]`(n)`
/// posted to `/callbacks/mpesa/stk/<token of payment n>`. The tokens (minted by the driver with
/// the server's key) are kept, 64 bytes each; bodies and paths are built at send time.
#[derive(Clone)]
pub struct StkPool {
    template: StkTemplate,
    tokens: Vec<u8>,
}

impl StkPool {
    /// An empty pool.
    pub fn new(template: StkTemplate) -> Self {
        StkPool {
            template,
            tokens: Vec::new(),
        }
    }

    /// Adds the next payment's callback token (64 lowercase hex characters).
    pub fn push_token(&mut self, token: &str) -> Result<(), TemplateError> {
        if token.len() != TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TemplateError("a callback token is not 64 hex characters"));
        }
        self.tokens.extend_from_slice(token.as_bytes());
        Ok(())
    }

    /// Keeps only the first `n` tokens.
    pub fn truncate(&mut self, n: usize) {
        self.tokens.truncate(n * TOKEN_LEN);
    }

    /// The callbacks' template.
    pub fn template(&self) -> &StkTemplate {
        &self.template
    }
}

impl RequestPool for StkPool {
    fn request(&self, n: usize) -> Option<Outgoing<'_>> {
        let token = self.tokens.get(n * TOKEN_LEN..(n + 1) * TOKEN_LEN)?;
        let mut path = String::with_capacity(STK_PATH_PREFIX.len() + TOKEN_LEN);
        path.push_str(STK_PATH_PREFIX);
        // Checked hex when pushed.
        path.push_str(std::str::from_utf8(token).unwrap_or_default());
        Some(Outgoing {
            path: Some(path),
            body: self.template.body(n as u64),
            signature: None,
        })
    }

    fn size(&self) -> usize {
        self.tokens.len() / TOKEN_LEN
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

    #[test]
    fn stk_callbacks_carry_their_payments_ids() {
        let t = StkTemplate::new().unwrap();
        let mut pool = StkPool::new(t);
        let token = "ab".repeat(32);
        pool.push_token(&token).unwrap();
        pool.push_token(&"cd".repeat(32)).unwrap();
        assert!(pool.push_token("xyz").is_err());
        assert_eq!(pool.size(), 2);
        let req = pool.request(1).unwrap();
        assert_eq!(
            req.path.as_deref(),
            Some(format!("{STK_PATH_PREFIX}{}", "cd".repeat(32)).as_str())
        );
        assert!(req.signature.is_none());
        assert!(pool.request(2).is_none());

        let ids = StkIds::of(1);
        let cb = malipo_mpesa::parse_callback(malipo_mpesa::CallbackKind::Stk, &req.body).unwrap();
        let o = cb.outcome();
        assert_eq!(o.reference.as_deref(), Some(ids.checkout_request_id.as_str()));
        assert_eq!(o.request_id.as_deref(), Some(ids.merchant_request_id.as_str()));
        assert_eq!(o.receipt.as_deref(), Some(ids.receipt.as_str()));
        assert_eq!(
            o.amount,
            Some(malipo_core::Money::from_minor(
                STK_AMOUNT_MINOR,
                malipo_core::Currency::Kes
            ))
        );
        let phone: malipo_core::Msisdn = ids.phone.parse().unwrap();
        assert_eq!(o.payer_phone(), Some(&phone));
        // The rest is the fixture's.
        let a: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let f: serde_json::Value = serde_json::from_str(STK_FIXTURE).unwrap();
        assert_eq!(
            a["Body"]["stkCallback"]["ResultDesc"],
            f["Body"]["stkCallback"]["ResultDesc"]
        );
    }

    #[test]
    fn stk_ids_are_distinct_and_well_formed() {
        let a = StkIds::of(0);
        let b = StkIds::of(36);
        assert_eq!(a.receipt, "B000000000");
        assert_eq!(b.receipt, "B000000010");
        assert_ne!(a.checkout_request_id, b.checkout_request_id);
        assert_eq!(StkIds::of(123_456_789).phone, "254723456789");
    }
}
