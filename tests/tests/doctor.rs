//! `nlb-target-sync doctor`, the built binary, against the AWS stand-in and a
//! loopback DNS server: every check id passing and failing (or warning) on
//! what it is about, the exit codes (0 with warnings only, 1 when a check
//! fails or cannot run), the JSON shape and the text, and the template's
//! full-producer resources passing every check.
//!
//! The world (`mysql_world`) is set up as docs/deploy.md and
//! docs/troubleshooting.md say: an NLB with a security group and cross-zone
//! load balancing on, a MySQL instance whose security group admits that group
//! and whose parameter group never blocks hosts, a target group with a short
//! deregistration delay and connection termination, behind a listener. Each
//! test breaks one thing and repairs it. Addresses are private 10.1.x.x
//! addresses: moto stores them, nobody dials them.

use std::net::{IpAddr, Ipv4Addr};

use integration_tests::{
    CliRun, DoctorCheck, IpFamily, OperatorCli, Sandbox, TargetGroup, doctor_checks, full_producer_resources,
};
use serde_json::Value;

const PORT: u16 = 5432;
const DB_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 10);
const NEVER_BLOCK: &str = "18446744073709551615";
const CROSS_ZONE: &str = "load_balancing.cross_zone.enabled";
const TERMINATION: &str = "deregistration_delay.connection_termination.enabled";
const DELAY: &str = "deregistration_delay.timeout_seconds";
const ACCOUNT_ROOT: &str = "arn:aws:iam::123456789012:root";
const ALL_IDS: [&str; 9] = [
    "load-balancer",
    "target-health",
    "in-sync",
    "connection-termination",
    "deregistration-delay",
    "cross-zone",
    "security-group-path",
    "mysql-max-connect-errors",
    "endpoint-service",
];

/// The sandbox, and what `mysql_world` built in it.
struct World {
    sandbox: Sandbox,
    nlb: String,
    nlb_group: String,
    tg: TargetGroup,
}

/// A MySQL instance `doctor-db` (resolving to 10.1.1.10) behind the target
/// group `doctor-tg` of the NLB `doctor-nlb`, set up as the docs say; no
/// target registered yet and no endpoint service.
async fn mysql_world() -> World {
    let sandbox = Sandbox::start().await;
    let aws = &sandbox.aws;
    let net = &sandbox.network;
    let nlb_group = aws.create_security_group(&net.vpc_id, "doctor-nlb").await;
    let nlb =
        aws.create_nlb_with_security_groups("doctor-nlb", &net.subnet_ids, std::slice::from_ref(&nlb_group)).await;
    aws.set_load_balancer_attribute(&nlb, CROSS_ZONE, "true").await;
    let db_group = aws.create_security_group(&net.vpc_id, "doctor-db").await;
    aws.allow_tcp_from_group(&db_group, PORT, &nlb_group).await;
    aws.create_db_parameter_group("doctor-mysql", "mysql8.0").await;
    aws.set_db_parameter("doctor-mysql", "max_connect_errors", NEVER_BLOCK).await;
    let address = aws.create_db_instance_in("doctor-db", "mysql", PORT, &[db_group], Some("doctor-mysql")).await;
    sandbox.dns.set_a(&address, &[DB_IP]);
    // The fixture's deregistration delay is 0 s.
    let tg = aws.create_ip_target_group("doctor-tg", &net.vpc_id, IpFamily::V4).await;
    aws.set_target_group_attribute(&tg.arn, TERMINATION, "true").await;
    aws.create_listener(&nlb, i32::from(PORT), &tg.arn).await;
    aws.set_sources(&tg.arn, "rds-instance:doctor-db").await;
    World { sandbox, nlb, nlb_group, tg }
}

impl World {
    fn cli(&self) -> OperatorCli<'_> {
        OperatorCli::new(&self.sandbox)
    }

    /// An endpoint service on the NLB that allows this account; its id and name.
    async fn open_endpoint_service(&self) -> (String, String) {
        let service = self.sandbox.aws.create_endpoint_service(&self.nlb, true).await;
        self.sandbox.aws.allow_endpoint_principal(&service.0, ACCOUNT_ROOT).await;
        service
    }

    /// Registers the wanted targets, as the functions would.
    async fn apply(&self) {
        expect_code(&self.cli().run(&["apply", "--yes", &self.tg.name]).await, 0);
    }
}

