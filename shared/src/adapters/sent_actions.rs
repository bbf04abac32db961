//! Each adapter method sends exactly the IAM actions `permissions.rs` lists
//! for its port method: the real SDK clients against canned answers, which
//! record the signing service and action of every request.

use std::collections::BTreeSet;

use super::canned::{Canned, ok_body};
use super::{DynamoDbLeases, ElbTargetGroups, RdsApi};
use crate::permissions::PortCall;
use crate::ports::{LeaseStore, RdsDirectory, TargetGroups};
use crate::spec::SOURCES_TAG;
use crate::target::Target;

const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg/1";

/// Successful answers to every call, shaped so that each method goes on to
/// its next call (a group to read the tags of, a cluster in a Global Database).
fn canned() -> Canned {
    let group = format!(
        "<TargetGroups><member><TargetGroupArn>{ARN}</TargetGroupArn><TargetGroupName>tg</TargetGroupName>\
         <Port>5432</Port><TargetType>ip</TargetType></member></TargetGroups>"
    );
    let tags = format!(
        "<TagDescriptions><member><ResourceArn>{ARN}</ResourceArn><Tags><member><Key>{SOURCES_TAG}</Key>\
         <Value>dns:db.internal</Value></member></Tags></member></TagDescriptions>"
    );
    let cluster = "<DBClusters><DBCluster><DBClusterIdentifier>prod</DBClusterIdentifier>\
                   <DBClusterArn>arn:aws:rds:us-east-1:1:cluster:prod</DBClusterArn>\
                   <GlobalClusterIdentifier>global</GlobalClusterIdentifier></DBCluster></DBClusters>";
    let instance = "<DBInstances><DBInstance><DBInstanceIdentifier>pg</DBInstanceIdentifier>\
                    <DBInstanceStatus>available</DBInstanceStatus></DBInstance></DBInstances>";
    let proxy = "<DBProxies><member><DBProxyName>px</DBProxyName><Status>available</Status></member></DBProxies>";
    let endpoint = "<DBProxyEndpoints><member><DBProxyEndpointName>ro</DBProxyEndpointName>\
                    <Status>available</Status></member></DBProxyEndpoints>";
    let deployment = "<BlueGreenDeployments><member><BlueGreenDeploymentIdentifier>bgd-1</BlueGreenDeploymentIdentifier>\
                      <Status>AVAILABLE</Status></member></BlueGreenDeployments>";
    let custom = "<DBClusterEndpoints><DBClusterEndpointList><DBClusterEndpointIdentifier>analytics\
                  </DBClusterEndpointIdentifier><EndpointType>CUSTOM</EndpointType><CustomEndpointType>ANY\
                  </CustomEndpointType><Status>available</Status></DBClusterEndpointList></DBClusterEndpoints>";
    let mut canned = Canned::default()
        .on("DescribeTargetGroups", 200, ok_body("DescribeTargetGroups", &group))
        .on("DescribeTags", 200, ok_body("DescribeTags", &tags))
        .on("DescribeTargetHealth", 200, ok_body("DescribeTargetHealth", "<TargetHealthDescriptions/>"))
        .on("DescribeDBClusters", 200, ok_body("DescribeDBClusters", cluster))
        .on("DescribeDBInstances", 200, ok_body("DescribeDBInstances", instance))
        .on("DescribeDBProxies", 200, ok_body("DescribeDBProxies", proxy))
        .on("DescribeDBProxyEndpoints", 200, ok_body("DescribeDBProxyEndpoints", endpoint))
        .on("DescribeBlueGreenDeployments", 200, ok_body("DescribeBlueGreenDeployments", deployment))
        .on("DescribeGlobalClusters", 200, ok_body("DescribeGlobalClusters", "<GlobalClusters/>"))
        .on("DescribeDBClusterEndpoints", 200, ok_body("DescribeDBClusterEndpoints", custom));
    for action in ["RegisterTargets", "DeregisterTargets", "AddTags", "RemoveTags"] {
        canned = canned.on(action, 200, ok_body(action, ""));
    }
    for action in ["GetItem", "PutItem", "DeleteItem"] {
        canned = canned.on(action, 200, "{}");
    }
    canned
}

