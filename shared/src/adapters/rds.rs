//! [`RdsDirectory`] over the RDS API.

use aws_sdk_rds as rds;
use rds::error::{ProvideErrorMetadata, SdkError};

use std::collections::HashMap;
use std::sync::Arc;

use super::metering::CountCalls;
use super::sdk_failure::FailureReader;
use crate::failure::RunsIn;
use crate::permissions::{
    DESCRIBE_BLUE_GREEN_DEPLOYMENTS, DESCRIBE_DB_CLUSTER_ENDPOINTS, DESCRIBE_DB_CLUSTERS, DESCRIBE_DB_INSTANCES,
    DESCRIBE_DB_PROXIES, DESCRIBE_DB_PROXY_ENDPOINTS, DESCRIBE_GLOBAL_CLUSTERS, IamAction,
};
use crate::ports::{
    BlueGreenDeployment, ClusterMember, CustomEndpoint, CustomEndpointKind, Endpoint, GlobalRole, RdsDirectory,
    RdsError, SwitchoverMember, proxy_endpoint_id,
};
use crate::usage::{ApiMeter, Service};

/// The RDS API through the AWS SDK.
pub struct RdsApi {
    client: rds::Client,
    failures: FailureReader,
}

impl RdsApi {
    /// A client whose requests are counted in `meter`.
    pub fn new(config: &aws_config::SdkConfig, runs_in: RunsIn, meter: Arc<ApiMeter>) -> Self {
        let counted = rds::config::Builder::from(config).interceptor(CountCalls::new(Service::Rds, meter)).build();
        RdsApi { client: rds::Client::from_conf(counted), failures: FailureReader::new("RDS", runs_in, config) }
    }

    #[cfg(test)]
    pub(crate) fn with_client(client: rds::Client) -> Self {
        RdsApi { client, failures: FailureReader::canned("RDS") }
    }

    /// The one mapping of a failed RDS call `action` on `resource`: `missing`
    /// names the resource when the service's error says it does not exist,
    /// anything else is an API failure.
    fn error<E>(
        &self,
        action: IamAction,
        resource: &str,
        err: SdkError<E>,
        missing: impl Fn(&E) -> Option<(&'static str, String)>,
    ) -> RdsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if let Some((kind, id)) = err.as_service_error().and_then(missing) {
            return RdsError::NotFound { kind, id };
        }
        RdsError::Api {
            operation: action.operation,
            resource: resource.to_string(),
            failure: self.failures.read(&err, action),
        }
    }

    async fn cluster(&self, cluster_id: &str) -> Result<rds::types::DbCluster, RdsError> {
        let out = self.client.describe_db_clusters().db_cluster_identifier(cluster_id).send().await.map_err(|e| {
            self.error(DESCRIBE_DB_CLUSTERS, cluster_id, e, |s| {
                s.is_db_cluster_not_found_fault().then(|| ("DB cluster", cluster_id.to_string()))
            })
        })?;
        out.db_clusters()
            .first()
            .cloned()
            .ok_or_else(|| RdsError::NotFound { kind: "DB cluster", id: cluster_id.into() })
    }
}

fn status_text(status: Option<&str>) -> String {
    status.unwrap_or("unknown").to_string()
}

/// RDS's Describe calls answer at most 100 records a page.
const RECORDS_PER_PAGE: i32 = 100;
/// Filter values per bulk call: one page's worth of resources.
const IDS_PER_CALL: usize = 100;

fn members_of(cluster: &rds::types::DbCluster) -> Vec<ClusterMember> {
    cluster
        .db_cluster_members()
        .iter()
        .filter_map(|m| {
            Some(ClusterMember {
                instance_id: m.db_instance_identifier()?.to_string(),
                is_writer: m.is_cluster_writer().unwrap_or(false),
            })
        })
        .collect()
}

fn endpoint_of(instance: &rds::types::DbInstance) -> Endpoint {
    Endpoint {
        address: instance.endpoint().and_then(|e| e.address()).map(str::to_string),
        status: status_text(instance.db_instance_status()),
        cluster: instance.db_cluster_identifier().map(str::to_string),
    }
}

fn filter(name: &str, values: &[String]) -> rds::types::Filter {
    rds::types::Filter::builder().name(name).set_values(Some(values.to_vec())).build()
}

impl RdsApi {
    /// Every DB instance a filter selects, a page at a time.
    async fn instances_where(&self, filter: rds::types::Filter) -> Result<Vec<rds::types::DbInstance>, RdsError> {
        let mut found = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .describe_db_instances()
                .filters(filter.clone())
                .max_records(RECORDS_PER_PAGE)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| self.error(DESCRIBE_DB_INSTANCES, "instances in bulk", e, |_| None))?;
            found.extend(page.db_instances().iter().cloned());
            marker = page.marker().filter(|m| !m.is_empty()).map(str::to_string);
            if marker.is_none() {
                return Ok(found);
            }
        }
    }
}

