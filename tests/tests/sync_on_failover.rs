//! The `sync-on-failover` binary under the Lambda runtime emulator, against
//! moto (ELBv2, RDS) and a loopback DNS server, fed with the SNS events an RDS
//! event subscription delivers.
//!
//! moto never publishes RDS events, so each test builds the event itself (with
//! the current time as `Event Time`), and plays the failover with moto's
//! `FailoverDBCluster` and DNS record changes, before or during the
//! invocation. Every test checks the invocation result *and* the target group
//! in moto. Run with `--nocapture` to see the measured convergence times.

use std::time::{Duration, Instant};

use integration_tests::{
    AuroraCluster, Aws, LambdaEmulator, RdsNotification, SUBSCRIPTION_CONFIRMATION, Sandbox, TargetGroup, VIEW_TAG,
    event_decisions, group_reports, ipv4, now_ms, only_group_report, rds_event, scheduled_event, sns_event,
    sorted_strings, succeeded, tag_value, target,
};
use serde_json::{Value, json};

/// How long the function watches after an event, unless a test says otherwise.
const WATCH: Duration = Duration::from_secs(15);

/// Starts the function with fast re-checks and short DNS timeouts, plus `extra`.
async fn start_function(sandbox: &Sandbox, extra: &[(&str, &str)]) -> LambdaEmulator {
    sandbox.failover_function(WATCH).vars(extra).start().await
}

