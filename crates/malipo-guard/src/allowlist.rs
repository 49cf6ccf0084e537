use std::net::IpAddr;

pub use malipo_core::{PAYSTACK_WEBHOOK_IPS, SAFARICOM_CALLBACK_IPS};

use ipnet::IpNet;

use crate::net::{any_contains, canonical_net, parse_net};
use crate::GuardError;

/// The addresses and networks a provider's requests may come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAllowlist {
    nets: Vec<IpNet>,
}

impl IpAllowlist {
    /// An allowlist of these networks (IPv4-mapped IPv6 networks are turned into IPv4).
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        IpAllowlist {
            nets: nets.into_iter().map(canonical_net).collect(),
        }
    }

    /// Parses addresses and CIDRs as written in a configuration file (`196.201.214.200`,
    /// `196.201.212.0/24`, `2001:db8::/32`).
    pub fn parse<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Result<Self, GuardError> {
        let nets = entries
            .into_iter()
            .map(|e| parse_net(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IpAllowlist { nets })
    }

    /// Safaricom's published Daraja callback addresses ([`SAFARICOM_CALLBACK_IPS`]).
    pub fn safaricom() -> Self {
        Self::new(SAFARICOM_CALLBACK_IPS.map(|ip| IpNet::from(IpAddr::V4(ip))))
    }

    /// Paystack's published webhook addresses ([`PAYSTACK_WEBHOOK_IPS`]).
    pub fn paystack() -> Self {
        Self::new(PAYSTACK_WEBHOOK_IPS.map(|ip| IpNet::from(IpAddr::V4(ip))))
    }

    /// This list plus `nets` (for example a provider's newly announced range, or the simulator's
    /// address in a test).
    pub fn with(mut self, nets: impl IntoIterator<Item = IpNet>) -> Self {
        self.nets.extend(nets.into_iter().map(canonical_net));
        self
    }

    /// True when `ip` (compared in canonical form) is in the list.
    pub fn contains(&self, ip: IpAddr) -> bool {
        any_contains(&self.nets, ip)
    }

    /// The networks of the list.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_hold_the_published_addresses_only() {
        let s = IpAllowlist::safaricom();
        assert_eq!(s.nets().len(), 12);
        assert!(s.contains("196.201.214.200".parse().unwrap()));
        assert!(s.contains("::ffff:196.201.212.69".parse().unwrap()));
        assert!(!s.contains("196.201.214.201".parse().unwrap()));
        let p = IpAllowlist::paystack();
        for ip in ["52.31.139.75", "52.49.173.169", "52.214.14.220"] {
            assert!(p.contains(ip.parse().unwrap()), "{ip}");
        }
        assert!(!p.contains("52.31.139.76".parse().unwrap()));
        assert!(!p.contains("196.201.214.200".parse().unwrap()));
    }

    #[test]
    fn parses_configuration_entries() {
        let list = IpAllowlist::parse(["196.201.212.0/24", "2001:db8::1"]).unwrap();
        assert!(list.contains("196.201.212.250".parse().unwrap()));
        assert!(list.contains("2001:db8::1".parse().unwrap()));
        assert!(!list.contains("2001:db8::2".parse().unwrap()));
        assert!(IpAllowlist::parse(["nope"]).is_err());
        let more = IpAllowlist::paystack().with([parse_net("127.0.0.1").unwrap()]);
        assert!(more.contains("127.0.0.1".parse().unwrap()));
    }
}
