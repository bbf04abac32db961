//! A fleet on the stand-in: many Aurora clusters, each followed by several
//! target groups, for the fleet tests and the benchmark (`fleet_bench`).

use std::net::Ipv4Addr;

use futures::StreamExt;

use crate::aws::{AuroraCluster, IpFamily, TargetGroup};
use crate::sandbox::Sandbox;

/// Target groups per cluster: two follow the writer, two the readers.
pub const GROUPS_PER_CLUSTER: usize = 4;
/// Instances per cluster: a writer and a reader.
pub const INSTANCES_PER_CLUSTER: usize = 2;
/// Fixture calls sent to the stand-in at once while building.
const BUILD_CONCURRENCY: usize = 8;

/// What [`Fleet::build`] made.
pub struct Fleet {
    pub clusters: Vec<AuroraCluster>,
    /// Every target group, `GROUPS_PER_CLUSTER` per cluster in cluster order.
    pub groups: Vec<TargetGroup>,
}

/// The address the test DNS gives the `n`-th instance of the fleet: inside
/// the sandbox's VPC (10.1.0.0/16), outside its two subnets.
pub fn fleet_address(n: usize) -> Ipv4Addr {
    let third = u8::try_from(10 + n / 250).expect("at most 61,000 instances");
    let fourth = u8::try_from(n % 250 + 1).expect("below 251");
    Ipv4Addr::new(10, 1, third, fourth)
}

impl Fleet {
    /// Builds `groups` target groups (rounded up to whole clusters of
    /// [`GROUPS_PER_CLUSTER`]) following `groups / 4` clusters of two
    /// instances whose endpoints resolve in the sandbox's DNS. The groups are
    /// not attached to a load balancer (an NLB takes 50 listeners).
    pub async fn build(sandbox: &Sandbox, groups: usize) -> Fleet {
        let cluster_count = groups.div_ceil(GROUPS_PER_CLUSTER);
        let clusters: Vec<AuroraCluster> =
            futures::stream::iter(0..cluster_count)
                .map(|c| async move {
                    sandbox.aws.create_aurora_cluster(&format!("fleet-{c:04}"), INSTANCES_PER_CLUSTER).await
                })
                .buffered(BUILD_CONCURRENCY)
                .collect()
                .await;
        for (c, cluster) in clusters.iter().enumerate() {
            for (i, address) in cluster.addresses.iter().enumerate() {
                sandbox.dns.set_a(address, &[fleet_address(c * INSTANCES_PER_CLUSTER + i)]);
            }
        }
        let specs: Vec<(String, String)> = clusters
            .iter()
            .flat_map(|cluster| {
                let id = &cluster.id;
                [
                    (format!("{id}-w0"), format!("rds-cluster:{id}:writer")),
                    (format!("{id}-r0"), format!("rds-cluster:{id}:readers")),
                    (format!("{id}-w1"), format!("rds-cluster:{id}:writer")),
                    (format!("{id}-r1"), format!("rds-cluster:{id}:readers")),
                ]
            })
            .collect();
        let groups: Vec<TargetGroup> = futures::stream::iter(specs)
            .map(|(name, sources)| async move {
                let tg = sandbox.aws.create_ip_target_group(&name, &sandbox.network.vpc_id, IpFamily::V4).await;
                sandbox.aws.set_sources(&tg.arn, &sources).await;
                tg
            })
            .buffered(BUILD_CONCURRENCY)
            .collect()
            .await;
        Fleet { clusters, groups }
    }

    /// The target groups following cluster `c`.
    pub fn groups_of(&self, c: usize) -> &[TargetGroup] {
        &self.groups[c * GROUPS_PER_CLUSTER..(c + 1) * GROUPS_PER_CLUSTER]
    }

    /// The address of instance `i` of cluster `c` in the test DNS.
    pub fn address(&self, c: usize, i: usize) -> Ipv4Addr {
        fleet_address(c * INSTANCES_PER_CLUSTER + i)
    }
}

/// ELB calls a steady run may make for `n` groups when `audited` of them are
/// due for their health read: the listing (DescribeTargetGroups pages of 400,
/// DescribeTags 20 ARNs a call) and one DescribeTargetHealth per audit, plus
/// 20 to spare.
pub fn steady_elb_calls_bound(n: usize, audited: usize) -> usize {
    n.div_ceil(20) + n.div_ceil(400) + audited + 20
}
