//! In-memory stand-ins for the RDS API, DNS, ELB and the lease table, for unit
//! tests only.
//! (The real adapters are tested against moto in `tests/`.)

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::failure::ApiFailure;
use crate::permissions::PortCall;
use crate::ports::{
    BlueGreenDeployment, ClusterMember, CustomEndpoint, CustomEndpointKind, DnsError, DnsLookup, ElbError, Endpoint,
    GlobalRole, LeaseFuture, LeaseStore, RdsDirectory, RdsError, TargetGroups,
};
use crate::spec::{DNS_MEMORY_TAG, PORT_TAG, SETTLED_TAG, SOURCES_TAG, VIEW_TAG};
use crate::target::{AddressFamilies, Target, TargetGroupInfo, TargetGroupState, TargetHealth};

#[derive(Default)]
pub struct FakeRds {
    pub clusters: Mutex<HashMap<String, Vec<ClusterMember>>>,
    pub instances: Mutex<HashMap<String, Endpoint>>,
    pub proxies: Mutex<HashMap<(String, Option<String>), Endpoint>>,
    pub deployments: Mutex<HashMap<String, BlueGreenDeployment>>,
    pub global_roles: Mutex<HashMap<String, GlobalRole>>,
    /// Custom endpoints by (cluster, endpoint).
    pub custom_endpoints: Mutex<HashMap<(String, String), CustomEndpoint>>,
    pub calls: AtomicUsize,
    /// Whether the bulk lookups answer (off: the port's default, nothing).
    pub answers_in_bulk: std::sync::atomic::AtomicBool,
    /// Bulk lookups made.
    pub bulk_calls: AtomicUsize,
    /// Which methods were called (`permissions.rs` lists what each command may call).
    pub port_calls: PortCalls,
}

impl FakeRds {
    pub fn cluster(&self, id: &str, members: &[(&str, bool)]) {
        let members =
            members.iter().map(|(i, w)| ClusterMember { instance_id: i.to_string(), is_writer: *w }).collect();
        self.clusters.lock().unwrap().insert(id.into(), members);
    }
    pub fn member(&self, id: &str, address: &str, cluster: &str) {
        let endpoint =
            Endpoint { address: Some(address.into()), status: "available".into(), cluster: Some(cluster.into()) };
        self.instances.lock().unwrap().insert(id.into(), endpoint);
    }
    pub fn instance(&self, id: &str, address: Option<&str>) {
        let endpoint = Endpoint { address: address.map(str::to_string), status: "available".into(), cluster: None };
        self.instances.lock().unwrap().insert(id.into(), endpoint);
    }
    pub fn deployment(&self, deployment: BlueGreenDeployment) {
        self.deployments.lock().unwrap().insert(deployment.id.clone(), deployment);
    }
    pub fn global(&self, cluster: &str, role: GlobalRole) {
        self.global_roles.lock().unwrap().insert(cluster.into(), role);
    }
    pub fn remove_instance(&self, id: &str) {
        self.instances.lock().unwrap().remove(id);
    }
    pub fn proxy(&self, name: &str, endpoint: Option<&str>, address: &str) {
        let ep = Endpoint { address: Some(address.into()), status: "available".into(), cluster: None };
        self.proxies.lock().unwrap().insert((name.into(), endpoint.map(str::to_string)), ep);
    }
    pub fn custom_endpoint(
        &self,
        cluster: &str,
        endpoint: &str,
        kind: CustomEndpointKind,
        static_members: &[&str],
        excluded_members: &[&str],
    ) {
        let owned = |list: &[&str]| list.iter().map(|m| m.to_string()).collect();
        let found = CustomEndpoint {
            kind,
            static_members: owned(static_members),
            excluded_members: owned(excluded_members),
            status: "available".into(),
        };
        self.custom_endpoints.lock().unwrap().insert((cluster.into(), endpoint.into()), found);
    }
}