impl RdsDirectory for RdsApi {
    async fn cluster_members(&self, cluster_id: &str) -> Result<Vec<ClusterMember>, RdsError> {
        Ok(members_of(&self.cluster(cluster_id).await?))
    }

    async fn clusters_in_bulk(&self, cluster_ids: &[String]) -> Result<HashMap<String, Vec<ClusterMember>>, RdsError> {
        let mut found = HashMap::new();
        for chunk in cluster_ids.chunks(IDS_PER_CALL) {
            let mut marker = None;
            loop {
                let page = self
                    .client
                    .describe_db_clusters()
                    .filters(filter("db-cluster-id", chunk))
                    .max_records(RECORDS_PER_PAGE)
                    .set_marker(marker)
                    .send()
                    .await
                    .map_err(|e| self.error(DESCRIBE_DB_CLUSTERS, "clusters in bulk", e, |_| None))?;
                for cluster in page.db_clusters() {
                    if let Some(id) = cluster.db_cluster_identifier() {
                        found.insert(id.to_string(), members_of(cluster));
                    }
                }
                marker = page.marker().filter(|m| !m.is_empty()).map(str::to_string);
                if marker.is_none() {
                    break;
                }
            }
        }
        Ok(found)
    }

    async fn instances_in_bulk(
        &self,
        cluster_ids: &[String],
        instance_ids: &[String],
    ) -> Result<HashMap<String, Endpoint>, RdsError> {
        let mut found = HashMap::new();
        let selections = cluster_ids
            .chunks(IDS_PER_CALL)
            .map(|chunk| filter("db-cluster-id", chunk))
            .chain(instance_ids.chunks(IDS_PER_CALL).map(|chunk| filter("db-instance-id", chunk)));
        for selection in selections {
            for instance in self.instances_where(selection).await? {
                if let Some(id) = instance.db_instance_identifier() {
                    found.insert(id.to_string(), endpoint_of(&instance));
                }
            }
        }
        Ok(found)
    }

    async fn instance_endpoint(&self, instance_id: &str) -> Result<Endpoint, RdsError> {
        let out =
            self.client.describe_db_instances().db_instance_identifier(instance_id).send().await.map_err(|e| {
                self.error(DESCRIBE_DB_INSTANCES, instance_id, e, |s| {
                    s.is_db_instance_not_found_fault().then(|| ("DB instance", instance_id.to_string()))
                })
            })?;
        let instance = out
            .db_instances()
            .first()
            .ok_or_else(|| RdsError::NotFound { kind: "DB instance", id: instance_id.into() })?;
        Ok(endpoint_of(instance))
    }

    async fn proxy_endpoint(&self, proxy: &str, endpoint: Option<&str>) -> Result<Endpoint, RdsError> {
        let proxy_missing = || ("RDS Proxy", proxy.to_string());
        let Some(endpoint_name) = endpoint else {
            let out = self.client.describe_db_proxies().db_proxy_name(proxy).send().await.map_err(|e| {
                self.error(DESCRIBE_DB_PROXIES, proxy, e, |s| s.is_db_proxy_not_found_fault().then(proxy_missing))
            })?;
            let found =
                out.db_proxies().first().ok_or_else(|| RdsError::NotFound { kind: "RDS Proxy", id: proxy.into() })?;
            return Ok(Endpoint {
                address: found.endpoint().map(str::to_string),
                status: status_text(found.status().map(|s| s.as_str())),
                cluster: None,
            });
        };
        let id = proxy_endpoint_id(proxy, Some(endpoint_name));
        let out = self
            .client
            .describe_db_proxy_endpoints()
            .db_proxy_name(proxy)
            .db_proxy_endpoint_name(endpoint_name)
            .send()
            .await
            .map_err(|e| {
                self.error(DESCRIBE_DB_PROXY_ENDPOINTS, &id, e, |s| {
                    if s.is_db_proxy_not_found_fault() {
                        Some(proxy_missing())
                    } else {
                        s.is_db_proxy_endpoint_not_found_fault().then(|| ("RDS Proxy endpoint", id.clone()))
                    }
                })
            })?;
        let found = out
            .db_proxy_endpoints()
            .first()
            .ok_or_else(|| RdsError::NotFound { kind: "RDS Proxy endpoint", id: id.clone() })?;
        Ok(Endpoint {
            address: found.endpoint().map(str::to_string),
            status: status_text(found.status().map(|s| s.as_str())),
            cluster: None,
        })
    }

