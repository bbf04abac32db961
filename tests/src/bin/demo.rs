//! `./dev.sh demo`: the whole job on this machine. A moto server stands in for
//! AWS and a DNS server on 127.0.0.1 for the VPC resolver; the real function
//! binaries run under the Lambda runtime emulator. Nothing leaves the machine.

use std::net::Ipv4Addr;
use std::time::Instant;

use integration_tests::{AuroraCluster, Sandbox, echo_child_output, scheduled_event};
use serde_json::{Value, json};

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
    let proxy_tg = sandbox.target_group("demo-proxy", Some(&format!("rds-proxy:{PROXY}"))).await;
    let groups = [("demo-writer", &writer_tg.arn), ("demo-proxy", &proxy_tg.arn)];
    say("target groups, tagged nlb-target-sync:sources, before any sync:");
    for (name, arn) in groups {
        println!("    {name:<12} {:?}", aws.registered_targets(arn).await);
    }

    let schedule = sandbox.function("sync-on-schedule").start().await;
    say("running sync-on-schedule (the EventBridge schedule's function)");
    let run = schedule.invoke(scheduled_event()).await;
    print_summary(&run.body);
    for (name, arn) in groups {
        println!("    {name:<12} {:?}", aws.registered_targets(arn).await);
    }

    let new_writer = cluster.instances.iter().find(|i| **i != writer).expect("two instances").clone();
    say(&format!("failing {CLUSTER} over: {writer} -> {new_writer} (the cluster endpoint's DNS is left stale)"));
    aws.failover_cluster(CLUSTER, &new_writer).await;

    let failover = sandbox.function("sync-on-failover").var("NLB_SYNC_RECHECK_MS", "200").start().await;
    say("delivering RDS-EVENT-0071 (failover completed) to sync-on-failover through an SNS event");
    let sent = Instant::now();
    let run = failover.invoke(rds_event(CLUSTER, "RDS-EVENT-0071", "Completed failover to DB instance")).await;
    let took = sent.elapsed();
    print_summary(&run.body);
    println!("    invocation took {took:.0?}");
    for (name, arn) in groups {
        println!("    {name:<12} {:?}", aws.registered_targets(arn).await);
    }
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
    say(&format!("done in {:.1?}", started.elapsed()));
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

fn rds_event(cluster: &str, event_id: &str, message: &str) -> Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let event_time = format!("{} {:02}:{:02}:{:02}.000", civil(days), rest / 3600, rest % 3600 / 60, rest % 60);
    let message = json!({
        "Event Source": "db-cluster",
        "Event Time": event_time,
        "Identifier Link": "https://console.aws.amazon.com/rds/home",
        "Source ID": cluster,
        "Source ARN": format!("arn:aws:rds:us-east-1:123456789012:cluster:{cluster}"),
        "Event ID": format!("http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#{event_id}"),
        "Event Message": message,
    });
    json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:rds-events:demo",
        "Sns": {
            "Type": "Notification", "MessageId": "demo", "TopicArn": "arn:aws:sns:us-east-1:123456789012:rds-events",
            "Subject": "RDS Notification Message", "Message": message.to_string(),
            "Timestamp": "2026-11-23T10:00:01.000Z", "SignatureVersion": "1", "Signature": "demo",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/cert.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/unsubscribe", "MessageAttributes": {}
        }
    }]})
}

/// `YYYY-MM-DD` of a day count since 1970-01-01.
fn civil(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