impl RdsDirectory for FakeRds {
    async fn cluster_members(&self, id: &str) -> Result<Vec<ClusterMember>, RdsError> {
        self.port_calls.record(PortCall::ClusterMembers);
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.clusters.lock().unwrap().get(id).cloned().ok_or(RdsError::NotFound { kind: "DB cluster", id: id.into() })
    }
    async fn instance_endpoint(&self, id: &str) -> Result<Endpoint, RdsError> {
        self.port_calls.record(PortCall::InstanceEndpoint);
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.instances.lock().unwrap().get(id).cloned().ok_or(RdsError::NotFound { kind: "DB instance", id: id.into() })
    }
    async fn proxy_endpoint(&self, name: &str, endpoint: Option<&str>) -> Result<Endpoint, RdsError> {
        self.port_calls.record(PortCall::ProxyEndpoint);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let key = (name.to_string(), endpoint.map(str::to_string));
        self.proxies.lock().unwrap().get(&key).cloned().ok_or(RdsError::NotFound { kind: "RDS Proxy", id: name.into() })
    }
    async fn blue_green_deployment(&self, id: &str) -> Result<BlueGreenDeployment, RdsError> {
        self.port_calls.record(PortCall::BlueGreenDeployment);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let found = self.deployments.lock().unwrap().get(id).cloned();
        found.ok_or(RdsError::NotFound { kind: "Blue/Green deployment", id: id.into() })
    }
    async fn global_role(&self, cluster_id: &str) -> Result<GlobalRole, RdsError> {
        self.port_calls.record(PortCall::GlobalRole);
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.global_roles.lock().unwrap().get(cluster_id).cloned().unwrap_or(GlobalRole::NotGlobal))
    }
    async fn custom_endpoint(&self, cluster_id: &str, endpoint: &str) -> Result<CustomEndpoint, RdsError> {
        self.port_calls.record(PortCall::CustomEndpoint);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let found = self.custom_endpoints.lock().unwrap().get(&(cluster_id.into(), endpoint.into())).cloned();
        found.ok_or(RdsError::NotFound { kind: "custom endpoint", id: format!("{cluster_id}:{endpoint}") })
    }
    async fn clusters_in_bulk(&self, ids: &[String]) -> Result<HashMap<String, Vec<ClusterMember>>, RdsError> {
        self.port_calls.record(PortCall::ClustersInBulk);
        if !self.answers_in_bulk.load(Ordering::SeqCst) {
            return Ok(HashMap::new());
        }
        self.bulk_calls.fetch_add(1, Ordering::SeqCst);
        let clusters = self.clusters.lock().unwrap();
        Ok(ids.iter().filter_map(|id| Some((id.clone(), clusters.get(id)?.clone()))).collect())
    }
    async fn instances_in_bulk(
        &self,
        cluster_ids: &[String],
        instance_ids: &[String],
    ) -> Result<HashMap<String, Endpoint>, RdsError> {
        self.port_calls.record(PortCall::InstancesInBulk);
        if !self.answers_in_bulk.load(Ordering::SeqCst) {
            return Ok(HashMap::new());
        }
        self.bulk_calls.fetch_add(1, Ordering::SeqCst);
        let clusters = self.clusters.lock().unwrap();
        let members = cluster_ids.iter().flat_map(|c| clusters.get(c).into_iter().flatten().map(|m| &m.instance_id));
        let instances = self.instances.lock().unwrap();
        Ok(members.chain(instance_ids).filter_map(|id| Some((id.clone(), instances.get(id)?.clone()))).collect())
    }
}

/// Answers given in turn, and the index of the next one.
pub type Rotation = (Vec<Vec<IpAddr>>, usize);

#[derive(Default)]
pub struct FakeDns {
    pub records: Mutex<HashMap<String, Vec<IpAddr>>>,
    /// Names that answer a list of answers in turn, one per query.
    pub rotations: Mutex<HashMap<String, Rotation>>,
    pub failing: Mutex<BTreeSet<String>>,
    pub queries: AtomicUsize,
}

