//! The rules that depend on how ELB treats targets, end to end: the real
//! binaries under the Lambda runtime emulator, against the AWS stand-in
//! (moto extended in `tests/standin/` with target health, draining, the
//! outside-the-VPC check and RDS Proxy custom endpoints) and a loopback DNS
//! server.
//!
//! Each test sets the stand-in's knobs ([`integration_tests::HealthChecks`]:
//! how long new targets stay `initial`, which addresses fail health checks)
//! or the target group's deregistration delay, and checks both what the
//! function answered and what DescribeTargetHealth shows. Addresses are DNS
//! data only: the stand-in stores them, nothing contacts them.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use integration_tests::{
    Aws, CfnRequest, LambdaEmulator, PORT_TAG, RdsNotification, RecordedRequest, ResponseServer, Sandbox, TargetGroup,
    group_report, ipv4, rds_event, scheduled_event, sorted_strings, succeeded,
};
use serde_json::{Value, json};

/// How long a new target stays `initial` where a test needs one.
const INITIAL: Duration = Duration::from_secs(3);

/// No absence window: an address a `dns:` source stops answering may go in
/// the next run (the window that keeps it 120 s against rotating answers has
/// its own tests, in `rds_events.rs`; these are about what ELB reports).
const NO_ABSENCE_WINDOW: (&str, &str) = ("NLB_SYNC_DNS_ABSENCE_SECONDS", "0");

fn addr(s: &str) -> IpAddr {
    IpAddr::V4(ipv4(s))
}

/// A function with short DNS timeouts and no absence window.
async fn start(sandbox: &Sandbox, function: &str) -> LambdaEmulator {
    sandbox.function_with_quick_dns(function).vars(&[NO_ABSENCE_WINDOW]).start().await
}

/// One scheduled run; returns the report of `tg`.
async fn scheduled_run(lambda: &LambdaEmulator, tg: &TargetGroup) -> Value {
    let body = succeeded(&lambda.invoke(scheduled_event()).await, lambda);
    group_report(&body, &tg.arn).clone()
}

/// Why the report held back deregistering `target`, if it did.
fn held_back_deregister(group: &Value, target: &str) -> Option<String> {
    group["heldBack"]
        .as_array()?
        .iter()
        .find(|h| h["target"] == target && h["action"] == "deregister")
        .map(|h| h["reason"].as_str().unwrap_or_default().to_owned())
}

/// The report's `notHealthy` entries as `(target, state)`.
fn not_healthy(group: &Value) -> Vec<(String, Option<String>)> {
    group["notHealthy"]
        .as_array()
        .unwrap_or_else(|| panic!("no notHealthy list in {group:#}"))
        .iter()
        .map(|e| (e["target"].as_str().unwrap_or_default().to_owned(), e["state"].as_str().map(str::to_owned)))
        .collect()
}

fn entry(target: &str, state: &str) -> (String, Option<String>) {
    (target.to_owned(), Some(state.to_owned()))
}

/// Waits until DescribeTargetHealth shows `target` in `state`.
async fn wait_for_state(aws: &Aws, arn: &str, target: &str, state: &str, timeout: Duration) {
    let started = Instant::now();
    loop {
        let now = aws.state_of(arn, target).await;
        if now.as_deref() == Some(state) {
            return;
        }
        assert!(started.elapsed() < timeout, "{target} is {now:?}, not {state}, after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const REPLACEMENT_HELD: &str = "no wanted target is healthy yet";

/// Make before break across runs: the old healthy target stays while the new
/// one is `initial`, and goes in the first run after the new one is healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_the_only_target_waits_for_the_new_one_to_be_healthy() {
    let sandbox = Sandbox::start().await;
    let tg = sandbox.target_group("app", Some("dns:app.db.internal")).await;
    let lambda = start(&sandbox, "sync-on-schedule").await;
    sandbox.dns.set_a("app.db.internal", &[ipv4("10.1.1.10")]);
    scheduled_run(&lambda, &tg).await;
    let (old, new) = ("10.1.1.10:5432", "10.1.2.10:5432");
    assert_eq!(sandbox.aws.state_of(&tg.arn, old).await.as_deref(), Some("healthy"));

    sandbox.moto.health_checks().set_initial_period(INITIAL).await;
    sandbox.dns.set_a("app.db.internal", &[ipv4("10.1.2.10")]);
    let first = scheduled_run(&lambda, &tg).await;

    assert_eq!(sorted_strings(&first["registered"]), vec![new]);
    assert!(sorted_strings(&first["deregistered"]).is_empty(), "{first:#}");
    let why = held_back_deregister(&first, old).unwrap_or_else(|| panic!("the old target is held back: {first:#}"));
    assert!(why.contains(REPLACEMENT_HELD), "the report says why: {why}");
    assert_eq!(not_healthy(&first), vec![entry(new, "initial")]);
    assert_eq!(sandbox.aws.state_of(&tg.arn, new).await.as_deref(), Some("initial"));

    let again = scheduled_run(&lambda, &tg).await;
    assert!(held_back_deregister(&again, old).is_some(), "still initial, still held: {again:#}");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![old, new]);

    wait_for_state(&sandbox.aws, &tg.arn, new, "healthy", INITIAL * 3).await;
    let last = scheduled_run(&lambda, &tg).await;
    assert_eq!(sorted_strings(&last["deregistered"]), vec![old], "{last:#}");
    assert!(not_healthy(&last).is_empty(), "{last:#}");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![new]);
}

