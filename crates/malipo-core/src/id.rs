use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

/// What kind of thing an [`Id`] names; its prefix is checked on parse.
pub trait IdKind {
    /// The prefix before the underscore, such as `evt`.
    const PREFIX: &'static str;
}

macro_rules! id_kinds {
    ($($(#[$doc:meta])* $name:ident => $prefix:literal, $alias:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {}
        impl IdKind for $name {
            const PREFIX: &'static str = $prefix;
        }
        $(#[$doc])*
        pub type $alias = Id<$name>;
    )*};
}

/// Markers for the kinds of id malipo hands out.
pub mod kinds {
    use super::{Id, IdKind};
    id_kinds! {
        /// An inbound provider event (`evt_…`).
        Event => "evt", EventId;
        /// A payment malipo started or learnt of (`pay_…`).
        Payment => "pay", PaymentId;
        /// An outbound delivery to the merchant's app (`dlv_…`).
        Delivery => "dlv", DeliveryId;
        /// A queued job (`job_…`).
        Job => "job", JobId;
        /// A merchant API key (`key_…`).
        Key => "key", KeyId;
    }
}

/// Why an id string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The prefix is not the expected one.
    #[error("id {input:?} should start with \"{expected}_\"")]
    WrongPrefix {
        /// The text given.
        input: String,
        /// The prefix expected.
        expected: &'static str,
    },
    /// The body after the prefix is not 26 Crockford base32 characters.
    #[error("id {0:?} is malformed: expected 26 characters of Crockford base32 after the prefix")]
    Malformed(String),
}

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A typed, prefixed, time-sortable id such as `evt_01JD3W8Q6M2K4X7V9B5N1R0T2Y`.
///
/// The body is a ULID: 48 bits of milliseconds since the Unix epoch then 80 random bits, in
/// Crockford base32, so ids sort by creation time and ranges of them can be pruned cheaply. The
/// field is private: an `Id` that exists has been generated or checked.
pub struct Id<K> {
    value: u128,
    kind: PhantomData<fn() -> K>,
}

impl<K: IdKind> Id<K> {
    /// A new id for the current time.
    pub fn new() -> Self {
        let millis = chrono::Utc::now().timestamp_millis().max(0) as u128;
        Self::from_parts(millis, rand::random::<u128>())
    }

    /// An id from a timestamp in milliseconds and random bits (only the low 80 bits are used).
    pub fn from_parts(millis: u128, random: u128) -> Self {
        let value = ((millis & ((1 << 48) - 1)) << 80) | (random & ((1 << 80) - 1));
        Id {
            value,
            kind: PhantomData,
        }
    }

    /// Milliseconds since the Unix epoch when this id was made.
    pub fn timestamp_millis(&self) -> u64 {
        (self.value >> 80) as u64
    }

    /// The id's 128-bit value (milliseconds then random bits), which
    /// `Id::from_parts(v >> 80, v)` turns back into the id: for keys that carry an id in binary.
    pub fn as_u128(&self) -> u128 {
        self.value
    }

    /// The 26 Crockford base-32 digits, on the stack: ids are printed for every row the store
    /// writes or reads.
    fn body(&self) -> [u8; 26] {
        let mut digits = [0u8; 26];
        for (i, digit) in digits.iter_mut().rev().enumerate() {
            *digit = ALPHABET[((self.value >> (i * 5)) & 31) as usize];
        }
        digits
    }
}

impl<K: IdKind> Default for Id<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Id<K> {}
impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<K> Eq for Id<K> {}
impl<K> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}
impl<K> std::hash::Hash for Id<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

impl<K: IdKind> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body();
        // The alphabet is ASCII, so the digits are always UTF-8.
        let body = std::str::from_utf8(&body).map_err(|_| fmt::Error)?;
        f.write_str(K::PREFIX)?;
        f.write_str("_")?;
        f.write_str(body)
    }
}

