//! The operator command line meeting an account it cannot use as asked: no
//! credentials, no Region, a permission missing on a read and on a write
//! (the stand-in answers AccessDenied as IAM does), an endpoint that refuses
//! connections. Each time the built binary says, on one line on stderr, what
//! failed and what to do at a terminal (never a Lambda function's advice),
//! exits with code 1 without a stack trace, and with `--output json` prints
//! `{"failure": {"kind", "message", "fix"}}` on stdout.

use integration_tests::{CliRun, OperatorCli, Sandbox};
use serde_json::Value;

/// Words of the Lambda functions' advice, wrong at a terminal.
const LAMBDA_ADVICE: [&str; 4] = ["function", "NAT gateway", "VPC endpoint", "NLB_SYNC_"];

/// The one line on stderr of a command that failed, after checking the exit
/// code and that nothing else (a stack trace, the credential chain's
/// attempts) was printed.
fn one_line(run: &CliRun) -> String {
    eprintln!("[cli] exit {} after {:?}: {}", run.code, run.took, run.stderr.trim_end());
    assert_eq!(run.code, 1, "exit code\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.starts_with("... ")).collect();
    assert_eq!(lines.len(), 1, "one line (a progress line aside):\n{}", run.stderr);
    let line = lines[0];
    assert!(line.starts_with("error: "), "{line}");
    for noise in ["panicked", "stack backtrace", "Attempted", "RUST_BACKTRACE"] {
        assert!(!run.stderr.contains(noise), "{noise:?} on stderr:\n{}", run.stderr);
    }
    for lambda in LAMBDA_ADVICE {
        assert!(!line.contains(lambda), "Lambda advice {lambda:?} at a terminal: {line}");
    }
    line.to_owned()
}

/// The `failure` object of `--output json`: stdout holds it and nothing else.
fn failure(run: &CliRun, kind: &str) -> Value {
    let document = run.json();
    let failure = document["failure"].clone();
    assert_eq!(document, serde_json::json!({ "failure": failure }), "only the failure on stdout");
    assert_eq!(failure["kind"], kind, "{failure:#}");
    let (message, fix) = (failure["message"].as_str().unwrap(), failure["fix"].as_str().unwrap());
    assert!(!message.contains(fix), "the fix is apart from the message: {failure:#}");
    let line = one_line(run);
    assert_eq!(line, format!("error: {message}. {fix}"), "stderr says the same in one line");
    failure
}

/// The variables a command gets in an empty environment, pointed at the
/// sandbox: the stand-in's endpoint, its DNS server, the instance metadata
/// service disabled, no AWS config files; plus `extra`.
fn bare_env<'a>(sandbox: &Sandbox, extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", sandbox.moto.endpoint()),
        ("NLB_SYNC_DNS_SERVER", sandbox.dns.addr().to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

async fn run_bare(cli: &OperatorCli<'_>, args: &[&str], env: &[(String, String)]) -> CliRun {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    cli.run_isolated(args, &env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_it_says_how_to_give_some() {
    let sandbox = Sandbox::start().await;
    sandbox.target_group("fail-creds", Some("dns:db.example.internal")).await;
    let cli = OperatorCli::new(&sandbox);
    let env = bare_env(&sandbox, &[("AWS_REGION", "us-east-1")]);

    let run = run_bare(&cli, &["status"], &env).await;
    let line = one_line(&run);
    assert!(
        line.contains("ELB DescribeTargetGroups on the account's target groups failed: no AWS credentials were found"),
        "{line}"
    );
    for advice in ["--profile NAME", "AWS_PROFILE", "aws sso login"] {
        assert!(line.contains(advice), "{advice:?} in {line}");
    }
    assert!(run.stdout.is_empty(), "nothing on stdout: {}", run.stdout);

    let failure = failure(&run_bare(&cli, &["plan", "-o", "json"], &env).await, "no-credentials");
    assert!(failure["fix"].as_str().unwrap().contains("--profile NAME"), "{failure:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_region_it_says_to_name_one() {
    let sandbox = Sandbox::start().await;
    let cli = OperatorCli::new(&sandbox);
    let env = bare_env(&sandbox, &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")]);

    let run = run_bare(&cli, &["status", "-o", "json"], &env).await;
    let failure = failure(&run, "no-region");
    assert!(failure["message"].as_str().unwrap().ends_with("no AWS Region is configured"), "{failure:#}");
    assert!(failure["fix"].as_str().unwrap().contains("--region"), "{failure:#}");
    // With one, the same environment works.
    let run = run_bare(&cli, &["status", "--region", "us-east-1"], &env).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_read_names_the_action_to_allow() {
    let sandbox = Sandbox::start().await;
    sandbox.aws.create_aurora_cluster("fail-aurora", 1).await;
    let tg = sandbox.target_group("fail-read", Some("rds-cluster:fail-aurora")).await;
    let cli = OperatorCli::new(&sandbox);
    let rules = sandbox.moto.access_rules();

    rules.deny(&["elasticloadbalancing:DescribeTargetGroups"]).await;
    let failure = failure(&cli.run(&["status", "-o", "json"]).await, "access-denied");
    let message = failure["message"].as_str().unwrap();
    assert!(message.starts_with("cannot list target groups: ELB DescribeTargetGroups"), "{message}");
    assert!(
        message.contains("AccessDenied: User: arn:aws:iam::123456789012:user/testing is not authorized"),
        "{message}"
    );
    assert!(
        failure["fix"].as_str().unwrap().starts_with(
            "Allow elasticloadbalancing:DescribeTargetGroups for the identity in use (the README's \"Permissions\""
        ),
        "{failure:#}"
    );

    // A read inside a report (the cluster's roles) carries the same advice.
    rules.deny(&["rds:DescribeDBClusters"]).await;
    let run = cli.run(&["status", &tg.arn, "-o", "json"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let unresolved = run.json()["targetGroups"][0]["unresolved"][0]["error"].as_str().unwrap().to_owned();
    assert!(
        unresolved.contains(
            "Allow rds:DescribeDBClusters on arn:aws:rds:us-east-1:123456789012:cluster:fail-aurora for the identity in use"
        ),
        "{unresolved}"
    );
    assert!(!LAMBDA_ADVICE.iter().any(|w| unresolved.contains(w)), "{unresolved}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_write_names_the_action_and_the_target_group() {
    let sandbox = Sandbox::start().await;
    let tg = sandbox.target_group("fail-write", None).await;
    sandbox.dns.set_a("db.example.internal", &["10.1.1.10".parse().unwrap()]);
    let cli = OperatorCli::new(&sandbox);
    let rules = sandbox.moto.access_rules();

    rules.deny(&["elasticloadbalancing:AddTags"]).await;
    let run = cli.run(&["tag", "fail-write", "dns:db.example.internal", "-o", "json"]).await;
    let failure = failure(&run, "access-denied");
    assert!(
        failure["message"].as_str().unwrap().starts_with(&format!("ELB AddTags on {} failed: AccessDenied", tg.arn))
    );
    assert_eq!(
        failure["fix"],
        format!(
            "Allow elasticloadbalancing:AddTags on {} for the identity in use (the README's \"Permissions\" has the \
             policy each command needs), or use a profile that has it (--profile NAME).",
            tg.arn
        )
    );
    let text = one_line(&cli.run(&["tag", "fail-write", "dns:db.example.internal"]).await);
    assert!(text.contains("elasticloadbalancing:AddTags on arn:"), "{text}");
    assert!(sandbox.aws.tags(&tg.arn).await.is_empty(), "nothing was written");

    // A write inside a report (apply's registration) carries the same advice.
    rules.deny(&[]).await;
    sandbox.aws.set_sources(&tg.arn, "dns:db.example.internal").await;
    rules.deny(&["elasticloadbalancing:RegisterTargets"]).await;
    let run = cli.run(&["apply", "fail-write", "--yes", "-o", "json"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = run.json()["targetGroups"][0]["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains(&format!("Allow elasticloadbalancing:RegisterTargets on {} for the identity", tg.arn)),
        "{error}"
    );
    assert!(sandbox.aws.registered_targets(&tg.arn).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_refuses_connections_is_unreachable() {
    let sandbox = Sandbox::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let cli = OperatorCli::new(&sandbox);
    let endpoint = format!("http://{closed}");

    let run = cli.run_with(&["status", "-o", "json"], &[("AWS_ENDPOINT_URL", &endpoint)]).await;
    let failure = failure(&run, "unreachable");
    let message = failure["message"].as_str().unwrap();
    assert!(message.contains("the request could not be sent") && message.contains("Connection refused"), "{message}");
    assert!(failure["fix"].as_str().unwrap().contains("AWS_ENDPOINT_URL"), "{failure:#}");
}
