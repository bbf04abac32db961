//! One sync run: discover the managed target groups, resolve their sources once,
//! plan each target group and apply the plan (register, then deregister).
//!
//! Concurrent runs (schedule, failover event and deploy at once) must not undo
//! each other. A target group's *view time* is when the oldest RDS or DNS lookup
//! behind its answers was sent (a lookup shared within a run keeps its own
//! time). Before changing a target group a run reads the group's health, then
//! the `nlb-target-sync:applied-view` tag: if that holds a later view time, a
//! fresher view was already applied and this run changes nothing there;
//! otherwise it writes its own view time to the tag and only then registers and
//! deregisters. A stale run can only see a newer run's targets after that run
//! stamped the tag, so it cannot deregister what a newer view registered, nor
//! re-register what it removed. The order of two views is exact unless their
//! lookups were in flight at the same moment (milliseconds), where both saw
//! practically the same world. A run with nothing to change reads and writes
//! nothing more.

use std::collections::BTreeSet;
use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;

use crate::aws::{ElbError, TargetGroups};
use crate::plan::{DeregisterReason, HoldReason, Plan, SourceAnswer, plan};
use crate::resolve::{DnsLookup, RdsDirectory, SourceResolver};
use crate::spec::{SOURCES_TAG, SpecError, SyncSpec, VIEW_TAG};
use crate::target::{Target, TargetGroupInfo};

/// Which target groups a run covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every target group carrying the sources tag.
    AllManaged,
    /// Only these ARNs (each must exist and carry the sources tag).
    Only(Vec<String>),
}

/// How a run behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// Target groups synced at once.
    pub concurrency: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions { dry_run: false, concurrency: 8 }
    }
}

/// Why one target group could not be synced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("target group {target_group}: tag {tag} is invalid: {error}")]
    InvalidSpec { target_group: String, tag: &'static str, error: SpecError },
    #[error("target group {target_group} does not exist in this account and region")]
    TargetGroupNotFound { target_group: String },
    #[error(
        "target group {target_group} has no {SOURCES_TAG} tag, so it is not managed; tag it or leave it out of targetGroupArns"
    )]
    NotManaged { target_group: String },
    #[error("target group {target_group} has target type '{target_type}'; only 'ip' target groups can be synced")]
    NotIpTargetGroup { target_group: String, target_type: String },
    #[error("target group {target_group} has no port; set the nlb-target-sync:port tag")]
    NoPort { target_group: String },
    #[error("target group {target_group}: {} source(s) did not resolve, so nothing was deregistered: {}", failures.len(), failures.join("; "))]
    Unresolved { target_group: String, failures: Vec<String> },
    #[error("target group {target_group}: sources answered non-private addresses {}, which were not registered; the function is probably not using the VPC's DNS resolver", addresses.join(", "))]
    NonPrivate { target_group: String, addresses: Vec<String> },
    #[error("target group {target_group}: {error}")]
    Elb { target_group: String, error: ElbError },
}

/// A change held back, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HeldBackEntry {
    pub target: String,
    pub action: crate::plan::Action,
    pub reason: String,
}

