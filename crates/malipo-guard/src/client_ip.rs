use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::net::{any_contains, canonical, canonical_net};

/// The client address the guard resolved for this request (DESIGN invariant 4), in canonical form
/// (an IPv4-mapped IPv6 address is given as IPv4). Put in the request extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Finds the real client address of a request.
///
/// The client is the socket peer, unless the peer is one of `trusted_proxies`. Then the
/// `X-Forwarded-For` entries are walked from the right (the entry appended last, by the proxy that
/// talked to us), skipping trusted proxies, and the first address that is not a trusted proxy is the
/// client. Everything to the left of that address was written by the client itself and is ignored,
/// so a spoofed left-most entry changes nothing; a peer that is not trusted has its
/// `X-Forwarded-For` ignored entirely.
///
/// Every `X-Forwarded-For` header counts, in order, each a comma-separated list. An entry may be an
/// IPv4 address, an IPv6 address, either with a port (`192.0.2.1:443`, `[2001:db8::1]:443`) or a
/// bracketed IPv6 address (`[2001:db8::1]`); whitespace around entries is ignored.
///
/// **An entry that is not an address** (`unknown`, an obfuscated id, an empty item, bytes that are
/// not text) ends the walk, and the client is the last address reached, that is the trusted proxy
/// that wrote the bad entry. Nothing to the left of a bad entry can be trusted, so taking it would
/// let a client choose its address; taking the proxy instead fails closed: the proxy is not in a
/// provider's allowlist (403), and the rate limit counts all such requests together. When every
/// entry is a trusted proxy, the client is the left-most of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientIpResolver {
    trusted_proxies: Vec<IpNet>,
}

impl ClientIpResolver {
    /// A resolver trusting `X-Forwarded-For` from these proxies (addresses and networks).
    pub fn new(trusted_proxies: impl IntoIterator<Item = IpNet>) -> Self {
        ClientIpResolver {
            trusted_proxies: trusted_proxies.into_iter().map(canonical_net).collect(),
        }
    }

    /// The trusted proxies, as given (IPv4-mapped networks turned into IPv4).
    pub fn trusted_proxies(&self) -> &[IpNet] {
        &self.trusted_proxies
    }

    /// True when `ip` is one of the trusted proxies.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        any_contains(&self.trusted_proxies, ip)
    }

    /// The client address of a request that came from the socket peer `peer` with these headers.
    pub fn resolve(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer.ip());
        if !self.is_trusted(client) {
            return client;
        }
        // Headers in reverse order, each list from its right end: the order proxies appended in,
        // reversed.
        for value in headers.get_all(X_FORWARDED_FOR).iter().rev() {
            let Ok(list) = value.to_str() else {
                return client;
            };
            for entry in list.rsplit(',') {
                match parse_forwarded_entry(entry) {
                    Some(ip) if self.is_trusted(ip) => client = ip,
                    Some(ip) => return ip,
                    None => return client,
                }
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry as an address, or `None` when it is not one. Accepts `a.b.c.d`,
/// `a.b.c.d:port`, an IPv6 address, `[v6]` and `[v6]:port`, with surrounding whitespace; the
/// result is canonical (IPv4-mapped IPv6 given as IPv4).
pub fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || is_port_suffix(after)) {
            return None;
        }
        return inside
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|v6| canonical(v6.into()));
    }
    // `a.b.c.d:port`; an unbracketed IPv6 address with a port is ambiguous and refused.
    let (host, port) = entry.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port_suffix(s: &str) -> bool {
    s.strip_prefix(':').is_some_and(is_port)
}

