//! The ports: what the domain needs from the outside world, in its own terms.
//! The engine and the triggers depend on these traits only; `adapters`
//! implements them over the AWS SDK and hickory, and unit tests over fakes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use crate::failure::ApiFailure;
use crate::target::{AddressFamilies, Target, TargetGroupInfo, TargetGroupState};

/// The target group operations sync needs (Elastic Load Balancing).
pub trait TargetGroups: Send + Sync {
    /// Every target group carrying the sources tag, with its tags.
    fn list_managed(&self) -> impl Future<Output = Result<Vec<TargetGroupInfo>, ElbError>> + Send;
    /// One target group by ARN, with its tags; `None` when it does not exist.
    fn describe(&self, arn: &str) -> impl Future<Output = Result<Option<TargetGroupInfo>, ElbError>> + Send;
    /// One target group by name, with its tags; `None` when there is none.
    /// The default looks among the managed ones only; the ELB adapter asks
    /// DescribeTargetGroups by name, so it finds unmanaged ones too.
    fn describe_by_name(&self, name: &str) -> impl Future<Output = Result<Option<TargetGroupInfo>, ElbError>> + Send {
        async move { Ok(self.list_managed().await?.into_iter().find(|g| g.name == name)) }
    }
    /// Registered targets and their health.
    fn state(&self, arn: &str) -> impl Future<Output = Result<TargetGroupState, ElbError>> + Send;
    fn register(&self, arn: &str, targets: &[Target]) -> impl Future<Output = Result<(), ElbError>> + Send;
    fn deregister(&self, arn: &str, targets: &[Target]) -> impl Future<Output = Result<(), ElbError>> + Send;
    /// The target group's tags, read now.
    fn tags(&self, arn: &str) -> impl Future<Output = Result<BTreeMap<String, String>, ElbError>> + Send;
    /// Adds or overwrites tags.
    fn add_tags(&self, arn: &str, tags: &[(&str, String)]) -> impl Future<Output = Result<(), ElbError>> + Send;
    /// Removes tags by key (absent keys are fine).
    fn remove_tags(&self, arn: &str, keys: &[&str]) -> impl Future<Output = Result<(), ElbError>> + Send;
}

/// The RDS API calls resolution needs.
pub trait RdsDirectory: Send + Sync {
    /// Members of a DB cluster (Aurora or Multi-AZ cluster) and which one writes.
    fn cluster_members(&self, cluster_id: &str) -> impl Future<Output = Result<Vec<ClusterMember>, RdsError>> + Send;
    /// The endpoint of a DB instance.
    fn instance_endpoint(&self, instance_id: &str) -> impl Future<Output = Result<Endpoint, RdsError>> + Send;
    /// The endpoint of an RDS Proxy: its default one, or the named custom one.
    fn proxy_endpoint(
        &self,
        proxy: &str,
        endpoint: Option<&str>,
    ) -> impl Future<Output = Result<Endpoint, RdsError>> + Send;
    /// A Blue/Green deployment by its identifier (`bgd-...`).
    fn blue_green_deployment(&self, id: &str) -> impl Future<Output = Result<BlueGreenDeployment, RdsError>> + Send;
    /// Whether a cluster is the primary or a secondary of an Aurora Global
    /// Database, or not in one.
    fn global_role(&self, cluster_id: &str) -> impl Future<Output = Result<GlobalRole, RdsError>> + Send;
    /// An Aurora custom cluster endpoint of `cluster_id` (its kind and member lists).
    fn custom_endpoint(
        &self,
        cluster_id: &str,
        endpoint: &str,
    ) -> impl Future<Output = Result<CustomEndpoint, RdsError>> + Send;

