//! Which addresses may be registered (`NLB_SYNC_ALLOWED_CIDRS`): the private
//! ranges unless the installer lists CIDRs.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{PolicyError, read_items};
use crate::listing::joined;
use crate::target::is_private;

/// The ranges an address must be in to be registered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedAddresses {
    /// RFC 1918, 100.64.0.0/10 and fc00::/7 (the variable unset or empty).
    #[default]
    PrivateRanges,
    /// Only these networks, as the installer listed them (canonical, no
    /// duplicates, in the order given; they may overlap).
    Within(Vec<IpNet>),
}

impl AllowedAddresses {
    /// Reads space-separated CIDRs; an empty value means the private ranges.
    /// A CIDR with host bits set (`10.1.2.3/16`) is refused, never widened or
    /// narrowed silently.
    pub fn parse(value: &str) -> Result<AllowedAddresses, PolicyError> {
        let networks = read_items(value, network)?;
        Ok(if networks.is_empty() { AllowedAddresses::PrivateRanges } else { AllowedAddresses::Within(networks) })
    }

    /// True when `ip` may be registered.
    pub fn admits(&self, ip: &IpAddr) -> bool {
        match self {
            AllowedAddresses::PrivateRanges => is_private(ip),
            AllowedAddresses::Within(networks) => networks.iter().any(|network| network.contains(ip)),
        }
    }
}

/// One CIDR, in its canonical form; one with host bits set is refused.
fn network(item: &str) -> Result<IpNet, PolicyError> {
    let network = parse_cidr(item).ok_or_else(|| {
        PolicyError::new(item, "is not a CIDR: give an address, '/' and a prefix length, like 10.0.0.0/16 or fd00::/8")
    })?;
    let canonical = network.trunc();
    if canonical != network {
        return Err(PolicyError::new(
            item,
            format!("has bits set after its prefix length; the network is {canonical}"),
        ));
    }
    Ok(canonical)
}

/// `address/length`, the address read by the standard library's strict rules
/// (no leading zeros in IPv4, which other tools read as octal).
fn parse_cidr(item: &str) -> Option<IpNet> {
    let (address, length) = item.split_once('/')?;
    let address: IpAddr = address.parse().ok()?;
    if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    IpNet::new(address, length.parse().ok()?).ok()
}

impl fmt::Display for AllowedAddresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedAddresses::PrivateRanges => f.write_str("the private ranges: RFC 1918, 100.64.0.0/10, fc00::/7"),
            AllowedAddresses::Within(networks) => f.write_str(&joined(networks, " ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn empty_means_the_private_ranges() {
        for value in ["", "   ", "\t\n"] {
            assert_eq!(AllowedAddresses::parse(value), Ok(AllowedAddresses::PrivateRanges));
        }
        let private = AllowedAddresses::PrivateRanges;
        assert!(private.admits(&ip("10.9.9.9")) && private.admits(&ip("fd00::1")));
        assert!(!private.admits(&ip("203.0.113.7")) && !private.admits(&ip("2001:db8::1")));
    }

    #[test]
    fn listed_networks_replace_the_private_ranges() {
        let allowed = AllowedAddresses::parse("10.1.0.0/16 fd00:1::/32").unwrap();
        assert!(allowed.admits(&ip("10.1.255.1")));
        assert!(!allowed.admits(&ip("10.2.0.1")), "private, but not listed");
        assert!(allowed.admits(&ip("fd00:1::5")) && !allowed.admits(&ip("fd00:2::5")));
        let public = AllowedAddresses::parse("198.51.100.0/24").unwrap();
        assert!(public.admits(&ip("198.51.100.7")), "the installer may allow a VPC's non-RFC 1918 range");
    }

    #[test]
    fn ipv6_networks_hold_only_ipv6_addresses() {
        let allowed = AllowedAddresses::parse("::/0").unwrap();
        assert!(allowed.admits(&ip("2001:db8::1")));
        assert!(!allowed.admits(&ip("10.0.0.1")), "an IPv6 network never admits an IPv4 address");
        let v4 = AllowedAddresses::parse("10.0.0.0/8").unwrap();
        assert!(!v4.admits(&ip("::ffff:10.0.0.1")), "an IPv4-mapped IPv6 address is not an IPv4 address");
    }

    #[test]
    fn overlapping_and_repeated_networks_admit_their_union() {
        let allowed = AllowedAddresses::parse("10.0.0.0/8 10.1.0.0/16 10.0.0.0/8 192.168.1.0/24").unwrap();
        assert_eq!(allowed.to_string(), "10.0.0.0/8 10.1.0.0/16 192.168.1.0/24", "duplicates collapse, order kept");
        for address in ["10.1.2.3", "10.200.0.1", "192.168.1.9"] {
            assert!(allowed.admits(&ip(address)), "{address}");
        }
        assert!(!allowed.admits(&ip("192.168.2.1")));
    }

    #[test]
    fn canonical_forms_are_shown() {
        let allowed = AllowedAddresses::parse("FD00:0000::/8 010.1.0.0/16").map(|a| a.to_string());
        // Leading zeros in IPv4 are refused (other tools read them as octal).
        assert_eq!(allowed.unwrap_err().item, "010.1.0.0/16");
        assert_eq!(AllowedAddresses::parse("FD00:0000::/8").unwrap().to_string(), "fd00::/8");
        assert_eq!(AllowedAddresses::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert_eq!(
            AllowedAddresses::PrivateRanges.to_string(),
            "the private ranges: RFC 1918, 100.64.0.0/10, fc00::/7"
        );
    }

    #[test]
    fn malformed_cidrs_are_named_with_what_is_wrong() {
        for (value, item, problem) in [
            ("10.0.0.0/16 10.1.2.3/16", "10.1.2.3/16", "the network is 10.1.0.0/16"),
            ("10.0.0.0", "10.0.0.0", "is not a CIDR"),
            ("10.0.0.0/33", "10.0.0.0/33", "is not a CIDR"),
            ("fd00::/129", "fd00::/129", "is not a CIDR"),
            ("10.0.0.0/8,10.1.0.0/16", "10.0.0.0/8,10.1.0.0/16", "is not a CIDR"),
            ("vpc-cidr", "vpc-cidr", "is not a CIDR"),
            ("10.0.0.0/+8", "10.0.0.0/+8", "is not a CIDR"),
            ("10.0.0.0/", "10.0.0.0/", "is not a CIDR"),
        ] {
            let error = AllowedAddresses::parse(value).unwrap_err();
            assert_eq!(error.item, item);
            assert!(error.to_string().contains(problem), "{value}: {error}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn no_cidr_value_panics_and_what_parses_round_trips(
            value in proptest::prop_oneof![
                "[0-9a-fA-F:./ ]{0,40}",
                "([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,3}",
                proptest::prelude::any::<String>(),
            ]
        ) {
            if let Ok(allowed @ AllowedAddresses::Within(_)) = AllowedAddresses::parse(&value) {
                proptest::prop_assert_eq!(AllowedAddresses::parse(&allowed.to_string()), Ok(allowed));
            }
        }
    }
}
