use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use malipo_core::Provider;

use crate::{GuardError, Rejection};

/// How many requests one client address may make: a sustained rate and a burst on top.
///
/// The limiter is [`governor`]'s GCRA: a client may send `burst` requests at once, and after that
/// one more every `1/rate` of the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    rate: NonZeroU32,
    per: Duration,
    burst: NonZeroU32,
}

/// Why the defaults are what they are.
///
/// All of a provider's callbacks come from a handful of addresses (Safaricom publishes 12, Paystack
/// 3), so the per-address limit is really a limit on the provider, and refusing a real burst costs
/// money: Daraja does not retry an STK callback (the reconciler's STK query has to recover it), and
/// Paystack retries a refused webhook only after 3 minutes. A merchant's flash sale can make
/// thousands of payments a second, which may all be called back from one Safaricom or Paystack
/// address. The defaults are therefore far above any real burst (5,000 requests per second
/// sustained per address, a burst of 20,000, four seconds at that rate): they exist to stop a
/// runaway retry loop or a flood from a non-provider address when the allowlist is off, not to
/// shape provider traffic. Lower them only for a gateway that is not behind the allowlist.
impl RateLimit {
    /// The default for M-Pesa callbacks: 5,000/s per address, burst 20,000.
    pub const MPESA_DEFAULT: RateLimit = RateLimit::const_per_second(5_000, 20_000);
    /// The default for Paystack webhooks: 5,000/s per address, burst 20,000.
    pub const PAYSTACK_DEFAULT: RateLimit = RateLimit::const_per_second(5_000, 20_000);

    const fn const_per_second(rate: u32, burst: u32) -> RateLimit {
        match (NonZeroU32::new(rate), NonZeroU32::new(burst)) {
            (Some(rate), Some(burst)) => RateLimit {
                rate,
                per: Duration::from_secs(1),
                burst,
            },
            _ => panic!("rate and burst of a default must be positive"),
        }
    }

    /// `rate` requests per second per client address, with bursts of up to `burst`.
    pub fn per_second(rate: NonZeroU32, burst: NonZeroU32) -> Self {
        RateLimit {
            rate,
            per: Duration::from_secs(1),
            burst,
        }
    }

    /// `rate` requests per minute per client address, with bursts of up to `burst`.
    pub fn per_minute(rate: NonZeroU32, burst: NonZeroU32) -> Self {
        RateLimit {
            rate,
            per: Duration::from_secs(60),
            burst,
        }
    }

    /// From configuration numbers (requests per second and burst), refusing zeros.
    pub fn from_config(provider: Provider, rate: u32, burst: u32) -> Result<Self, GuardError> {
        match (NonZeroU32::new(rate), NonZeroU32::new(burst)) {
            (Some(r), Some(b)) => Ok(Self::per_second(r, b)),
            _ => Err(GuardError::InvalidRateLimit {
                provider,
                rate,
                burst,
            }),
        }
    }

    /// Sustained requests allowed per [`RateLimit::period`].
    pub fn rate(&self) -> NonZeroU32 {
        self.rate
    }

    /// The period the rate is counted over.
    pub fn period(&self) -> Duration {
        self.per
    }

    /// Requests allowed at once.
    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    fn quota(&self) -> Quota {
        let interval = self.per / self.rate.get();
        // The interval is at least 1 ns for any u32 rate over a second or a minute; fall back to
        // the plain per-second quota should it ever round to zero.
        Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(self.rate))
            .allow_burst(self.burst)
    }
}

/// Sweep forgotten keys once every this many checks.
const SWEEP_EVERY: u64 = 1024;

/// A rate limiter keyed by client address, shared by every route of one provider.
///
/// IPv6 clients are keyed by their /64 network: one host usually holds a whole /64, and keying by
/// full address would let it dodge the limit and fill the table by rotating addresses.
///
/// Memory: every `SWEEP_EVERY` (1,024) checks the keys whose state is back to fresh are dropped
/// (`retain_recent`). A key is fresh again `burst / rate` after its last request (4 s with the
/// defaults), so the table holds at most the addresses seen in the last few seconds, plus up to
/// `SWEEP_EVERY` new ones; behind the allowlist, only the provider's own addresses.
#[derive(Debug)]
pub struct IpRateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU64,
}

