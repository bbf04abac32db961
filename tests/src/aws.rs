//! Fixtures in the AWS stand-in: EC2 networks (raw query API), ELBv2 and RDS
//! (SDK).
//!
//! Every helper panics with the API error when a call fails: they are test
//! set-up and inspection steps, not code under test.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_elasticloadbalancingv2 as elbv2;
use aws_sdk_rds as rds;
use elbv2::types::{
    Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum, Tag, TargetDescription,
    TargetGroupAttribute, TargetGroupIpAddressTypeEnum, TargetTypeEnum,
};
use rds::types::{AuthScheme, DbProxyEndpointTargetRole, EngineFamily, IamAuthMode, UserAuthConfig};
use serde_json::{Value, json};

use crate::moto::{ACCESS_KEY_ID, REGION};

/// Tag key holding a target group's sources (space-separated tokens such as
/// `rds-cluster:<id>:writer`, `rds-proxy:<name>`, `dns:<hostname>`).
pub const SOURCES_TAG: &str = "nlb-target-sync:sources";
/// Tag key holding the optional target port of a target group.
pub const PORT_TAG: &str = "nlb-target-sync:port";
/// Tag key the functions write on every change: the view time of the applied
/// answers (Unix ms).
pub const VIEW_TAG: &str = "nlb-target-sync:applied-view";
/// Tag key the functions write for `dns:` sources: what the target group
/// remembers of each name (`r` rotating or `s` steady, the name's hash, its
/// last answer, the addresses it stopped answering and since when).
pub const ABSENT_TAG: &str = "nlb-target-sync:absent";

/// The port of the target groups the helpers create (PostgreSQL).
pub(crate) const TARGET_PORT: i32 = 5432;

/// Address family of an `ip` target group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    /// `IpAddressType=ipv4`.
    V4,
    /// `IpAddressType=ipv6`.
    V6,
}

/// A VPC with two subnets in different availability zones.
#[derive(Clone, Debug)]
pub struct Network {
    /// `vpc-...`
    pub vpc_id: String,
    /// `subnet-...` in `us-east-1a` and `us-east-1b`.
    pub subnet_ids: Vec<String>,
}

/// A target group created by [`Aws::create_ip_target_group`].
#[derive(Clone, Debug)]
pub struct TargetGroup {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
}

/// One target as DescribeTargetHealth reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetState {
    /// `ip:port` (`[ipv6]:port` for IPv6).
    pub target: String,
    /// ELB's state: `initial`, `healthy`, `unhealthy`, `draining`, ...
    pub state: String,
    /// ELB's reason code, e.g. `Elb.RegistrationInProgress`; none when healthy.
    pub reason: Option<String>,
    /// The AvailabilityZone: `all` for an address outside the VPC registered
    /// so, else the zone of the subnet holding the address.
    pub zone: Option<String>,
}

/// An Aurora PostgreSQL cluster created by [`Aws::create_aurora_cluster`].
#[derive(Clone, Debug)]
pub struct AuroraCluster {
    /// `DBClusterIdentifier`.
    pub id: String,
    /// The cluster (writer) endpoint, `<id>.cluster-<random>.<region>.rds.amazonaws.com`.
    pub endpoint: String,
    /// The reader endpoint, `<id>.cluster-ro-<random>...`.
    pub reader_endpoint: String,
    /// Instance identifiers `<id>-0`, `<id>-1`, ... in creation order. moto
    /// makes the first one the writer.
    pub instances: Vec<String>,
    /// `Endpoint.Address` of each instance, same order as `instances`.
    pub addresses: Vec<String>,
}

impl AuroraCluster {
    /// The `Endpoint.Address` of `instance`.
    ///
    /// # Panics
    ///
    /// If `instance` is not a member.
    pub fn address_of(&self, instance: &str) -> &str {
        let i = self
            .instances
            .iter()
            .position(|i| i == instance)
            .unwrap_or_else(|| panic!("{instance} is not a member of {}", self.id));
        &self.addresses[i]
    }
}

/// SDK clients pointed at one moto server, plus fixture helpers. Obtain it
/// with [`crate::Moto::aws`].
#[derive(Clone, Debug)]
pub struct Aws {
    /// ELBv2 client.
    pub elb: elbv2::Client,
    /// RDS client.
    pub rds: rds::Client,
    /// DynamoDB client (the functions' lease table).
    pub dynamodb: aws_sdk_dynamodb::Client,
    endpoint: String,
}

