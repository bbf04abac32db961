//! The operator's trigger: what the `nlb-target-sync` command line asks of the
//! engine. Finding a target group by name or ARN, the status of a target group
//! (each target's health, ELB's reason and which source wants it), applying a
//! sync and waiting for health checks, and writing or removing the sync tags.
//! Every call goes through the engine's own methods; planning without change
//! is the engine's dry run. `explain` has its own module.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::exposure::{AllowedAddresses, Refusal};
use crate::failure::ApiFailure;
use crate::managed::GroupError;
use crate::plan::{Unresolved, unresolved};
use crate::ports::{DnsLookup, ElbError, RdsDirectory, TargetGroups};
use crate::resolution::SourceAnswer;
use crate::settle::Settled;
use crate::spec::{SOURCES_TAG, Source, SpecError, SyncSpec, VIEW_TAG};
use crate::sync::{RunError, Selection, SyncEngine, SyncError, spec_tags};
use crate::target::{HealthDetail, Target, TargetGroupInfo, TargetHealth};

/// How often `apply --wait-healthy` re-reads target health.
const HEALTH_POLL: Duration = Duration::from_secs(1);

/// Why an operator command could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperateError {
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error("{0}; nothing was written")]
    Refused(#[from] SpecError),
    /// The installer's policy (`NLB_SYNC_*` allow-lists) does not allow it.
    #[error(transparent)]
    NotAllowed(#[from] Refusal),
    #[error(transparent)]
    Elb(#[from] ElbError),
    #[error(transparent)]
    Run(#[from] RunError),
}

impl OperateError {
    /// The failed AWS call's answer, when one AWS call made the command
    /// fail: its kind and its fix, which the command line can show apart.
    pub fn failure_mut(&mut self) -> Option<&mut ApiFailure> {
        match self {
            OperateError::Elb(error) => Some(&mut error.failure),
            OperateError::Run(error) => error.failure_mut(),
            OperateError::Group(_) | OperateError::Refused(_) | OperateError::NotAllowed(_) => None,
        }
    }
}

/// One target of a target group's status: registered, wanted, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStatus {
    pub target: Target,
    /// `None`: wanted but not registered.
    pub health: Option<TargetHealth>,
    /// ELB's reason for the state, where it gives one.
    pub detail: Option<HealthDetail>,
    /// The sources whose answers hold this target; empty: not wanted.
    pub wanted_by: Vec<Source>,
}

/// What a target group contains, what it should contain, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    pub arn: String,
    pub name: String,
    pub sources: Vec<Source>,
    /// The port targets are registered on (the port tag, else the group's port).
    pub port: Option<u16>,
    /// The `nlb-target-sync:applied-view` tag: when (Unix ms) the sources of
    /// the last change a sync applied were resolved.
    pub applied_view_ms: Option<u64>,
    /// Registered and wanted targets, in order.
    pub targets: Vec<TargetStatus>,
    /// Sources that failed to resolve or gave no address, as the planner
    /// counts them.
    pub unresolved: Vec<Unresolved>,
    /// Why the status is incomplete (bad tags, not managed, ELB failure).
    pub error: Option<SyncError>,
}

/// What `tag` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub arn: String,
    pub name: String,
    /// The sources tag's value before, if there was one.
    pub previous: Option<String>,
    pub spec: SyncSpec,
    /// False in a dry run: nothing was written.
    pub written: bool,
}

/// What `untag` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untagged {
    pub arn: String,
    pub name: String,
    /// The sync tags the group had (and no longer has, unless a dry run).
    pub removed: Vec<&'static str>,
    pub written: bool,
}