impl FakeDns {
    pub fn set(&self, name: &str, addrs: &[&str]) {
        self.records.lock().unwrap().insert(name.into(), addrs.iter().map(|a| a.parse().unwrap()).collect());
    }
    pub fn fail(&self, name: &str) {
        self.failing.lock().unwrap().insert(name.into());
    }
    /// `name` answers each of `answers` in turn, one per query, then starts over.
    pub fn rotate(&self, name: &str, answers: &[&[&str]]) {
        let answers = answers.iter().map(|answer| answer.iter().map(|a| a.parse().unwrap()).collect()).collect();
        self.rotations.lock().unwrap().insert(name.into(), (answers, 0));
    }
}

impl DnsLookup for FakeDns {
    async fn addresses(&self, name: &str, families: AddressFamilies) -> Result<BTreeSet<IpAddr>, DnsError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        if self.failing.lock().unwrap().contains(name) {
            return Err(DnsError::Failed { name: name.into(), message: "timed out".into() });
        }
        if let Some((answers, next)) = self.rotations.lock().unwrap().get_mut(name) {
            let answer = answers[*next % answers.len()].iter().filter(|ip| families.admits(ip)).copied().collect();
            *next += 1;
            return Ok(answer);
        }
        let found: BTreeSet<IpAddr> = self
            .records
            .lock()
            .unwrap()
            .get(name)
            .into_iter()
            .flatten()
            .filter(|ip| families.admits(ip))
            .copied()
            .collect();
        if found.is_empty() {
            return Err(DnsError::NoSuchName { name: name.into() });
        }
        Ok(found)
    }
}

/// In-memory target groups: every registered target turns healthy at once,
/// like moto; `fail_register` makes RegisterTargets fail.
pub struct FakeElb {
    pub groups: Mutex<Vec<TargetGroupInfo>>,
    pub targets: Mutex<HashMap<String, BTreeMap<Target, TargetHealth>>>,
    pub mutations: AtomicUsize,
    pub tag_writes: AtomicUsize,
    pub fail_register: Mutex<bool>,
    /// The health newly registered targets get (moto: healthy at once).
    pub register_health: Mutex<TargetHealth>,
    /// Refuse what the deploy function's tag-scoped IAM statements in
    /// `template.yaml` refuse (AccessDenied): changing targets, or writing or
    /// removing tags, of a group without the sources tag, unless an AddTags
    /// gives it one; tag keys other than the sync tags.
    pub tag_scoped_permissions: Mutex<bool>,
    /// Every mutating call in order: `RegisterTargets`, `DeregisterTargets`,
    /// `AddTags <keys>`, `RemoveTags <keys>`.
    pub mutating_calls: Mutex<Vec<String>>,
    /// `describe` calls (one target group described by ARN).
    pub describes: AtomicUsize,
    /// `state` calls (DescribeTargetHealth).
    pub health_reads: AtomicUsize,
    /// Every call that names one group beyond listing it with its tags:
    /// (`DescribeTargetHealth` and the mutating calls, target group ARN).
    pub group_calls: Mutex<Vec<(&'static str, String)>>,
    /// Which methods were called (`permissions.rs` lists what each command may call).
    pub port_calls: PortCalls,
}

impl Default for FakeElb {
    fn default() -> Self {
        FakeElb {
            groups: Mutex::default(),
            targets: Mutex::default(),
            mutations: AtomicUsize::default(),
            tag_writes: AtomicUsize::default(),
            fail_register: Mutex::default(),
            register_health: Mutex::new(TargetHealth::Healthy),
            tag_scoped_permissions: Mutex::default(),
            mutating_calls: Mutex::default(),
            describes: AtomicUsize::default(),
            health_reads: AtomicUsize::default(),
            group_calls: Mutex::default(),
            port_calls: PortCalls::default(),
        }
    }
}

impl FakeElb {
    pub fn group(&self, name: &str, sources: Option<&str>) -> String {
        let arn = format!("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/{name}/1");
        let tags = sources.map(|s| (SOURCES_TAG.to_string(), s.to_string())).into_iter().collect();
        self.groups.lock().unwrap().push(TargetGroupInfo {
            arn: arn.clone(),
            name: name.into(),
            port: Some(5432),
            target_type: "ip".into(),
            families: AddressFamilies::V4,
            tags,
        });
        arn
    }
    pub fn seed(&self, arn: &str, target: &str) {
        let t = Target { ip: target.parse().unwrap(), port: 5432 };
        self.targets.lock().unwrap().entry(arn.into()).or_default().insert(t, TargetHealth::Healthy);
    }
    pub fn held(&self, arn: &str) -> Vec<String> {
        self.targets.lock().unwrap().get(arn).map(|m| m.keys().map(|t| t.ip.to_string()).collect()).unwrap_or_default()
    }

