//! [`SyncEngine::doctor`]: each target group's facts, gathered through the
//! engine (its `status` and a dry-run `plan`) and the inspection ports, then
//! judged by the pure checks. Reads only: the engine must be a dry run.

use std::collections::{BTreeMap, BTreeSet};

use super::check::{Check, CheckStatus};
use super::checks::{diagnose, is_mysql_family};
use super::facts::{
    ConnectErrorsSetting, Database, EndpointService, GroupFacts, LoadBalancer, PlanFacts, Read, Subnet, Unread,
};
use super::ports::{DatabaseInspection, InspectError, LoadBalancerInspection, NetworkInspection};
use crate::operate::{GroupStatus, OperateError};
use crate::ports::{DnsLookup, RdsDirectory, TargetGroups};
use crate::spec::Source;
use crate::sync::{RunOutcome, Selection, SyncEngine, SyncError};

/// The parameter behind `mysql-max-connect-errors`.
const MAX_CONNECT_ERRORS: &str = "max_connect_errors";

/// The ports `doctor` reads besides the engine's.
pub struct Inspection<'a, L, B, N> {
    pub load_balancers: &'a L,
    pub databases: &'a B,
    pub network: &'a N,
}

/// The checks of one target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub arn: String,
    pub name: String,
    pub checks: Vec<Check>,
}

impl Diagnosis {
    /// The worst verdict among the checks (`Pass` when there are none).
    pub fn worst(&self) -> CheckStatus {
        self.checks.iter().map(|c| c.status).max().unwrap_or(CheckStatus::Pass)
    }
}

/// Why `doctor` could not run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DoctorError {
    /// Boxed: the engine's errors carry whole API failures.
    #[error(transparent)]
    Operate(Box<OperateError>),
    #[error("doctor was given an engine that may change target groups; it must be a dry-run engine (please report it)")]
    NotDryRun,
}

impl From<OperateError> for DoctorError {
    fn from(error: OperateError) -> Self {
        DoctorError::Operate(Box::new(error))
    }
}

impl DoctorError {
    /// The failed AWS call that stopped it, if one did.
    pub fn failure_mut(&mut self) -> Option<&mut crate::failure::ApiFailure> {
        match self {
            DoctorError::Operate(error) => error.failure_mut(),
            DoctorError::NotDryRun => None,
        }
    }
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    /// The checks of the named target groups (by name or ARN), or of every
    /// managed one. The engine must be a dry run: the plan it makes changes
    /// nothing. `progress` hears each step.
    pub async fn doctor<L: LoadBalancerInspection, B: DatabaseInspection, N: NetworkInspection>(
        &self,
        references: &[String],
        inspection: &Inspection<'_, L, B, N>,
        progress: &(impl Fn(&str) + Sync),
    ) -> Result<Vec<Diagnosis>, DoctorError> {
        if !self.options().dry_run {
            return Err(DoctorError::NotDryRun);
        }
        progress("resolving the sources and reading target health");
        let statuses = Box::pin(self.status(references)).await?;
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        progress("planning (a dry run)");
        let run = self.sync(&Selection::Only(statuses.iter().map(|s| s.arn.clone()).collect())).await;
        let mut gatherer = Gatherer::new(inspection);
        let mut diagnoses = Vec::new();
        for status in statuses {
            progress(&format!("checking {}", status.name));
            let plan = plan_facts(&run, &status.arn);
            let facts = Box::pin(gatherer.facts(status, plan)).await;
            diagnoses.push(Diagnosis { checks: diagnose(&facts), arn: facts.arn, name: facts.name });
        }
        Ok(diagnoses)
    }
}

fn unread(error: &InspectError) -> Unread {
    Unread::new(error.to_string(), error.fix())
}

/// What the dry run would do to the target group.
fn plan_facts(run: &RunOutcome, arn: &str) -> Read<PlanFacts> {
    if let Some(error) = &run.error {
        return Err(Unread::new(error.to_string(), "run `nlb-target-sync plan` to see the error, fix what it names"));
    }
    let group = run.groups.iter().find(|g| g.arn == arn).ok_or_else(|| {
        Unread::new("the dry run did not cover this target group", "run `nlb-target-sync plan` for this group")
    })?;
    Ok(PlanFacts {
        register: group.registered.clone(),
        deregister: group.deregistered.clone(),
        held_back: group.held_back().to_vec(),
        error: group.error.as_ref().map(ToString::to_string),
    })
}

