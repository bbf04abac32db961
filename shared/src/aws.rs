//! The real adapters: the RDS and ELB APIs through the AWS SDK for Rust.
//! Tested against a moto server in `tests/`; throttling is retried by the SDK's
//! standard retry with backoff.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2 as elb;
use aws_sdk_rds as rds;
use elb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use elb::types::TargetDescription;

use crate::resolve::{ClusterMember, Endpoint, RdsDirectory, RdsError};
use crate::spec::SOURCES_TAG;
use crate::target::{AddressFamilies, Target, TargetGroupInfo, TargetGroupState, TargetHealth};

/// Loads the AWS configuration from the environment, with short connect and
/// attempt timeouts so a VPC without a route to an API fails fast, and the
/// standard retry with backoff for up to 5 attempts (ELB's Describe* token
/// bucket is small: 40, refilled at 10 per second).
pub async fn load_config() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
        .load()
        .await
}

/// Text for an SDK error: the service's code and message, and what to do about it.
fn describe<E, R>(err: &SdkError<E, R>, api: &str) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let hint = match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => format!(
            " The {api} API endpoint could not be reached: a function in a VPC needs a NAT gateway or an interface VPC endpoint for {api}."
        ),
        _ => match err.code() {
            Some(code) if code.contains("AccessDenied") || code.contains("UnauthorizedOperation") => {
                " Check the function role's IAM permissions.".to_string()
            }
            Some(code) if code.contains("Throttl") => {
                " Throttled even after the SDK's retries; sync fewer target groups at once.".to_string()
            }
            _ => String::new(),
        },
    };
    format!("{}{hint}", DisplayErrorContext(err))
}

/// [`RdsDirectory`] over the RDS API.
pub struct RdsApi {
    client: rds::Client,
}

impl RdsApi {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        RdsApi { client: rds::Client::new(config) }
    }
}

impl RdsDirectory for RdsApi {
    async fn cluster_members(&self, cluster_id: &str) -> Result<Vec<ClusterMember>, RdsError> {
        let out =
            self.client.describe_db_clusters().db_cluster_identifier(cluster_id).send().await.map_err(|e| {
                match e.as_service_error() {
                    Some(s) if s.is_db_cluster_not_found_fault() => {
                        RdsError::NotFound { kind: "DB cluster", id: cluster_id.into() }
                    }
                    _ => RdsError::Api {
                        operation: "DescribeDBClusters",
                        resource: cluster_id.into(),
                        message: describe(&e, "RDS"),
                    },
                }
            })?;
        let cluster =
            out.db_clusters().first().ok_or(RdsError::NotFound { kind: "DB cluster", id: cluster_id.into() })?;
        Ok(cluster
            .db_cluster_members()
            .iter()
            .filter_map(|m| {
                Some(ClusterMember {
                    instance_id: m.db_instance_identifier()?.to_string(),
                    is_writer: m.is_cluster_writer().unwrap_or(false),
                })
            })
            .collect())
    }

    async fn instance_endpoint(&self, instance_id: &str) -> Result<Endpoint, RdsError> {
        let out = self.client.describe_db_instances().db_instance_identifier(instance_id).send().await.map_err(
            |e| match e.as_service_error() {
                Some(s) if s.is_db_instance_not_found_fault() => {
                    RdsError::NotFound { kind: "DB instance", id: instance_id.into() }
                }
                _ => RdsError::Api {
                    operation: "DescribeDBInstances",
                    resource: instance_id.into(),
                    message: describe(&e, "RDS"),
                },
            },
        )?;
        let instance =
            out.db_instances().first().ok_or(RdsError::NotFound { kind: "DB instance", id: instance_id.into() })?;
        Ok(Endpoint {
            address: instance.endpoint().and_then(|e| e.address()).map(str::to_string),
            status: instance.db_instance_status().unwrap_or("unknown").to_string(),
            cluster: instance.db_cluster_identifier().map(str::to_string),
        })
    }

