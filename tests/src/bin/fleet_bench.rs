//! The fleet benchmark: builds N target groups (N/4 Aurora clusters of two
//! instances, each followed by two writer and two reader groups) on the
//! stand-in with ELB's `Describe*` token bucket on (40, 10/s) and a lease
//! table, then runs the real functions and prints, for the first fill, a
//! steady run and one cluster's failover event: the calls per action the
//! stand-in received, the calls it throttled, what the run's summary says it
//! waited for budget, and the wall time. Numbers, not a test: nothing fails.
//!
//! ```sh
//! cargo build --workspace --bins
//! cargo run -p integration-tests --bin fleet_bench -- 100 1000
//! ```
//!
//! Each size is bounded: a function invocation that takes longer than
//! `FUNCTION_TIMEOUT` is reported and the benchmark goes on.

use std::time::{Duration, Instant};

use integration_tests::{
    ApiCalls, Fleet, INSTANCES_PER_CLUSTER, LambdaEmulator, RdsNotification, Sandbox, echo_child_output, rds_event,
    scheduled_event,
};
use serde_json::Value;

const LEASES: &str = "nlb-target-sync-leases";
/// The deadline each invocation sees, and how long the benchmark waits for one.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(900);

#[tokio::main]
async fn main() {
    echo_child_output(false);
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![100, 1000] } else { sizes };
    for n in sizes {
        bench(n).await;
    }
}

async fn bench(n: usize) {
    let built = Instant::now();
    let sandbox = Sandbox::start().await;
    sandbox.aws.create_lease_table(LEASES).await;
    let fleet = Fleet::build(&sandbox, n).await;
    let n = fleet.groups.len();
    let clusters = fleet.clusters.len();
    println!("== N = {n} target groups, C = {clusters} clusters, I = {} instances", clusters * INSTANCES_PER_CLUSTER);
    println!("   built in {:.1} s", built.elapsed().as_secs_f64());
    let budget = sandbox.moto.api_budget();
    budget.set_describe_bucket(true).await;

    let schedule = function(&sandbox, "sync-on-schedule").await;
    budget.clear().await;
    let fill = timed(&schedule, scheduled_event()).await;
    report("first fill", &fill, &budget.take_calls().await, &schedule);
    // Let the bucket fill up again between measurements, as a minute between
    // scheduled runs does.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let steady = timed(&schedule, scheduled_event()).await;
    report("steady run", &steady, &budget.take_calls().await, &schedule);
    drop(schedule);

    let failover = function(&sandbox, "sync-on-failover").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let cluster = &fleet.clusters[0];
    sandbox.aws.failover_cluster(&cluster.id, &cluster.instances[1]).await;
    budget.clear().await;
    let event = RdsNotification::cluster(&cluster.id, "RDS-EVENT-0071", "Completed failover to DB instance");
    let followed = timed(&failover, rds_event(&[&event])).await;
    report("one cluster's failover event", &followed, &budget.take_calls().await, &failover);
    let writer = sandbox.aws.registered_targets(&fleet.groups_of(0)[0].arn).await;
    println!("   writer group of {} now holds {writer:?} (new writer {})", cluster.id, fleet.address(0, 1));
    drop(failover);
}

async fn function(sandbox: &Sandbox, binary: &str) -> LambdaEmulator {
    sandbox
        .function(binary)
        .var("NLB_SYNC_LEASE_TABLE", LEASES)
        .var("NLB_SYNC_WATCH_SECONDS", "30")
        .timeout(FUNCTION_TIMEOUT)
        .invoke_timeout(FUNCTION_TIMEOUT + Duration::from_secs(30))
        .start()
        .await
}

struct Timed {
    status: u16,
    wall: Duration,
    body: Value,
}

async fn timed(lambda: &LambdaEmulator, payload: Value) -> Timed {
    let started = Instant::now();
    let invocation = lambda.invoke(payload).await;
    Timed { status: invocation.status, wall: started.elapsed(), body: invocation.body }
}

fn report(what: &str, run: &Timed, calls: &ApiCalls, lambda: &LambdaEmulator) {
    let summaries = lambda.run_lines();
    let last = summaries.last().cloned().unwrap_or(Value::Null);
    let failed_groups = run.body["targetGroups"]
        .as_array()
        .map(|groups| groups.iter().filter(|g| !g["error"].is_null()).count())
        .unwrap_or(0);
    println!("-- {what}: status {} in {:.1} s, {failed_groups} groups failed", run.status, run.wall.as_secs_f64());
    println!(
        "   ELB {} (Describe* {}, changes {}), RDS {}, throttled {}",
        calls.of_service("elasticloadbalancing"),
        calls.elb_describes(),
        calls.elb_mutations(),
        calls.of_service("rds"),
        calls.throttled_total()
    );
    for line in calls.lines() {
        println!("     {line}");
    }
    println!(
        "   the run's summary line: ElbCalls {} ElbDescribeCalls {} RdsCalls {} DynamoDbCalls {} RetriedCalls {} BudgetWait {} ms",
        last["ElbCalls"],
        last["ElbDescribeCalls"],
        last["RdsCalls"],
        last["DynamoDbCalls"],
        last["RetriedCalls"],
        last["BudgetWait"]
    );
}
