//! [`TargetGroups`] over the Elastic Load Balancing v2 API.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_sdk_elasticloadbalancingv2 as elb;
use elb::error::{ProvideErrorMetadata, SdkError};
use elb::types::TargetDescription;

use super::metering::CountCalls;
use super::pacing::{DescribePacer, DescribeRate};
use super::sdk_failure::FailureReader;
use crate::failure::RunsIn;
use crate::permissions::{
    ADD_TAGS, DEREGISTER_TARGETS, DESCRIBE_TAGS, DESCRIBE_TARGET_GROUPS, DESCRIBE_TARGET_HEALTH, IamAction,
    REGISTER_TARGETS, REMOVE_TAGS,
};
use crate::ports::{ElbError, TargetGroups};
use crate::spec::SOURCES_TAG;
use crate::target::{AddressFamilies, HealthDetail, Target, TargetGroupInfo, TargetGroupState, TargetHealth};
use crate::usage::{ApiMeter, Service};

/// DescribeTags takes at most 20 ARNs per call.
const TAGS_PER_CALL: usize = 20;
/// Targets per Register/DeregisterTargets call.
const TARGETS_PER_CALL: usize = 100;
/// DescribeTargetGroups answers at most 400 target groups a page.
const TARGET_GROUPS_PER_PAGE: i32 = 400;
/// The API's name in messages.
const API: &str = "Elastic Load Balancing";

/// The ELB API through the AWS SDK.
pub struct ElbTargetGroups {
    client: elb::Client,
    /// Every `Describe*` call waits here first (`pacing.rs`).
    pacer: DescribePacer,
    /// Targets DescribeTargetHealth listed with AvailabilityZone `all`
    /// (addresses outside the target group's VPC), per target group: they must
    /// be deregistered with that zone too.
    outside_vpc: Mutex<BTreeMap<String, BTreeSet<Target>>>,
    failures: FailureReader,
}

/// ELB's ValidationError for an address outside the target group's VPC that
/// was registered without `AvailabilityZone=all`. ELB has no dedicated code for
/// it and AWS's documentation does not quote the message, so the wording ELB
/// answers with is the only signal. Two wordings are known from ELB's answers:
/// "The Availability Zone is required for IP address '<ip>' because it is not
/// in the VPC" and "You must specify a valid Availability Zone or select 'all'
/// ..., since the IP address '<ip>' is outside the VPC".
fn is_outside_vpc(error: &ElbError) -> bool {
    let message = error.failure.message.as_str();
    error.failure.code.as_deref() == Some("ValidationError")
        && (message.contains("outside the VPC") || message.contains("not in the VPC"))
}

impl ElbTargetGroups {
    /// A client whose requests are counted in `meter` and whose `Describe*`
    /// calls go at most at `rate`.
    pub fn new(config: &aws_config::SdkConfig, runs_in: RunsIn, rate: DescribeRate, meter: Arc<ApiMeter>) -> Self {
        let counted =
            elb::config::Builder::from(config).interceptor(CountCalls::new(Service::Elb, meter.clone())).build();
        ElbTargetGroups {
            client: elb::Client::from_conf(counted),
            pacer: DescribePacer::new(rate, meter),
            outside_vpc: Mutex::default(),
            failures: FailureReader::new(API, runs_in, config),
        }
    }

    #[cfg(test)]
    pub(crate) fn with_client(client: elb::Client) -> Self {
        let pacer = DescribePacer::new(DescribeRate::DEFAULT, Arc::default());
        ElbTargetGroups { client, pacer, outside_vpc: Mutex::default(), failures: FailureReader::canned(API) }
    }

