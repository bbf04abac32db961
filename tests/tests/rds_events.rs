//! The `sync-on-failover` binary fed with RDS events as EventBridge delivers
//! them, and with the events that move addresses beyond a failover: Blue/Green
//! switchovers and cluster members coming and going. moto plays the RDS API
//! (it implements Blue/Green deployments and their switchover), the loopback
//! DNS server the names. Run with `--nocapture` to see the measured times.
//!
//! Also here, through `sync-on-schedule`: a `dns:` name answering rotating
//! subsets causes no deregistration, and an address really gone is removed
//! once the absence window has passed.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use integration_tests::{
    ABSENT_TAG, IpFamily, LambdaEmulator, RdsEventBridgeEvent, SOURCES_TAG, Sandbox, TargetGroup, event_decisions,
    ipv4, now_ms, other_eventbridge_event, scheduled_event, succeeded, tag_value, target,
};
use serde_json::Value;

async fn failover_function(sandbox: &Sandbox) -> LambdaEmulator {
    sandbox.failover_function(Duration::from_secs(10)).start().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_cluster_failover_swaps_the_writer_with_either_identifier_form() {
    for (n, bare) in [(0, false), (1, true)] {
        let sandbox = Sandbox::start().await;
        let id = format!("ledger{n}");
        let cluster = sandbox.aws.create_aurora_cluster(&id, 2).await;
        for (instance, address) in cluster.instances.iter().zip(["10.1.1.10", "10.1.2.11"]) {
            sandbox.dns.set_a(cluster.address_of(instance), &[ipv4(address)]);
        }
        let tg =
            sandbox.group_holding(&format!("{id}-writer"), &format!("rds-cluster:{id}:writer"), &["10.1.1.10"]).await;
        sandbox.aws.failover_cluster(&id, &cluster.instances[1]).await;
        let lambda = failover_function(&sandbox).await;

        let message = format!("Completed failover to DB instance: {}", cluster.instances[1]);
        let mut event = RdsEventBridgeEvent::cluster(&id, "RDS-EVENT-0071", &message, "failover");
        if bare {
            event = event.bare_identifier();
        }
        let body = succeeded(&lambda.invoke(event.to_value()).await, &lambda);
        assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.2.11")], "bare: {bare}");
        assert_eq!(event_decisions(&body), vec!["synced: target groups changed and are correct"], "{body:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_multi_az_failover_follows_the_dns_change() {
    let sandbox = Sandbox::start().await;
    let address = sandbox.aws.create_rds_instance("orders").await;
    sandbox.dns.set_a(&address, &[ipv4("10.1.1.20")]);
    let tg = sandbox.group_holding("orders", "rds-instance:orders", &["10.1.1.20"]).await;
    let lambda = failover_function(&sandbox).await;

    // The standby takes over; its address reaches DNS a second after the event.
    let event =
        RdsEventBridgeEvent::instance("orders", "RDS-EVENT-0049", "Multi-AZ instance failover completed.", "failover");
    let (invocation, ()) = tokio::join!(lambda.invoke(event.to_value()), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        sandbox.dns.set_a(&address, &[ipv4("10.1.2.21")]);
    });
    let body = succeeded(&invocation, &lambda);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.2.21")]);
    assert_eq!(body["runs"].as_u64().map(|r| r > 1), Some(true), "it kept re-checking: {body:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_blue_green_switchover_leaves_exactly_the_green_address() {
    let sandbox = Sandbox::start().await;
    let blue_address = sandbox.aws.create_rds_instance("billing").await;
    sandbox.dns.set_a(&blue_address, &[ipv4("10.1.1.30")]);
    let tg = sandbox.group_holding("billing", "rds-instance:billing", &["10.1.1.30"]).await;
    let arn = sandbox.aws.rds_arn("billing", false).await;
    let (deployment, _green) = sandbox.aws.create_blue_green_deployment("billing-upgrade", &arn).await;
    let lambda = failover_function(&sandbox).await;

    // Switchover: green takes the name (and, in DNS, the name's address moves
    // to green); blue becomes billing-old1, still up and TCP-healthy.
    sandbox.aws.switchover_blue_green_deployment(&deployment).await;
    sandbox.dns.set_a(&blue_address, &[ipv4("10.1.2.31")]);
    let old_address = sandbox.aws.instance_address("billing-old1").await;
    sandbox.dns.set_a(&old_address, &[ipv4("10.1.1.30")]);
    let event = RdsEventBridgeEvent::blue_green(
        &deployment,
        "RDS-EVENT-0248",
        "Switchover completed on blue/green deployment.",
    );
    let event_ms = event.time_ms;
    let body = succeeded(&lambda.invoke(event.to_value()).await, &lambda);
    let correct_ms = now_ms().saturating_sub(event_ms);

    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.2.31")]);
    assert_eq!(event_decisions(&body), vec!["synced: target groups changed and are correct"], "{body:#}");
    assert_eq!(
        lambda.deregistered_role_changed(),
        vec![target("10.1.1.30")],
        "the old blue leaves as an identity change, not by make before break"
    );
    println!(
        "instance Blue/Green switchover: target group correct {correct_ms} ms after the event ({} run(s))",
        body["runs"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_blue_green_switchover_moves_a_writer_group_to_green() {
    let sandbox = Sandbox::start().await;
    let blue = sandbox.aws.create_aurora_cluster("payments", 2).await;
    for (instance, address) in blue.instances.iter().zip(["10.1.1.40", "10.1.1.41"]) {
        sandbox.dns.set_a(blue.address_of(instance), &[ipv4(address)]);
    }
    let tg = sandbox.group_holding("payments-writer", "rds-cluster:payments:writer", &["10.1.1.40"]).await;
    let arn = sandbox.aws.rds_arn("payments", true).await;
    let (deployment, _) = sandbox.aws.create_blue_green_deployment("payments-upgrade", &arn).await;
    sandbox.aws.switchover_blue_green_deployment(&deployment).await;
    // Green now carries the production names, its instances' endpoint names
    // included: the writer's name resolves to green's address. Blue is
    // payments-old1 with payments-N-old1, still up and read-only.
    let writer = sandbox.aws.cluster_writer("payments").await;
    let writer_address = sandbox.aws.instance_address(&writer).await;
    assert_eq!(writer_address, blue.address_of(&blue.instances[0]), "the writer's endpoint name moved to green");
    sandbox.dns.set_a(&writer_address, &[ipv4("10.1.2.42")]);
    sandbox.dns.set_a(blue.address_of(&blue.instances[1]), &[ipv4("10.1.2.43")]);
    for (old, address) in [("payments-0-old1", "10.1.1.40"), ("payments-1-old1", "10.1.1.41")] {
        sandbox.dns.set_a(&sandbox.aws.instance_address(old).await, &[ipv4(address)]);
    }
    let lambda = failover_function(&sandbox).await;

    let event = RdsEventBridgeEvent::blue_green(
        &deployment,
        "RDS-EVENT-0260",
        "Switchover from DB cluster payments to payments-green completed.",
    );
    let event_ms = event.time_ms;
    let body = succeeded(&lambda.invoke(event.to_value()).await, &lambda);
    let correct_ms = now_ms().saturating_sub(event_ms);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.2.42")]);
    assert_eq!(body["runs"], 1, "converged in the first run: {body:#}");
    println!("cluster Blue/Green switchover: writer group correct {correct_ms} ms after the event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrelated_blue_green_deployment_changes_nothing() {
    let sandbox = Sandbox::start().await;
    let address = sandbox.aws.create_rds_instance("catalog").await;
    sandbox.dns.set_a(&address, &[ipv4("10.1.1.50")]);
    let tg = sandbox.group_holding("catalog", "rds-instance:catalog", &["10.1.1.50"]).await;
    sandbox.aws.create_rds_instance("reporting").await;
    let arn = sandbox.aws.rds_arn("reporting", false).await;
    let (deployment, _) = sandbox.aws.create_blue_green_deployment("reporting-upgrade", &arn).await;
    sandbox.aws.switchover_blue_green_deployment(&deployment).await;
    let lambda = failover_function(&sandbox).await;

    let event = RdsEventBridgeEvent::blue_green(
        &deployment,
        "RDS-EVENT-0248",
        "Switchover completed on blue/green deployment.",
    );
    let body = succeeded(&lambda.invoke(event.to_value()).await, &lambda);
    assert_eq!(event_decisions(&body), vec![format!("ignored: no managed target group follows {deployment}")]);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.1.50")]);
    assert!(lambda.decision_lines().is_empty(), "no target group was synced");
}

/// A cluster `inventory` with a writer and one reader, and a readers group holding the reader.
async fn readers_setup(sandbox: &Sandbox, readers: &[(&str, &str)]) -> TargetGroup {
    let cluster = sandbox.aws.create_aurora_cluster("inventory", 1).await;
    sandbox.dns.set_a(cluster.address_of(&cluster.instances[0]), &[ipv4("10.1.1.60")]);
    let mut held = Vec::new();
    for (name, address) in readers {
        let endpoint = sandbox.aws.add_cluster_instance("inventory", name).await;
        sandbox.dns.set_a(&endpoint, &[ipv4(address)]);
        held.push(*address);
    }
    sandbox.group_holding("inventory-readers", "rds-cluster:inventory:readers", &held).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_added_to_the_cluster_joins_the_readers_group() {
    let sandbox = Sandbox::start().await;
    let tg = readers_setup(&sandbox, &[("inventory-r1", "10.1.1.61")]).await;
    let lambda = failover_function(&sandbox).await;

    // Aurora auto scaling adds a reader.
    let endpoint = sandbox.aws.add_cluster_instance("inventory", "inventory-r2").await;
    sandbox.dns.set_a(&endpoint, &[ipv4("10.1.2.62")]);
    let event = RdsEventBridgeEvent::instance("inventory-r2", "RDS-EVENT-0005", "DB instance created", "creation");
    succeeded(&lambda.invoke(event.to_value()).await, &lambda);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.1.61"), target("10.1.2.62")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_deleted_from_the_cluster_leaves_the_readers_group_at_once() {
    let sandbox = Sandbox::start().await;
    let tg = readers_setup(&sandbox, &[("inventory-r1", "10.1.1.61"), ("inventory-r2", "10.1.2.62")]).await;
    let lambda = failover_function(&sandbox).await;

    sandbox.aws.delete_instance("inventory-r2").await;
    let event = RdsEventBridgeEvent::instance("inventory-r2", "RDS-EVENT-0003", "DB instance deleted", "deletion");
    let body = succeeded(&lambda.invoke(event.to_value()).await, &lambda);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.1.61")]);
    assert_eq!(body["runs"], 1, "{body:#}");
    assert_eq!(lambda.deregistered_role_changed(), vec![target("10.1.2.62")], "an identity change, healthy or not");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_events_that_are_not_for_this_function_are_not_fatal() {
    let sandbox = Sandbox::start().await;
    let address = sandbox.aws.create_rds_instance("ledger").await;
    sandbox.dns.set_a(&address, &[ipv4("10.1.1.70")]);
    let tg = sandbox.group_holding("ledger", "rds-instance:ledger", &["10.1.1.70"]).await;
    let lambda = failover_function(&sandbox).await;

    let mut snapshot = RdsEventBridgeEvent::instance("ledger", "RDS-EVENT-0042", "Manual snapshot created", "backup");
    snapshot.detail_type = "RDS DB Snapshot Event".into();
    snapshot.source_type = "SNAPSHOT".into();
    let unrelated = [
        other_eventbridge_event(),
        snapshot.to_value(),
        RdsEventBridgeEvent::instance("ledger", "RDS-EVENT-0002", "Finished DB Instance backup", "backup").to_value(),
        RdsEventBridgeEvent::instance(
            "elsewhere",
            "RDS-EVENT-0049",
            "Multi-AZ instance failover completed.",
            "failover",
        )
        .to_value(),
        serde_json::json!({"something": "else"}),
    ];
    for event in unrelated {
        let body = succeeded(&lambda.invoke(event.clone()).await, &lambda);
        let decisions = event_decisions(&body);
        assert_eq!(decisions.len(), 1, "{body:#}");
        assert!(decisions[0].starts_with("ignored: "), "{event:#} -> {decisions:?}");
    }
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.1.70")]);
}

/// The account-wide install: a target group made elsewhere (here by the test,
/// as Terraform would: created, then given only the sources tag) and a
/// database no stack subscribed to; one EventBridge event reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_group_made_elsewhere_follows_a_database_through_eventbridge() {
    let sandbox = Sandbox::start().await;
    let address = sandbox.aws.create_rds_instance("crm").await;
    sandbox.dns.set_a(&address, &[ipv4("10.1.1.90")]);
    let tg = sandbox.aws.create_ip_target_group("crm-from-terraform", &sandbox.network.vpc_id, IpFamily::V4).await;
    sandbox.aws.tag(&tg.arn, &[(SOURCES_TAG, "rds-instance:crm"), ("team", "crm")]).await;
    let lambda = failover_function(&sandbox).await;

    sandbox.dns.set_a(&address, &[ipv4("10.1.2.91")]);
    let event = RdsEventBridgeEvent::instance("crm", "RDS-EVENT-0088", "DB instance started", "notification");
    let body = succeeded(&lambda.invoke(event.to_value()).await, &lambda);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.2.91")]);
    assert_eq!(event_decisions(&body), vec!["synced: target groups changed and are correct"], "{body:#}");
    let tags = sandbox.aws.tags(&tg.arn).await;
    assert!(tags.contains(&("team".to_string(), "crm".to_string())), "other tags are left alone: {tags:?}");
}

const RR: &str = "readers.rr.example.internal";
const RR_SET: [&str; 3] = ["10.1.1.80", "10.1.2.81", "10.1.3.82"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_answering_rotating_subsets_never_deregisters() {
    let sandbox = Sandbox::start().await;
    let set: Vec<Ipv4Addr> = RR_SET.iter().map(|a| ipv4(a)).collect();
    sandbox.dns.set_rotating_a(RR, &set, 2);
    let tg = sandbox.target_group("rr", Some(&format!("dns:{RR}"))).await;
    let lambda = sandbox.function_with_quick_dns("sync-on-schedule").start().await;

    for run in 0..10 {
        let invocation = lambda.invoke(scheduled_event()).await;
        succeeded(&invocation, &lambda);
        let held = sandbox.aws.registered_targets(&tg.arn).await;
        assert_eq!(held, RR_SET.iter().map(|a| target(a)).collect::<Vec<_>>(), "run {run}");
    }
    let lines = lambda.decision_lines();
    let count = |line: &Value, metric: &str| line[metric].as_u64().unwrap_or_else(|| panic!("no {metric} in {line}"));
    let deregistered: u64 = lines.iter().map(|l| count(l, "TargetsDeregistered")).sum();
    let registered: u64 = lines.iter().map(|l| count(l, "TargetsRegistered")).sum();
    assert_eq!((lines.len(), deregistered, registered), (10, 0, 3), "one fill, then nothing: {lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_really_gone_is_removed_once_the_absence_window_has_passed() {
    const WINDOW_S: u64 = 2;
    let sandbox = Sandbox::start().await;
    let set: Vec<Ipv4Addr> = RR_SET.iter().map(|a| ipv4(a)).collect();
    sandbox.dns.set_rotating_a(RR, &set, 2);
    let tg = sandbox.target_group("rr", Some(&format!("dns:{RR}"))).await;
    let lambda =
        sandbox.function_with_quick_dns("sync-on-schedule").var("NLB_SYNC_DNS_ABSENCE_SECONDS", "2").start().await;
    succeeded(&lambda.invoke(scheduled_event()).await, &lambda);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await.len(), 3);

    // 10.1.3.82 leaves the name for good.
    sandbox.dns.set_rotating_a(RR, &set[..2], 2);
    let gone_at = Instant::now();
    let mut removed_after = None;
    while gone_at.elapsed() < Duration::from_secs(WINDOW_S * 4) {
        succeeded(&lambda.invoke(scheduled_event()).await, &lambda);
        let held = sandbox.aws.registered_targets(&tg.arn).await;
        if held == vec![target(RR_SET[0]), target(RR_SET[1])] {
            removed_after = Some(gone_at.elapsed());
            break;
        }
        assert_eq!(held.len(), 3, "kept while the window runs: {held:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let removed_after = removed_after.expect("the address is removed within twice the window");
    assert!(removed_after >= Duration::from_secs(WINDOW_S), "not before the window: {removed_after:?}");
    println!("absence window {WINDOW_S} s: the gone address was removed after {removed_after:?}");
    let tags = sandbox.aws.tags(&tg.arn).await;
    let memory = tag_value(&tags, ABSENT_TAG);
    assert!(memory.is_some_and(|m| m.starts_with('r') && !m.contains(RR_SET[2])), "forgotten once removed: {tags:?}");
}
