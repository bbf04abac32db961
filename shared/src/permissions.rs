//! The IAM actions behind each port method, in one place. The SDK adapters
//! name every call they send by its action here (so an access-denied failure
//! names the action that was refused), and the tests below check three links:
//! each adapter method sends only the actions listed for it (canned answers,
//! in `adapters/`), each operator command calls only the port methods listed
//! for it (fakes), and the example policies in the README name exactly the
//! actions of the commands they are for.

use std::collections::BTreeSet;
use std::fmt;

/// An IAM action: the service's prefix and the API operation
/// (`elasticloadbalancing:DescribeTargetGroups`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IamAction {
    pub service: &'static str,
    pub operation: &'static str,
}

impl fmt::Display for IamAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.service, self.operation)
    }
}

const fn elb(operation: &'static str) -> IamAction {
    IamAction { service: "elasticloadbalancing", operation }
}

const fn rds(operation: &'static str) -> IamAction {
    IamAction { service: "rds", operation }
}

const fn dynamodb(operation: &'static str) -> IamAction {
    IamAction { service: "dynamodb", operation }
}

const fn ec2(operation: &'static str) -> IamAction {
    IamAction { service: "ec2", operation }
}

pub const DESCRIBE_TARGET_GROUPS: IamAction = elb("DescribeTargetGroups");
pub const DESCRIBE_TAGS: IamAction = elb("DescribeTags");
pub const DESCRIBE_TARGET_HEALTH: IamAction = elb("DescribeTargetHealth");
pub const REGISTER_TARGETS: IamAction = elb("RegisterTargets");
pub const DEREGISTER_TARGETS: IamAction = elb("DeregisterTargets");
pub const ADD_TAGS: IamAction = elb("AddTags");
pub const REMOVE_TAGS: IamAction = elb("RemoveTags");
pub const DESCRIBE_DB_CLUSTERS: IamAction = rds("DescribeDBClusters");
pub const DESCRIBE_DB_INSTANCES: IamAction = rds("DescribeDBInstances");
pub const DESCRIBE_DB_PROXIES: IamAction = rds("DescribeDBProxies");
pub const DESCRIBE_DB_PROXY_ENDPOINTS: IamAction = rds("DescribeDBProxyEndpoints");
pub const DESCRIBE_BLUE_GREEN_DEPLOYMENTS: IamAction = rds("DescribeBlueGreenDeployments");
pub const DESCRIBE_GLOBAL_CLUSTERS: IamAction = rds("DescribeGlobalClusters");
pub const DESCRIBE_DB_CLUSTER_ENDPOINTS: IamAction = rds("DescribeDBClusterEndpoints");
pub const GET_ITEM: IamAction = dynamodb("GetItem");
pub const PUT_ITEM: IamAction = dynamodb("PutItem");
pub const DELETE_ITEM: IamAction = dynamodb("DeleteItem");
pub const DESCRIBE_TARGET_GROUP_ATTRIBUTES: IamAction = elb("DescribeTargetGroupAttributes");
pub const DESCRIBE_LOAD_BALANCERS: IamAction = elb("DescribeLoadBalancers");
pub const DESCRIBE_LOAD_BALANCER_ATTRIBUTES: IamAction = elb("DescribeLoadBalancerAttributes");
pub const DESCRIBE_LISTENERS: IamAction = elb("DescribeListeners");
pub const DESCRIBE_DB_PARAMETERS: IamAction = rds("DescribeDBParameters");
pub const DESCRIBE_SUBNETS: IamAction = ec2("DescribeSubnets");
pub const DESCRIBE_SECURITY_GROUPS: IamAction = ec2("DescribeSecurityGroups");
pub const DESCRIBE_VPC_ENDPOINT_SERVICE_CONFIGURATIONS: IamAction = ec2("DescribeVpcEndpointServiceConfigurations");
pub const DESCRIBE_VPC_ENDPOINT_SERVICE_PERMISSIONS: IamAction = ec2("DescribeVpcEndpointServicePermissions");
pub const DESCRIBE_VPC_ENDPOINT_CONNECTIONS: IamAction = ec2("DescribeVpcEndpointConnections");