impl IpRateLimiter {
    /// A limiter for this limit.
    pub fn new(limit: RateLimit) -> Self {
        IpRateLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(limit.quota()),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request from `client`; refuses it with a 429 carrying `Retry-After` (whole
    /// seconds, rounded up) when over the limit.
    pub fn check(&self, client: IpAddr) -> Result<(), Rejection> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        match self.limiter.check_key(&key(client)) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Err(Rejection::rate_limited(ceil_secs(wait)))
            }
        }
    }

    /// Drops the keys that are back to a fresh state.
    pub fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Number of client keys held.
    pub fn tracked_clients(&self) -> usize {
        self.limiter.len()
    }
}

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

fn ceil_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs();
    let secs = if wait.subsec_nanos() > 0 { secs + 1 } else { secs };
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RejectReason;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn limits_keep_their_rate_period_and_burst() {
        let s = RateLimit::per_second(nz(50), nz(7));
        assert_eq!(
            (s.rate(), s.period(), s.burst()),
            (nz(50), Duration::from_secs(1), nz(7))
        );
        let m = RateLimit::per_minute(nz(3), nz(2));
        assert_eq!(
            (m.rate(), m.period(), m.burst()),
            (nz(3), Duration::from_secs(60), nz(2))
        );
    }

    #[test]
    fn one_address_is_limited_while_another_is_served() {
        let limiter = IpRateLimiter::new(RateLimit::per_minute(nz(1), nz(3)));
        for _ in 0..3 {
            assert!(limiter.check(ip("192.0.2.1")).is_ok());
        }
        let refused = limiter.check(ip("192.0.2.1")).unwrap_err();
        assert_eq!(refused.reason(), RejectReason::RateLimited);
        let secs = refused.retry_after_secs().unwrap();
        assert!((1..=60).contains(&secs), "{secs}");
        assert!(limiter.check(ip("192.0.2.2")).is_ok());
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        let limiter = IpRateLimiter::new(RateLimit::per_minute(nz(1), nz(1)));
        assert!(limiter.check(ip("2001:db8:0:1::1")).is_ok());
        assert!(limiter.check(ip("2001:db8:0:1::2")).is_err());
        assert!(limiter.check(ip("2001:db8:0:2::1")).is_ok());
    }

    #[test]
    fn sweep_forgets_fresh_keys() {
        // At 1,000,000/s with burst 1, a key is fresh again 1 µs after use.
        let limiter = IpRateLimiter::new(RateLimit::per_second(nz(1_000_000), nz(1)));
        for i in 0..100u8 {
            let _ = limiter.check(IpAddr::from([192, 0, 2, i]));
        }
        assert_eq!(limiter.tracked_clients(), 100);
        std::thread::sleep(Duration::from_millis(2));
        limiter.sweep();
        assert_eq!(limiter.tracked_clients(), 0);
    }

    #[test]
    fn sweeps_by_itself() {
        let limiter = IpRateLimiter::new(RateLimit::per_second(nz(1_000_000), nz(1)));
        for i in 0..(SWEEP_EVERY - 1) {
            let _ = limiter.check(IpAddr::from((i as u32).to_be_bytes()));
        }
        assert_eq!(limiter.tracked_clients(), (SWEEP_EVERY - 1) as usize);
        std::thread::sleep(Duration::from_millis(2));
        // The SWEEP_EVERY-th check sweeps before counting itself.
        let _ = limiter.check(ip("198.51.100.1"));
        assert_eq!(limiter.tracked_clients(), 1);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        assert_eq!(ceil_secs(Duration::from_millis(2001)), 3);
        assert_eq!(ceil_secs(Duration::ZERO), 1);
    }

    #[test]
    fn zero_limits_are_refused() {
        assert!(RateLimit::from_config(Provider::Mpesa, 0, 10).is_err());
        assert!(RateLimit::from_config(Provider::Mpesa, 10, 0).is_err());
        let ok = RateLimit::from_config(Provider::Paystack, 10, 20).unwrap();
        assert_eq!((ok.rate().get(), ok.burst().get()), (10, 20));
    }
}
