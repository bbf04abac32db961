//! What the tests of `nlb-target-sync doctor` build beyond a [`crate::Sandbox`]:
//! security groups and their rules, target group and load balancer attributes, VPC endpoint services, their
//! permissions and connections (EC2 through the query API, as in `aws.rs`),
//! MySQL databases with their parameter groups; the template's full-producer
//! resources as `tests/template/full_producer.py` evaluates them; and a
//! strict reader of doctor's JSON.

use std::collections::BTreeMap;
use std::process::Command;

use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerAttribute, TargetGroupAttribute};
use serde_json::Value;

use crate::aws::{Aws, created_address, xml_value};
use crate::moto::python;
use crate::workspace::workspace_root;

/// One check of doctor's JSON answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoctorCheck {
    pub id: String,
    /// `pass`, `warn` or `fail`.
    pub status: String,
    pub resource: String,
    pub message: String,
    /// `None` exactly when the check passed.
    pub fix: Option<String>,
}

/// The checks doctor reported for each target group (by name), in order.
///
/// # Panics
///
/// If the JSON is not doctor's shape: `targetGroups` objects with
/// `targetGroupArn`, `targetGroupName` and `checks`, each check with `id`,
/// `status`, `resource`, `message` (strings) and `fix` (a string, or null
/// exactly when it passed).
pub fn doctor_checks(answer: &Value) -> BTreeMap<String, Vec<DoctorCheck>> {
    let groups = answer["targetGroups"].as_array().unwrap_or_else(|| panic!("no targetGroups list in {answer:#}"));
    let text = |value: &Value, key: &str| -> String {
        value[key].as_str().unwrap_or_else(|| panic!("{key} is not a string in {value:#}")).to_owned()
    };
    groups
        .iter()
        .map(|group| {
            assert!(text(group, "targetGroupArn").starts_with("arn:"), "{group:#}");
            let checks = group["checks"].as_array().unwrap_or_else(|| panic!("no checks list in {group:#}"));
            let checks = checks
                .iter()
                .map(|check| {
                    let object = check.as_object().unwrap_or_else(|| panic!("a check is not an object: {check}"));
                    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
                    keys.sort_unstable();
                    assert_eq!(keys, ["fix", "id", "message", "resource", "status"], "{check:#}");
                    let status = text(check, "status");
                    assert!(["pass", "warn", "fail"].contains(&status.as_str()), "{check:#}");
                    let fix = match &check["fix"] {
                        Value::Null => None,
                        Value::String(fix) => Some(fix.clone()),
                        other => panic!("fix is neither null nor a string: {other}"),
                    };
                    assert_eq!(fix.is_none(), status == "pass", "a fix exactly when it did not pass: {check:#}");
                    DoctorCheck {
                        id: text(check, "id"),
                        status,
                        resource: text(check, "resource"),
                        message: text(check, "message"),
                        fix,
                    }
                })
                .collect();
            (text(group, "targetGroupName"), checks)
        })
        .collect()
}

/// The template's full-producer resources doctor reads, evaluated by
/// `tests/template/full_producer.py` for `parameters` (every other parameter
/// at its default): `{"parameters": {...}, "resources": {name: {"Type", "Properties"}}}`.
///
/// # Panics
///
/// If the helper cannot run or does not answer JSON.
pub fn full_producer_resources(parameters: &[(&str, &str)]) -> Value {
    let script = workspace_root().join("tests/template/full_producer.py");
    let output = Command::new(python())
        .arg(&script)
        .args(parameters.iter().map(|(k, v)| format!("{k}={v}")))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(output.status.success(), "{} failed: {}", script.display(), String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{} did not answer JSON ({e})", script.display()))
}

/// A current version of each engine the tests create (moto knows no default
/// for MariaDB), so default parameter groups are named as RDS names them.
fn engine_version(engine: &str) -> &'static str {
    match engine {
        "mysql" => "8.0.40",
        "mariadb" => "10.11.10",
        "postgres" => "16.6",
        other => panic!("no version known for engine {other}"),
    }
}