/// An Aurora cluster with two instances whose endpoints resolve in the test
/// DNS, a cluster endpoint CNAME pointing at the first writer (and left stale
/// on failover), and a target group following the writer, holding the first
/// writer's address already.
struct WriterSetup {
    cluster: AuroraCluster,
    tg: TargetGroup,
    /// What the DNS answers for the endpoint of `cluster.instances[i]`.
    ips: [&'static str; 2],
}

impl WriterSetup {
    async fn new(sandbox: &Sandbox, cluster_id: &str, tg_name: &str, ips: [&'static str; 2]) -> WriterSetup {
        let cluster = sandbox.aws.create_aurora_cluster(cluster_id, 2).await;
        for (instance, address) in cluster.instances.iter().zip(ips) {
            sandbox.dns.set_a(cluster.address_of(instance), &[ipv4(address)]);
        }
        sandbox.dns.set_cname(&cluster.endpoint, cluster.address_of(&cluster.instances[0]));
        let sources = format!("rds-cluster:{cluster_id}:writer");
        let tg = sandbox.target_group(tg_name, Some(&sources)).await;
        sandbox.aws.register_targets(&tg.arn, &[&target(ips[0])]).await;
        WriterSetup { cluster, tg, ips }
    }

    /// Index of the current writer in moto.
    async fn writer(&self, aws: &Aws) -> usize {
        let writer = aws.cluster_writer(&self.cluster.id).await;
        self.cluster.instances.iter().position(|i| *i == writer).expect("the writer is a member")
    }
}

/// Polls moto's view of a target group until it is `expected`, recording
/// every distinct state seen on the way.
struct TargetWatch {
    /// `(elapsed since start, targets)` for each change seen.
    states: Vec<(Duration, Vec<String>)>,
    /// When `expected` was first seen.
    correct_after: Option<Duration>,
}

async fn watch_targets(aws: &Aws, arn: &str, expected: &[String], timeout: Duration) -> TargetWatch {
    let started = Instant::now();
    let mut watch = TargetWatch { states: Vec::new(), correct_after: None };
    while started.elapsed() < timeout {
        let now = aws.registered_targets(arn).await;
        if watch.states.last().is_none_or(|(_, last)| *last != now) {
            watch.states.push((started.elapsed(), now.clone()));
        }
        if now == expected {
            watch.correct_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    watch
}

/// The EMF lines the function printed for RDS events (`rds event handled`).
fn event_lines(lambda: &LambdaEmulator) -> Vec<Value> {
    lambda.emf_documents().into_iter().filter(|d| d["message"] == "rds event handled").collect()
}

/// Waits until more than `before` event lines were printed and returns the new ones.
async fn new_event_lines(lambda: &LambdaEmulator, before: usize, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let lines = event_lines(lambda);
        if lines.len() >= before + count {
            return lines[before..].to_vec();
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no EMF event line printed: {:?}", lambda.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A single unreadable record: nothing synced, no event line claims a sync,
/// and the reason is logged.
async fn assert_ignored(lambda: &LambdaEmulator, body: &Value) {
    assert!(body["runs"].is_null() || body["runs"] == 0, "no sync run: {body:#}");
    assert!(event_decisions(body).iter().all(|d| d.starts_with("ignored")), "{body:#}");
    assert!(lambda.decision_lines().is_empty(), "no target group decision: {:?}", lambda.logs());
    let logged = lambda.wait_for_log(|l| l.contains("sns message ignored"), Duration::from_secs(5)).await;
    assert!(logged.is_some_and(|l| l.contains("not a JSON RDS event")), "the reason is logged: {:?}", lambda.logs());
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

/// Scenario 1 (role authority): the cluster failed over (RDS-EVENT-0071). The cluster
/// endpoint's DNS still names the old writer, the instance endpoints did not
/// change: the RDS API's roles decide, in one run of one invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_failover_swaps_the_writer_despite_a_stale_cluster_endpoint() {
    let sandbox = Sandbox::start().await;
    let setup = WriterSetup::new(&sandbox, "ledger", "ledger-writer", ["10.1.1.20", "10.1.2.21"]).await;
    let lambda = start_function(&sandbox, &[]).await;
    let (old, new) = (target(setup.ips[0]), target(setup.ips[1]));

    sandbox.aws.failover_cluster("ledger", &setup.cluster.instances[1]).await;
    let event = RdsNotification::cluster("ledger", "RDS-EVENT-0071", "Completed failover to DB instance: ledger-1");
    let invoked = Instant::now();
    let (invocation, watch) = tokio::join!(
        lambda.invoke(rds_event(&[&event])),
        watch_targets(&sandbox.aws, &setup.tg.arn, std::slice::from_ref(&new), Duration::from_secs(30)),
    );
    let wall = invoked.elapsed();
    let body = succeeded(&invocation, &lambda);

    assert_eq!(sandbox.aws.registered_targets(&setup.tg.arn).await, vec![new.clone()], "only the new writer");
    assert_eq!(body["runs"], 1, "one run settles a completed failover: {body:#}");
    let group = only_group_report(&body);
    assert_eq!(group["targetGroupArn"], setup.tg.arn.as_str());
    assert_eq!(sorted_strings(&group["registered"]), vec![new.clone()]);
    assert_eq!(sorted_strings(&group["deregistered"]), vec![old.clone()]);
    assert_eq!(sorted_strings(&group["deregisteredRoleChanged"]), vec![old.clone()], "removed because the role moved");
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{body:#}");
    assert_eq!(events[0]["EventId"], "RDS-EVENT-0071");
    assert!(events[0]["decision"].as_str().unwrap().contains("changed and are correct"), "{body:#}");
    assert!(watch.states.iter().all(|(_, s)| !s.is_empty()), "never empty: {:?}", watch.states);
    let tags = sandbox.aws.tags(&setup.tg.arn).await;
    let stamp: u64 = tag_value(&tags, VIEW_TAG).expect("applied-view tag").parse().expect("Unix ms");
    assert!(stamp <= now_ms() && stamp + 60_000 > now_ms(), "a recent view time: {stamp}");
    assert!(
        sandbox.dns.queries().iter().all(|q| !q.starts_with(&setup.cluster.endpoint.to_ascii_lowercase())),
        "the stale cluster endpoint is not what decides: {:?}",
        sandbox.dns.queries()
    );

    let line = &new_event_lines(&lambda, 0, 1).await[0];
    let emf = line["EventToTargetsCorrect"].as_u64().expect("EventToTargetsCorrect is set");
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"], "EventToTargetsCorrect");
    println!(
        "convergence: completed-event 0071 -> correct in {emf} ms after Event Time (EMF EventToTargetsCorrect); \
         moto correct {} ms after invoke; invocation {} ms (1 run)",
        watch.correct_after.map_or(-1, |d| d.as_millis() as i64),
        wall.as_millis()
    );
}

/// Scenario 2 (watch after an event): "failover started" (RDS-EVENT-0073) arrives while the RDS
/// API still names the old writer; the failover completes about 2 s later,
/// during the invocation. The same invocation keeps re-checking and applies
/// it, without another event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_failover_converges_in_the_same_invocation() {
    let sandbox = Sandbox::start().await;
    let setup = WriterSetup::new(&sandbox, "orders", "orders-writer", ["10.1.1.30", "10.1.2.31"]).await;
    let lambda = start_function(&sandbox, &[]).await;
    let (old, new) = (target(setup.ips[0]), target(setup.ips[1]));

    let event =
        RdsNotification::cluster("orders", "RDS-EVENT-0073", "Started cross AZ failover to DB instance: orders-1");
    let invoked = Instant::now();
    let (invocation, failed_over_after, watch) = tokio::join!(
        lambda.invoke(rds_event(&[&event])),
        async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert_eq!(
                sandbox.aws.registered_targets(&setup.tg.arn).await,
                vec![old.clone()],
                "before the failover the old writer stays"
            );
            sandbox.aws.failover_cluster("orders", &setup.cluster.instances[1]).await;
            invoked.elapsed()
        },
        watch_targets(&sandbox.aws, &setup.tg.arn, std::slice::from_ref(&new), Duration::from_secs(30)),
    );
    let body = succeeded(&invocation, &lambda);

    assert_eq!(sandbox.aws.registered_targets(&setup.tg.arn).await, vec![new.clone()]);
    let runs = body["runs"].as_u64().expect("runs");
    assert!(runs >= 3, "it re-checked until the failover showed: {runs} runs");
    let events = body["events"].as_array().expect("events");
    assert!(events[0]["decision"].as_str().unwrap().contains("changed and are correct"), "{body:#}");
    assert_eq!(sorted_strings(&only_group_report(&body)["deregisteredRoleChanged"]), vec![old]);
    assert!(watch.states.iter().all(|(_, s)| !s.is_empty()), "never empty: {:?}", watch.states);
    let correct_after = watch.correct_after.expect("moto showed the new writer");
    assert!(correct_after >= failed_over_after, "not before the failover");

    let line = &new_event_lines(&lambda, 0, 1).await[0];
    let emf = line["EventToTargetsCorrect"].as_u64().expect("EventToTargetsCorrect is set");
    println!(
        "convergence: started-event 0073 -> correct in {emf} ms after Event Time (EMF; failover {} ms after invoke); \
         moto correct {} ms after the failover; {runs} sync runs (1 run)",
        failed_over_after.as_millis(),
        (correct_after - failed_over_after).as_millis()
    );
}

/// Scenario 3: Multi-AZ instance failover (RDS-EVENT-0049) on an
/// `rds-instance:` source. The endpoint keeps its name; its address changes
/// about 2 s after the event (DNS lags). The invocation re-checks, registers
/// the new address, keeps the old healthy one until the new one is healthy
/// (make before break: moto reports it healthy at once, so the next re-check
/// removes the old one), all in the same invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_az_instance_failover_follows_the_dns_change_make_before_break() {
    let sandbox = Sandbox::start().await;
    let endpoint = sandbox.aws.create_rds_instance("billing-db").await;
    sandbox.dns.set_a(&endpoint, &[ipv4("10.1.1.40")]);
    let tg = sandbox.target_group("billing", Some("rds-instance:billing-db")).await;
    sandbox.aws.register_targets(&tg.arn, &["10.1.1.40:5432"]).await;
    let lambda = start_function(&sandbox, &[]).await;
    let (old, new) = (target("10.1.1.40"), target("10.1.2.40"));

    let event = RdsNotification::instance("billing-db", "RDS-EVENT-0049", "Multi-AZ instance failover completed.");
    let invoked = Instant::now();
    let (invocation, dns_changed_after, watch) = tokio::join!(
        lambda.invoke(rds_event(&[&event])),
        async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            sandbox.dns.set_a(&endpoint, &[ipv4("10.1.2.40")]);
            invoked.elapsed()
        },
        watch_targets(&sandbox.aws, &tg.arn, std::slice::from_ref(&new), Duration::from_secs(30)),
    );
    let body = succeeded(&invocation, &lambda);

    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![new.clone()]);
    assert!(body["runs"].as_u64().unwrap() >= 3, "{body:#}");
    assert!(body["events"][0]["decision"].as_str().unwrap().contains("changed and are correct"), "{body:#}");
    assert!(watch.states.iter().all(|(_, s)| !s.is_empty()), "never empty: {:?}", watch.states);

    // The runs that changed something: first the new address, with the old
    // one held back; then the old one goes.
    let lines = lambda.decision_lines();
    assert!(lines.iter().all(|d| d["Trigger"] == "failover"), "every run is the failover trigger's: {lines:#?}");
    let changes: Vec<Value> = lines
        .into_iter()
        .filter(|d| d["TargetsRegistered"].as_u64() > Some(0) || d["TargetsDeregistered"].as_u64() > Some(0))
        .collect();
    assert_eq!(changes.len(), 2, "register, then deregister: {changes:#?}");
    assert_eq!(sorted_strings(&changes[0]["registered"]), vec![new.clone()]);
    assert_eq!(sorted_strings(&changes[0]["deregistered"]), Vec::<String>::new());
    let held = changes[0]["heldBack"].as_array().expect("heldBack");
    assert!(
        held.iter().any(|h| h["target"] == old.as_str()
            && h["action"] == "deregister"
            && h["reason"].as_str().unwrap().contains("no wanted target is healthy yet")),
        "the old address waits for a healthy replacement: {held:#?}"
    );
    assert_eq!(sorted_strings(&changes[1]["deregistered"]), vec![old.clone()]);
    assert_eq!(sorted_strings(&changes[1]["deregisteredRoleChanged"]), Vec::<String>::new(), "not a role change");

    let line = &new_event_lines(&lambda, 0, 1).await[0];
    println!(
        "convergence: multi-az instance 0049 -> correct in {} ms after Event Time (EMF; DNS changed {} ms after invoke); \
         moto correct {} ms after invoke; {} sync runs (1 run)",
        line["EventToTargetsCorrect"],
        dns_changed_after.as_millis(),
        watch.correct_after.map_or(-1, |d| d.as_millis() as i64),
        body["runs"]
    );
}

/// Scenario 4: an event about a cluster no target group follows changes
/// nothing, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_for_an_unfollowed_cluster_changes_nothing() {
    let sandbox = Sandbox::start().await;
    let setup = WriterSetup::new(&sandbox, "ledger", "ledger-writer", ["10.1.1.50", "10.1.2.51"]).await;
    let other = sandbox.aws.create_aurora_cluster("reports", 2).await;
    sandbox.aws.failover_cluster("reports", &other.instances[1]).await;
    let lambda = start_function(&sandbox, &[]).await;
    let targets_before = sandbox.aws.registered_targets(&setup.tg.arn).await;
    let tags_before = sandbox.aws.tags(&setup.tg.arn).await;

