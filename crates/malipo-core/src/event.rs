use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Safaricom's published source addresses for Daraja callbacks (Daraja documentation, "IP
/// whitelisting"; `shared/PROVIDERS.md`).
pub const SAFARICOM_CALLBACK_IPS: [Ipv4Addr; 12] = [
    Ipv4Addr::new(196, 201, 214, 200),
    Ipv4Addr::new(196, 201, 214, 206),
    Ipv4Addr::new(196, 201, 213, 114),
    Ipv4Addr::new(196, 201, 214, 207),
    Ipv4Addr::new(196, 201, 214, 208),
    Ipv4Addr::new(196, 201, 213, 44),
    Ipv4Addr::new(196, 201, 212, 127),
    Ipv4Addr::new(196, 201, 212, 138),
    Ipv4Addr::new(196, 201, 212, 129),
    Ipv4Addr::new(196, 201, 212, 136),
    Ipv4Addr::new(196, 201, 212, 74),
    Ipv4Addr::new(196, 201, 212, 69),
];

/// Paystack's published webhook source addresses.
pub const PAYSTACK_WEBHOOK_IPS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(52, 31, 139, 75),
    Ipv4Addr::new(52, 49, 173, 169),
    Ipv4Addr::new(52, 214, 14, 220),
];

/// A payment provider malipo speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Safaricom M-Pesa through the Daraja API.
    Mpesa,
    /// Paystack.
    Paystack,
}

impl Provider {
    /// The addresses the provider publishes for its callbacks and webhooks.
    pub const fn published_source_ips(self) -> &'static [Ipv4Addr] {
        match self {
            Provider::Mpesa => &SAFARICOM_CALLBACK_IPS,
            Provider::Paystack => &PAYSTACK_WEBHOOK_IPS,
        }
    }

    /// The lowercase name used in URLs, the database and the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::Mpesa => "mpesa",
            Provider::Paystack => "paystack",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mpesa" => Ok(Provider::Mpesa),
            "paystack" => Ok(Provider::Paystack),
            other => Err(format!("unknown provider {other:?}: expected mpesa or paystack")),
        }
    }
}

/// Where an inbound event stands. Stored as a small integer ([`EventStatus::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Verified and stored; its job is queued.
    Received,
    /// The worker applied it.
    Processed,
    /// Processing failed (or the authentic body could not be parsed); visible and replayable.
    Failed,
    /// Authentic but refused (for example an unknown event kind); stored for the record, never
    /// processed.
    RejectedAuthentic,
    /// Processed, but what it claims disagrees with the payment (another request's ids, another
    /// amount, a malformed receipt, a foreign shortcode…): it moved nothing and blocks nothing;
    /// the reason is its `last_error`.
    Suspicious,
}

impl EventStatus {
    /// Every status, in code order.
    pub const ALL: [EventStatus; 5] = [
        EventStatus::Received,
        EventStatus::Processed,
        EventStatus::Failed,
        EventStatus::RejectedAuthentic,
        EventStatus::Suspicious,
    ];

    /// The small integer stored in the database.
    pub const fn code(self) -> i64 {
        match self {
            EventStatus::Received => 0,
            EventStatus::Processed => 1,
            EventStatus::Failed => 2,
            EventStatus::RejectedAuthentic => 3,
            EventStatus::Suspicious => 4,
        }
    }

    /// The status for a stored code.
    pub fn from_code(code: i64) -> Option<Self> {
        EventStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The snake_case name used on the command line and in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventStatus::Received => "received",
            EventStatus::Processed => "processed",
            EventStatus::Failed => "failed",
            EventStatus::RejectedAuthentic => "rejected_authentic",
            EventStatus::Suspicious => "suspicious",
        }
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventStatus::ALL
            .into_iter()
            .find(|st| {
                st.as_str() == s || (s == "rejected-authentic" && *st == EventStatus::RejectedAuthentic)
            })
            .ok_or_else(|| {
                format!("unknown status {s:?}: expected received, processed, failed, rejected_authentic or suspicious")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_fixed() {
        for (p, name) in [(Provider::Mpesa, "mpesa"), (Provider::Paystack, "paystack")] {
            assert_eq!(p.as_str(), name);
            assert_eq!(p.to_string(), name);
            assert_eq!(name.parse::<Provider>(), Ok(p));
        }
        assert!("Mpesa"
            .parse::<Provider>()
            .unwrap_err()
            .contains("expected mpesa or paystack"));
    }

    /// The codes are in every stored row: changing one would change what stored events mean.
    #[test]
    fn status_codes_and_names_are_fixed() {
        let expected = [
            (EventStatus::Received, 0, "received"),
            (EventStatus::Processed, 1, "processed"),
            (EventStatus::Failed, 2, "failed"),
            (EventStatus::RejectedAuthentic, 3, "rejected_authentic"),
            (EventStatus::Suspicious, 4, "suspicious"),
        ];
        for (status, code, name) in expected {
            assert_eq!(status.code(), code);
            assert_eq!(EventStatus::from_code(code), Some(status));
            assert_eq!(status.as_str(), name);
            assert_eq!(status.to_string(), name);
            assert_eq!(name.parse::<EventStatus>(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), name);
        }
        assert_eq!(EventStatus::from_code(5), None);
        assert_eq!(EventStatus::from_code(-1), None);
    }

    #[test]
    fn the_hyphenated_rejected_status_is_accepted_and_nothing_else() {
        assert_eq!(
            "rejected-authentic".parse::<EventStatus>(),
            Ok(EventStatus::RejectedAuthentic)
        );
        for bad in ["", "Received", "rejected", "processed-", "suspicious "] {
            let err = bad.parse::<EventStatus>().unwrap_err();
            assert!(err.contains("expected received, processed"), "{bad:?}: {err}");
        }
    }
}