/// A replacement that never passes health checks never causes the old
/// target to be removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_replacement_never_removes_the_old_target() {
    let sandbox = Sandbox::start().await;
    let tg = sandbox.target_group("app", Some("dns:app.db.internal")).await;
    let lambda = start(&sandbox, "sync-on-schedule").await;
    sandbox.dns.set_a("app.db.internal", &[ipv4("10.1.1.20")]);
    scheduled_run(&lambda, &tg).await;
    let (old, new) = ("10.1.1.20:5432", "10.1.2.20:5432");

    let health = sandbox.moto.health_checks();
    health.set_initial_period(Duration::from_secs(1)).await;
    health.set_reachable(addr("10.1.2.20"), false).await;
    sandbox.dns.set_a("app.db.internal", &[ipv4("10.1.2.20")]);
    scheduled_run(&lambda, &tg).await;
    wait_for_state(&sandbox.aws, &tg.arn, new, "unhealthy", Duration::from_secs(10)).await;

    for _ in 0..2 {
        let report = scheduled_run(&lambda, &tg).await;
        assert!(sorted_strings(&report["deregistered"]).is_empty(), "{report:#}");
        let why = held_back_deregister(&report, old).unwrap_or_else(|| panic!("held back: {report:#}"));
        assert!(why.contains(REPLACEMENT_HELD), "{why}");
        assert_eq!(not_healthy(&report), vec![entry(new, "unhealthy")]);
    }
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![old, new]);
    assert_eq!(sandbox.aws.state_of(&tg.arn, old).await.as_deref(), Some("healthy"));
}

/// A wanted target found draining (it was deregistered, then came back in
/// DNS within the deregistration delay) is registered again in the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wanted_target_that_is_draining_is_registered_again() {
    let sandbox = Sandbox::start().await;
    let tg = sandbox.target_group("app", Some("dns:app.db.internal")).await;
    sandbox.aws.set_deregistration_delay(&tg.arn, Duration::from_secs(60)).await;
    let lambda = start(&sandbox, "sync-on-schedule").await;
    sandbox.dns.set_a("app.db.internal", &[ipv4("10.1.1.30"), ipv4("10.1.2.30")]);
    scheduled_run(&lambda, &tg).await;
    let back = "10.1.2.30:5432";

    sandbox.dns.set_a("app.db.internal", &[ipv4("10.1.1.30")]);
    let dropped = scheduled_run(&lambda, &tg).await;
    assert_eq!(sorted_strings(&dropped["deregistered"]), vec![back]);
    assert_eq!(sandbox.aws.state_of(&tg.arn, back).await.as_deref(), Some("draining"));

    sandbox.dns.set_a("app.db.internal", &[ipv4("10.1.1.30"), ipv4("10.1.2.30")]);
    let report = scheduled_run(&lambda, &tg).await;

    assert_eq!(sorted_strings(&report["registered"]), vec![back], "registered again: {report:#}");
    assert_eq!(not_healthy(&report), vec![entry(back, "initial")], "the report read it draining, then registered it");
    assert_eq!(sandbox.aws.state_of(&tg.arn, back).await.as_deref(), Some("healthy"), "back in service");
}