/// What `doctor` reads besides the actions of `plan` (its in-sync check is a
/// dry-run plan): the inspection ports' calls (`doctor/ports.rs`; ELB and RDS
/// in `adapters/*_inspect.rs`, EC2 in the command line's `ec2.rs`).
pub const DOCTOR_ACTIONS: [IamAction; 10] = [
    DESCRIBE_TARGET_GROUP_ATTRIBUTES,
    DESCRIBE_LOAD_BALANCERS,
    DESCRIBE_LOAD_BALANCER_ATTRIBUTES,
    DESCRIBE_LISTENERS,
    DESCRIBE_DB_PARAMETERS,
    DESCRIBE_SUBNETS,
    DESCRIBE_SECURITY_GROUPS,
    DESCRIBE_VPC_ENDPOINT_SERVICE_CONFIGURATIONS,
    DESCRIBE_VPC_ENDPOINT_SERVICE_PERMISSIONS,
    DESCRIBE_VPC_ENDPOINT_CONNECTIONS,
];

/// A port method that reaches AWS (`TargetGroups`, `RdsDirectory`, `LeaseStore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortCall {
    ListManaged,
    Describe,
    DescribeByName,
    State,
    Tags,
    Register,
    Deregister,
    AddTags,
    RemoveTags,
    ClusterMembers,
    InstanceEndpoint,
    ProxyEndpoint,
    ClustersInBulk,
    InstancesInBulk,
    BlueGreenDeployment,
    GlobalRole,
    CustomEndpoint,
    LeaseIsHeld,
    LeaseAcquire,
    LeaseRelease,
}

impl PortCall {
    pub const ALL: [PortCall; 20] = [
        PortCall::ListManaged,
        PortCall::Describe,
        PortCall::DescribeByName,
        PortCall::State,
        PortCall::Tags,
        PortCall::Register,
        PortCall::Deregister,
        PortCall::AddTags,
        PortCall::RemoveTags,
        PortCall::ClusterMembers,
        PortCall::InstanceEndpoint,
        PortCall::ProxyEndpoint,
        PortCall::ClustersInBulk,
        PortCall::InstancesInBulk,
        PortCall::BlueGreenDeployment,
        PortCall::GlobalRole,
        PortCall::CustomEndpoint,
        PortCall::LeaseIsHeld,
        PortCall::LeaseAcquire,
        PortCall::LeaseRelease,
    ];

    /// The IAM actions the method's SDK adapter sends.
    pub fn actions(self) -> &'static [IamAction] {
        match self {
            PortCall::ListManaged | PortCall::Describe | PortCall::DescribeByName => {
                &[DESCRIBE_TARGET_GROUPS, DESCRIBE_TAGS]
            }
            PortCall::State => &[DESCRIBE_TARGET_HEALTH],
            PortCall::Tags => &[DESCRIBE_TAGS],
            PortCall::Register => &[REGISTER_TARGETS],
            PortCall::Deregister => &[DEREGISTER_TARGETS],
            PortCall::AddTags => &[ADD_TAGS],
            PortCall::RemoveTags => &[REMOVE_TAGS],
            PortCall::ClusterMembers => &[DESCRIBE_DB_CLUSTERS],
            PortCall::InstanceEndpoint => &[DESCRIBE_DB_INSTANCES],
            PortCall::ProxyEndpoint => &[DESCRIBE_DB_PROXIES, DESCRIBE_DB_PROXY_ENDPOINTS],
            PortCall::ClustersInBulk => &[DESCRIBE_DB_CLUSTERS],
            PortCall::InstancesInBulk => &[DESCRIBE_DB_INSTANCES],
            PortCall::BlueGreenDeployment => &[DESCRIBE_BLUE_GREEN_DEPLOYMENTS],
            PortCall::GlobalRole => &[DESCRIBE_DB_CLUSTERS, DESCRIBE_GLOBAL_CLUSTERS],
            PortCall::CustomEndpoint => &[DESCRIBE_DB_CLUSTER_ENDPOINTS],
            PortCall::LeaseIsHeld => &[GET_ITEM],
            PortCall::LeaseAcquire => &[PUT_ITEM],
            PortCall::LeaseRelease => &[DELETE_ITEM],
        }
    }
}

/// What the operator command line asks of the engine, one per command that
/// reaches AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Status,
    Plan,
    Explain,
    Apply,
    Tag,
    Untag,
}