/// `n` resource ids starting with `prefix`.
fn ids(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Calls the port method `call` stands for once (twice for the proxy: its
/// default and a custom endpoint).
async fn call_once(call: PortCall, elb: &ElbTargetGroups, rds: &RdsApi, leases: &DynamoDbLeases) {
    let targets = [Target { ip: "10.0.1.5".parse().unwrap(), port: 5432 }];
    let sent = match call {
        PortCall::ListManaged => elb.list_managed().await.map(drop).map_err(|e| e.to_string()),
        PortCall::Describe => elb.describe(ARN).await.map(drop).map_err(|e| e.to_string()),
        PortCall::DescribeByName => elb.describe_by_name("tg").await.map(drop).map_err(|e| e.to_string()),
        PortCall::State => elb.state(ARN).await.map(drop).map_err(|e| e.to_string()),
        PortCall::Tags => elb.tags(ARN).await.map(drop).map_err(|e| e.to_string()),
        PortCall::Register => elb.register(ARN, &targets).await.map_err(|e| e.to_string()),
        PortCall::Deregister => elb.deregister(ARN, &targets).await.map_err(|e| e.to_string()),
        PortCall::AddTags => elb.add_tags(ARN, &[(SOURCES_TAG, "dns:a.b".into())]).await.map_err(|e| e.to_string()),
        PortCall::RemoveTags => elb.remove_tags(ARN, &[SOURCES_TAG]).await.map_err(|e| e.to_string()),
        PortCall::ClusterMembers => rds.cluster_members("prod").await.map(drop).map_err(|e| e.to_string()),
        PortCall::InstanceEndpoint => rds.instance_endpoint("pg").await.map(drop).map_err(|e| e.to_string()),
        PortCall::ProxyEndpoint => {
            rds.proxy_endpoint("px", None).await.map_err(|e| e.to_string()).unwrap();
            rds.proxy_endpoint("px", Some("ro")).await.map(drop).map_err(|e| e.to_string())
        }
        PortCall::ClustersInBulk => rds.clusters_in_bulk(&ids(4, "c")).await.map(drop).map_err(|e| e.to_string()),
        PortCall::InstancesInBulk => {
            rds.instances_in_bulk(&ids(4, "c"), &ids(4, "i")).await.map(drop).map_err(|e| e.to_string())
        }
        PortCall::BlueGreenDeployment => rds.blue_green_deployment("bgd-1").await.map(drop).map_err(|e| e.to_string()),
        PortCall::GlobalRole => rds.global_role("prod").await.map(drop).map_err(|e| e.to_string()),
        PortCall::CustomEndpoint => rds.custom_endpoint("prod", "analytics").await.map(drop).map_err(|e| e.to_string()),
        PortCall::LeaseIsHeld => leases.is_held("key", 1).await.map(drop).map_err(|e| e.to_string()),
        PortCall::LeaseAcquire => leases.acquire("key", "me", 1, 2).await.map(drop).map_err(|e| e.to_string()),
        PortCall::LeaseRelease => leases.release("key", "me").await.map_err(|e| e.to_string()),
    };
    sent.unwrap_or_else(|e| panic!("{call:?}: {e}"));
}

#[tokio::test]
async fn every_port_method_sends_exactly_the_actions_listed_for_it() {
    let canned = canned();
    let elb = ElbTargetGroups::with_client(canned.elb());
    let rds = RdsApi::with_client(canned.rds());
    let leases = DynamoDbLeases::with_client(canned.dynamodb(), "leases");
    for call in PortCall::ALL {
        call_once(call, &elb, &rds, &leases).await;
        let listed: BTreeSet<(String, String)> =
            call.actions().iter().map(|a| (a.service.to_string(), a.operation.to_string())).collect();
        assert_eq!(canned.take_actions(), listed, "{call:?}");
    }
}