/// A target registered on another port than the one now wanted is
/// deregistered with the port it was registered on (ELB ignores a
/// deregistration with the wrong port); meanwhile one address on two ports
/// is two targets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistration_uses_the_port_the_target_was_registered_on() {
    let sandbox = Sandbox::start().await;
    let tg = sandbox.target_group("app", Some("dns:app.db.internal")).await;
    sandbox.aws.tag(&tg.arn, &[(PORT_TAG, "6432")]).await;
    let lambda = start(&sandbox, "sync-on-schedule").await;
    sandbox.dns.set_a("app.db.internal", &[ipv4("10.1.1.40")]);
    scheduled_run(&lambda, &tg).await;
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec!["10.1.1.40:6432"]);

    // The port moves back to the target group's own (5432).
    sandbox.aws.tag(&tg.arn, &[(PORT_TAG, "5432")]).await;
    let first = scheduled_run(&lambda, &tg).await;
    assert_eq!(sorted_strings(&first["registered"]), vec!["10.1.1.40:5432"]);
    assert!(held_back_deregister(&first, "10.1.1.40:6432").is_some(), "make before break: {first:#}");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec!["10.1.1.40:5432", "10.1.1.40:6432"]);

    let second = scheduled_run(&lambda, &tg).await;
    assert_eq!(sorted_strings(&second["deregistered"]), vec!["10.1.1.40:6432"], "{second:#}");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec!["10.1.1.40:5432"]);
}

/// An address outside the target group's VPC (a peered VPC here) is refused
/// by ELB without an Availability Zone: the function registers it with
/// `AvailabilityZone=all`, and later deregisters it with that zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_outside_the_vpc_is_registered_in_zone_all_and_deregistered() {
    let sandbox = Sandbox::start().await;
    let tg = sandbox.target_group("app", Some("dns:app.db.internal")).await;
    let lambda = start(&sandbox, "sync-on-schedule").await;
    let (inside, outside) = ("10.1.1.50:5432", "172.31.9.50:5432");
    sandbox.dns.set_a("app.db.internal", &[ipv4("10.1.1.50"), ipv4("172.31.9.50")]);

    let report = scheduled_run(&lambda, &tg).await;

    assert_eq!(sorted_strings(&report["registered"]), vec![inside, outside], "{report:#}");
    let zones: Vec<(String, Option<String>)> =
        sandbox.aws.target_states(&tg.arn).await.into_iter().map(|t| (t.target, t.zone)).collect();
    assert_eq!(
        zones,
        vec![(inside.to_owned(), Some("us-east-1a".to_owned())), (outside.to_owned(), Some("all".to_owned()))]
    );

    // Another process, so nothing is remembered from the registration.
    drop(lambda);
    let lambda = start(&sandbox, "sync-on-schedule").await;
    sandbox.dns.set_a("app.db.internal", &[ipv4("10.1.1.50")]);
    let report = scheduled_run(&lambda, &tg).await;

    assert_eq!(sorted_strings(&report["deregistered"]), vec![outside], "{report:#}");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![inside]);
}

/// `rds-proxy:<proxy>:<endpoint>` follows the custom endpoint's own
/// addresses, not the proxy's default endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_proxy_endpoint_is_synced_to_its_own_addresses() {
    let sandbox = Sandbox::start().await;
    let subnets = &sandbox.network.subnet_ids;
    sandbox.proxy_resolving_to("app-proxy", &["10.1.1.60", "10.1.2.60"]).await;
    let reports = sandbox.aws.create_db_proxy_endpoint("app-proxy", "reports", subnets, true).await;
    sandbox.dns.set_a(&reports, &[ipv4("10.1.1.61"), ipv4("10.1.2.61")]);
    let tg = sandbox.target_group("reports", Some("rds-proxy:app-proxy:reports")).await;
    let missing = sandbox.target_group("ghost", Some("rds-proxy:app-proxy:ghost")).await;
    let lambda = start(&sandbox, "sync-on-schedule").await;

    let invocation = lambda.invoke(scheduled_event()).await;

    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec!["10.1.1.61:5432", "10.1.2.61:5432"]);
    assert!(
        sandbox.dns.queries().iter().any(|q| q.starts_with(&reports.to_ascii_lowercase())),
        "the custom endpoint's name was resolved: {:?}",
        sandbox.dns.queries()
    );
    // An endpoint that does not exist fails its target group, naming it.
    assert_ne!(invocation.status, 200, "{:#}", invocation.body);
    let message = invocation.error_message().unwrap_or_default();
    assert!(message.contains("app-proxy:ghost") && message.contains("does not exist"), "{message}");
    assert!(sandbox.aws.registered_targets(&missing.arn).await.is_empty());
}