    let event = RdsNotification::cluster("reports", "RDS-EVENT-0071", "Completed failover to DB instance: reports-1");
    let invocation = lambda.invoke(rds_event(&[&event])).await;
    let body = succeeded(&invocation, &lambda);

    assert_eq!(sandbox.aws.registered_targets(&setup.tg.arn).await, targets_before);
    assert_eq!(sandbox.aws.tags(&setup.tg.arn).await, tags_before, "not even the applied-view tag is written");
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{body:#}");
    let decision = events[0]["decision"].as_str().unwrap();
    assert!(decision.contains("no managed target group follows reports"), "{decision}");
    assert!(group_reports(&body).is_empty(), "no target group synced: {body:#}");
    assert!(lambda.decision_lines().is_empty(), "no target group decision: {:?}", lambda.logs());
}

/// Scenario 5a: the plain-text message RDS sends when the subscription is
/// created is not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_confirmation_text_is_ignored() {
    let sandbox = Sandbox::start().await;
    let setup = WriterSetup::new(&sandbox, "ledger", "ledger-writer", ["10.1.1.60", "10.1.2.61"]).await;
    let lambda = start_function(&sandbox, &[]).await;
    let tags_before = sandbox.aws.tags(&setup.tg.arn).await;

    let invocation = lambda.invoke(sns_event(&[SUBSCRIPTION_CONFIRMATION.to_string()])).await;
    let body = succeeded(&invocation, &lambda);

