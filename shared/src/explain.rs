//! Why a source resolves to what it does: the operator's `explain`. The
//! source is resolved by the same [`SourceResolver`] sync uses, over ports
//! that record each lookup on its way through (the RDS API's answer, the DNS
//! records with their TTLs), so the steps shown are the steps sync takes.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::ports::{
    BlueGreenDeployment, ClusterMember, DnsData, DnsError, DnsLookup, DnsRecord, Endpoint, GlobalRole, RdsDirectory,
    RdsError, TargetGroups, proxy_endpoint_id,
};
use crate::resolution::SourceAnswer;
use crate::resolve::SourceResolver;
use crate::spec::Source;
use crate::sync::SyncEngine;
use crate::target::AddressFamilies;

/// One lookup made while resolving, with what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// DescribeDBClusters: the members and which one writes.
    ClusterMembers { cluster: String, result: Result<Vec<ClusterMember>, RdsError> },
    /// DescribeDBInstances: the instance endpoint.
    InstanceEndpoint { instance: String, result: Result<Endpoint, RdsError> },
    /// DescribeDBProxies (default endpoint) or DescribeDBProxyEndpoints (custom).
    ProxyEndpoint { proxy: String, endpoint: Option<String>, result: Result<Endpoint, RdsError> },
    /// A or AAAA (both for dual-stack groups), with the answer records.
    Dns { name: String, families: AddressFamilies, result: Result<Vec<DnsRecord>, DnsError> },
}

impl Lookup {
    /// The API call or query this step made, as AWS and DNS name it.
    pub fn call(&self) -> &'static str {
        match self {
            Lookup::ClusterMembers { .. } => "DescribeDBClusters",
            Lookup::InstanceEndpoint { .. } => "DescribeDBInstances",
            Lookup::ProxyEndpoint { endpoint: None, .. } => "DescribeDBProxies",
            Lookup::ProxyEndpoint { endpoint: Some(_), .. } => "DescribeDBProxyEndpoints",
            Lookup::Dns { families: AddressFamilies::V4, .. } => "DNS A",
            Lookup::Dns { families: AddressFamilies::V6, .. } => "DNS AAAA",
            Lookup::Dns { families: AddressFamilies::Both, .. } => "DNS A+AAAA",
        }
    }

    /// What the step looked up: a cluster, an instance, a proxy endpoint
    /// (`proxy` or `proxy:endpoint`) or a DNS name.
    pub fn resource(&self) -> String {
        match self {
            Lookup::ClusterMembers { cluster, .. } => cluster.clone(),
            Lookup::InstanceEndpoint { instance, .. } => instance.clone(),
            Lookup::ProxyEndpoint { proxy, endpoint, .. } => proxy_endpoint_id(proxy, endpoint.as_deref()),
            Lookup::Dns { name, .. } => name.clone(),
        }
    }
}

/// What the source wants done with an address it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRole {
    /// The source stands for it: sync registers it (if private).
    Wanted,
    /// The RDS API says its instance lost the role the source follows: sync
    /// removes it at once.
    Demoted,
}

/// One address of the answer and the private-address check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressCheck {
    pub ip: IpAddr,
    pub role: AddressRole,
    /// Within the addresses sync registers: RFC 1918, 100.64.0.0/10 or
    /// fc00::/7, or the installer's `NLB_SYNC_ALLOWED_CIDRS` when set.
    pub private: bool,
}

/// How one source resolved, step by step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub source: Source,
    pub families: AddressFamilies,
    /// In the order they completed.
    pub lookups: Vec<Lookup>,
    /// What sync would take from it (addresses, or why none).
    pub answer: SourceAnswer,
    pub addresses: Vec<AddressCheck>,
}

impl Explanation {
    /// True when the source gives sync at least one address it may register.
    pub fn usable(&self) -> bool {
        self.answer.outcome.is_ok() && self.addresses.iter().any(|a| a.role == AddressRole::Wanted && a.private)
    }
}

/// The engine's ports with every lookup written down.
struct Recorder<'a, R, D> {
    rds: &'a R,
    dns: &'a D,
    lookups: Mutex<Vec<Lookup>>,
}

impl<R, D> Recorder<'_, R, D> {
    fn record(&self, lookup: Lookup) {
        self.lookups.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(lookup);
    }
}

impl<R: RdsDirectory, D: Sync> RdsDirectory for Recorder<'_, R, D> {
    async fn cluster_members(&self, cluster_id: &str) -> Result<Vec<ClusterMember>, RdsError> {
        let result = self.rds.cluster_members(cluster_id).await;
        self.record(Lookup::ClusterMembers { cluster: cluster_id.to_string(), result: result.clone() });
        result
    }

    async fn instance_endpoint(&self, instance_id: &str) -> Result<Endpoint, RdsError> {
        let result = self.rds.instance_endpoint(instance_id).await;
        self.record(Lookup::InstanceEndpoint { instance: instance_id.to_string(), result: result.clone() });
        result
    }

    async fn proxy_endpoint(&self, proxy: &str, endpoint: Option<&str>) -> Result<Endpoint, RdsError> {
        let result = self.rds.proxy_endpoint(proxy, endpoint).await;
        self.record(Lookup::ProxyEndpoint {
            proxy: proxy.to_string(),
            endpoint: endpoint.map(str::to_string),
            result: result.clone(),
        });
        result
    }

    // Resolving a source never looks up a deployment; passed through unrecorded.
    async fn blue_green_deployment(&self, id: &str) -> Result<BlueGreenDeployment, RdsError> {
        self.rds.blue_green_deployment(id).await
    }

    // Asked only for a cluster without a writer, whose members were recorded.
    async fn global_role(&self, cluster_id: &str) -> Result<GlobalRole, RdsError> {
        self.rds.global_role(cluster_id).await
    }
}

