//! The `sync-on-deploy` binary (`Custom::NlbTargetSync`) under the Lambda
//! runtime emulator, against moto and a loopback DNS server, answering to a
//! loopback HTTP server that plays CloudFormation's pre-signed `ResponseURL`.
//!
//! Every test checks the answer PUT to the response URL (status, ids, data,
//! size, headers), the invocation's result, and the target group in moto.

use std::time::{Duration, Instant};

use integration_tests::{
    CfnRequest, Invocation, IpFamily, LOGICAL_RESOURCE_ID, LambdaEmulator, PORT_TAG, RecordedRequest, ResponseServer,
    SOURCES_TAG, STACK_ID, Sandbox, TargetGroup, VIEW_TAG, ipv4, sorted_targets, tag_value,
};
use serde_json::{Value, json};
/// CloudFormation's limit for the response body.
const MAX_BODY_BYTES: usize = 4096;

/// The function, its response server and the sandbox it works in.
struct Deploy {
    sandbox: Sandbox,
    lambda: LambdaEmulator,
    server: ResponseServer,
}

impl Deploy {
    /// A sandbox, the response server and the function (short DNS timeouts
    /// unless `extra` overrides them).
    async fn start(extra: &[(&str, &str)]) -> Deploy {
        Deploy::start_with_timeout(extra, None).await
    }

    async fn start_with_timeout(extra: &[(&str, &str)], timeout: Option<Duration>) -> Deploy {
        let (sandbox, server) = tokio::join!(Sandbox::start(), ResponseServer::start());
        let mut builder = sandbox.function_with_quick_dns("sync-on-deploy").vars(extra);
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        let lambda = builder.start().await;
        Deploy { sandbox, lambda, server }
    }

    /// A pre-signed-looking response URL for `request_id` on the server.
    fn url(&self, request_id: &str) -> String {
        self.server.presigned_url(request_id)
    }

    /// Sends `request` and returns the invocation and the answer PUT for its
    /// `RequestId` (the function returns only after delivering it).
    async fn send(&self, request: &CfnRequest) -> (Invocation, RecordedRequest) {
        let event = request.to_json();
        let invocation = self.lambda.invoke(event.clone()).await;
        let answer = self
            .server
            .answers_to(event["RequestId"].as_str().unwrap())
            .pop()
            .unwrap_or_else(|| panic!("no answer was PUT for {event:#}\nfunction output:\n{}", self.logs()));
        (invocation, answer)
    }

    fn logs(&self) -> String {
        self.lambda.logs().join("\n")
    }

    /// An untagged `ip` target group behind the sandbox's NLB.
    async fn target_group(&self, name: &str) -> TargetGroup {
        self.sandbox.target_group(name, None).await
    }

    async fn targets(&self, tg: &TargetGroup) -> Vec<String> {
        self.sandbox.aws.registered_targets(&tg.arn).await
    }

    async fn tags(&self, tg: &TargetGroup) -> Vec<(String, String)> {
        let mut tags = self.sandbox.aws.tags(&tg.arn).await;
        tags.sort();
        tags
    }
}

/// Checks what every answer must be (PUT, empty Content-Type, at most 4096
/// bytes of JSON, ids copied from the request) and returns the body.
fn answer_body(answer: &RecordedRequest, request_id: &str) -> Value {
    assert_eq!(answer.method, "PUT");
    assert_eq!(answer.header("content-type"), Some(""), "an empty Content-Type (the URL is pre-signed without one)");
    assert!(answer.body.len() <= MAX_BODY_BYTES, "{} bytes: {}", answer.body.len(), answer.text());
    let body = answer.json();
    assert_eq!(body["StackId"], STACK_ID);
    assert_eq!(body["RequestId"], request_id);
    assert_eq!(body["LogicalResourceId"], LOGICAL_RESOURCE_ID);
    let id = body["PhysicalResourceId"].as_str().expect("PhysicalResourceId");
    assert!(!id.is_empty() && id.len() <= 1024, "PhysicalResourceId of {} bytes", id.len());
    body
}

/// An answer `SUCCESS`; returns its body.
fn success(deploy: &Deploy, invocation: &Invocation, answer: &RecordedRequest, request_id: &str) -> Value {
    let body = answer_body(answer, request_id);
    assert_eq!(body["Status"], "SUCCESS", "{body:#}\nfunction output:\n{}", deploy.logs());
    assert_eq!(invocation.status, 200, "{:#}", invocation.body);
    body
}

