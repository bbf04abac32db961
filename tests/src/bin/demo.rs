//! `./dev.sh demo`: the whole job on this machine. A moto server stands in for
//! AWS and a DNS server on 127.0.0.1 for the VPC resolver; the real function
//! binaries run under the Lambda runtime emulator, and the operator command
//! line `nlb-target-sync` shows the target groups before and after, and what
//! `doctor` finds in a world set up with no care for the database's security
//! group. Nothing leaves the machine.

use std::net::Ipv4Addr;
use std::time::Instant;

use integration_tests::{
    AuroraCluster, OperatorCli, RdsNotification, Sandbox, echo_child_output, rds_event, scheduled_event,
};
use serde_json::Value;

const CLUSTER: &str = "demo-aurora";
const PROXY: &str = "demo-proxy";

#[tokio::main]
async fn main() {
    echo_child_output(false);
    let started = Instant::now();
    say("starting moto (AWS stand-in) and a DNS server on 127.0.0.1; creating a VPC and an internal NLB");
    let sandbox = Sandbox::start().await;
    let aws = &sandbox.aws;

    say(&format!("creating Aurora cluster {CLUSTER} (2 instances) and RDS Proxy {PROXY}"));
    let cluster = aws.create_aurora_cluster(CLUSTER, 2).await;
    let instance_ips = [Ipv4Addr::new(10, 1, 1, 10), Ipv4Addr::new(10, 1, 2, 20)];
    for (address, ip) in cluster.addresses.iter().zip(instance_ips) {
        sandbox.dns.set_a(address, &[ip]);
    }
    let writer = aws.cluster_writer(CLUSTER).await;
    sandbox.dns.set_cname(&cluster.endpoint, cluster.address_of(&writer));
    let proxy_endpoint = aws.create_db_proxy(PROXY, &sandbox.network.subnet_ids).await;
    sandbox.dns.set_a(&proxy_endpoint, &[Ipv4Addr::new(10, 1, 1, 30), Ipv4Addr::new(10, 1, 2, 40)]);
    print_dns(&cluster, &proxy_endpoint);

    let writer_tg = sandbox.target_group("demo-writer", Some(&format!("rds-cluster:{CLUSTER}:writer"))).await;
    sandbox.target_group("demo-proxy", Some(&format!("rds-proxy:{PROXY}"))).await;
    let cli = OperatorCli::new(&sandbox);
    say("the target groups, tagged nlb-target-sync:sources, before any sync (the operator command line):");
    shell(&cli, &["status"]).await;
    shell(&cli, &["plan"]).await;

    let schedule = sandbox.function("sync-on-schedule").start().await;
    say("running sync-on-schedule (the EventBridge schedule's function)");
    let run = schedule.invoke(scheduled_event()).await;
    print_summary(&run.body);
    shell(&cli, &["status"]).await;

    let new_writer = cluster.instances.iter().find(|i| **i != writer).expect("two instances").clone();
    say(&format!("failing {CLUSTER} over: {writer} -> {new_writer} (the cluster endpoint's DNS is left stale)"));
    aws.failover_cluster(CLUSTER, &new_writer).await;
    shell(&cli, &["explain", &format!("rds-cluster:{CLUSTER}:writer")]).await;
    shell(&cli, &["plan", "demo-writer"]).await;

    let failover = sandbox.function("sync-on-failover").var("NLB_SYNC_RECHECK_MS", "200").start().await;
    say("delivering RDS-EVENT-0071 (failover completed) to sync-on-failover through an SNS event");
    let sent = Instant::now();
    let event = RdsNotification::cluster(
        CLUSTER,
        "RDS-EVENT-0071",
        &format!("Completed failover to DB instance: {new_writer}"),
    );
    let run = failover.invoke(rds_event(&[&event])).await;
    let took = sent.elapsed();
    print_summary(&run.body);
    println!("    invocation took {took:.0?}");
    shell(&cli, &["status", "demo-writer"]).await;
    let expected = format!("{}:5432", instance_ips[cluster.instances.iter().position(|i| *i == new_writer).unwrap()]);
    let now = aws.registered_targets(&writer_tg.arn).await;
    if now == vec![expected.clone()] {
        say(&format!("the writer target group holds exactly the new writer ({expected})"));
    } else {
        say(&format!("UNEXPECTED: writer target group holds {now:?}, wanted [{expected}]"));
        std::process::exit(1);
    }

    say("running sync-on-schedule again: nothing left to change");
    let run = schedule.invoke(scheduled_event()).await;
    print_summary(&run.body);
    shell(&cli, &["plan"]).await;

    say("an operator puts a third target group under sync, applies it now, and takes it out again");
    sandbox.target_group("demo-readers", None).await;
    shell(&cli, &["tag", "demo-readers", &format!("rds-cluster:{CLUSTER}:reader")]).await;
    shell(&cli, &["tag", "demo-readers", &format!("rds-cluster:{CLUSTER}:readers")]).await;
    shell(&cli, &["apply", "demo-readers", "--yes", "--wait-healthy", "30"]).await;
    shell(&cli, &["untag", "demo-readers"]).await;
    say("the same for scripts: --output json (shapes in the README)");
    shell(&cli, &["status", "demo-writer", "--output", "json"]).await;
    say("the group holds the right address; doctor checks what else stands between a consumer and the database");
    shell(&cli, &["doctor", "demo-writer"]).await;
    say(&format!("done in {:.1?}", started.elapsed()));
}

/// Runs the operator command line and shows it as a shell session would.
async fn shell(cli: &OperatorCli<'_>, args: &[&str]) {
    println!("\n$ nlb-target-sync {}", args.join(" "));
    let run = cli.run(args).await;
    print!("{}", run.stdout);
    for line in run.stderr.lines() {
        println!("{line}");
    }
    if run.code != 0 {
        println!("[exit code {}]", run.code);
    }
}

fn say(text: &str) {
    println!("\n==> {text}");
}

fn print_dns(cluster: &AuroraCluster, proxy_endpoint: &str) {
    for (instance, address) in cluster.instances.iter().zip(&cluster.addresses) {
        println!("    {instance:<14} {address}");
    }
    println!("    {:<14} {proxy_endpoint}", "proxy");
}

fn print_summary(body: &Value) {
    let Some(groups) = body["targetGroups"].as_array() else {
        println!("    function failed: {body}");
        return;
    };
    for g in groups {
        let name = g["targetGroupName"].as_str().unwrap_or("?");
        let held = g["heldBack"].as_array().map_or(0, Vec::len);
        println!(
            "    {name:<12} registered {} deregistered {} held back {held} error {}",
            g["registered"], g["deregistered"], g["error"]
        );
    }
}
