//! The checks: pure functions from a target group's facts to verdicts. Each
//! module holds the checks of one concern; [`diagnose`] runs them all in the
//! order of [`CheckId::ALL`]. A check whose fact could not be read fails with
//! "cannot check"; one with nothing to look at (no load balancer, no RDS
//! source, no MySQL engine, no endpoint service) says so or is left out, as
//! its module documents.

mod attributes;
mod balancer;
mod database;
mod endpoint_service;
mod health;
mod path;

use super::check::Check;
use super::facts::GroupFacts;

pub use attributes::{DEREGISTRATION_DELAY_LIMIT_SECONDS, STACK_DEREGISTRATION_DELAY_SECONDS};
pub use database::{MAX_CONNECT_ERRORS_FLOOR, is_mysql_family};

/// Every check of one target group, in the order of [`CheckId::ALL`](super::check::CheckId::ALL).
pub fn diagnose(facts: &GroupFacts) -> Vec<Check> {
    let mut checks = vec![balancer::load_balancer(facts), health::target_health(facts), health::in_sync(facts)];
    checks.push(attributes::connection_termination(facts));
    checks.push(attributes::deregistration_delay(facts));
    checks.extend(balancer::cross_zone(facts));
    checks.extend(path::security_group_path(facts));
    checks.extend(database::mysql_max_connect_errors(facts));
    checks.extend(endpoint_service::endpoint_service(facts));
    checks
}

/// A target group as `template.yaml` makes it, with its database reachable:
/// every check passes. Each check's tests break one fact of it.
#[cfg(test)]
pub(crate) mod sample {
    use std::collections::BTreeMap;

    use crate::doctor::facts::*;
    use crate::operate::TargetStatus;
    use crate::spec::{ClusterRole, Source};
    use crate::target::{Target, TargetHealth};

    pub const TG_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/orders/1";
    pub const LB_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/orders-nlb/1";

    pub fn target(ip: &str) -> Target {
        Target { ip: ip.parse().unwrap(), port: 3306 }
    }

    pub fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).unwrap()
    }

    pub fn source() -> Source {
        Source::Cluster { id: "orders".into(), role: ClusterRole::Writer }
    }

    pub fn wanted(ip: &str, health: Option<TargetHealth>) -> TargetStatus {
        TargetStatus { target: target(ip), health, detail: None, wanted_by: vec![source()] }
    }

    pub fn facts() -> GroupFacts {
        let attributes = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        GroupFacts {
            arn: TG_ARN.into(),
            name: "orders".into(),
            port: Some(3306),
            sources: vec![source()],
            target_group: Ok(TargetGroupDetails {
                vpc_id: Some("vpc-1".into()),
                load_balancer_arns: vec![LB_ARN.into()],
                attributes: attributes(&[
                    ("deregistration_delay.timeout_seconds", "30"),
                    ("deregistration_delay.connection_termination.enabled", "true"),
                    ("load_balancing.cross_zone.enabled", "use_load_balancer_configuration"),
                ]),
            }),
            load_balancers: Ok(vec![LoadBalancer {
                arn: LB_ARN.into(),
                name: "orders-nlb".into(),
                kind: "network".into(),
                zones: vec![
                    ZoneSubnet { zone: "us-east-1a".into(), subnet_id: Some("subnet-a".into()) },
                    ZoneSubnet { zone: "us-east-1b".into(), subnet_id: Some("subnet-b".into()) },
                ],
                security_groups: vec!["sg-nlb".into()],
                attributes: attributes(&[("load_balancing.cross_zone.enabled", "true")]),
                listeners: vec![Listener {
                    protocol: "TCP".into(),
                    port: Some(3306),
                    forwards_to: vec![TG_ARN.into()],
                }],
            }]),
            targets: Ok(vec![wanted("10.1.1.10", Some(TargetHealth::Healthy))]),
            unresolved: vec![],
            plan: Ok(PlanFacts::default()),
            subnets: Ok(vec![
                Subnet { id: "subnet-a".into(), zone: "us-east-1a".into(), cidrs: vec![cidr("10.1.1.0/24")] },
                Subnet { id: "subnet-b".into(), zone: "us-east-1b".into(), cidrs: vec![cidr("10.1.2.0/24")] },
                Subnet { id: "subnet-c".into(), zone: "us-east-1c".into(), cidrs: vec![cidr("10.1.3.0/24")] },
            ]),
            databases: vec![Ok(Database {
                source: source(),
                label: "DB cluster orders".into(),
                engine: "aurora-mysql".into(),
                is_proxy: false,
                security_groups: vec!["sg-db".into()],
                connect_errors: vec![ConnectErrorsSetting {
                    instance: "orders-1".into(),
                    parameter_group: "orders-params".into(),
                    value: Ok(Some("18446744073709551615".into())),
                }],
            })],
            security_groups: Ok(vec![SecurityGroup {
                id: "sg-db".into(),
                name: "orders-db".into(),
                ingress: vec![IngressRule {
                    protocol: "tcp".into(),
                    from_port: Some(3306),
                    to_port: Some(3306),
                    cidrs: vec![],
                    groups: vec!["sg-nlb".into()],
                }],
            }]),
            endpoint_services: Ok(vec![EndpointService {
                id: "vpce-svc-1".into(),
                name: "com.amazonaws.vpce.us-east-1.vpce-svc-1".into(),
                acceptance_required: true,
                allowed_principals: vec!["arn:aws:iam::123456789012:root".into()],
                pending_endpoints: vec![],
            }]),
        }
    }

    pub fn unread() -> Unread {
        Unread::new("EC2 DescribeThings on x failed: AccessDenied: no", "allow ec2:DescribeThings")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::check::{CheckId, CheckStatus};

    #[test]
    fn a_group_made_as_the_template_makes_it_passes_every_check_in_order() {
        let checks = diagnose(&sample::facts());
        let verdicts: Vec<(CheckId, CheckStatus)> = checks.iter().map(|c| (c.id, c.status)).collect();
        assert_eq!(verdicts, CheckId::ALL.iter().map(|id| (*id, CheckStatus::Pass)).collect::<Vec<_>>(), "{checks:#?}");
        assert!(checks.iter().all(|c| c.fix.is_none() && !c.message.is_empty() && !c.resource.is_empty()));
    }
}