    assert_eq!(sandbox.aws.registered_targets(&setup.tg.arn).await, vec![target(setup.ips[0])]);
    assert_eq!(sandbox.aws.tags(&setup.tg.arn).await, tags_before);
    assert_ignored(&lambda, &body).await;
}

/// Scenario 5b: a message that is broken JSON is not an error either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_message_is_ignored() {
    let sandbox = Sandbox::start().await;
    let setup = WriterSetup::new(&sandbox, "ledger", "ledger-writer", ["10.1.1.70", "10.1.2.71"]).await;
    sandbox.aws.failover_cluster("ledger", &setup.cluster.instances[1]).await;
    let lambda = start_function(&sandbox, &[]).await;

    let event = RdsNotification::cluster("ledger", "RDS-EVENT-0071", "Completed failover to DB instance: ledger-1");
    let mut broken = event.to_message();
    broken.truncate(broken.len() / 2);
    let invocation = lambda.invoke(sns_event(&[broken])).await;
    let body = succeeded(&invocation, &lambda);

    assert_eq!(
        sandbox.aws.registered_targets(&setup.tg.arn).await,
        vec![target(setup.ips[0])],
        "a message that cannot be read triggers nothing"
    );
    assert_ignored(&lambda, &body).await;
}

/// Scenario 5c: an SNS batch mixing the confirmation text, broken JSON, an
/// event that moves no address, an event for another cluster and a real
/// failover: the failover is applied and the invocation succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_mixing_good_and_bad_records_applies_the_good_one() {
    let sandbox = Sandbox::start().await;
    let setup = WriterSetup::new(&sandbox, "ledger", "ledger-writer", ["10.1.1.80", "10.1.2.81"]).await;
    sandbox.aws.failover_cluster("ledger", &setup.cluster.instances[1]).await;
    let lambda = start_function(&sandbox, &[]).await;

    let good = RdsNotification::cluster("ledger", "RDS-EVENT-0071", "Completed failover to DB instance: ledger-1");
    let snapshot = RdsNotification::instance("ledger-0", "RDS-EVENT-0169", "Automated DB snapshot created.");
    let elsewhere = RdsNotification::cluster("elsewhere", "RDS-EVENT-0071", "Completed failover to DB instance: x");
    let messages = vec![
        SUBSCRIPTION_CONFIRMATION.to_string(),
        "{\"Event Source\": \"db-cluster\", \"Event ID\": ".to_string(),
        snapshot.to_message(),
        elsewhere.to_message(),
        good.to_message(),
    ];
    let invocation = lambda.invoke(sns_event(&messages)).await;
    let body = succeeded(&invocation, &lambda);

    assert_eq!(sandbox.aws.registered_targets(&setup.tg.arn).await, vec![target(setup.ips[1])]);
    let decisions = event_decisions(&body);
    assert!(
        decisions.iter().any(|d| d.contains("changed and are correct")),
        "the good record was applied: {decisions:?}"
    );
    assert!(decisions.iter().any(|d| d.contains("not an event that moves addresses")), "{decisions:?}");
    assert!(decisions.iter().any(|d| d.contains("no managed target group follows elsewhere")), "{decisions:?}");
    // The output contract: one line per record, with its decision, the
    // unreadable ones included.
    assert_eq!(decisions.len(), messages.len(), "one line per record, ignored ones too: {decisions:?}");
}