/// Finding one target group by ARN or name.
const FIND_ONE: [PortCall; 2] = [PortCall::Describe, PortCall::DescribeByName];
/// Resolving `rds-*` sources.
const RESOLVE: [PortCall; 5] = [
    PortCall::ClusterMembers,
    PortCall::InstanceEndpoint,
    PortCall::ProxyEndpoint,
    PortCall::GlobalRole,
    PortCall::CustomEndpoint,
];
/// Changing a group's targets and stamps under its lease.
const CHANGE_UNDER_LEASE: [PortCall; 7] = [
    PortCall::Tags,
    PortCall::Register,
    PortCall::Deregister,
    PortCall::AddTags,
    PortCall::LeaseIsHeld,
    PortCall::LeaseAcquire,
    PortCall::LeaseRelease,
];
/// Resolving the `rds-*` sources of many groups: in bulk first.
const RESOLVE_IN_BULK: [PortCall; 2] = [PortCall::ClustersInBulk, PortCall::InstancesInBulk];

impl Operation {
    pub const ALL: [Operation; 6] =
        [Operation::Status, Operation::Plan, Operation::Explain, Operation::Apply, Operation::Tag, Operation::Untag];

    /// The port methods it may call.
    pub fn port_calls(self) -> BTreeSet<PortCall> {
        let read =
            FIND_ONE.into_iter().chain([PortCall::ListManaged, PortCall::State]).chain(RESOLVE).chain(RESOLVE_IN_BULK);
        match self {
            Operation::Status | Operation::Plan => read.collect(),
            Operation::Explain => RESOLVE.into_iter().collect(),
            Operation::Apply => read.chain(CHANGE_UNDER_LEASE).collect(),
            Operation::Tag => FIND_ONE.into_iter().chain([PortCall::AddTags, PortCall::RemoveTags]).collect(),
            Operation::Untag => FIND_ONE.into_iter().chain([PortCall::RemoveTags]).collect(),
        }
    }