/// Validates sources and port as the tags would hold them, before any call
/// (an error here is [`OperateError::Refused`]: nothing was written).
pub fn spec_from_tokens(tokens: &[String], port: Option<u16>) -> Result<SyncSpec, SpecError> {
    SyncSpec::from_tokens(tokens, port)
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    /// A target group by ARN (`arn:...`) or by name; one outside the
    /// policy's scope is refused (a command reads it no further).
    pub async fn find_target_group(&self, reference: &str) -> Result<TargetGroupInfo, OperateError> {
        let found = if reference.starts_with("arn:") {
            self.target_group(reference).await?
        } else {
            self.target_groups_by_name(reference).await?
        };
        let info = found.ok_or_else(|| GroupError::NotFound { target_group: reference.to_string() })?;
        self.admit(&info, &[])?;
        Ok(info)
    }

    /// The run selection for target groups named by ARN or name; none: every
    /// managed one. A name that matches nothing is an error here; whether a
    /// group is managed is the run's to say.
    pub async fn select(&self, references: &[String]) -> Result<Selection, OperateError> {
        if references.is_empty() {
            return Ok(Selection::AllManaged);
        }
        let mut arns = Vec::new();
        for reference in references {
            arns.push(self.find_target_group(reference).await?.arn);
        }
        Ok(Selection::Only(arns))
    }

    /// The status of the named target groups, or of every managed one.
    /// Resolves the sources (sharing lookups) and reads health; changes nothing.
    pub async fn status(&self, references: &[String]) -> Result<Vec<GroupStatus>, OperateError> {
        let groups = if references.is_empty() {
            let mut managed = self.managed_target_groups().await.map_err(RunError::ListTargetGroups)?;
            managed.retain(|group| self.exposure().covers(group));
            managed
        } else {
            let mut found = Vec::new();
            for reference in references {
                found.push(self.find_target_group(reference).await?);
            }
            found
        };
        let resolver = self.resolver();
        // Like a run: the RDS resources of many groups are looked up in bulk.
        self.prefetch(&resolver, groups.iter()).await;
        let mut statuses = Vec::new();
        for info in groups {
            let mut status = GroupStatus {
                arn: info.arn.clone(),
                name: info.name.clone(),
                sources: Vec::new(),
                port: info.port,
                applied_view_ms: info.tags.get(VIEW_TAG).and_then(|v| v.parse().ok()),
                targets: Vec::new(),
                unresolved: Vec::new(),
                error: None,
            };
            // The status shows what it can: the sources of a group that
            // cannot be synced still resolve, and its targets are still read.
            let spec = match info.spec() {
                Ok(Some(spec)) => Some(spec),
                Ok(None) => {
                    status.error = Some(GroupError::NotManaged { target_group: info.name.clone() }.into());
                    None
                }
                Err(error) => {
                    status.error = Some(error.into());
                    None
                }
            };
            let mut answers = Vec::new();
            if let Some(spec) = &spec {
                status.sources = spec.sources.clone();
                status.port = spec.port.or(info.port);
                match self.admit(&info, &spec.sources) {
                    // Sources the policy refuses are not looked up: nothing wants their addresses.
                    Err(refusal) => status.error = Some(refusal.into()),
                    Ok(()) => {
                        for source in &spec.sources {
                            answers.push(resolver.resolve(source, info.families).await);
                        }
                    }
                }
            }
            if let Err(error) = info.require_ip() {
                status.error.get_or_insert(error.into());
            }
            match self.target_health(&info.arn).await {
                Ok(state) => {
                    let allowed = &self.exposure().addresses;
                    status.targets = target_statuses(&answers, status.port, allowed, &state.targets, &state.details);
                }
                Err(error) => status.error = Some(SyncError::Elb { target_group: info.name.clone(), error }),
            }
            status.unresolved = unresolved(&answers);
            statuses.push(status);
        }
        Ok(statuses)
    }

    /// Syncs the selection now; with a `wait`, waits until every wanted target
    /// passes health checks, then runs once more where a healthy target was
    /// kept only until its replacement was healthy (make before break).
    pub async fn apply(&self, selection: &Selection, wait: Duration, progress: &(impl Fn(&str) + Sync)) -> Settled {
        self.sync_and_wait(selection, wait, HEALTH_POLL, progress).await
    }

    /// Writes the sync tags of a target group (by name or ARN): `spec` comes
    /// from [`spec_from_tokens`], so bad tokens never reach ELB, and sources
    /// the installer's policy refuses are never written.
    pub async fn tag(&self, reference: &str, spec: SyncSpec) -> Result<Tagged, OperateError> {
        let info = self.find_target_group(reference).await?;
        info.require_ip()?;
        self.admit(&info, &spec.sources)?;
        self.write_spec(&info, &spec).await?;
        Ok(Tagged {
            previous: info.tags.get(SOURCES_TAG).cloned(),
            arn: info.arn,
            name: info.name,
            spec,
            written: !self.options().dry_run,
        })
    }

    /// Removes the sync tags (sources, port, and the functions' state tags),
    /// so no run touches the target group again; its targets stay as they are.
    pub async fn untag(&self, reference: &str) -> Result<Untagged, OperateError> {
        let info = self.find_target_group(reference).await?;
        let removed: Vec<&'static str> = spec_tags(true).into_iter().filter(|k| info.tags.contains_key(*k)).collect();
        let written = !self.options().dry_run && !removed.is_empty();
        if written {
            self.remove_spec(&info.arn, true).await?;
        }
        Ok(Untagged { arn: info.arn, name: info.name, removed, written })
    }
}

