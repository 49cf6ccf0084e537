//! The STK push password and Daraja's Nairobi-time timestamp.

use base64::Engine as _;
use chrono::{DateTime, FixedOffset, Offset as _, Utc};
use malipo_core::Secret;

/// Africa/Nairobi is UTC+3 all year (no daylight saving time).
const NAIROBI_OFFSET_SECS: i32 = 3 * 3600;

/// Daraja's `Timestamp` (`YYYYMMDDHHmmss`) for `now`, in Nairobi time whatever the host's zone.
pub fn nairobi_timestamp(now: DateTime<Utc>) -> String {
    // A constant in range: east_opt only fails beyond ±24 h.
    let offset = FixedOffset::east_opt(NAIROBI_OFFSET_SECS).unwrap_or_else(|| Utc.fix());
    now.with_timezone(&offset).format("%Y%m%d%H%M%S").to_string()
}

/// The STK push `Password`: base64(shortcode + passkey + timestamp).
pub fn stk_password(shortcode: &str, passkey: &Secret<String>, timestamp: &str) -> Secret<String> {
    let mut plain = String::with_capacity(shortcode.len() + passkey.expose().len() + timestamp.len());
    plain.push_str(shortcode);
    plain.push_str(passkey.expose());
    plain.push_str(timestamp);
    Secret::new(base64::engine::general_purpose::STANDARD.encode(plain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn providers_md_test_vector() {
        let passkey =
            Secret::new("bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919".to_string());
        let password = stk_password("174379", &passkey, "20210628092408");
        assert_eq!(
            password.expose(),
            "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjEwNjI4MDkyNDA4"
        );
    }

    #[test]
    fn timestamp_is_nairobi_time_across_midnight() {
        // 22:30 UTC on 31 December is 01:30 on 1 January in Nairobi.
        let utc = Utc.with_ymd_and_hms(2023, 12, 31, 22, 30, 5).unwrap();
        assert_eq!(nairobi_timestamp(utc), "20240101013005");
    }

    #[test]
    fn timestamp_matches_the_test_vector_instant() {
        let utc = Utc.with_ymd_and_hms(2021, 6, 28, 6, 24, 8).unwrap();
        assert_eq!(nairobi_timestamp(utc), "20210628092408");
    }
}