impl Aws {
    // ----- EC2 -----

    /// Creates a security group (no inbound rule) and returns its id.
    pub async fn create_security_group(&self, vpc_id: &str, name: &str) -> String {
        let xml = self
            .ec2_call("CreateSecurityGroup", &[("GroupName", name), ("GroupDescription", name), ("VpcId", vpc_id)])
            .await;
        xml_value(&xml, "groupId").unwrap_or_else(|| panic!("no groupId in CreateSecurityGroup response: {xml}"))
    }

    /// Adds an inbound rule: TCP `port` from members of `source_group`.
    pub async fn allow_tcp_from_group(&self, group_id: &str, port: u16, source_group: &str) {
        self.allow_tcp(group_id, port, ("IpPermissions.1.Groups.1.GroupId", source_group)).await;
    }

    /// Adds an inbound rule: TCP `port` from the block `cidr`.
    pub async fn allow_tcp_from_cidr(&self, group_id: &str, port: u16, cidr: &str) {
        self.allow_tcp(group_id, port, ("IpPermissions.1.IpRanges.1.CidrIp", cidr)).await;
    }

    /// AuthorizeSecurityGroupIngress of TCP `port` from `source` (a query parameter and its value).
    async fn allow_tcp(&self, group_id: &str, port: u16, source: (&str, &str)) {
        let port = port.to_string();
        self.ec2_call(
            "AuthorizeSecurityGroupIngress",
            &[
                ("GroupId", group_id),
                ("IpPermissions.1.IpProtocol", "tcp"),
                ("IpPermissions.1.FromPort", &port),
                ("IpPermissions.1.ToPort", &port),
                source,
            ],
        )
        .await;
    }

    /// Creates a VPC endpoint service on the load balancer; returns its id
    /// and service name.
    pub async fn create_endpoint_service(
        &self,
        load_balancer_arn: &str,
        acceptance_required: bool,
    ) -> (String, String) {
        let xml = self
            .ec2_call(
                "CreateVpcEndpointServiceConfiguration",
                &[
                    ("NetworkLoadBalancerArn.1", load_balancer_arn),
                    ("AcceptanceRequired", if acceptance_required { "true" } else { "false" }),
                ],
            )
            .await;
        let id = xml_value(&xml, "serviceId").unwrap_or_else(|| panic!("no serviceId in {xml}"));
        let name = xml_value(&xml, "serviceName").unwrap_or_else(|| panic!("no serviceName in {xml}"));
        (id, name)
    }

    /// Allows `principal` (an ARN) to create endpoints to the service.
    pub async fn allow_endpoint_principal(&self, service_id: &str, principal: &str) {
        self.ec2_call(
            "ModifyVpcEndpointServicePermissions",
            &[("ServiceId", service_id), ("AddAllowedPrincipals.1", principal)],
        )
        .await;
    }

    /// A consumer's interface endpoint to the service (by its name) in
    /// `subnet_id`; returns its id. It waits for acceptance when the service
    /// requires it.
    pub async fn create_interface_endpoint(&self, vpc_id: &str, service_name: &str, subnet_id: &str) -> String {
        let xml = self
            .ec2_call(
                "CreateVpcEndpoint",
                &[
                    ("VpcId", vpc_id),
                    ("ServiceName", service_name),
                    ("VpcEndpointType", "Interface"),
                    ("SubnetId.1", subnet_id),
                ],
            )
            .await;
        xml_value(&xml, "vpcEndpointId").unwrap_or_else(|| panic!("no vpcEndpointId in {xml}"))
    }

    /// The provider accepts a waiting endpoint connection.
    pub async fn accept_endpoint_connection(&self, service_id: &str, endpoint_id: &str) {
        let xml = self
            .ec2_call("AcceptVpcEndpointConnections", &[("ServiceId", service_id), ("VpcEndpointId.1", endpoint_id)])
            .await;
        assert!(!xml.contains("<resourceId>"), "AcceptVpcEndpointConnections left {endpoint_id} out: {xml}");
    }