    /// The IAM actions it needs.
    pub fn actions(self) -> BTreeSet<IamAction> {
        self.port_calls().into_iter().flat_map(|call| call.actions().iter().copied()).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::fakes::{FakeDns, FakeElb, FakeLeases, FakeRds};
    use crate::spec::{PORT_TAG, Source, SyncSpec};
    use crate::sync::{SyncEngine, SyncOptions};
    use crate::target::AddressFamilies;

    type Engine = SyncEngine<FakeElb, FakeRds, FakeDns>;

    /// A world that takes every path of the commands: a cluster whose writer
    /// moved, a cluster without a writer (a Global Database secondary's
    /// check), an instance, a proxy, a custom endpoint, a name; a stray
    /// target; a group with a port tag; a group nobody manages.
    fn engine(dry_run: bool) -> (Engine, Arc<FakeLeases>) {
        let rds = FakeRds::default();
        rds.cluster("prod", &[("prod-1", true), ("prod-2", false)]);
        rds.member("prod-1", "prod-1.test", "prod");
        rds.member("prod-2", "prod-2.test", "prod");
        rds.cluster("replica", &[("replica-1", false)]);
        rds.member("replica-1", "prod-2.test", "replica");
        rds.global("replica", crate::ports::GlobalRole::Secondary { global_cluster: "global".into() });
        rds.instance("pg", Some("pg.test"));
        rds.proxy("px", None, "px.test");
        rds.custom_endpoint("prod", "analytics", crate::ports::CustomEndpointKind::Any, &[], &["prod-1"]);
        // Two more clusters: enough RDS resources in one run to look them up in bulk.
        for id in ["c1", "c2"] {
            rds.cluster(id, &[(&format!("{id}-1"), true)]);
            rds.member(&format!("{id}-1"), &format!("{id}.test"), id);
        }
        let dns = FakeDns::default();
        for (name, ip) in [
            ("prod-1.test", "10.0.1.1"),
            ("prod-2.test", "10.0.2.2"),
            ("pg.test", "10.0.3.3"),
            ("c1.test", "10.0.6.1"),
            ("c2.test", "10.0.6.2"),
        ] {
            dns.set(name, &[ip]);
        }
        dns.set("px.test", &["10.0.4.4", "10.0.4.5"]);
        dns.set("db.test", &["10.0.5.5"]);
        let options = SyncOptions { dry_run, ..SyncOptions::default() };
        let leases = Arc::new(FakeLeases::default());
        let e = SyncEngine::new(FakeElb::default(), rds, dns, options).with_leases(leases.clone());
        let a = e.elb().group("a", Some("rds-cluster:prod:writer rds-cluster:replica:writer rds-instance:pg"));
        e.elb().seed(&a, "10.0.9.9");
        e.elb().group("b", Some("rds-proxy:px dns:db.test rds-cluster-endpoint:prod:analytics"));
        e.elb().group("c", Some("rds-cluster:c1 rds-cluster:c2"));
        let ported = e.elb().group("ported", Some("dns:db.test"));
        e.elb()
            .groups
            .lock()
            .unwrap()
            .iter_mut()
            .find(|g| g.arn == ported)
            .unwrap()
            .tags
            .insert(PORT_TAG.into(), "6432".into());
        e.elb().group("plain", None);
        (e, leases)
    }

    fn calls(e: &Engine, leases: &FakeLeases) -> BTreeSet<PortCall> {
        let mut calls = e.elb().port_calls.take();
        calls.extend(e.rds().port_calls.take());
        calls.extend(leases.port_calls.take());
        calls
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    /// What each operation called, run the ways the command line runs it.
    async fn made(operation: Operation) -> BTreeSet<PortCall> {
        let (e, leases) = engine(operation == Operation::Plan);
        match operation {
            Operation::Status => {
                e.status(&[]).await.unwrap();
                e.status(&names(&["a", "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/1"])).await.unwrap();
            }
            Operation::Plan => {
                e.sync(&e.select(&[]).await.unwrap()).await;
                e.sync(&e.select(&names(&["a"])).await.unwrap()).await;
            }
            Operation::Explain => {
                for token in [
                    "rds-cluster:prod:writer",
                    "rds-cluster:replica:writer",
                    "rds-instance:pg",
                    "rds-proxy:px",
                    "rds-cluster-endpoint:prod:analytics",
                ] {
                    let source: Source = token.parse().unwrap();
                    e.explain(&source, AddressFamilies::V4).await;
                }
            }
            Operation::Apply => {
                let all = e.select(&[]).await.unwrap();
                let applied = e.apply(&all, Duration::from_millis(10), &|_| {}).await;
                assert!(applied.run.errors().is_empty(), "{:?}", applied.run.errors());
                // Nothing to change now: a run that only asks whether a lease is held.
                e.apply(&e.select(&names(&["a"])).await.unwrap(), Duration::ZERO, &|_| {}).await;
            }
            Operation::Tag => {
                let spec = SyncSpec::from_tokens(&names(&["dns:db.test"]), None).unwrap();
                e.tag("ported", spec.clone()).await.unwrap();
                e.tag("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/plain/1", spec).await.unwrap();
            }
            Operation::Untag => {
                e.untag("a").await.unwrap();
                e.untag("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/1").await.unwrap();
            }
        }
        calls(&e, &leases)
    }

    #[tokio::test]
    async fn each_operation_calls_exactly_the_port_methods_listed_for_it() {
        for operation in Operation::ALL {
            assert_eq!(made(operation).await, operation.port_calls(), "{operation:?}");
        }
    }

    /// The actions each marked example policy (`<!-- iam-policy: NAME -->`
    /// before a JSON block) allows, by name, from the README and `docs/`.
    fn documented_policies() -> Vec<(String, String, BTreeSet<String>)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = vec![root.join("README.md")];
        let docs = std::fs::read_dir(root.join("docs")).expect("docs/");
        files.extend(docs.map(|entry| entry.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "md")));
        let mut policies = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for rest in text.split("<!-- iam-policy: ").skip(1) {
                let (name, rest) = rest.split_once(" -->").expect("a closed marker");
                let block = rest.trim_start().strip_prefix("```json").expect("a JSON block after the marker");
                let (json, _) = block.split_once("```").expect("a closed JSON block");
                let policy: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"));
                let allowed = policy["Statement"]
                    .as_array()
                    .expect("statements")
                    .iter()
                    .filter(|statement| statement["Effect"] == "Allow")
                    .flat_map(|statement| match &statement["Action"] {
                        serde_json::Value::String(action) => vec![action.clone()],
                        actions => {
                            actions.as_array().expect("Action").iter().map(|a| a.as_str().unwrap().into()).collect()
                        }
                    })
                    .collect();
                policies.push((file.display().to_string(), name.to_string(), allowed));
            }
        }
        policies
    }

    fn actions_of(operations: &[Operation]) -> BTreeSet<String> {
        operations.iter().flat_map(|o| o.actions()).map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_documented_policies_name_exactly_the_actions_the_commands_call() {
        let read_only = actions_of(&[Operation::Status, Operation::Plan, Operation::Explain]);
        let everything = actions_of(&Operation::ALL);
        let policies = documented_policies();
        let names: BTreeSet<&str> = policies.iter().map(|(_, name, _)| name.as_str()).collect();
        let doctor: BTreeSet<String> = DOCTOR_ACTIONS.iter().map(|a| a.to_string()).collect();
        assert_eq!(names, BTreeSet::from(["doctor", "read-only", "write"]), "{policies:?}");
        for (file, name, allowed) in &policies {
            match name.as_str() {
                "read-only" => assert_eq!(allowed, &read_only, "{file}: the read-only policy"),
                "doctor" => assert_eq!(allowed, &doctor, "{file}: doctor's policy, besides the read-only one"),
                _ => {
                    let both: BTreeSet<String> = allowed.union(&read_only).cloned().collect();
                    assert_eq!(both, everything, "{file}: the write policy with the read-only one");
                    assert!(allowed.is_disjoint(&read_only), "{file}: the write policy repeats a read-only action");
                }
            }
        }
    }

    /// Each `- service:Action` or `Action: service:Action` line of the
    /// three services the engine calls, in a piece of `template.yaml`.
    fn granted(template: &str) -> BTreeSet<String> {
        template
            .lines()
            .filter_map(|line| {
                let item = line.trim().trim_start_matches("- ").trim_start_matches("Action: ");
                let (service, operation) = item.split_once(':')?;
                let ours = ["elasticloadbalancing", "rds", "dynamodb"].contains(&service);
                (ours && !operation.is_empty() && operation.chars().all(|c| c.is_ascii_alphanumeric()))
                    .then(|| item.to_string())
            })
            .collect()
    }

    fn actions_of_calls(calls: &[PortCall]) -> BTreeSet<String> {
        calls.iter().flat_map(|call| call.actions()).map(|action| action.to_string()).collect()
    }

    /// The functions' roles in `template.yaml` (a text scan of each
    /// `Policies:` block): each allows what every run calls, and together
    /// they allow exactly the actions of the port methods (only the deploy
    /// function untags, only the failover one reads Blue/Green deployments).
    #[test]
    fn the_template_grants_the_functions_exactly_the_port_methods_actions() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let template = std::fs::read_to_string(path).expect("template.yaml");
        let roles: Vec<&str> = template.split("Policies:").skip(1).collect();
        assert_eq!(roles.len(), 3, "one role a function");
        let mut every_run = vec![PortCall::ListManaged, PortCall::Describe, PortCall::State];
        every_run.extend(CHANGE_UNDER_LEASE);
        every_run.extend(RESOLVE);
        let needed = actions_of_calls(&every_run);
        for (i, role) in roles.iter().enumerate() {
            let allowed = granted(role);
            let missing: Vec<&String> = needed.difference(&allowed).collect();
            assert!(missing.is_empty(), "role {} of template.yaml lacks {missing:?}", i + 1);
        }
        assert_eq!(granted(&template), actions_of_calls(&PortCall::ALL));
    }

    #[test]
    fn actions_read_as_iam_writes_them() {
        assert_eq!(DESCRIBE_TARGET_GROUPS.to_string(), "elasticloadbalancing:DescribeTargetGroups");
        assert_eq!(PUT_ITEM.to_string(), "dynamodb:PutItem");
    }

    #[test]
    fn every_port_call_is_listed_once() {
        let all: BTreeSet<PortCall> = PortCall::ALL.into_iter().collect();
        assert_eq!(all.len(), PortCall::ALL.len());
        let listed: BTreeSet<Operation> = Operation::ALL.into_iter().collect();
        assert_eq!(listed.len(), Operation::ALL.len());
    }
}