/// A record whose `Event Time` has a non-ASCII fraction comes first in the
/// batch: it is read without its time (a hand-written date parser once
/// panicked here and lost the whole batch), and the real failover after it is
/// applied in the same invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_record_first_does_not_stop_the_failover_after_it() {
    let sandbox = Sandbox::start().await;
    let setup = WriterSetup::new(&sandbox, "orders", "orders-writer", ["10.1.1.90", "10.1.2.91"]).await;
    sandbox.aws.failover_cluster("orders", &setup.cluster.instances[1]).await;
    let lambda = start_function(&sandbox, &[]).await;

    let elsewhere = RdsNotification::cluster("elsewhere", "RDS-EVENT-0071", "Completed failover to DB instance: x");
    let mut malformed: Value = serde_json::from_str(&elsewhere.to_message()).unwrap();
    malformed["Event Time"] = json!("2024-05-21 10:11:12.a€");
    let good = RdsNotification::cluster("orders", "RDS-EVENT-0071", "Completed failover to DB instance: orders-1");
    let invocation = lambda.invoke(sns_event(&[malformed.to_string(), good.to_message()])).await;
    let body = succeeded(&invocation, &lambda);

    assert_eq!(sandbox.aws.registered_targets(&setup.tg.arn).await, vec![target(setup.ips[1])]);
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["decision"], "ignored: no managed target group follows elsewhere", "{events:?}");
    assert_eq!(events[1]["decision"], "synced: target groups changed and are correct", "{events:?}");
    assert!(events[1]["EventToTargetsCorrect"].is_number(), "the good record keeps its time: {events:?}");
}