    // ----- ELBv2 -----

    /// Sets one attribute of a target group.
    pub async fn set_target_group_attribute(&self, target_group_arn: &str, key: &str, value: &str) {
        self.elb
            .modify_target_group_attributes()
            .target_group_arn(target_group_arn)
            .attributes(TargetGroupAttribute::builder().key(key).value(value).build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("ModifyTargetGroupAttributes {target_group_arn} {key}={value}: {e:?}"));
    }

    /// Sets one attribute of a load balancer.
    pub async fn set_load_balancer_attribute(&self, load_balancer_arn: &str, key: &str, value: &str) {
        self.elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(load_balancer_arn)
            .attributes(LoadBalancerAttribute::builder().key(key).value(value).build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("ModifyLoadBalancerAttributes {load_balancer_arn} {key}={value}: {e:?}"));
    }

    // ----- RDS -----

    /// Creates a DB parameter group of `family` (`mysql8.0`, `aurora-mysql8.0`, ...).
    pub async fn create_db_parameter_group(&self, name: &str, family: &str) {
        self.rds
            .create_db_parameter_group()
            .db_parameter_group_name(name)
            .db_parameter_group_family(family)
            .description(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDBParameterGroup {name}: {e:?}"));
    }

    /// Sets a parameter of a DB parameter group.
    pub async fn set_db_parameter(&self, group: &str, name: &str, value: &str) {
        use aws_sdk_rds::types::{ApplyMethod, Parameter};
        self.rds
            .modify_db_parameter_group()
            .db_parameter_group_name(group)
            .parameters(
                Parameter::builder()
                    .parameter_name(name)
                    .parameter_value(value)
                    .apply_method(ApplyMethod::Immediate)
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("ModifyDBParameterGroup {group} {name}={value}: {e:?}"));
    }

    /// Creates a standalone DB instance of `engine` (`mysql`, `mariadb`,
    /// `postgres`, at a current version) listening on `port`, in `security_groups`, with
    /// `parameter_group` (else the engine's default group); returns its
    /// `Endpoint.Address`.
    pub async fn create_db_instance_in(
        &self,
        id: &str,
        engine: &str,
        port: u16,
        security_groups: &[String],
        parameter_group: Option<&str>,
    ) -> String {
        let out = self
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine(engine)
            .engine_version(engine_version(engine))
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .port(i32::from(port))
            .master_username("admin")
            .master_user_password("not-a-secret-1")
            .set_vpc_security_group_ids(Some(security_groups.to_vec()))
            .set_db_parameter_group_name(parameter_group.map(str::to_owned))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDBInstance {id} ({engine}): {e:?}"));
        created_address(&out, id)
    }

    /// Creates an Aurora MySQL cluster `id` on `port` in `security_groups`
    /// with one instance `<id>-0` (the writer) in `parameter_group`; returns
    /// the instance's `Endpoint.Address`.
    pub async fn create_aurora_mysql_cluster(
        &self,
        id: &str,
        port: u16,
        security_groups: &[String],
        parameter_group: &str,
    ) -> String {
        self.rds
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine("aurora-mysql")
            .port(i32::from(port))
            .master_username("admin")
            .master_user_password("not-a-secret-1")
            .set_vpc_security_group_ids(Some(security_groups.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDBCluster {id}: {e:?}"));
        let name = format!("{id}-0");
        let out = self
            .rds
            .create_db_instance()
            .db_instance_identifier(&name)
            .db_cluster_identifier(id)
            .engine("aurora-mysql")
            .db_instance_class("db.r6g.large")
            .db_parameter_group_name(parameter_group)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDBInstance {name} in {id}: {e:?}"));
        created_address(&out, &name)
    }
}