    async fn blue_green_deployment(&self, id: &str) -> Result<BlueGreenDeployment, RdsError> {
        let missing = || ("Blue/Green deployment", id.to_string());
        let out =
            self.client.describe_blue_green_deployments().blue_green_deployment_identifier(id).send().await.map_err(
                |e| {
                    self.error(DESCRIBE_BLUE_GREEN_DEPLOYMENTS, id, e, |s| {
                        s.is_blue_green_deployment_not_found_fault().then(missing)
                    })
                },
            )?;
        let found = out
            .blue_green_deployments()
            .first()
            .ok_or_else(|| RdsError::NotFound { kind: "Blue/Green deployment", id: id.into() })?;
        Ok(BlueGreenDeployment {
            id: found.blue_green_deployment_identifier().unwrap_or(id).to_string(),
            status: found.status().unwrap_or("unknown").to_string(),
            source: found.source().map(str::to_string),
            target: found.target().map(str::to_string),
            members: found
                .switchover_details()
                .iter()
                .map(|d| SwitchoverMember {
                    source: d.source_member().map(str::to_string),
                    target: d.target_member().map(str::to_string),
                })
                .collect(),
        })
    }

    async fn global_role(&self, cluster_id: &str) -> Result<GlobalRole, RdsError> {
        let cluster = self.cluster(cluster_id).await?;
        let Some(global) = cluster.global_cluster_identifier().filter(|g| !g.is_empty()) else {
            return Ok(GlobalRole::NotGlobal);
        };
        let arn = cluster.db_cluster_arn().unwrap_or_default();
        let out =
            self.client.describe_global_clusters().global_cluster_identifier(global).send().await.map_err(|e| {
                self.error(DESCRIBE_GLOBAL_CLUSTERS, global, e, |s| {
                    s.is_global_cluster_not_found_fault().then(|| ("global database", global.to_string()))
                })
            })?;
        let writer = out
            .global_clusters()
            .iter()
            .flat_map(|g| g.global_cluster_members())
            .find(|m| m.db_cluster_arn() == Some(arn))
            .and_then(|m| m.is_writer());
        Ok(match writer {
            Some(true) => GlobalRole::Primary,
            Some(false) => GlobalRole::Secondary { global_cluster: global.to_string() },
            // Not (or no longer) listed as a member: treat as a regional cluster.
            None => GlobalRole::NotGlobal,
        })
    }

    async fn custom_endpoint(&self, cluster_id: &str, endpoint: &str) -> Result<CustomEndpoint, RdsError> {
        let id = format!("{cluster_id}:{endpoint}");
        let out = self
            .client
            .describe_db_cluster_endpoints()
            .db_cluster_identifier(cluster_id)
            .db_cluster_endpoint_identifier(endpoint)
            .send()
            .await
            .map_err(|e| {
                self.error(DESCRIBE_DB_CLUSTER_ENDPOINTS, &id, e, |s| {
                    s.is_db_cluster_not_found_fault().then(|| ("DB cluster", cluster_id.to_string()))
                })
            })?;
        // An endpoint of another cluster, or none: RDS answers an empty list.
        let found = out
            .db_cluster_endpoints()
            .iter()
            .find(|e| e.endpoint_type() == Some("CUSTOM"))
            .ok_or_else(|| RdsError::NotFound { kind: "custom cluster endpoint", id: id.clone() })?;
        let kind = match found.custom_endpoint_type() {
            Some("READER") => CustomEndpointKind::Reader,
            Some("WRITER") => CustomEndpointKind::Writer,
            _ => CustomEndpointKind::Any,
        };
        Ok(CustomEndpoint {
            kind,
            static_members: found.static_members().to_vec(),
            excluded_members: found.excluded_members().to_vec(),
            status: status_text(found.status()),
        })
    }
}

#[cfg(test)]
mod tests {
    //! The adapter against canned RDS answers, for what moto cannot show:
    //! custom proxy endpoints (moto answers HTTP 500) and error mapping.
    use super::super::canned::{Canned, error_body, ok_body};
    use super::*;

    fn api(canned: &Canned) -> RdsApi {
        RdsApi::with_client(canned.rds())
    }

