//! The `sync-on-schedule` binary under the Lambda runtime emulator, against
//! moto (ELBv2, RDS) and a loopback DNS server.
//!
//! Every test builds its own sandbox (moto, VPC, NLB, DNS server) and its own
//! function process, then checks the invocation result *and* the target
//! groups in moto. Addresses in DNS answers are private 10.1.x.x addresses:
//! they are only stored by moto, never contacted.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use integration_tests::{
    Invocation, IpFamily, LambdaEmulator, SOURCES_TAG, Sandbox, group_report, ipv4, scheduled_event, sorted_strings,
    sorted_targets,
};
use serde_json::{Value, json};

/// Starts the function against the sandbox, with short DNS timeouts so the
/// "DNS does not answer" case stays quick, plus `extra`.
async fn start_function(sandbox: &Sandbox, extra: &[(&str, &str)]) -> LambdaEmulator {
    sandbox.function_with_quick_dns("sync-on-schedule").vars(extra).start().await
}

/// Invokes with the EventBridge scheduled-event envelope and requires success.
async fn sync_ok(lambda: &LambdaEmulator) -> Value {
    let invocation = lambda.invoke(scheduled_event()).await;
    assert_eq!(
        invocation.status,
        200,
        "the run should succeed: {:#}\nfunction output:\n{}",
        invocation.body,
        lambda.logs().join("\n")
    );
    assert_eq!(invocation.body["dryRun"], false, "{:#}", invocation.body);
    invocation.body
}

