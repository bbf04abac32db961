//! The stand-in's API budget (`tests/standin/api_budget.py`), through its
//! control endpoint: ELB's shared `Describe*` token bucket (off until a test
//! switches it on) and the count of calls each API action received.

use std::collections::BTreeMap;

use hyper::Method;
use serde_json::{Value, json};

use crate::moto::Moto;
use crate::standin::HealthChecks;

/// ELB's `Describe*` bucket: 40 tokens, refilled at 10 per second.
pub const ELB_DESCRIBE_CAPACITY: u32 = 40;
/// Tokens ELB adds to the `Describe*` bucket every second.
pub const ELB_DESCRIBE_REFILL_PER_SECOND: u32 = 10;

/// The budget knobs and counters of one stand-in ([`Moto::api_budget`]).
#[derive(Clone, Debug)]
pub struct ApiBudget {
    control: HealthChecks,
}

/// Calls per (service, action), e.g. `("elasticloadbalancing", "DescribeTags")`.
pub type CallCounts = BTreeMap<(String, String), u64>;

/// What the stand-in counted since it started, was reset or was cleared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApiCalls {
    /// Every call received, throttled ones included.
    pub calls: CallCounts,
    /// Calls answered with `Throttling`.
    pub throttled: CallCounts,
}

impl ApiCalls {
    fn from_json(document: &Value) -> Result<ApiCalls, String> {
        Ok(ApiCalls { calls: counts(&document["calls"])?, throttled: counts(&document["throttled"])? })
    }

    /// Calls of one service (signing name: `elasticloadbalancing`, `rds`, `dynamodb` is not
    /// counted: it is JSON, not the query protocol).
    pub fn of_service(&self, service: &str) -> u64 {
        self.calls.iter().filter(|((s, _), _)| s == service).map(|(_, n)| n).sum()
    }

    /// Calls of one action of a service.
    pub fn of_action(&self, service: &str, action: &str) -> u64 {
        self.calls.get(&(service.to_owned(), action.to_owned())).copied().unwrap_or(0)
    }

    /// Every throttled call.
    pub fn throttled_total(&self) -> u64 {
        self.throttled.values().sum()
    }

    /// ELB calls whose action starts with `Describe`.
    pub fn elb_describes(&self) -> u64 {
        self.calls
            .iter()
            .filter(|((s, a), _)| s == "elasticloadbalancing" && a.starts_with("Describe"))
            .map(|(_, n)| n)
            .sum()
    }

    /// ELB calls that change something (not `Describe*`).
    pub fn elb_mutations(&self) -> u64 {
        self.of_service("elasticloadbalancing") - self.elb_describes()
    }

    /// `service Action n` lines, for printing.
    pub fn lines(&self) -> Vec<String> {
        self.calls
            .iter()
            .map(|((s, a), n)| {
                let throttled = self.throttled.get(&(s.clone(), a.clone())).copied().unwrap_or(0);
                format!("{s} {a} {n} (throttled {throttled})")
            })
            .collect()
    }
}

fn counts(document: &Value) -> Result<CallCounts, String> {
    let services = document.as_object().ok_or_else(|| format!("not an object: {document}"))?;
    let mut out = CallCounts::new();
    for (service, actions) in services {
        let actions = actions.as_object().ok_or_else(|| format!("{service}: not an object: {actions}"))?;
        for (action, n) in actions {
            let n = n.as_u64().ok_or_else(|| format!("{service} {action}: not a count: {n}"))?;
            out.insert((service.clone(), action.clone()), n);
        }
    }
    Ok(out)
}

impl Moto {
    /// The stand-in's API budget and call counters.
    pub fn api_budget(&self) -> ApiBudget {
        ApiBudget { control: self.health_checks() }
    }
}

impl ApiBudget {
    /// ELB's `Describe*` bucket on (full, 40 tokens refilled at 10/s) or off.
    pub async fn set_describe_bucket(&self, enabled: bool) {
        self.post("describe-bucket", json!({"enabled": enabled})).await;
    }

    /// The bucket on with another size and refill rate (a bucket other tools
    /// have partly drained, for example).
    pub async fn set_describe_bucket_to(&self, capacity: f64, refill_per_second: f64) {
        self.post(
            "describe-bucket",
            json!({"enabled": true, "capacity": capacity, "refillPerSecond": refill_per_second}),
        )
        .await;
    }

    /// What was counted so far.
    pub async fn calls(&self) -> ApiCalls {
        let (status, document) = self.control.raw(Method::GET, "api-calls", "").await;
        assert_eq!(status, 200, "GET /elb-standin/api-calls: {document}");
        ApiCalls::from_json(&document).unwrap_or_else(|e| panic!("GET /elb-standin/api-calls answered {document}: {e}"))
    }

    /// Counts start again from zero.
    pub async fn clear(&self) {
        self.post("api-calls", json!({"clear": true})).await;
    }