    /// The calls beyond listing that named `arn` (see `group_calls`).
    pub fn calls_naming(&self, arn: &str) -> Vec<&'static str> {
        self.group_calls.lock().unwrap().iter().filter(|(_, a)| a == arn).map(|(call, _)| *call).collect()
    }

    /// Records a mutating call; the AccessDenied the tag-scoped permissions
    /// would answer, if any. `keys`: the tag keys an AddTags or RemoveTags
    /// writes or removes.
    fn refusal(&self, operation: &'static str, arn: &str, keys: &[&str]) -> Option<ElbError> {
        let call = std::iter::once(operation).chain(keys.iter().copied()).collect::<Vec<_>>().join(" ");
        self.mutating_calls.lock().unwrap().push(call);
        self.group_calls.lock().unwrap().push((operation, arn.to_string()));
        if !*self.tag_scoped_permissions.lock().unwrap() {
            return None;
        }
        let tagged = self.groups.lock().unwrap().iter().any(|g| g.arn == arn && g.tags.contains_key(SOURCES_TAG));
        let within = |allowed: &[&str]| keys.iter().all(|k| allowed.contains(k));
        let allowed = if tagged {
            within(&[SOURCES_TAG, PORT_TAG, VIEW_TAG, DNS_MEMORY_TAG, SETTLED_TAG])
        } else {
            // Only an AddTags that gives the group its sources tag (and the port tag).
            operation == "AddTags" && keys.contains(&SOURCES_TAG) && within(&[SOURCES_TAG, PORT_TAG])
        };
        let failure = ApiFailure::message("AccessDenied: not allowed by the tag-scoped policy");
        (!allowed).then(|| ElbError { operation, resource: arn.into(), failure })
    }
}

