//! Who may expose what: the installer's policy (`NLB_SYNC_ALLOWED_SOURCES`,
//! `NLB_SYNC_ALLOWED_CIDRS`, `NLB_SYNC_TARGET_GROUPS`) through every way in:
//! the scheduled function, the RDS-event function, the custom resource and
//! the command line, each the real binary against the AWS stand-in and a
//! loopback DNS server.
//!
//! "Left alone" is shown by the stand-in's call journal (no
//! DescribeTargetHealth, RegisterTargets, DeregisterTargets, AddTags or
//! RemoveTags named the group), not only by its unchanged targets and tags.
//! Addresses in DNS answers are private 10.1.x.x addresses: moto stores them,
//! nobody dials them.

use std::net::Ipv4Addr;
use std::process::Command;

use integration_tests::{
    CfnRequest, Invocation, LambdaEmulator, OperatorCli, RdsNotification, ResponseServer, SOURCES_TAG, Sandbox,
    TargetGroup, build_binary, rds_event, scheduled_event,
};
use serde_json::{Value, json};

const VIEW_TAG: &str = "nlb-target-sync:applied-view";

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

fn target(ip: &str) -> String {
    format!("{ip}:5432")
}

/// Starts `binary` against the sandbox with short DNS timeouts and `extra`.
async fn start(sandbox: &Sandbox, binary: &str, extra: &[(&str, &str)]) -> LambdaEmulator {
    let mut builder = sandbox.function(binary).var("NLB_SYNC_DNS_TIMEOUT_MS", "300").var("NLB_SYNC_DNS_ATTEMPTS", "1");
    for (key, value) in extra {
        builder = builder.var(key, *value);
    }
    builder.start().await
}

/// The invocation failed; its error message.
fn failure(invocation: &Invocation, lambda: &LambdaEmulator) -> String {
    assert_ne!(
        invocation.status,
        200,
        "the invocation should fail: {:#}\n{}",
        invocation.body,
        lambda.logs().join("\n")
    );
    invocation.error_message().unwrap_or_else(|| panic!("no errorMessage in {:#}", invocation.body)).to_owned()
}

fn contains_all(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} is not in: {text}");
    }
}

/// The decision lines (EMF) the function logged for `target_group` (its name).
fn decision_lines(lambda: &LambdaEmulator, target_group: &str) -> Vec<Value> {
    lambda
        .json_logs()
        .into_iter()
        .filter(|line| line["message"] == "target group synced" && line["TargetGroup"] == target_group)
        .collect()
}

/// The group as the test set it up: its targets and its tags, sorted.
async fn snapshot(sandbox: &Sandbox, tg: &TargetGroup) -> (Vec<String>, Vec<(String, String)>) {
    let mut tags = sandbox.aws.tags(&tg.arn).await;
    tags.sort();
    (sandbox.aws.registered_targets(&tg.arn).await, tags)
}

/// The group was left alone since the journal held `since` calls: no call
/// read its targets or changed it, and it is as `before`.
async fn left_alone(sandbox: &Sandbox, tg: &TargetGroup, since: usize, before: &(Vec<String>, Vec<(String, String)>)) {
    let touching = sandbox.moto.calls_touching(&tg.arn, since).await;
    assert!(touching.is_empty(), "calls named {}: {touching:?}", tg.arn);
    assert_eq!(&snapshot(sandbox, tg).await, before, "{} changed", tg.arn);
}