impl Aws {
    pub(crate) fn new(config: &SdkConfig, endpoint: String) -> Aws {
        Aws {
            elb: elbv2::Client::new(config),
            rds: rds::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            endpoint,
        }
    }

    /// Creates the lease table as `template.yaml`'s `LeaseTable` is made
    /// (partition key `targetGroup`, a string); returns its name.
    pub async fn create_lease_table(&self, name: &str) -> String {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let key = "targetGroup";
        self.dynamodb
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition"),
            )
            .key_schema(KeySchemaElement::builder().attribute_name(key).key_type(KeyType::Hash).build().expect("key"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateTable {name}: {e:?}"));
        name.to_string()
    }

    /// Who holds the lease on `target_group_arn` in `table`, if anyone.
    pub async fn lease_holder(&self, table: &str, target_group_arn: &str) -> Option<String> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let got = self
            .dynamodb
            .get_item()
            .table_name(table)
            .key("targetGroup", AttributeValue::S(target_group_arn.to_string()))
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetItem {table}: {e:?}"));
        got.item().and_then(|item| item.get("owner")).and_then(|v| v.as_s().ok()).cloned()
    }

    // ----- EC2 (query API over plain HTTP; aws-sdk-ec2 is too slow to build) -----

    /// Calls an EC2 query API action and returns the XML response.
    ///
    /// moto picks the service from the credential scope of the
    /// `Authorization` header and does not check the signature.
    pub async fn ec2_call(&self, action: &str, params: &[(&str, &str)]) -> String {
        let mut form = format!("Action={action}&Version=2016-11-15");
        for (key, value) in params {
            write!(form, "&{}={}", url_encode(key), url_encode(value)).unwrap();
        }
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20260101/{REGION}/ec2/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        let response = crate::http::post(
            &format!("{}/", self.endpoint),
            &[("authorization", &authorization), ("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
            form,
            Duration::from_secs(60),
        )
        .await
        .unwrap_or_else(|e| panic!("EC2 {action}: {e}"));
        let text = response.text();
        assert_eq!(response.status, 200, "EC2 {action} {params:?} failed: {text}");
        text
    }

    /// Creates a VPC and returns its id.
    pub async fn create_vpc(&self, cidr: &str) -> String {
        let xml = self.ec2_call("CreateVpc", &[("CidrBlock", cidr)]).await;
        xml_value(&xml, "vpcId").unwrap_or_else(|| panic!("no vpcId in CreateVpc response: {xml}"))
    }

    /// Creates a subnet and returns its id.
    pub async fn create_subnet(&self, vpc_id: &str, cidr: &str, availability_zone: &str) -> String {
        let xml = self
            .ec2_call(
                "CreateSubnet",
                &[("VpcId", vpc_id), ("CidrBlock", cidr), ("AvailabilityZone", availability_zone)],
            )
            .await;
        xml_value(&xml, "subnetId").unwrap_or_else(|| panic!("no subnetId in CreateSubnet response: {xml}"))
    }

    /// Creates a VPC with the `/16` block `cidr` (e.g. `10.1.0.0/16`) and the
    /// subnets `10.1.1.0/24` in `us-east-1a` and `10.1.2.0/24` in `us-east-1b`.
    pub async fn create_network(&self, cidr: &str) -> Network {
        let prefix: Vec<&str> = cidr.split('.').take(2).collect();
        assert!(cidr.ends_with("/16") && prefix.len() == 2, "expected a /16 block: {cidr}");
        let vpc_id = self.create_vpc(cidr).await;
        let mut subnet_ids = Vec::new();
        for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
            let subnet = format!("{}.{}.{}.0/24", prefix[0], prefix[1], i + 1);
            subnet_ids.push(self.create_subnet(&vpc_id, &subnet, zone).await);
        }
        Network { vpc_id, subnet_ids }
    }

    // ----- ELBv2 -----

    /// Creates an internal network load balancer and returns its ARN.
    pub async fn create_nlb(&self, name: &str, subnet_ids: &[String]) -> String {
        self.create_nlb_with_security_groups(name, subnet_ids, &[]).await
    }

    /// [`Aws::create_nlb`] with security groups (none: an NLB without any).
    pub async fn create_nlb_with_security_groups(
        &self,
        name: &str,
        subnet_ids: &[String],
        groups: &[String],
    ) -> String {
        let out = self
            .elb
            .create_load_balancer()
            .name(name)
            .r#type(LoadBalancerTypeEnum::Network)
            .scheme(LoadBalancerSchemeEnum::Internal)
            .set_subnets(Some(subnet_ids.to_vec()))
            .set_security_groups((!groups.is_empty()).then(|| groups.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateLoadBalancer {name}: {e:?}"));
        out.load_balancers()[0].load_balancer_arn().expect("load balancer ARN").to_owned()
    }

    /// Creates a TCP `ip` target group on port 5432 in `vpc_id`, with a
    /// deregistration delay of 0 s (see [`Aws::set_deregistration_delay`]).
    pub async fn create_ip_target_group(&self, name: &str, vpc_id: &str, family: IpFamily) -> TargetGroup {
        let ip_type = match family {
            IpFamily::V4 => TargetGroupIpAddressTypeEnum::Ipv4,
            IpFamily::V6 => TargetGroupIpAddressTypeEnum::Ipv6,
        };
        let out = self
            .elb
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::Tcp)
            .port(TARGET_PORT)
            .vpc_id(vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .ip_address_type(ip_type)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateTargetGroup {name}: {e:?}"));
        let tg = &out.target_groups()[0];
        let tg = TargetGroup {
            arn: tg.target_group_arn().expect("target group ARN").to_owned(),
            name: tg.target_group_name().expect("target group name").to_owned(),
        };
        self.set_deregistration_delay(&tg.arn, Duration::ZERO).await;
        tg
    }

    /// Sets the target group's `deregistration_delay.timeout_seconds`: how
    /// long a deregistered target stays `draining` in the stand-in. The
    /// fixtures start at 0 (gone at once; ELB's default is 300 s), so only
    /// tests about draining see it.
    pub async fn set_deregistration_delay(&self, target_group_arn: &str, delay: Duration) {
        self.elb
            .modify_target_group_attributes()
            .target_group_arn(target_group_arn)
            .attributes(
                TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value(delay.as_secs().to_string())
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("ModifyTargetGroupAttributes {target_group_arn} {delay:?}: {e:?}"));
    }

    /// Adds a TCP listener on `port` to the load balancer, forwarding to the
    /// target group (this is what attaches a target group to an NLB).
    pub async fn create_listener(&self, load_balancer_arn: &str, port: i32, target_group_arn: &str) {
        self.elb
            .create_listener()
            .load_balancer_arn(load_balancer_arn)
            .protocol(ProtocolEnum::Tcp)
            .port(port)
            .default_actions(
                Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(target_group_arn).build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateListener {port} -> {target_group_arn}: {e:?}"));
    }

    /// Adds (or overwrites) tags on a resource.
    pub async fn tag(&self, arn: &str, tags: &[(&str, &str)]) {
        self.elb
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build()).collect()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("AddTags {arn} {tags:?}: {e:?}"));
    }

    /// Sets the `nlb-target-sync:sources` tag of a target group.
    pub async fn set_sources(&self, target_group_arn: &str, sources: &str) {
        self.tag(target_group_arn, &[(SOURCES_TAG, sources)]).await;
    }

    /// The tags of a resource, as `(key, value)` pairs (see [`tag_value`]).
    pub async fn tags(&self, arn: &str) -> Vec<(String, String)> {
        let out = self
            .elb
            .describe_tags()
            .resource_arns(arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeTags {arn}: {e:?}"));
        out.tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
            .collect()
    }

    /// Registers targets directly (to seed state). Each target is `ip`,
    /// `ip:port` or `[ipv6]:port`; without a port the target group's port
    /// applies. Like ELB, the stand-in refuses addresses outside the VPC
    /// here: seed those with [`Aws::register_targets_outside_vpc`].
    pub async fn register_targets(&self, target_group_arn: &str, targets: &[&str]) {
        self.register_in_zone(target_group_arn, targets, None).await;
    }

    /// [`Aws::register_targets`] with `AvailabilityZone=all`, as addresses
    /// outside the target group's VPC must be registered.
    pub async fn register_targets_outside_vpc(&self, target_group_arn: &str, targets: &[&str]) {
        self.register_in_zone(target_group_arn, targets, Some("all")).await;
    }

    async fn register_in_zone(&self, target_group_arn: &str, targets: &[&str], zone: Option<&str>) {
        self.elb
            .register_targets()
            .target_group_arn(target_group_arn)
            .set_targets(Some(targets.iter().map(|t| target_description(t, zone)).collect()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("RegisterTargets {target_group_arn} {targets:?} (zone {zone:?}): {e:?}"));
    }

    /// The registered targets of a target group (every state, `draining`
    /// included), as sorted `ip:port` strings (`[ipv6]:port` for IPv6).
    pub async fn registered_targets(&self, target_group_arn: &str) -> Vec<String> {
        self.target_states(target_group_arn).await.into_iter().map(|t| t.target).collect()
    }

    /// What DescribeTargetHealth says of every target, sorted by target.
    pub async fn target_states(&self, target_group_arn: &str) -> Vec<TargetState> {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeTargetHealth {target_group_arn}: {e:?}"));
        let mut states: Vec<TargetState> = out
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let t = d.target()?;
                let id = t.id().unwrap_or_default();
                let target = match (id.parse::<IpAddr>(), t.port()) {
                    (Ok(ip), Some(port)) => SocketAddr::new(ip, port as u16).to_string(),
                    (_, Some(port)) => format!("{id}:{port}"),
                    (_, None) => id.to_owned(),
                };
                let health = d.target_health();
                Some(TargetState {
                    target,
                    state: health.and_then(|h| h.state()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    reason: health.and_then(|h| h.reason()).map(|r| r.as_str().to_owned()),
                    zone: t.availability_zone().map(str::to_owned),
                })
            })
            .collect();
        states.sort_by(|a, b| a.target.cmp(&b.target));
        states
    }

    /// The state of one target (`initial`, `healthy`, `draining`, ...), `None`
    /// when the target group does not list it.
    pub async fn state_of(&self, target_group_arn: &str, target: &str) -> Option<String> {
        self.target_states(target_group_arn).await.into_iter().find(|t| t.target == target).map(|t| t.state)
    }

    // ----- RDS -----

    /// Creates an Aurora PostgreSQL cluster `id` with `instances` instances
    /// named `<id>-0`, `<id>-1`, ...; moto makes `<id>-0` the writer.
    pub async fn create_aurora_cluster(&self, id: &str, instances: usize) -> AuroraCluster {
        self.create_cluster(id, "aurora-postgresql", instances).await
    }

    /// Creates a cluster `id` of `engine` (`aurora-postgresql`, `docdb`,
    /// `neptune`, ...) with `instances` instances named `<id>-0`, `<id>-1`,
    /// ...; moto makes `<id>-0` the writer.
    pub async fn create_cluster(&self, id: &str, engine: &str, instances: usize) -> AuroraCluster {
        let created = self
            .rds
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine(engine)
            .master_username("admin1")
            .master_user_password("not-a-secret-1")
            .send()
            .await;
        let cluster = match created {
            Ok(out) => out.db_cluster().expect("DBCluster").clone(),
            // On a loaded machine the SDK may retry a create that moto had
            // already made (its retry then fails on the automated snapshot's
            // name): the cluster is there, so use it.
            Err(e) => {
                let found = self.rds.describe_db_clusters().db_cluster_identifier(id).send().await;
                let found = found.unwrap_or_else(|_| panic!("CreateDBCluster {id} ({engine}): {e:?}"));
                found.db_clusters().first().cloned().unwrap_or_else(|| panic!("CreateDBCluster {id}: {e:?}"))
            }
        };
        let endpoint = cluster.endpoint().unwrap_or_default().to_owned();
        let reader_endpoint = cluster.reader_endpoint().unwrap_or_default().to_owned();
        let mut names = Vec::new();
        let mut addresses = Vec::new();
        for i in 0..instances {
            let name = format!("{id}-{i}");
            addresses.push(self.add_instance_of(id, engine, &name).await);
            names.push(name);
        }
        AuroraCluster { id: id.to_owned(), endpoint, reader_endpoint, instances: names, addresses }
    }

    /// `FailoverDBCluster` to the given instance.
    pub async fn failover_cluster(&self, cluster_id: &str, target_instance: &str) {
        self.rds
            .failover_db_cluster()
            .db_cluster_identifier(cluster_id)
            .target_db_instance_identifier(target_instance)
            .send()
            .await
            .unwrap_or_else(|e| panic!("FailoverDBCluster {cluster_id} -> {target_instance}: {e:?}"));
    }

    /// The instance identifier of the cluster's current writer.
    pub async fn cluster_writer(&self, cluster_id: &str) -> String {
        let out = self
            .rds
            .describe_db_clusters()
            .db_cluster_identifier(cluster_id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeDBClusters {cluster_id}: {e:?}"));
        out.db_clusters()[0]
            .db_cluster_members()
            .iter()
            .find(|m| m.is_cluster_writer() == Some(true))
            .and_then(|m| m.db_instance_identifier())
            .unwrap_or_else(|| panic!("{cluster_id} has no writer"))
            .to_owned()
    }

    /// `Endpoint.Address` of a DB instance.
    pub async fn instance_address(&self, instance_id: &str) -> String {
        let out = self
            .rds
            .describe_db_instances()
            .db_instance_identifier(instance_id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeDBInstances {instance_id}: {e:?}"));
        out.db_instances()[0]
            .endpoint()
            .and_then(|e| e.address())
            .unwrap_or_else(|| panic!("no Endpoint.Address for {instance_id}"))
            .to_owned()
    }

    /// Creates a standalone PostgreSQL instance and returns its
    /// `Endpoint.Address` (`<id>.<random>.<region>.rds.amazonaws.com`).
    pub async fn create_rds_instance(&self, id: &str) -> String {
        let out = self
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine("postgres")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("postgres")
            .master_user_password("not-a-secret-1")
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDBInstance {id}: {e:?}"));
        created_address(&out, id)
    }

    /// Adds an instance `name` to cluster `cluster_id` (a new reader, as Aurora
    /// auto scaling adds them) and returns its `Endpoint.Address`.
    pub async fn add_cluster_instance(&self, cluster_id: &str, name: &str) -> String {
        self.add_instance_of(cluster_id, "aurora-postgresql", name).await
    }

    async fn add_instance_of(&self, cluster_id: &str, engine: &str, name: &str) -> String {
        let out = self
            .rds
            .create_db_instance()
            .db_instance_identifier(name)
            .db_cluster_identifier(cluster_id)
            .engine(engine)
            .db_instance_class("db.r6g.large")
            .send()
            .await;
        match out {
            Ok(out) => created_address(&out, name),
            // As for the cluster: a retried create that moto had already made.
            Err(e) => {
                let found = self.rds.describe_db_instances().db_instance_identifier(name).send().await;
                let found = found.unwrap_or_else(|_| panic!("CreateDBInstance {name} in {cluster_id}: {e:?}"));
                let address = found.db_instances().first().and_then(|i| i.endpoint()).and_then(|e| e.address());
                address.unwrap_or_else(|| panic!("CreateDBInstance {name}: {e:?}")).to_owned()
            }
        }
    }

    /// Deletes a DB instance (a cluster member leaves the cluster).
    pub async fn delete_instance(&self, id: &str) {
        self.rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .skip_final_snapshot(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteDBInstance {id}: {e:?}"));
    }

    /// The ARN of a DB instance or, with `cluster`, of a DB cluster.
    pub async fn rds_arn(&self, id: &str, cluster: bool) -> String {
        if cluster {
            let out = self.rds.describe_db_clusters().db_cluster_identifier(id).send().await;
            let out = out.unwrap_or_else(|e| panic!("DescribeDBClusters {id}: {e:?}"));
            out.db_clusters()[0].db_cluster_arn().unwrap_or_else(|| panic!("no ARN for {id}")).to_owned()
        } else {
            let out = self.rds.describe_db_instances().db_instance_identifier(id).send().await;
            let out = out.unwrap_or_else(|e| panic!("DescribeDBInstances {id}: {e:?}"));
            out.db_instances()[0].db_instance_arn().unwrap_or_else(|| panic!("no ARN for {id}")).to_owned()
        }
    }

    /// Creates a Blue/Green deployment of the database `source_arn` and returns
    /// its identifier (`bgd-...`) and the green database's ARN.
    pub async fn create_blue_green_deployment(&self, name: &str, source_arn: &str) -> (String, String) {
        let out = self
            .rds
            .create_blue_green_deployment()
            .blue_green_deployment_name(name)
            .source(source_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateBlueGreenDeployment {name}: {e:?}"));
        let deployment = out.blue_green_deployment().expect("BlueGreenDeployment");
        let id = deployment.blue_green_deployment_identifier().expect("identifier").to_owned();
        (id, deployment.target().expect("Target").to_owned())
    }

    /// Switches a Blue/Green deployment over: green takes the production
    /// names, blue becomes `<name>-old1`.
    pub async fn switchover_blue_green_deployment(&self, id: &str) {
        self.rds
            .switchover_blue_green_deployment()
            .blue_green_deployment_identifier(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SwitchoverBlueGreenDeployment {id}: {e:?}"));
    }

    /// Creates a PostgreSQL RDS Proxy in the given subnets and returns its
    /// (default) `Endpoint`, `<name>.db-proxy-<random>.<region>.rds.amazonaws.com`
    /// in moto.
    pub async fn create_db_proxy(&self, name: &str, subnet_ids: &[String]) -> String {
        self.create_db_proxy_in(name, EngineFamily::Postgresql, subnet_ids, &[]).await
    }

    /// [`Aws::create_db_proxy`] of `family` in `security_groups` (none: the
    /// VPC's default group).
    pub async fn create_db_proxy_in(
        &self,
        name: &str,
        family: EngineFamily,
        subnet_ids: &[String],
        security_groups: &[String],
    ) -> String {
        let out = self
            .rds
            .create_db_proxy()
            .db_proxy_name(name)
            .engine_family(family)
            .auth(
                UserAuthConfig::builder()
                    .auth_scheme(AuthScheme::Secrets)
                    .secret_arn(format!("arn:aws:secretsmanager:{REGION}:123456789012:secret:{name}-creds"))
                    .iam_auth(IamAuthMode::Disabled)
                    .build(),
            )
            .role_arn("arn:aws:iam::123456789012:role/rds-proxy")
            .set_vpc_subnet_ids(Some(subnet_ids.to_vec()))
            .set_vpc_security_group_ids((!security_groups.is_empty()).then(|| security_groups.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDBProxy {name}: {e:?}"));
        out.db_proxy().and_then(|p| p.endpoint()).unwrap_or_else(|| panic!("no Endpoint for proxy {name}")).to_owned()
    }

    /// Creates a custom endpoint `name` of the proxy `proxy` in the given
    /// subnets (read-write, or read-only when `read_only`) and returns its
    /// `Endpoint`, `<name>.endpoint.proxy-<random>.<region>.rds.amazonaws.com`.
    pub async fn create_db_proxy_endpoint(
        &self,
        proxy: &str,
        name: &str,
        subnet_ids: &[String],
        read_only: bool,
    ) -> String {
        let role = if read_only { DbProxyEndpointTargetRole::ReadOnly } else { DbProxyEndpointTargetRole::ReadWrite };
        let out = self
            .rds
            .create_db_proxy_endpoint()
            .db_proxy_name(proxy)
            .db_proxy_endpoint_name(name)
            .set_vpc_subnet_ids(Some(subnet_ids.to_vec()))
            .target_role(role)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDBProxyEndpoint {proxy}:{name}: {e:?}"));
        out.db_proxy_endpoint()
            .and_then(|e| e.endpoint())
            .unwrap_or_else(|| panic!("no Endpoint for proxy endpoint {proxy}:{name}"))
            .to_owned()
    }
}

/// The EventBridge "Scheduled Event" envelope that a SAM `Schedule` event
/// delivers.
pub fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:123456789012:rule/nlb-target-sync-schedule")],
        "detail": {}
    })
}

fn target_description(target: &str, zone: Option<&str>) -> TargetDescription {
    let builder = TargetDescription::builder().set_availability_zone(zone.map(str::to_owned));
    if let Ok(addr) = target.parse::<SocketAddr>() {
        builder.id(addr.ip().to_string()).port(addr.port().into()).build()
    } else {
        builder.id(target).build()
    }
}

/// `Endpoint.Address` of the DB instance `id` a CreateDBInstance made.
pub(crate) fn created_address(out: &rds::operation::create_db_instance::CreateDbInstanceOutput, id: &str) -> String {
    out.db_instance()
        .and_then(|i| i.endpoint())
        .and_then(|e| e.address())
        .unwrap_or_else(|| panic!("no Endpoint.Address for {id}"))
        .to_owned()
}

/// The text of the first `<tag>...</tag>` element.
pub(crate) fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].to_owned())
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            write!(out, "%{byte:02X}").unwrap();
        }
    }
    out
}

/// The value of tag `key` among `tags` (as [`Aws::tags`] lists them).
pub fn tag_value<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Moto;

    #[test]
    fn encodes_form_values() {
        assert_eq!(url_encode("10.1.0.0/16"), "10.1.0.0%2F16");
        assert_eq!(url_encode("a b&c"), "a%20b%26c");
    }

    #[test]
    fn reads_xml_values() {
        let xml = "<r><vpc><vpcId>vpc-123</vpcId></vpc></r>";
        assert_eq!(xml_value(xml, "vpcId").as_deref(), Some("vpc-123"));
        assert_eq!(xml_value(xml, "subnetId"), None);
    }

    /// The fixtures against a real moto: what the sync tests rely on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fixtures_work_against_moto() {
        let moto = Moto::start().await;
        let aws = moto.aws().await;

        let net = aws.create_network("10.3.0.0/16").await;
        assert!(net.vpc_id.starts_with("vpc-"));
        assert_eq!(net.subnet_ids.len(), 2);
        assert!(net.subnet_ids.iter().all(|s| s.starts_with("subnet-")));

        let nlb = aws.create_nlb("nlb-fixtures", &net.subnet_ids).await;
        let tg = aws.create_ip_target_group("tg-fixtures", &net.vpc_id, IpFamily::V4).await;
        let tg6 = aws.create_ip_target_group("tg-fixtures-6", &net.vpc_id, IpFamily::V6).await;
        aws.create_listener(&nlb, 5432, &tg.arn).await;
        aws.create_listener(&nlb, 5433, &tg6.arn).await;
        aws.set_sources(&tg.arn, "dns:db.example.internal").await;
        assert!(aws.tags(&tg.arn).await.contains(&(SOURCES_TAG.into(), "dns:db.example.internal".into())));

        assert!(aws.registered_targets(&tg.arn).await.is_empty());
        aws.register_targets(&tg.arn, &["10.3.1.20:5432", "10.3.1.10"]).await;
        assert_eq!(aws.registered_targets(&tg.arn).await, vec!["10.3.1.10:5432", "10.3.1.20:5432"]);
        // The sandbox VPC has no IPv6 block, so every IPv6 address is outside it.
        aws.register_targets_outside_vpc(&tg6.arn, &["[fd00::5]:5432"]).await;
        assert_eq!(aws.registered_targets(&tg6.arn).await, vec!["[fd00::5]:5432"]);

        let cluster = aws.create_aurora_cluster("aurora-fx", 2).await;
        assert_eq!(cluster.instances, vec!["aurora-fx-0", "aurora-fx-1"]);
        assert!(cluster.endpoint.starts_with("aurora-fx.cluster-"), "{}", cluster.endpoint);
        assert_ne!(cluster.addresses[0], cluster.addresses[1]);
        assert_eq!(aws.instance_address("aurora-fx-1").await, cluster.addresses[1]);
        assert_eq!(aws.cluster_writer("aurora-fx").await, "aurora-fx-0");
        aws.failover_cluster("aurora-fx", "aurora-fx-1").await;
        assert_eq!(aws.cluster_writer("aurora-fx").await, "aurora-fx-1");

        let instance = aws.create_rds_instance("pg-fx").await;
        assert!(instance.starts_with("pg-fx."), "{instance}");

        let proxy = aws.create_db_proxy("proxy-fx", &net.subnet_ids).await;
        assert!(proxy.starts_with("proxy-fx."), "{proxy}");
    }
}
