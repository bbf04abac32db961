//! What the `Custom::NlbTargetSync` resource does on Create, Update and Delete,
//! and which answer CloudFormation gets. Delivering that answer (always, in
//! time, within 4 KB) is the job of [`crate::custom_resource`].
//!
//! - Create/Update: check the group and the sources against the installer's
//!   policy (`crate::exposure`; a refusal writes nothing), write the sources
//!   (and port) tags on the target group, sync it now, optionally wait until
//!   every wanted target is healthy.
//! - Delete: deregister the targets its sources account for, then remove this
//!   resource's tags (in that order, so that tag-scoped permissions suffice);
//!   everything else on a shared target group stays as it was.
//!   A missing target group, or an id left by a failed Create, is a success;
//!   so is a group outside the policy's scope, which is left as it is.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::clock::now_millis;
use crate::custom_resource::{
    CustomResourceRequest, Failure, Outcome, Progress, PropertyError, RequestType, Success, optional, prop_str,
    prop_string_list, prop_u16, prop_u64,
};
use crate::exposure::Refusal;
use crate::listing::joined;
use crate::managed::GroupError;
use crate::ports::{DnsLookup, ElbError, RdsDirectory, TargetGroups};
use crate::spec::{PORT_TAG, SOURCES_TAG, Source, SpecError, SyncSpec, parse_sources};
use crate::sync::{RunError, RunOutcome, Selection, SyncEngine};
use crate::target::{PendingTarget, Target, TargetGroupInfo, TargetHealth};

/// Longest `WaitForHealthySeconds` (a custom resource's ServiceTimeout is at most an hour).
const MAX_WAIT_SECONDS: u64 = 3600;
/// How often the wait re-reads target health.
const HEALTH_POLL: Duration = Duration::from_secs(5);

/// The resource's properties, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSpec {
    pub target_group_arn: String,
    pub sources: Vec<Source>,
    pub port: Option<u16>,
    /// 0: do not wait for health checks.
    pub wait_for_healthy: Duration,
}

fn property_error(property: &str, problem: String) -> PropertyError {
    PropertyError { property: property.into(), problem }
}

impl ResourceSpec {
    /// Reads `TargetGroupArn`, `Sources` (a list, or one space-separated string),
    /// `Port` and `WaitForHealthySeconds`; values may arrive as strings.
    pub fn from_properties(props: &Map<String, Value>) -> Result<ResourceSpec, PropertyError> {
        let target_group_arn = prop_str(props, "TargetGroupArn")?;
        if !target_group_arn.starts_with("arn:") || !target_group_arn.contains(":targetgroup/") {
            return Err(property_error(
                "TargetGroupArn",
                format!("expected a target group ARN (arn:...:targetgroup/name/id), got \"{target_group_arn}\""),
            ));
        }
        let tokens = prop_string_list(props, "Sources")?;
        let port = optional(props, "Port", prop_u16)?;
        let SyncSpec { sources, port } = SyncSpec::from_tokens(&tokens, port).map_err(|error| match error {
            SpecError::BadPort { .. } => property_error("Port", "expected a port from 1 to 65535, got 0".into()),
            other => property_error("Sources", other.to_string()),
        })?;
        let wait = optional(props, "WaitForHealthySeconds", prop_u64)?.unwrap_or(0);
        if wait > MAX_WAIT_SECONDS {
            return Err(property_error(
                "WaitForHealthySeconds",
                format!("expected at most {MAX_WAIT_SECONDS} seconds, got {wait}"),
            ));
        }
        Ok(ResourceSpec { target_group_arn, sources, port, wait_for_healthy: Duration::from_secs(wait) })
    }

    fn sync_spec(&self) -> SyncSpec {
        SyncSpec { sources: self.sources.clone(), port: self.port }
    }
}

/// A Create or Update that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// The target group ARN: stable for the resource, new when the ARN changes.
    pub physical_id: String,
    /// Wanted targets now registered.
    pub targets: Vec<Target>,
}