/// What a run did to one target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupReport {
    pub target_group_arn: String,
    pub target_group_name: String,
    pub sources: Vec<String>,
    /// Targets the sources want (private addresses on the sync port).
    pub desired: Vec<String>,
    pub registered: Vec<String>,
    pub deregistered: Vec<String>,
    /// Deregistered because the RDS API says the instance lost its role.
    pub deregistered_role_changed: Vec<String>,
    pub held_back: Vec<HeldBackEntry>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl TargetGroupReport {
    fn new(arn: &str, name: &str) -> Self {
        TargetGroupReport {
            target_group_arn: arn.to_string(),
            target_group_name: name.to_string(),
            sources: Vec::new(),
            desired: Vec::new(),
            registered: Vec::new(),
            deregistered: Vec::new(),
            deregistered_role_changed: Vec::new(),
            held_back: Vec::new(),
            error: None,
            duration_ms: 0,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub dry_run: bool,
    pub target_groups: Vec<TargetGroupReport>,
    /// Set when the run could not even list the target groups.
    pub error: Option<String>,
}

impl SyncReport {
    /// The errors of the run, one line each; empty when everything synced.
    pub fn errors(&self) -> Vec<String> {
        self.error.iter().cloned().chain(self.target_groups.iter().filter_map(|r| r.error.clone())).collect()
    }
}

/// The outcome of syncing one target group, before it becomes a report.
struct Outcome {
    plan: Option<Plan>,
    sources: Vec<String>,
    applied_register: bool,
    applied_deregister: bool,
    error: Option<SyncError>,
}

/// The sync engine: the ELB, RDS and DNS adapters and the run options.
pub struct SyncEngine<T, R, D> {
    pub target_groups: T,
    pub rds: R,
    pub dns: D,
    pub options: SyncOptions,
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    pub fn new(target_groups: T, rds: R, dns: D, options: SyncOptions) -> Self {
        SyncEngine { target_groups, rds, dns, options }
    }

    /// Syncs the selected target groups, at most `concurrency` at once, sharing
    /// resolution work between them. Never panics on a bad target group: each
    /// failure is in its report.
    pub async fn run(&self, selection: &Selection) -> SyncReport {
        self.run_with_view(selection, u64::MAX).await
    }

    /// [`run`](Self::run) with each target group's view time (normally when the
    /// oldest lookup behind its answers was sent) capped at `view_cap_ms`, to
    /// test how runs with older and newer views interact.
    pub async fn run_with_view(&self, selection: &Selection, view_cap_ms: u64) -> SyncReport {
        let view_ms = view_cap_ms;
        let mut report = SyncReport { dry_run: self.options.dry_run, target_groups: Vec::new(), error: None };
        let mut groups: Vec<Result<TargetGroupInfo, (String, SyncError)>> = Vec::new();
        match selection {
            Selection::AllManaged => match self.target_groups.list_managed().await {
                Ok(found) => groups.extend(found.into_iter().map(Ok)),
                Err(e) => {
                    report.error = Some(format!("cannot list target groups: {e}"));
                    return report;
                }
            },
            Selection::Only(arns) => {
                let mut seen = BTreeSet::new();
                for arn in arns.iter().filter(|a| seen.insert(a.as_str())) {
                    groups.push(match self.target_groups.describe(arn).await {
                        Ok(Some(info)) if info.tags.contains_key(SOURCES_TAG) => Ok(info),
                        Ok(Some(_)) => Err((arn.clone(), SyncError::NotManaged { target_group: arn.clone() })),
                        Ok(None) => Err((arn.clone(), SyncError::TargetGroupNotFound { target_group: arn.clone() })),
                        Err(error) => Err((arn.clone(), SyncError::Elb { target_group: arn.clone(), error })),
                    });
                }
            }
        }

        let resolver = SourceResolver::new(&self.rds, &self.dns);
        let resolver = &resolver;
        let mut reports: Vec<TargetGroupReport> = futures::stream::iter(groups)
            .map(|group| async move {
                match group {
                    Ok(info) => self.sync_one(&info, resolver, view_ms).await,
                    Err((arn, error)) => {
                        let mut r = TargetGroupReport::new(&arn, "");
                        r.error = Some(error.to_string());
                        r
                    }
                }
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        reports.sort_by(|a, b| a.target_group_arn.cmp(&b.target_group_arn));
        report.target_groups = reports;
        report
    }

    async fn sync_one(
        &self,
        info: &TargetGroupInfo,
        resolver: &SourceResolver<'_, R, D>,
        view_ms: u64,
    ) -> TargetGroupReport {
        let started = Instant::now();
        let outcome = self.decide_and_apply(info, resolver, view_ms).await;
        let mut report = TargetGroupReport::new(&info.arn, &info.name);
        report.sources = outcome.sources;
        if let Some(plan) = &outcome.plan {
            report.desired = plan.desired.iter().map(Target::to_string).collect();
            if outcome.applied_register {
                report.registered = plan.register.iter().map(Target::to_string).collect();
            }
            if outcome.applied_deregister {
                for (target, why) in &plan.deregister {
                    report.deregistered.push(target.to_string());
                    if *why == DeregisterReason::RoleChanged {
                        report.deregistered_role_changed.push(target.to_string());
                    }
                }
            }
            report.held_back = plan
                .held_back
                .iter()
                .map(|h| HeldBackEntry { target: h.target.to_string(), action: h.action, reason: h.reason.to_string() })
                .collect();
            if self.options.dry_run {
                // In a dry run the report says what would have been done.
                report.registered = plan.register.iter().map(Target::to_string).collect();
                report.deregistered = plan.deregister.iter().map(|(t, _)| t.to_string()).collect();
            }
        }
        report.error = outcome.error.map(|e| e.to_string());
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        report
    }

    async fn decide_and_apply(
        &self,
        info: &TargetGroupInfo,
        resolver: &SourceResolver<'_, R, D>,
        view_ms: u64,
    ) -> Outcome {
        let mut outcome = Outcome {
            plan: None,
            sources: Vec::new(),
            applied_register: false,
            applied_deregister: false,
            error: None,
        };
        let name = if info.name.is_empty() { info.arn.clone() } else { info.name.clone() };
        let spec = match SyncSpec::from_tags(&info.tags) {
            Ok(Some(spec)) => spec,
            Ok(None) => {
                outcome.error = Some(SyncError::NotManaged { target_group: name });
                return outcome;
            }
            Err(error) => {
                outcome.error = Some(SyncError::InvalidSpec { target_group: name, tag: error.tag(), error });
                return outcome;
            }
        };
        outcome.sources = spec.sources.iter().map(ToString::to_string).collect();
        if info.target_type != "ip" {
            outcome.error =
                Some(SyncError::NotIpTargetGroup { target_group: name, target_type: info.target_type.clone() });
            return outcome;
        }
        let Some(port) = spec.port.or(info.port) else {
            outcome.error = Some(SyncError::NoPort { target_group: name });
            return outcome;
        };

        let observed: Vec<(SourceAnswer, u64)> =
            futures::future::join_all(spec.sources.iter().map(|s| resolver.resolve_observed(s, info.families))).await;
        // This group's view is as old as the oldest lookup behind it.
        let view_ms = observed.iter().map(|(_, at)| *at).min().unwrap_or(view_ms).min(view_ms);
        let answers: Vec<SourceAnswer> = observed.into_iter().map(|(answer, _)| answer).collect();
        let current = match self.target_groups.state(&info.arn).await {
            Ok(state) => state,
            Err(error) => {
                outcome.error = Some(SyncError::Elb { target_group: name, error });
                return outcome;
            }
        };
        let mut plan = plan(&answers, port, &current);
        let refused: Vec<String> = plan.refused_addresses().iter().map(ToString::to_string).collect();

        if !self.options.dry_run && !plan.is_noop() {
            match self.claim_view(&info.arn, view_ms).await {
                Ok(None) => {}
                Ok(Some(newer)) => plan.hold_everything(HoldReason::NewerViewApplied { view_ms: newer }),
                Err(error) => {
                    outcome.error = Some(SyncError::Elb { target_group: name, error });
                    outcome.plan = Some(plan);
                    return outcome;
                }
            }
        }
        if !self.options.dry_run {
            if !plan.register.is_empty() {
                if let Err(error) = self.target_groups.register(&info.arn, &plan.register).await {
                    // Nothing is deregistered when registering failed (no empty window).
                    outcome.error = Some(SyncError::Elb { target_group: name, error });
                    outcome.plan = Some(plan);
                    return outcome;
                }
                outcome.applied_register = true;
            }
            if !plan.deregister.is_empty() {
                let targets: Vec<Target> = plan.deregister.iter().map(|(t, _)| *t).collect();
                if let Err(error) = self.target_groups.deregister(&info.arn, &targets).await {
                    outcome.error = Some(SyncError::Elb { target_group: name, error });
                    outcome.plan = Some(plan);
                    return outcome;
                }
                outcome.applied_deregister = true;
            }
        }
        if !plan.unresolved.is_empty() {
            outcome.error = Some(SyncError::Unresolved { target_group: name, failures: plan.unresolved.clone() });
        } else if !refused.is_empty() {
            outcome.error = Some(SyncError::NonPrivate { target_group: name, addresses: refused });
        }
        outcome.plan = Some(plan);
        outcome
    }
}

impl<T: TargetGroups, R, D> SyncEngine<T, R, D> {
    /// Read after the health: `Some(newer)` when a run with a later view already
    /// changed the group; otherwise stamps this run's view and returns `None`.
    async fn claim_view(&self, arn: &str, view_ms: u64) -> Result<Option<u64>, ElbError> {
        let tags = self.target_groups.tags(arn).await?;
        if let Some(applied) = tags.get(VIEW_TAG).and_then(|v| v.parse::<u64>().ok())
            && applied > view_ms
        {
            return Ok(Some(applied));
        }
        self.target_groups.add_tags(arn, &[(VIEW_TAG, view_ms.to_string())]).await?;
        Ok(None)
    }
}

/// A run in which some target group failed: the invocation must fail so that
/// Lambda's Errors metric, alarms and retries see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} of {} target group(s) failed to sync: {}", errors.len(), total, errors.join(" | "))]
pub struct RunFailed {
    pub errors: Vec<String>,
    pub total: usize,
}

impl From<RunFailed> for lambda_runtime::Diagnostic {
    fn from(failed: RunFailed) -> Self {
        lambda_runtime::Diagnostic { error_type: "SyncFailed".into(), error_message: failed.to_string() }
    }
}

impl SyncReport {
    /// `Ok` when every target group synced, else the run's errors.
    pub fn into_result(self) -> Result<SyncReport, RunFailed> {
        let errors = self.errors();
        if errors.is_empty() { Ok(self) } else { Err(RunFailed { total: self.target_groups.len().max(1), errors }) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeDns, FakeElb, FakeRds};
    use std::sync::atomic::Ordering;

    fn engine(dry_run: bool) -> SyncEngine<FakeElb, FakeRds, FakeDns> {
        let rds = FakeRds::default();
        rds.proxy("px", None, "px.proxy.test");
        rds.cluster("prod", &[("prod-1", true), ("prod-2", false)]);
        rds.instance("prod-1", Some("prod-1.test"));
        rds.instance("prod-2", Some("prod-2.test"));
        let dns = FakeDns::default();
        dns.set("px.proxy.test", &["10.0.1.9", "10.0.2.9"]);
        dns.set("prod-1.test", &["10.0.1.1"]);
        dns.set("prod-2.test", &["10.0.2.2"]);
        SyncEngine::new(FakeElb::default(), rds, dns, SyncOptions { dry_run, concurrency: 4 })
    }

    #[tokio::test]
    async fn two_groups_sharing_a_source_resolve_it_once_and_both_fill() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-proxy:px"));
        let b = e.target_groups.group("b", Some("rds-proxy:px"));
        let report = e.run(&Selection::AllManaged).await;
        assert!(report.errors().is_empty(), "{:?}", report.errors());
        assert_eq!(e.target_groups.held(&a), vec!["10.0.1.9", "10.0.2.9"]);
        assert_eq!(e.target_groups.held(&b), vec!["10.0.1.9", "10.0.2.9"]);
        assert_eq!(e.rds.calls.load(Ordering::SeqCst), 1);
        assert_eq!(e.dns.queries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn rerun_with_unchanged_sources_makes_no_mutating_call() {
        let e = engine(false);
        e.target_groups.group("a", Some("rds-proxy:px rds-cluster:prod"));
        e.run(&Selection::AllManaged).await;
        let after_first = e.target_groups.mutations.load(Ordering::SeqCst);
        assert_eq!(after_first, 1, "one RegisterTargets call for the first fill");
        let tag_writes = e.target_groups.tag_writes.load(Ordering::SeqCst);
        let report = e.run(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.mutations.load(Ordering::SeqCst), after_first);
        assert_eq!(e.target_groups.tag_writes.load(Ordering::SeqCst), tag_writes, "no view stamp either");
        assert!(report.target_groups[0].registered.is_empty() && report.target_groups[0].deregistered.is_empty());
    }

    #[tokio::test]
    async fn bad_tag_fails_its_group_only_and_untagged_groups_are_untouched() {
        let e = engine(false);
        let bad = e.target_groups.group("bad", Some("rds-clustr:prod"));
        let good = e.target_groups.group("good", Some("rds-cluster:prod"));
        let untagged = e.target_groups.group("plain", None);
        e.target_groups.seed(&untagged, "10.9.9.9");
        let report = e.run(&Selection::AllManaged).await;
        let errors = report.errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("target group bad")
                && errors[0].contains(SOURCES_TAG)
                && errors[0].contains("rds-clustr:prod"),
            "{}",
            errors[0]
        );
        assert!(report.clone().into_result().is_err());
        assert_eq!(e.target_groups.held(&good), vec!["10.0.1.1"]);
        assert!(e.target_groups.held(&bad).is_empty());
        assert_eq!(e.target_groups.held(&untagged), vec!["10.9.9.9"]);
        assert_eq!(report.target_groups.len(), 2, "the untagged group is not even reported");
    }

    #[tokio::test]
    async fn failed_dns_fails_the_run_and_removes_nothing() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-proxy:px"));
        e.target_groups.seed(&a, "10.0.7.7");
        e.dns.fail("px.proxy.test");
        let report = e.run(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.7.7"]);
        let err = report.into_result().unwrap_err().to_string();
        assert!(err.contains("px.proxy.test") && err.contains("nothing was deregistered"), "{err}");
    }

    #[tokio::test]
    async fn dry_run_reports_the_plan_and_changes_nothing() {
        let e = engine(true);
        let a = e.target_groups.group("a", Some("rds-proxy:px"));
        let report = e.run(&Selection::AllManaged).await;
        assert!(report.dry_run);
        assert_eq!(report.target_groups[0].registered, vec!["10.0.1.9:5432", "10.0.2.9:5432"]);
        assert!(e.target_groups.held(&a).is_empty());
        assert_eq!(e.target_groups.mutations.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn failed_register_stops_before_deregistering() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-cluster:prod"));
        // 10.0.2.2 (prod-2) was the writer; the RDS API now names prod-1.
        e.target_groups.seed(&a, "10.0.2.2");
        *e.target_groups.fail_register.lock().unwrap() = true;
        let report = e.run(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.2.2"], "old writer kept: no empty window");
        assert!(report.errors()[0].contains("RegisterTargets"));
        assert!(report.target_groups[0].deregistered.is_empty());
    }

    #[tokio::test]
    async fn writer_change_swaps_targets_in_one_run() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-cluster:prod:writer"));
        e.run(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.1.1"]);
        e.rds.cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        let report = e.run(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.2.2"]);
        assert_eq!(report.target_groups[0].deregistered_role_changed, vec!["10.0.1.1:5432"]);
    }

    #[tokio::test]
    async fn selection_reports_missing_and_unmanaged_arns() {
        let e = engine(false);
        let plain = e.target_groups.group("plain", None);
        let a = e.target_groups.group("a", Some("rds-proxy:px"));
        let report = e.run(&Selection::Only(vec![a.clone(), plain.clone(), "arn:missing".into()])).await;
        let errors = report.errors();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("arn:missing") && e.contains("does not exist")));
        assert!(errors.iter().any(|e| e.contains(&plain) && e.contains("not managed")));
        assert_eq!(e.target_groups.held(&a).len(), 2);
        assert!(e.target_groups.held(&plain).is_empty());
    }

    #[tokio::test]
    async fn a_run_with_an_older_view_does_not_undo_a_newer_one() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-cluster:prod"));
        e.run_with_view(&Selection::AllManaged, 1_000).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.1.1"]);

        // Failover: a run that resolved at 3000 sees prod-2 as writer and swaps.
        e.rds.cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        e.run_with_view(&Selection::AllManaged, 3_000).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.2.2"]);

        // A run that resolved at 2000, before the failover, reads the health
        // only now: its stale plan (put prod-1 back, drop prod-2) is not applied.
        e.rds.cluster("prod", &[("prod-1", true), ("prod-2", false)]);
        let report = e.run_with_view(&Selection::AllManaged, 2_000).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.2.2"]);
        let group = &report.target_groups[0];
        assert!(group.registered.is_empty() && group.deregistered.is_empty(), "{group:?}");
        assert_eq!(group.held_back.len(), 2);
        assert!(group.held_back.iter().all(|h| h.reason.contains("resolved later (at 3000 ms)")), "{group:?}");
        assert!(group.error.is_none());

        // A later view applies normally and stamps the tag.
        let report = e.run_with_view(&Selection::AllManaged, 4_000).await;
        assert_eq!(report.target_groups[0].registered, vec!["10.0.1.1:5432"]);
        assert_eq!(e.target_groups.tags(&a).await.unwrap()[VIEW_TAG], "4000");
    }
}