/// The safety net (no removal on doubt, fail loudly): when the new writer's DNS name gets no answer,
/// the invocation keeps re-checking until its watch ends, then fails naming
/// the target group, and nothing is deregistered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_dns_for_the_new_writer_fails_the_invocation() {
    let sandbox = Sandbox::start().await;
    let setup = WriterSetup::new(&sandbox, "ledger", "ledger-writer", ["10.1.1.90", "10.1.2.91"]).await;
    sandbox.aws.failover_cluster("ledger", &setup.cluster.instances[1]).await;
    sandbox.dns.stop_answering_name(setup.cluster.address_of(&setup.cluster.instances[1]));
    let lambda = start_function(&sandbox, &[("NLB_SYNC_WATCH_SECONDS", "2")]).await;

    let event = RdsNotification::cluster("ledger", "RDS-EVENT-0071", "Completed failover to DB instance: ledger-1");
    let started = Instant::now();
    let invocation = lambda.invoke(rds_event(&[&event])).await;

    assert_eq!(invocation.status, 500, "{:#}", invocation.body);
    let message = invocation.error_message().expect("errorMessage");
    assert!(message.contains("ledger-writer"), "the error names the target group: {message}");
    assert!(message.contains("did not resolve"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(15), "bounded by the watch: {:?}", started.elapsed());
    assert_eq!(
        sandbox.aws.registered_targets(&setup.tg.arn).await,
        vec![target(setup.ips[0])],
        "a failed resolution deregisters nothing"
    );
    let asked = sandbox
        .dns
        .queries()
        .iter()
        .filter(|q| q.starts_with(&setup.cluster.address_of(&setup.cluster.instances[1]).to_ascii_lowercase()))
        .count();
    assert!(asked >= 2, "it re-checked during the watch ({asked} queries)");
}

/// Scenario 6 (applied view): scheduled runs and failover events racing around
/// failovers, on two function processes sharing moto and DNS. Each round
/// starts both invocations together and fails the cluster over 0-120 ms later,
/// inside the runs: odd rounds send a "started" event (0072) at once, even
/// rounds the "completed" event (0071) right after the failover. After each
/// round exactly the new writer is registered and the applied-view tag was
/// stamped by that round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_racing_a_scheduled_run_ends_with_the_new_writer() {
    let sandbox = Sandbox::start().await;
    let setup = WriterSetup::new(&sandbox, "ledger", "ledger-writer", ["10.1.1.100", "10.1.2.101"]).await;
    let (schedule, failover) =
        tokio::join!(sandbox.function_with_quick_dns("sync-on-schedule").start(), start_function(&sandbox, &[]),);

    let delays_ms = [0u64, 20, 60, 120, 0, 40, 80, 10];
    let mut failed_invocations = Vec::new();
    for (round, delay) in delays_ms.iter().enumerate() {
        let from = setup.writer(&sandbox.aws).await;
        let to = 1 - from;
        let (to_instance, expected) = (setup.cluster.instances[to].clone(), vec![target(setup.ips[to])]);
        let started_event = round % 2 == 1;
        let round_started = now_ms();
        // Both invocations start together; the failover lands `delay` later,
        // inside the runs. A "started" event reaches the failover function at
        // once (it watches); a "completed" one right after the failover.
        let (scheduled, event_run, ()) = tokio::join!(
            schedule.invoke(scheduled_event()),
            async {
                if started_event {
                    let event = RdsNotification::cluster("ledger", "RDS-EVENT-0072", "Started same AZ failover");
                    failover.invoke(rds_event(&[&event])).await
                } else {
                    tokio::time::sleep(Duration::from_millis(*delay)).await;
                    sandbox.aws.failover_cluster("ledger", &to_instance).await;
                    let event = RdsNotification::cluster("ledger", "RDS-EVENT-0071", "Completed failover");
                    failover.invoke(rds_event(&[&event])).await
                }
            },
            async {
                if started_event {
                    tokio::time::sleep(Duration::from_millis(*delay)).await;
                    sandbox.aws.failover_cluster("ledger", &to_instance).await;
                }
            },
        );

        let now = sandbox.aws.registered_targets(&setup.tg.arn).await;
        eprintln!(
            "race round {round} (delay {delay} ms, started event: {started_event}): {now:?}; \
             schedule {} failover {}",
            scheduled.status, event_run.status
        );
        assert_eq!(now, expected, "round {round}: exactly the new writer ({to_instance})");
        let tags = sandbox.aws.tags(&setup.tg.arn).await;
        let stamp: u64 = tag_value(&tags, VIEW_TAG).expect("applied-view tag").parse().expect("Unix ms");
        assert!(stamp >= round_started.saturating_sub(1000), "round {round}: stamped by this round's runs");
        for (name, invocation) in [("sync-on-schedule", &scheduled), ("sync-on-failover", &event_run)] {
            if invocation.is_success() {
                continue;
            }
            let message = invocation.error_message().unwrap_or_default();
            // moto answers InvalidTarget when a run deregisters a target the
            // other run removed a moment earlier; AWS documents that
            // DeregisterTargets of a target that does not exist succeeds, so
            // this failure is the stand-in's, not one production can see.
            if message.contains("DeregisterTargets") && message.contains("InvalidTarget") {
                eprintln!("race round {round}: {name} lost the race to deregister the old writer (moto-only error)");
                continue;
            }
            failed_invocations.push(format!("round {round}: {name} failed: {message}"));
        }
    }
    assert!(failed_invocations.is_empty(), "racing runs failed:\n{}", failed_invocations.join("\n"));
}