    /// The members of those of `cluster_ids` that exist, fetched 100
    /// clusters a call (for runs that follow many). A cluster missing from
    /// the answer is asked for with [`cluster_members`](Self::cluster_members).
    /// The default fetches nothing.
    fn clusters_in_bulk(
        &self,
        cluster_ids: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Vec<ClusterMember>>, RdsError>> + Send {
        let _ = cluster_ids;
        async { Ok(HashMap::new()) }
    }

    /// The endpoints of the instances of `cluster_ids` and of `instance_ids`,
    /// by instance id, fetched 100 records a call; an instance missing from
    /// the answer is asked for with [`instance_endpoint`](Self::instance_endpoint).
    /// The default fetches nothing.
    fn instances_in_bulk(
        &self,
        cluster_ids: &[String],
        instance_ids: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Endpoint>, RdsError>> + Send {
        let _ = (cluster_ids, instance_ids);
        async { Ok(HashMap::new()) }
    }
}

/// DNS lookups of A and/or AAAA records.
pub trait DnsLookup: Send + Sync {
    /// Every address `name` has in the given families (no cache beyond the TTL).
    fn addresses(
        &self,
        name: &str,
        families: AddressFamilies,
    ) -> impl Future<Output = Result<BTreeSet<IpAddr>, DnsError>> + Send;

    /// The answer records behind [`addresses`](Self::addresses) (aliases
    /// followed, addresses, each with its TTL), for people who ask why. It
    /// fails exactly when `addresses` would. The default knows no TTLs.
    fn records(
        &self,
        name: &str,
        families: AddressFamilies,
    ) -> impl Future<Output = Result<Vec<DnsRecord>, DnsError>> + Send {
        async move {
            let addresses = self.addresses(name, families).await?;
            Ok(addresses
                .into_iter()
                .map(|ip| DnsRecord { name: name.to_string(), data: DnsData::Address(ip), ttl_seconds: None })
                .collect())
        }
    }
}

/// One DNS answer record, as [`DnsLookup::records`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// The name the record belongs to (without the trailing dot).
    pub name: String,
    pub data: DnsData,
    /// How long resolvers may cache the record; `None` when not known.
    pub ttl_seconds: Option<u32>,
}

/// What a DNS answer record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsData {
    /// An A or AAAA record.
    Address(IpAddr),
    /// A CNAME record: the name points at this one.
    Alias(String),
}

/// What [`LeaseStore`] calls return: boxed, so the engine can hold any store
/// (DynamoDB, none, a fake) behind one pointer.
pub type LeaseFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LeaseError>> + Send + 'a>>;

/// Per-target-group leases with a real conditional write, so that only one
/// run at a time changes a target group (ELB itself offers no conditional
/// write). Times are Unix milliseconds.
pub trait LeaseStore: Send + Sync {
    /// Takes the lease on `key` for `owner` until `until_ms` when nobody holds
    /// it, or the holder's lease ended before `now_ms`; `Ok(false)` when
    /// another holder's lease still runs.
    fn acquire<'a>(&'a self, key: &'a str, owner: &'a str, now_ms: u64, until_ms: u64) -> LeaseFuture<'a, bool>;
    /// Ends the lease on `key` if `owner` still holds it.
    fn release<'a>(&'a self, key: &'a str, owner: &'a str) -> LeaseFuture<'a, ()>;
    /// Whether any run holds a lease on `key` that still runs at `now_ms`.
    fn is_held<'a>(&'a self, key: &'a str, now_ms: u64) -> LeaseFuture<'a, bool>;
    /// True when a lease really keeps other runs out (a store with no table
    /// lets every run in, and orders nothing).
    fn orders_runs(&self) -> bool {
        true
    }
}

/// A lease call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DynamoDB {operation} on the lease of {key} failed: {failure}")]
pub struct LeaseError {
    pub operation: &'static str,
    pub key: String,
    pub failure: ApiFailure,
}

/// A member of a DB cluster, as DescribeDBClusters lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMember {
    pub instance_id: String,
    pub is_writer: bool,
}

/// Which members an Aurora custom endpoint may hold (`CustomEndpointType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomEndpointKind {
    /// Only members that do not write.
    Reader,
    /// Only the writer (the API accepts it; the console does not offer it).
    Writer,
    /// Writer and readers alike.
    Any,
}

/// An Aurora custom cluster endpoint as DescribeDBClusterEndpoints reports
/// it: the member lists, not the members they add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomEndpoint {
    pub kind: CustomEndpointKind,
    /// When not empty, exactly these instances (of the right kind).
    pub static_members: Vec<String>,
    /// With no static members: every member but these.
    pub excluded_members: Vec<String>,
    pub status: String,
}

impl CustomEndpoint {
    /// Whether the endpoint holds `member` now: the member lists and the
    /// member's role, as RDS applies them.
    pub fn holds(&self, member: &ClusterMember) -> bool {
        let listed = |list: &[String]| list.iter().any(|id| id.eq_ignore_ascii_case(&member.instance_id));
        let in_lists =
            if self.static_members.is_empty() { !listed(&self.excluded_members) } else { listed(&self.static_members) };
        let of_kind = match self.kind {
            CustomEndpointKind::Reader => !member.is_writer,
            CustomEndpointKind::Writer => member.is_writer,
            CustomEndpointKind::Any => true,
        };
        in_lists && of_kind
    }
}