/// Failover while the new writer is still `initial`: the old writer goes at
/// once anyway (the RDS API says it lost the role), and the report says the
/// new writer is not healthy yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_removes_the_old_writer_while_the_new_one_is_initial() {
    let sandbox = Sandbox::start().await;
    let cluster = sandbox.aws.create_aurora_cluster("ledger", 2).await;
    let ips = ["10.1.1.70", "10.1.2.71"];
    for (instance, address) in cluster.instances.iter().zip(ips) {
        sandbox.dns.set_a(cluster.address_of(instance), &[ipv4(address)]);
    }
    let tg = sandbox.target_group("ledger-writer", Some("rds-cluster:ledger:writer")).await;
    sandbox.aws.register_targets(&tg.arn, &["10.1.1.70:5432"]).await;
    let (old, new) = ("10.1.1.70:5432", "10.1.2.71:5432");
    // A watch shorter than the initial period: a held-back old writer would
    // still be there when the invocation ends.
    let lambda = sandbox.failover_function(Duration::from_secs(4)).vars(&[NO_ABSENCE_WINDOW]).start().await;
    let initial = Duration::from_secs(10);
    sandbox.moto.health_checks().set_initial_period(initial).await;

    sandbox.aws.failover_cluster("ledger", &cluster.instances[1]).await;
    let event = RdsNotification::cluster("ledger", "RDS-EVENT-0071", "Completed failover to DB instance: ledger-1");
    let invoked = Instant::now();
    let body = succeeded(&lambda.invoke(rds_event(&[&event])).await, &lambda);
    assert!(invoked.elapsed() < initial, "the invocation ended within the initial period: {:?}", invoked.elapsed());

    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![new], "the old writer is gone: {body:#}");
    assert_eq!(sandbox.aws.state_of(&tg.arn, new).await.as_deref(), Some("initial"), "the new one is not healthy yet");
    let group = group_report(&body, &tg.arn);
    let changed = lambda
        .decision_lines()
        .into_iter()
        .find(|d| !sorted_strings(&d["deregistered"]).is_empty())
        .unwrap_or_else(|| panic!("no decision line deregistered anything: {:?}", lambda.logs()));
    assert_eq!(sorted_strings(&changed["deregisteredRoleChanged"]), vec![old], "removed for the role: {changed:#}");
    assert_eq!(not_healthy(&changed), vec![entry(new, "initial")], "{changed:#}");
    assert_eq!(not_healthy(group), vec![entry(new, "initial")], "the answer says it too: {group:#}");
}

// ----- WaitForHealthySeconds (sync-on-deploy) -----

/// The deploy function with its response server.
struct Deploy {
    sandbox: Sandbox,
    lambda: LambdaEmulator,
    server: ResponseServer,
}

impl Deploy {
    async fn start() -> Deploy {
        let (sandbox, server) = tokio::join!(Sandbox::start(), ResponseServer::start());
        let lambda = start(&sandbox, "sync-on-deploy").await;
        Deploy { sandbox, lambda, server }
    }

    /// Sends `request` and returns the answer PUT to the response URL (the
    /// function returns only after delivering it) and its JSON body.
    async fn send(&self, request: CfnRequest) -> (RecordedRequest, Value) {
        let event = request.to_json();
        let invocation = self.lambda.invoke(event.clone()).await;
        assert_eq!(invocation.status, 200, "answered, so the invocation succeeds: {:#}", invocation.body);
        let answer = self
            .server
            .answers_to(event["RequestId"].as_str().expect("a RequestId"))
            .pop()
            .unwrap_or_else(|| panic!("no answer for {event:#}\n{}", self.lambda.logs().join("\n")));
        let body = answer.json();
        (answer, body)
    }

    fn status<'a>(&self, body: &'a Value) -> &'a str {
        body["Status"].as_str().unwrap_or_else(|| panic!("no Status in {body:#}\n{}", self.lambda.logs().join("\n")))
    }
}