// ------------------------------------------------------------------ schedule

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_refuses_a_token_leaves_its_group_untouched_and_syncs_the_others() {
    let sandbox = Sandbox::start().await;
    let endpoint = sandbox.aws.create_db_proxy("orders-proxy", &sandbox.network.subnet_ids).await;
    sandbox.dns.set_a(&endpoint, &[ip("10.1.1.10")]);
    sandbox.dns.set_a("files.db.internal", &[ip("10.1.1.60")]);
    let orders = sandbox.target_group("orders", Some("rds-proxy:orders-proxy")).await;
    let files = sandbox.target_group("files", Some("rds-proxy:orders-proxy dns:files.db.internal")).await;
    sandbox.aws.register_targets(&files.arn, &["10.1.3.3:5432"]).await;
    let before = snapshot(&sandbox, &files).await;
    let lambda =
        start(&sandbox, "sync-on-schedule", &[("NLB_SYNC_ALLOWED_SOURCES", "rds-proxy:* rds-cluster:*")]).await;
    let since = sandbox.moto.group_calls().await.len();

    let error = failure(&lambda.invoke(scheduled_event()).await, &lambda);

    contains_all(
        &error,
        &[
            "target group files",
            "source dns:files.db.internal is not allowed",
            "NLB_SYNC_ALLOWED_SOURCES (rds-proxy:* rds-cluster:*)",
        ],
    );
    assert!(!error.contains("target group orders"), "only the refused group is blamed: {error}");
    left_alone(&sandbox, &files, since, &before).await;
    assert_eq!(sandbox.aws.registered_targets(&orders.arn).await, vec![target("10.1.1.10")], "the other group synced");
    let lines = decision_lines(&lambda, "files");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["SourcesRefused"], 1, "{:#}", lines[0]);
    assert_eq!(decision_lines(&lambda, "orders")[0]["SourcesRefused"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_leaves_a_group_out_of_scope_unread_and_reports_no_error() {
    let sandbox = Sandbox::start().await;
    sandbox.dns.set_a("orders.db.internal", &[ip("10.1.1.20")]);
    let inside = sandbox.target_group("orders-a", Some("dns:orders.db.internal")).await;
    // Out of scope, with a source that would sync and one that would be refused.
    let outside = sandbox.target_group("hands-off", Some("dns:orders.db.internal rds-proxy:other")).await;
    sandbox.aws.register_targets(&outside.arn, &["10.1.3.4:5432"]).await;
    let before = snapshot(&sandbox, &outside).await;
    let policy = [("NLB_SYNC_TARGET_GROUPS", "orders-*"), ("NLB_SYNC_ALLOWED_SOURCES", "dns:*")];
    let lambda = start(&sandbox, "sync-on-schedule", &policy).await;
    let since = sandbox.moto.group_calls().await.len();

    let invocation = lambda.invoke(scheduled_event()).await;
    assert_eq!(invocation.status, 200, "out of scope is not an error: {:#}", invocation.body);
    let named: Vec<&str> = invocation.body["targetGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["targetGroupName"].as_str().unwrap())
        .collect();
    assert_eq!(named, vec!["orders-a"]);
    assert_eq!(sandbox.aws.registered_targets(&inside.arn).await, vec![target("10.1.1.20")]);
    // Named by a schedule's payload: still not read, still not an error.
    let invocation = lambda.invoke(json!({"targetGroupArns": [outside.arn]})).await;
    assert_eq!(invocation.status, 200, "{:#}", invocation.body);
    assert_eq!(invocation.body["targetGroups"], json!([]));
    left_alone(&sandbox, &outside, since, &before).await;
    assert!(decision_lines(&lambda, "hands-off").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_never_registers_an_address_outside_the_allowed_cidrs_and_freezes_deregistration() {
    let sandbox = Sandbox::start().await;
    sandbox.dns.set_a("reports.db.internal", &[ip("10.1.1.70"), ip("10.1.2.70")]);
    let reports = sandbox.target_group("reports", Some("dns:reports.db.internal")).await;
    // A stale target no source answers: it would go, but for the refused answer.
    sandbox.aws.register_targets(&reports.arn, &["10.1.1.99:5432"]).await;
    let lambda = start(
        &sandbox,
        "sync-on-schedule",
        &[("NLB_SYNC_ALLOWED_CIDRS", "10.1.1.0/24"), ("NLB_SYNC_DNS_ABSENCE_SECONDS", "0")],
    )
    .await;

    let error = failure(&lambda.invoke(scheduled_event()).await, &lambda);

    contains_all(&error, &["target group reports", "10.1.2.70 outside NLB_SYNC_ALLOWED_CIDRS (10.1.1.0/24)"]);
    assert!(!error.contains("resolver"), "not the wrong-resolver hint: {error}");
    let mut expected = vec![target("10.1.1.70"), target("10.1.1.99")];
    expected.sort();
    assert_eq!(sandbox.aws.registered_targets(&reports.arn).await, expected, "10.1.2.70 never, 10.1.1.99 kept");
    let line = &decision_lines(&lambda, "reports")[0];
    assert_eq!(line["AddressesRefused"], 1, "{line:#}");

    // Once the answer is allowed again, the stale target goes.
    sandbox.dns.set_a("reports.db.internal", &[ip("10.1.1.70")]);
    let invocation = lambda.invoke(scheduled_event()).await;
    assert_eq!(invocation.status, 200, "{:#}", invocation.body);
    assert_eq!(sandbox.aws.registered_targets(&reports.arn).await, vec![target("10.1.1.70")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_policy_variables_behave_as_unset() {
    let sandbox = Sandbox::start().await;
    sandbox.dns.set_a("anything.example.internal", &[ip("10.1.2.80")]);
    let tg = sandbox.target_group("anything", Some("dns:anything.example.internal")).await;
    let empty = [("NLB_SYNC_ALLOWED_SOURCES", ""), ("NLB_SYNC_ALLOWED_CIDRS", " "), ("NLB_SYNC_TARGET_GROUPS", "")];
    let lambda = start(&sandbox, "sync-on-schedule", &empty).await;
    let invocation = lambda.invoke(scheduled_event()).await;
    assert_eq!(invocation.status, 200, "{:#}", invocation.body);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.2.80")]);
}

#[test]
fn a_malformed_pattern_or_cidr_stops_the_functions_at_start_up() {
    for binary in ["sync-on-schedule", "sync-on-failover"] {
        let path = build_binary(binary);
        for (variable, value, named) in [
            ("NLB_SYNC_ALLOWED_SOURCES", "rds-cluster:* rds-clustr:*", "'rds-clustr:*' names no source kind"),
            ("NLB_SYNC_ALLOWED_CIDRS", "10.0.0.0/8,10.1.0.0/16", "'10.0.0.0/8,10.1.0.0/16' is not a CIDR"),
            ("NLB_SYNC_TARGET_GROUPS", "db_a", "'db_a' holds '_'"),
        ] {
            // No runtime API: a function that got past its settings would fail
            // for that instead, without naming the variable.
            let output = Command::new(&path)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env(variable, value)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
            let text =
                format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            assert!(!output.status.success(), "{binary} started with {variable}={value}: {text}");
            contains_all(&text, &[&format!("environment variable {variable}='{value}' is invalid"), named]);
        }
    }
}

// ------------------------------------------------------------------ RDS events

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_events_sync_allowed_groups_and_refuse_the_others_once() {
    let sandbox = Sandbox::start().await;
    let cluster = sandbox.aws.create_aurora_cluster("ledger", 2).await;
    let (first, second) = (&cluster.instances[0], &cluster.instances[1]);
    sandbox.dns.set_a(cluster.address_of(first), &[ip("10.1.1.20")]);
    sandbox.dns.set_a(cluster.address_of(second), &[ip("10.1.2.21")]);
    sandbox.dns.set_a("files.db.internal", &[ip("10.1.1.60")]);
    let writer = sandbox.target_group("ledger-writer", Some("rds-cluster:ledger:writer")).await;
    sandbox.aws.register_targets(&writer.arn, &[&target("10.1.1.20")]).await;
    let files = sandbox.target_group("files", Some("rds-cluster:ledger:writer dns:files.db.internal")).await;
    sandbox.aws.register_targets(&files.arn, &[&target("10.1.1.20")]).await;
    let outside = sandbox.target_group("reporting", Some("rds-cluster:ledger:writer")).await;
    sandbox.aws.register_targets(&outside.arn, &[&target("10.1.1.20")]).await;
    let (files_before, outside_before) = (snapshot(&sandbox, &files).await, snapshot(&sandbox, &outside).await);
    let lambda = start(
        &sandbox,
        "sync-on-failover",
        &[
            ("NLB_SYNC_RECHECK_MS", "200"),
            ("NLB_SYNC_WATCH_SECONDS", "3"),
            ("NLB_SYNC_ALLOWED_SOURCES", "rds-cluster:*"),
            ("NLB_SYNC_TARGET_GROUPS", "ledger-* files"),
        ],
    )
    .await;
    let since = sandbox.moto.group_calls().await.len();

    // A completed failover: the allowed group follows the new writer at once.
    sandbox.aws.failover_cluster("ledger", second).await;
    let completed = RdsNotification::cluster("ledger", "RDS-EVENT-0071", "Completed failover to DB instance");
    let error = failure(&lambda.invoke(rds_event(&[&completed])).await, &lambda);
    contains_all(
        &error,
        &[
            "target group files",
            "source dns:files.db.internal is not allowed",
            "NLB_SYNC_ALLOWED_SOURCES (rds-cluster:*)",
        ],
    );
    assert!(!error.contains("reporting"), "out of scope is not an error: {error}");
    assert_eq!(sandbox.aws.registered_targets(&writer.arn).await, vec![target("10.1.2.21")]);

    // "Failover started" and nothing moves: the writer group is re-checked
    // until the watch ends, the refused group only once.
    let runs_before = sandbox.moto.group_calls().await.len();
    let started = RdsNotification::cluster("ledger", "RDS-EVENT-0073", "Started cross AZ failover");
    let error = failure(&lambda.invoke(rds_event(&[&started])).await, &lambda);
    assert!(error.contains("target group files") && error.starts_with("1 of 2 target group(s)"), "{error}");
    let looked_up = |arn: String| {
        let sandbox = &sandbox;
        async move {
            let calls = sandbox.moto.group_calls().await;
            calls[runs_before..]
                .iter()
                .filter(|c| c.action == "DescribeTargetGroups" && c.target_groups.contains(&arn))
                .count()
        }
    };
    // The first run takes both groups from the event's listing; only the
    // writer group is described again for the re-checks.
    assert_eq!(looked_up(files.arn.clone()).await, 0, "the refused group is not re-checked");
    assert!(looked_up(writer.arn.clone()).await >= 3, "the writer group is watched");
    assert_eq!(decision_lines(&lambda, "files").len(), 2, "one decision line per invocation");
    assert!(decision_lines(&lambda, "files").iter().all(|l| l["SourcesRefused"] == 1));

    left_alone(&sandbox, &files, since, &files_before).await;
    left_alone(&sandbox, &outside, since, &outside_before).await;
    assert!(decision_lines(&lambda, "reporting").is_empty());
    let events: Vec<Value> = lambda.json_logs().into_iter().filter(|l| l["message"] == "rds event handled").collect();
    assert_eq!(events.len(), 2);
    for event in &events {
        let followed = event["targetGroups"].as_array().unwrap();
        assert!(followed.iter().any(|arn| arn == writer.arn.as_str()), "{event:#}");
        assert!(!followed.iter().any(|arn| arn == outside.arn.as_str()), "out of scope, not followed: {event:#}");
    }
}

// ------------------------------------------------------------------ custom resource

/// The deploy function, its response server and the sandbox it works in.
struct Deploy {
    sandbox: Sandbox,
    lambda: LambdaEmulator,
    server: ResponseServer,
}

impl Deploy {
    async fn start(extra: &[(&str, &str)]) -> Deploy {
        let (sandbox, server) = tokio::join!(Sandbox::start(), ResponseServer::start());
        let lambda = start(&sandbox, "sync-on-deploy", extra).await;
        Deploy { sandbox, lambda, server }
    }

    /// Sends `request` and returns the answer's body (the invocation succeeds
    /// once the answer is delivered, whatever its status).
    async fn send(&self, request: CfnRequest) -> Value {
        let event = request.to_json();
        let invocation = self.lambda.invoke(event.clone()).await;
        assert_eq!(invocation.status, 200, "{:#}\n{}", invocation.body, self.lambda.logs().join("\n"));
        self.server
            .requests()
            .into_iter()
            .map(|r| r.json())
            .rfind(|body| body["RequestId"] == event["RequestId"])
            .unwrap_or_else(|| panic!("no answer for {event:#}"))
    }
}

fn status_and_reason(body: &Value) -> (&str, &str) {
    (body["Status"].as_str().unwrap_or_default(), body["Reason"].as_str().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resource_refusals_answer_failed_write_nothing_and_their_delete_succeeds() {
    let deploy =
        Deploy::start(&[("NLB_SYNC_ALLOWED_SOURCES", "rds-proxy:*"), ("NLB_SYNC_TARGET_GROUPS", "app-*")]).await;
    let sandbox = &deploy.sandbox;
    let endpoint = sandbox.aws.create_db_proxy("app-proxy", &sandbox.network.subnet_ids).await;
    sandbox.dns.set_a(&endpoint, &[ip("10.1.1.10")]);
    sandbox.dns.set_a("files.db.internal", &[ip("10.1.1.60")]);
    let app = sandbox.target_group("app-db", None).await;
    let web = sandbox.target_group("web", None).await;
    let (app_before, web_before) = (snapshot(sandbox, &app).await, snapshot(sandbox, &web).await);
    let since = sandbox.moto.group_calls().await.len();

    // A refused token, then a group out of scope: FAILED, naming what and why.
    for (tg, sources, request_id, needles) in [
        (
            &app,
            "dns:files.db.internal",
            "c-refused",
            vec!["target group app-db", "dns:files.db.internal", "(rds-proxy:*)"],
        ),
        (&web, "rds-proxy:app-proxy", "c-outside", vec!["target group web is outside NLB_SYNC_TARGET_GROUPS (app-*)"]),
    ] {
        let props = json!({"TargetGroupArn": tg.arn, "Sources": sources});
        let body =
            deploy.send(CfnRequest::create(&deploy.server.presigned_url(request_id), request_id, props.clone())).await;
        let (status, reason) = status_and_reason(&body);
        assert_eq!(status, "FAILED", "{body:#}");
        contains_all(reason, &needles);
        let physical_id = body["PhysicalResourceId"].as_str().unwrap().to_owned();
        assert!(physical_id.starts_with("failed-create-"), "never the group's ARN: {physical_id}");

        // The Delete CloudFormation sends after a failed Create.
        let delete_id = format!("{request_id}-delete");
        let url = deploy.server.presigned_url(&delete_id);
        let body = deploy.send(CfnRequest::delete(&url, &delete_id, &physical_id, props)).await;
        assert_eq!(status_and_reason(&body).0, "SUCCESS", "{body:#}");
    }
    left_alone(sandbox, &app, since, &app_before).await;
    left_alone(sandbox, &web, since, &web_before).await;

    // A resource made before the scope was narrowed to leave `web` out: its
    // Delete succeeds and leaves the group as it is.
    sandbox.aws.set_sources(&web.arn, "rds-proxy:app-proxy").await;
    sandbox.aws.register_targets(&web.arn, &[&target("10.1.1.10")]).await;
    let web_tagged = snapshot(sandbox, &web).await;
    let since_tagged = sandbox.moto.group_calls().await.len();
    let props = json!({"TargetGroupArn": web.arn, "Sources": "rds-proxy:app-proxy"});
    let body = deploy.send(CfnRequest::delete(&deploy.server.presigned_url("d-web"), "d-web", &web.arn, props)).await;
    assert_eq!(status_and_reason(&body).0, "SUCCESS", "{body:#}");
    left_alone(sandbox, &web, since_tagged, &web_tagged).await;

    // An allowed Create, then an Update to a refused token: FAILED, the
    // allowed sources stay.
    let allowed = json!({"TargetGroupArn": app.arn, "Sources": "rds-proxy:app-proxy"});
    let body = deploy.send(CfnRequest::create(&deploy.server.presigned_url("c-ok"), "c-ok", allowed.clone())).await;
    assert_eq!(status_and_reason(&body).0, "SUCCESS", "{body:#}");
    let before_update = snapshot(sandbox, &app).await;
    let refused = json!({"TargetGroupArn": app.arn, "Sources": "rds-proxy:app-proxy dns:files.db.internal"});
    let url = deploy.server.presigned_url("u-refused");
    let body = deploy.send(CfnRequest::update(&url, "u-refused", &app.arn, refused, allowed)).await;
    let (status, reason) = status_and_reason(&body);
    assert_eq!(status, "FAILED", "{body:#}");
    contains_all(reason, &["target group app-db", "dns:files.db.internal"]);
    assert_eq!(body["PhysicalResourceId"], app.arn.as_str());
    let after = snapshot(sandbox, &app).await;
    assert_eq!(after, before_update, "the Update wrote nothing");
    assert!(after.1.iter().any(|(k, v)| k == SOURCES_TAG && v == "rds-proxy:app-proxy"));
    assert!(after.1.iter().any(|(k, _)| k == VIEW_TAG), "the allowed Create synced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resource_with_a_malformed_policy_answers_failed_naming_it() {
    let deploy = Deploy::start(&[("NLB_SYNC_ALLOWED_CIDRS", "10.1.2.3/16")]).await;
    let tg = deploy.sandbox.target_group("app-db", None).await;
    let props = json!({"TargetGroupArn": tg.arn, "Sources": "rds-proxy:app-proxy"});
    let body = deploy.send(CfnRequest::create(&deploy.server.presigned_url("c-1"), "c-1", props)).await;
    let (status, reason) = status_and_reason(&body);
    assert_eq!(status, "FAILED", "{body:#}");
    contains_all(reason, &["NLB_SYNC_ALLOWED_CIDRS='10.1.2.3/16'", "the network is 10.1.0.0/16"]);
    assert!(deploy.sandbox.aws.tags(&tg.arn).await.is_empty());
}

// ------------------------------------------------------------------ command line

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_is_held_to_the_same_policy() {
    let sandbox = Sandbox::start().await;
    let endpoint = sandbox.aws.create_db_proxy("cli-proxy", &sandbox.network.subnet_ids).await;
    sandbox.dns.set_a(&endpoint, &[ip("10.1.1.10")]);
    sandbox.dns.set_a("files.db.internal", &[ip("10.1.1.60")]);
    let plain = sandbox.target_group("cli-plain", None).await;
    let good = sandbox.target_group("cli-good", Some("rds-proxy:cli-proxy")).await;
    let refused = sandbox.target_group("cli-files", Some("dns:files.db.internal")).await;
    let outside = sandbox.target_group("other", Some("rds-proxy:cli-proxy")).await;
    let (plain_before, refused_before, outside_before) =
        (snapshot(&sandbox, &plain).await, snapshot(&sandbox, &refused).await, snapshot(&sandbox, &outside).await);
    let cli = OperatorCli::new(&sandbox)
        .var("NLB_SYNC_ALLOWED_SOURCES", "rds-proxy:*")
        .var("NLB_SYNC_TARGET_GROUPS", "cli-*");
    let since = sandbox.moto.group_calls().await.len();

    // tag: a token the policy refuses is not written.
    let run = cli.run(&["tag", "cli-plain", "rds-proxy:cli-proxy", "dns:files.db.internal"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    contains_all(
        &run.stderr,
        &["target group cli-plain", "source dns:files.db.internal is not allowed", "(rds-proxy:*)"],
    );

    // plan and apply: exit 1 naming the refusal; the other group is applied.
    let plan = cli.run(&["plan", "-o", "json"]).await;
    assert_eq!(plan.code, 1, "{plan:?}");
    let report = plan.json();
    let names: Vec<&str> =
        report["targetGroups"].as_array().unwrap().iter().map(|g| g["targetGroupName"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["cli-files", "cli-good"], "the group out of scope is not planned");
    let apply = cli.run(&["apply", "--yes"]).await;
    assert_eq!(apply.code, 1, "{apply:?}");
    contains_all(&apply.stdout, &["cli-files", "source dns:files.db.internal is not allowed"]);
    assert_eq!(sandbox.aws.registered_targets(&good.arn).await, vec![target("10.1.1.10")]);

    // A group out of scope, named: refused before it is read.
    for command in
        [vec!["plan", "other"], vec!["apply", "other", "--yes"], vec!["status", "other"], vec!["untag", "other"]]
    {
        let run = cli.run(&command).await;
        assert_eq!(run.code, 1, "{command:?}: {run:?}");
        contains_all(&run.stderr, &["target group other is outside NLB_SYNC_TARGET_GROUPS (cli-*)"]);
    }
    left_alone(&sandbox, &plain, since, &plain_before).await;
    left_alone(&sandbox, &refused, since, &refused_before).await;
    left_alone(&sandbox, &outside, since, &outside_before).await;

    // status shows the groups in scope, a refused one with its refusal (its
    // targets read, its refused sources not looked up).
    let status = cli.run(&["status", "-o", "json"]).await.json();
    let groups = status["targetGroups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().filter_map(|g| g["targetGroupName"].as_str()).collect();
    assert_eq!(names, vec!["cli-files", "cli-good"], "{status:#}");
    assert!(groups[0]["error"].as_str().unwrap_or_default().contains("is not allowed"), "{status:#}");
    assert!(!sandbox.dns.queries().iter().any(|q| q.starts_with("files.db.internal")), "{:?}", sandbox.dns.queries());

    // explain still shows what a refused token resolves to, and says it is refused.
    let explained = cli.run(&["explain", "dns:files.db.internal", "-o", "json"]).await;
    assert_eq!(explained.code, 1, "{explained:?}");
    let explained = explained.json();
    assert_eq!((&explained["allowed"], &explained["usable"]), (&json!(false), &json!(false)), "{explained:#}");
    assert!(!explained["addresses"].as_array().unwrap().is_empty(), "{explained:#}");

    // A flag wins over its variable, and is checked like it.
    let widened = cli.run(&["plan", "cli-files", "--allowed-sources", "rds-proxy:* dns:*.internal"]).await;
    assert_eq!(widened.code, 2, "changes pending once dns: names are allowed: {widened:?}");
    let malformed = cli.run(&["plan", "--allowed-cidrs", "10.1.2.3/16"]).await;
    assert_eq!(malformed.code, 1, "{malformed:?}");
    contains_all(&malformed.stderr, &["--allowed-cidrs '10.1.2.3/16' is invalid", "the network is 10.1.0.0/16"]);
}