    #[tokio::test]
    async fn custom_proxy_endpoint_is_read_from_describe_db_proxy_endpoints() {
        let canned = Canned::default().on_form(
            "DescribeDBProxyEndpoints",
            |f| f.get("DBProxyName").map(String::as_str) == Some("p1") && f["DBProxyEndpointName"] == "ro",
            200,
            ok_body(
                "DescribeDBProxyEndpoints",
                "<DBProxyEndpoints><member><DBProxyEndpointName>ro</DBProxyEndpointName>\
                 <Endpoint>ro.endpoint.proxy-abc.us-east-1.rds.amazonaws.com</Endpoint>\
                 <Status>available</Status></member></DBProxyEndpoints>",
            ),
        );
        let endpoint = api(&canned).proxy_endpoint("p1", Some("ro")).await.unwrap();
        assert_eq!(endpoint.address.as_deref(), Some("ro.endpoint.proxy-abc.us-east-1.rds.amazonaws.com"));
        assert_eq!(endpoint.status, "available");
        assert_eq!(canned.asked("DescribeDBProxyEndpoints").len(), 1);
    }

    #[tokio::test]
    async fn missing_custom_proxy_endpoint_is_not_found_with_its_name() {
        let canned = Canned::default().on(
            "DescribeDBProxyEndpoints",
            404,
            error_body("Sender", "DBProxyEndpointNotFoundFault", "endpoint ro not found"),
        );
        let err = api(&canned).proxy_endpoint("p1", Some("ro")).await.unwrap_err();
        assert_eq!(err, RdsError::NotFound { kind: "RDS Proxy endpoint", id: "p1:ro".into() });
        let canned = Canned::default().on(
            "DescribeDBProxyEndpoints",
            404,
            error_body("Sender", "DBProxyNotFoundFault", "proxy p1 not found"),
        );
        let err = api(&canned).proxy_endpoint("p1", Some("ro")).await.unwrap_err();
        assert_eq!(err, RdsError::NotFound { kind: "RDS Proxy", id: "p1".into() });
    }

    #[tokio::test]
    async fn cluster_members_keep_the_writer_flag_and_unknown_clusters_are_not_found() {
        let member = |id: &str, writer: bool| {
            format!(
                "<DBClusterMember><DBInstanceIdentifier>{id}</DBInstanceIdentifier>\
                 <IsClusterWriter>{writer}</IsClusterWriter></DBClusterMember>"
            )
        };
        let canned = Canned::default()
            .on_form(
                "DescribeDBClusters",
                |f| f["DBClusterIdentifier"] == "prod",
                200,
                ok_body(
                    "DescribeDBClusters",
                    &format!(
                        "<DBClusters><DBCluster><DBClusterIdentifier>prod</DBClusterIdentifier>\
                         <DBClusterMembers>{}{}</DBClusterMembers></DBCluster></DBClusters>",
                        member("a", false),
                        member("b", true)
                    ),
                ),
            )
            .on("DescribeDBClusters", 404, error_body("Sender", "DBClusterNotFoundFault", "DBCluster gone not found."));
        let api = api(&canned);
        assert_eq!(
            api.cluster_members("prod").await.unwrap(),
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
        let canned = Canned::default().on(
            "DescribeDBInstances",
            200,
            ok_body(
                "DescribeDBInstances",
                "<DBInstances><DBInstance><DBInstanceIdentifier>prod-1</DBInstanceIdentifier>\
                 <DBInstanceStatus>creating</DBInstanceStatus><DBClusterIdentifier>prod</DBClusterIdentifier>\
                 </DBInstance></DBInstances>",
            ),
        );
        let endpoint = api(&canned).instance_endpoint("prod-1").await.unwrap();
        assert_eq!(endpoint, Endpoint { address: None, status: "creating".into(), cluster: Some("prod".into()) });
    }

    #[tokio::test]
    async fn access_denied_names_the_call_the_resource_and_the_action_without_the_raw_response() {
        let canned = Canned::default().on(
            "DescribeDBClusters",
            403,
            error_body("Sender", "AccessDenied", "User: arn:aws:sts::1:assumed-role/fn is not authorized"),
        );
        let err = api(&canned).cluster_members("prod").await.unwrap_err();
        let RdsError::Api { failure, .. } = &err else { panic!("{err:?}") };
        assert_eq!(failure.code.as_deref(), Some("AccessDenied"));
        assert_eq!(failure.request_id.as_deref(), Some("canned-request-1"));
        let text = err.to_string();
        assert!(
            text.contains("DescribeDBClusters")
                && text.contains("'prod'")
                && text.contains("Allow rds:DescribeDBClusters"),
            "{text}"
        );
        assert!(text.contains("is not authorized") && text.contains("canned-request-1"), "{text}");
        for dump in ["x-amzn-RequestId", "Content-Type", "ErrorResponse", "HttpResponse"] {
            assert!(!text.contains(dump), "no raw response in the message: {text}");
        }
        assert!(text.len() < 300, "{} bytes: {text}", text.len());
    }
}
