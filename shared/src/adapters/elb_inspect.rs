//! [`LoadBalancerInspection`] over the Elastic Load Balancing v2 API: a
//! target group's VPC, load balancers and attributes, and each load
//! balancer's zones, security groups, attributes and listeners. Read-only.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2 as elb;
use elb::error::{ProvideErrorMetadata, SdkError};
use elb::types::Action;

use super::sdk_failure::FailureReader;
use crate::doctor::{InspectError, Listener, LoadBalancer, LoadBalancerInspection, TargetGroupDetails, ZoneSubnet};
use crate::failure::{ApiFailure, RunsIn};
use crate::permissions::{
    DESCRIBE_LISTENERS, DESCRIBE_LOAD_BALANCER_ATTRIBUTES, DESCRIBE_LOAD_BALANCERS, DESCRIBE_TARGET_GROUP_ATTRIBUTES,
    DESCRIBE_TARGET_GROUPS, IamAction,
};

/// The ELB API, read for `doctor`.
pub struct ElbInspector {
    client: elb::Client,
    failures: FailureReader,
}

impl ElbInspector {
    /// `doctor` runs only in the command line: its advice is for a terminal.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let failures = FailureReader::new("Elastic Load Balancing", RunsIn::Terminal, config);
        ElbInspector { client: elb::Client::new(config), failures }
    }

    #[cfg(test)]
    pub(crate) fn with_client(client: elb::Client) -> Self {
        ElbInspector { client, failures: FailureReader::canned("Elastic Load Balancing") }
    }

    fn failed<E>(&self, action: IamAction, resource: &str, err: SdkError<E>) -> InspectError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        InspectError::new("ELB", action, resource, self.failures.read(&err, action))
    }
}

fn not_found(action: IamAction, resource: &str, what: &str) -> InspectError {
    let failure = ApiFailure::message(format!("ELB answered no {what}: it does not exist in this account and region"));
    InspectError::new("ELB", action, resource, failure)
}

fn attribute_map<'a>(pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> BTreeMap<String, String> {
    pairs.filter_map(|(k, v)| Some((k?.to_string(), v.unwrap_or_default().to_string()))).collect()
}

/// The target groups an action forwards to (simple or weighted forward).
fn forwards_to(action: &Action) -> Vec<String> {
    let mut arns: Vec<String> = action.target_group_arn().map(str::to_string).into_iter().collect();
    if let Some(config) = action.forward_config() {
        for group in config.target_groups() {
            if let Some(arn) = group.target_group_arn().filter(|a| !arns.iter().any(|known| known == a)) {
                arns.push(arn.to_string());
            }
        }
    }
    arns
}

impl LoadBalancerInspection for ElbInspector {
    async fn target_group(&self, arn: &str) -> Result<TargetGroupDetails, InspectError> {
        let out = self
            .client
            .describe_target_groups()
            .target_group_arns(arn)
            .send()
            .await
            .map_err(|e| self.failed(DESCRIBE_TARGET_GROUPS, arn, e))?;
        let group =
            out.target_groups().first().ok_or_else(|| not_found(DESCRIBE_TARGET_GROUPS, arn, "target group"))?;
        let attributes = self
            .client
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(|e| self.failed(DESCRIBE_TARGET_GROUP_ATTRIBUTES, arn, e))?;
        Ok(TargetGroupDetails {
            vpc_id: group.vpc_id().map(str::to_string),
            load_balancer_arns: group.load_balancer_arns().to_vec(),
            attributes: attribute_map(attributes.attributes().iter().map(|a| (a.key(), a.value()))),
        })
    }

    async fn load_balancer(&self, arn: &str) -> Result<LoadBalancer, InspectError> {
        let out = self
            .client
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
            .map_err(|e| self.failed(DESCRIBE_LOAD_BALANCERS, arn, e))?;
        let lb =
            out.load_balancers().first().ok_or_else(|| not_found(DESCRIBE_LOAD_BALANCERS, arn, "load balancer"))?;
        let attributes = self
            .client
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(|e| self.failed(DESCRIBE_LOAD_BALANCER_ATTRIBUTES, arn, e))?;
        let mut listeners = Vec::new();
        let mut pages = self.client.describe_listeners().load_balancer_arn(arn).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed(DESCRIBE_LISTENERS, arn, e))?;
            listeners.extend(page.listeners().iter().map(|l| Listener {
                protocol: l.protocol().map_or_else(|| "?".to_string(), |p| p.as_str().to_string()),
                port: l.port().and_then(|p| u16::try_from(p).ok()),
                forwards_to: l.default_actions().iter().flat_map(forwards_to).collect(),
            }));
        }
        Ok(LoadBalancer {
            arn: arn.to_string(),
            name: lb.load_balancer_name().unwrap_or(arn).to_string(),
            kind: lb.r#type().map(|t| t.as_str().to_string()).unwrap_or_default(),
            zones: lb
                .availability_zones()
                .iter()
                .filter_map(|z| {
                    Some(ZoneSubnet { zone: z.zone_name()?.to_string(), subnet_id: z.subnet_id().map(str::to_string) })
                })
                .collect(),
            security_groups: lb.security_groups().to_vec(),
            attributes: attribute_map(attributes.attributes().iter().map(|a| (a.key(), a.value()))),
            listeners,
        })
    }
}

