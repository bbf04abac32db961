//! Turning sources into addresses: roles from the RDS API, addresses from DNS.
//!
//! The I/O sits behind two ports ([`RdsDirectory`], [`DnsLookup`]) so the
//! resolution rules are tested without AWS. A [`SourceResolver`] lives for one
//! run and shares every RDS call and DNS query between the target groups of that
//! run, including ones in flight, so two target groups that follow the same
//! cluster cost one lookup.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::clock::now_millis;
use crate::name_memory::NameMemory;
use crate::ports::{
    ClusterMember, CustomEndpoint, DnsError, DnsLookup, Endpoint, GlobalRole, RdsDirectory, RdsError, proxy_endpoint_id,
};
use crate::resolution::{Authority, Resolution, ResolveError, SourceAnswer};
use crate::spec::{ClusterRole, Source};
use crate::target::AddressFamilies;

/// Runs an async computation once per key and hands every caller the same result.
/// Also remembers when (Unix ms) each lookup was sent, and reports that time
/// to the [`SourceResolver::resolve_observed`] call it serves.
struct Memo<K, V> {
    cells: Mutex<HashMap<K, Arc<Timed<V>>>>,
}

/// A value computed once, with when (Unix ms) its lookup was sent.
type Timed<V> = OnceCell<(V, u64)>;

tokio::task_local! {
    /// The oldest lookup (Unix ms, when it was sent) the current resolution used.
    static OLDEST_READ: std::cell::Cell<u64>;
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    fn new() -> Self {
        Memo { cells: Mutex::new(HashMap::new()) }
    }

    /// Keeps `value`, fetched by a lookup sent at `sent_ms`, for `key`, unless
    /// a lookup of that key was already made or is under way.
    fn offer(&self, key: K, value: V, sent_ms: u64) {
        let mut cells = self.cells.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cells.entry(key).or_insert_with(|| Arc::new(OnceCell::new_with(Some((value, sent_ms)))));
    }

    async fn get<F: Future<Output = V>>(&self, key: K, init: impl FnOnce() -> F) -> V {
        let cell = self.cells.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).entry(key).or_default().clone();
        let (value, sent_ms) = cell
            .get_or_init(|| async {
                let sent_ms = now_millis();
                (init().await, sent_ms)
            })
            .await
            .clone();
        let _ = OLDEST_READ.try_with(|oldest| oldest.set(oldest.get().min(sent_ms)));
        value
    }
}

/// More RDS resources than this in a run are fetched in bulk ([`SourceResolver::prefetch`]).
pub const BULK_FROM: usize = 3;
/// The most queries one run sends a `dns:` name to see whether it rotates or
/// moved: a name answering 1 of 3 addresses at random answers the same one
/// 16 times in a row once in 14 million runs.
pub const CONFIRMING_QUERIES: usize = 16;

/// How many times one run asks a `dns:` name, from what the target group
/// remembers of it. Every plan sends at least the configured number of
/// queries, and stops extending once a query failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueryPlan {
    /// The configured number of queries, no more (`explain`, `status`).
    Fixed,
    /// A name the group has no memory of: asked until two answers differ (it
    /// rotates), at most [`CONFIRMING_QUERIES`] times, so that a rotating
    /// name is not taken for a steady one on its first run.
    UntilRotationSeen,
    /// A name the group remembers: asked until every address it answered
    /// before was answered again, at most [`CONFIRMING_QUERIES`] times, so
    /// that a move is confirmed and a rotating name's missing address is
    /// looked for before its absence counts.
    UntilSeen(BTreeSet<IpAddr>),
}

impl QueryPlan {
    /// The plan for a name the group remembers as `memory` (`None`: a new name).
    pub fn for_name(memory: Option<&NameMemory>) -> QueryPlan {
        match memory {
            None => QueryPlan::UntilRotationSeen,
            Some(name) => QueryPlan::UntilSeen(name.known_addresses()),
        }
    }

