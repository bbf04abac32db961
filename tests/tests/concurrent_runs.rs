//! Runs that overlap, through the real binaries: a scheduled run whose change
//! is still in flight while an RDS event's run starts, another run holding a
//! target group's lease, and the watch after "failover started" while another
//! group of the same cluster has a change pending. The functions take
//! per-target-group leases in a DynamoDB table of the stand-in
//! (`NLB_SYNC_LEASE_TABLE`), as `template.yaml` sets them up; calls are made
//! to land late with the stand-in's `slow` knob.

use std::time::{Duration, Instant};

use integration_tests::{
    AuroraCluster, LambdaEmulator, RdsNotification, Sandbox, TargetGroup, event_decisions, ipv4, rds_event,
    scheduled_event, succeeded, target,
};
use serde_json::Value;
use tokio::task::JoinHandle;

const LEASES: &str = "nlb-target-sync-leases";

/// An Aurora cluster of two instances whose endpoints resolve in the test DNS
/// (instance 0 writes first), a lease table, and a group following the writer
/// that holds the first writer.
struct Setup {
    sandbox: Sandbox,
    cluster: AuroraCluster,
    writer_group: TargetGroup,
    ips: [&'static str; 2],
}

impl Setup {
    async fn new(cluster_id: &str, ips: [&'static str; 2]) -> Setup {
        let sandbox = Sandbox::start().await;
        sandbox.aws.create_lease_table(LEASES).await;
        let cluster = sandbox.aws.create_aurora_cluster(cluster_id, 2).await;
        for (instance, address) in cluster.instances.iter().zip(ips) {
            sandbox.dns.set_a(cluster.address_of(instance), &[ipv4(address)]);
        }
        let writer_group = sandbox
            .target_group(&format!("{cluster_id}-writer"), Some(&format!("rds-cluster:{cluster_id}:writer")))
            .await;
        sandbox.aws.register_targets(&writer_group.arn, &[&target(ips[0])]).await;
        Setup { sandbox, cluster, writer_group, ips }
    }

    async fn fail_over_to(&self, instance: usize) {
        self.sandbox.aws.failover_cluster(&self.cluster.id, &self.cluster.instances[instance]).await;
    }

    /// `sync-on-schedule` taking leases in the table.
    async fn schedule_function(&self) -> LambdaEmulator {
        self.sandbox.function_with_quick_dns("sync-on-schedule").var("NLB_SYNC_LEASE_TABLE", LEASES).start().await
    }

    /// `sync-on-failover` taking leases in the table, watching for `watch`.
    async fn failover_function(&self, watch: Duration) -> LambdaEmulator {
        self.sandbox.failover_function(watch).var("NLB_SYNC_LEASE_TABLE", LEASES).start().await
    }
}

/// Invokes `lambda` with `event` in a task of its own; the task hands the
/// emulator back with the answer.
fn invoke_in_background(lambda: LambdaEmulator, event: Value) -> JoinHandle<(LambdaEmulator, Value)> {
    tokio::spawn(async move {
        let invocation = lambda.invoke(event).await;
        let answer = succeeded(&invocation, &lambda);
        (lambda, answer)
    })
}

/// Every distinct state of the target group seen until `done` says stop.
async fn record_states(setup: &Setup, arn: &str, done: impl Fn() -> bool, timeout: Duration) -> Vec<Vec<String>> {
    let started = Instant::now();
    let mut states: Vec<Vec<String>> = Vec::new();
    while started.elapsed() < timeout {
        let now = setup.sandbox.aws.registered_targets(arn).await;
        if states.last() != Some(&now) {
            states.push(now);
        }
        if done() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    states
}

/// Sequence 1 of the overlapping-runs report. A failover whose event was
/// lost; the scheduled run registers the new writer B, and its
/// DeregisterTargets of the old writer A is still in flight when the cluster
/// fails back to A and RDS-EVENT-0071 arrives. The event's run must not plan
/// on targets that the older run is about to remove: the group is never
/// empty, and ends holding A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_flight_and_a_failback_event_never_empty_the_writer_group() {
    let setup = Setup::new("orders", ["10.1.3.10", "10.1.3.11"]).await;
    let (schedule, failover) =
        (setup.schedule_function().await, setup.failover_function(Duration::from_secs(20)).await);
    let (a, b) = (target(setup.ips[0]), target(setup.ips[1]));

    setup.fail_over_to(1).await;
    setup.sandbox.moto.health_checks().slow_down("DeregisterTargets", Duration::from_secs(3), 1).await;
    let scheduled = invoke_in_background(schedule, scheduled_event());
    let both = vec![a.clone(), b.clone()];
    let arn = setup.writer_group.arn.clone();
    // The scheduled run has registered B; its removal of A is in flight.
    let started = Instant::now();
    while setup.sandbox.aws.registered_targets(&arn).await != both {
        assert!(started.elapsed() < Duration::from_secs(10), "the scheduled run never registered {b}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    setup.fail_over_to(0).await;
    let event = RdsNotification::cluster("orders", "RDS-EVENT-0071", "Completed failover to DB instance: orders-0");
    let followed = invoke_in_background(failover, rds_event(&[&event]));
    let states =
        record_states(&setup, &arn, || scheduled.is_finished() && followed.is_finished(), Duration::from_secs(40))
            .await;
    scheduled.await.expect("the scheduled run");
    let (_, answer) = followed.await.expect("the event's run");

    assert!(states.iter().all(|s| !s.is_empty()), "the writer group was empty at some point: {states:?}");
    assert_eq!(setup.sandbox.aws.registered_targets(&arn).await, vec![a.clone()], "states: {states:?}");
    assert_eq!(event_decisions(&answer), ["synced: target groups changed and are correct"], "{answer:#}");
    assert_eq!(setup.sandbox.aws.lease_holder(LEASES, &arn).await, None, "every lease was given back");
}

/// Sequence 2 of the overlapping-runs report. The writer went back and forth
/// (B, A, B). A scheduled run that resolved while A was the writer has its
/// RegisterTargets of A in flight when RDS-EVENT-0071 for the move back to B
/// arrives; the event's run finds the group holding B, nothing to change. It
/// must not answer "correct" while that older change is still coming: the
/// group ends holding B, not the demoted A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_flight_never_brings_back_the_old_writer_after_an_event_found_nothing_to_change() {
    let setup = Setup::new("payments", ["10.1.6.10", "10.1.6.11"]).await;
    let (schedule, failover) =
        (setup.schedule_function().await, setup.failover_function(Duration::from_secs(20)).await);
    let (a, b) = (target(setup.ips[0]), target(setup.ips[1]));
    let arn = setup.writer_group.arn.clone();

    // B writes and the group holds B.
    setup.fail_over_to(1).await;
    let schedule = {
        let answer = succeeded(&schedule.invoke(scheduled_event()).await, &schedule);
        assert_eq!(setup.sandbox.aws.registered_targets(&arn).await, vec![b.clone()], "{answer:#}");
        schedule
    };
    // Back to A: a scheduled run registers A, slowly.
    setup.fail_over_to(0).await;
    setup.sandbox.moto.health_checks().slow_down("RegisterTargets", Duration::from_secs(3), 1).await;
    let scheduled = invoke_in_background(schedule, scheduled_event());
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(setup.sandbox.aws.registered_targets(&arn).await, vec![b.clone()], "A's registration is in flight");

    // And to B again: the event's run finds the group holding B.
    setup.fail_over_to(1).await;
    let event = RdsNotification::cluster("payments", "RDS-EVENT-0071", "Completed failover to DB instance: payments-1");
    let followed = invoke_in_background(failover, rds_event(&[&event]));
    let states =
        record_states(&setup, &arn, || scheduled.is_finished() && followed.is_finished(), Duration::from_secs(40))
            .await;
    scheduled.await.expect("the scheduled run");
    let (_, answer) = followed.await.expect("the event's run");

    assert!(states.iter().all(|s| !s.is_empty()), "the writer group was empty at some point: {states:?}");
    assert_eq!(setup.sandbox.aws.registered_targets(&arn).await, vec![b.clone()], "states: {states:?}");
    assert!(!setup.sandbox.aws.registered_targets(&arn).await.contains(&a));
    assert_eq!(event_decisions(&answer), ["synced: target groups changed and are correct"], "{answer:#}");
}

/// A run with changes waits while another run holds the group's lease, and
/// changes nothing until it has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_waits_for_the_lease_another_run_holds() {
    let setup = Setup::new("billing", ["10.1.4.10", "10.1.4.11"]).await;
    let schedule = setup.schedule_function().await;
    let arn = setup.writer_group.arn.clone();
    setup.fail_over_to(1).await;
    // Another run (played by the test) holds the lease for 3 more seconds.
    let until = integration_tests::now_ms() + 3_000;
    hold_lease(&setup, &arn, "another-run", until).await;

    let scheduled = invoke_in_background(schedule, scheduled_event());
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        setup.sandbox.aws.registered_targets(&arn).await,
        vec![target(setup.ips[0])],
        "nothing changes while another run holds the lease"
    );
    let (_, answer) = scheduled.await.expect("the scheduled run");
    assert!(integration_tests::now_ms() >= until, "it waited for the lease to end");
    assert_eq!(setup.sandbox.aws.registered_targets(&arn).await, vec![target(setup.ips[1])], "{answer:#}");
    assert_eq!(setup.sandbox.aws.lease_holder(LEASES, &arn).await, None);
}

/// Writes a lease item as a run takes it.
async fn hold_lease(setup: &Setup, arn: &str, owner: &str, until_ms: u64) {
    use aws_sdk_dynamodb::types::AttributeValue;
    setup
        .sandbox
        .aws
        .dynamodb
        .put_item()
        .table_name(LEASES)
        .item("targetGroup", AttributeValue::S(arn.to_string()))
        .item("owner", AttributeValue::S(owner.to_string()))
        .item("expiresAt", AttributeValue::N(until_ms.to_string()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutItem: {e:?}"));
}

/// The watch after "failover started" (RDS-EVENT-0073) ends when the writer
/// has moved and the move is applied, not when the first run applies another
/// pending change in a group of the same cluster (a stray in its readers
/// group).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_after_failover_started_waits_for_the_writer_not_another_groups_change() {
    let setup = Setup::new("ledger", ["10.1.5.10", "10.1.5.11"]).await;
    let readers = setup.sandbox.target_group("ledger-readers", Some("rds-cluster:ledger:readers")).await;
    setup.sandbox.aws.register_targets(&readers.arn, &[&target(setup.ips[1]), &target("10.1.5.99")]).await;
    let failover = setup.failover_function(Duration::from_secs(15)).await;

    let event =
        RdsNotification::cluster("ledger", "RDS-EVENT-0073", "Started cross AZ failover to DB instance: ledger-1");
    let followed = invoke_in_background(failover, rds_event(&[&event]));
    tokio::time::sleep(Duration::from_millis(700)).await;
    setup.fail_over_to(1).await;
    let (_, answer) = followed.await.expect("the event's run");

    assert_eq!(setup.sandbox.aws.registered_targets(&setup.writer_group.arn).await, vec![target(setup.ips[1])]);
    assert_eq!(setup.sandbox.aws.registered_targets(&readers.arn).await, vec![target(setup.ips[0])]);
    assert_eq!(event_decisions(&answer), ["synced: target groups changed and are correct"], "{answer:#}");
    let runs = answer["runs"].as_u64().unwrap_or_else(|| panic!("no run count in {answer:#}"));
    assert!(runs > 1, "the watch went on after the readers group's change: {runs} runs");
}