    async fn proxy_endpoint(&self, proxy: &str, endpoint: Option<&str>) -> Result<Endpoint, RdsError> {
        let Some(endpoint_name) = endpoint else {
            let out = self.client.describe_db_proxies().db_proxy_name(proxy).send().await.map_err(|e| {
                match e.as_service_error() {
                    Some(s) if s.is_db_proxy_not_found_fault() => {
                        RdsError::NotFound { kind: "RDS Proxy", id: proxy.into() }
                    }
                    _ => RdsError::Api {
                        operation: "DescribeDBProxies",
                        resource: proxy.into(),
                        message: describe(&e, "RDS"),
                    },
                }
            })?;
            let found = out.db_proxies().first().ok_or(RdsError::NotFound { kind: "RDS Proxy", id: proxy.into() })?;
            return Ok(Endpoint {
                address: found.endpoint().map(str::to_string),
                status: found.status().map(|s| s.as_str().to_string()).unwrap_or_else(|| "unknown".into()),
                cluster: None,
            });
        };
        let id = format!("{proxy}:{endpoint_name}");
        let out = self
            .client
            .describe_db_proxy_endpoints()
            .db_proxy_name(proxy)
            .db_proxy_endpoint_name(endpoint_name)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_db_proxy_not_found_fault() => {
                    RdsError::NotFound { kind: "RDS Proxy", id: proxy.into() }
                }
                Some(s) if s.is_db_proxy_endpoint_not_found_fault() => {
                    RdsError::NotFound { kind: "RDS Proxy endpoint", id: id.clone() }
                }
                _ => RdsError::Api {
                    operation: "DescribeDBProxyEndpoints",
                    resource: id.clone(),
                    message: describe(&e, "RDS"),
                },
            })?;
        let found = out.db_proxy_endpoints().first().ok_or(RdsError::NotFound { kind: "RDS Proxy endpoint", id })?;
        Ok(Endpoint {
            address: found.endpoint().map(str::to_string),
            status: found.status().map(|s| s.as_str().to_string()).unwrap_or_else(|| "unknown".into()),
            cluster: None,
        })
    }
}

/// A failed ELB API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ELB {operation} on {resource} failed: {message}")]
pub struct ElbError {
    pub operation: &'static str,
    pub resource: String,
    pub message: String,
}

/// The target group operations sync needs.
pub trait TargetGroups: Send + Sync {
    /// Every target group carrying the sources tag, with its tags.
    fn list_managed(&self) -> impl Future<Output = Result<Vec<TargetGroupInfo>, ElbError>> + Send;
    /// One target group by ARN, with its tags; `None` when it does not exist.
    fn describe(&self, arn: &str) -> impl Future<Output = Result<Option<TargetGroupInfo>, ElbError>> + Send;
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

/// [`TargetGroups`] over the Elastic Load Balancing v2 API.
pub struct ElbTargetGroups {
    client: elb::Client,
    /// Targets DescribeTargetHealth listed with AvailabilityZone `all`
    /// (addresses outside the target group's VPC), per target group: they must
    /// be deregistered with that zone too.
    outside_vpc: std::sync::Mutex<BTreeMap<String, std::collections::BTreeSet<Target>>>,
}

/// ELB's ValidationError for an address outside the target group's VPC that
/// was registered without `AvailabilityZone=all` (F8).
fn is_outside_vpc_error(message: &str) -> bool {
    message.contains("outside the VPC") || message.contains("not in the VPC")
}

/// DescribeTags takes at most 20 ARNs per call.
const TAGS_PER_CALL: usize = 20;
/// Targets per Register/DeregisterTargets call.
const TARGETS_PER_CALL: usize = 100;

impl ElbTargetGroups {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        ElbTargetGroups { client: elb::Client::new(config), outside_vpc: Default::default() }
    }

    fn elb_error<E, R>(operation: &'static str, resource: &str, err: SdkError<E, R>) -> ElbError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        ElbError { operation, resource: resource.to_string(), message: describe(&err, "Elastic Load Balancing") }
    }

