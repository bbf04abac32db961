//! Targets and what the target group says about them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// One `ip` target: an address and the port it is registered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub ip: IpAddr,
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SocketAddr::new(self.ip, self.port).fmt(f)
    }
}

/// The health state DescribeTargetHealth reports for a registered target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHealth {
    Initial,
    Healthy,
    Unhealthy,
    /// Deregistration is under way; the target leaves when the delay ends.
    Draining,
    Unused,
    Unavailable,
    Other(String),
}

impl TargetHealth {
    /// Maps the API's state string (`healthy`, `unhealthy.draining`, ...).
    pub fn from_api(state: &str) -> TargetHealth {
        match state {
            "initial" => TargetHealth::Initial,
            "healthy" => TargetHealth::Healthy,
            // Unhealthy but still registered (connection termination on unhealthy).
            "unhealthy" | "unhealthy.draining" => TargetHealth::Unhealthy,
            "draining" => TargetHealth::Draining,
            "unused" => TargetHealth::Unused,
            "unavailable" => TargetHealth::Unavailable,
            other => TargetHealth::Other(other.to_string()),
        }
    }

    /// The state as ELB names it (`unhealthy.draining` reads as `unhealthy`).
    pub fn label(&self) -> &str {
        match self {
            TargetHealth::Initial => "initial",
            TargetHealth::Healthy => "healthy",
            TargetHealth::Unhealthy => "unhealthy",
            TargetHealth::Draining => "draining",
            TargetHealth::Unused => "unused",
            TargetHealth::Unavailable => "unavailable",
            TargetHealth::Other(state) => state,
        }
    }
}

/// Address families a target group takes, from its IpAddressType.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressFamilies {
    V4,
    V6,
    Both,
}

impl AddressFamilies {
    /// From the target group's IpAddressType (`ipv4`, `ipv6`, `dualstack`...);
    /// an absent value means ipv4, as in the API.
    pub fn from_ip_address_type(value: Option<&str>) -> AddressFamilies {
        match value {
            Some("ipv6") => AddressFamilies::V6,
            Some(v) if v.starts_with("dualstack") => AddressFamilies::Both,
            _ => AddressFamilies::V4,
        }
    }

    pub fn admits(self, ip: &IpAddr) -> bool {
        match self {
            AddressFamilies::V4 => ip.is_ipv4(),
            AddressFamilies::V6 => ip.is_ipv6(),
            AddressFamilies::Both => true,
        }
    }
}

/// What a target group holds now: each registered target and its health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroupState {
    pub targets: BTreeMap<Target, TargetHealth>,
    /// Why ELB reports a target's state, where it says (targets it gives no
    /// reason for are absent). Shown to people; sync decides on `targets` only.
    pub details: BTreeMap<Target, HealthDetail>,
}

impl TargetGroupState {
    pub fn new(targets: impl IntoIterator<Item = (Target, TargetHealth)>) -> Self {
        TargetGroupState { targets: targets.into_iter().collect(), details: BTreeMap::new() }
    }

    /// Adds ELB's reasons for the targets' states.
    pub fn with_details(mut self, details: impl IntoIterator<Item = (Target, HealthDetail)>) -> Self {
        self.details.extend(details);
        self
    }
}

/// ELB's reason for a target's health state, as DescribeTargetHealth gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthDetail {
    /// The reason code (`Elb.InitialHealthChecking`, `Target.FailedHealthChecks`, ...).
    pub reason: Option<String>,
    /// ELB's sentence about it.
    pub description: Option<String>,
}

/// A wanted target that is not healthy, and what the target group said of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTarget {
    pub target: Target,
    /// `None`: not registered (any more).
    pub health: Option<TargetHealth>,
}

impl fmt::Display for PendingTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.health {
            Some(health) => write!(f, "{} {}", self.target, health.label()),
            None => write!(f, "{} not registered", self.target),
        }
    }
}

/// The targets of `wanted` that `state` does not list as healthy, in order.
pub fn not_healthy(wanted: &BTreeSet<Target>, state: &TargetGroupState) -> Vec<PendingTarget> {
    wanted
        .iter()
        .filter_map(|t| match state.targets.get(t) {
            Some(TargetHealth::Healthy) => None,
            health => Some(PendingTarget { target: *t, health: health.cloned() }),
        })
        .collect()
}

/// A target group found in the account, with what sync needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupInfo {
    pub arn: String,
    pub name: String,
    /// The target group's own port (absent for Lambda target groups).
    pub port: Option<u16>,
    /// `ip`, `instance`, `lambda` or `alb`.
    pub target_type: String,
    pub families: AddressFamilies,
    pub tags: BTreeMap<String, String>,
}

/// True for addresses that may be registered: RFC 1918, 100.64.0.0/10 (shared
/// address space) and fc00::/7 (unique local).
pub fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            a == 10
                || (a == 172 && (16..=31).contains(&b))
                || (a == 192 && b == 168)
                || (a == 100 && (64..=127).contains(&b))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges() {
        for ip in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "fd00::1",
            "fc00::1",
        ] {
            assert!(is_private(&ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.15.0.1",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "2001:db8::1",
            "fe80::1",
            "::1",
        ] {
            assert!(!is_private(&ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn families_from_ip_address_type() {
        assert_eq!(AddressFamilies::from_ip_address_type(None), AddressFamilies::V4);
        assert_eq!(AddressFamilies::from_ip_address_type(Some("ipv4")), AddressFamilies::V4);
        assert_eq!(AddressFamilies::from_ip_address_type(Some("ipv6")), AddressFamilies::V6);
        assert_eq!(AddressFamilies::from_ip_address_type(Some("dualstack")), AddressFamilies::Both);
    }

    #[test]
    fn health_states() {
        assert_eq!(TargetHealth::from_api("unhealthy.draining"), TargetHealth::Unhealthy);
        assert_eq!(TargetHealth::from_api("draining"), TargetHealth::Draining);
        assert_eq!(TargetHealth::from_api("weird"), TargetHealth::Other("weird".into()));
        for state in ["initial", "healthy", "unhealthy", "draining", "unused", "unavailable", "weird"] {
            assert_eq!(TargetHealth::from_api(state).label(), state);
        }
    }

    #[test]
    fn not_healthy_lists_wanted_targets_in_any_other_state() {
        let t = |s: &str| Target { ip: s.parse().unwrap(), port: 5432 };
        let state = TargetGroupState::new([
            (t("10.0.0.1"), TargetHealth::Healthy),
            (t("10.0.0.2"), TargetHealth::Initial),
            (t("10.0.0.3"), TargetHealth::Draining),
            (t("10.0.0.9"), TargetHealth::Unhealthy),
        ]);
        let wanted = [t("10.0.0.1"), t("10.0.0.2"), t("10.0.0.3"), t("10.0.0.4")].into();
        let pending: Vec<String> = not_healthy(&wanted, &state).iter().map(ToString::to_string).collect();
        assert_eq!(pending, ["10.0.0.2:5432 initial", "10.0.0.3:5432 draining", "10.0.0.4:5432 not registered"]);
    }

    #[test]
    fn target_display_brackets_ipv6() {
        let t = Target { ip: "fd00::5".parse().unwrap(), port: 5432 };
        assert_eq!(t.to_string(), "[fd00::5]:5432");
    }
}