    /// True when the answers so far are enough.
    fn satisfied(&self, union: &BTreeSet<IpAddr>, differed: bool) -> bool {
        match self {
            QueryPlan::Fixed => true,
            QueryPlan::UntilRotationSeen => differed,
            QueryPlan::UntilSeen(expected) => expected.is_subset(union),
        }
    }
}

/// What the queries of one run answered for a `dns:` name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NameAnswers {
    /// The union of the answers.
    addresses: BTreeSet<IpAddr>,
    /// Two answers were different sets.
    differed: bool,
}

/// Resolves sources for one run, sharing work between target groups.
pub struct SourceResolver<'a, R, D> {
    rds: &'a R,
    dns: &'a D,
    clusters: Memo<String, Result<Vec<ClusterMember>, RdsError>>,
    instances: Memo<String, Result<Endpoint, RdsError>>,
    proxies: Memo<(String, Option<String>), Result<Endpoint, RdsError>>,
    custom_endpoints: Memo<(String, String), Result<CustomEndpoint, RdsError>>,
    names: Memo<(String, AddressFamilies), Result<BTreeSet<IpAddr>, DnsError>>,
    /// `dns:` sources: several queries, unioned.
    hostnames: Memo<(String, AddressFamilies, QueryPlan), Result<NameAnswers, DnsError>>,
    dns_queries: usize,
}

impl<'a, R: RdsDirectory, D: DnsLookup> SourceResolver<'a, R, D> {
    pub fn new(rds: &'a R, dns: &'a D) -> Self {
        SourceResolver {
            rds,
            dns,
            clusters: Memo::new(),
            instances: Memo::new(),
            proxies: Memo::new(),
            custom_endpoints: Memo::new(),
            names: Memo::new(),
            hostnames: Memo::new(),
            dns_queries: 1,
        }
    }

    /// Queries each `dns:` source `queries` times (at least once) and unions
    /// the answers, so a name that answers rotating subsets is seen whole.
    pub fn with_dns_queries(mut self, queries: usize) -> Self {
        self.dns_queries = queries.max(1);
        self
    }