/// Create with WaitForHealthySeconds answers SUCCESS once the targets turned
/// healthy, not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_waiting_for_healthy_answers_once_the_targets_are_healthy() {
    let deploy = Deploy::start().await;
    deploy.sandbox.proxy_resolving_to("app-proxy", &["10.1.1.80", "10.1.2.80"]).await;
    let tg = deploy.sandbox.target_group("app", None).await;
    deploy.sandbox.moto.health_checks().set_initial_period(INITIAL).await;
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:app-proxy"], "WaitForHealthySeconds": "30"});

    let invoked = Instant::now();
    let (answer, body) = deploy.send(CfnRequest::create(&deploy.server.presigned_url("c-1"), "c-1", props)).await;

    assert_eq!(deploy.status(&body), "SUCCESS", "{body:#}");
    let answered_after = answer.at.duration_since(invoked);
    assert!(answered_after >= INITIAL, "it waited out the initial period: answered after {answered_after:?}");
    let states: Vec<String> = deploy.sandbox.aws.target_states(&tg.arn).await.into_iter().map(|t| t.state).collect();
    assert_eq!(states, vec!["healthy", "healthy"], "healthy when answered ({answered_after:?})");
    assert_eq!(body["Data"]["Targets"], "10.1.1.80:5432,10.1.2.80:5432");
    eprintln!("create waited {answered_after:?} for targets initial for {INITIAL:?}");
}

/// Create with WaitForHealthySeconds answers FAILED, naming the targets and
/// their states, when they stay unhealthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_waiting_for_healthy_fails_with_the_states_when_targets_stay_unhealthy() {
    let deploy = Deploy::start().await;
    deploy.sandbox.proxy_resolving_to("app-proxy", &["10.1.1.90", "10.1.2.90"]).await;
    let tg = deploy.sandbox.target_group("app", None).await;
    deploy.sandbox.moto.health_checks().set_reachable(addr("10.1.2.90"), false).await;
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:app-proxy"], "WaitForHealthySeconds": "6"});

    let invoked = Instant::now();
    let (answer, body) = deploy.send(CfnRequest::create(&deploy.server.presigned_url("c-1"), "c-1", props)).await;

    assert_eq!(deploy.status(&body), "FAILED", "{body:#}");
    let reason = body["Reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not every target is healthy: 10.1.2.90:5432 unhealthy;"),
        "only the failing one: {reason}"
    );
    assert!(!reason.contains("10.1.1.90"), "the healthy one is not listed: {reason}");
    let answered_after = answer.at.duration_since(invoked);
    assert!(answered_after >= Duration::from_secs(6), "it waited the 6 s asked for: {answered_after:?}");
    assert_eq!(body["PhysicalResourceId"], tg.arn.as_str());
}

/// Update with WaitForHealthySeconds keeps the old target while the new one
/// is `initial`, and removes it in the same invocation once the new one is
/// healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_waiting_for_healthy_finishes_make_before_break_in_the_invocation() {
    let deploy = Deploy::start().await;
    deploy.sandbox.proxy_resolving_to("old-proxy", &["10.1.1.100"]).await;
    deploy.sandbox.proxy_resolving_to("new-proxy", &["10.1.2.101"]).await;
    let tg = deploy.sandbox.target_group("app", None).await;
    let old = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:old-proxy"]});
    let (_, body) = deploy.send(CfnRequest::create(&deploy.server.presigned_url("c-1"), "c-1", old.clone())).await;
    assert_eq!(deploy.status(&body), "SUCCESS", "{body:#}");
    deploy.sandbox.moto.health_checks().set_initial_period(INITIAL).await;

    let new = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:new-proxy"], "WaitForHealthySeconds": "30"});
    let request = CfnRequest::update(&deploy.server.presigned_url("u-1"), "u-1", &tg.arn, new, old);
    let done = std::sync::atomic::AtomicBool::new(false);
    let ((_, body), seen) = tokio::join!(
        async {
            let answered = deploy.send(request).await;
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            answered
        },
        async {
            let mut seen = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let states = deploy.sandbox.aws.target_states(&tg.arn).await;
                let now: Vec<(String, String)> = states.into_iter().map(|t| (t.target, t.state)).collect();
                if seen.last() != Some(&now) {
                    seen.push(now);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        }
    );

    assert_eq!(deploy.status(&body), "SUCCESS", "{body:#}");
    assert_eq!(deploy.sandbox.aws.registered_targets(&tg.arn).await, vec!["10.1.2.101:5432"], "{seen:?}");
    assert_eq!(body["Data"]["Targets"], "10.1.2.101:5432");
    let both = |state: &str| {
        vec![("10.1.1.100:5432".to_owned(), "healthy".to_owned()), ("10.1.2.101:5432".to_owned(), state.to_owned())]
    };
    assert!(seen.contains(&both("initial")), "the old target stayed while the new one was initial: {seen:?}");
}
