//! The EC2 side of `doctor` ([`NetworkInspection`]): the VPC's subnets, the
//! databases' security groups and the load balancer's endpoint services,
//! through `aws-sdk-ec2`. It lives in the command line so that the Lambda
//! binaries, which never need EC2, never link its SDK.

use aws_sdk_ec2 as ec2;
use ec2::error::{ProvideErrorMetadata, SdkError};
use ec2::types::{Filter, IpPermission, State};
use nlb_target_sync::{Cidr, EndpointService, IngressRule, InspectError, NetworkInspection, SecurityGroup, Subnet};
use nlb_target_sync::{
    DESCRIBE_SECURITY_GROUPS, DESCRIBE_SUBNETS, DESCRIBE_VPC_ENDPOINT_CONNECTIONS,
    DESCRIBE_VPC_ENDPOINT_SERVICE_CONFIGURATIONS, DESCRIBE_VPC_ENDPOINT_SERVICE_PERMISSIONS, IamAction,
};
use nlb_target_sync::{FailureReader, RunsIn};

/// EC2 answers `pendingAcceptance`; the SDK's enum spells it `PendingAcceptance`.
fn is_pending_acceptance(state: &State) -> bool {
    state.as_str().eq_ignore_ascii_case("pendingAcceptance")
}

/// The EC2 API through the AWS SDK.
pub struct Ec2Network {
    client: ec2::Client,
    failures: FailureReader,
}

impl Ec2Network {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Ec2Network { client: ec2::Client::new(config), failures: FailureReader::new("EC2", RunsIn::Terminal, config) }
    }

    fn failed<E>(&self, action: IamAction, resource: &str, err: SdkError<E>) -> InspectError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        InspectError::new("EC2", action, resource, self.failures.read(&err, action))
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// An inbound rule as the checks read it; blocks EC2 gives that are not
/// blocks are left out.
fn ingress_rule(permission: &IpPermission) -> IngressRule {
    let v4 = permission.ip_ranges().iter().filter_map(|r| r.cidr_ip());
    let v6 = permission.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6());
    IngressRule {
        protocol: permission.ip_protocol().unwrap_or("-1").to_string(),
        from_port: permission.from_port(),
        to_port: permission.to_port(),
        cidrs: v4.chain(v6).filter_map(Cidr::parse).collect(),
        groups: permission.user_id_group_pairs().iter().filter_map(|p| p.group_id().map(str::to_string)).collect(),
    }
}

impl NetworkInspection for Ec2Network {
    async fn subnets(&self, vpc_id: &str) -> Result<Vec<Subnet>, InspectError> {
        let mut subnets = Vec::new();
        let mut pages = self.client.describe_subnets().filters(filter("vpc-id", vpc_id)).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed(DESCRIBE_SUBNETS, vpc_id, e))?;
            subnets.extend(page.subnets().iter().filter_map(|s| {
                let v6 = s.ipv6_cidr_block_association_set().iter().filter_map(|a| a.ipv6_cidr_block());
                Some(Subnet {
                    id: s.subnet_id()?.to_string(),
                    zone: s.availability_zone()?.to_string(),
                    cidrs: s.cidr_block().into_iter().chain(v6).filter_map(Cidr::parse).collect(),
                })
            }));
        }
        Ok(subnets)
    }

    async fn security_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroup>, InspectError> {
        let resource = ids.join(", ");
        let mut groups = Vec::new();
        let mut pages =
            self.client.describe_security_groups().set_group_ids(Some(ids.to_vec())).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed(DESCRIBE_SECURITY_GROUPS, &resource, e))?;
            groups.extend(page.security_groups().iter().filter_map(|g| {
                Some(SecurityGroup {
                    id: g.group_id()?.to_string(),
                    name: g.group_name().unwrap_or_default().to_string(),
                    ingress: g.ip_permissions().iter().map(ingress_rule).collect(),
                })
            }));
        }
        Ok(groups)
    }

    async fn endpoint_services(&self, load_balancer_arn: &str) -> Result<Vec<EndpointService>, InspectError> {
        let mut services = Vec::new();
        let mut pages = self.client.describe_vpc_endpoint_service_configurations().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                self.failed(DESCRIBE_VPC_ENDPOINT_SERVICE_CONFIGURATIONS, "the account's endpoint services", e)
            })?;
            for config in page.service_configurations() {
                if !config.network_load_balancer_arns().iter().any(|arn| arn == load_balancer_arn) {
                    continue;
                }
                let Some(id) = config.service_id() else { continue };
                services.push(EndpointService {
                    id: id.to_string(),
                    name: config.service_name().unwrap_or(id).to_string(),
                    acceptance_required: config.acceptance_required().unwrap_or(false),
                    allowed_principals: self.allowed_principals(id).await?,
                    pending_endpoints: self.pending_endpoints(id).await?,
                });
            }
        }
        Ok(services)
    }
}

impl Ec2Network {
    async fn allowed_principals(&self, service_id: &str) -> Result<Vec<String>, InspectError> {
        let mut principals = Vec::new();
        let mut pages =
            self.client.describe_vpc_endpoint_service_permissions().service_id(service_id).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed(DESCRIBE_VPC_ENDPOINT_SERVICE_PERMISSIONS, service_id, e))?;
            principals.extend(page.allowed_principals().iter().filter_map(|p| p.principal().map(str::to_string)));
        }
        Ok(principals)
    }

    async fn pending_endpoints(&self, service_id: &str) -> Result<Vec<String>, InspectError> {
        let mut pending = Vec::new();
        let mut pages = self
            .client
            .describe_vpc_endpoint_connections()
            .filters(filter("service-id", service_id))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed(DESCRIBE_VPC_ENDPOINT_CONNECTIONS, service_id, e))?;
            pending.extend(
                page.vpc_endpoint_connections()
                    .iter()
                    .filter(|c| c.vpc_endpoint_state().is_some_and(is_pending_acceptance))
                    .filter_map(|c| c.vpc_endpoint_id().map(str::to_string)),
            );
        }
        Ok(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ec2::types::{IpRange, Ipv6Range, UserIdGroupPair};

    #[test]
    fn inbound_rules_keep_protocol_ports_blocks_and_groups() {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(5432)
            .to_port(5432)
            .ip_ranges(IpRange::builder().cidr_ip("10.1.0.0/16").build())
            .ip_ranges(IpRange::builder().cidr_ip("not a block").build())
            .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("fd00::/8").build())
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-nlb").build())
            .build();
        let rule = ingress_rule(&permission);
        assert_eq!((rule.protocol.as_str(), rule.from_port, rule.to_port), ("tcp", Some(5432), Some(5432)));
        assert_eq!(rule.cidrs.iter().map(ToString::to_string).collect::<Vec<_>>(), ["10.1.0.0/16", "fd00::/8"]);
        assert_eq!(rule.groups, ["sg-nlb"]);
        assert!(rule.admits_tcp_port(5432));
        let everything = ingress_rule(&IpPermission::builder().ip_protocol("-1").build());
        assert!(everything.admits_tcp_port(3306));
    }
}
