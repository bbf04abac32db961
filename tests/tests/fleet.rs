//! A fleet within ELB's API budget, through the real binaries: the stand-in's
//! `Describe*` token bucket on (40 tokens, 10 a second), a lease table, and
//! a few hundred target groups following Aurora clusters. Counts come from
//! the stand-in (every call it received, every call it throttled) and are
//! checked against the run's own summary line.

use std::time::{Duration, Instant};

use integration_tests::{
    ApiBudget, ApiCalls, Fleet, LambdaEmulator, RdsNotification, Sandbox, rds_event, scheduled_event,
    steady_elb_calls_bound, succeeded, target,
};
use serde_json::Value;

const LEASES: &str = "nlb-target-sync-leases";

async fn fleet(groups: usize) -> (Sandbox, Fleet, ApiBudget) {
    let sandbox = Sandbox::start().await;
    sandbox.aws.create_lease_table(LEASES).await;
    let fleet = Fleet::build(&sandbox, groups).await;
    let budget = sandbox.moto.api_budget();
    budget.set_describe_bucket(true).await;
    budget.clear().await;
    (sandbox, fleet, budget)
}

/// A function taking leases, sending ELB `Describe*` calls at ELB's own
/// refill rate (the tests share the bucket with nobody), auditing each
/// settled group once every `audit_seconds`.
async fn function(sandbox: &Sandbox, binary: &str, audit_seconds: u64) -> LambdaEmulator {
    sandbox
        .function(binary)
        .var("NLB_SYNC_LEASE_TABLE", LEASES)
        .var("NLB_SYNC_ELB_DESCRIBE_RATE", "10")
        .var("NLB_SYNC_AUDIT_SECONDS", audit_seconds.to_string())
        .var("NLB_SYNC_WATCH_SECONDS", "20")
        .timeout(Duration::from_secs(300))
        .invoke_timeout(Duration::from_secs(330))
        .start()
        .await
}

/// The counts of the run's summary line must be the stand-in's own.
fn assert_summary_matches(lambda: &LambdaEmulator, calls: &ApiCalls) {
    let summary: Value = lambda.run_lines().last().cloned().expect("a run summary line");
    assert_eq!(summary["ElbCalls"], calls.of_service("elasticloadbalancing"), "{summary} vs {calls:?}");
    assert_eq!(summary["ElbDescribeCalls"], calls.elb_describes(), "{summary} vs {calls:?}");
    assert_eq!(summary["RdsCalls"], calls.of_service("rds"), "{summary} vs {calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_fills_then_runs_steady_within_the_budget_and_an_event_stays_cheap() {
    let (sandbox, fleet, budget) = fleet(200).await;
    let n = fleet.groups.len();
    let audit_seconds = 3600;
    let schedule = function(&sandbox, "sync-on-schedule", audit_seconds).await;

    let fill = succeeded(&schedule.invoke(scheduled_event()).await, &schedule);
    let calls = budget.take_calls().await;
    assert_eq!(calls.throttled_total(), 0, "paced, never throttled: {:?}", calls.throttled);
    assert_eq!(fill["targetGroups"].as_array().map(Vec::len), Some(n));
    for (c, groups) in [0, fleet.clusters.len() - 1].map(|c| (c, fleet.groups_of(c))) {
        let writer = target(&fleet.address(c, 0).to_string());
        assert_eq!(sandbox.aws.registered_targets(&groups[0].arn).await, vec![writer]);
        let reader = target(&fleet.address(c, 1).to_string());
        assert_eq!(sandbox.aws.registered_targets(&groups[1].arn).await, vec![reader]);
    }
    assert_summary_matches(&schedule, &calls);

    budget.clear().await;
    let steady = succeeded(&schedule.invoke(scheduled_event()).await, &schedule);
    let calls = budget.take_calls().await;
    // Each group is audited once an hour: one minute's slot in sixty.
    let audited_at_most = 3 * n.div_ceil(60);
    let bound = steady_elb_calls_bound(n, audited_at_most);
    let elb = calls.of_service("elasticloadbalancing") as usize;
    assert!(elb <= bound, "steady run: {elb} ELB calls, bound {bound}: {:?}", calls.lines());
    assert!(calls.of_action("elasticloadbalancing", "DescribeTargetHealth") as usize <= audited_at_most);
    assert_eq!(calls.elb_mutations(), 0, "no mutating call: {:?}", calls.lines());
    assert_eq!(calls.throttled_total(), 0);
    assert_eq!(steady["apiCalls"]["elb"], elb, "the answer counts the same: {}", steady["apiCalls"]);
    assert_summary_matches(&schedule, &calls);

    // A failover moves one cluster's writer: the event corrects its groups
    // reading only the listing and the four groups it touches.
    let cluster = &fleet.clusters[1];
    sandbox.aws.failover_cluster(&cluster.id, &cluster.instances[1]).await;
    let failover = function(&sandbox, "sync-on-failover", audit_seconds).await;
    budget.clear().await;
    let event = RdsNotification::cluster(&cluster.id, "RDS-EVENT-0071", "Completed failover to DB instance");
    let started = Instant::now();
    succeeded(&failover.invoke(rds_event(&[&event])).await, &failover);
    let took = started.elapsed();
    let calls = budget.take_calls().await;
    let new_writer = target(&fleet.address(1, 1).to_string());
    for group in fleet.groups_of(1).iter().step_by(2) {
        assert_eq!(sandbox.aws.registered_targets(&group.arn).await, vec![new_writer.clone()]);
    }
    // Per group: its health read, then (changed) under the lease its tags and
    // health again; the tags read under the lease serve the view's stamp.
    let touched = fleet.groups_of(1).len();
    let bound = n.div_ceil(20) + n.div_ceil(400) + 3 * touched;
    assert!(
        calls.elb_describes() as usize <= bound,
        "{} Describe* calls, bound {bound}: {:?}",
        calls.elb_describes(),
        calls.lines()
    );
    assert_eq!(calls.throttled_total(), 0);
    assert!(took < Duration::from_secs(10), "the event took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_within_the_audit_period_plus_a_minute() {
    let (sandbox, fleet, budget) = fleet(8).await;
    let audit = Duration::from_secs(120);
    let schedule = function(&sandbox, "sync-on-schedule", audit.as_secs()).await;
    succeeded(&schedule.invoke(scheduled_event()).await, &schedule);
    // Targets added outside the functions.
    let strays: Vec<String> = (0..fleet.groups.len()).map(|i| target(&format!("10.1.200.{}", i + 1))).collect();
    for (group, stray) in fleet.groups.iter().zip(&strays) {
        sandbox.aws.register_targets(&group.arn, &[stray]).await;
    }
    let drifted = Instant::now();
    let mut repaired_after = vec![None; fleet.groups.len()];
    let mut runs = 0;
    while repaired_after.iter().any(Option::is_none) && drifted.elapsed() < audit + Duration::from_secs(90) {
        succeeded(&schedule.invoke(scheduled_event()).await, &schedule);
        runs += 1;
        for (i, group) in fleet.groups.iter().enumerate() {
            if repaired_after[i].is_none() && !sandbox.aws.registered_targets(&group.arn).await.contains(&strays[i]) {
                repaired_after[i] = Some(drifted.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
    let bound = audit + Duration::from_secs(60);
    for (group, after) in fleet.groups.iter().zip(&repaired_after) {
        let after = after.unwrap_or_else(|| panic!("{} still holds its stray after {runs} runs", group.name));
        assert!(after <= bound, "{} repaired after {after:?}, bound {bound:?}", group.name);
    }
    assert_eq!(budget.calls().await.throttled_total(), 0);
}