#[cfg(test)]
mod tests {
    //! Against canned ELB answers: weighted forwards (moto lists only simple
    //! ones) and the failure naming the call.
    use super::super::canned::{Canned, error_body, ok_body};
    use super::*;

    const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/nlb/1";

    #[tokio::test]
    async fn listeners_forward_simply_or_by_weight_and_zones_carry_their_subnets() {
        let canned = Canned::default()
            .on(
                "DescribeLoadBalancers",
                200,
                ok_body(
                    "DescribeLoadBalancers",
                    &format!(
                        "<LoadBalancers><member><LoadBalancerArn>{LB}</LoadBalancerArn><LoadBalancerName>nlb\
                         </LoadBalancerName><Type>network</Type><AvailabilityZones><member><ZoneName>us-east-1a\
                         </ZoneName><SubnetId>subnet-a</SubnetId></member></AvailabilityZones><SecurityGroups>\
                         <member>sg-nlb</member></SecurityGroups></member></LoadBalancers>"
                    ),
                ),
            )
            .on(
                "DescribeLoadBalancerAttributes",
                200,
                ok_body(
                    "DescribeLoadBalancerAttributes",
                    "<Attributes><member><Key>load_balancing.cross_zone.enabled</Key><Value>true</Value></member>\
                     </Attributes>",
                ),
            )
            .on(
                "DescribeListeners",
                200,
                ok_body(
                    "DescribeListeners",
                    "<Listeners><member><Protocol>TCP</Protocol><Port>5432</Port><DefaultActions><member>\
                     <Type>forward</Type><TargetGroupArn>arn:tg-a</TargetGroupArn></member></DefaultActions>\
                     </member><member><Protocol>TCP</Protocol><Port>5433</Port><DefaultActions><member>\
                     <Type>forward</Type><ForwardConfig><TargetGroups><member><TargetGroupArn>arn:tg-b\
                     </TargetGroupArn><Weight>1</Weight></member></TargetGroups></ForwardConfig></member>\
                     </DefaultActions></member></Listeners>",
                ),
            );
        let lb = ElbInspector::with_client(canned.elb()).load_balancer(LB).await.unwrap();
        assert_eq!((lb.name.as_str(), lb.kind.as_str()), ("nlb", "network"));
        assert_eq!(lb.zones, vec![ZoneSubnet { zone: "us-east-1a".into(), subnet_id: Some("subnet-a".into()) }]);
        assert_eq!(lb.security_groups, vec!["sg-nlb"]);
        assert_eq!(lb.attributes["load_balancing.cross_zone.enabled"], "true");
        let forwards: Vec<(String, Vec<String>)> =
            lb.listeners.iter().map(|l| (l.to_string(), l.forwards_to.clone())).collect();
        assert_eq!(
            forwards,
            vec![("TCP:5432".to_string(), vec!["arn:tg-a".to_string()]), ("TCP:5433".into(), vec!["arn:tg-b".into()])]
        );
    }

    #[tokio::test]
    async fn a_refused_call_names_the_operation_and_the_resource() {
        let canned = Canned::default().on(
            "DescribeTargetGroups",
            400,
            error_body("Sender", "AccessDenied", "not authorized to perform elasticloadbalancing:DescribeTargetGroups"),
        );
        let error = ElbInspector::with_client(canned.elb()).target_group("arn:tg").await.unwrap_err();
        assert_eq!((error.api, error.operation, error.resource.as_str()), ("ELB", "DescribeTargetGroups", "arn:tg"));
        assert!(error.to_string().contains("AccessDenied"), "{error}");
        assert!(error.fix().contains("elasticloadbalancing:DescribeTargetGroups"), "{}", error.fix());
    }
}
