//! The operator command line `nlb-target-sync`, the built binary, against
//! moto (ELBv2, RDS) and a loopback DNS server: status, plan and its exit
//! codes, apply, explain on each source kind, tag and untag, JSON and table
//! output, colour rules, progress on stderr.
//!
//! Stdin is never a terminal here, so `apply` never prompts. Addresses in DNS
//! answers are private 10.1.x.x addresses: moto stores them, nobody dials them.

use std::net::Ipv4Addr;

use integration_tests::{
    AuroraCluster, CliRun, OperatorCli, PORT_TAG, SOURCES_TAG, Sandbox, VIEW_TAG, only_group_report, strings,
};
use serde_json::Value;

const CLUSTER: &str = "cli-aurora";
const WRITER_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 10);
const READER_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 20);

/// A sandbox with a two-instance Aurora cluster whose instance endpoints resolve.
async fn with_cluster() -> (Sandbox, AuroraCluster) {
    let sandbox = Sandbox::start().await;
    let cluster = sandbox.aws.create_aurora_cluster(CLUSTER, 2).await;
    sandbox.dns.set_a(&cluster.addresses[0], &[WRITER_IP]);
    sandbox.dns.set_a(&cluster.addresses[1], &[READER_IP]);
    (sandbox, cluster)
}