    async fn tags_of(&self, arns: &[String]) -> Result<BTreeMap<String, BTreeMap<String, String>>, ElbError> {
        let mut out = BTreeMap::new();
        for chunk in arns.chunks(TAGS_PER_CALL) {
            let resp = self
                .client
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| Self::elb_error("DescribeTags", &chunk.join(","), e))?;
            for description in resp.tag_descriptions() {
                let tags = description
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
                    .collect();
                out.insert(description.resource_arn().unwrap_or_default().to_string(), tags);
            }
        }
        Ok(out)
    }

    fn info(group: &elb::types::TargetGroup, tags: BTreeMap<String, String>) -> TargetGroupInfo {
        TargetGroupInfo {
            arn: group.target_group_arn().unwrap_or_default().to_string(),
            name: group.target_group_name().unwrap_or_default().to_string(),
            port: group.port().and_then(|p| u16::try_from(p).ok()),
            target_type: group.target_type().map(|t| t.as_str().to_string()).unwrap_or_else(|| "instance".into()),
            families: AddressFamilies::from_ip_address_type(group.ip_address_type().map(|t| t.as_str())),
            tags,
        }
    }

    fn descriptions(targets: &[Target], all_zones: &std::collections::BTreeSet<Target>) -> Vec<TargetDescription> {
        targets
            .iter()
            .map(|t| {
                let zone = all_zones.contains(t).then_some("all");
                TargetDescription::builder()
                    .id(t.ip.to_string())
                    .port(i32::from(t.port))
                    .set_availability_zone(zone.map(str::to_string))
                    .build()
            })
            .collect()
    }

    async fn register_call(&self, arn: &str, targets: &[Target], all_zones: bool) -> Result<(), (String, ElbError)> {
        let zones = if all_zones { targets.iter().copied().collect() } else { Default::default() };
        match self
            .client
            .register_targets()
            .target_group_arn(arn)
            .set_targets(Some(Self::descriptions(targets, &zones)))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let message = e.message().unwrap_or_default().to_string();
                Err((message, Self::elb_error("RegisterTargets", arn, e)))
            }
        }
    }
}

