//! [`DatabaseInspection`] over the RDS API: the security groups, engines
//! and parameter groups of the databases behind the sources. Read-only.

use aws_sdk_rds as rds;
use rds::error::{ProvideErrorMetadata, SdkError};

use super::sdk_failure::FailureReader;
use crate::doctor::{ClusterDetails, DatabaseInspection, InspectError, InstanceDetails, ProxyDetails};
use crate::failure::{ApiFailure, RunsIn};
use crate::permissions::{
    DESCRIBE_DB_CLUSTERS, DESCRIBE_DB_INSTANCES, DESCRIBE_DB_PARAMETERS, DESCRIBE_DB_PROXIES,
    DESCRIBE_DB_PROXY_ENDPOINTS, IamAction,
};
use crate::ports::proxy_endpoint_id;

/// The RDS API, read for `doctor`.
pub struct RdsInspector {
    client: rds::Client,
    failures: FailureReader,
}

impl RdsInspector {
    /// `doctor` runs only in the command line: its advice is for a terminal.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        RdsInspector { client: rds::Client::new(config), failures: FailureReader::new("RDS", RunsIn::Terminal, config) }
    }

    #[cfg(test)]
    pub(crate) fn with_client(client: rds::Client) -> Self {
        RdsInspector { client, failures: FailureReader::canned("RDS") }
    }

    fn failed<E>(&self, action: IamAction, resource: &str, err: SdkError<E>) -> InspectError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        InspectError::new("RDS", action, resource, self.failures.read(&err, action))
    }
}

fn not_found(action: IamAction, resource: &str, what: &str) -> InspectError {
    let failure = ApiFailure::message(format!("RDS answered no {what}: it does not exist in this account and region"));
    InspectError::new("RDS", action, resource, failure)
}

impl DatabaseInspection for RdsInspector {
    async fn cluster(&self, id: &str) -> Result<ClusterDetails, InspectError> {
        let out = self
            .client
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .map_err(|e| self.failed(DESCRIBE_DB_CLUSTERS, id, e))?;
        let cluster = out.db_clusters().first().ok_or_else(|| not_found(DESCRIBE_DB_CLUSTERS, id, "DB cluster"))?;
        Ok(ClusterDetails {
            engine: cluster.engine().unwrap_or_default().to_string(),
            security_groups: cluster
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
                .collect(),
            members: cluster
                .db_cluster_members()
                .iter()
                .filter_map(|m| m.db_instance_identifier().map(str::to_string))
                .collect(),
        })
    }