/// Reads facts through the ports, each load balancer, VPC and parameter
/// group once however many target groups share it.
struct Gatherer<'a, L, B, N> {
    inspection: &'a Inspection<'a, L, B, N>,
    balancers: BTreeMap<String, Result<LoadBalancer, InspectError>>,
    subnets: BTreeMap<String, Result<Vec<Subnet>, InspectError>>,
    services: BTreeMap<String, Result<Vec<EndpointService>, InspectError>>,
    parameters: BTreeMap<String, Result<Option<String>, InspectError>>,
}

impl<'a, L: LoadBalancerInspection, B: DatabaseInspection, N: NetworkInspection> Gatherer<'a, L, B, N> {
    fn new(inspection: &'a Inspection<'a, L, B, N>) -> Self {
        Gatherer {
            inspection,
            balancers: BTreeMap::new(),
            subnets: BTreeMap::new(),
            services: BTreeMap::new(),
            parameters: BTreeMap::new(),
        }
    }

    async fn facts(&mut self, status: GroupStatus, plan: Read<PlanFacts>) -> GroupFacts {
        let details = self.inspection.load_balancers.target_group(&status.arn).await;
        let load_balancers = match &details {
            Ok(details) => self.load_balancers(&details.load_balancer_arns).await,
            Err(error) => Err(unread(error)),
        };
        let subnets = match &details {
            Ok(details) => match &details.vpc_id {
                Some(vpc) => self.subnets(vpc).await,
                None => Err(Unread::new(
                    "ELB names no VPC for the target group",
                    "doctor checks `ip` target groups in a VPC; check the target group's type",
                )),
            },
            Err(error) => Err(unread(error)),
        };
        let mut unresolved: Vec<String> = status.unresolved.iter().map(ToString::to_string).collect();
        let targets = match &status.error {
            Some(error @ SyncError::Elb { .. }) => {
                Err(Unread::new(error.to_string(), "make sure the credentials in use may call DescribeTargetHealth"))
            }
            Some(error) => {
                unresolved.push(error.to_string());
                Ok(status.targets.clone())
            }
            None => Ok(status.targets.clone()),
        };
        let mut databases = Vec::new();
        for source in &status.sources {
            if let Some(database) = self.database(source).await {
                databases.push(database);
            }
        }
        let group_ids: BTreeSet<String> =
            databases.iter().flatten().flat_map(|d: &Database| d.security_groups.iter().cloned()).collect();
        let security_groups = if group_ids.is_empty() {
            Ok(Vec::new())
        } else {
            let ids: Vec<String> = group_ids.into_iter().collect();
            self.inspection.network.security_groups(&ids).await.map_err(|e| unread(&e))
        };
        let endpoint_services = match &load_balancers {
            Ok(balancers) => self.endpoint_services(balancers).await,
            Err(unread) => Err(unread.clone()),
        };
        GroupFacts {
            arn: status.arn,
            name: status.name,
            port: status.port,
            sources: status.sources,
            target_group: details.map_err(|e| unread(&e)),
            load_balancers,
            targets,
            unresolved,
            plan,
            subnets,
            databases,
            security_groups,
            endpoint_services,
        }
    }

    async fn load_balancers(&mut self, arns: &[String]) -> Read<Vec<LoadBalancer>> {
        let mut found = Vec::new();
        for arn in arns {
            if !self.balancers.contains_key(arn) {
                let read = self.inspection.load_balancers.load_balancer(arn).await;
                self.balancers.insert(arn.clone(), read);
            }
            match &self.balancers[arn] {
                Ok(balancer) => found.push(balancer.clone()),
                Err(error) => return Err(unread(error)),
            }
        }
        Ok(found)
    }