impl TargetGroups for ElbTargetGroups {
    async fn list_managed(&self) -> Result<Vec<TargetGroupInfo>, ElbError> {
        let mut groups = Vec::new();
        let mut pages = self.client.describe_target_groups().page_size(400).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Self::elb_error("DescribeTargetGroups", "the account's target groups", e))?;
            groups.extend(page.target_groups().iter().cloned());
        }
        let arns: Vec<String> = groups.iter().filter_map(|g| g.target_group_arn().map(str::to_string)).collect();
        let mut tags = self.tags_of(&arns).await?;
        Ok(groups
            .iter()
            .filter_map(|g| {
                let t = tags.remove(g.target_group_arn()?)?;
                t.contains_key(SOURCES_TAG).then(|| Self::info(g, t))
            })
            .collect())
    }

    async fn describe(&self, arn: &str) -> Result<Option<TargetGroupInfo>, ElbError> {
        let resp = match self.client.describe_target_groups().target_group_arns(arn).send().await {
            Ok(resp) => resp,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_target_group_not_found_exception()) => {
                return Ok(None);
            }
            Err(e) => return Err(Self::elb_error("DescribeTargetGroups", arn, e)),
        };
        let Some(group) = resp.target_groups().first() else {
            return Ok(None);
        };
        let tags = self.tags_of(&[arn.to_string()]).await?.remove(arn).unwrap_or_default();
        Ok(Some(Self::info(group, tags)))
    }

    async fn state(&self, arn: &str) -> Result<TargetGroupState, ElbError> {
        let resp = self
            .client
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(|e| Self::elb_error("DescribeTargetHealth", arn, e))?;
        let mut all_zones = std::collections::BTreeSet::new();
        let targets: Vec<(Target, TargetHealth)> = resp
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let target = d.target()?;
                let ip: IpAddr = target.id()?.parse().ok()?;
                let port = u16::try_from(target.port()?).ok()?;
                if target.availability_zone() == Some("all") {
                    all_zones.insert(Target { ip, port });
                }
                let state = d.target_health().and_then(|h| h.state()).map(|s| s.as_str()).unwrap_or("unknown");
                Some((Target { ip, port }, TargetHealth::from_api(state)))
            })
            .collect();
        self.outside_vpc.lock().expect("zones lock").insert(arn.to_string(), all_zones);
        Ok(TargetGroupState::new(targets))
    }

    /// Registers without an Availability Zone (required for addresses inside
    /// the VPC); when ELB answers that an address is outside the VPC, registers
    /// one by one and gives only the rejected ones `AvailabilityZone=all` (F8).
    async fn register(&self, arn: &str, targets: &[Target]) -> Result<(), ElbError> {
        for chunk in targets.chunks(TARGETS_PER_CALL) {
            match self.register_call(arn, chunk, false).await {
                Ok(()) => continue,
                Err((message, _)) if is_outside_vpc_error(&message) => {}
                Err((_, error)) => return Err(error),
            }
            for target in chunk {
                match self.register_call(arn, std::slice::from_ref(target), false).await {
                    Ok(()) => {}
                    Err((message, _)) if is_outside_vpc_error(&message) => {
                        self.register_call(arn, std::slice::from_ref(target), true).await.map_err(|(_, e)| e)?;
                        self.outside_vpc
                            .lock()
                            .expect("zones lock")
                            .entry(arn.to_string())
                            .or_default()
                            .insert(*target);
                    }
                    Err((_, error)) => return Err(error),
                }
            }
        }
        Ok(())
    }

    async fn deregister(&self, arn: &str, targets: &[Target]) -> Result<(), ElbError> {
        let zones = self.outside_vpc.lock().expect("zones lock").get(arn).cloned().unwrap_or_default();
        for chunk in targets.chunks(TARGETS_PER_CALL) {
            self.client
                .deregister_targets()
                .target_group_arn(arn)
                .set_targets(Some(Self::descriptions(chunk, &zones)))
                .send()
                .await
                .map_err(|e| Self::elb_error("DeregisterTargets", arn, e))?;
        }
        Ok(())
    }
    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, ElbError> {
        Ok(self.tags_of(&[arn.to_string()]).await?.remove(arn).unwrap_or_default())
    }

    async fn add_tags(&self, arn: &str, tags: &[(&str, String)]) -> Result<(), ElbError> {
        let tags = tags.iter().map(|(k, v)| elb::types::Tag::builder().key(*k).value(v).build()).collect();
        self.client
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| Self::elb_error("AddTags", arn, e))?;
        Ok(())
    }

    async fn remove_tags(&self, arn: &str, keys: &[&str]) -> Result<(), ElbError> {
        self.client
            .remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
            .send()
            .await
            .map_err(|e| Self::elb_error("RemoveTags", arn, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The adapters against mocked SDK responses (aws-smithy-mocks), for what
    //! moto cannot show: custom proxy endpoints (moto answers HTTP 500),
    //! error mapping, and DescribeTags batching.
    use super::*;
    use aws_sdk_rds::operation::describe_db_clusters::{DescribeDBClustersError, DescribeDbClustersOutput};
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_sdk_rds::operation::describe_db_proxy_endpoints::{
        DescribeDBProxyEndpointsError, DescribeDbProxyEndpointsOutput,
    };
    use aws_sdk_rds::types::error::{DbClusterNotFoundFault, DbProxyEndpointNotFoundFault};
    use aws_sdk_rds::types::{DbCluster, DbClusterMember, DbInstance, DbProxyEndpoint, DbProxyEndpointStatus};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[tokio::test]
    async fn custom_proxy_endpoint_is_read_from_describe_db_proxy_endpoints() {
        let rule = mock!(aws_sdk_rds::Client::describe_db_proxy_endpoints)
            .match_requests(|r| r.db_proxy_name() == Some("p1") && r.db_proxy_endpoint_name() == Some("ro"))
            .then_output(|| {
                DescribeDbProxyEndpointsOutput::builder()
                    .db_proxy_endpoints(
                        DbProxyEndpoint::builder()
                            .db_proxy_endpoint_name("ro")
                            .endpoint("ro.endpoint.proxy-abc.us-east-1.rds.amazonaws.com")
                            .status(DbProxyEndpointStatus::Available)
                            .build(),
                    )
                    .build()
            });
        let api = RdsApi { client: mock_client!(aws_sdk_rds, [&rule]) };
        let endpoint = api.proxy_endpoint("p1", Some("ro")).await.unwrap();
        assert_eq!(endpoint.address.as_deref(), Some("ro.endpoint.proxy-abc.us-east-1.rds.amazonaws.com"));
        assert_eq!(endpoint.status, "available");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn missing_custom_proxy_endpoint_is_not_found_with_its_name() {
        let rule = mock!(aws_sdk_rds::Client::describe_db_proxy_endpoints).then_error(|| {
            DescribeDBProxyEndpointsError::DbProxyEndpointNotFoundFault(DbProxyEndpointNotFoundFault::builder().build())
        });
        let api = RdsApi { client: mock_client!(aws_sdk_rds, [&rule]) };
        let err = api.proxy_endpoint("p1", Some("ro")).await.unwrap_err();
        assert_eq!(err, RdsError::NotFound { kind: "RDS Proxy endpoint", id: "p1:ro".into() });
    }

    #[tokio::test]
    async fn cluster_members_keep_the_writer_flag_and_unknown_clusters_are_not_found() {
        let found = mock!(aws_sdk_rds::Client::describe_db_clusters)
            .match_requests(|r| r.db_cluster_identifier() == Some("prod"))
            .then_output(|| {
                let member = |id: &str, writer: bool| {
                    DbClusterMember::builder().db_instance_identifier(id).is_cluster_writer(writer).build()
                };
                DescribeDbClustersOutput::builder()
                    .db_clusters(
                        DbCluster::builder()
                            .db_cluster_members(member("a", false))
                            .db_cluster_members(member("b", true))
                            .build(),
                    )
                    .build()
            });
        let missing = mock!(aws_sdk_rds::Client::describe_db_clusters)
            .then_error(|| DescribeDBClustersError::DbClusterNotFoundFault(DbClusterNotFoundFault::builder().build()));
        let api = RdsApi { client: mock_client!(aws_sdk_rds, RuleMode::Sequential, [&found, &missing]) };
        let members = api.cluster_members("prod").await.unwrap();
        assert_eq!(
            members,
            vec![
                ClusterMember { instance_id: "a".into(), is_writer: false },
                ClusterMember { instance_id: "b".into(), is_writer: true }
            ]
        );
        assert_eq!(
            api.cluster_members("gone").await.unwrap_err(),
            RdsError::NotFound { kind: "DB cluster", id: "gone".into() }
        );
    }

    #[tokio::test]
    async fn instance_endpoint_carries_status_and_cluster() {
        let rule = mock!(aws_sdk_rds::Client::describe_db_instances).then_output(|| {
            DescribeDbInstancesOutput::builder()
                .db_instances(
                    DbInstance::builder().db_instance_status("creating").db_cluster_identifier("prod").build(),
                )
                .build()
        });
        let api = RdsApi { client: mock_client!(aws_sdk_rds, [&rule]) };
        let endpoint = api.instance_endpoint("prod-1").await.unwrap();
        assert_eq!(endpoint, Endpoint { address: None, status: "creating".into(), cluster: Some("prod".into()) });
    }

    #[tokio::test]
    async fn access_denied_names_the_call_the_resource_and_iam() {
        let rule = mock!(aws_sdk_rds::Client::describe_db_clusters).then_error(|| {
            DescribeDBClustersError::generic(
                aws_sdk_rds::error::ErrorMetadata::builder().code("AccessDenied").message("not allowed").build(),
            )
        });
        let api = RdsApi { client: mock_client!(aws_sdk_rds, [&rule]) };
        let err = api.cluster_members("prod").await.unwrap_err().to_string();
        assert!(err.contains("DescribeDBClusters") && err.contains("'prod'") && err.contains("IAM"), "{err}");
    }

    #[tokio::test]
    async fn tags_are_read_twenty_target_groups_per_call() {
        use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
        use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
        use aws_sdk_elasticloadbalancingv2::types::{Tag, TagDescription, TargetGroup, TargetTypeEnum};
        let arn = |i: usize| format!("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg{i}/1");
        let groups = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_output(move || {
            let mut out = DescribeTargetGroupsOutput::builder();
            for i in 0..25 {
                out = out.target_groups(
                    TargetGroup::builder()
                        .target_group_arn(arn(i))
                        .target_group_name(format!("tg{i}"))
                        .port(5432)
                        .target_type(TargetTypeEnum::Ip)
                        .build(),
                );
            }
            out.build()
        });
        let tags = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_tags)
            .match_requests(|r| r.resource_arns().len() <= 20)
            .then_output(move || {
                // Every third group is managed.
                let mut out = DescribeTagsOutput::builder();
                for i in (0..25).filter(|i| i % 3 == 0) {
                    let tag = Tag::builder().key(SOURCES_TAG).value("dns:db.internal").build();
                    out = out.tag_descriptions(TagDescription::builder().resource_arn(arn(i)).tags(tag).build());
                }
                out.build()
            });
        let elb = ElbTargetGroups {
            outside_vpc: Default::default(),
            client: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, [&groups, &tags]),
        };
        let managed = elb.list_managed().await.unwrap();
        assert_eq!(tags.num_calls(), 2, "25 ARNs take two DescribeTags calls");
        assert_eq!(managed.len(), 9);
        assert!(managed.iter().all(|g| g.target_type == "ip" && g.port == Some(5432)));
    }

    fn elb_with(rules: &[&aws_smithy_mocks::Rule]) -> ElbTargetGroups {
        ElbTargetGroups {
            client: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, rules.iter().copied()),
            outside_vpc: Default::default(),
        }
    }

    #[tokio::test]
    async fn addresses_outside_the_vpc_are_registered_with_availability_zone_all() {
        use aws_sdk_elasticloadbalancingv2::operation::register_targets::{
            RegisterTargetsError, RegisterTargetsOutput,
        };
        let outside = || {
            RegisterTargetsError::generic(
                aws_sdk_elasticloadbalancingv2::error::ErrorMetadata::builder()
                    .code("ValidationError")
                    .message(
                        "The Availability Zone is required for IP address '172.31.9.9' because it is not in the VPC",
                    )
                    .build(),
            )
        };
        let ids = |r: &aws_sdk_elasticloadbalancingv2::operation::register_targets::RegisterTargetsInput| {
            r.targets()
                .iter()
                .map(|t| (t.id().unwrap_or_default().to_string(), t.availability_zone().map(str::to_string)))
                .collect::<Vec<_>>()
        };
        let both = mock!(aws_sdk_elasticloadbalancingv2::Client::register_targets)
            .match_requests(move |r| r.targets().len() == 2)
            .then_error(outside);
        let inside = mock!(aws_sdk_elasticloadbalancingv2::Client::register_targets)
            .match_requests(move |r| ids(r) == vec![("10.0.1.5".to_string(), None)])
            .then_output(|| RegisterTargetsOutput::builder().build());
        let peer_plain = mock!(aws_sdk_elasticloadbalancingv2::Client::register_targets)
            .match_requests(move |r| ids(r) == vec![("172.31.9.9".to_string(), None)])
            .then_error(outside);
        let peer_all = mock!(aws_sdk_elasticloadbalancingv2::Client::register_targets)
            .match_requests(move |r| ids(r) == vec![("172.31.9.9".to_string(), Some("all".to_string()))])
            .then_output(|| RegisterTargetsOutput::builder().build());
        let elb = elb_with(&[&both, &inside, &peer_plain, &peer_all]);
        let targets = [
            Target { ip: "10.0.1.5".parse().unwrap(), port: 5432 },
            Target { ip: "172.31.9.9".parse().unwrap(), port: 5432 },
        ];
        elb.register("arn:tg", &targets).await.unwrap();
        assert_eq!((both.num_calls(), inside.num_calls(), peer_plain.num_calls(), peer_all.num_calls()), (1, 1, 1, 1));
    }

    #[tokio::test]
    async fn other_register_errors_are_not_retried_with_zone_all() {
        use aws_sdk_elasticloadbalancingv2::operation::register_targets::RegisterTargetsError;
        let denied = mock!(aws_sdk_elasticloadbalancingv2::Client::register_targets).then_error(|| {
            RegisterTargetsError::generic(
                aws_sdk_elasticloadbalancingv2::error::ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("no")
                    .build(),
            )
        });
        let elb = elb_with(&[&denied]);
        let err = elb.register("arn:tg", &[Target { ip: "10.0.1.5".parse().unwrap(), port: 5432 }]).await.unwrap_err();
        assert!(err.to_string().contains("IAM"), "{err}");
        assert_eq!(denied.num_calls(), 1);
    }

    #[tokio::test]
    async fn targets_listed_in_zone_all_are_deregistered_with_it() {
        use aws_sdk_elasticloadbalancingv2::operation::deregister_targets::DeregisterTargetsOutput;
        use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
        use aws_sdk_elasticloadbalancingv2::types::{
            TargetDescription, TargetHealth as ApiHealth, TargetHealthDescription, TargetHealthStateEnum,
        };
        let health = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health).then_output(|| {
            let described = |id: &str, zone: Option<&str>| {
                TargetHealthDescription::builder()
                    .target(
                        TargetDescription::builder()
                            .id(id)
                            .port(5432)
                            .set_availability_zone(zone.map(str::to_string))
                            .build(),
                    )
                    .target_health(ApiHealth::builder().state(TargetHealthStateEnum::Healthy).build())
                    .build()
            };
            DescribeTargetHealthOutput::builder()
                .target_health_descriptions(described("10.0.1.5", Some("us-east-1a")))
                .target_health_descriptions(described("172.31.9.9", Some("all")))
                .build()
        });
        let deregister = mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets)
            .match_requests(|r| {
                let zones: Vec<(&str, Option<&str>)> =
                    r.targets().iter().map(|t| (t.id().unwrap_or_default(), t.availability_zone())).collect();
                zones == vec![("10.0.1.5", None), ("172.31.9.9", Some("all"))]
            })
            .then_output(|| DeregisterTargetsOutput::builder().build());
        let elb = elb_with(&[&health, &deregister]);
        let state = elb.state("arn:tg").await.unwrap();
        let all: Vec<Target> = state.targets.keys().copied().collect();
        elb.deregister("arn:tg", &all).await.unwrap();
        assert_eq!(deregister.num_calls(), 1);
    }
}
