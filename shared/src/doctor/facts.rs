//! What the checks of `doctor` read: plain data about one target group, its
//! load balancers, its network and the databases behind its sources, gathered
//! by `gather.rs` through the inspection ports. A fact that could not be read
//! is an [`Unread`] saying why and what to do, so a check can say it could
//! not run instead of guessing.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::operate::TargetStatus;
use crate::plan::{DeregisterReason, HeldBack};
use crate::spec::Source;
use crate::target::Target;

/// A fact, or why it could not be read.
pub type Read<T> = Result<T, Unread>;

/// Why a fact could not be read, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub reason: String,
    pub fix: String,
}

impl Unread {
    pub fn new(reason: impl Into<String>, fix: impl Into<String>) -> Self {
        Unread { reason: reason.into(), fix: fix.into() }
    }
}

/// Everything the checks know about one target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFacts {
    pub arn: String,
    pub name: String,
    /// The port targets are registered on (the port tag, else the group's port).
    pub port: Option<u16>,
    pub sources: Vec<Source>,
    /// What ELB says of the target group itself.
    pub target_group: Read<TargetGroupDetails>,
    /// The load balancers the target group is attached to.
    pub load_balancers: Read<Vec<LoadBalancer>>,
    /// Registered and wanted targets, as `status` shows them.
    pub targets: Read<Vec<TargetStatus>>,
    /// Why sources gave no address, as `status` shows them (`source (why)`),
    /// and why the sources tag could not be read.
    pub unresolved: Vec<String>,
    /// What `plan` would do.
    pub plan: Read<PlanFacts>,
    /// The subnets of the target group's VPC.
    pub subnets: Read<Vec<Subnet>>,
    /// The RDS resources the sources name (`dns:` sources name none).
    pub databases: Vec<Read<Database>>,
    /// The databases' security groups.
    pub security_groups: Read<Vec<SecurityGroup>>,
    /// The VPC endpoint services of the load balancers.
    pub endpoint_services: Read<Vec<EndpointService>>,
}

/// DescribeTargetGroups and DescribeTargetGroupAttributes of the target group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroupDetails {
    pub vpc_id: Option<String>,
    /// The load balancers whose listeners (or rules) forward to it.
    pub load_balancer_arns: Vec<String>,
    /// Every attribute ELB lists (`deregistration_delay.timeout_seconds`, ...).
    pub attributes: BTreeMap<String, String>,
}

/// One load balancer: DescribeLoadBalancers, its attributes and listeners.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    /// `network`, `application`, `gateway`.
    pub kind: String,
    /// The Availability Zones it serves, each with its subnet.
    pub zones: Vec<ZoneSubnet>,
    pub security_groups: Vec<String>,
    /// Every attribute ELB lists (`load_balancing.cross_zone.enabled`, ...).
    pub attributes: BTreeMap<String, String>,
    pub listeners: Vec<Listener>,
}

/// An Availability Zone a load balancer serves, and its subnet there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSubnet {
    pub zone: String,
    pub subnet_id: Option<String>,
}

/// A listener and the target groups its default actions forward to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub protocol: String,
    pub port: Option<u16>,
    pub forwards_to: Vec<String>,
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.protocol),
            None => f.write_str(&self.protocol),
        }
    }
}

/// What `plan` would do to the target group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanFacts {
    pub register: Vec<Target>,
    pub deregister: Vec<(Target, DeregisterReason)>,
    pub held_back: Vec<HeldBack>,
    /// Why the plan could not be made, or is incomplete.
    pub error: Option<String>,
}

/// A subnet of the VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub zone: String,
    /// Its IPv4 block and IPv6 blocks.
    pub cidrs: Vec<Cidr>,
}

/// An RDS resource behind a source: what admits traffic to it and, for
/// MySQL-family engines reached directly, how it blocks hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    /// The source that names it.
    pub source: Source,
    /// How people know it: `DB cluster orders`, `DB instance orders-1`, `RDS Proxy app`.
    pub label: String,
    /// The engine (`aurora-mysql`, `postgres`, ...), or a proxy's engine family (`MYSQL`).
    pub engine: String,
    /// True for an RDS Proxy: the load balancer's health checks reach the proxy, not the engine.
    pub is_proxy: bool,
    /// Its VPC security groups.
    pub security_groups: Vec<String>,
    /// For MySQL-family databases reached directly: `max_connect_errors` of
    /// each member instance's parameter groups.
    pub connect_errors: Vec<ConnectErrorsSetting>,
}

