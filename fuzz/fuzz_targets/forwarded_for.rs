//! Client-IP resolution behind trusted proxies: `parse_forwarded_entry` and
//! `ClientIpResolver::resolve` on any `X-Forwarded-For` values.
//!
//! Input: the first byte picks the socket peer, the rest is header values separated by `\n`
//! (values `HeaderValue` refuses are skipped). The resolved address is the peer itself or an
//! address written in the headers; an untrusted peer is always its own client; and it is the one
//! DESIGN.md's rule (walk from the right past trusted proxies) picks over all the headers' entries.
//! Each parsed entry is canonical and parses back from its printed form.
#![no_main]

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use malipo_guard::{parse_forwarded_entry, parse_net, ClientIpResolver};

const TRUSTED: [&str; 4] = [
    "10.0.0.0/8",
    "192.168.1.1",
    "2001:db8::/32",
    "::ffff:172.16.0.0/108",
];

const PEERS: [&str; 8] = [
    "10.0.0.1",               // trusted
    "192.168.1.1",            // trusted, single address
    "2001:db8::7",            // trusted IPv6
    "::ffff:10.9.8.7",        // trusted, IPv4-mapped
    "::ffff:172.16.3.4",      // trusted by a mapped CIDR
    "203.0.113.9",            // untrusted
    "2001:db9::1",            // untrusted IPv6
    "::ffff:196.201.214.200", // untrusted, IPv4-mapped
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let resolver = ClientIpResolver::new(TRUSTED.iter().map(|n| parse_net(n).expect("constant network")));
    let peer_ip: IpAddr = PEERS[usize::from(pick) % PEERS.len()]
        .parse()
        .expect("constant address");
    let peer = SocketAddr::new(peer_ip, u16::from(pick) * 251);

    let mut headers = HeaderMap::new();
    let mut written: Vec<IpAddr> = Vec::new();
    // Every hop of every header, first hop first; `None` for an entry that is not an address
    // and for a header that is not text.
    let mut hops: Vec<Option<IpAddr>> = Vec::new();
    for raw in rest.split(|&b| b == b'\n') {
        let Ok(value) = HeaderValue::from_bytes(raw) else {
            continue;
        };
        match value.to_str() {
            Ok(text) => {
                for entry in text.split(',') {
                    let parsed = parse_forwarded_entry(entry);
                    if let Some(ip) = parsed {
                        assert_eq!(ip, ip.to_canonical(), "{entry:?} parsed to a non-canonical {ip}");
                        assert_eq!(
                            parse_forwarded_entry(&ip.to_string()),
                            Some(ip),
                            "{ip} does not parse back"
                        );
                        written.push(ip);
                    }
                    hops.push(parsed);
                }
            }
            Err(_) => hops.push(None),
        }
        headers.append("x-forwarded-for", value);
    }
    // Unrelated headers must not matter.
    headers.append("x-real-ip", HeaderValue::from_static("6.6.6.6"));

    let client = resolver.resolve(peer, &headers);
    let peer_ip = peer_ip.to_canonical();
    if !resolver.is_trusted(peer_ip) {
        assert_eq!(
            client, peer_ip,
            "an untrusted peer's forwarded header was believed"
        );
    }
    assert!(
        client == peer_ip || written.contains(&client),
        "resolved {client}, which is neither the peer {peer_ip} nor in the header {written:?}"
    );
    assert_eq!(client, expected(&resolver, peer_ip, &hops), "hops {hops:?}");
    assert_eq!(
        resolver.resolve(peer, &headers),
        client,
        "resolution is not deterministic"
    );
    // Without any header the peer is the client.
    assert_eq!(resolver.resolve(peer, &HeaderMap::new()), peer_ip);
});

/// DESIGN.md invariant 4, read literally: the peer, unless it is a trusted proxy; then walk the
/// hops from the right and take the first address that is not a trusted proxy. A hop that is not
/// an address ends the walk at the last trusted one (it can be neither believed nor skipped).
fn expected(resolver: &ClientIpResolver, peer: IpAddr, hops: &[Option<IpAddr>]) -> IpAddr {
    let mut client = peer;
    if !resolver.is_trusted(client) {
        return client;
    }
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if resolver.is_trusted(*ip) => client = *ip,
            Some(ip) => return *ip,
            None => return client,
        }
    }
    client
}