/// Decimal digits only (`u16::from_str` would also take a leading `+`), within `u16`.
fn is_port(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    fn resolver(nets: &[&str]) -> ClientIpResolver {
        ClientIpResolver::new(nets.iter().map(|n| crate::net::parse_net(n).unwrap()))
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(X_FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40_000)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_are_kept_as_given_with_mapped_networks_made_ipv4() {
        let r = resolver(&["10.0.0.1", "2001:db8::/32", "::ffff:192.0.2.0/120"]);
        let expected: Vec<IpNet> = ["10.0.0.1/32", "2001:db8::/32", "192.0.2.0/24"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(r.trusted_proxies(), &expected[..]);
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_forwards() {
        let r = resolver(&["10.0.0.0/8"]);
        let h = headers(&["196.201.214.200", "52.31.139.75"]);
        assert_eq!(r.resolve(peer("203.0.113.9"), &h), ip("203.0.113.9"));
        assert_eq!(
            r.resolve(peer("203.0.113.9"), &HeaderMap::new()),
            ip("203.0.113.9")
        );
        let r6 = resolver(&["2001:db8:1::/48"]);
        assert_eq!(r6.resolve(peer("2001:db8:2::5"), &h), ip("2001:db8:2::5"));
    }

    #[test]
    fn no_trusted_proxies_means_xff_is_ignored() {
        let r = ClientIpResolver::default();
        let h = headers(&["196.201.214.200"]);
        assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn trusted_peer_takes_rightmost_untrusted_entry() {
        let r = resolver(&["10.0.0.0/8"]);
        // The client forged the left-most entry; the proxy appended the real peer.
        let h = headers(&["196.201.214.200, 203.0.113.9"]);
        assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn chain_of_trusted_proxies_is_walked() {
        let r = resolver(&["10.0.0.0/8", "192.168.1.1"]);
        let h = headers(&["1.1.1.1, 52.31.139.75,10.2.3.4 ,  192.168.1.1"]);
        assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("52.31.139.75"));
    }

    #[test]
    fn several_headers_are_one_list_in_order() {
        let r = resolver(&["10.0.0.0/8"]);
        let h = headers(&["6.6.6.6, 52.31.139.75", "10.0.0.7"]);
        assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("52.31.139.75"));
        let h = headers(&["52.31.139.75", "10.0.0.7, 10.0.0.8"]);
        assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("52.31.139.75"));
    }

    #[test]
    fn trusted_peer_without_xff_is_the_client() {
        let r = resolver(&["10.0.0.0/8"]);
        assert_eq!(r.resolve(peer("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn all_entries_trusted_gives_the_leftmost() {
        let r = resolver(&["10.0.0.0/8"]);
        let h = headers(&["10.9.9.9, 10.0.0.2"]);
        assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("10.9.9.9"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let r = resolver(&["10.0.0.0/8"]);
        for bad in [
            "unknown",
            "",
            "_hidden",
            "1.2.3",
            "999.1.1.1",
            "fe80::1%eth0",
            "\"1.2.3.4\"",
        ] {
            let h = headers(&[&format!("52.31.139.75, {bad}")]);
            assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("10.0.0.1"), "{bad:?}");
            let h = headers(&[&format!("52.31.139.75, {bad}, 10.0.0.3")]);
            assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("10.0.0.3"), "{bad:?}");
        }
        // A trailing comma is an empty entry too.
        let h = headers(&["52.31.139.75,"]);
        assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn non_text_header_stops_the_walk() {
        let r = resolver(&["10.0.0.0/8"]);
        let mut h = headers(&["52.31.139.75"]);
        h.append(X_FORWARDED_FOR, HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn ipv6_proxies_and_clients() {
        let r = resolver(&["2001:db8:1::/48", "fd00::1"]);
        let h = headers(&["2001:db8:ffff::9, 2001:db8:1::2"]);
        assert_eq!(r.resolve(peer("fd00::1"), &h), ip("2001:db8:ffff::9"));
        let h = headers(&["[2001:db8:ffff::9]:51000, [2001:db8:1::3]"]);
        assert_eq!(r.resolve(peer("fd00::1"), &h), ip("2001:db8:ffff::9"));
        // An IPv4 client behind an IPv6 proxy.
        let h = headers(&["196.201.214.200"]);
        assert_eq!(r.resolve(peer("fd00::1"), &h), ip("196.201.214.200"));
    }

    #[test]
    fn mapped_ipv4_peer_and_entries_compare_as_ipv4() {
        let r = resolver(&["10.0.0.0/8"]);
        let h = headers(&["::ffff:196.201.214.200"]);
        assert_eq!(r.resolve(peer("::ffff:10.0.0.1"), &h), ip("196.201.214.200"));
        // Untrusted mapped peer: reported as plain IPv4.
        assert_eq!(
            r.resolve(peer("::ffff:203.0.113.9"), &HeaderMap::new()),
            ip("203.0.113.9")
        );
        // A mapped entry of a trusted proxy is skipped like the IPv4 form.
        let h = headers(&["52.31.139.75, ::ffff:10.0.0.5"]);
        assert_eq!(r.resolve(peer("10.0.0.1"), &h), ip("52.31.139.75"));
    }

    #[test]
    fn entry_forms() {
        for (text, want) in [
            ("192.0.2.1", Some("192.0.2.1")),
            (" 192.0.2.1 ", Some("192.0.2.1")),
            ("192.0.2.1:8443", Some("192.0.2.1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("::ffff:192.0.2.1", Some("192.0.2.1")),
            ("[::ffff:192.0.2.1]:80", Some("192.0.2.1")),
            ("192.0.2.1:", None),
            ("192.0.2.1:99999", None),
            ("192.0.2.1:+80", None),
            ("[2001:db8::1]x", None),
            ("[2001:db8::1", None),
            ("[192.0.2.1]", None),
            ("2001:db8::1:443x", None),
            ("unknown", None),
            ("", None),
        ] {
            assert_eq!(parse_forwarded_entry(text), want.map(ip), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn resolve_never_panics(values in proptest::collection::vec(any::<Vec<u8>>(), 0..4), trusted_peer in any::<bool>()) {
            let r = resolver(&["10.0.0.0/8", "2001:db8::/32"]);
            let mut h = HeaderMap::new();
            for v in values {
                if let Ok(v) = HeaderValue::from_bytes(&v) {
                    h.append(X_FORWARDED_FOR, v);
                }
            }
            let p = if trusted_peer { peer("10.0.0.1") } else { peer("203.0.113.1") };
            let got = r.resolve(p, &h);
            if !trusted_peer {
                prop_assert_eq!(got, ip("203.0.113.1"));
            }
        }

        #[test]
        fn entry_parser_never_panics(s in "\\PC{0,60}") {
            let _ = parse_forwarded_entry(&s);
        }

        #[test]
        fn entry_parser_round_trips(addr in any::<IpAddr>(), port in any::<u16>()) {
            let addr = SocketAddr::new(addr, port);
            let want = canonical(addr.ip());
            prop_assert_eq!(parse_forwarded_entry(&addr.to_string()), Some(want));
            prop_assert_eq!(parse_forwarded_entry(&addr.ip().to_string()), Some(want));
        }
    }
}