/// An endpoint's DNS name as the RDS API reports it, with the resource's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Absent while the resource is being created.
    pub address: Option<String>,
    pub status: String,
    /// For a DB instance: the cluster it belongs to, if any.
    pub cluster: Option<String>,
}

/// How an RDS Proxy endpoint is named in messages: `proxy` for the default
/// endpoint, `proxy:endpoint` for a custom one.
pub fn proxy_endpoint_id(proxy: &str, endpoint: Option<&str>) -> String {
    match endpoint {
        Some(endpoint) => format!("{proxy}:{endpoint}"),
        None => proxy.to_string(),
    }
}

/// A Blue/Green deployment, as DescribeBlueGreenDeployments reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlueGreenDeployment {
    pub id: String,
    /// `AVAILABLE`, `SWITCHOVER_IN_PROGRESS`, `SWITCHOVER_COMPLETED`, ...
    pub status: String,
    /// The blue database's ARN (after a switchover: its renamed `-old<n>` ARN).
    pub source: Option<String>,
    /// The green database's ARN (after a switchover: the production name).
    pub target: Option<String>,
    /// One pair per switched resource (cluster, instances, endpoints).
    pub members: Vec<SwitchoverMember>,
}

/// One resource of a Blue/Green deployment: its blue and its green ARN.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SwitchoverMember {
    pub source: Option<String>,
    pub target: Option<String>,
}

impl BlueGreenDeployment {
    /// True once the green databases carry the production names.
    pub fn switched_over(&self) -> bool {
        self.status == "SWITCHOVER_COMPLETED"
    }

    /// Every ARN the deployment names, blue and green.
    pub fn arns(&self) -> impl Iterator<Item = &str> {
        self.blue_arns().chain(self.target.as_deref()).chain(self.members.iter().filter_map(|m| m.target.as_deref()))
    }

    /// The blue side's ARNs (after a switchover, the retired databases).
    pub fn blue_arns(&self) -> impl Iterator<Item = &str> {
        self.source.as_deref().into_iter().chain(self.members.iter().filter_map(|m| m.source.as_deref()))
    }
}

/// A cluster's place in an Aurora Global Database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalRole {
    NotGlobal,
    Primary,
    /// A read-only secondary: it has no writer by design.
    Secondary {
        global_cluster: String,
    },
}

/// A failed ELB API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ELB {operation} on {resource} failed: {failure}")]
pub struct ElbError {
    pub operation: &'static str,
    pub resource: String,
    pub failure: ApiFailure,
}

/// A failed RDS API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdsError {
    #[error("{kind} '{id}' does not exist in this account and region (RDS API); check the identifier in the sources")]
    NotFound { kind: &'static str, id: String },
    #[error("RDS {operation} for '{resource}' failed: {failure}")]
    Api { operation: &'static str, resource: String, failure: ApiFailure },
}

impl RdsError {
    /// The failed call's answer, when there was a call that failed.
    pub fn failure_mut(&mut self) -> Option<&mut ApiFailure> {
        match self {
            RdsError::NotFound { .. } => None,
            RdsError::Api { failure, .. } => Some(failure),
        }
    }
}

/// A failed lookup through either API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Elb(#[from] ElbError),
    #[error(transparent)]
    Rds(#[from] RdsError),
}

impl LookupError {
    /// The failed call's answer, when there was a call that failed.
    pub fn failure_mut(&mut self) -> Option<&mut ApiFailure> {
        match self {
            LookupError::Elb(error) => Some(&mut error.failure),
            LookupError::Rds(error) => error.failure_mut(),
        }
    }
}

/// A failed DNS lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("DNS name {name} does not exist (NXDOMAIN)")]
    NoSuchName { name: String },
    #[error("DNS has no {families} record for {name}")]
    NoRecords { name: String, families: &'static str },
    #[error(
        "DNS lookup of {name} failed: {message}; check that the resolver in use (the VPC's, or NLB_SYNC_DNS_SERVER) answers"
    )]
    Failed { name: String, message: String },
}