    /// What was counted since the last [`ApiBudget::clear`], which this clears.
    pub async fn take_calls(&self) -> ApiCalls {
        let calls = self.calls().await;
        self.clear().await;
        calls
    }

    async fn post(&self, name: &str, body: Value) -> Value {
        let (status, document) = self.control.raw(Method::POST, name, &body.to_string()).await;
        assert_eq!(status, 200, "POST /elb-standin/{name} {body}: {document}");
        document
    }
}

#[cfg(test)]
mod tests {
    //! The budget and page limits themselves, through the SDK.
    use super::*;
    use crate::IpFamily;
    use aws_sdk_elasticloadbalancingv2 as elbv2;
    use elbv2::error::ProvideErrorMetadata;

    fn client_without_retries(aws: &crate::Aws) -> elbv2::Client {
        let config = aws.elb.config().to_builder().retry_config(aws_config::retry::RetryConfig::disabled()).build();
        elbv2::Client::from_conf(config)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn describe_calls_share_a_bucket_of_40_and_every_call_is_counted() {
        let moto = Moto::start().await;
        let aws = moto.aws().await;
        let net = aws.create_network("10.7.0.0/16").await;
        let tg = aws.create_ip_target_group("tg-budget", &net.vpc_id, IpFamily::V4).await;
        let budget = moto.api_budget();
        let elb = client_without_retries(&aws);
        budget.clear().await;

        // Off by default: more than 40 at once go through.
        for _ in 0..45 {
            elb.describe_target_health().target_group_arn(&tg.arn).send().await.expect("no bucket");
        }
        let counted = budget.take_calls().await;
        assert_eq!(counted.of_action("elasticloadbalancing", "DescribeTargetHealth"), 45);
        assert_eq!(counted.throttled_total(), 0);

        budget.set_describe_bucket(true).await;
        let mut refused = Vec::new();
        for i in 0..50 {
            let refusal = if i % 2 == 0 {
                elb.describe_target_health()
                    .target_group_arn(&tg.arn)
                    .send()
                    .await
                    .err()
                    .map(|e| e.code().map(str::to_owned))
            } else {
                elb.describe_tags().resource_arns(&tg.arn).send().await.err().map(|e| e.code().map(str::to_owned))
            };
            refused.extend(refusal);
        }
        // 40 tokens plus what refilled meanwhile (10/s); the rest refused.
        assert!((5..=10).contains(&refused.len()), "{} refused", refused.len());
        assert!(refused.iter().all(|c| c.as_deref() == Some("Throttling")), "{refused:?}");
        // Mutating calls have their own buckets.
        aws.register_targets(&tg.arn, &["10.7.1.5:5432"]).await;
        let counted = budget.calls().await;
        assert_eq!(counted.throttled_total(), refused.len() as u64);
        assert_eq!(counted.of_action("elasticloadbalancing", "RegisterTargets"), 1);
        assert_eq!(counted.elb_describes(), 50);

        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        elb.describe_tags().resource_arns(&tg.arn).send().await.expect("refilled");
        budget.set_describe_bucket(false).await;
        moto.reset().await;
        assert_eq!(budget.calls().await, ApiCalls::default(), "a reset clears the counts");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn page_limits_are_aws_ones() {
        let moto = Moto::start().await;
        let aws = moto.aws().await;
        let net = aws.create_network("10.8.0.0/16").await;
        let mut arns = Vec::new();
        for i in 0..21 {
            arns.push(aws.create_ip_target_group(&format!("tg-page-{i:02}"), &net.vpc_id, IpFamily::V4).await.arn);
        }
        let error = aws.elb.describe_tags().set_resource_arns(Some(arns.clone())).send().await.expect_err("21 ARNs");
        assert_eq!(error.code(), Some("ValidationError"));
        aws.elb.describe_tags().set_resource_arns(Some(arns[..20].to_vec())).send().await.expect("20 ARNs");

        let error = aws.elb.describe_target_groups().page_size(401).send().await.expect_err("page of 401");
        assert_eq!(error.code(), Some("ValidationError"));
        let first = aws.elb.describe_target_groups().page_size(8).send().await.expect("page of 8");
        assert_eq!(first.target_groups().len(), 8);
        let marker = first.next_marker().expect("more pages").to_owned();
        let second = aws.elb.describe_target_groups().page_size(20).marker(marker).send().await.expect("page 2");
        assert_eq!(second.target_groups().len(), 13);
        assert_eq!(second.next_marker(), None);

        let error = aws.rds.describe_db_instances().max_records(101).send().await.expect_err("101 records");
        assert_eq!(aws_sdk_rds::error::ProvideErrorMetadata::code(&error), Some("InvalidParameterValue"));
        aws.rds.describe_db_instances().max_records(100).send().await.expect("100 records");
    }
}
