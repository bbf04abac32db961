//! The read-only ports `doctor` needs beyond the engine's: the load
//! balancer's side of a target group (ELB), the databases' network and
//! parameters (RDS), and the VPC (EC2: subnets, security groups, endpoint
//! services). ELB and RDS are implemented in `adapters/`; EC2 by the command
//! line, so that the Lambda binaries never link the EC2 SDK.

use std::future::Future;

use crate::failure::ApiFailure;
use crate::permissions::IamAction;

use super::facts::{EndpointService, LoadBalancer, SecurityGroup, Subnet, TargetGroupDetails};

/// The load balancer's side of a target group (Elastic Load Balancing).
pub trait LoadBalancerInspection: Send + Sync {
    /// DescribeTargetGroups (VPC, load balancers) and DescribeTargetGroupAttributes.
    fn target_group(&self, arn: &str) -> impl Future<Output = Result<TargetGroupDetails, InspectError>> + Send;
    /// DescribeLoadBalancers, DescribeLoadBalancerAttributes and DescribeListeners.
    fn load_balancer(&self, arn: &str) -> impl Future<Output = Result<LoadBalancer, InspectError>> + Send;
}

/// A DB cluster as DescribeDBClusters reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterDetails {
    pub engine: String,
    pub security_groups: Vec<String>,
    pub members: Vec<String>,
}

/// A DB instance as DescribeDBInstances reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceDetails {
    pub engine: String,
    pub security_groups: Vec<String>,
    pub parameter_groups: Vec<String>,
}

/// An RDS Proxy endpoint as DescribeDBProxies and DescribeDBProxyEndpoints report it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProxyDetails {
    /// `MYSQL`, `POSTGRESQL`, `SQLSERVER`.
    pub engine_family: String,
    pub security_groups: Vec<String>,
}

/// The databases' network and parameters (RDS).
pub trait DatabaseInspection: Send + Sync {
    fn cluster(&self, id: &str) -> impl Future<Output = Result<ClusterDetails, InspectError>> + Send;
    fn instance(&self, id: &str) -> impl Future<Output = Result<InstanceDetails, InspectError>> + Send;
    /// The proxy's default endpoint, or the named custom one.
    fn proxy(
        &self,
        name: &str,
        endpoint: Option<&str>,
    ) -> impl Future<Output = Result<ProxyDetails, InspectError>> + Send;
    /// The value a DB parameter group sets for `parameter`; `None` when it
    /// sets none (the engine's default applies).
    fn parameter(
        &self,
        group: &str,
        parameter: &str,
    ) -> impl Future<Output = Result<Option<String>, InspectError>> + Send;
}

/// The VPC around the load balancer and the databases (EC2).
pub trait NetworkInspection: Send + Sync {
    /// Every subnet of the VPC.
    fn subnets(&self, vpc_id: &str) -> impl Future<Output = Result<Vec<Subnet>, InspectError>> + Send;
    /// These security groups with their inbound rules.
    fn security_groups(&self, ids: &[String]) -> impl Future<Output = Result<Vec<SecurityGroup>, InspectError>> + Send;
    /// The VPC endpoint services on this load balancer, with their allowed
    /// principals and the endpoint connections waiting for acceptance.
    fn endpoint_services(
        &self,
        load_balancer_arn: &str,
    ) -> impl Future<Output = Result<Vec<EndpointService>, InspectError>> + Send;
}

/// A failed read of an inspection port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{api} {operation} on {resource} failed: {failure}")]
pub struct InspectError {
    /// `ELB`, `RDS` or `EC2`.
    pub api: &'static str,
    pub operation: &'static str,
    pub resource: String,
    pub failure: ApiFailure,
}

impl InspectError {
    /// The failed call `action` on `resource`; the failure's own advice (a
    /// permission, credentials, the network) becomes the check's fix, so its
    /// text leaves it out.
    pub fn new(api: &'static str, action: IamAction, resource: impl Into<String>, mut failure: ApiFailure) -> Self {
        failure.fix_apart = true;
        InspectError { api, operation: action.operation, resource: resource.into(), failure }
    }

    /// What to do: what the failure advises, else let the caller's
    /// credentials make the call and reach the API.
    pub fn fix(&self) -> String {
        if let Some(fix) = self.failure.fix() {
            return fix;
        }
        let action = match self.api {
            "ELB" => "elasticloadbalancing",
            "RDS" => "rds",
            _ => "ec2",
        };
        format!(
            "make sure the credentials in use may call {action}:{} and that the {} API is reachable, then run doctor again",
            self.operation, self.api
        )
    }
}