    /// The failed call `action` on `resource`.
    fn error<E>(&self, action: IamAction, resource: &str, err: SdkError<E>) -> ElbError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        ElbError {
            operation: action.operation,
            resource: resource.to_string(),
            failure: self.failures.read(&err, action),
        }
    }

    fn outside_vpc(&self) -> MutexGuard<'_, BTreeMap<String, BTreeSet<Target>>> {
        // The map only caches what DescribeTargetHealth said; a panic elsewhere
        // while it was held leaves it usable.
        self.outside_vpc.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn tags_of(&self, arns: &[String]) -> Result<BTreeMap<String, BTreeMap<String, String>>, ElbError> {
        let mut out = BTreeMap::new();
        for chunk in arns.chunks(TAGS_PER_CALL) {
            self.pacer.acquire().await;
            let resp = self
                .client
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| self.error(DESCRIBE_TAGS, &chunk.join(","), e))?;
            for description in resp.tag_descriptions() {
                let tags = description
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
                    .collect();
                out.insert(description.resource_arn().unwrap_or_default().to_string(), tags);
            }
        }
        Ok(out)
    }

    fn info(group: &elb::types::TargetGroup, tags: BTreeMap<String, String>) -> TargetGroupInfo {
        TargetGroupInfo {
            arn: group.target_group_arn().unwrap_or_default().to_string(),
            name: group.target_group_name().unwrap_or_default().to_string(),
            port: group.port().and_then(|p| u16::try_from(p).ok()),
            target_type: group.target_type().map(|t| t.as_str().to_string()).unwrap_or_else(|| "instance".into()),
            families: AddressFamilies::from_ip_address_type(group.ip_address_type().map(|t| t.as_str())),
            tags,
        }
    }

    fn descriptions(targets: &[Target], all_zones: &BTreeSet<Target>) -> Vec<TargetDescription> {
        targets
            .iter()
            .map(|t| {
                let zone = all_zones.contains(t).then_some("all");
                TargetDescription::builder()
                    .id(t.ip.to_string())
                    .port(i32::from(t.port))
                    .set_availability_zone(zone.map(str::to_string))
                    .build()
            })
            .collect()
    }

    async fn register_call(&self, arn: &str, targets: &[Target], all_zones: bool) -> Result<(), ElbError> {
        let zones = if all_zones { targets.iter().copied().collect() } else { BTreeSet::new() };
        self.client
            .register_targets()
            .target_group_arn(arn)
            .set_targets(Some(Self::descriptions(targets, &zones)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error(REGISTER_TARGETS, arn, e))
    }
}

impl TargetGroups for ElbTargetGroups {
    async fn list_managed(&self) -> Result<Vec<TargetGroupInfo>, ElbError> {
        let mut groups = Vec::new();
        let mut marker = None;
        loop {
            self.pacer.acquire().await;
            let page = self
                .client
                .describe_target_groups()
                .page_size(TARGET_GROUPS_PER_PAGE)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| self.error(DESCRIBE_TARGET_GROUPS, "the account's target groups", e))?;
            groups.extend(page.target_groups().iter().cloned());
            marker = page.next_marker().filter(|m| !m.is_empty()).map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        let arns: Vec<String> = groups.iter().filter_map(|g| g.target_group_arn().map(str::to_string)).collect();
        let mut tags = self.tags_of(&arns).await?;
        Ok(groups
            .iter()
            .filter_map(|g| {
                let t = tags.remove(g.target_group_arn()?)?;
                t.contains_key(SOURCES_TAG).then(|| Self::info(g, t))
            })
            .collect())
    }

