//! The RDS shapes beyond a plain Aurora cluster, through `sync-on-failover`
//! and EventBridge-delivered events: Multi-AZ DB clusters (one writer, two
//! readable standbys), DocumentDB and Neptune clusters (the same RDS API,
//! their own ports), and an Aurora Global Database switching its primary
//! between two Regions. moto lacks all three; the stand-in adds them
//! (`tests/standin/multi_az_clusters.py`, `document_db.py`,
//! `global_clusters.py`).

use std::time::Duration;

use integration_tests::{
    AuroraCluster, LambdaEmulator, PORT_TAG, RdsEventBridgeEvent, SECOND_REGION, Sandbox, TargetGroup, event_decisions,
    ipv4, succeeded, target,
};

async fn failover_function(sandbox: &Sandbox) -> LambdaEmulator {
    sandbox.failover_function(Duration::from_secs(5)).start().await
}

/// Gives each member of `cluster` its address in DNS.
fn resolve_members(sandbox: &Sandbox, cluster: &AuroraCluster, addresses: &[&str]) {
    for (instance, address) in cluster.instances.iter().zip(addresses) {
        sandbox.dns.set_a(cluster.address_of(instance), &[ipv4(address)]);
    }
}

/// A writer group and a readers group of `cluster`, holding `writer` and
/// `readers` already (on `port`, tagged when it is not the group's own).
async fn role_groups(
    sandbox: &Sandbox,
    cluster: &str,
    port: u16,
    writer: &str,
    readers: &[&str],
) -> (TargetGroup, TargetGroup) {
    let mut groups = Vec::new();
    for (role, held) in [("writer", vec![writer]), ("readers", readers.to_vec())] {
        let tg =
            sandbox.target_group(&format!("{cluster}-{role}"), Some(&format!("rds-cluster:{cluster}:{role}"))).await;
        sandbox.aws.tag(&tg.arn, &[(PORT_TAG, &port.to_string())]).await;
        let held: Vec<String> = held.iter().map(|a| format!("{a}:{port}")).collect();
        sandbox.aws.register_targets(&tg.arn, &held.iter().map(String::as_str).collect::<Vec<_>>()).await;
        groups.push(tg);
    }
    let readers = groups.pop().expect("two groups");
    (groups.pop().expect("two groups"), readers)
}