impl TargetGroups for FakeElb {
    async fn list_managed(&self) -> Result<Vec<TargetGroupInfo>, ElbError> {
        self.port_calls.record(PortCall::ListManaged);
        Ok(self.groups.lock().unwrap().iter().filter(|g| g.tags.contains_key(SOURCES_TAG)).cloned().collect())
    }
    async fn describe(&self, arn: &str) -> Result<Option<TargetGroupInfo>, ElbError> {
        self.describes.fetch_add(1, Ordering::SeqCst);
        self.port_calls.record(PortCall::Describe);
        Ok(self.groups.lock().unwrap().iter().find(|g| g.arn == arn).cloned())
    }
    async fn describe_by_name(&self, name: &str) -> Result<Option<TargetGroupInfo>, ElbError> {
        self.port_calls.record(PortCall::DescribeByName);
        Ok(self.groups.lock().unwrap().iter().find(|g| g.name == name).cloned())
    }
    async fn state(&self, arn: &str) -> Result<TargetGroupState, ElbError> {
        self.health_reads.fetch_add(1, Ordering::SeqCst);
        self.port_calls.record(PortCall::State);
        self.group_calls.lock().unwrap().push(("DescribeTargetHealth", arn.to_string()));
        Ok(TargetGroupState::new(self.targets.lock().unwrap().get(arn).cloned().unwrap_or_default()))
    }
    async fn register(&self, arn: &str, targets: &[Target]) -> Result<(), ElbError> {
        self.port_calls.record(PortCall::Register);
        self.mutations.fetch_add(1, Ordering::SeqCst);
        if let Some(denied) = self.refusal("RegisterTargets", arn, &[]) {
            return Err(denied);
        }
        if *self.fail_register.lock().unwrap() {
            let failure = ApiFailure::message("denied");
            return Err(ElbError { operation: "RegisterTargets", resource: arn.into(), failure });
        }
        let mut all = self.targets.lock().unwrap();
        let health = self.register_health.lock().unwrap().clone();
        for t in targets {
            all.entry(arn.into()).or_default().insert(*t, health.clone());
        }
        Ok(())
    }
    async fn deregister(&self, arn: &str, targets: &[Target]) -> Result<(), ElbError> {
        self.port_calls.record(PortCall::Deregister);
        self.mutations.fetch_add(1, Ordering::SeqCst);
        if let Some(denied) = self.refusal("DeregisterTargets", arn, &[]) {
            return Err(denied);
        }
        let mut all = self.targets.lock().unwrap();
        for t in targets {
            all.entry(arn.into()).or_default().remove(t);
        }
        Ok(())
    }
    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, ElbError> {
        self.port_calls.record(PortCall::Tags);
        Ok(self.groups.lock().unwrap().iter().find(|g| g.arn == arn).map(|g| g.tags.clone()).unwrap_or_default())
    }
    async fn add_tags(&self, arn: &str, tags: &[(&str, String)]) -> Result<(), ElbError> {
        self.port_calls.record(PortCall::AddTags);
        self.tag_writes.fetch_add(1, Ordering::SeqCst);
        let keys: Vec<&str> = tags.iter().map(|(k, _)| *k).collect();
        if let Some(denied) = self.refusal("AddTags", arn, &keys) {
            return Err(denied);
        }
        let mut groups = self.groups.lock().unwrap();
        let group = groups.iter_mut().find(|g| g.arn == arn).expect("known group");
        for (k, v) in tags {
            group.tags.insert(k.to_string(), v.clone());
        }
        Ok(())
    }
    async fn remove_tags(&self, arn: &str, keys: &[&str]) -> Result<(), ElbError> {
        self.port_calls.record(PortCall::RemoveTags);
        if let Some(denied) = self.refusal("RemoveTags", arn, keys) {
            return Err(denied);
        }
        let mut groups = self.groups.lock().unwrap();
        let group = groups.iter_mut().find(|g| g.arn == arn).expect("known group");
        for k in keys {
            group.tags.remove(*k);
        }
        Ok(())
    }
}

/// The port methods a fake was asked, as [`PortCall`]s.
#[derive(Default)]
pub struct PortCalls(Mutex<BTreeSet<PortCall>>);

impl PortCalls {
    pub fn record(&self, call: PortCall) {
        self.0.lock().unwrap().insert(call);
    }
    pub fn take(&self) -> BTreeSet<PortCall> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// An in-memory lease table that keeps other runs out, like DynamoDB's
/// conditional write (`SimLeases` in the simulation adds delays), recording
/// the calls.
#[derive(Default)]
pub struct FakeLeases {
    /// key -> (owner, until Unix ms)
    pub leases: Mutex<HashMap<String, (String, u64)>>,
    pub port_calls: PortCalls,
}

impl LeaseStore for FakeLeases {
    fn acquire<'a>(&'a self, key: &'a str, owner: &'a str, now_ms: u64, until_ms: u64) -> LeaseFuture<'a, bool> {
        self.port_calls.record(PortCall::LeaseAcquire);
        Box::pin(async move {
            let mut leases = self.leases.lock().unwrap();
            let free = leases.get(key).is_none_or(|(holder, until)| *until < now_ms || holder == owner);
            if free {
                leases.insert(key.to_string(), (owner.to_string(), until_ms));
            }
            Ok(free)
        })
    }
    fn release<'a>(&'a self, key: &'a str, owner: &'a str) -> LeaseFuture<'a, ()> {
        self.port_calls.record(PortCall::LeaseRelease);
        Box::pin(async move {
            let mut leases = self.leases.lock().unwrap();
            if leases.get(key).is_some_and(|(holder, _)| holder == owner) {
                leases.remove(key);
            }
            Ok(())
        })
    }
    fn is_held<'a>(&'a self, key: &'a str, now_ms: u64) -> LeaseFuture<'a, bool> {
        self.port_calls.record(PortCall::LeaseIsHeld);
        Box::pin(async move { Ok(self.leases.lock().unwrap().get(key).is_some_and(|(_, until)| *until >= now_ms)) })
    }
}