/// Invokes with the EventBridge scheduled-event envelope and requires failure;
/// returns the error message.
async fn sync_failing(lambda: &LambdaEmulator) -> String {
    let invocation: Invocation = lambda.invoke(scheduled_event()).await;
    assert_ne!(invocation.status, 200, "the run should fail: {:#}", invocation.body);
    invocation.error_message().unwrap_or_else(|| panic!("no errorMessage in {:#}", invocation.body)).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_registers_every_address_of_a_proxy() {
    let sandbox = Sandbox::start().await;
    let endpoint = sandbox.proxy_resolving_to("orders-proxy", &["10.1.1.10", "10.1.2.10"]).await;
    let tg = sandbox.target_group("orders", Some("rds-proxy:orders-proxy")).await;
    let lambda = start_function(&sandbox, &[]).await;

    let summary = sync_ok(&lambda).await;

    let expected = sorted_targets(&["10.1.1.10:5432", "10.1.2.10:5432"]);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, expected);
    let group = group_report(&summary, &tg.arn);
    assert_eq!(group["targetGroupName"], "orders");
    assert_eq!(sorted_strings(&group["registered"]), expected);
    assert_eq!(sorted_strings(&group["deregistered"]), Vec::<String>::new());
    assert_eq!(group["error"], Value::Null);
    assert!(
        sandbox.dns.queries().iter().any(|q| q.starts_with(&endpoint.to_ascii_lowercase())),
        "the proxy endpoint was resolved through the test DNS server: {:?}",
        sandbox.dns.queries()
    );
    assert!(
        lambda.wait_for_log(|l| l.contains("\"_aws\""), Duration::from_secs(5)).await.is_some(),
        "an EMF line is logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aurora_writer_change_moves_the_target_in_one_run() {
    let sandbox = Sandbox::start().await;
    let cluster = sandbox.aws.create_aurora_cluster("ledger", 2).await;
    let (first, second) = (&cluster.instances[0], &cluster.instances[1]);
    sandbox.dns.set_a(cluster.address_of(first), &[ipv4("10.1.1.20")]);
    sandbox.dns.set_a(cluster.address_of(second), &[ipv4("10.1.2.21")]);
    // The cluster endpoint points at the first writer and stays that way: a
    // stale CNAME must not matter, the instance endpoints are authoritative.
    sandbox.dns.set_cname(&cluster.endpoint, cluster.address_of(first));
    let tg = sandbox.target_group("ledger-writer", Some("rds-cluster:ledger:writer")).await;
    let lambda = start_function(&sandbox, &[]).await;

    assert_eq!(sandbox.aws.cluster_writer("ledger").await, *first);
    sync_ok(&lambda).await;
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec!["10.1.1.20:5432"]);

    sandbox.aws.failover_cluster("ledger", second).await;
    assert_eq!(sandbox.aws.cluster_writer("ledger").await, *second);
    let summary = sync_ok(&lambda).await;

    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec!["10.1.2.21:5432"]);
    let group = group_report(&summary, &tg.arn);
    assert_eq!(sorted_strings(&group["registered"]), vec!["10.1.2.21:5432"]);
    assert_eq!(
        sorted_strings(&group["deregistered"]),
        vec!["10.1.1.20:5432"],
        "the old writer goes in the same run: {group:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_that_stops_answering_deregisters_nothing() {
    let sandbox = Sandbox::start().await;
    sandbox.proxy_resolving_to("billing-proxy", &["10.1.1.30", "10.1.2.30"]).await;
    let tg = sandbox.target_group("payments", Some("rds-proxy:billing-proxy")).await;
    let lambda = start_function(&sandbox, &[]).await;
    sync_ok(&lambda).await;
    let before = sandbox.aws.registered_targets(&tg.arn).await;
    assert_eq!(before, sorted_targets(&["10.1.1.30:5432", "10.1.2.30:5432"]));

    sandbox.dns.stop_answering();
    let queries_before = sandbox.dns.queries().len();
    let error = sync_failing(&lambda).await;

    assert!(sandbox.dns.queries().len() > queries_before, "the run asked the (silent) DNS server");
    assert!(error.contains("payments"), "the error names the target group: {error}");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, before, "a DNS timeout must not deregister anything");

    // Same with SERVFAIL.
    sandbox.dns.servfail_mode();
    sync_failing(&lambda).await;
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untagged_target_group_is_never_touched() {
    let sandbox = Sandbox::start().await;
    let untagged = sandbox.target_group("hands-off", None).await;
    sandbox.aws.register_targets(&untagged.arn, &["10.1.3.99:5432"]).await;
    sandbox.dns.set_a("reports.db.internal", &[ipv4("10.1.1.40")]);
    let managed = sandbox.target_group("reports", Some("dns:reports.db.internal")).await;
    let lambda = start_function(&sandbox, &[]).await;

    let summary = sync_ok(&lambda).await;

    assert_eq!(sandbox.aws.registered_targets(&managed.arn).await, vec!["10.1.1.40:5432"]);
    assert_eq!(sandbox.aws.registered_targets(&untagged.arn).await, vec!["10.1.3.99:5432"]);
    assert!(sandbox.aws.tags(&untagged.arn).await.is_empty(), "not even a tag is written to an untagged target group");
    assert!(
        summary["targetGroups"].as_array().unwrap().iter().all(|g| g["targetGroupArn"] != untagged.arn.as_str()),
        "the untagged group is not in the summary: {summary:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tag_value_fails_the_run_but_good_groups_still_sync() {
    let sandbox = Sandbox::start().await;
    let bad = sandbox.target_group("typo", Some("rds-clustr:x")).await;
    sandbox.dns.set_a("inventory.db.internal", &[ipv4("10.1.1.50"), ipv4("10.1.2.50")]);
    let good = sandbox.target_group("inventory", Some("dns:inventory.db.internal")).await;
    let lambda = start_function(&sandbox, &[]).await;

    let error = sync_failing(&lambda).await;

    for needle in ["typo", SOURCES_TAG, "rds-clustr:x"] {
        assert!(error.contains(needle), "the error names {needle}: {error}");
    }
    assert!(!error.contains("inventory"), "only the failed group is blamed: {error}");
    assert_eq!(
        sandbox.aws.registered_targets(&good.arn).await,
        sorted_targets(&["10.1.1.50:5432", "10.1.2.50:5432"]),
        "the good target group synced in the failed run"
    );
    assert!(sandbox.aws.registered_targets(&bad.arn).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_target_groups_sharing_a_source_both_get_the_addresses() {
    let sandbox = Sandbox::start().await;
    sandbox.proxy_resolving_to("shared-proxy", &["10.1.1.60", "10.1.2.60"]).await;
    let a = sandbox.target_group("shared-a", Some("rds-proxy:shared-proxy")).await;
    let b = sandbox.target_group("shared-b", Some("rds-proxy:shared-proxy")).await;
    let lambda = start_function(&sandbox, &[]).await;

    let summary = sync_ok(&lambda).await;

    let expected = sorted_targets(&["10.1.1.60:5432", "10.1.2.60:5432"]);
    assert_eq!(sandbox.aws.registered_targets(&a.arn).await, expected);
    assert_eq!(sandbox.aws.registered_targets(&b.arn).await, expected);
    assert_eq!(sorted_strings(&group_report(&summary, &a.arn)["registered"]), expected);
    assert_eq!(sorted_strings(&group_report(&summary, &b.arn)["registered"]), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_of_one_group_are_unioned() {
    let sandbox = Sandbox::start().await;
    let instance = sandbox.aws.create_rds_instance("audit-db").await;
    sandbox.dns.set_a(&instance, &[ipv4("10.1.1.70")]);
    sandbox.dns.set_a("audit-replica.db.internal", &[ipv4("10.1.2.70")]);
    let tg = sandbox.target_group("audit", Some("rds-instance:audit-db dns:audit-replica.db.internal")).await;
    let lambda = start_function(&sandbox, &[]).await;

    sync_ok(&lambda).await;

    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, sorted_targets(&["10.1.1.70:5432", "10.1.2.70:5432"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_changes_nothing() {
    let sandbox = Sandbox::start().await;
    sandbox.proxy_resolving_to("stable-proxy", &["10.1.1.80", "10.1.2.80"]).await;
    let tg = sandbox.target_group("stable", Some("rds-proxy:stable-proxy")).await;
    let lambda = start_function(&sandbox, &[]).await;
    sync_ok(&lambda).await;
    let targets_before = sandbox.aws.registered_targets(&tg.arn).await;
    let tags_before = sandbox.aws.tags(&tg.arn).await;

    let summary = sync_ok(&lambda).await;

    let group = group_report(&summary, &tg.arn);
    assert_eq!(sorted_strings(&group["registered"]), Vec::<String>::new(), "{group:#}");
    assert_eq!(sorted_strings(&group["deregistered"]), Vec::<String>::new(), "{group:#}");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, targets_before);
    assert_eq!(sandbox.aws.tags(&tg.arn).await, tags_before, "no tag is rewritten either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_the_plan_and_changes_nothing() {
    let sandbox = Sandbox::start().await;
    sandbox.proxy_resolving_to("plan-proxy", &["10.1.1.90", "10.1.2.90"]).await;
    let tg = sandbox.target_group("plan", Some("rds-proxy:plan-proxy")).await;
    sandbox.aws.register_targets(&tg.arn, &["10.1.3.99:5432"]).await;
    let tags_before = sandbox.aws.tags(&tg.arn).await;
    let lambda = start_function(&sandbox, &[("NLB_SYNC_DRY_RUN", "true")]).await;

    let invocation = lambda.invoke(scheduled_event()).await;

    assert_eq!(invocation.status, 200, "{:#}", invocation.body);
    assert_eq!(invocation.body["dryRun"], true);
    let group = group_report(&invocation.body, &tg.arn);
    assert_eq!(
        sorted_strings(&group["registered"]),
        sorted_targets(&["10.1.1.90:5432", "10.1.2.90:5432"]),
        "the plan is reported: {group:#}"
    );
    let stale_planned = sorted_strings(&group["deregistered"]).contains(&"10.1.3.99:5432".to_string())
        || group["heldBack"]
            .as_array()
            .is_some_and(|held| held.iter().any(|h| h["target"] == "10.1.3.99:5432" && h["action"] == "deregister"));
    assert!(stale_planned, "the stale target appears in the plan: {group:#}");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec!["10.1.3.99:5432"], "a dry run changes no target");
    assert_eq!(sandbox.aws.tags(&tg.arn).await, tags_before, "nor any tag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_group_arns_in_the_payload_restrict_the_run() {
    let sandbox = Sandbox::start().await;
    sandbox.dns.set_a("pick.db.internal", &[ipv4("10.1.1.100")]);
    let chosen = sandbox.target_group("chosen", Some("dns:pick.db.internal")).await;
    let skipped = sandbox.target_group("skipped", Some("dns:pick.db.internal")).await;
    let lambda = start_function(&sandbox, &[]).await;

    let invocation = lambda.invoke(json!({ "targetGroupArns": [chosen.arn] })).await;

    assert_eq!(invocation.status, 200, "{:#}", invocation.body);
    assert_eq!(sandbox.aws.registered_targets(&chosen.arn).await, vec!["10.1.1.100:5432"]);
    assert!(sandbox.aws.registered_targets(&skipped.arn).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_target_group_gets_only_ipv6_addresses() {
    let sandbox = Sandbox::start().await;
    let v6: Ipv6Addr = "fd00:1::110".parse().unwrap();
    sandbox.dns.set_addresses("dual.db.internal", &[IpAddr::V4(ipv4("10.1.1.110")), IpAddr::V6(v6)]);
    let tg = sandbox.target_group_with_family("dual", Some("dns:dual.db.internal"), IpFamily::V6).await;
    let lambda = start_function(&sandbox, &[]).await;

    sync_ok(&lambda).await;

    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec!["[fd00:1::110]:5432"]);
}