    async fn subnets(&mut self, vpc: &str) -> Read<Vec<Subnet>> {
        if !self.subnets.contains_key(vpc) {
            let read = self.inspection.network.subnets(vpc).await;
            self.subnets.insert(vpc.to_string(), read);
        }
        self.subnets[vpc].clone().map_err(|e| unread(&e))
    }

    async fn endpoint_services(&mut self, balancers: &[LoadBalancer]) -> Read<Vec<EndpointService>> {
        let mut found = Vec::new();
        for lb in balancers {
            if !self.services.contains_key(&lb.arn) {
                let read = self.inspection.network.endpoint_services(&lb.arn).await;
                self.services.insert(lb.arn.clone(), read);
            }
            match &self.services[&lb.arn] {
                Ok(services) => found.extend(services.iter().cloned()),
                Err(error) => return Err(unread(error)),
            }
        }
        Ok(found)
    }

    async fn parameter(&mut self, group: &str) -> Read<Option<String>> {
        if !self.parameters.contains_key(group) {
            let read = self.inspection.databases.parameter(group, MAX_CONNECT_ERRORS).await;
            self.parameters.insert(group.to_string(), read);
        }
        self.parameters[group].clone().map_err(|e| unread(&e))
    }

    /// The RDS resource a source names; `None` for a `dns:` source.
    async fn database(&mut self, source: &Source) -> Option<Read<Database>> {
        let fail = |error: InspectError| Unread::new(format!("{source}: {error}"), error.fix());
        let databases = self.inspection.databases;
        Some(match source {
            Source::Dns { .. } => return None,
            // Every member of a cluster: a failover can make any of them the writer.
            Source::Cluster { id, .. } => match databases.cluster(id).await {
                Ok(c) => {
                    Ok(self.direct(source, format!("DB cluster {id}"), c.engine, c.security_groups, &c.members).await)
                }
                Err(error) => Err(fail(error)),
            },
            Source::Instance { id } => match databases.instance(id).await {
                Ok(i) => {
                    let label = format!("DB instance {id}");
                    Ok(self.direct(source, label, i.engine, i.security_groups, std::slice::from_ref(id)).await)
                }
                Err(error) => Err(fail(error)),
            },
            Source::Proxy { name, endpoint } => match databases.proxy(name, endpoint.as_deref()).await {
                Ok(proxy) => Ok(Database {
                    source: source.clone(),
                    label: match endpoint {
                        Some(endpoint) => format!("RDS Proxy endpoint {name}:{endpoint}"),
                        None => format!("RDS Proxy {name}"),
                    },
                    engine: proxy.engine_family,
                    is_proxy: true,
                    security_groups: proxy.security_groups,
                    connect_errors: Vec::new(),
                }),
                Err(error) => Err(fail(error)),
            },
        })
    }

    /// A database reached directly (no proxy): for a MySQL-family engine,
    /// with `max_connect_errors` of its `instances`.
    async fn direct(
        &mut self,
        source: &Source,
        label: String,
        engine: String,
        security_groups: Vec<String>,
        instances: &[String],
    ) -> Database {
        let connect_errors = if is_mysql_family(&engine) { self.connect_errors(instances).await } else { Vec::new() };
        Database { source: source.clone(), label, engine, is_proxy: false, security_groups, connect_errors }
    }