/// Scenario 7: the time from the event to a correct target group, for the
/// completed (0071) and started (0073, failover 2 s later) cases, three
/// invocations each. Printed, not asserted beyond "it converged".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convergence_time_is_measured() {
    const ROUNDS: usize = 3;
    let sandbox = Sandbox::start().await;
    let setup = WriterSetup::new(&sandbox, "metrics", "metrics-writer", ["10.1.1.110", "10.1.2.111"]).await;
    let lambda = start_function(&sandbox, &[]).await;

    for (event_id, failover_delay) in [("RDS-EVENT-0071", None), ("RDS-EVENT-0073", Some(Duration::from_secs(2)))] {
        let (mut emf, mut wall, mut runs) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let to = 1 - setup.writer(&sandbox.aws).await;
            let to_instance = setup.cluster.instances[to].clone();
            let expected = vec![target(setup.ips[to])];
            if failover_delay.is_none() {
                sandbox.aws.failover_cluster("metrics", &to_instance).await;
            }
            let before = event_lines(&lambda).len();
            let event = RdsNotification::cluster("metrics", event_id, "failover");
            let (invocation, (), watch) = tokio::join!(
                lambda.invoke(rds_event(&[&event])),
                async {
                    if let Some(delay) = failover_delay {
                        tokio::time::sleep(delay).await;
                        sandbox.aws.failover_cluster("metrics", &to_instance).await;
                    }
                },
                watch_targets(&sandbox.aws, &setup.tg.arn, &expected, Duration::from_secs(30)),
            );
            let body = succeeded(&invocation, &lambda);
            assert_eq!(sandbox.aws.registered_targets(&setup.tg.arn).await, expected);
            let line = &new_event_lines(&lambda, before, 1).await[0];
            emf.push(line["EventToTargetsCorrect"].as_u64().expect("EventToTargetsCorrect"));
            wall.push(watch.correct_after.expect("converged").as_millis() as u64);
            runs.push(body["runs"].as_u64().unwrap_or(0));
        }
        let label = if failover_delay.is_some() { "started-event 0073" } else { "completed-event 0071" };
        let (emf_all, wall_all) = (emf.clone(), wall.clone());
        println!(
            "convergence: {label} -> correct in {} ms (median EMF EventToTargetsCorrect; all {emf_all:?}); \
             wall invoke->moto correct median {} ms (all {wall_all:?}); sync runs {runs:?}{} ({ROUNDS} runs)",
            median(&mut emf),
            median(&mut wall),
            failover_delay.map_or(String::new(), |d| format!("; failover {} ms after the event", d.as_millis())),
        );
    }
}