    async fn instance(&self, id: &str) -> Result<InstanceDetails, InspectError> {
        let out = self
            .client
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| self.failed(DESCRIBE_DB_INSTANCES, id, e))?;
        let instance = out.db_instances().first().ok_or_else(|| not_found(DESCRIBE_DB_INSTANCES, id, "DB instance"))?;
        Ok(InstanceDetails {
            engine: instance.engine().unwrap_or_default().to_string(),
            security_groups: instance
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
                .collect(),
            parameter_groups: instance
                .db_parameter_groups()
                .iter()
                .filter_map(|g| g.db_parameter_group_name().map(str::to_string))
                .collect(),
        })
    }

    async fn proxy(&self, name: &str, endpoint: Option<&str>) -> Result<ProxyDetails, InspectError> {
        let out = self
            .client
            .describe_db_proxies()
            .db_proxy_name(name)
            .send()
            .await
            .map_err(|e| self.failed(DESCRIBE_DB_PROXIES, name, e))?;
        let proxy = out.db_proxies().first().ok_or_else(|| not_found(DESCRIBE_DB_PROXIES, name, "RDS Proxy"))?;
        let engine_family = proxy.engine_family().unwrap_or_default().to_string();
        let Some(endpoint) = endpoint else {
            return Ok(ProxyDetails { engine_family, security_groups: proxy.vpc_security_group_ids().to_vec() });
        };
        let id = proxy_endpoint_id(name, Some(endpoint));
        let out = self
            .client
            .describe_db_proxy_endpoints()
            .db_proxy_name(name)
            .db_proxy_endpoint_name(endpoint)
            .send()
            .await
            .map_err(|e| self.failed(DESCRIBE_DB_PROXY_ENDPOINTS, &id, e))?;
        let found = out
            .db_proxy_endpoints()
            .first()
            .ok_or_else(|| not_found(DESCRIBE_DB_PROXY_ENDPOINTS, &id, "RDS Proxy endpoint"))?;
        Ok(ProxyDetails { engine_family, security_groups: found.vpc_security_group_ids().to_vec() })
    }

    async fn parameter(&self, group: &str, parameter: &str) -> Result<Option<String>, InspectError> {
        // Every page: DescribeDBParameters takes no filter on the name.
        let mut pages = self.client.describe_db_parameters().db_parameter_group_name(group).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed(DESCRIBE_DB_PARAMETERS, group, e))?;
            if let Some(found) = page.parameters().iter().find(|p| p.parameter_name() == Some(parameter)) {
                return Ok(found.parameter_value().map(str::to_string));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    //! Against canned RDS answers: a parameter on a later page (moto answers
    //! in one page) and a proxy's custom endpoint with its own groups.
    use super::super::canned::{Canned, ok_body};
    use super::*;

    fn parameter(name: &str, value: Option<&str>) -> String {
        let value = value.map(|v| format!("<ParameterValue>{v}</ParameterValue>")).unwrap_or_default();
        format!("<Parameter><ParameterName>{name}</ParameterName>{value}<Source>engine-default</Source></Parameter>")
    }

    #[tokio::test]
    async fn a_parameter_is_found_on_a_later_page_and_an_unset_one_has_no_value() {
        let canned = Canned::default()
            .on_form(
                "DescribeDBParameters",
                |f| !f.contains_key("Marker"),
                200,
                ok_body(
                    "DescribeDBParameters",
                    &format!("<Parameters>{}</Parameters><Marker>page-2</Marker>", parameter("autocommit", Some("1"))),
                ),
            )
            .on_form(
                "DescribeDBParameters",
                |f| f.get("Marker").map(String::as_str) == Some("page-2"),
                200,
                ok_body(
                    "DescribeDBParameters",
                    &format!(
                        "<Parameters>{}{}</Parameters>",
                        parameter("max_connect_errors", Some("1000000")),
                        parameter("max_connections", None)
                    ),
                ),
            );
        let rds = RdsInspector::with_client(canned.rds());
        assert_eq!(rds.parameter("orders", "max_connect_errors").await.unwrap().as_deref(), Some("1000000"));
        assert_eq!(canned.asked("DescribeDBParameters").len(), 2);
        assert_eq!(rds.parameter("orders", "max_connections").await.unwrap(), None, "listed without a value");
        assert_eq!(rds.parameter("orders", "no_such_thing").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_custom_proxy_endpoint_has_its_own_security_groups() {
        let canned = Canned::default()
            .on(
                "DescribeDBProxies",
                200,
                ok_body(
                    "DescribeDBProxies",
                    "<DBProxies><member><DBProxyName>app</DBProxyName><EngineFamily>MYSQL</EngineFamily>\
                     <VpcSecurityGroupIds><member>sg-proxy</member></VpcSecurityGroupIds></member></DBProxies>",
                ),
            )
            .on(
                "DescribeDBProxyEndpoints",
                200,
                ok_body(
                    "DescribeDBProxyEndpoints",
                    "<DBProxyEndpoints><member><DBProxyEndpointName>ro</DBProxyEndpointName><VpcSecurityGroupIds>\
                     <member>sg-ro</member></VpcSecurityGroupIds></member></DBProxyEndpoints>",
                ),
            );
        let rds = RdsInspector::with_client(canned.rds());
        let default = rds.proxy("app", None).await.unwrap();
        assert_eq!(
            (default.engine_family.as_str(), default.security_groups.clone()),
            ("MYSQL", vec!["sg-proxy".into()])
        );
        assert_eq!(rds.proxy("app", Some("ro")).await.unwrap().security_groups, vec!["sg-ro"]);
    }
}