/// Why Create, Update or Delete failed; each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error("{0} (TargetGroupArn)")]
    Group(#[from] GroupError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(
        "target group {arn} is already synced from other sources ({SOURCES_TAG} = '{existing}'); \
         use another target group, or remove the tag if nothing manages it any more"
    )]
    AlreadyManaged { arn: String, existing: String },
    #[error(transparent)]
    Elb(#[from] ElbError),
    #[error("sync failed: {}", joined(errors, " | "))]
    SyncFailed { errors: Vec<RunError> },
    #[error(
        "after waiting {seconds} s not every target is healthy: {}; check the database security group allows the NLB's subnets on the port, and the health check settings",
        joined(pending, ", ")
    )]
    Unhealthy { seconds: u64, pending: Vec<PendingTarget> },
}

/// What Delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub deregistered: Vec<Target>,
    /// Why something was left as it was (missing group, unresolvable source...).
    pub notes: Vec<String>,
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    /// Create, or Update: tags, sync, optional wait. `previous` is the resource's
    /// spec before an Update: a target group may already carry those sources (or
    /// these), but not someone else's.
    pub async fn deploy(
        &self,
        spec: &ResourceSpec,
        previous: Option<&ResourceSpec>,
        progress: &(impl Fn(&str) + Sync),
        runs: &mut Vec<RunOutcome>,
    ) -> Result<Deployed, DeployError> {
        let arn = spec.target_group_arn.as_str();
        progress(&format!("describing target group {arn}"));
        let missing = || GroupError::NotFound { target_group: arn.into() };
        let info = self.target_group(arn).await?.ok_or_else(missing)?;
        info.require_ip()?;
        self.admit(&info, &spec.sources)?;
        if let Some(existing) = info.tags.get(SOURCES_TAG) {
            let same = |other: &ResourceSpec| parse_sources(existing).is_ok_and(|s| s == other.sources);
            if !same(spec) && !previous.is_some_and(same) {
                return Err(DeployError::AlreadyManaged { arn: arn.into(), existing: existing.clone() });
            }
        }
        progress("writing the sync tags");
        self.write_spec(&info, &spec.sync_spec()).await?;
        let selection = Selection::Only(vec![arn.to_string()]);
        let settled = self.sync_and_wait(&selection, spec.wait_for_healthy, HEALTH_POLL, progress).await;
        runs.extend(settled.runs().cloned());
        let failed: Vec<RunError> = settled.runs().flat_map(RunOutcome::errors).collect();
        if !failed.is_empty() {
            return Err(DeployError::SyncFailed { errors: failed });
        }
        if let Some(error) = settled.unreadable.into_values().next() {
            return Err(error.into());
        }
        if let Some(pending) = settled.unhealthy.into_values().find(|p| !p.is_empty()) {
            return Err(DeployError::Unhealthy { seconds: settled.waited.as_secs(), pending });
        }
        // A run over one ARN reports exactly that group, or fails above.
        let last = settled.finish.as_ref().unwrap_or(&settled.run);
        let desired = last.groups.first().ok_or_else(missing)?.desired();
        let state = self.target_health(arn).await?;
        let targets = state.targets.keys().filter(|t| desired.contains(t)).copied().collect();
        Ok(Deployed { physical_id: arn.to_string(), targets })
    }

    /// Delete: idempotent, tolerant of what no longer exists.
    pub async fn delete_resource(
        &self,
        physical_id: &str,
        spec: Option<&ResourceSpec>,
        progress: &(impl Fn(&str) + Sync),
    ) -> Result<Deleted, DeployError> {
        let mut deleted = Deleted { deregistered: Vec::new(), notes: Vec::new() };
        if !physical_id.starts_with("arn:") {
            deleted
                .notes
                .push(format!("'{physical_id}' is not a target group ARN (left by a failed create): nothing to do"));
            return Ok(deleted);
        }
        progress(&format!("describing target group {physical_id}"));
        let Some(info) = self.target_group(physical_id).await? else {
            deleted.notes.push(format!("target group {physical_id} no longer exists"));
            return Ok(deleted);
        };
        // Removing exposes nothing, so the source allow-list does not bind
        // Delete; the scope does: a group outside it is never changed.
        if !self.exposure().covers(&info) {
            let scope = &self.exposure().target_groups;
            deleted.notes.push(format!(
                "target group {} is outside NLB_SYNC_TARGET_GROUPS ({scope}): tags and targets left as they are",
                info.label()
            ));
            return Ok(deleted);
        }
        let Some(spec) = spec else {
            deleted.notes.push("the request carries no readable properties: tags and targets left as they are".into());
            return Ok(deleted);
        };
        let owned = SyncSpec::from_tags(&info.tags).ok().flatten().is_some_and(|s| s.sources == spec.sources);
        if self.options().dry_run {
            deleted.notes.push("dry run: nothing changed".into());
            return Ok(deleted);
        }
        if !owned {
            deleted.notes.push(format!(
                "the {SOURCES_TAG} tag no longer lists this resource's sources: tags and targets left as they are"
            ));
            return Ok(deleted);
        }
        // Targets first, tags last: the function may only change targets of a
        // group that carries the sources tag (tag-scoped IAM, template.yaml).
        if let Some(port) = spec.port.or(info.port) {
            deleted.deregistered = self.deregister_own_targets(&info, spec, port, &mut deleted.notes, progress).await?;
        }
        progress("removing the sync tags");
        let own_port_tag = spec.port.is_some() && info.tags.get(PORT_TAG) == spec.port.map(|p| p.to_string()).as_ref();
        self.remove_spec(physical_id, own_port_tag).await?;
        Ok(deleted)
    }

    /// Delete's targets: what the resource's sources resolve to now. Runs that
    /// resolved before this point are held back first, so that none of them
    /// registers these targets again between their removal and the tags'.
    async fn deregister_own_targets(
        &self,
        info: &TargetGroupInfo,
        spec: &ResourceSpec,
        port: u16,
        notes: &mut Vec<String>,
        progress: &(impl Fn(&str) + Sync),
    ) -> Result<Vec<Target>, DeployError> {
        let arn = info.arn.as_str();
        progress("resolving the sources to find their targets");
        let mut ours: BTreeSet<Target> = BTreeSet::new();
        for answer in self.resolve(&spec.sources, info.families).await {
            match answer.outcome {
                Ok(resolution) => ours.extend(resolution.addresses.into_iter().map(|ip| Target { ip, port })),
                Err(why) => notes.push(format!("{}: {why}; its targets, if any, were left registered", answer.source)),
            }
        }
        self.hold_back_views_before(arn, now_millis()).await?;
        let state = self.target_health(arn).await?;
        let leaving: Vec<Target> = state
            .targets
            .iter()
            .filter(|(t, h)| ours.contains(t) && **h != TargetHealth::Draining)
            .map(|(t, _)| *t)
            .collect();
        if !leaving.is_empty() {
            progress("deregistering the resource's targets");
            self.deregister(arn, &leaving).await?;
        }
        Ok(leaving)
    }

    /// Answers one `Custom::NlbTargetSync` request: what to do, and which
    /// `PhysicalResourceId` each outcome carries.
    /// The runs made are added to `runs`, for the caller to report.
    pub async fn on_resource_request(
        &self,
        request: &CustomResourceRequest,
        progress: &Progress,
        runs: &mut Vec<RunOutcome>,
    ) -> Outcome {
        let step = |what: &str| progress.set(what);
        let physical_id = request.physical_resource_id.clone().unwrap_or_default();
        match request.request_type {
            RequestType::Create | RequestType::Update => {
                let spec = ResourceSpec::from_properties(&request.resource_properties)?;
                // From here on the target group may be changed: a timeout or panic
                // must still answer with its id so the following Delete cleans up.
                if request.request_type == RequestType::Create {
                    progress.set_physical_resource_id(&spec.target_group_arn);
                }
                let previous =
                    request.old_resource_properties.as_ref().and_then(|p| ResourceSpec::from_properties(p).ok());
                match self.deploy(&spec, previous.as_ref(), &step, runs).await {
                    Ok(done) => Ok(Success::new(done.physical_id)
                        .with_data("Targets", joined(&done.targets, ","))
                        .with_data("TargetCount", done.targets.len())),
                    // A failed Create names the target group it may have tagged, so
                    // its Delete cleans up; never a group that belongs to someone
                    // else, nor one the policy refused (nothing was written).
                    Err(e @ (DeployError::AlreadyManaged { .. } | DeployError::Refused(_))) => {
                        Err(Failure::new(e.to_string()))
                    }
                    Err(e) => Err(Failure::new(e.to_string()).with_physical_resource_id(spec.target_group_arn)),
                }
            }
            RequestType::Delete => {
                let spec = ResourceSpec::from_properties(&request.resource_properties).ok();
                match self.delete_resource(&physical_id, spec.as_ref(), &step).await {
                    Ok(_) => Ok(Success::new(physical_id)),
                    Err(e) => Err(Failure::new(e.to_string())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeDns, FakeElb, FakeRds};
    use crate::ports::TargetGroups;
    use crate::spec::{DNS_MEMORY_TAG, SETTLED_TAG, VIEW_TAG};
    use crate::sync::SyncOptions;

    fn engine() -> SyncEngine<FakeElb, FakeRds, FakeDns> {
        let rds = FakeRds::default();
        rds.proxy("px", None, "px.test");
        rds.proxy("py", None, "py.test");
        let dns = FakeDns::default();
        dns.set("px.test", &["10.0.1.9", "10.0.2.9"]);
        dns.set("py.test", &["10.0.3.9"]);
        SyncEngine::new(FakeElb::default(), rds, dns, SyncOptions::default())
    }

    fn spec(arn: &str, sources: &str) -> ResourceSpec {
        ResourceSpec {
            target_group_arn: arn.into(),
            sources: crate::spec::parse_sources(sources).unwrap(),
            port: None,
            wait_for_healthy: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn create_writes_tags_and_fills_the_group() {
        let e = engine();
        let arn = e.elb().group("db", None);
        let mut s = spec(&arn, "rds-proxy:px");
        s.port = Some(6432);
        let done = e.deploy(&s, None, &|_| {}, &mut Vec::new()).await.unwrap();
        assert_eq!(done.physical_id, arn);
        assert_eq!(joined(&done.targets, " "), "10.0.1.9:6432 10.0.2.9:6432");
        let tags = e.elb().tags(&arn).await.unwrap();
        assert_eq!(tags[SOURCES_TAG], "rds-proxy:px");
        assert_eq!(tags[PORT_TAG], "6432");
    }

    #[tokio::test]
    async fn update_with_new_sources_replaces_targets_once_healthy() {
        let e = engine();
        let arn = e.elb().group("db", None);
        e.deploy(&spec(&arn, "rds-proxy:px"), None, &|_| {}, &mut Vec::new()).await.unwrap();
        let mut s = spec(&arn, "rds-proxy:py");
        s.wait_for_healthy = Duration::from_secs(5);
        let done = e.deploy(&s, Some(&spec(&arn, "rds-proxy:px")), &|_| {}, &mut Vec::new()).await.unwrap();
        assert_eq!(joined(&done.targets, " "), "10.0.3.9:5432");
        assert_eq!(e.elb().held(&arn), vec!["10.0.3.9"]);
    }

    #[tokio::test]
    async fn create_errors_say_what_to_fix() {
        let e = engine();
        let err = e
            .deploy(
                &spec("arn:aws:elasticloadbalancing:x:1:targetgroup/none/1", "rds-proxy:px"),
                None,
                &|_| {},
                &mut Vec::new(),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("does not exist") && err.to_string().contains("TargetGroupArn"));
        let arn = e.elb().group("db", None);
        let err =
            e.deploy(&spec(&arn, "rds-proxy:nope"), None, &|_| {}, &mut Vec::new()).await.unwrap_err().to_string();
        assert!(err.contains("RDS Proxy 'nope' does not exist"), "{err}");
    }

    #[tokio::test]
    async fn unhealthy_targets_fail_the_wait_with_their_states() {
        let e = engine();
        let arn = e.elb().group("db", None);
        *e.elb().register_health.lock().unwrap() = TargetHealth::Unhealthy;
        let mut s = spec(&arn, "rds-proxy:px");
        s.wait_for_healthy = Duration::from_millis(50);
        let err = e.deploy(&s, None, &|_| {}, &mut Vec::new()).await.unwrap_err().to_string();
        assert!(err.contains("10.0.1.9:5432 unhealthy") && err.contains("security group"), "{err}");
    }

    #[tokio::test]
    async fn delete_removes_only_its_tags_and_targets() {
        let e = engine();
        let arn = e.elb().group("db", None);
        e.elb().seed(&arn, "10.7.7.7");
        e.elb().add_tags(&arn, &[("team", "data".into())]).await.unwrap();
        e.deploy(&spec(&arn, "rds-proxy:px"), None, &|_| {}, &mut Vec::new()).await.unwrap();
        let done = e.delete_resource(&arn, Some(&spec(&arn, "rds-proxy:px")), &|_| {}).await.unwrap();
        assert_eq!(joined(&done.deregistered, " "), "10.0.1.9:5432 10.0.2.9:5432");
        assert_eq!(e.elb().held(&arn), vec!["10.7.7.7"]);
        let tags = e.elb().tags(&arn).await.unwrap();
        assert_eq!(tags.keys().collect::<Vec<_>>(), vec!["team"]);
        // Again: idempotent.
        let again = e.delete_resource(&arn, Some(&spec(&arn, "rds-proxy:px")), &|_| {}).await.unwrap();
        assert!(again.deregistered.is_empty());
    }

    #[tokio::test]
    async fn create_update_and_delete_need_only_the_tag_scoped_permissions() {
        let e = engine();
        *e.elb().tag_scoped_permissions.lock().unwrap() = true;
        let arn = e.elb().group("db", None);
        // Create writes the sources and port tags on a group without them.
        let mut s = spec(&arn, "rds-proxy:px");
        s.port = Some(5432);
        e.deploy(&s, None, &|_| {}, &mut Vec::new()).await.unwrap();
        // Update rewrites the sources, removes the port tag, swaps the targets.
        let mut updated = spec(&arn, "rds-proxy:py");
        updated.wait_for_healthy = Duration::from_secs(5);
        e.deploy(&updated, Some(&s), &|_| {}, &mut Vec::new()).await.unwrap();
        assert_eq!(e.elb().held(&arn), vec!["10.0.3.9"]);
        let done = e.delete_resource(&arn, Some(&updated), &|_| {}).await.unwrap();
        assert_eq!(joined(&done.deregistered, " "), "10.0.3.9:5432");
        assert!(e.elb().held(&arn).is_empty());
        assert!(e.elb().tags(&arn).await.unwrap().is_empty());
        // The fake does refuse what the policy refuses: a group nobody tagged.
        let other = e.elb().group("other", None);
        e.elb().seed(&other, "10.7.7.7");
        let refused = e.deregister(&other, &[Target { ip: "10.7.7.7".parse().unwrap(), port: 5432 }]).await;
        assert!(refused.unwrap_err().to_string().contains("AccessDenied"));
    }

    #[tokio::test]
    async fn delete_stamps_the_view_then_deregisters_then_removes_the_tags() {
        let e = engine();
        let arn = e.elb().group("db", None);
        e.deploy(&spec(&arn, "rds-proxy:px"), None, &|_| {}, &mut Vec::new()).await.unwrap();
        // The deploy's own view is older than the Delete (not always by a
        // millisecond on a fast machine, hence set here).
        e.elb().add_tags(&arn, &[(VIEW_TAG, "1".into())]).await.unwrap();
        let before = e.elb().mutating_calls.lock().unwrap().len();
        e.delete_resource(&arn, Some(&spec(&arn, "rds-proxy:px")), &|_| {}).await.unwrap();
        let calls = e.elb().mutating_calls.lock().unwrap()[before..].to_vec();
        assert_eq!(
            calls,
            vec![
                format!("AddTags {VIEW_TAG}"),
                "DeregisterTargets".to_string(),
                format!("RemoveTags {SOURCES_TAG} {VIEW_TAG} {DNS_MEMORY_TAG} {SETTLED_TAG}"),
            ]
        );
    }

    #[tokio::test]
    async fn delete_tolerates_what_does_not_exist() {
        let e = engine();
        let gone =
            e.delete_resource("arn:aws:elasticloadbalancing:x:1:targetgroup/gone/1", None, &|_| {}).await.unwrap();
        assert!(gone.notes[0].contains("no longer exists"));
        let failed = e.delete_resource("failed-create-123", None, &|_| {}).await.unwrap();
        assert!(failed.notes[0].contains("failed create"));
        let arn = e.elb().group("db", Some("rds-proxy:nope"));
        let unresolvable = e.delete_resource(&arn, Some(&spec(&arn, "rds-proxy:nope")), &|_| {}).await.unwrap();
        assert!(unresolvable.notes.iter().any(|n| n.contains("rds-proxy:nope")));
    }

    fn narrowed(engine: SyncEngine<FakeElb, FakeRds, FakeDns>) -> SyncEngine<FakeElb, FakeRds, FakeDns> {
        use crate::exposure::{AllowedSources, ExposurePolicy, TargetGroupScope};
        engine.with_exposure(ExposurePolicy {
            sources: AllowedSources::parse("rds-proxy:py").unwrap(),
            target_groups: TargetGroupScope::parse("db-*").unwrap(),
            ..ExposurePolicy::default()
        })
    }

    #[tokio::test]
    async fn create_and_update_refused_by_the_policy_write_nothing() {
        let e = narrowed(engine());
        let arn = e.elb().group("db-a", None);
        let err = e.deploy(&spec(&arn, "rds-proxy:px"), None, &|_| {}, &mut Vec::new()).await.unwrap_err();
        assert!(matches!(err, DeployError::Refused(Refusal::SourcesNotAllowed { .. })), "{err}");
        let text = err.to_string();
        assert!(text.contains("db-a") && text.contains("rds-proxy:px") && text.contains("(rds-proxy:py)"), "{text}");
        // An Update to refused sources leaves the allowed ones in place.
        e.deploy(&spec(&arn, "rds-proxy:py"), None, &|_| {}, &mut Vec::new()).await.unwrap();
        let before = e.elb().mutating_calls.lock().unwrap().len();
        let (refused, allowed) = (spec(&arn, "rds-proxy:px"), spec(&arn, "rds-proxy:py"));
        let update = e.deploy(&refused, Some(&allowed), &|_| {}, &mut Vec::new()).await;
        assert!(matches!(update, Err(DeployError::Refused(_))));
        assert_eq!(e.elb().mutating_calls.lock().unwrap().len(), before, "nothing written");
        assert_eq!(e.elb().tags(&arn).await.unwrap()[SOURCES_TAG], "rds-proxy:py");

        let outside = e.elb().group("web", None);
        let err = e.deploy(&spec(&outside, "rds-proxy:py"), None, &|_| {}, &mut Vec::new()).await.unwrap_err();
        assert!(err.to_string().contains("target group web is outside NLB_SYNC_TARGET_GROUPS (db-*)"), "{err}");
        assert!(e.elb().calls_naming(&outside).is_empty());
    }

    #[tokio::test]
    async fn delete_leaves_a_group_out_of_scope_as_it_is() {
        let e = engine();
        let arn = e.elb().group("web", None);
        e.deploy(&spec(&arn, "rds-proxy:px"), None, &|_| {}, &mut Vec::new()).await.unwrap();
        let e = narrowed(e);
        let before = e.elb().group_calls.lock().unwrap().len();
        let done = e.delete_resource(&arn, Some(&spec(&arn, "rds-proxy:px")), &|_| {}).await.unwrap();
        assert!(done.notes[0].contains("outside NLB_SYNC_TARGET_GROUPS"), "{:?}", done.notes);
        assert_eq!(e.elb().group_calls.lock().unwrap().len(), before, "no call named the group");
        assert_eq!(e.elb().held(&arn).len(), 2);
    }

    #[tokio::test]
    async fn create_refuses_a_group_synced_from_other_sources() {
        let e = engine();
        let arn = e.elb().group("db", Some("rds-proxy:py"));
        let err = e.deploy(&spec(&arn, "rds-proxy:px"), None, &|_| {}, &mut Vec::new()).await.unwrap_err().to_string();
        assert!(err.contains("already synced from other sources") && err.contains("rds-proxy:py"), "{err}");
        assert!(e.elb().held(&arn).is_empty());
        // Re-applying the same sources (a retried Create) is fine.
        e.deploy(&spec(&arn, "rds-proxy:py"), None, &|_| {}, &mut Vec::new()).await.unwrap();
    }

    #[test]
    fn properties_accept_strings_and_lists_and_name_what_is_wrong() {
        let props = |v: Value| v.as_object().unwrap().clone();
        let arn = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/db/1";
        let s = ResourceSpec::from_properties(&props(serde_json::json!({
            "ServiceToken": "x", "TargetGroupArn": arn, "Sources": "rds-proxy:p rds-cluster:c:readers",
            "Port": "5432", "WaitForHealthySeconds": "30"
        })))
        .unwrap();
        assert_eq!(s.sources.len(), 2);
        assert_eq!((s.port, s.wait_for_healthy), (Some(5432), Duration::from_secs(30)));
        let s =
            ResourceSpec::from_properties(&props(serde_json::json!({"TargetGroupArn": arn, "Sources": ["dns:a.b"]})))
                .unwrap();
        assert_eq!((s.port, s.wait_for_healthy), (None, Duration::ZERO));
        for (bad, needle) in [
            (serde_json::json!({"Sources": ["dns:a.b"]}), "TargetGroupArn"),
            (serde_json::json!({"TargetGroupArn": "tg-1", "Sources": ["dns:a.b"]}), "expected a target group ARN"),
            (serde_json::json!({"TargetGroupArn": arn}), "Sources"),
            (serde_json::json!({"TargetGroupArn": arn, "Sources": ["rds-clustr:x"]}), "rds-clustr:x"),
            (serde_json::json!({"TargetGroupArn": arn, "Sources": ["dns:a.b"], "Port": "http"}), "Port"),
            (
                serde_json::json!({"TargetGroupArn": arn, "Sources": (0..30).map(|i| format!("dns:db{i}.example.internal")).collect::<Vec<_>>()}),
                "at most 256",
            ),
            (
                serde_json::json!({"TargetGroupArn": arn, "Sources": ["dns:a.b"], "WaitForHealthySeconds": 99999}),
                "3600",
            ),
        ] {
            let err = ResourceSpec::from_properties(&props(bad)).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[tokio::test]
    async fn delete_leaves_a_group_now_synced_from_other_sources_alone() {
        let e = engine();
        let arn = e.elb().group("db", Some("rds-proxy:px"));
        e.elb().seed(&arn, "10.0.1.9");
        let done = e.delete_resource(&arn, Some(&spec(&arn, "rds-proxy:py")), &|_| {}).await.unwrap();
        assert!(done.deregistered.is_empty());
        assert_eq!(e.elb().held(&arn), vec!["10.0.1.9"]);
        assert_eq!(e.elb().tags(&arn).await.unwrap()[SOURCES_TAG], "rds-proxy:px");
    }
}
