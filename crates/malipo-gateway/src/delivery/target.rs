//! Outbound safety: which targets a delivery may be sent to.
//!
//! A merchant endpoint is a URL someone typed; sending to it must not let that someone reach
//! what only the gateway can (the metadata service at 169.254.169.254, an admin port on
//! loopback, the office network). So, unless allowed for development:
//!
//! - the host's addresses are resolved **at send time** by [`CheckedResolver`] and every address
//!   that is loopback, private, link-local, CGNAT, multicast or otherwise not globally routable is
//!   dropped; the connection goes to one of the addresses that passed, so a DNS answer that changes
//!   between check and connect (rebinding) cannot slip an internal address in;
//! - an IP literal in the URL, which reqwest connects to without resolving, is checked here;
//! - redirects are not followed (a public endpoint answering 302 to an internal URL gets
//!   nowhere) and proxies from the environment are ignored (a proxy would resolve the name
//!   itself).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// What the sender enforces on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Only `https` URLs (production).
    pub require_https: bool,
    /// Loopback, private and other internal addresses allowed (development, tests).
    pub allow_private: bool,
}

/// Why a target was refused; the message is what the delivery records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an http(s) URL, or https is required.
    #[error("refused: {0}")]
    Scheme(String),
    /// An address that is not globally routable.
    #[error("refused: {addr} is a {kind} address (set allow_private_targets, or the endpoint's allow_private flag, for development only)")]
    Internal {
        /// The address.
        addr: IpAddr,
        /// Which kind of internal address.
        kind: &'static str,
    },
    /// The name resolved only to internal addresses (or to none).
    #[error("refused: {host} resolves to no public address ({detail})")]
    NoPublicAddress {
        /// The host name.
        host: String,
        /// What it resolved to.
        detail: String,
    },
}

/// Checks a URL's scheme and, when its host is an IP literal, the address.
pub fn check_url(url: &Url, policy: TargetPolicy) -> Result<(), TargetError> {
    match url.scheme() {
        "https" => {}
        "http" if !policy.require_https => {}
        "http" => {
            return Err(TargetError::Scheme(
                "only https endpoints are allowed in production".into(),
            ))
        }
        other => {
            return Err(TargetError::Scheme(format!(
                "scheme {other:?} is not http or https"
            )))
        }
    }
    if policy.allow_private {
        return Ok(());
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(TargetError::Scheme("the URL has no host".into())),
    };
    match literal.and_then(|ip| internal_kind(ip).map(|kind| (ip, kind))) {
        Some((addr, kind)) => Err(TargetError::Internal { addr, kind }),
        None => Ok(()),
    }
}

/// What kind of internal address `ip` is, or `None` for a globally routable one.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() => "broadcast",
        (0, _, _) => "unspecified (this-network)",
        (100, 64..=127, _) => "carrier-grade NAT (shared)",
        (192, 0, 0) => "IETF protocol assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    let s = ip.segments();
    Some(match s {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_multicast() => "multicast",
        [0xfe80..=0xfebf, ..] => "link-local",
        [0xfc00..=0xfdff, ..] => "unique local (private)",
        [0xfec0..=0xfeff, ..] => "site-local (deprecated, private)",
        [0x2001, 0x0db8, ..] => "documentation",
        [0x0100, 0, 0, 0, ..] => "discard",
        // NAT64 and IPv4-compatible forms carry an IPv4 address that decides.
        [0x0064, 0xff9b, 0, 0, 0, 0, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => {
            let v4 = Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            return v4_kind(v4).map(|_| "IPv4-embedding of an internal");
        }
        _ => return None,
    })
}

/// A DNS resolver that resolves with the system's and keeps only public addresses: the
/// connection is made to an address this check passed.
#[derive(Debug, Default, Clone, Copy)]
pub struct CheckedResolver;

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port on the addresses it connects to.
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (public, internal): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
                .into_iter()
                .partition(|a| internal_kind(a.ip()).is_none());
            if public.is_empty() {
                let detail = match internal.first() {
                    Some(a) => format!(
                        "{} is a {} address",
                        a.ip(),
                        internal_kind(a.ip()).unwrap_or("internal")
                    ),
                    None => "no address at all".into(),
                };
                return Err(Box::new(TargetError::NoPublicAddress { host, detail }) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Option<&'static str> {
        internal_kind(s.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(kind(internal).is_some(), "{internal} should be internal");
        }
        for public in ["1.1.1.1", "196.201.214.200", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert_eq!(kind(public), None, "{public} should be public");
        }
    }

    #[test]
    fn urls_are_checked_by_scheme_and_literal_address() {
        let strict = TargetPolicy {
            require_https: true,
            allow_private: false,
        };
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(check_url(&url("https://shop.example/hook"), strict).is_ok());
        assert!(matches!(
            check_url(&url("http://shop.example/hook"), strict),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            check_url(&url("https://127.0.0.1:8443/hook"), strict),
            Err(TargetError::Internal { kind: "loopback", .. })
        ));
        assert!(matches!(
            check_url(&url("https://[::1]/hook"), strict),
            Err(TargetError::Internal { .. })
        ));
        let dev = TargetPolicy {
            require_https: false,
            allow_private: true,
        };
        assert!(check_url(&url("http://127.0.0.1:9/hook"), dev).is_ok());
        assert!(check_url(&url("ftp://shop.example/"), dev).is_err());
    }

    #[tokio::test]
    async fn localhost_resolves_to_nothing_usable() {
        let name: Name = "localhost".parse().unwrap();
        let err = match CheckedResolver.resolve(name).await {
            Ok(_) => panic!("localhost must not resolve to a usable address"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("refused"), "{err}");
    }
}
