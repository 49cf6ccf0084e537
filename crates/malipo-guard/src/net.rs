use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use crate::GuardError;

/// An address in the form it is compared in: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a
/// dual-stack socket reports for an IPv4 client) becomes the IPv4 address, so one allowlist entry
/// covers both forms.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Parses a network for an allowlist or the trusted proxies: a CIDR (`10.0.0.0/8`,
/// `2001:db8::/32`) or a bare address (`196.201.214.200`, `::1`), which means that address alone.
/// An IPv4-mapped IPv6 network of prefix 96 or longer is turned into the IPv4 network it maps, to
/// match canonical addresses (IPv4-mapped IPv6 compared as IPv4).
pub fn parse_net(text: &str) -> Result<IpNet, GuardError> {
    let text = text.trim();
    let net = match text.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => match text.parse::<IpAddr>() {
            Ok(ip) => IpNet::from(ip),
            Err(_) => {
                return Err(GuardError::InvalidNetwork {
                    input: text.to_string(),
                })
            }
        },
    };
    Ok(canonical_net(net))
}

/// See [`parse_net`]: an IPv4-mapped IPv6 network becomes its IPv4 network.
pub fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net {
        if let Some(v4) = v6.network().to_ipv4_mapped() {
            if v6.prefix_len() >= 96 {
                if let Ok(n) = Ipv4Net::new(v4, v6.prefix_len() - 96) {
                    return IpNet::V4(n.trunc());
                }
            }
        }
    }
    net.trunc()
}

/// True when any of `nets` contains the canonical form of `ip`.
pub fn any_contains(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    nets.iter().any(|n| n.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bare_addresses_and_cidrs() {
        assert_eq!(parse_net("10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
        assert_eq!(parse_net(" 10.1.2.3/8 ").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_net("2001:db8::1").unwrap().to_string(), "2001:db8::1/128");
        assert_eq!(parse_net("2001:db8::/32").unwrap().to_string(), "2001:db8::/32");
        assert_eq!(
            parse_net("::ffff:10.0.0.0/104").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(parse_net("::ffff:192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
        let err = parse_net("10.0.0.300").unwrap_err().to_string();
        assert!(err.contains("10.0.0.300") && err.contains("CIDR"), "{err}");
        assert!(parse_net("").is_err());
        assert!(parse_net("10.0.0.0/33").is_err());
    }

    #[test]
    fn mapped_addresses_match_ipv4_networks() {
        let nets = [parse_net("192.0.2.0/24").unwrap()];
        assert!(any_contains(&nets, "::ffff:192.0.2.9".parse().unwrap()));
        assert!(any_contains(&nets, "192.0.2.9".parse().unwrap()));
        assert!(!any_contains(&nets, "::192.0.2.9".parse().unwrap()));
    }
}