fn expect_code(run: &CliRun, code: i32) {
    eprintln!("[cli] exit {} after {:?}", run.code, run.took);
    assert_eq!(run.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

/// `doctor <group> -o json`: its run and the group's checks.
async fn doctor(cli: &OperatorCli<'_>, group: &str) -> (CliRun, Vec<DoctorCheck>) {
    let run = cli.run(&["doctor", group, "-o", "json"]).await;
    let mut groups = doctor_checks(&run.json());
    let checks = groups.remove(group).unwrap_or_else(|| panic!("no checks of {group} in {}", run.stdout));
    assert!(groups.is_empty(), "only {group} was asked for: {}", run.stdout);
    (run, checks)
}

/// The one check `id`.
fn only<'a>(checks: &'a [DoctorCheck], id: &str) -> &'a DoctorCheck {
    let mut found = checks.iter().filter(|c| c.id == id);
    match (found.next(), found.next()) {
        (Some(check), None) => check,
        _ => panic!("expected exactly one {id} check in {checks:#?}"),
    }
}

fn expect(checks: &[DoctorCheck], id: &str, status: &str) -> DoctorCheck {
    let check = only(checks, id).clone();
    assert_eq!(check.status, status, "{check:#?}");
    check
}

fn ids(checks: &[DoctorCheck]) -> Vec<&str> {
    checks.iter().map(|c| c.id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_on_a_group_set_up_as_the_docs_say() {
    let world = mysql_world().await;
    world.open_endpoint_service().await;
    world.apply().await;
    let cli = world.cli();

    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 0);
    assert_eq!(ids(&checks), ALL_IDS, "every id once, in order: {checks:#?}");
    assert!(checks.iter().all(|c| c.status == "pass"), "{checks:#?}");
    assert_eq!(only(&checks, "load-balancer").message, "listener TCP:5432 of doctor-nlb forwards to it");
    assert_eq!(only(&checks, "mysql-max-connect-errors").resource, "doctor-mysql");
    assert_eq!(run.json()["targetGroups"][0]["targetGroupArn"], Value::String(world.tg.arn.clone()));

    // Without names: every managed group (only this one).
    let everything = cli.run(&["doctor", "-o", "json"]).await;
    expect_code(&everything, 0);
    assert_eq!(doctor_checks(&everything.json()).keys().collect::<Vec<_>>(), ["doctor-tg"]);

    // For people: one table, no colour on a pipe, the verdict; nothing but
    // the progress line on stderr.
    let text = cli.run(&["doctor", &world.tg.arn]).await;
    expect_code(&text, 0);
    assert!(text.stdout.contains("doctor-tg") && text.stdout.contains("│ mysql-max-connect-errors"), "{}", text.stdout);
    assert!(text.stdout.contains("0 failing, 0 warning, 9 passing") && text.stdout.contains("no check fails"));
    assert!(!text.stdout.contains('\u{1b}'), "colour on a pipe: {:?}", text.stdout);
    assert!(text.stderr.lines().all(|l| l.starts_with("... ")), "stderr: {}", text.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_fails_without_a_listener_and_cross_zone_fails_for_an_unserved_zone() {
    let world = mysql_world().await;
    let aws = &world.sandbox.aws;
    let cli = world.cli();

    // A group no listener forwards to: the load balancer's checks have nothing to look at.
    let loose = aws.create_ip_target_group("doctor-loose", &world.sandbox.network.vpc_id, IpFamily::V4).await;
    aws.set_sources(&loose.arn, "rds-instance:doctor-db").await;
    let (run, checks) = doctor(&cli, "doctor-loose").await;
    expect_code(&run, 1);
    let check = expect(&checks, "load-balancer", "fail");
    assert_eq!(check.resource, "doctor-loose");
    assert!(check.message.contains("attached to no load balancer"), "{check:#?}");
    assert!(check.fix.unwrap().contains("listener"));
    assert!(expect(&checks, "cross-zone", "warn").message.starts_with("not checked"));
    assert!(expect(&checks, "security-group-path", "warn").message.starts_with("not checked"));
    assert!(!ids(&checks).contains(&"endpoint-service"), "no load balancer, no service: {checks:#?}");

    // The writer moves to us-east-1c, a zone the NLB does not serve.
    world.apply().await;
    let subnet_c = aws.create_subnet(&world.sandbox.network.vpc_id, "10.1.3.0/24", "us-east-1c").await;
    assert!(subnet_c.starts_with("subnet-"));
    let address = aws.instance_address("doctor-db").await;
    world.sandbox.dns.set_a(&address, &[Ipv4Addr::new(10, 1, 3, 10)]);
    world.apply().await;
    let (_, checks) = doctor(&cli, "doctor-tg").await;
    expect(&checks, "cross-zone", "pass");
    aws.set_load_balancer_attribute(&world.nlb, CROSS_ZONE, "false").await;
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 1);
    let check = expect(&checks, "cross-zone", "fail");
    assert_eq!(check.resource, "doctor-nlb");
    assert!(check.message.contains("10.1.3.10:5432 (us-east-1c)"), "{check:#?}");
    assert!(check.message.contains("serves us-east-1a, us-east-1b"), "{check:#?}");
    assert!(check.fix.unwrap().contains("Key=load_balancing.cross_zone.enabled,Value=true"));

    // The target group's own setting wins over the load balancer's.
    aws.set_target_group_attribute(&world.tg.arn, CROSS_ZONE, "true").await;
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 0);
    assert!(expect(&checks, "cross-zone", "pass").message.contains("the target group turns it on"));

    // Back in us-east-1a with cross-zone off: us-east-1b's node has nowhere to send.
    aws.set_target_group_attribute(&world.tg.arn, CROSS_ZONE, "use_load_balancer_configuration").await;
    world.sandbox.dns.set_a(&address, &[DB_IP]);
    world.apply().await;
    let (_, checks) = doctor(&cli, "doctor-tg").await;
    assert!(expect(&checks, "cross-zone", "warn").message.contains("us-east-1b have no wanted target"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_health_and_in_sync_follow_the_targets() {
    let world = mysql_world().await;
    let cli = world.cli();

    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 1);
    let health = expect(&checks, "target-health", "fail");
    assert!(health.message.contains("10.1.1.10:5432 not registered"), "{health:#?}");
    assert!(health.fix.unwrap().contains("nlb-target-sync apply"));
    let sync = expect(&checks, "in-sync", "warn");
    assert_eq!(sync.message, "plan would register 10.1.1.10:5432");
    assert!(world.sandbox.aws.registered_targets(&world.tg.arn).await.is_empty(), "doctor registered something");

    world.apply().await;
    let (_, checks) = doctor(&cli, "doctor-tg").await;
    expect(&checks, "target-health", "pass");
    expect(&checks, "in-sync", "pass");

    // The database stops answering health checks.
    let health_checks = world.sandbox.moto.health_checks();
    health_checks.set_reachable(IpAddr::V4(DB_IP), false).await;
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 1);
    let health = expect(&checks, "target-health", "fail");
    assert!(health.message.contains("10.1.1.10:5432 unhealthy (Target.FailedHealthChecks)"), "{health:#?}");
    assert!(health.fix.unwrap().contains("security-group-path"));
    health_checks.set_reachable(IpAddr::V4(DB_IP), true).await;

    // A second address, not registered yet: one of two wanted targets is not healthy.
    let address = world.sandbox.aws.instance_address("doctor-db").await;
    world.sandbox.dns.set_a(&address, &[DB_IP, Ipv4Addr::new(10, 1, 2, 20)]);
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 0);
    let health = expect(&checks, "target-health", "warn");
    assert!(health.message.starts_with("1 of 2 wanted targets are not healthy: 10.1.2.20:5432"), "{health:#?}");
    assert_eq!(expect(&checks, "in-sync", "warn").message, "plan would register 10.1.2.20:5432");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistration_attributes_warn_until_set_as_the_template_sets_them() {
    let world = mysql_world().await;
    world.open_endpoint_service().await;
    world.apply().await;
    let aws = &world.sandbox.aws;
    let cli = world.cli();
    expect(&doctor(&cli, "doctor-tg").await.1, "connection-termination", "pass");

    // ELB's defaults: 300 s, no connection termination. Warnings only: exit 0.
    aws.set_target_group_attribute(&world.tg.arn, DELAY, "300").await;
    aws.set_target_group_attribute(&world.tg.arn, TERMINATION, "false").await;
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 0);
    let termination = expect(&checks, "connection-termination", "warn");
    assert!(termination.message.contains("is false") && termination.message.contains("demoted writer"));
    assert!(termination.fix.unwrap().contains(&format!("Key={TERMINATION},Value=true")));
    let delay = expect(&checks, "deregistration-delay", "warn");
    assert!(delay.message.contains("is 300 s"), "{delay:#?}");
    assert!(delay.fix.unwrap().contains("set it to 30 s, as template.yaml does"));
    let text = cli.run(&["doctor", "doctor-tg"]).await;
    expect_code(&text, 0);
    assert!(text.stdout.contains("warn connection-termination (doctor-tg)"), "{}", text.stdout);
    assert!(text.stdout.contains("fix: set it to 30 s"), "{}", text.stdout);
    assert!(text.stdout.contains("no check fails; see the warnings above"), "{}", text.stdout);

    // A target group as ELB makes it lists connection termination off (the
    // stand-in answers what ELB answers).
    let fresh = aws.create_ip_target_group("doctor-fresh", &world.sandbox.network.vpc_id, IpFamily::V4).await;
    aws.create_listener(&world.nlb, 6000, &fresh.arn).await;
    aws.set_sources(&fresh.arn, "rds-instance:doctor-db").await;
    assert!(
        expect(&doctor(&cli, "doctor-fresh").await.1, "connection-termination", "warn").message.contains("is false")
    );

    aws.set_target_group_attribute(&world.tg.arn, DELAY, "30").await;
    aws.set_target_group_attribute(&world.tg.arn, TERMINATION, "true").await;
    let (_, checks) = doctor(&cli, "doctor-tg").await;
    expect(&checks, "connection-termination", "pass");
    assert!(expect(&checks, "deregistration-delay", "pass").message.contains("is 30 s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_group_path_fails_until_the_database_admits_the_load_balancer() {
    let world = mysql_world().await;
    let aws = &world.sandbox.aws;
    let net = &world.sandbox.network;
    let cli = world.cli();

    // A database in a group without a rule for the NLB.
    let closed = aws.create_security_group(&net.vpc_id, "doctor-closed").await;
    let address =
        aws.create_db_instance_in("doctor-closed", "postgres", PORT, std::slice::from_ref(&closed), None).await;
    world.sandbox.dns.set_a(&address, &[Ipv4Addr::new(10, 1, 1, 11)]);
    aws.set_sources(&world.tg.arn, "rds-instance:doctor-closed").await;
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 1);
    let check = expect(&checks, "security-group-path", "fail");
    assert_eq!(check.resource, closed);
    assert!(check.message.contains(&format!("DB instance doctor-closed ({closed} (doctor-closed))")), "{check:#?}");
    assert!(check.message.contains("do not admit doctor-nlb on TCP 5432"), "{check:#?}");
    let fix = check.fix.unwrap();
    assert!(
        fix.contains(&format!("--group-id {closed} --protocol tcp --port 5432 --source-group {}", world.nlb_group))
    );
    aws.allow_tcp_from_group(&closed, PORT, &world.nlb_group).await;
    let (_, checks) = doctor(&cli, "doctor-tg").await;
    assert!(expect(&checks, "security-group-path", "pass").message.contains("from its security group"));

    // The sandbox's NLB has no security group: the database must admit its subnets.
    let plain = aws.create_ip_target_group("doctor-plain", &net.vpc_id, IpFamily::V4).await;
    aws.create_listener(&world.sandbox.nlb_arn, i32::from(PORT), &plain.arn).await;
    let one_subnet = aws.create_security_group(&net.vpc_id, "doctor-one-subnet").await;
    aws.allow_tcp_from_cidr(&one_subnet, PORT, "10.1.1.0/24").await;
    let address =
        aws.create_db_instance_in("doctor-plain", "postgres", PORT, std::slice::from_ref(&one_subnet), None).await;
    world.sandbox.dns.set_a(&address, &[Ipv4Addr::new(10, 1, 1, 12)]);
    aws.set_sources(&plain.arn, "rds-instance:doctor-plain").await;
    let check = expect(&doctor(&cli, "doctor-plain").await.1, "security-group-path", "fail");
    assert!(check.message.contains("from its subnets 10.1.1.0/24, 10.1.2.0/24"), "{check:#?}");
    assert!(
        check.fix.unwrap().ends_with(&format!("--group-id {one_subnet} --protocol tcp --port 5432 --cidr 10.1.2.0/24"))
    );
    aws.allow_tcp_from_cidr(&one_subnet, PORT, "10.1.0.0/16").await;
    expect(&doctor(&cli, "doctor-plain").await.1, "security-group-path", "pass");

    // A dns: source names no RDS resource: nothing to check.
    aws.set_sources(&plain.arn, "dns:db.doctor.internal").await;
    world.sandbox.dns.set_a("db.doctor.internal", &[Ipv4Addr::new(10, 1, 1, 13)]);
    assert!(!ids(&doctor(&cli, "doctor-plain").await.1).contains(&"security-group-path"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connect_errors_warns_for_mysql_reached_directly_and_not_through_rds_proxy() {
    let world = mysql_world().await;
    let aws = &world.sandbox.aws;
    let net = &world.sandbox.network;
    let cli = world.cli();
    expect(&doctor(&cli, "doctor-tg").await.1, "mysql-max-connect-errors", "pass");

    aws.set_db_parameter("doctor-mysql", "max_connect_errors", "100").await;
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    let check = expect(&checks, "mysql-max-connect-errors", "warn");
    assert_ne!(run.code, 2);
    assert_eq!(check.resource, "doctor-mysql");
    assert!(check.message.contains("sets max_connect_errors to 100") && check.message.contains("doctor-db"));
    let fix = check.fix.unwrap();
    assert!(fix.contains("--db-parameter-group-name doctor-mysql") && fix.contains("FLUSH HOSTS"), "{fix}");
    assert!(fix.contains("RDS Proxy"), "{fix}");

    // MariaDB on its engine's default group: MySQL's default of 100 applies.
    let group = aws.create_security_group(&net.vpc_id, "doctor-maria").await;
    aws.allow_tcp_from_group(&group, PORT, &world.nlb_group).await;
    let address = aws.create_db_instance_in("doctor-maria", "mariadb", PORT, std::slice::from_ref(&group), None).await;
    world.sandbox.dns.set_a(&address, &[Ipv4Addr::new(10, 1, 1, 14)]);
    aws.set_sources(&world.tg.arn, "rds-instance:doctor-maria").await;
    let check = expect(&doctor(&cli, "doctor-tg").await.1, "mysql-max-connect-errors", "warn");
    assert!(check.resource.starts_with("default.mariadb"), "{check:#?}");
    assert!(check.message.contains("does not set max_connect_errors, so MySQL's default of 100 applies"));
    assert!(check.fix.unwrap().starts_with("default parameter groups cannot be changed"));

    // The same engine behind RDS Proxy: the proxy takes the health checks.
    let proxy = aws
        .create_db_proxy_in("doctor-proxy", aws_sdk_rds::types::EngineFamily::Mysql, &net.subnet_ids, &[group])
        .await;
    world.sandbox.dns.set_a(&proxy, &[Ipv4Addr::new(10, 1, 2, 30)]);
    aws.set_sources(&world.tg.arn, "rds-proxy:doctor-proxy").await;
    let checks = doctor(&cli, "doctor-tg").await.1;
    assert!(!ids(&checks).contains(&"mysql-max-connect-errors"), "{checks:#?}");
    assert!(only(&checks, "security-group-path").message.contains("RDS Proxy doctor-proxy"), "{checks:#?}");

    // PostgreSQL does not block hosts.
    let address = aws.create_db_instance_in("doctor-pg", "postgres", PORT, &[], None).await;
    world.sandbox.dns.set_a(&address, &[Ipv4Addr::new(10, 1, 1, 15)]);
    aws.set_sources(&world.tg.arn, "rds-instance:doctor-pg").await;
    assert!(!ids(&doctor(&cli, "doctor-tg").await.1).contains(&"mysql-max-connect-errors"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_service_warns_when_no_principal_is_allowed_or_a_connection_waits() {
    let world = mysql_world().await;
    world.apply().await;
    let aws = &world.sandbox.aws;
    let cli = world.cli();
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 0);
    assert!(!ids(&checks).contains(&"endpoint-service"), "no service, no check: {checks:#?}");

    let (service_id, service_name) = aws.create_endpoint_service(&world.nlb, true).await;
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 0);
    let check = expect(&checks, "endpoint-service", "warn");
    assert_eq!(check.resource, service_id);
    assert!(check.message.contains("allows no principal"), "{check:#?}");
    assert!(check.fix.unwrap().contains(&format!("--service-id {service_id} --add-allowed-principals")));

    aws.allow_endpoint_principal(&service_id, ACCOUNT_ROOT).await;
    expect(&doctor(&cli, "doctor-tg").await.1, "endpoint-service", "pass");

    // A consumer's endpoint waits for the provider to accept it.
    let endpoint = aws
        .create_interface_endpoint(&world.sandbox.network.vpc_id, &service_name, &world.sandbox.network.subnet_ids[0])
        .await;
    let check = expect(&doctor(&cli, "doctor-tg").await.1, "endpoint-service", "warn");
    assert!(check.message.contains(&format!("wait for acceptance and carry no traffic: {endpoint}")), "{check:#?}");
    assert!(check.fix.unwrap().ends_with(&format!("--service-id {service_id} --vpc-endpoint-ids {endpoint}")));
    aws.accept_endpoint_connection(&service_id, &endpoint).await;
    expect(&doctor(&cli, "doctor-tg").await.1, "endpoint-service", "pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_cannot_read_its_facts_fails_and_an_unknown_group_is_an_error() {
    let world = mysql_world().await;
    let cli = world.cli();
    world.sandbox.aws.set_sources(&world.tg.arn, "rds-instance:doctor-gone").await;
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 1);
    let path = expect(&checks, "security-group-path", "fail");
    assert!(
        path.message.starts_with("cannot check: rds-instance:doctor-gone: RDS DescribeDBInstances on doctor-gone"),
        "{path:#?}"
    );
    assert!(path.fix.unwrap().contains("rds:DescribeDBInstances"));
    assert!(expect(&checks, "target-health", "fail").message.contains("doctor-gone"));
    expect(&checks, "in-sync", "fail");

    // A refused EC2 call: the check says which call, its fix which IAM action to allow.
    world.sandbox.aws.set_sources(&world.tg.arn, "rds-instance:doctor-db").await;
    world.sandbox.moto.access_rules().deny(&["ec2:DescribeSecurityGroups"]).await;
    let (run, checks) = doctor(&cli, "doctor-tg").await;
    expect_code(&run, 1);
    let path = expect(&checks, "security-group-path", "fail");
    assert!(path.message.contains("EC2 DescribeSecurityGroups on sg-"), "{path:#?}");
    assert!(path.message.contains("UnauthorizedOperation"), "{path:#?}");
    let fix = path.fix.unwrap();
    assert!(fix.starts_with("Allow ec2:DescribeSecurityGroups for the identity in use"), "{fix}");
    world.sandbox.moto.access_rules().deny(&[]).await;

    let unknown = cli.run(&["doctor", "no-such-group"]).await;
    expect_code(&unknown, 1);
    assert!(unknown.stdout.is_empty(), "{}", unknown.stdout);
    assert!(unknown.stderr.contains("no-such-group"), "{}", unknown.stderr);
}

/// template.yaml's full-producer resources, built in the stand-in from the
/// properties the template gives them (every parameter at its default but
/// the required ones), in front of an Aurora MySQL cluster set up as
/// docs/deploy.md ("The database must accept the load balancer") and
/// docs/troubleshooting.md (`max_connect_errors`) say: every check passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_defaults_pass_every_check() {
    let sandbox = Sandbox::start().await;
    let aws = &sandbox.aws;
    let net = &sandbox.network;
    let subnets = net.subnet_ids.join(",");
    let stack = full_producer_resources(&[
        ("VpcId", &net.vpc_id),
        ("SubnetIds", &subnets),
        ("Sources", "rds-cluster:template-aurora:writer"),
    ]);
    let resources = &stack["resources"];
    let port = u16::try_from(stack["parameters"]["DatabasePort"].as_u64().expect("DatabasePort")).expect("a port");
    let made = template::build(aws, resources).await;

    let db_group = aws.create_security_group(&net.vpc_id, "template-db").await;
    aws.allow_tcp_from_group(&db_group, port, &made.load_balancer_group).await;
    aws.create_db_parameter_group("template-aurora", "aurora-mysql8.0").await;
    aws.set_db_parameter("template-aurora", "max_connect_errors", NEVER_BLOCK).await;
    let writer = aws.create_aurora_mysql_cluster("template-aurora", port, &[db_group], "template-aurora").await;
    sandbox.dns.set_a(&writer, &[DB_IP]);

    // The stack's custom resource fills the group while it deploys.
    let cli = OperatorCli::new(&sandbox);
    expect_code(&cli.run(&["apply", "--yes", &made.target_group]).await, 0);
    let run = cli.run(&["doctor", &made.target_group, "-o", "json"]).await;
    let checks = doctor_checks(&run.json()).into_values().next().expect("the template's target group");
    assert_eq!(ids(&checks), ALL_IDS, "{checks:#?}");
    let not_passing: Vec<&DoctorCheck> = checks.iter().filter(|c| c.status != "pass").collect();
    assert!(not_passing.is_empty(), "the template's defaults must pass every check: {not_passing:#?}");
    expect_code(&run, 0);
}

/// Builds the template's evaluated resources with the stand-in's APIs. A
/// property it does not know fails the test, so a template change that
/// doctor might see is never silently left out here.
mod template {
    use std::collections::BTreeMap;

    use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetGroupIpAddressTypeEnum, TargetTypeEnum};
    use integration_tests::Aws;
    use serde_json::Value;

    /// What was made: the target group's name and the load balancer's security group.
    pub struct Made {
        pub target_group: String,
        pub load_balancer_group: String,
    }

    fn text(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => panic!("expected a scalar, got {other}"),
        }
    }

    fn number(value: &Value) -> i32 {
        text(value).parse().unwrap_or_else(|_| panic!("expected a number, got {value}"))
    }

    fn properties<'a>(resources: &'a Value, name: &str, known: &[&str]) -> &'a serde_json::Map<String, Value> {
        let props = resources[name]["Properties"]
            .as_object()
            .unwrap_or_else(|| panic!("the template has no {name} with properties: {resources:#}"));
        for key in props.keys() {
            assert!(known.contains(&key.as_str()), "the template test does not build {name}.{key}: teach it");
        }
        props
    }

    /// The id a `{"Ref": name}` stands for.
    fn resolve(value: &Value, made: &BTreeMap<String, String>) -> String {
        match value.get("Ref").and_then(Value::as_str) {
            Some(name) => made.get(name).unwrap_or_else(|| panic!("{name} is not built yet")).clone(),
            None => text(value),
        }
    }

    pub async fn build(aws: &Aws, resources: &Value) -> Made {
        let mut made: BTreeMap<String, String> = BTreeMap::new();

        // The load balancer's security group. Its egress rule (the database
        // port) is not something doctor reads: the stand-in filters nothing.
        let props =
            properties(resources, "LoadBalancerSecurityGroup", &["GroupDescription", "VpcId", "SecurityGroupEgress"]);
        let group = aws.create_security_group(&text(&props["VpcId"]), "template-nlb").await;
        made.insert("LoadBalancerSecurityGroup".into(), group.clone());

        let props = properties(
            resources,
            "LoadBalancer",
            &[
                "Type",
                "Scheme",
                "IpAddressType",
                "Subnets",
                "SecurityGroups",
                "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic",
                "LoadBalancerAttributes",
            ],
        );
        assert_eq!((text(&props["Type"]), text(&props["Scheme"])), ("network".into(), "internal".into()));
        let subnets: Vec<String> = props["Subnets"].as_array().expect("Subnets").iter().map(text).collect();
        let groups: Vec<String> =
            props["SecurityGroups"].as_array().expect("SecurityGroups").iter().map(|g| resolve(g, &made)).collect();
        let nlb = aws.create_nlb_with_security_groups("template-nlb", &subnets, &groups).await;
        for attribute in props["LoadBalancerAttributes"].as_array().expect("LoadBalancerAttributes") {
            aws.set_load_balancer_attribute(&nlb, &text(&attribute["Key"]), &text(&attribute["Value"])).await;
        }
        made.insert("LoadBalancer".into(), nlb.clone());

        let props = properties(
            resources,
            "TargetGroup",
            &[
                "TargetType",
                "Protocol",
                "Port",
                "VpcId",
                "IpAddressType",
                "HealthCheckEnabled",
                "HealthCheckProtocol",
                "HealthCheckPort",
                "HealthCheckIntervalSeconds",
                "HealthCheckTimeoutSeconds",
                "HealthyThresholdCount",
                "UnhealthyThresholdCount",
                "TargetGroupAttributes",
                "Tags",
            ],
        );
        assert_eq!((text(&props["TargetType"]), text(&props["Protocol"])), ("ip".into(), "TCP".into()));
        let out = aws
            .elb
            .create_target_group()
            .name("template-tg")
            .target_type(TargetTypeEnum::Ip)
            .protocol(ProtocolEnum::Tcp)
            .port(number(&props["Port"]))
            .vpc_id(text(&props["VpcId"]))
            .ip_address_type(TargetGroupIpAddressTypeEnum::from(text(&props["IpAddressType"]).as_str()))
            .health_check_enabled(text(&props["HealthCheckEnabled"]) == "true")
            .health_check_protocol(ProtocolEnum::from(text(&props["HealthCheckProtocol"]).as_str()))
            .health_check_port(text(&props["HealthCheckPort"]))
            .health_check_interval_seconds(number(&props["HealthCheckIntervalSeconds"]))
            .health_check_timeout_seconds(number(&props["HealthCheckTimeoutSeconds"]))
            .healthy_threshold_count(number(&props["HealthyThresholdCount"]))
            .unhealthy_threshold_count(number(&props["UnhealthyThresholdCount"]))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateTargetGroup: {e:?}"));
        let tg = out.target_groups()[0].target_group_arn().expect("ARN").to_owned();
        for attribute in props["TargetGroupAttributes"].as_array().expect("TargetGroupAttributes") {
            aws.set_target_group_attribute(&tg, &text(&attribute["Key"]), &text(&attribute["Value"])).await;
        }
        for tag in props["Tags"].as_array().expect("Tags") {
            let (key, value) = (text(&tag["Key"]), text(&tag["Value"]));
            aws.tag(&tg, &[(key.as_str(), value.as_str())]).await;
        }
        made.insert("TargetGroup".into(), tg.clone());

        let props = properties(resources, "Listener", &["LoadBalancerArn", "Protocol", "Port", "DefaultActions"]);
        assert_eq!(text(&props["Protocol"]), "TCP");
        let actions = props["DefaultActions"].as_array().expect("DefaultActions");
        assert_eq!(actions.len(), 1, "{actions:?}");
        assert_eq!(text(&actions[0]["Type"]), "forward");
        let forward_to = resolve(&actions[0]["TargetGroupArn"], &made);
        aws.create_listener(&resolve(&props["LoadBalancerArn"], &made), number(&props["Port"]), &forward_to).await;

        let props = properties(
            resources,
            "EndpointService",
            &["NetworkLoadBalancerArns", "AcceptanceRequired", "SupportedIpAddressTypes"],
        );
        let balancers = props["NetworkLoadBalancerArns"].as_array().expect("NetworkLoadBalancerArns");
        assert_eq!(balancers.len(), 1);
        let (service, _) = aws
            .create_endpoint_service(&resolve(&balancers[0], &made), text(&props["AcceptanceRequired"]) == "true")
            .await;
        made.insert("EndpointService".into(), service.clone());

        let props = properties(resources, "EndpointServicePermissions", &["ServiceId", "AllowedPrincipals"]);
        let service_id = resolve(&props["ServiceId"], &made);
        for principal in props["AllowedPrincipals"].as_array().expect("AllowedPrincipals") {
            aws.allow_endpoint_principal(&service_id, &text(principal)).await;
        }
        let names: Vec<&String> = resources.as_object().expect("resources").keys().collect();
        assert_eq!(
            names,
            [
                "EndpointService",
                "EndpointServicePermissions",
                "Listener",
                "LoadBalancer",
                "LoadBalancerSecurityGroup",
                "TargetGroup"
            ],
            "a resource doctor reads that this test does not build"
        );
        Made { target_group: "template-tg".into(), load_balancer_group: group }
    }
}