    /// Fetches in bulk (100 records a call) the clusters and instances that
    /// `sources` follow when they are more than [`BULK_FROM`]; each answer
    /// then serves the run like a lookup of its own, with the bulk call's
    /// time as its view. A failed bulk call, or a resource it did not
    /// return, leaves that resource to its own lookup.
    pub async fn prefetch<'s>(&self, sources: impl IntoIterator<Item = &'s Source>) {
        let mut clusters = BTreeSet::new();
        let mut instances = BTreeSet::new();
        for source in sources {
            match source {
                // A custom endpoint's members and roles come from its cluster.
                Source::Cluster { id, .. } | Source::ClusterEndpoint { cluster: id, .. } => {
                    clusters.insert(id.clone());
                }
                Source::Instance { id } => {
                    instances.insert(id.clone());
                }
                Source::Proxy { .. } | Source::Dns { .. } => {}
            }
        }
        let clusters: Vec<String> = clusters.into_iter().collect();
        if clusters.len() > BULK_FROM {
            let sent_ms = now_millis();
            match self.rds.clusters_in_bulk(&clusters).await {
                Ok(found) => {
                    for (id, members) in found {
                        self.clusters.offer(id, Ok(members), sent_ms);
                    }
                }
                Err(error) => tracing::warn!(error = %error, "bulk cluster lookup failed; asking one by one"),
            }
        }
        let instances: Vec<String> = instances.into_iter().collect();
        if clusters.len() + instances.len() > BULK_FROM {
            let bulk_clusters = if clusters.len() > BULK_FROM { clusters.as_slice() } else { &[] };
            let sent_ms = now_millis();
            match self.rds.instances_in_bulk(bulk_clusters, &instances).await {
                Ok(found) => {
                    for (id, endpoint) in found {
                        self.instances.offer(id, Ok(endpoint), sent_ms);
                    }
                }
                Err(error) => tracing::warn!(error = %error, "bulk instance lookup failed; asking one by one"),
            }
        }
    }

    /// Resolves one source into the addresses it stands for (a `dns:` name
    /// with the configured number of queries).
    pub async fn resolve(&self, source: &Source, families: AddressFamilies) -> SourceAnswer {
        self.resolve_planned(source, families, &QueryPlan::Fixed).await
    }

    /// [`resolve`](Self::resolve), asking a `dns:` name as `plan` says.
    async fn resolve_planned(&self, source: &Source, families: AddressFamilies, plan: &QueryPlan) -> SourceAnswer {
        let outcome = match source {
            Source::Cluster { id, role } => self.cluster(id, *role, families).await,
            Source::Instance { id } => {
                self.instance(id, families).await.map(|addresses| Resolution { addresses, ..Default::default() })
            }
            Source::Proxy { name, endpoint } => self.proxy(name, endpoint.as_deref(), families).await,
            Source::ClusterEndpoint { cluster, endpoint } => self.custom_endpoint(cluster, endpoint, families).await,
            Source::Dns { hostname } => self
                .hostname(hostname, families, plan)
                .await
                .map(|found| Resolution {
                    addresses: found.addresses,
                    answers_differed: found.differed,
                    ..Default::default()
                })
                .map_err(ResolveError::from),
        };
        SourceAnswer { source: source.clone(), outcome }
    }

    /// [`resolve`](Self::resolve) asking a `dns:` name as `plan` says, plus
    /// when (Unix ms) the oldest RDS or DNS lookup behind the answer was
    /// sent: the time the answer is a view of.
    pub async fn resolve_observed(
        &self,
        source: &Source,
        families: AddressFamilies,
        plan: &QueryPlan,
    ) -> (SourceAnswer, u64) {
        OLDEST_READ
            .scope(std::cell::Cell::new(u64::MAX), async {
                let answer = self.resolve_planned(source, families, plan).await;
                let oldest = OLDEST_READ.with(std::cell::Cell::get);
                (answer, if oldest == u64::MAX { now_millis() } else { oldest })
            })
            .await
    }

    /// The endpoint of a DB instance (shared within the run).
    pub async fn instance_endpoint(&self, id: &str) -> Result<Endpoint, RdsError> {
        self.instances.get(id.to_string(), || self.rds.instance_endpoint(id)).await
    }

    /// Members of a cluster (shared within the run).
    pub async fn cluster_members(&self, id: &str) -> Result<Vec<ClusterMember>, RdsError> {
        self.clusters.get(id.to_string(), || self.rds.cluster_members(id)).await
    }

    async fn cluster(
        &self,
        id: &str,
        role: ClusterRole,
        families: AddressFamilies,
    ) -> Result<Resolution, ResolveError> {
        let members = self.cluster_members(id).await?;
        let (writers, readers): (Vec<&ClusterMember>, Vec<&ClusterMember>) = members.iter().partition(|m| m.is_writer);
        let Some(writer) = writers.first() else {
            // A Global Database's secondary cluster has no writer by design:
            // its writer source stands for nothing, and every member is demoted.
            return match self.rds.global_role(id).await? {
                GlobalRole::Secondary { .. } if role == ClusterRole::Writer => Ok(Resolution {
                    addresses: BTreeSet::new(),
                    demoted: self.best_effort(&readers, families).await,
                    authority: Authority::NoneByDesign,
                    answers_differed: false,
                }),
                GlobalRole::Secondary { .. } => self.holders(&readers, &[], families).await,
                _ => Err(ResolveError::NoWriter { cluster: id.to_string() }),
            };
        };
        match role {
            ClusterRole::Writer => Ok(Resolution {
                addresses: self.instance(&writer.instance_id, families).await?,
                demoted: self.best_effort(&readers, families).await,
                authority: Authority::Members,
                answers_differed: false,
            }),
            ClusterRole::Readers => self.holders(&readers, &writers, families).await,
        }
    }

    /// An Aurora custom endpoint: its members now (the member lists and the
    /// members' roles, as RDS applies them); a member it does not hold is
    /// demoted, so an instance taken out of the endpoint leaves at once.
    async fn custom_endpoint(
        &self,
        cluster: &str,
        endpoint: &str,
        families: AddressFamilies,
    ) -> Result<Resolution, ResolveError> {
        let key = (cluster.to_string(), endpoint.to_string());
        let found = self.custom_endpoints.get(key, || self.rds.custom_endpoint(cluster, endpoint)).await?;
        let members = self.cluster_members(cluster).await?;
        let (held, others): (Vec<&ClusterMember>, Vec<&ClusterMember>) = members.iter().partition(|m| found.holds(m));
        self.holders(&held, &others, families).await
    }

    /// The addresses of the members that hold the role (the readers, a
    /// custom endpoint's members); the others' are demoted.
    async fn holders(
        &self,
        holders: &[&ClusterMember],
        others: &[&ClusterMember],
        families: AddressFamilies,
    ) -> Result<Resolution, ResolveError> {
        let mut addresses = BTreeSet::new();
        for holder in holders {
            match self.instance(&holder.instance_id, families).await {
                Ok(found) => addresses.extend(found),
                // An instance still being created takes no traffic yet.
                Err(ResolveError::NoEndpoint { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let demoted = self.best_effort(others, families).await;
        Ok(Resolution { addresses, demoted, authority: Authority::Members, answers_differed: false })
    }

    /// Addresses of members that do not hold the role; failures just leave them out.
    async fn best_effort(&self, members: &[&ClusterMember], families: AddressFamilies) -> BTreeSet<IpAddr> {
        let mut out = BTreeSet::new();
        for member in members {
            if let Ok(found) = self.instance(&member.instance_id, families).await {
                out.extend(found);
            }
        }
        out
    }

    async fn instance(&self, id: &str, families: AddressFamilies) -> Result<BTreeSet<IpAddr>, ResolveError> {
        let endpoint = self.instance_endpoint(id).await?;
        let address = endpoint.address.ok_or_else(|| ResolveError::NoEndpoint {
            kind: "DB instance",
            id: id.to_string(),
            status: endpoint.status.clone(),
        })?;
        Ok(self.name(&address, families).await?)
    }

    async fn proxy(
        &self,
        name: &str,
        endpoint: Option<&str>,
        families: AddressFamilies,
    ) -> Result<Resolution, ResolveError> {
        let key = (name.to_string(), endpoint.map(str::to_string));
        let found = self.proxies.get(key, || self.rds.proxy_endpoint(name, endpoint)).await?;
        let address = found.address.ok_or_else(|| ResolveError::NoEndpoint {
            kind: "RDS Proxy endpoint",
            id: proxy_endpoint_id(name, endpoint),
            status: found.status.clone(),
        })?;
        Ok(Resolution { addresses: self.name(&address, families).await?, ..Default::default() })
    }

    async fn name(&self, name: &str, families: AddressFamilies) -> Result<BTreeSet<IpAddr>, DnsError> {
        let key = (name.to_ascii_lowercase(), families);
        self.names.get(key, || self.dns.addresses(name, families)).await
    }

    /// A `dns:` source: the union of several answers, as many as `plan`
    /// asks for. Answers that failed are left out; only when every query
    /// failed is the source unresolved.
    async fn hostname(&self, name: &str, families: AddressFamilies, plan: &QueryPlan) -> Result<NameAnswers, DnsError> {
        let key = (name.to_ascii_lowercase(), families, plan.clone());
        let most = match plan {
            QueryPlan::Fixed => self.dns_queries,
            _ => self.dns_queries.max(CONFIRMING_QUERIES),
        };
        self.hostnames
            .get(key, || async {
                let mut found = NameAnswers { addresses: BTreeSet::new(), differed: false };
                let mut first_answer: Option<BTreeSet<IpAddr>> = None;
                let mut first_error = None;
                for asked in 1..=most {
                    match self.dns.addresses(name, families).await {
                        Ok(addresses) => {
                            match &first_answer {
                                Some(first) => found.differed |= *first != addresses,
                                None => first_answer = Some(addresses.clone()),
                            }
                            found.addresses.extend(addresses);
                        }
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                    let enough = first_error.is_some() || plan.satisfied(&found.addresses, found.differed);
                    if asked >= self.dns_queries && enough {
                        break;
                    }
                }
                match first_error {
                    Some(e) if found.addresses.is_empty() => Err(e),
                    _ => Ok(found),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::*;
    use std::sync::atomic::Ordering;

    fn ips(list: &[&str]) -> BTreeSet<IpAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    fn aurora() -> (FakeRds, FakeDns) {
        let rds = FakeRds::default();
        rds.cluster("prod", &[("prod-1", false), ("prod-2", true), ("prod-3", false)]);
        rds.instance("prod-1", Some("prod-1.rds.test"));
        rds.instance("prod-2", Some("prod-2.rds.test"));
        rds.instance("prod-3", Some("prod-3.rds.test"));
        let dns = FakeDns::default();
        dns.set("prod-1.rds.test", &["10.0.1.1"]);
        dns.set("prod-2.rds.test", &["10.0.2.2"]);
        dns.set("prod-3.rds.test", &["10.0.3.3"]);
        (rds, dns)
    }

    #[tokio::test]
    async fn many_clusters_are_fetched_in_bulk_and_a_few_one_by_one() {
        let rds = FakeRds::default();
        let dns = FakeDns::default();
        rds.answers_in_bulk.store(true, Ordering::SeqCst);
        let mut sources: Vec<Source> = Vec::new();
        for c in 0..5 {
            rds.cluster(&format!("c{c}"), &[(&format!("c{c}-a"), true), (&format!("c{c}-b"), false)]);
            for (i, member) in ["a", "b"].iter().enumerate() {
                rds.instance(&format!("c{c}-{member}"), Some(&format!("c{c}-{member}.test")));
                dns.set(&format!("c{c}-{member}.test"), &[&format!("10.0.{c}.{}", i + 1)]);
            }
            sources.push(format!("rds-cluster:c{c}").parse().unwrap());
            sources.push(format!("rds-cluster:c{c}:readers").parse().unwrap());
        }
        let resolver = SourceResolver::new(&rds, &dns);
        resolver.prefetch(&sources).await;
        assert_eq!(rds.bulk_calls.load(Ordering::SeqCst), 2, "clusters, then their instances");
        for source in &sources {
            assert!(resolver.resolve(source, AddressFamilies::V4).await.outcome.is_ok());
        }
        assert_eq!(rds.calls.load(Ordering::SeqCst), 0, "nothing asked one by one");

        // At most BULK_FROM resources: each asked for on its own.
        let resolver = SourceResolver::new(&rds, &dns);
        resolver.prefetch(&sources[..2]).await;
        assert_eq!(rds.bulk_calls.load(Ordering::SeqCst), 2);
        resolver.resolve(&sources[0], AddressFamilies::V4).await.outcome.unwrap();
        assert_eq!(rds.calls.load(Ordering::SeqCst), 3, "the cluster and its two instances");
    }

    #[tokio::test]
    async fn writer_comes_from_the_rds_api_and_readers_are_demoted() {
        let (rds, dns) = aurora();
        let resolver = SourceResolver::new(&rds, &dns);
        let answer = resolver.resolve(&"rds-cluster:prod".parse().unwrap(), AddressFamilies::V4).await;
        let resolution = answer.outcome.unwrap();
        assert_eq!(resolution.addresses, ips(&["10.0.2.2"]));
        assert_eq!(resolution.demoted, ips(&["10.0.1.1", "10.0.3.3"]));
    }

    #[tokio::test]
    async fn readers_are_every_non_writer_and_the_writer_is_demoted() {
        let (rds, dns) = aurora();
        let resolver = SourceResolver::new(&rds, &dns);
        let answer = resolver.resolve(&"rds-cluster:prod:readers".parse().unwrap(), AddressFamilies::V4).await;
        let resolution = answer.outcome.unwrap();
        assert_eq!(resolution.addresses, ips(&["10.0.1.1", "10.0.3.3"]));
        assert_eq!(resolution.demoted, ips(&["10.0.2.2"]));
    }

    #[tokio::test]
    async fn a_custom_endpoint_holds_its_listed_members_of_its_kind_and_demotes_the_rest() {
        use crate::ports::CustomEndpointKind::{Any, Reader};
        let (rds, dns) = aurora();
        let resolve = |rds, dns| async move {
            let resolver = SourceResolver::new(rds, dns);
            let source: Source = "rds-cluster-endpoint:prod:analytics".parse().unwrap();
            let resolution = resolver.resolve(&source, AddressFamilies::V4).await.outcome.unwrap();
            (resolution.addresses, resolution.demoted, resolution.authority)
        };
        // Excluded members: every other member, writer included for ANY.
        rds.custom_endpoint("prod", "analytics", Any, &[], &["prod-3"]);
        let (held, demoted, authority) = resolve(&rds, &dns).await;
        assert_eq!((held, demoted), (ips(&["10.0.1.1", "10.0.2.2"]), ips(&["10.0.3.3"])));
        assert_eq!(authority, Authority::Members, "an instance taken out leaves at once");
        // READER leaves the writer out even when it is listed.
        rds.custom_endpoint("prod", "analytics", Reader, &["prod-2", "prod-3"], &[]);
        let (held, demoted, _) = resolve(&rds, &dns).await;
        assert_eq!((held, demoted), (ips(&["10.0.3.3"]), ips(&["10.0.1.1", "10.0.2.2"])));
        // After a failover the new writer leaves a READER endpoint.
        rds.cluster("prod", &[("prod-1", false), ("prod-2", false), ("prod-3", true)]);
        let (held, _, _) = resolve(&rds, &dns).await;
        assert_eq!(held, ips(&["10.0.2.2"]));
    }

    #[tokio::test]
    async fn an_unknown_custom_endpoint_is_an_error_naming_it() {
        let (rds, dns) = aurora();
        let resolver = SourceResolver::new(&rds, &dns);
        let source: Source = "rds-cluster-endpoint:prod:gone".parse().unwrap();
        let err = resolver.resolve(&source, AddressFamilies::V4).await.outcome.unwrap_err();
        assert!(err.to_string().contains("prod:gone"), "{err}");
    }

    #[tokio::test]
    async fn reader_without_endpoint_is_skipped_but_a_dns_failure_fails_the_source() {
        let (rds, dns) = aurora();
        rds.instance("prod-3", None);
        let resolver = SourceResolver::new(&rds, &dns);
        let readers: Source = "rds-cluster:prod:readers".parse().unwrap();
        assert_eq!(
            resolver.resolve(&readers, AddressFamilies::V4).await.outcome.unwrap().addresses,
            ips(&["10.0.1.1"])
        );

        let (rds, dns) = aurora();
        dns.fail("prod-3.rds.test");
        let resolver = SourceResolver::new(&rds, &dns);
        let err = resolver.resolve(&readers, AddressFamilies::V4).await.outcome.unwrap_err();
        assert!(matches!(&err, ResolveError::Dns(DnsError::Failed { name, .. }) if name == "prod-3.rds.test"), "{err}");
    }

    #[tokio::test]
    async fn cluster_without_writer_is_an_error_naming_the_cluster() {
        let (rds, dns) = aurora();
        rds.cluster("prod", &[("prod-1", false), ("prod-2", false)]);
        let resolver = SourceResolver::new(&rds, &dns);
        let err =
            resolver.resolve(&"rds-cluster:prod".parse().unwrap(), AddressFamilies::V4).await.outcome.unwrap_err();
        assert_eq!(err, ResolveError::NoWriter { cluster: "prod".into() });
        assert!(err.to_string().contains("cluster 'prod' has no writer"), "{err}");
    }

    #[tokio::test]
    async fn unknown_resources_and_missing_endpoints_say_what_is_wrong() {
        let (rds, dns) = aurora();
        rds.instance("new-db", None);
        let resolver = SourceResolver::new(&rds, &dns);
        let err =
            resolver.resolve(&"rds-instance:nope".parse().unwrap(), AddressFamilies::V4).await.outcome.unwrap_err();
        assert!(err.to_string().contains("DB instance 'nope' does not exist"), "{err}");
        let err =
            resolver.resolve(&"rds-instance:new-db".parse().unwrap(), AddressFamilies::V4).await.outcome.unwrap_err();
        assert!(err.to_string().contains("'new-db' has no endpoint yet (status: available)"), "{err}");
        let err = resolver.resolve(&"rds-proxy:px".parse().unwrap(), AddressFamilies::V4).await.outcome.unwrap_err();
        assert!(err.to_string().contains("RDS Proxy 'px' does not exist"), "{err}");
    }

    #[tokio::test]
    async fn proxy_keeps_every_address_in_the_target_groups_families() {
        let rds = FakeRds::default();
        rds.proxy("px", None, "px.proxy.test");
        rds.proxy("px", Some("ro"), "ro.px.proxy.test");
        let dns = FakeDns::default();
        dns.set("px.proxy.test", &["10.0.1.9", "10.0.2.9", "fd00::9"]);
        dns.set("ro.px.proxy.test", &["10.0.3.9"]);
        let resolver = SourceResolver::new(&rds, &dns);
        let v4 = resolver.resolve(&"rds-proxy:px".parse().unwrap(), AddressFamilies::V4).await;
        assert_eq!(v4.outcome.unwrap().addresses, ips(&["10.0.1.9", "10.0.2.9"]));
        let v6 = resolver.resolve(&"rds-proxy:px".parse().unwrap(), AddressFamilies::V6).await;
        assert_eq!(v6.outcome.unwrap().addresses, ips(&["fd00::9"]));
        let custom = resolver.resolve(&"rds-proxy:px:ro".parse().unwrap(), AddressFamilies::Both).await;
        assert_eq!(custom.outcome.unwrap().addresses, ips(&["10.0.3.9"]));
    }

    #[tokio::test]
    async fn concurrent_resolutions_of_one_source_share_one_lookup() {
        let (rds, dns) = aurora();
        let resolver = SourceResolver::new(&rds, &dns);
        let source: Source = "rds-cluster:prod".parse().unwrap();
        let (a, b) = tokio::join!(
            resolver.resolve(&source, AddressFamilies::V4),
            resolver.resolve(&source, AddressFamilies::V4)
        );
        assert_eq!(a, b);
        // One DescribeDBClusters and one DescribeDBInstances per member, once each.
        assert_eq!(rds.calls.load(Ordering::SeqCst), 4);
        assert_eq!(dns.queries.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn observed_time_is_the_oldest_lookup_even_when_shared() {
        let (rds, dns) = aurora();
        let resolver = SourceResolver::new(&rds, &dns);
        let before = now_millis();
        let fixed = &QueryPlan::Fixed;
        let (_, first) =
            resolver.resolve_observed(&"rds-cluster:prod".parse().unwrap(), AddressFamilies::V4, fixed).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // The readers source reuses the cluster and instance lookups made above:
        // its view is as old as they are, not "now".
        let (_, second) =
            resolver.resolve_observed(&"rds-cluster:prod:readers".parse().unwrap(), AddressFamilies::V4, fixed).await;
        assert!(first >= before && second == first, "{before} {first} {second}");
        let (_, fresh) = SourceResolver::new(&rds, &dns)
            .resolve_observed(&"rds-cluster:prod".parse().unwrap(), AddressFamilies::V4, fixed)
            .await;
        assert!(fresh >= first + 20, "{first} {fresh}");
    }

    /// Resolves `dns:<name>` with `plan` on a fresh resolver (3 queries
    /// configured); returns the answer and how many queries it took.
    async fn asked(dns: &FakeDns, name: &str, plan: QueryPlan) -> (Resolution, usize) {
        let rds = FakeRds::default();
        let before = dns.queries.load(Ordering::SeqCst);
        let resolver = SourceResolver::new(&rds, dns).with_dns_queries(3);
        let source = Source::Dns { hostname: name.into() };
        let (answer, _) = resolver.resolve_observed(&source, AddressFamilies::V4, &plan).await;
        (answer.outcome.unwrap(), dns.queries.load(Ordering::SeqCst) - before)
    }

    #[tokio::test]
    async fn a_new_name_is_asked_until_two_answers_differ_or_sixteen_times() {
        let dns = FakeDns::default();
        dns.set("steady.test", &["10.0.1.5"]);
        let (found, queries) = asked(&dns, "steady.test", QueryPlan::UntilRotationSeen).await;
        assert_eq!((found.addresses, found.answers_differed, queries), (ips(&["10.0.1.5"]), false, CONFIRMING_QUERIES));
        dns.rotate("rr.test", &[&["10.0.1.5"], &["10.0.2.5"]]);
        let (found, queries) = asked(&dns, "rr.test", QueryPlan::UntilRotationSeen).await;
        assert_eq!((found.addresses, found.answers_differed, queries), (ips(&["10.0.1.5", "10.0.2.5"]), true, 3));
        let (found, queries) = asked(&dns, "steady.test", QueryPlan::Fixed).await;
        assert_eq!((found.answers_differed, queries), (false, 3));
    }

    #[tokio::test]
    async fn a_remembered_name_is_asked_until_every_address_it_answered_came_back() {
        let dns = FakeDns::default();
        dns.rotate("rr.test", &[&["10.0.1.5"], &["10.0.1.5"], &["10.0.1.5"], &["10.0.1.5"], &["10.0.2.5"]]);
        let expected = QueryPlan::UntilSeen(ips(&["10.0.1.5", "10.0.2.5"]));
        let (found, queries) = asked(&dns, "rr.test", expected.clone()).await;
        assert_eq!((found.addresses, found.answers_differed, queries), (ips(&["10.0.1.5", "10.0.2.5"]), true, 5));
        // A steady name that answers what it did: the configured queries only.
        dns.set("db.test", &["10.0.1.5"]);
        let (_, queries) = asked(&dns, "db.test", QueryPlan::UntilSeen(ips(&["10.0.1.5"]))).await;
        assert_eq!(queries, 3);
        // One that moved is asked until the move is confirmed.
        let (found, queries) = asked(&dns, "db.test", QueryPlan::UntilSeen(ips(&["10.0.9.9"]))).await;
        assert_eq!((found.addresses, queries), (ips(&["10.0.1.5"]), CONFIRMING_QUERIES));
    }

    #[tokio::test]
    async fn a_failing_name_is_not_asked_more_than_configured() {
        let dns = FakeDns::default();
        dns.fail("down.test");
        let rds = FakeRds::default();
        let resolver = SourceResolver::new(&rds, &dns).with_dns_queries(3);
        let source = Source::Dns { hostname: "down.test".into() };
        let (answer, _) = resolver.resolve_observed(&source, AddressFamilies::V4, &QueryPlan::UntilRotationSeen).await;
        assert!(answer.outcome.is_err());
        assert_eq!(dns.queries.load(Ordering::SeqCst), 3, "timeouts are not multiplied");
    }
}