fn on_port(addresses: &[&str], port: u16) -> Vec<String> {
    addresses.iter().map(|a| format!("{a}:{port}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_az_db_cluster_failover_moves_both_groups_in_one_run() {
    let sandbox = Sandbox::start().await;
    let cluster = sandbox.aws.create_multi_az_cluster("trades", "postgres").await;
    assert_eq!(cluster.instances, ["trades-instance-1", "trades-instance-2", "trades-instance-3"]);
    resolve_members(&sandbox, &cluster, &["10.1.1.10", "10.1.2.11", "10.1.3.12"]);
    let (writer, readers) = role_groups(&sandbox, "trades", 5432, "10.1.1.10", &["10.1.2.11", "10.1.3.12"]).await;
    let lambda = failover_function(&sandbox).await;

    // A standby takes over (under 35 s on RDS); the old writer becomes a
    // readable standby, still up and TCP-healthy.
    sandbox.aws.failover_cluster("trades", "trades-instance-2").await;
    let event = RdsEventBridgeEvent::cluster(
        "trades",
        "RDS-EVENT-0071",
        "Completed failover to DB instance: trades-instance-2",
        "failover",
    );
    let body = succeeded(&lambda.invoke(event.to_value()).await, &lambda);
    assert_eq!(sandbox.aws.registered_targets(&writer.arn).await, vec![target("10.1.2.11")]);
    assert_eq!(sandbox.aws.registered_targets(&readers.arn).await, vec![target("10.1.1.10"), target("10.1.3.12")]);
    assert_eq!(body["runs"], 1, "converged in the run the event started: {body:#}");
    let mut removed = lambda.deregistered_role_changed();
    removed.sort();
    assert_eq!(removed, vec![target("10.1.1.10"), target("10.1.2.11")], "both left as role changes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documentdb_and_neptune_clusters_follow_their_writer_and_readers_on_their_ports() {
    for (engine, port) in [("docdb", 27017), ("neptune", 8182)] {
        let sandbox = Sandbox::start().await;
        let id = format!("graph-{engine}");
        let cluster = sandbox.aws.create_cluster(&id, engine, 3).await;
        resolve_members(&sandbox, &cluster, &["10.1.1.20", "10.1.2.21", "10.1.3.22"]);
        let (writer, readers) = role_groups(&sandbox, &id, port, "10.1.1.20", &["10.1.2.21", "10.1.3.22"]).await;
        let lambda = failover_function(&sandbox).await;

        sandbox.aws.failover_cluster(&id, &cluster.instances[2]).await;
        let message = format!("Completed failover to DB instance: {}", cluster.instances[2]);
        let event = RdsEventBridgeEvent::cluster(&id, "RDS-EVENT-0071", &message, "failover");
        let body = succeeded(&lambda.invoke(event.to_value()).await, &lambda);
        assert_eq!(sandbox.aws.registered_targets(&writer.arn).await, on_port(&["10.1.3.22"], port), "{engine}");
        assert_eq!(
            sandbox.aws.registered_targets(&readers.arn).await,
            on_port(&["10.1.1.20", "10.1.2.21"], port),
            "{engine}"
        );
        assert_eq!(event_decisions(&body), vec!["synced: target groups changed and are correct"], "{engine}: {body:#}");
        assert_eq!(body["runs"], 1, "{engine}: the old writer left in the first run, as a role change: {body:#}");
        assert!(lambda.deregistered_role_changed().contains(&format!("10.1.1.20:{port}")), "{engine}");
    }
}

/// Global Database `ledger-global`: `ledger` here (primary, writer
/// `ledger-0` and reader `ledger-1`), `ledger-west` in the second Region.
async fn global_setup(sandbox: &Sandbox) -> (TargetGroup, TargetGroup, String) {
    let cluster = sandbox.aws.create_aurora_cluster("ledger", 2).await;
    resolve_members(sandbox, &cluster, &["10.1.1.30", "10.1.2.31"]);
    let west = sandbox.aws.create_global_database("ledger-global", "ledger", "ledger-west").await;
    assert!(west.contains(SECOND_REGION), "{west}");
    let (writer, readers) = role_groups(sandbox, "ledger", 5432, "10.1.1.30", &["10.1.2.31"]).await;
    (writer, readers, west)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_switchover_empties_the_old_primary_writer_group_and_failover_back_fills_it() {
    let sandbox = Sandbox::start().await;
    let (writer, readers, west) = global_setup(&sandbox).await;
    let lambda = failover_function(&sandbox).await;

    // Planned switchover to the other Region: this Region's cluster becomes
    // a read-only secondary, whose members DescribeDBClusters lists with no
    // writer. Its writer group must empty, in the invocation of the event.
    sandbox.aws.switchover_global_database("ledger-global", &west).await;
    let event = RdsEventBridgeEvent::cluster(
        "ledger",
        "RDS-EVENT-0185",
        &format!("Global switchover to DB cluster ledger-west in Region {SECOND_REGION} finished."),
        "global-failover",
    );
    let body = succeeded(&lambda.invoke(event.to_value()).await, &lambda);
    assert_eq!(sandbox.aws.registered_targets(&writer.arn).await, Vec::<String>::new(), "{body:#}");
    assert_eq!(sandbox.aws.registered_targets(&readers.arn).await, vec![target("10.1.1.30"), target("10.1.2.31")]);

    // Unplanned failover back: this Region's cluster is the primary again
    // and its writer group fills in the invocation of the event.
    let here = sandbox.aws.rds_arn("ledger", true).await;
    sandbox.aws.failover_global_database("ledger-global", &here).await;
    let event = RdsEventBridgeEvent::cluster(
        "ledger",
        "RDS-EVENT-0238",
        "Global failover to DB cluster ledger in Region us-east-1 completed.",
        "global-failover",
    );
    let body = succeeded(&lambda.invoke(event.to_value()).await, &lambda);
    let writer_now = sandbox.aws.cluster_writer("ledger").await;
    let expected = if writer_now == "ledger-0" { "10.1.1.30" } else { "10.1.2.31" };
    assert_eq!(sandbox.aws.registered_targets(&writer.arn).await, vec![target(expected)], "{body:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regional_cluster_without_a_writer_removes_nothing() {
    let sandbox = Sandbox::start().await;
    let cluster = sandbox.aws.create_aurora_cluster("orders", 1).await;
    resolve_members(&sandbox, &cluster, &["10.1.1.40"]);
    let tg = sandbox.group_holding("orders-writer", "rds-cluster:orders:writer", &["10.1.1.40"]).await;
    let lambda = failover_function(&sandbox).await;

    // Not in a Global Database, and no member left to name as writer (its
    // only instance is gone): an answer that cannot be trusted to remove.
    sandbox.aws.delete_instance(&cluster.instances[0]).await;
    let event = RdsEventBridgeEvent::cluster("orders", "RDS-EVENT-0069", "Failover failed.", "failover");
    let invocation = lambda.invoke(event.to_value()).await;
    assert!(!invocation.is_success(), "the invocation fails so the alarm fires");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.1.40")]);
}
