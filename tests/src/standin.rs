//! The stand-in's health-check knobs, set through its control endpoint
//! (`/elb-standin/`, `tests/standin/control.py`).
//!
//! The stand-in shows a registered `ip` target `initial` for the initial
//! period in force when it was registered, then `healthy`, or `unhealthy`
//! while its address is unreachable; a deregistered target `draining` for the
//! target group's deregistration delay ([`crate::Aws::set_deregistration_delay`]).
//! Both knobs start at "healthy at once, every address reachable", and
//! `POST /moto-api/reset` puts them back there.

use std::net::IpAddr;
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};

use crate::moto::Moto;

/// How long one control request may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// The health-check knobs of one stand-in. Obtain it with [`Moto::health_checks`].
#[derive(Clone, Debug)]
pub struct HealthChecks {
    endpoint: String,
}

/// The knobs as the stand-in holds them.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheckSettings {
    /// How long a target registered from now on stays `initial`.
    pub initial: Duration,
    /// Addresses whose targets fail health checks (`unhealthy`).
    pub unreachable: Vec<IpAddr>,
}

impl HealthCheckSettings {
    fn from_json(document: &Value) -> Result<HealthCheckSettings, String> {
        let seconds = document["initialSeconds"].as_f64().ok_or("no initialSeconds")?;
        let initial = Duration::try_from_secs_f64(seconds).map_err(|e| format!("initialSeconds {seconds}: {e}"))?;
        let unreachable = document["unreachable"]
            .as_array()
            .ok_or("no unreachable list")?
            .iter()
            .map(|v| v.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| format!("not an address: {v}")))
            .collect::<Result<_, _>>()?;
        Ok(HealthCheckSettings { initial, unreachable })
    }
}

impl Moto {
    /// The stand-in's health-check knobs.
    pub fn health_checks(&self) -> HealthChecks {
        HealthChecks { endpoint: self.endpoint() }
    }
}

impl HealthChecks {
    /// Targets registered from now on stay `initial` for `period` (0: healthy
    /// at once, the start value). Targets registered before keep theirs.
    pub async fn set_initial_period(&self, period: Duration) -> HealthCheckSettings {
        self.call(Method::POST, "settings", Some(json!({"initialSeconds": period.as_secs_f64()}))).await
    }

    /// Whether health checks reach `address` (every port, every target group):
    /// an unreachable target is `unhealthy` once its initial period is over,
    /// and `healthy` again as soon as it is reachable.
    pub async fn set_reachable(&self, address: IpAddr, reachable: bool) -> HealthCheckSettings {
        let body = json!({"address": address.to_string(), "reachable": reachable});
        self.call(Method::POST, "reachability", Some(body)).await
    }

    /// The next `times` calls of the API action `action` (e.g.
    /// `DeregisterTargets`) wait `delay` before the stand-in handles them: their
    /// effect lands late, as a call in flight does, while other calls go on.
    pub async fn slow_down(&self, action: &str, delay: Duration, times: u32) {
        let body = json!({"action": action, "seconds": delay.as_secs_f64(), "times": times});
        let (status, document) = self.raw(Method::POST, "slow", &body.to_string()).await;
        assert_eq!(status, 200, "POST /elb-standin/slow {body}: {document}");
    }

    /// The knobs as they are now.
    pub async fn settings(&self) -> HealthCheckSettings {
        self.call(Method::GET, "settings", None).await
    }

    /// Sends a raw control request, returning the status and the JSON answer
    /// (to check what the endpoint says about a bad request).
    pub async fn raw(&self, method: Method, name: &str, body: &str) -> (u16, Value) {
        control_request(&self.endpoint, method, name, body).await
    }

    async fn call(&self, method: Method, name: &str, body: Option<Value>) -> HealthCheckSettings {
        let text = body.as_ref().map(Value::to_string).unwrap_or_default();
        let (status, document) = self.raw(method.clone(), name, &text).await;
        assert_eq!(status, 200, "{method} /elb-standin/{name} {text}: {document}");
        HealthCheckSettings::from_json(&document)
            .unwrap_or_else(|e| panic!("{method} /elb-standin/{name} answered {document}: {e}"))
    }
}

/// One request to the control endpoint of the stand-in at `endpoint`: the
/// status and the JSON answer.
pub(crate) async fn control_request(endpoint: &str, method: Method, name: &str, body: &str) -> (u16, Value) {
    let url = format!("{endpoint}/elb-standin/{name}");
    let response = crate::http::send(
        method.clone(),
        &url,
        &[("content-type", "application/json")],
        body.to_owned(),
        Some(CONTROL_TIMEOUT),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let document = serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("{method} {url} answered non-JSON ({e}): {}", response.text()));
    (response.status, document)
}

#[cfg(test)]
mod tests {
    //! The stand-in itself, through the SDK: what the integration tests rely on.
    use super::*;
    use crate::{Aws, IpFamily, TargetState};