/// Every registered target and every wanted one (an address a source
/// answered that `allowed` admits, on `port`), with the sources that want it.
fn target_statuses(
    answers: &[SourceAnswer],
    port: Option<u16>,
    allowed: &AllowedAddresses,
    registered: &BTreeMap<Target, TargetHealth>,
    details: &BTreeMap<Target, HealthDetail>,
) -> Vec<TargetStatus> {
    let mut wanted: BTreeMap<Target, Vec<Source>> = BTreeMap::new();
    if let Some(port) = port {
        for answer in answers {
            let Ok(resolution) = &answer.outcome else { continue };
            for ip in resolution.addresses.iter().filter(|ip| allowed.admits(ip)) {
                wanted.entry(Target { ip: *ip, port }).or_default().push(answer.source.clone());
            }
        }
    }
    let all: BTreeSet<Target> = registered.keys().chain(wanted.keys()).copied().collect();
    all.into_iter()
        .map(|target| TargetStatus {
            target,
            health: registered.get(&target).cloned(),
            detail: details.get(&target).cloned(),
            wanted_by: wanted.remove(&target).unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeDns, FakeElb, FakeRds};
    use crate::spec::PORT_TAG;
    use crate::sync::SyncOptions;
    use std::sync::atomic::Ordering;

    fn engine(dry_run: bool) -> SyncEngine<FakeElb, FakeRds, FakeDns> {
        let rds = FakeRds::default();
        rds.cluster("prod", &[("prod-1", true), ("prod-2", false)]);
        rds.instance("prod-1", Some("prod-1.test"));
        rds.instance("prod-2", Some("prod-2.test"));
        let dns = FakeDns::default();
        dns.set("prod-1.test", &["10.0.1.1"]);
        dns.set("prod-2.test", &["10.0.2.2"]);
        dns.set("public.test", &["10.0.3.3", "203.0.113.7"]);
        SyncEngine::new(FakeElb::default(), rds, dns, SyncOptions { dry_run, concurrency: 2, ..SyncOptions::default() })
    }

    fn tokens(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    #[tokio::test]
    async fn status_names_the_sources_that_want_each_target_and_the_unwanted_ones() {
        let e = engine(false);
        let arn = e.elb().group("a", Some("rds-cluster:prod:writer dns:public.test"));
        e.elb().seed(&arn, "10.0.2.2");
        let status = e.status(&tokens(&["a"])).await.unwrap();
        assert_eq!(status.len(), 1);
        let group = &status[0];
        assert_eq!(group.error, None);
        assert_eq!(group.port, Some(5432));
        let rows: Vec<(String, Option<&str>, Vec<String>)> = group
            .targets
            .iter()
            .map(|t| {
                (
                    t.target.to_string(),
                    t.health.as_ref().map(TargetHealth::label),
                    t.wanted_by.iter().map(ToString::to_string).collect(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("10.0.1.1:5432".into(), None, vec!["rds-cluster:prod:writer".into()]),
                ("10.0.2.2:5432".into(), Some("healthy"), vec![]),
                ("10.0.3.3:5432".into(), None, vec!["dns:public.test".into()]),
            ],
            "the public address is never wanted"
        );
        assert_eq!(e.elb().mutations.load(Ordering::SeqCst), 0, "status changes nothing");
    }

    #[tokio::test]
    async fn status_reports_bad_tags_and_missing_groups() {
        let e = engine(false);
        e.elb().group("bad", Some("rds-clustr:prod"));
        let status = e.status(&[]).await.unwrap();
        let error = status[0].error.as_ref().unwrap().to_string();
        assert!(error.contains("rds-clustr:prod") && error.contains(SOURCES_TAG), "{error}");
        let err = e.status(&tokens(&["nope"])).await.unwrap_err();
        assert_eq!(err, OperateError::Group(GroupError::NotFound { target_group: "nope".into() }));
    }

    #[tokio::test]
    async fn status_counts_unresolved_sources_as_the_planner_does() {
        // A Global Database secondary has no writer by design: its writer
        // source stands for nothing, and that is not a failure.
        let e = engine(false);
        e.rds().cluster("replica", &[("replica-1", false)]);
        e.rds().instance("replica-1", Some("prod-1.test"));
        e.rds().global("replica", crate::ports::GlobalRole::Secondary { global_cluster: "g".into() });
        e.elb().group("writer", Some("rds-cluster:replica:writer"));
        e.elb().group("gone", Some("rds-instance:nope"));
        let status = e.status(&[]).await.unwrap();
        let unresolved = |name: &str| {
            let group = status.iter().find(|g| g.name == name).unwrap();
            group.unresolved.iter().map(|u| u.source.to_string()).collect::<Vec<_>>()
        };
        assert!(unresolved("writer").is_empty(), "{:?}", unresolved("writer"));
        assert_eq!(unresolved("gone"), ["rds-instance:nope"]);
    }

    #[tokio::test]
    async fn a_bad_token_is_refused_before_any_call() {
        let err = spec_from_tokens(&tokens(&["rds-cluster:prod", "rds-prxy:px"]), None).unwrap_err();
        let text = OperateError::from(err).to_string();
        assert!(text.contains("'rds-prxy:px'") && text.contains("nothing was written"), "{text}");
        let long: Vec<String> = (0..20).map(|i| format!("dns:host-{i}.example.internal")).collect();
        assert!(matches!(spec_from_tokens(&long, None), Err(SpecError::SourcesTooLong { .. })));
        assert!(matches!(spec_from_tokens(&tokens(&["dns:a.b"]), Some(0)), Err(SpecError::BadPort { .. })));
    }

    #[tokio::test]
    async fn the_policy_binds_tag_and_keeps_groups_out_of_scope_unread() {
        use crate::exposure::{AllowedSources, ExposurePolicy, TargetGroupScope};
        let e = engine(false).with_exposure(ExposurePolicy {
            sources: AllowedSources::parse("rds-cluster:*").unwrap(),
            target_groups: TargetGroupScope::parse("db-*").unwrap(),
            ..ExposurePolicy::default()
        });
        let arn = e.elb().group("db-a", None);
        let refused = e.tag("db-a", spec_from_tokens(&tokens(&["rds-cluster:prod", "dns:public.test"]), None).unwrap());
        let err = refused.await.unwrap_err();
        assert!(matches!(err, OperateError::NotAllowed(Refusal::SourcesNotAllowed { .. })), "{err}");
        assert!(err.to_string().contains("source dns:public.test is not allowed"), "{err}");
        assert!(e.elb().tags(&arn).await.unwrap().is_empty(), "nothing written");
        e.tag("db-a", spec_from_tokens(&tokens(&["rds-cluster:prod"]), None).unwrap()).await.unwrap();

        let outside = e.elb().group("web", Some("rds-cluster:prod"));
        for result in [
            e.select(&tokens(&["web"])).await.err(),
            e.untag("web").await.err(),
            e.status(&tokens(&["web"])).await.err(),
        ] {
            assert!(matches!(result, Some(OperateError::NotAllowed(Refusal::OutOfScope { .. }))), "{result:?}");
        }
        let every = e.status(&[]).await.unwrap();
        assert_eq!(every.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), vec!["db-a"]);
        assert!(e.elb().calls_naming(&outside).is_empty());
        assert_eq!(e.elb().tags(&outside).await.unwrap()[SOURCES_TAG], "rds-cluster:prod");
    }

    #[tokio::test]
    async fn tag_writes_the_spec_and_untag_removes_every_sync_tag() {
        let e = engine(false);
        let arn = e.elb().group("plain", None);
        let spec = spec_from_tokens(&tokens(&["rds-cluster:prod:readers"]), Some(6432)).unwrap();
        let tagged = e.tag("plain", spec).await.unwrap();
        assert!(tagged.written && tagged.previous.is_none());
        let tags = e.elb().tags(&arn).await.unwrap();
        assert_eq!(tags[SOURCES_TAG], "rds-cluster:prod:readers");
        assert_eq!(tags[PORT_TAG], "6432");
        e.elb().add_tags(&arn, &[(crate::spec::DNS_MEMORY_TAG, "10.0.0.1@1".into())]).await.unwrap();
        let untagged = e.untag(&arn).await.unwrap();
        assert_eq!(
            untagged.removed,
            vec![SOURCES_TAG, crate::spec::DNS_MEMORY_TAG, PORT_TAG],
            "what was really removed"
        );
        assert!(e.elb().tags(&arn).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn apply_waits_for_health_then_finishes_make_before_break() {
        let e = engine(false);
        // An instance source: a cluster source would retire the stray at once
        // (it is no member), and this is about make before break.
        let arn = e.elb().group("a", Some("rds-instance:prod-1"));
        e.elb().seed(&arn, "10.0.9.9");
        *e.elb().register_health.lock().unwrap() = TargetHealth::Initial;
        let selection = e.select(&tokens(&["a"])).await.unwrap();
        let applied = e.apply(&selection, Duration::from_millis(50), &|_| {}).await;
        assert_eq!(
            e.elb().held(&arn),
            vec!["10.0.1.1", "10.0.9.9"],
            "the old target stays while the new one is initial"
        );
        assert_eq!(applied.unhealthy[&arn].len(), 1);
        assert!(!applied.succeeded() && applied.finish.is_none());

        e.elb()
            .targets
            .lock()
            .unwrap()
            .get_mut(&arn)
            .unwrap()
            .insert(Target { ip: "10.0.1.1".parse().unwrap(), port: 5432 }, TargetHealth::Healthy);
        let applied = e.apply(&selection, Duration::from_secs(5), &|_| {}).await;
        assert!(applied.succeeded(), "{applied:?}");
        assert!(applied.finish.is_none(), "the first run already removed the old target: a wanted one is healthy");
        assert_eq!(e.elb().held(&arn), vec!["10.0.1.1"]);
    }

    #[tokio::test]
    async fn a_replacement_that_turns_healthy_during_the_wait_retires_the_old_target() {
        let e = engine(false);
        // An instance source: a cluster source would retire the stray at once
        // (it is no member), and this is about make before break.
        let arn = e.elb().group("a", Some("rds-instance:prod-1"));
        e.elb().seed(&arn, "10.0.9.9");
        *e.elb().register_health.lock().unwrap() = TargetHealth::Initial;
        let selection = e.select(&tokens(&["a"])).await.unwrap();
        let turn_healthy = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let new = Target { ip: "10.0.1.1".parse().unwrap(), port: 5432 };
            e.elb().targets.lock().unwrap().get_mut(&arn).unwrap().insert(new, TargetHealth::Healthy);
        };
        let (applied, ()) = tokio::join!(e.apply(&selection, Duration::from_secs(10), &|_| {}), turn_healthy);
        assert!(applied.succeeded(), "{applied:?}");
        let finish = applied.finish.expect("a second run after the wait");
        assert_eq!(finish.groups[0].deregistered.len(), 1);
        assert_eq!(e.elb().held(&arn), vec!["10.0.1.1"]);
    }

    #[tokio::test]
    async fn a_dry_run_engine_writes_no_tag() {
        let e = engine(true);
        let arn = e.elb().group("plain", None);
        let tagged = e.tag(&arn, spec_from_tokens(&tokens(&["dns:a.test"]), None).unwrap()).await.unwrap();
        assert!(!tagged.written);
        assert!(e.elb().tags(&arn).await.unwrap().is_empty());
        let applied = e.apply(&Selection::AllManaged, Duration::from_secs(1), &|_| {}).await;
        assert!(applied.run.dry_run && applied.run.groups.is_empty());
    }
}