impl<K: IdKind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<K: IdKind> FromStr for Id<K> {
    type Err = IdError;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let body = input
            .strip_prefix(K::PREFIX)
            .and_then(|rest| rest.strip_prefix('_'))
            .ok_or_else(|| IdError::WrongPrefix {
                input: input.to_string(),
                expected: K::PREFIX,
            })?;
        let malformed = || IdError::Malformed(input.to_string());
        if body.len() != 26 {
            return Err(malformed());
        }
        let mut value: u128 = 0;
        for (i, b) in body.bytes().enumerate() {
            let digit = ALPHABET
                .iter()
                .position(|&a| a == b.to_ascii_uppercase())
                .ok_or_else(malformed)? as u128;
            // The first character carries only 3 bits of a 128-bit value.
            if i == 0 && digit > 7 {
                return Err(malformed());
            }
            value = (value << 5) | digit;
        }
        Ok(Id {
            value,
            kind: PhantomData,
        })
    }
}

impl<K: IdKind> serde::Serialize for Id<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de, K: IdKind> serde::Deserialize<'de> for Id<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::kinds::{EventId, PaymentId};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_value_gives_the_id_back_and_starts_with_its_time() {
        for _ in 0..100 {
            let id = PaymentId::new();
            let v = id.as_u128();
            assert_eq!(PaymentId::from_parts(v >> 80, v), id);
            assert_eq!((v >> 80) as u64, id.timestamp_millis());
        }
        let id = PaymentId::from_parts(0x0123_4567_89ab, 0xdead_beef_cafe_f00d_1234);
        assert_eq!(id.as_u128(), 0x0123_4567_89ab_dead_beef_cafe_f00d_1234);
    }

    #[test]
    fn prints_prefix_and_parses_back() {
        let id = EventId::new();
        let s = id.to_string();
        assert!(s.starts_with("evt_") && s.len() == 30, "{s}");
        assert_eq!(s.parse::<EventId>().unwrap(), id);
        assert!(matches!(
            s.parse::<PaymentId>(),
            Err(IdError::WrongPrefix { expected: "pay", .. })
        ));
        assert!(matches!("evt_123".parse::<EventId>(), Err(IdError::Malformed(_))));
        assert!(matches!(
            "evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ".parse::<EventId>(),
            Err(IdError::Malformed(_))
        ));
    }

    #[test]
    fn equal_and_hashed_by_value_printed_alike_in_debug() {
        use std::hash::{BuildHasher, RandomState};
        let a = EventId::from_parts(7, 1);
        let b = EventId::from_parts(7, 2);
        assert_ne!(a, b);
        assert_eq!(a, EventId::from_parts(7, 1));
        // The hash is the value's: ids in a map or set are found by what they are.
        let hasher = RandomState::new();
        assert_eq!(hasher.hash_one(a), hasher.hash_one(a.as_u128()));
        assert_ne!(hasher.hash_one(a), hasher.hash_one(b));
        assert_eq!(format!("{a:?}"), a.to_string());
    }

    #[test]
    fn deserializes_from_its_printed_form_only() {
        let id = EventId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<EventId>(&json).unwrap(), id);
        let wrong = serde_json::from_str::<PaymentId>(&json).unwrap_err();
        assert!(wrong.to_string().contains("pay"), "{wrong}");
        assert!(serde_json::from_str::<EventId>("\"evt_123\"").is_err());
        assert!(serde_json::from_str::<EventId>("42").is_err());
    }

    #[test]
    fn sorts_by_time() {
        let early = EventId::from_parts(1_000, u128::MAX);
        let late = EventId::from_parts(1_001, 0);
        assert!(early < late);
        assert!(early.to_string() < late.to_string());
        assert_eq!(late.timestamp_millis(), 1_001);
    }

    proptest! {
        #[test]
        fn round_trips(millis in 0u128..(1 << 48), random in any::<u128>()) {
            let id = PaymentId::from_parts(millis, random);
            prop_assert_eq!(id.to_string().parse::<PaymentId>().unwrap(), id);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<EventId>();
        }
    }
}