/// An answer `FAILED`; returns its body.
fn failed(deploy: &Deploy, invocation: &Invocation, answer: &RecordedRequest, request_id: &str) -> Value {
    let body = answer_body(answer, request_id);
    assert_eq!(body["Status"], "FAILED", "{body:#}\nfunction output:\n{}", deploy.logs());
    assert!(!body["Reason"].as_str().unwrap_or_default().is_empty(), "a FAILED answer has a Reason: {body:#}");
    assert_eq!(invocation.status, 200, "answered, so the invocation succeeds: {:#}", invocation.body);
    body
}

fn reason(body: &Value) -> &str {
    body["Reason"].as_str().unwrap_or_default()
}

/// `Data.TargetCount` as a number, whether sent as number or string.
fn count(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_on_a_proxy_fills_the_group_tags_it_and_answers_success() {
    let deploy = Deploy::start(&[]).await;
    deploy.sandbox.proxy_resolving_to("app-proxy", &["10.1.1.10", "10.1.2.10"]).await;
    let tg = deploy.target_group("app").await;

    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:app-proxy"], "Port": "5432"});
    let request = CfnRequest::create(&deploy.url("create-1"), "create-1", props);
    let (invocation, answer) = deploy.send(&request).await;

    let body = success(&deploy, &invocation, &answer, "create-1");
    assert!(answer.path.starts_with("/cloudformation-custom-resource-response-useast1/"), "{}", answer.path);
    assert!(answer.path.contains("X-Amz-Signature="), "the pre-signed query is kept: {}", answer.path);
    assert_eq!(body["PhysicalResourceId"], tg.arn.as_str(), "the target group ARN is the resource's id");
    assert_eq!(body["Data"]["Targets"], "10.1.1.10:5432,10.1.2.10:5432");
    assert_eq!(count(&body["Data"]["TargetCount"]), Some(2), "{body:#}");
    assert_eq!(deploy.targets(&tg).await, sorted_targets(&["10.1.1.10:5432", "10.1.2.10:5432"]));
    let tags = deploy.tags(&tg).await;
    assert_eq!(tag_value(&tags, SOURCES_TAG), Some("rds-proxy:app-proxy"));
    assert_eq!(tag_value(&tags, PORT_TAG), Some("5432"));
    assert_eq!(deploy.server.requests().len(), 1, "exactly one answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_new_sources_registers_them_and_keeps_the_old_until_healthy() {
    let deploy = Deploy::start(&[]).await;
    deploy.sandbox.proxy_resolving_to("old-proxy", &["10.1.1.20"]).await;
    deploy.sandbox.proxy_resolving_to("new-proxy", &["10.1.1.21", "10.1.2.21"]).await;
    let tg = deploy.target_group("app").await;
    let old = json!({"TargetGroupArn": tg.arn, "Sources": "rds-proxy:old-proxy"});
    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", old.clone())).await;
    success(&deploy, &invocation, &answer, "c-1");

    // Sources as one space-separated string, as a template parameter gives it.
    let new = json!({"TargetGroupArn": tg.arn, "Sources": "rds-proxy:new-proxy"});
    let request = CfnRequest::update(&deploy.url("u-1"), "u-1", &tg.arn, new, old);
    let (invocation, answer) = deploy.send(&request).await;

    let body = success(&deploy, &invocation, &answer, "u-1");
    assert_eq!(body["PhysicalResourceId"], tg.arn.as_str(), "same target group, same resource");
    assert_eq!(body["Data"]["Targets"], "10.1.1.21:5432,10.1.2.21:5432");
    assert_eq!(
        deploy.targets(&tg).await,
        sorted_targets(&["10.1.1.20:5432", "10.1.1.21:5432", "10.1.2.21:5432"]),
        "make before break: without WaitForHealthySeconds the old target stays until a later run"
    );
    assert_eq!(tag_value(&deploy.tags(&tg).await, SOURCES_TAG), Some("rds-proxy:new-proxy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_waiting_for_healthy_removes_the_old_targets_in_the_same_call() {
    let deploy = Deploy::start(&[]).await;
    deploy.sandbox.proxy_resolving_to("old-proxy", &["10.1.1.30"]).await;
    deploy.sandbox.proxy_resolving_to("new-proxy", &["10.1.2.31"]).await;
    let tg = deploy.target_group("app").await;
    let old = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:old-proxy"], "WaitForHealthySeconds": "30"});
    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", old.clone())).await;
    success(&deploy, &invocation, &answer, "c-1");
    assert_eq!(deploy.targets(&tg).await, vec!["10.1.1.30:5432"]);

    let new = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:new-proxy"], "WaitForHealthySeconds": "30"});
    let started = Instant::now();
    let (invocation, answer) = deploy.send(&CfnRequest::update(&deploy.url("u-1"), "u-1", &tg.arn, new, old)).await;

    let body = success(&deploy, &invocation, &answer, "u-1");
    assert_eq!(deploy.targets(&tg).await, vec!["10.1.2.31:5432"], "the old target went once the new one was healthy");
    assert_eq!(body["Data"]["Targets"], "10.1.2.31:5432");
    assert_eq!(count(&body["Data"]["TargetCount"]), Some(1));
    assert!(started.elapsed() < Duration::from_secs(25), "moto reports healthy at once: {:?}", started.elapsed());
}

/// A source replaced by a `dns:` name: the replaced source's addresses are
/// wanted by no source, so no absence window holds them; they go once the
/// name's address is healthy, in the same call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_from_a_proxy_to_a_dns_name_waiting_for_healthy_leaves_only_the_new_address() {
    const NAME: &str = "new.example.test";
    let deploy = Deploy::start(&[]).await;
    deploy.sandbox.proxy_resolving_to("p", &["10.1.1.36", "10.1.2.36"]).await;
    deploy.sandbox.dns.set_a(NAME, &[ipv4("10.1.3.37")]);
    let tg = deploy.target_group("app").await;
    let old = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:p"], "WaitForHealthySeconds": "30"});
    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", old.clone())).await;
    success(&deploy, &invocation, &answer, "c-1");
    assert_eq!(deploy.targets(&tg).await, sorted_targets(&["10.1.1.36:5432", "10.1.2.36:5432"]));
    deploy.sandbox.moto.health_checks().set_initial_period(Duration::from_secs(1)).await;

    let new = json!({"TargetGroupArn": tg.arn, "Sources": [format!("dns:{NAME}")], "WaitForHealthySeconds": "30"});
    let (invocation, answer) = deploy.send(&CfnRequest::update(&deploy.url("u-1"), "u-1", &tg.arn, new, old)).await;

    let body = success(&deploy, &invocation, &answer, "u-1");
    assert_eq!(deploy.targets(&tg).await, vec!["10.1.3.37:5432"], "only the new address: {body:#}");
    assert_eq!(body["Data"]["Targets"], "10.1.3.37:5432");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_to_another_target_group_is_a_replacement() {
    let deploy = Deploy::start(&[]).await;
    deploy.sandbox.proxy_resolving_to("app-proxy", &["10.1.1.40", "10.1.2.40"]).await;
    let (first, second) = tokio::join!(deploy.target_group("app-blue"), deploy.target_group("app-green"));
    let old = json!({"TargetGroupArn": first.arn, "Sources": ["rds-proxy:app-proxy"], "Port": 5432});
    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", old.clone())).await;
    success(&deploy, &invocation, &answer, "c-1");

    let new = json!({"TargetGroupArn": second.arn, "Sources": ["rds-proxy:app-proxy"], "Port": 5432});
    let request = CfnRequest::update(&deploy.url("u-1"), "u-1", &first.arn, new, old.clone());
    let (invocation, answer) = deploy.send(&request).await;

    let body = success(&deploy, &invocation, &answer, "u-1");
    assert_eq!(body["PhysicalResourceId"], second.arn.as_str(), "a new id: CloudFormation will delete the old one");
    let expected = sorted_targets(&["10.1.1.40:5432", "10.1.2.40:5432"]);
    assert_eq!(deploy.targets(&second).await, expected);
    assert_eq!(tag_value(&deploy.tags(&second).await, SOURCES_TAG), Some("rds-proxy:app-proxy"));
    assert_eq!(deploy.targets(&first).await, expected, "the old group is left for the Delete that follows");

    // CloudFormation's clean-up of the replaced resource.
    let (invocation, answer) = deploy.send(&CfnRequest::delete(&deploy.url("d-1"), "d-1", &first.arn, old)).await;
    let body = success(&deploy, &invocation, &answer, "d-1");
    assert_eq!(body["PhysicalResourceId"], first.arn.as_str());
    assert!(deploy.targets(&first).await.is_empty());
    assert_eq!(tag_value(&deploy.tags(&first).await, SOURCES_TAG), None);
    assert_eq!(deploy.targets(&second).await, expected, "the new group is untouched");
    assert_eq!(tag_value(&deploy.tags(&second).await, SOURCES_TAG), Some("rds-proxy:app-proxy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_only_what_the_resource_owns() {
    let deploy = Deploy::start(&[]).await;
    deploy.sandbox.proxy_resolving_to("app-proxy", &["10.1.1.50", "10.1.2.50"]).await;
    let tg = deploy.target_group("shared").await;
    deploy.sandbox.aws.tag(&tg.arn, &[("team", "payments")]).await;
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:app-proxy"], "Port": "5432"});
    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", props.clone())).await;
    success(&deploy, &invocation, &answer, "c-1");
    deploy.sandbox.aws.register_targets(&tg.arn, &["10.1.3.99:5432"]).await;
    let tags = deploy.tags(&tg).await;
    assert!(tag_value(&tags, VIEW_TAG).is_some(), "the sync stamped its view: {tags:?}");

    let (invocation, answer) = deploy.send(&CfnRequest::delete(&deploy.url("d-1"), "d-1", &tg.arn, props)).await;

    let body = success(&deploy, &invocation, &answer, "d-1");
    assert_eq!(body["PhysicalResourceId"], tg.arn.as_str());
    assert_eq!(deploy.targets(&tg).await, vec!["10.1.3.99:5432"], "the manually registered target stays");
    assert_eq!(
        deploy.tags(&tg).await,
        vec![("team".to_string(), "payments".to_string())],
        "only the foreign tag stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_missing_target_group_succeeds() {
    let deploy = Deploy::start(&[]).await;
    // A target group that existed and is gone (deleted outside the stack).
    let gone = deploy.sandbox.aws.create_ip_target_group("gone", &deploy.sandbox.network.vpc_id, IpFamily::V4).await;
    deploy.sandbox.aws.elb.delete_target_group().target_group_arn(&gone.arn).send().await.expect("DeleteTargetGroup");
    let props = json!({"TargetGroupArn": gone.arn, "Sources": ["rds-proxy:app-proxy"]});

    let (invocation, answer) = deploy.send(&CfnRequest::delete(&deploy.url("d-1"), "d-1", &gone.arn, props)).await;

    let body = success(&deploy, &invocation, &answer, "d-1");
    assert_eq!(body["PhysicalResourceId"], gone.arn.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_create_on_a_bad_token_is_followed_by_a_delete_that_succeeds() {
    let deploy = Deploy::start(&[]).await;
    let tg = deploy.target_group("app").await;
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-clustr:app"]});

    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", props.clone())).await;

    let body = failed(&deploy, &invocation, &answer, "c-1");
    for needle in ["Sources", "rds-clustr:app"] {
        assert!(reason(&body).contains(needle), "the reason names {needle}: {}", reason(&body));
    }
    let id = body["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_eq!(id, format!("failed-create-{LOGICAL_RESOURCE_ID}-c-1"));
    assert!(deploy.tags(&tg).await.is_empty(), "nothing was written");

    // CloudFormation rolls back with a Delete of the id it got.
    let (invocation, answer) = deploy.send(&CfnRequest::delete(&deploy.url("d-1"), "d-1", &id, props)).await;

    let body = success(&deploy, &invocation, &answer, "d-1");
    assert_eq!(body["PhysicalResourceId"], id.as_str());
    assert!(deploy.tags(&tg).await.is_empty());
    assert!(deploy.targets(&tg).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_required_properties_fail_naming_them() {
    let deploy = Deploy::start(&[]).await;
    let tg = deploy.target_group("app").await;

    let cases = [
        ("no-sources", json!({"TargetGroupArn": tg.arn}), "Sources"),
        ("no-arn", json!({"Sources": ["rds-proxy:app-proxy"]}), "TargetGroupArn"),
    ];
    for (request_id, props, property) in cases {
        let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url(request_id), request_id, props)).await;
        let body = failed(&deploy, &invocation, &answer, request_id);
        assert!(reason(&body).contains(property), "the reason names {property}: {}", reason(&body));
        assert!(reason(&body).contains("required"), "{}", reason(&body));
        assert_eq!(body["PhysicalResourceId"], format!("failed-create-{LOGICAL_RESOURCE_ID}-{request_id}"));
    }
    assert!(deploy.tags(&tg).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_does_not_exist_fails_naming_it() {
    let deploy = Deploy::start(&[]).await;
    let tg = deploy.target_group("app").await;
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:ghost-proxy"]});

    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", props.clone())).await;

    let body = failed(&deploy, &invocation, &answer, "c-1");
    assert!(reason(&body).contains("ghost-proxy"), "{}", reason(&body));
    assert!(reason(&body).contains("does not exist"), "{}", reason(&body));
    assert_eq!(body["PhysicalResourceId"], tg.arn.as_str(), "a failed Create on a known group answers its ARN");
    assert!(deploy.targets(&tg).await.is_empty());

    // The Delete that follows removes the tags the failed Create wrote.
    let (invocation, answer) = deploy.send(&CfnRequest::delete(&deploy.url("d-1"), "d-1", &tg.arn, props)).await;
    success(&deploy, &invocation, &answer, "d-1");
    assert!(deploy.tags(&tg).await.is_empty(), "{:?}", deploy.tags(&tg).await);
}

/// Always answer: a sync that cannot finish before the Lambda deadline still gets a
/// FAILED answer, before the deadline. Function timeout 13 s, 10 s kept back
/// to answer: the work gets about 3 s against a DNS server that never
/// answers (5 attempts of 5 s each would take 25 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_outlives_the_deadline_is_answered_failed_in_time() {
    const TIMEOUT: Duration = Duration::from_secs(13);
    let extra = [("NLB_SYNC_DNS_TIMEOUT_MS", "5000"), ("NLB_SYNC_DNS_ATTEMPTS", "5")];
    let deploy = Deploy::start_with_timeout(&extra, Some(TIMEOUT)).await;
    deploy.sandbox.proxy_resolving_to("slow-proxy", &["10.1.1.60"]).await;
    let tg = deploy.target_group("app").await;
    deploy.sandbox.dns.stop_answering();
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:slow-proxy"]});

    let invoked = Instant::now();
    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", props)).await;

    let answered_after = answer.at.duration_since(invoked);
    assert!(
        answered_after < TIMEOUT,
        "the answer arrived {answered_after:?} after the invocation, after the {TIMEOUT:?} deadline"
    );
    assert!(answered_after >= Duration::from_millis(2500), "the work had its ~3 s: {answered_after:?}");
    let body = failed(&deploy, &invocation, &answer, "c-1");
    let why = reason(&body);
    assert!(why.starts_with("timed out after"), "{why}");
    assert!(why.contains(" s while "), "says what it was doing: {why}");
    assert!(deploy.targets(&tg).await.is_empty());
    eprintln!("deadline: FAILED answer {answered_after:?} after invoke (deadline {TIMEOUT:?}): {why}");

    // The Create got as far as tagging the group before it timed out, so the
    // Delete CloudFormation sends next, with the id it got, must clean up.
    let id = body["PhysicalResourceId"].as_str().unwrap().to_owned();
    let tagged = deploy.tags(&tg).await;
    deploy.sandbox.dns.resume_answering();
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:slow-proxy"]});
    let (invocation, answer) = deploy.send(&CfnRequest::delete(&deploy.url("d-1"), "d-1", &id, props)).await;
    success(&deploy, &invocation, &answer, "d-1");
    assert_eq!(
        tag_value(&deploy.tags(&tg).await, SOURCES_TAG),
        None,
        "the timed-out Create answered PhysicalResourceId {id:?} although it had tagged {} ({tagged:?}); \
         its Delete left the tags behind",
        tg.arn
    );
    assert_eq!(id, tg.arn, "a failed Create on a known target group answers its ARN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_work_is_answered_failed_with_its_text() {
    let deploy = Deploy::start(&[("NLB_SYNC_FAULT_INJECTION", "panic")]).await;
    let tg = deploy.target_group("app").await;
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:app-proxy"]});

    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", props)).await;

    let body = failed(&deploy, &invocation, &answer, "c-1");
    assert!(reason(&body).contains("fault injected by NLB_SYNC_FAULT_INJECTION=panic"), "{}", reason(&body));
    assert!(reason(&body).contains("panic"), "{}", reason(&body));
    assert!(deploy.tags(&tg).await.is_empty());
    // The process survived the panic and answers the next request.
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:app-proxy"]});
    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-2"), "c-2", props)).await;
    failed(&deploy, &invocation, &answer, "c-2");
}

/// The answer stays within 4096 bytes of valid JSON when the reason is huge:
/// a 20,000-character bad source token (the error quotes it, with quotes and
/// non-ASCII text to escape), and a TargetGroupArn of 6000 characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_reason_is_cut_to_fit_the_response_limit() {
    let deploy = Deploy::start(&[]).await;
    let tg = deploy.target_group("app").await;
    let token = format!("rds-clustr:{}", "\"é\\".repeat(5000));
    let props = json!({"TargetGroupArn": tg.arn, "Sources": [token]});
    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", props)).await;
    let body = failed(&deploy, &invocation, &answer, "c-1");
    assert!(answer.body.len() <= MAX_BODY_BYTES);
    assert!(reason(&body).ends_with("(truncated)"), "the reason says it was cut: {}", reason(&body));
    eprintln!("huge token: {} bytes, Reason of {} bytes", answer.body.len(), reason(&body).len());

    let long_arn = format!(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{}/0123456789abcdef",
        "t".repeat(6000)
    );
    let props = json!({"TargetGroupArn": long_arn, "Sources": ["rds-proxy:app-proxy"]});
    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-2"), "c-2", props)).await;
    let body = failed(&deploy, &invocation, &answer, "c-2");
    assert!(answer.body.len() <= MAX_BODY_BYTES);
    assert!(body["PhysicalResourceId"].as_str().unwrap().len() <= 1024);
    eprintln!(
        "long ARN: {} bytes, Reason {:?}",
        answer.body.len(),
        reason(&body).chars().take(200).collect::<String>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_url_answering_503_first_gets_the_answer_again() {
    let deploy = Deploy::start(&[]).await;
    deploy.sandbox.proxy_resolving_to("app-proxy", &["10.1.1.70"]).await;
    let tg = deploy.target_group("app").await;
    deploy.server.answer_first(&[503]);
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:app-proxy"]});

    let (invocation, answer) = deploy.send(&CfnRequest::create(&deploy.url("c-1"), "c-1", props)).await;

    let attempts = deploy.server.answers_to("c-1");
    assert_eq!(attempts.iter().map(|a| a.answered).collect::<Vec<_>>(), vec![503, 200], "retried once");
    assert_eq!(attempts[0].body, attempts[1].body, "the same answer both times");
    assert_eq!(attempts[0].header("content-type"), Some(""));
    let body = success(&deploy, &invocation, &answer, "c-1");
    assert_eq!(body["Data"]["Targets"], "10.1.1.70:5432");
    assert_eq!(deploy.targets(&tg).await, vec!["10.1.1.70:5432"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_response_url_fails_the_invocation() {
    let deploy = Deploy::start(&[]).await;
    deploy.sandbox.proxy_resolving_to("app-proxy", &["10.1.1.80"]).await;
    let tg = deploy.target_group("app").await;
    let props = json!({"TargetGroupArn": tg.arn, "Sources": ["rds-proxy:app-proxy"]});
    let request = CfnRequest::create(&deploy.url("c-1"), "c-1", props).without("ResponseURL");

    let invocation = deploy.lambda.invoke(request.to_json()).await;

    assert_eq!(invocation.status, 500, "nobody can be answered, so the invocation fails: {:#}", invocation.body);
    let message = invocation.error_message().unwrap_or_default();
    assert!(message.contains("ResponseURL"), "{message}");
    assert!(deploy.server.requests().is_empty());
    assert!(deploy.tags(&tg).await.is_empty(), "the work did not run");
    assert!(deploy.targets(&tg).await.is_empty());
}
