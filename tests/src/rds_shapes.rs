//! Fixture helpers for the RDS shapes the stand-in adds to moto
//! (`tests/standin/`): Multi-AZ DB clusters, Aurora Global Databases with a
//! second Region's cluster, and Aurora custom cluster endpoints.

use aws_sdk_rds as rds;
use rds::config::Region;

use crate::aws::{AuroraCluster, Aws};

/// The Region of a Global Database's other cluster (the sandbox is in
/// [`crate::moto::REGION`]).
pub const SECOND_REGION: &str = "us-west-2";

/// What a custom cluster endpoint holds: a static list, or every eligible
/// instance but an excluded list.
#[derive(Clone, Copy, Debug)]
pub enum Members<'a> {
    Static(&'a [&'a str]),
    Excluded(&'a [&'a str]),
}

impl Aws {
    /// Creates a Multi-AZ DB cluster `id` (`engine` `mysql` or `postgres`):
    /// RDS (and the stand-in) creates its three members, one writer and two
    /// readable standbys, `<id>-instance-1` to `-3`.
    pub async fn create_multi_az_cluster(&self, id: &str, engine: &str) -> AuroraCluster {
        let out = self
            .rds
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine(engine)
            .db_cluster_instance_class("db.m6gd.large")
            .storage_type("io1")
            .iops(1000)
            .allocated_storage(100)
            .master_username("admin1")
            .master_user_password("not-a-secret-1")
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDBCluster {id} (Multi-AZ {engine}): {e:?}"));
        let cluster = out.db_cluster().expect("DBCluster");
        assert_eq!(cluster.multi_az(), Some(true), "a Multi-AZ DB cluster");
        let instances: Vec<String> =
            cluster.db_cluster_members().iter().filter_map(|m| m.db_instance_identifier()).map(str::to_owned).collect();
        let mut addresses = Vec::new();
        for instance in &instances {
            addresses.push(self.instance_address(instance).await);
        }
        AuroraCluster {
            id: id.to_owned(),
            endpoint: cluster.endpoint().unwrap_or_default().to_owned(),
            reader_endpoint: cluster.reader_endpoint().unwrap_or_default().to_owned(),
            instances,
            addresses,
        }
    }

    /// An RDS client of the same stand-in in [`SECOND_REGION`].
    pub fn rds_in_second_region(&self) -> rds::Client {
        rds::Client::from_conf(self.rds.config().to_builder().region(Region::new(SECOND_REGION)).build())
    }

    /// Makes cluster `primary` (in the sandbox's Region) the primary of a new
    /// Global Database `global_id`, and adds a secondary cluster `secondary`
    /// with one instance in [`SECOND_REGION`]; returns the secondary's ARN.
    pub async fn create_global_database(&self, global_id: &str, primary: &str, secondary: &str) -> String {
        let primary_arn = self.rds_arn(primary, true).await;
        self.rds
            .create_global_cluster()
            .global_cluster_identifier(global_id)
            .source_db_cluster_identifier(&primary_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateGlobalCluster {global_id} from {primary}: {e:?}"));
        let west = self.rds_in_second_region();
        let out = west
            .create_db_cluster()
            .db_cluster_identifier(secondary)
            .engine("aurora-postgresql")
            .global_cluster_identifier(global_id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDBCluster {secondary} in {global_id}: {e:?}"));
        west.create_db_instance()
            .db_instance_identifier(format!("{secondary}-0"))
            .db_cluster_identifier(secondary)
            .engine("aurora-postgresql")
            .db_instance_class("db.r6g.large")
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDBInstance {secondary}-0: {e:?}"));
        out.db_cluster().and_then(|c| c.db_cluster_arn()).expect("DBClusterArn").to_owned()
    }

    /// A planned switchover (`SwitchoverGlobalCluster`) of `global_id` to
    /// the cluster `target_arn`.
    pub async fn switchover_global_database(&self, global_id: &str, target_arn: &str) {
        self.rds
            .switchover_global_cluster()
            .global_cluster_identifier(global_id)
            .target_db_cluster_identifier(target_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SwitchoverGlobalCluster {global_id} -> {target_arn}: {e:?}"));
    }

    /// An unplanned failover (`FailoverGlobalCluster`, data loss allowed) of
    /// `global_id` to the cluster `target_arn`.
    pub async fn failover_global_database(&self, global_id: &str, target_arn: &str) {
        self.rds
            .failover_global_cluster()
            .global_cluster_identifier(global_id)
            .target_db_cluster_identifier(target_arn)
            .allow_data_loss(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("FailoverGlobalCluster {global_id} -> {target_arn}: {e:?}"));
    }

    /// Creates a custom endpoint `name` (`CustomEndpointType` `kind`, READER
    /// or ANY) of cluster `cluster` and returns its DNS name.
    pub async fn create_cluster_endpoint(&self, cluster: &str, name: &str, kind: &str, members: Members<'_>) -> String {
        let call = self
            .rds
            .create_db_cluster_endpoint()
            .db_cluster_identifier(cluster)
            .db_cluster_endpoint_identifier(name)
            .endpoint_type(kind);
        let call = match members {
            Members::Static(list) => call.set_static_members(Some(owned(list))),
            Members::Excluded(list) => call.set_excluded_members(Some(owned(list))),
        };
        let out = call.send().await.unwrap_or_else(|e| panic!("CreateDBClusterEndpoint {cluster}:{name}: {e:?}"));
        out.endpoint().unwrap_or_else(|| panic!("no Endpoint for {cluster}:{name}")).to_owned()
    }

    /// Changes which instances the custom endpoint `name` holds.
    pub async fn set_cluster_endpoint_members(&self, name: &str, members: Members<'_>) {
        let call = self.rds.modify_db_cluster_endpoint().db_cluster_endpoint_identifier(name);
        let call = match members {
            Members::Static(list) => call.set_static_members(Some(owned(list))).set_excluded_members(Some(vec![])),
            Members::Excluded(list) => call.set_excluded_members(Some(owned(list))).set_static_members(Some(vec![])),
        };
        call.send().await.unwrap_or_else(|e| panic!("ModifyDBClusterEndpoint {name}: {e:?}"));
    }
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}