/// `max_connect_errors` in one parameter group of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectErrorsSetting {
    pub instance: String,
    pub parameter_group: String,
    /// The value the group sets; `None`: not set, MySQL's default applies.
    pub value: Read<Option<String>>,
}

/// A security group and its inbound rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub ingress: Vec<IngressRule>,
}

/// One inbound rule: a protocol and port range from some sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressRule {
    /// `tcp`, `6`, `-1` (every protocol), ...
    pub protocol: String,
    /// Absent (or -1) with every protocol: every port.
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub cidrs: Vec<Cidr>,
    /// Security groups whose members are admitted.
    pub groups: Vec<String>,
}

impl IngressRule {
    /// True when the rule admits TCP on `port`.
    pub fn admits_tcp_port(&self, port: u16) -> bool {
        match self.protocol.as_str() {
            "-1" | "all" => true,
            "tcp" | "6" => {
                let port = i32::from(port);
                match (self.from_port, self.to_port) {
                    (Some(from), Some(to)) if from >= 0 && to >= 0 => (from..=to).contains(&port),
                    // -1 or absent: every port.
                    _ => true,
                }
            }
            _ => false,
        }
    }
}

/// A VPC endpoint service on a load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointService {
    pub id: String,
    pub name: String,
    pub acceptance_required: bool,
    /// The principals allowed to create endpoints to it.
    pub allowed_principals: Vec<String>,
    /// Endpoints whose connection waits for the provider's acceptance.
    pub pending_endpoints: Vec<String>,
}

/// An IPv4 or IPv6 address block, `10.1.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Reads `address/prefix`; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = text.trim().split_once('/')?;
        let network: IpAddr = address.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        (prefix <= bits).then_some(Cidr { network, prefix })
    }

    /// True when `ip` is inside the block.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(u128::from(u32::from(net)), u128::from(u32::from(*ip)), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => same_prefix(u128::from(net), u128::from(*ip), self.prefix, 128),
            _ => false,
        }
    }

    pub fn is_ipv4(&self) -> bool {
        self.network.is_ipv4()
    }

    /// True when every address of `other` is inside this block.
    pub fn covers(&self, other: &Cidr) -> bool {
        self.prefix <= other.prefix && self.contains(&other.network)
    }
}

fn same_prefix(a: u128, b: u128, prefix: u8, bits: u32) -> bool {
    let host_bits = bits - u32::from(prefix);
    host_bits >= bits || (a >> host_bits) == (b >> host_bits)
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).unwrap()
    }

    #[test]
    fn blocks_contain_and_cover() {
        assert!(cidr("10.1.0.0/16").contains(&"10.1.200.3".parse().unwrap()));
        assert!(!cidr("10.1.0.0/16").contains(&"10.2.0.1".parse().unwrap()));
        assert!(cidr("0.0.0.0/0").contains(&"203.0.113.9".parse().unwrap()));
        assert!(cidr("10.1.1.7/32").contains(&"10.1.1.7".parse().unwrap()));
        assert!(!cidr("10.1.0.0/16").contains(&"fd00::1".parse().unwrap()), "no family mixing");
        assert!(cidr("fd00::/8").contains(&"fd12::5".parse().unwrap()));
        assert!(cidr("10.1.0.0/16").covers(&cidr("10.1.2.0/24")));
        assert!(!cidr("10.1.2.0/24").covers(&cidr("10.1.0.0/16")));
        assert!(!cidr("10.1.1.0/24").covers(&cidr("10.1.2.0/24")));
        assert_eq!(cidr("10.1.0.0/16").to_string(), "10.1.0.0/16");
    }

    #[test]
    fn what_is_not_a_block_is_none() {
        for text in ["", "10.1.0.0", "10.1.0.0/33", "10.1.0/16", "fd00::/129", "x/8", "10.1.0.0/-1"] {
            assert_eq!(Cidr::parse(text), None, "{text}");
        }
    }

    #[test]
    fn rules_admit_tcp_ports() {
        let rule = |protocol: &str, from: Option<i32>, to: Option<i32>| IngressRule {
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            cidrs: vec![],
            groups: vec![],
        };
        assert!(rule("tcp", Some(5432), Some(5432)).admits_tcp_port(5432));
        assert!(rule("6", Some(5000), Some(6000)).admits_tcp_port(5432));
        assert!(!rule("tcp", Some(3306), Some(3306)).admits_tcp_port(5432));
        assert!(rule("-1", None, None).admits_tcp_port(5432));
        assert!(!rule("udp", Some(5432), Some(5432)).admits_tcp_port(5432));
        assert!(!rule("icmp", Some(-1), Some(-1)).admits_tcp_port(5432));
    }
}