fn expect_code(run: &CliRun, code: i32) {
    eprintln!("[cli] exit {} after {:?}", run.code, run.took);
    assert_eq!(run.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

fn has_escape(text: &str) -> bool {
    text.contains('\u{1b}')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_plan_on_a_fresh_group_then_apply_converges() {
    let (sandbox, _) = with_cluster().await;
    let tg = sandbox.target_group("cli-writer", Some(&format!("rds-cluster:{CLUSTER}:writer"))).await;
    let cli = OperatorCli::new(&sandbox);
    let writer = format!("{WRITER_IP}:5432");

    // Fresh: the writer is wanted, nothing is registered, no view applied yet.
    let status = cli.run(&["status", "--output", "json"]).await;
    expect_code(&status, 0);
    let group = only_group_report(&status.json()).clone();
    assert_eq!(group["targetGroupName"], "cli-writer");
    assert_eq!(strings(&group["sources"]), vec![format!("rds-cluster:{CLUSTER}:writer")]);
    assert_eq!(group["appliedView"], Value::Null);
    let targets = group["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{group:#}");
    assert_eq!(targets[0]["target"], writer.as_str());
    assert_eq!(targets[0]["state"], Value::Null, "wanted, not registered");
    assert_eq!(strings(&targets[0]["wantedBy"]), vec![format!("rds-cluster:{CLUSTER}:writer")]);

    // Plan: changes pending (exit 2), and nothing written: no target, no view tag.
    let plan = cli.run(&["plan", "cli-writer", "-o", "json"]).await;
    expect_code(&plan, 2);
    let report = plan.json();
    assert_eq!(report["changesPending"], true);
    assert_eq!(report["dryRun"], true);
    assert_eq!(strings(&only_group_report(&report)["registered"]), vec![writer.clone()]);
    assert!(sandbox.aws.registered_targets(&tg.arn).await.is_empty(), "plan registered something");
    assert!(!sandbox.aws.tags(&tg.arn).await.iter().any(|(k, _)| k == VIEW_TAG), "plan stamped the view");

    // Apply (by ARN): registered, view stamped.
    let apply = cli.run(&["apply", &tg.arn, "--yes", "-o", "json"]).await;
    expect_code(&apply, 0);
    assert_eq!(strings(&only_group_report(&apply.json())["registered"]), vec![writer.clone()]);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![writer.clone()]);

    // Synced: healthy, wanted by the source, applied view shown; plan exit 0.
    let status = cli.run(&["status", "cli-writer", "-o", "json"]).await;
    expect_code(&status, 0);
    let group = only_group_report(&status.json()).clone();
    assert_eq!(group["targets"][0]["state"], "healthy");
    assert_eq!(strings(&group["targets"][0]["wantedBy"]), vec![format!("rds-cluster:{CLUSTER}:writer")]);
    assert!(group["appliedView"]["unixMs"].as_u64().is_some_and(|ms| ms > 1_700_000_000_000), "{group:#}");
    assert!(group["appliedView"]["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{group:#}");
    let plan = cli.run(&["plan", "-o", "json"]).await;
    expect_code(&plan, 0);
    assert_eq!(plan.json()["changesPending"], false);

    // The same, for people: a table, no colour when stdout is not a terminal.
    let table = cli.run(&["status"]).await;
    expect_code(&table, 0);
    assert!(table.stdout.contains("cli-writer") && table.stdout.contains("wanted by"), "{}", table.stdout);
    assert!(table.stdout.contains(&writer) && table.stdout.contains("healthy"), "{}", table.stdout);
    assert!(!has_escape(&table.stdout), "colour on a pipe: {:?}", table.stdout);
    let plan = cli.run(&["plan"]).await;
    expect_code(&plan, 0);
    assert!(plan.stdout.contains("nothing to change"), "{}", plan.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_plan_shows_the_swap_and_apply_waits_for_health() {
    let (sandbox, cluster) = with_cluster().await;
    let tg = sandbox.target_group("cli-failover", Some(&format!("rds-cluster:{CLUSTER}"))).await;
    let cli = OperatorCli::new(&sandbox);
    expect_code(&cli.run(&["apply", "--yes"]).await, 0);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![format!("{WRITER_IP}:5432")]);

    sandbox.aws.failover_cluster(CLUSTER, &cluster.instances[1]).await;
    let plan = cli.run(&["plan", "-o", "json"]).await;
    expect_code(&plan, 2);
    let group = only_group_report(&plan.json()).clone();
    assert_eq!(strings(&group["registered"]), vec![format!("{READER_IP}:5432")]);
    assert_eq!(strings(&group["deregisteredRoleChanged"]), vec![format!("{WRITER_IP}:5432")]);
    let text = cli.run(&["plan"]).await;
    assert!(text.stdout.contains("lost the role") && text.stdout.contains("changes pending"), "{}", text.stdout);

    let apply = cli.run(&["apply", "cli-failover", "--yes", "--wait-healthy", "30", "-o", "json"]).await;
    expect_code(&apply, 0);
    let report = apply.json();
    assert!(report["wait"]["seconds"].as_f64().is_some_and(|s| s < 30.0), "{report:#}");
    assert_eq!(report["wait"]["unhealthy"], Value::Array(vec![]), "{report:#}");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![format!("{READER_IP}:5432")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_exit_1_and_say_what_failed_without_a_stack_trace() {
    let sandbox = Sandbox::start().await;
    let tg = sandbox.target_group("cli-broken", Some("dns:missing.example.internal")).await;
    sandbox.aws.register_targets(&tg.arn, &["10.1.1.77"]).await;
    let cli = OperatorCli::new(&sandbox);

    // A source that does not resolve: plan fails (exit 1) and removes nothing.
    let plan = cli.run(&["plan", "-o", "json"]).await;
    expect_code(&plan, 1);
    let error = only_group_report(&plan.json())["error"].as_str().unwrap().to_owned();
    assert!(error.contains("missing.example.internal") && error.contains("nothing was deregistered"), "{error}");
    let apply = cli.run(&["apply", "--yes"]).await;
    expect_code(&apply, 1);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec!["10.1.1.77:5432"]);
    let status = cli.run(&["status", "-o", "json"]).await;
    expect_code(&status, 1);
    let group = only_group_report(&status.json()).clone();
    assert_eq!(group["unresolved"][0]["source"], "dns:missing.example.internal");
    assert_eq!(group["targets"][0]["wantedBy"], Value::Array(vec![]), "registered, not wanted");

    // An unknown target group, a bad flag value, a usage error: exit 1, one clear line.
    for (args, expected) in [
        (vec!["status", "no-such-group"], "target group 'no-such-group' does not exist"),
        (vec!["plan", "--dns-server", "dns.local"], "--dns-server 'dns.local' is invalid"),
        (vec!["plan", "--no-such-flag"], "--no-such-flag"),
    ] {
        let run = cli.run(&args).await;
        expect_code(&run, 1);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked") && !run.stderr.contains("backtrace"), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    // A flag wins over its variable: the variable points at a port where no DNS server listens.
    let dns = sandbox.dns.addr().to_string();
    let run = cli
        .var("NLB_SYNC_DNS_SERVER", "127.0.0.1:9")
        .run(&["explain", "dns:missing.example.internal", "--dns-server", &dns, "-o", "json"])
        .await;
    expect_code(&run, 1);
    assert!(run.json()["error"].as_str().unwrap().contains("does not exist (NXDOMAIN)"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_each_step_for_every_source_kind() {
    let (sandbox, cluster) = with_cluster().await;
    let proxy_endpoint = sandbox.aws.create_db_proxy("cli-proxy", &sandbox.network.subnet_ids).await;
    sandbox.dns.set_a(&proxy_endpoint, &[Ipv4Addr::new(10, 1, 1, 30), Ipv4Addr::new(10, 1, 2, 40)]);
    let instance_address = sandbox.aws.create_rds_instance("cli-pg").await;
    sandbox.dns.set_a(&instance_address, &[Ipv4Addr::new(10, 1, 1, 50)]);
    sandbox.dns.set_cname("db.example.internal", "primary.example.internal");
    sandbox.dns.set_a("primary.example.internal", &[Ipv4Addr::new(10, 1, 2, 60)]);
    sandbox.dns.set_a("public.example.internal", &[Ipv4Addr::new(198, 51, 100, 7)]);
    sandbox.dns.set_ttl(30);
    let cli = OperatorCli::new(&sandbox);
    let explain = |source: &'static str| {
        let cli = &cli;
        async move { cli.run(&["explain", source, "-o", "json"]).await }
    };
    let calls = |report: &Value| -> Vec<String> {
        report["steps"].as_array().unwrap().iter().map(|s| s["call"].as_str().unwrap().to_owned()).collect()
    };
    let addresses = |report: &Value| -> Vec<(String, String, bool)> {
        report["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["address"].as_str().unwrap().to_owned(),
                    a["role"].as_str().unwrap().to_owned(),
                    a["private"] == true,
                )
            })
            .collect()
    };

    // Writer: the roles from the RDS API, then each member's endpoint and DNS.
    let run = explain("rds-cluster:cli-aurora:writer").await;
    expect_code(&run, 0);
    let report = run.json();
    assert_eq!(
        calls(&report),
        vec!["DescribeDBClusters", "DescribeDBInstances", "DNS A", "DescribeDBInstances", "DNS A"]
    );
    let members = &report["steps"][0]["members"];
    assert_eq!(members[0]["instance"], cluster.instances[0].as_str());
    assert_eq!(members[0]["writer"], true);
    assert_eq!(report["steps"][1]["endpoint"]["address"], cluster.addresses[0].as_str());
    assert_eq!(report["steps"][2]["records"][0]["ttl"], 30);
    assert_eq!(
        addresses(&report),
        vec![(WRITER_IP.to_string(), "wanted".into(), true), (READER_IP.to_string(), "demoted".into(), true)]
    );

    // Readers: the other way round.
    let report = explain("rds-cluster:cli-aurora:readers").await.json();
    assert_eq!(addresses(&report)[0], (READER_IP.to_string(), "wanted".into(), true));

    // An instance, a proxy (every address), a name through a CNAME.
    let run = explain("rds-instance:cli-pg").await;
    expect_code(&run, 0);
    let report = run.json();
    assert_eq!(calls(&report), vec!["DescribeDBInstances", "DNS A"]);
    assert_eq!(report["steps"][0]["endpoint"]["status"], "available");
    let report = explain("rds-proxy:cli-proxy").await.json();
    assert_eq!(calls(&report), vec!["DescribeDBProxies", "DNS A"]);
    assert_eq!(report["steps"][0]["endpoint"]["address"], proxy_endpoint.as_str());
    assert_eq!(addresses(&report).len(), 2);
    let report = explain("dns:db.example.internal").await.json();
    let records = report["steps"][0]["records"].as_array().unwrap().clone();
    assert_eq!(records[0]["type"], "CNAME");
    assert_eq!(records[0]["value"], "primary.example.internal");
    assert_eq!(records[1]["type"], "A");
    assert_eq!(records[1]["value"], "10.1.2.60");
    assert!(records.iter().all(|r| r["ttl"] == 30), "{records:?}");

    // A public answer fails the private check: not usable, exit 1.
    let run = explain("dns:public.example.internal").await;
    expect_code(&run, 1);
    let report = run.json();
    assert_eq!(addresses(&report), vec![("198.51.100.7".into(), "wanted".into(), false)]);
    assert_eq!(report["usable"], false);
    let text = cli.run(&["explain", "dns:public.example.internal"]).await;
    assert!(text.stdout.contains("not a private address"), "{}", text.stdout);

    // A source that does not exist: the failing step says so.
    let run = explain("rds-cluster:nope").await;
    expect_code(&run, 1);
    let report = run.json();
    assert!(report["steps"][0]["error"].as_str().unwrap().contains("'nope' does not exist"), "{report:#}");

    // A bad token: the grammar's error naming it, before any lookup.
    let run = cli.run(&["explain", "rds-clustr:prod"]).await;
    expect_code(&run, 1);
    assert!(run.stderr.contains("bad source token 'rds-clustr:prod'"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_validates_every_token_before_writing_and_untag_removes_the_tags() {
    let sandbox = Sandbox::start().await;
    let tg = sandbox.target_group("cli-plain", None).await;
    let cli = OperatorCli::new(&sandbox);

    let run = cli.run(&["tag", "cli-plain", "rds-cluster:prod", "rds-prxy:app"]).await;
    expect_code(&run, 1);
    assert!(run.stderr.contains("'rds-prxy:app'") && run.stderr.contains("Accepted forms"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert!(sandbox.aws.tags(&tg.arn).await.is_empty(), "a bad token wrote tags");

    let run = cli
        .run(&[
            "tag",
            "cli-plain",
            "rds-cluster:prod:readers",
            "dns:db.example.internal",
            "--port",
            "6432",
            "-o",
            "json",
        ])
        .await;
    expect_code(&run, 0);
    let tagged = run.json();
    assert_eq!(strings(&tagged["sources"]), vec!["rds-cluster:prod:readers", "dns:db.example.internal"]);
    assert_eq!(tagged["port"], 6432);
    assert_eq!(tagged["targetGroupArn"], tg.arn.as_str());
    let mut tags = sandbox.aws.tags(&tg.arn).await;
    tags.sort();
    assert_eq!(
        tags,
        vec![
            (PORT_TAG.to_owned(), "6432".to_owned()),
            (SOURCES_TAG.to_owned(), "rds-cluster:prod:readers dns:db.example.internal".to_owned()),
        ]
    );
    let text = cli.run(&["tag", &tg.arn, "dns:db.example.internal"]).await;
    expect_code(&text, 0);
    assert!(text.stdout.contains("was 'rds-cluster:prod:readers dns:db.example.internal'"), "{}", text.stdout);
    assert!(!sandbox.aws.tags(&tg.arn).await.iter().any(|(k, _)| k == PORT_TAG), "the port tag the spec dropped stays");

    let run = cli.run(&["untag", "cli-plain", "-o", "json"]).await;
    expect_code(&run, 0);
    assert_eq!(strings(&run.json()["removedTags"]), vec![SOURCES_TAG]);
    assert!(sandbox.aws.tags(&tg.arn).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colour_only_when_allowed_and_progress_only_on_stderr() {
    let (sandbox, _) = with_cluster().await;
    sandbox.target_group("cli-colour", Some(&format!("rds-cluster:{CLUSTER}"))).await;
    let cli = OperatorCli::new(&sandbox);

    // CLICOLOR_FORCE stands in for a terminal; NO_COLOR always wins; JSON is never coloured.
    let forced = cli.run_with(&["status"], &[("CLICOLOR_FORCE", "1")]).await;
    expect_code(&forced, 0);
    assert!(has_escape(&forced.stdout), "{:?}", forced.stdout);
    let no_color = cli.run_with(&["status"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).await;
    assert!(!has_escape(&no_color.stdout), "{:?}", no_color.stdout);
    let json = cli.run_with(&["status", "-o", "json"], &[("CLICOLOR_FORCE", "1")]).await;
    assert!(!has_escape(&json.stdout));
    json.json();

    // A lookup that waits over a second: a progress line on stderr, clean JSON on stdout.
    sandbox.dns.stop_answering_name("slow.example.internal");
    let run = cli
        .run(&["explain", "dns:slow.example.internal", "--dns-timeout-ms", "800", "--dns-attempts", "2", "-o", "json"])
        .await;
    expect_code(&run, 1);
    assert!(run.took.as_millis() >= 1500, "{:?}", run.took);
    assert!(run.stderr.contains("resolving dns:slow.example.internal"), "{}", run.stderr);
    assert!(run.json()["error"].as_str().unwrap().contains("slow.example.internal"));
    let quick = cli.run(&["status", "-o", "json"]).await;
    assert!(!quick.stderr.contains("resolving"), "no progress line for a quick command: {}", quick.stderr);
}