    /// `max_connect_errors` of each parameter group of each instance.
    async fn connect_errors(&mut self, instances: &[String]) -> Vec<ConnectErrorsSetting> {
        let mut settings = Vec::new();
        for instance in instances {
            match self.inspection.databases.instance(instance).await {
                Ok(details) => {
                    for group in details.parameter_groups {
                        let value = self.parameter(&group).await;
                        settings.push(ConnectErrorsSetting {
                            instance: instance.clone(),
                            parameter_group: group,
                            value,
                        });
                    }
                }
                Err(error) => settings.push(ConnectErrorsSetting {
                    instance: instance.clone(),
                    parameter_group: format!("the parameter groups of {instance}"),
                    value: Err(unread(&error)),
                }),
            }
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::doctor::check::CheckId;
    use crate::doctor::facts::{Cidr, IngressRule, Listener, SecurityGroup, TargetGroupDetails, ZoneSubnet};
    use crate::doctor::ports::{ClusterDetails, InstanceDetails, ProxyDetails};
    use crate::failure::ApiFailure;
    use crate::fakes::{FakeDns, FakeElb, FakeRds};
    use crate::sync::SyncOptions;

    const LB: &str = "arn:lb/net/shared/1";

    /// The three inspection ports in memory: one NLB every group is
    /// attached to, one MySQL instance `db-1` whose parameter group sets
    /// nothing, a security group admitting the NLB's group.
    #[derive(Default)]
    struct FakeInspection {
        load_balancer_reads: AtomicUsize,
        parameter_reads: AtomicUsize,
        missing_instances: Mutex<Vec<String>>,
    }

    fn refused(api: &'static str, operation: &'static str, resource: &str) -> InspectError {
        InspectError { api, operation, resource: resource.into(), failure: ApiFailure::message("AccessDenied") }
    }

    impl LoadBalancerInspection for FakeInspection {
        async fn target_group(&self, _: &str) -> Result<TargetGroupDetails, InspectError> {
            let attributes = [("deregistration_delay.timeout_seconds", "300")];
            Ok(TargetGroupDetails {
                vpc_id: Some("vpc-1".into()),
                load_balancer_arns: vec![LB.into()],
                attributes: attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            })
        }
        async fn load_balancer(&self, arn: &str) -> Result<LoadBalancer, InspectError> {
            self.load_balancer_reads.fetch_add(1, Ordering::SeqCst);
            Ok(LoadBalancer {
                arn: arn.into(),
                name: "shared".into(),
                kind: "network".into(),
                zones: vec![ZoneSubnet { zone: "us-east-1a".into(), subnet_id: Some("subnet-a".into()) }],
                security_groups: vec!["sg-nlb".into()],
                attributes: BTreeMap::new(),
                listeners: ["a", "b"]
                    .iter()
                    .map(|name| Listener {
                        protocol: "TCP".into(),
                        port: Some(5432),
                        forwards_to: vec![format!("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/{name}/1")],
                    })
                    .collect(),
            })
        }
    }

    impl DatabaseInspection for FakeInspection {
        async fn cluster(&self, id: &str) -> Result<ClusterDetails, InspectError> {
            Err(refused("RDS", "DescribeDBClusters", id))
        }
        async fn instance(&self, id: &str) -> Result<InstanceDetails, InspectError> {
            if self.missing_instances.lock().unwrap().iter().any(|m| m == id) {
                return Err(refused("RDS", "DescribeDBInstances", id));
            }
            Ok(InstanceDetails {
                engine: "mysql".into(),
                security_groups: vec!["sg-db".into()],
                parameter_groups: vec!["mysql-params".into()],
            })
        }
        async fn proxy(&self, name: &str, _: Option<&str>) -> Result<ProxyDetails, InspectError> {
            Err(refused("RDS", "DescribeDBProxies", name))
        }
        async fn parameter(&self, _: &str, parameter: &str) -> Result<Option<String>, InspectError> {
            assert_eq!(parameter, MAX_CONNECT_ERRORS);
            self.parameter_reads.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        }
    }

    impl NetworkInspection for FakeInspection {
        async fn subnets(&self, _: &str) -> Result<Vec<Subnet>, InspectError> {
            Ok(vec![Subnet {
                id: "subnet-a".into(),
                zone: "us-east-1a".into(),
                cidrs: vec![Cidr::parse("10.0.1.0/24").unwrap()],
            }])
        }
        async fn security_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroup>, InspectError> {
            assert_eq!(ids, ["sg-db"]);
            Ok(vec![SecurityGroup {
                id: "sg-db".into(),
                name: "db".into(),
                ingress: vec![IngressRule {
                    protocol: "tcp".into(),
                    from_port: Some(5432),
                    to_port: Some(5432),
                    cidrs: vec![],
                    groups: vec!["sg-nlb".into()],
                }],
            }])
        }
        async fn endpoint_services(&self, arn: &str) -> Result<Vec<EndpointService>, InspectError> {
            Err(refused("EC2", "DescribeVpcEndpointServiceConfigurations", arn))
        }
    }

    fn engine(dry_run: bool) -> SyncEngine<FakeElb, FakeRds, FakeDns> {
        let rds = FakeRds::default();
        rds.instance("db-1", Some("db-1.test"));
        let dns = FakeDns::default();
        dns.set("db-1.test", &["10.0.1.1"]);
        SyncEngine::new(FakeElb::default(), rds, dns, SyncOptions { dry_run, ..SyncOptions::default() })
    }

    fn verdicts(diagnosis: &Diagnosis) -> Vec<(CheckId, CheckStatus)> {
        diagnosis.checks.iter().map(|c| (c.id, c.status)).collect()
    }

    #[tokio::test]
    async fn doctor_reads_each_shared_fact_once_and_changes_nothing() {
        let e = engine(true);
        e.elb().group("a", Some("rds-instance:db-1"));
        let b = e.elb().group("b", Some("rds-instance:db-1"));
        e.elb().seed(&b, "10.0.1.1");
        let fake = FakeInspection::default();
        let inspection = Inspection { load_balancers: &fake, databases: &fake, network: &fake };
        let steps = Mutex::new(Vec::new());
        let diagnoses =
            e.doctor(&[], &inspection, &|step: &str| steps.lock().unwrap().push(step.to_string())).await.unwrap();
        assert_eq!(diagnoses.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        use CheckId::*;
        use CheckStatus::*;
        assert_eq!(
            verdicts(&diagnoses[0]),
            [
                (LoadBalancer, Pass),
                (TargetHealth, Fail),
                (InSync, Warn),
                (ConnectionTermination, Warn),
                (DeregistrationDelay, Warn),
                (CrossZone, Pass),
                (SecurityGroupPath, Pass),
                (MysqlMaxConnectErrors, Warn),
                (EndpointService, Fail),
            ],
            "{:#?}",
            diagnoses[0].checks
        );
        assert_eq!(diagnoses[0].worst(), Fail);
        let b_checks = verdicts(&diagnoses[1]);
        assert!(b_checks.contains(&(TargetHealth, Pass)) && b_checks.contains(&(InSync, Pass)), "{b_checks:?}");
        assert_eq!(fake.load_balancer_reads.load(Ordering::SeqCst), 1, "the shared NLB is read once");
        assert_eq!(fake.parameter_reads.load(Ordering::SeqCst), 1, "the shared parameter group is read once");
        assert_eq!(e.elb().mutations.load(Ordering::SeqCst), 0, "doctor changes nothing");
        assert!(steps.lock().unwrap().contains(&"checking b".to_string()), "{steps:?}");
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_read_fails_its_checks_naming_the_source() {
        let e = engine(true);
        e.elb().group("a", Some("rds-instance:db-1"));
        let fake = FakeInspection::default();
        fake.missing_instances.lock().unwrap().push("db-1".into());
        let inspection = Inspection { load_balancers: &fake, databases: &fake, network: &fake };
        let diagnoses = e.doctor(&["a".into()], &inspection, &|_| {}).await.unwrap();
        let path = diagnoses[0].checks.iter().find(|c| c.id == CheckId::SecurityGroupPath).unwrap();
        assert_eq!(path.status, CheckStatus::Fail);
        assert!(
            path.message.starts_with("cannot check: rds-instance:db-1: RDS DescribeDBInstances on db-1"),
            "{path:?}"
        );
        assert!(path.fix.as_deref().unwrap().contains("rds:DescribeDBInstances"), "{path:?}");
    }

    #[tokio::test]
    async fn doctor_refuses_an_engine_that_may_write_and_a_name_that_matches_nothing() {
        let fake = FakeInspection::default();
        let inspection = Inspection { load_balancers: &fake, databases: &fake, network: &fake };
        assert_eq!(engine(false).doctor(&[], &inspection, &|_| {}).await.unwrap_err(), DoctorError::NotDryRun);
        let error = engine(true).doctor(&["nope".into()], &inspection, &|_| {}).await.unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
        assert!(engine(true).doctor(&[], &inspection, &|_| {}).await.unwrap().is_empty());
    }
}