    async fn states(aws: &Aws, arn: &str) -> Vec<(String, String)> {
        aws.target_states(arn).await.into_iter().map(|TargetState { target, state, .. }| (target, state)).collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(t, s)| (t.to_string(), s.to_string())).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn targets_go_through_initial_unhealthy_and_draining() {
        let moto = Moto::start().await;
        let aws = moto.aws().await;
        let net = aws.create_network("10.4.0.0/16").await;
        let tg = aws.create_ip_target_group("tg-states", &net.vpc_id, IpFamily::V4).await;
        let health = moto.health_checks();
        assert_eq!(health.settings().await, HealthCheckSettings { initial: Duration::ZERO, unreachable: vec![] });

        // Healthy at once by default; one address on two ports is two targets.
        aws.register_targets(&tg.arn, &["10.4.1.5:5432", "10.4.1.5:6432"]).await;
        assert_eq!(states(&aws, &tg.arn).await, pairs(&[("10.4.1.5:5432", "healthy"), ("10.4.1.5:6432", "healthy")]));
        let zone = aws.target_states(&tg.arn).await[0].zone.clone();
        assert_eq!(zone.as_deref(), Some("us-east-1a"), "the zone of the subnet holding the address");

        // Initial for the period in force at registration, then healthy.
        health.set_initial_period(Duration::from_millis(1500)).await;
        aws.register_targets(&tg.arn, &["10.4.2.6:5432"]).await;
        let initial = aws.target_states(&tg.arn).await.into_iter().find(|t| t.target == "10.4.2.6:5432").unwrap();
        assert_eq!(
            (initial.state.as_str(), initial.reason.as_deref()),
            ("initial", Some("Elb.RegistrationInProgress"))
        );
        assert_eq!(
            aws.state_of(&tg.arn, "10.4.1.5:5432").await.as_deref(),
            Some("healthy"),
            "older targets keep theirs"
        );

        // Unreachable: unhealthy once the initial period is over, and back.
        let address: IpAddr = "10.4.2.6".parse().unwrap();
        let settings = health.set_reachable(address, false).await;
        assert_eq!(settings.unreachable, vec![address]);
        tokio::time::sleep(Duration::from_millis(1600)).await;
        let failing = aws.target_states(&tg.arn).await.into_iter().find(|t| t.target == "10.4.2.6:5432").unwrap();
        assert_eq!(
            (failing.state.as_str(), failing.reason.as_deref()),
            ("unhealthy", Some("Target.FailedHealthChecks"))
        );
        health.set_reachable(address, true).await;
        assert_eq!(aws.state_of(&tg.arn, "10.4.2.6:5432").await.as_deref(), Some("healthy"));

        // Draining for the deregistration delay, then gone; the wrong port is a no-op.
        health.set_initial_period(Duration::ZERO).await;
        aws.set_deregistration_delay(&tg.arn, Duration::from_secs(2)).await;
        aws.elb
            .deregister_targets()
            .target_group_arn(&tg.arn)
            .targets(elbv2_target("10.4.1.5", 6432))
            .targets(elbv2_target("10.4.2.6", 7000))
            .send()
            .await
            .expect("DeregisterTargets of an unknown target succeeds, as in ELB");
        assert_eq!(
            states(&aws, &tg.arn).await,
            pairs(&[("10.4.1.5:5432", "healthy"), ("10.4.1.5:6432", "draining"), ("10.4.2.6:5432", "healthy")])
        );
        // Registering a draining target again brings it back.
        aws.register_targets(&tg.arn, &["10.4.1.5:6432"]).await;
        assert_eq!(aws.state_of(&tg.arn, "10.4.1.5:6432").await.as_deref(), Some("healthy"));
        aws.elb
            .deregister_targets()
            .target_group_arn(&tg.arn)
            .targets(elbv2_target("10.4.2.6", 5432))
            .send()
            .await
            .expect("DeregisterTargets");
        assert_eq!(aws.state_of(&tg.arn, "10.4.2.6:5432").await.as_deref(), Some("draining"));
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(aws.registered_targets(&tg.arn).await, vec!["10.4.1.5:5432", "10.4.1.5:6432"], "drained and gone");

        // A reset puts the knobs back.
        health.set_initial_period(Duration::from_secs(9)).await;
        moto.reset().await;
        assert_eq!(health.settings().await, HealthCheckSettings { initial: Duration::ZERO, unreachable: vec![] });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn addresses_outside_the_vpc_need_availability_zone_all() {
        let moto = Moto::start().await;
        let aws = moto.aws().await;
        let net = aws.create_network("10.5.0.0/16").await;
        let tg = aws.create_ip_target_group("tg-zones", &net.vpc_id, IpFamily::V4).await;
        let register = |id: &str, zone: Option<&str>| {
            let target = target_in_zone(id, 5432, zone);
            aws.elb.register_targets().target_group_arn(&tg.arn).targets(target).send()
        };

        let error = register("172.31.9.9", None).await.expect_err("outside the VPC without a zone");
        let error = error.into_service_error();
        assert_eq!(elbv2::error::ProvideErrorMetadata::code(&error), Some("ValidationError"));
        assert_eq!(
            elbv2::error::ProvideErrorMetadata::message(&error),
            Some("The Availability Zone is required for IP address '172.31.9.9' because it is not in the VPC")
        );
        let error = register("10.5.1.7", Some("all")).await.expect_err("inside a subnet with zone all");
        let message = elbv2::error::ProvideErrorMetadata::message(&error.into_service_error()).unwrap().to_owned();
        assert!(message.contains("is within the VPC") && message.contains("'us-east-1a'"), "{message}");
        assert!(aws.registered_targets(&tg.arn).await.is_empty(), "nothing registered by refused calls");

        register("172.31.9.9", Some("all")).await.expect("outside the VPC with zone all");
        let listed = aws.target_states(&tg.arn).await;
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].target.as_str(), listed[0].zone.as_deref()), ("172.31.9.9:5432", Some("all")));
        // Deregistered only with the zone it was registered in.
        let deregister = |zone: Option<&str>| {
            let target = target_in_zone("172.31.9.9", 5432, zone);
            aws.elb.deregister_targets().target_group_arn(&tg.arn).targets(target).send()
        };
        deregister(None).await.expect("DeregisterTargets");
        assert_eq!(aws.registered_targets(&tg.arn).await, vec!["172.31.9.9:5432"]);
        deregister(Some("all")).await.expect("DeregisterTargets");
        assert!(aws.registered_targets(&tg.arn).await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn proxy_custom_endpoints_are_created_and_described() {
        let moto = Moto::start().await;
        let aws = moto.aws().await;
        let net = aws.create_network("10.6.0.0/16").await;
        aws.create_db_proxy("px", &net.subnet_ids).await;
        let endpoint = aws.create_db_proxy_endpoint("px", "reports", &net.subnet_ids, true).await;
        assert!(endpoint.starts_with("reports.endpoint.proxy-") && endpoint.ends_with(".us-east-1.rds.amazonaws.com"));

        let out = aws
            .rds
            .describe_db_proxy_endpoints()
            .db_proxy_name("px")
            .db_proxy_endpoint_name("reports")
            .send()
            .await
            .expect("DescribeDBProxyEndpoints");
        let found = &out.db_proxy_endpoints()[0];
        assert_eq!(found.endpoint(), Some(endpoint.as_str()));
        assert_eq!(found.target_role().map(|r| r.as_str()), Some("READ_ONLY"));
        assert_eq!(found.is_default(), Some(false));
        let all = aws.rds.describe_db_proxy_endpoints().db_proxy_name("px").send().await.expect("describe");
        let names: Vec<_> = all.db_proxy_endpoints().iter().filter_map(|e| e.db_proxy_endpoint_name()).collect();
        assert_eq!(names, vec!["default", "reports"]);

        let missing = aws
            .rds
            .describe_db_proxy_endpoints()
            .db_proxy_name("px")
            .db_proxy_endpoint_name("ghost")
            .send()
            .await
            .expect_err("no such endpoint");
        assert!(missing.into_service_error().is_db_proxy_endpoint_not_found_fault());
        let missing = aws.rds.describe_db_proxy_endpoints().db_proxy_name("ghost").send().await.expect_err("no proxy");
        assert!(missing.into_service_error().is_db_proxy_not_found_fault());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_control_endpoint_refuses_bad_requests_saying_why() {
        let moto = Moto::start().await;
        let health = moto.health_checks();
        let (status, answer) = health.raw(Method::POST, "settings", r#"{"initialSeconds": -1}"#).await;
        assert_eq!(status, 400);
        assert!(answer["error"].as_str().unwrap().contains("initialSeconds must be a number"), "{answer}");
        let (status, answer) =
            health.raw(Method::POST, "reachability", r#"{"address": "db", "reachable": false}"#).await;
        assert_eq!(status, 400);
        assert!(answer["error"].as_str().unwrap().contains("address must be an IP address"), "{answer}");
        let (status, answer) = health.raw(Method::POST, "health", "{}").await;
        assert_eq!(status, 404);
        assert!(answer["error"].as_str().unwrap().contains("/elb-standin/settings"), "lists what exists: {answer}");
    }

    use aws_sdk_elasticloadbalancingv2 as elbv2;

    fn elbv2_target(id: &str, port: i32) -> elbv2::types::TargetDescription {
        target_in_zone(id, port, None)
    }

    fn target_in_zone(id: &str, port: i32, zone: Option<&str>) -> elbv2::types::TargetDescription {
        elbv2::types::TargetDescription::builder()
            .id(id)
            .port(port)
            .set_availability_zone(zone.map(str::to_owned))
            .build()
    }
}