impl<R: Sync, D: DnsLookup> DnsLookup for Recorder<'_, R, D> {
    /// Asks for the records (TTLs included) and hands sync their addresses:
    /// the port promises both fail and succeed alike.
    async fn addresses(&self, name: &str, families: AddressFamilies) -> Result<BTreeSet<IpAddr>, DnsError> {
        let result = self.dns.records(name, families).await;
        self.record(Lookup::Dns { name: name.to_string(), families, result: result.clone() });
        let records = result?;
        Ok(records
            .into_iter()
            .filter_map(|r| match r.data {
                DnsData::Address(ip) if families.admits(&ip) => Some(ip),
                _ => None,
            })
            .collect())
    }
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    /// Resolves `source` as sync would for a target group of `families`,
    /// and shows each lookup and the private-address check. Changes nothing.
    pub async fn explain(&self, source: &Source, families: AddressFamilies) -> Explanation {
        let (rds, dns) = self.rds_and_dns();
        let recorder = Recorder { rds, dns, lookups: Mutex::new(Vec::new()) };
        let resolver = SourceResolver::new(&recorder, &recorder).with_dns_queries(self.options().dns_queries);
        let answer = resolver.resolve(source, families).await;
        let mut addresses = Vec::new();
        if let Ok(resolution) = &answer.outcome {
            let allowed = &self.exposure().addresses;
            let check = |ip: &IpAddr, role| AddressCheck { ip: *ip, role, private: allowed.admits(ip) };
            addresses.extend(resolution.addresses.iter().map(|ip| check(ip, AddressRole::Wanted)));
            addresses.extend(resolution.demoted.iter().map(|ip| check(ip, AddressRole::Demoted)));
        }
        let lookups = recorder.lookups.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        Explanation { source: source.clone(), families, lookups, answer, addresses }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeDns, FakeElb, FakeRds};
    use crate::sync::SyncOptions;
    use std::sync::atomic::Ordering;

    fn engine() -> SyncEngine<FakeElb, FakeRds, FakeDns> {
        let rds = FakeRds::default();
        rds.cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        rds.instance("prod-1", Some("prod-1.test"));
        rds.instance("prod-2", Some("prod-2.test"));
        let dns = FakeDns::default();
        dns.set("prod-1.test", &["10.0.1.1"]);
        dns.set("prod-2.test", &["10.0.2.2"]);
        dns.set("mixed.test", &["10.0.3.3", "198.51.100.4"]);
        SyncEngine::new(FakeElb::default(), rds, dns, SyncOptions::default())
    }

    #[tokio::test]
    async fn a_writer_source_shows_the_roles_then_each_instance_and_its_dns() {
        let e = engine();
        let explained = e.explain(&"rds-cluster:prod:writer".parse().unwrap(), AddressFamilies::V4).await;
        let calls: Vec<&str> = explained.lookups.iter().map(Lookup::call).collect();
        assert_eq!(calls, vec!["DescribeDBClusters", "DescribeDBInstances", "DNS A", "DescribeDBInstances", "DNS A"]);
        let Lookup::ClusterMembers { result: Ok(members), .. } = &explained.lookups[0] else {
            panic!("{:?}", explained.lookups[0]);
        };
        assert!(members.iter().any(|m| m.instance_id == "prod-2" && m.is_writer));
        assert_eq!(
            explained.addresses,
            vec![
                AddressCheck { ip: "10.0.2.2".parse().unwrap(), role: AddressRole::Wanted, private: true },
                AddressCheck { ip: "10.0.1.1".parse().unwrap(), role: AddressRole::Demoted, private: true },
            ]
        );
        assert!(explained.usable());
        assert_eq!(e.elb().mutations.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_public_answer_fails_the_private_check() {
        let e = engine();
        let explained = e.explain(&"dns:mixed.test".parse().unwrap(), AddressFamilies::V4).await;
        let private: Vec<(String, bool)> = explained.addresses.iter().map(|a| (a.ip.to_string(), a.private)).collect();
        assert_eq!(private, vec![("10.0.3.3".into(), true), ("198.51.100.4".into(), false)]);
        let Lookup::Dns { result: Ok(records), .. } = &explained.lookups[0] else { panic!() };
        assert!(records.iter().all(|r| r.ttl_seconds.is_none()), "the fake knows no TTLs");
    }

    #[tokio::test]
    async fn a_failed_lookup_is_the_last_step_and_the_answer_says_why() {
        let e = engine();
        e.dns().fail("prod-2.test");
        let explained = e.explain(&"rds-cluster:prod".parse().unwrap(), AddressFamilies::V4).await;
        assert!(matches!(explained.lookups.last(), Some(Lookup::Dns { result: Err(_), .. })), "{explained:?}");
        assert!(explained.answer.outcome.is_err() && !explained.usable());
        let missing = e.explain(&"rds-instance:gone".parse().unwrap(), AddressFamilies::V4).await;
        let Lookup::InstanceEndpoint { result: Err(error), .. } = &missing.lookups[0] else { panic!() };
        assert!(error.to_string().contains("'gone' does not exist"), "{error}");
    }
}