    async fn describe(&self, arn: &str) -> Result<Option<TargetGroupInfo>, ElbError> {
        self.pacer.acquire().await;
        let resp = match self.client.describe_target_groups().target_group_arns(arn).send().await {
            Ok(resp) => resp,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_target_group_not_found_exception()) => {
                return Ok(None);
            }
            Err(e) => return Err(self.error(DESCRIBE_TARGET_GROUPS, arn, e)),
        };
        let Some(group) = resp.target_groups().first() else {
            return Ok(None);
        };
        let tags = self.tags_of(&[arn.to_string()]).await?.remove(arn).unwrap_or_default();
        Ok(Some(Self::info(group, tags)))
    }

    async fn describe_by_name(&self, name: &str) -> Result<Option<TargetGroupInfo>, ElbError> {
        self.pacer.acquire().await;
        let resp = match self.client.describe_target_groups().names(name).send().await {
            Ok(resp) => resp,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_target_group_not_found_exception()) => {
                return Ok(None);
            }
            Err(e) => return Err(self.error(DESCRIBE_TARGET_GROUPS, name, e)),
        };
        let Some(group) = resp.target_groups().first() else {
            return Ok(None);
        };
        let arn = group.target_group_arn().unwrap_or_default().to_string();
        let tags = self.tags_of(std::slice::from_ref(&arn)).await?.remove(&arn).unwrap_or_default();
        Ok(Some(Self::info(group, tags)))
    }

    async fn state(&self, arn: &str) -> Result<TargetGroupState, ElbError> {
        self.pacer.acquire().await;
        let resp = self
            .client
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(|e| self.error(DESCRIBE_TARGET_HEALTH, arn, e))?;
        let mut all_zones = BTreeSet::new();
        let mut details = Vec::new();
        let targets: Vec<(Target, TargetHealth)> = resp
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let target = d.target()?;
                let ip: IpAddr = target.id()?.parse().ok()?;
                let port = u16::try_from(target.port()?).ok()?;
                if target.availability_zone() == Some("all") {
                    all_zones.insert(Target { ip, port });
                }
                let health = d.target_health();
                let state = health.and_then(|h| h.state()).map(|s| s.as_str()).unwrap_or("unknown");
                let reason = health.and_then(|h| h.reason()).map(|r| r.as_str().to_string());
                let description = health.and_then(|h| h.description()).map(str::to_string);
                if reason.is_some() || description.is_some() {
                    details.push((Target { ip, port }, HealthDetail { reason, description }));
                }
                Some((Target { ip, port }, TargetHealth::from_api(state)))
            })
            .collect();
        self.outside_vpc().insert(arn.to_string(), all_zones);
        Ok(TargetGroupState::new(targets).with_details(details))
    }

    /// Registers without an Availability Zone (required for addresses inside
    /// the VPC); when ELB answers that an address is outside the VPC, registers
    /// one by one and gives only the rejected ones `AvailabilityZone=all`.
    async fn register(&self, arn: &str, targets: &[Target]) -> Result<(), ElbError> {
        for chunk in targets.chunks(TARGETS_PER_CALL) {
            match self.register_call(arn, chunk, false).await {
                Ok(()) => continue,
                Err(error) if is_outside_vpc(&error) => {}
                Err(error) => return Err(error),
            }
            for target in chunk {
                match self.register_call(arn, std::slice::from_ref(target), false).await {
                    Ok(()) => {}
                    Err(error) if is_outside_vpc(&error) => {
                        self.register_call(arn, std::slice::from_ref(target), true).await?;
                        self.outside_vpc().entry(arn.to_string()).or_default().insert(*target);
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(())
    }

    async fn deregister(&self, arn: &str, targets: &[Target]) -> Result<(), ElbError> {
        let zones = self.outside_vpc().get(arn).cloned().unwrap_or_default();
        for chunk in targets.chunks(TARGETS_PER_CALL) {
            self.client
                .deregister_targets()
                .target_group_arn(arn)
                .set_targets(Some(Self::descriptions(chunk, &zones)))
                .send()
                .await
                .map_err(|e| self.error(DEREGISTER_TARGETS, arn, e))?;
        }
        Ok(())
    }

    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, ElbError> {
        Ok(self.tags_of(&[arn.to_string()]).await?.remove(arn).unwrap_or_default())
    }

    async fn add_tags(&self, arn: &str, tags: &[(&str, String)]) -> Result<(), ElbError> {
        let tags = tags.iter().map(|(k, v)| elb::types::Tag::builder().key(*k).value(v).build()).collect();
        self.client
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| self.error(ADD_TAGS, arn, e))?;
        Ok(())
    }

    async fn remove_tags(&self, arn: &str, keys: &[&str]) -> Result<(), ElbError> {
        self.client
            .remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
            .send()
            .await
            .map_err(|e| self.error(REMOVE_TAGS, arn, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The adapter against canned ELB answers, for what moto cannot show:
    //! ELB's outside-the-VPC error and DescribeTags batching.
    use super::super::canned::{Canned, Form, error_body, ok_body};
    use super::*;

    const OUTSIDE: &str = "The Availability Zone is required for IP address '172.31.9.9' because it is not in the VPC";

    fn target(ip: &str) -> Target {
        Target { ip: ip.parse().unwrap(), port: 5432 }
    }

    /// `(Id, AvailabilityZone)` of each target in a Register/DeregisterTargets form.
    fn targets_in(form: &Form) -> Vec<(String, Option<String>)> {
        (1..)
            .map_while(|i| {
                let id = form.get(&format!("Targets.member.{i}.Id"))?;
                Some((id.clone(), form.get(&format!("Targets.member.{i}.AvailabilityZone")).cloned()))
            })
            .collect()
    }

    fn only(id: &str, zone: Option<&str>) -> impl Fn(&Form) -> bool + Send + Sync + 'static {
        let want = vec![(id.to_string(), zone.map(str::to_string))];
        move |f| targets_in(f) == want
    }

    #[tokio::test]
    async fn tags_are_read_twenty_target_groups_per_call() {
        let arn = |i: usize| format!("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg{i}/1");
        let groups: String = (0..25)
            .map(|i| {
                format!(
                    "<member><TargetGroupArn>{}</TargetGroupArn><TargetGroupName>tg{i}</TargetGroupName>\
                     <Port>5432</Port><TargetType>ip</TargetType></member>",
                    arn(i)
                )
            })
            .collect();
        // Every third group is managed.
        let tags: String = (0..25)
            .filter(|i| i % 3 == 0)
            .map(|i| {
                format!(
                    "<member><ResourceArn>{}</ResourceArn><Tags><member><Key>{SOURCES_TAG}</Key>\
                     <Value>dns:db.internal</Value></member></Tags></member>",
                    arn(i)
                )
            })
            .collect();
        let canned = Canned::default()
            .on(
                "DescribeTargetGroups",
                200,
                ok_body("DescribeTargetGroups", &format!("<TargetGroups>{groups}</TargetGroups>")),
            )
            .on_form(
                "DescribeTags",
                |f| !f.contains_key("ResourceArns.member.21"),
                200,
                ok_body("DescribeTags", &format!("<TagDescriptions>{tags}</TagDescriptions>")),
            );
        let managed = ElbTargetGroups::with_client(canned.elb()).list_managed().await.unwrap();
        let calls = canned.asked("DescribeTags");
        assert_eq!(calls.len(), 2, "25 ARNs take two DescribeTags calls");
        assert!(calls[0].contains_key("ResourceArns.member.20") && !calls[1].contains_key("ResourceArns.member.6"));
        assert_eq!(managed.len(), 9);
        assert!(managed.iter().all(|g| g.target_type == "ip" && g.port == Some(5432)));
    }

    #[tokio::test]
    async fn addresses_outside_the_vpc_are_registered_with_availability_zone_all() {
        let done = ok_body("RegisterTargets", "");
        let canned = Canned::default()
            .on_form(
                "RegisterTargets",
                |f| targets_in(f).len() == 2,
                400,
                error_body("Sender", "ValidationError", OUTSIDE),
            )
            .on_form("RegisterTargets", only("10.0.1.5", None), 200, done.clone())
            .on_form("RegisterTargets", only("172.31.9.9", None), 400, error_body("Sender", "ValidationError", OUTSIDE))
            .on_form("RegisterTargets", only("172.31.9.9", Some("all")), 200, done);
        let elb = ElbTargetGroups::with_client(canned.elb());
        elb.register("arn:tg", &[target("10.0.1.5"), target("172.31.9.9")]).await.unwrap();
        let calls: Vec<_> = canned.asked("RegisterTargets").iter().map(targets_in).collect();
        assert_eq!(calls.len(), 4, "{calls:?}");
        assert_eq!(calls[3], vec![("172.31.9.9".to_string(), Some("all".to_string()))]);
    }

    #[test]
    fn both_known_wordings_of_the_outside_the_vpc_error_are_recognised() {
        let error = |code: &str, message: &str| ElbError {
            operation: "RegisterTargets",
            resource: "arn:tg".into(),
            failure: crate::failure::ApiFailure {
                code: Some(code.into()),
                ..crate::failure::ApiFailure::message(message)
            },
        };
        let other = "You must specify a valid Availability Zone or select 'all' for all enabled Availability zones, \
                     since the IP address '172.31.9.9' is outside the VPC";
        assert!(is_outside_vpc(&error("ValidationError", OUTSIDE)));
        assert!(is_outside_vpc(&error("ValidationError", other)));
        assert!(!is_outside_vpc(&error("InvalidTarget", OUTSIDE)), "the code must be ValidationError");
        let inside = "The IP address '10.0.1.7' is within the VPC, and cannot have its Availability Zone \
                      overridden to 'all' from 'us-east-1a'";
        assert!(!is_outside_vpc(&error("ValidationError", inside)));
    }

    #[tokio::test]
    async fn other_register_errors_are_not_retried_with_zone_all() {
        let canned = Canned::default().on("RegisterTargets", 403, error_body("Sender", "AccessDenied", "no"));
        let elb = ElbTargetGroups::with_client(canned.elb());
        let err = elb.register("arn:tg", &[target("10.0.1.5")]).await.unwrap_err();
        assert!(
            err.to_string().contains("Allow elasticloadbalancing:RegisterTargets in the function role's policy"),
            "{err}"
        );
        assert_eq!(canned.asked("RegisterTargets").len(), 1);
        // A ValidationError about something else is not taken for "outside the VPC".
        let canned = Canned::default().on(
            "RegisterTargets",
            400,
            error_body("Sender", "ValidationError", "The port must be between 1 and 65535"),
        );
        let elb = ElbTargetGroups::with_client(canned.elb());
        assert!(elb.register("arn:tg", &[target("10.0.1.5")]).await.is_err());
        assert_eq!(canned.asked("RegisterTargets").len(), 1);
    }

    #[tokio::test]
    async fn targets_listed_in_zone_all_are_deregistered_with_it() {
        let described = |id: &str, zone: &str| {
            format!(
                "<member><Target><Id>{id}</Id><Port>5432</Port><AvailabilityZone>{zone}</AvailabilityZone></Target>\
                 <TargetHealth><State>healthy</State></TargetHealth></member>"
            )
        };
        let canned = Canned::default()
            .on(
                "DescribeTargetHealth",
                200,
                ok_body(
                    "DescribeTargetHealth",
                    &format!(
                        "<TargetHealthDescriptions>{}{}</TargetHealthDescriptions>",
                        described("10.0.1.5", "us-east-1a"),
                        described("172.31.9.9", "all")
                    ),
                ),
            )
            .on("DeregisterTargets", 200, ok_body("DeregisterTargets", ""));
        let elb = ElbTargetGroups::with_client(canned.elb());
        let state = elb.state("arn:tg").await.unwrap();
        assert_eq!(state.targets.len(), 2);
        let all: Vec<Target> = state.targets.keys().copied().collect();
        elb.deregister("arn:tg", &all).await.unwrap();
        let calls: Vec<_> = canned.asked("DeregisterTargets").iter().map(targets_in).collect();
        assert_eq!(
            calls,
            vec![vec![("10.0.1.5".to_string(), None), ("172.31.9.9".to_string(), Some("all".to_string()))]]
        );
    }

    #[tokio::test]
    async fn health_reasons_are_kept_beside_the_states() {
        let member = |id: &str, health: &str| {
            format!(
                "<member><Target><Id>{id}</Id><Port>5432</Port></Target><TargetHealth>{health}</TargetHealth></member>"
            )
        };
        let body = format!(
            "<TargetHealthDescriptions>{}{}</TargetHealthDescriptions>",
            member("10.0.1.5", "<State>healthy</State>"),
            member(
                "10.0.2.6",
                "<State>unhealthy</State><Reason>Target.FailedHealthChecks</Reason>\
                 <Description>Health checks failed</Description>"
            ),
        );
        let canned = Canned::default().on("DescribeTargetHealth", 200, ok_body("DescribeTargetHealth", &body));
        let state = ElbTargetGroups::with_client(canned.elb()).state("arn:tg").await.unwrap();
        assert_eq!(state.targets[&target("10.0.2.6")], TargetHealth::Unhealthy);
        assert_eq!(
            state.details.get(&target("10.0.2.6")),
            Some(&HealthDetail {
                reason: Some("Target.FailedHealthChecks".into()),
                description: Some("Health checks failed".into())
            })
        );
        assert!(!state.details.contains_key(&target("10.0.1.5")), "no reason given, none kept");
    }
}
