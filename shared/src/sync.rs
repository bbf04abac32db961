//! The sync engine: discover the managed target groups, resolve their sources
//! once, plan each target group and apply the plan (register, then deregister).
//! Its methods are the only way the triggers (`deploy`, `failover`) reach the
//! target groups, the RDS API and DNS.
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

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::adapters::NoLeases;
use crate::clock::now_millis;
use crate::exposure::{AllowedAddresses, ExposurePolicy, Refusal};
use crate::failure::ApiFailure;
use crate::lease::Lease;
use crate::listing::joined;
use crate::managed::{GroupError, ManagedGroup};
use crate::memory_tag;
use crate::name_memory::DnsMemory;
use crate::plan::{DeregisterReason, HeldBack, History, HoldReason, Plan, Unresolved, plan_with_history};
use crate::ports::{
    BlueGreenDeployment, DnsLookup, ElbError, LeaseError, LeaseStore, LookupError, RdsDirectory, RdsError, TargetGroups,
};
use crate::resolution::SourceAnswer;
use crate::resolve::{QueryPlan, SourceResolver};
use crate::settled::{AuditSchedule, withdraw_digest};
use crate::spec::{DNS_MEMORY_TAG, PORT_TAG, SOURCES_TAG, STATE_TAGS, Source, SyncSpec, VIEW_TAG};
use crate::target::{
    AddressFamilies, PendingTarget, Target, TargetGroupInfo, TargetGroupState, TargetHealth, not_healthy,
};
use crate::usage::{ApiMeter, ApiUsage};

/// Which target groups a run covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every target group carrying the sources tag.
    AllManaged,
    /// Only these ARNs (each must exist and carry the sources tag).
    Only(Vec<String>),
    /// These target groups as this invocation just listed them (with their
    /// tags): the run describes none of them again.
    Listed(Vec<TargetGroupInfo>),
}

/// How a run behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// Target groups synced at once.
    pub concurrency: usize,
    /// Queries per `dns:` source and run; their answers are unioned, so a
    /// name answering rotating subsets is seen whole.
    pub dns_queries: usize,
    /// How long a `dns:` name seen rotating must have stopped answering an
    /// address before it is deregistered (zero: at once, as for other sources).
    pub absence_window: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions { dry_run: false, concurrency: 8, dns_queries: 3, absence_window: Duration::from_secs(120) }
    }
}

/// The tags that make a target group managed and hold its sync state: the
/// sources, the functions' state tags and, `with_port`, the port tag.
pub(crate) fn spec_tags(with_port: bool) -> Vec<&'static str> {
    let mut keys = vec![SOURCES_TAG];
    keys.extend(STATE_TAGS);
    if with_port {
        keys.push(PORT_TAG);
    }
    keys
}

/// Why one target group could not be synced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error("target group {target_group}: {} source(s) did not resolve, so nothing was deregistered: {}", failures.len(), joined(failures, "; "))]
    Unresolved { target_group: String, failures: Vec<Unresolved> },
    /// The installer's policy refuses the group's sources (a group out of
    /// scope is skipped, not refused, in a run).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("target group {target_group}: {}", addresses_refused_text(addresses, allowed))]
    AddressesNotAllowed { target_group: String, addresses: Vec<std::net::IpAddr>, allowed: AllowedAddresses },
    #[error("target group {target_group}: {error}")]
    Elb { target_group: String, error: ElbError },
    #[error("target group {target_group}: {error}; nothing was changed in this run, the next run retries")]
    Lease { target_group: String, error: LeaseError },
    #[error(
        "target group {target_group}: this run's lease ran out before its changes were made (the run was slowed or \
         paused); it stopped changing the group, and the next run completes the change"
    )]
    LeaseRanOut { target_group: String },
}

/// Why answered addresses were not registered: a public answer usually means
/// the wrong resolver; an answer outside the installer's CIDRs is refused by
/// the policy.
fn addresses_refused_text(addresses: &[IpAddr], allowed: &AllowedAddresses) -> String {
    let addresses = joined(addresses, ", ");
    match allowed {
        AllowedAddresses::PrivateRanges => format!(
            "sources answered non-private addresses {addresses}, which were not registered; the DNS resolver in \
             use is probably not the VPC's (the command line outside the VPC: pass --dns-server)"
        ),
        AllowedAddresses::Within(_) => format!(
            "sources answered addresses {addresses} outside NLB_SYNC_ALLOWED_CIDRS ({allowed}), which were not \
             registered, and nothing is deregistered while they are answered; change the sources, or have the \
             installer allow the addresses (template parameter AllowedCidrs)"
        ),
    }
}

impl SyncError {
    /// The policy's refusal, when that is why the group was not synced.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            SyncError::Refused(refusal) => Some(refusal),
            _ => None,
        }
    }
}

/// A failure of a run: before any target group, or of one target group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("cannot list target groups: {0}")]
    ListTargetGroups(ElbError),
    #[error("cannot find the target groups following {source_id}: {error}")]
    FindFollowers { source_id: String, error: LookupError },
    #[error(transparent)]
    TargetGroup(SyncError),
}

impl SyncError {
    /// The failed AWS call's answer, when one AWS call made the group fail.
    pub fn failure_mut(&mut self) -> Option<&mut ApiFailure> {
        match self {
            SyncError::Elb { error, .. } => Some(&mut error.failure),
            SyncError::Lease { error, .. } => Some(&mut error.failure),
            SyncError::Group(_) | SyncError::Unresolved { .. } | SyncError::Refused(_) => None,
            SyncError::AddressesNotAllowed { .. } => None,
            SyncError::LeaseRanOut { .. } => None,
        }
    }
}

impl RunError {
    /// The failed AWS call's answer, when one AWS call made the run fail.
    pub fn failure_mut(&mut self) -> Option<&mut ApiFailure> {
        match self {
            RunError::ListTargetGroups(error) => Some(&mut error.failure),
            RunError::FindFollowers { error, .. } => error.failure_mut(),
            RunError::TargetGroup(error) => error.failure_mut(),
        }
    }
}

/// What a run did to one target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOutcome {
    pub arn: String,
    /// Empty when the target group could not be described.
    pub name: String,
    pub sources: Vec<Source>,
    /// The decision; absent when the run stopped before planning.
    pub plan: Option<Plan>,
    /// Registered in this run (in a dry run: what would have been).
    pub registered: Vec<Target>,
    /// Deregistered in this run, and why (in a dry run: what would have been).
    pub deregistered: Vec<(Target, DeregisterReason)>,
    /// Wanted targets that are not healthy after this run: as this run read
    /// them before its changes (`None`: not registered), and `initial` for
    /// the ones it registered, as ELB starts every new registration.
    pub not_healthy: Vec<PendingTarget>,
    /// When (Unix ms) the lookups behind the plan were sent; absent when the
    /// run stopped before planning.
    pub view_ms: Option<u64>,
    pub error: Option<SyncError>,
    pub duration: Duration,
}

impl GroupOutcome {
    fn new(arn: &str, name: &str) -> Self {
        GroupOutcome {
            arn: arn.to_string(),
            name: name.to_string(),
            sources: Vec::new(),
            plan: None,
            registered: Vec::new(),
            deregistered: Vec::new(),
            not_healthy: Vec::new(),
            view_ms: None,
            error: None,
            duration: Duration::ZERO,
        }
    }

    /// Targets the sources want (private addresses on the sync port).
    pub fn desired(&self) -> BTreeSet<Target> {
        self.plan.as_ref().map(|p| p.desired.clone()).unwrap_or_default()
    }

    /// Changes left out of this run, and why.
    pub fn held_back(&self) -> &[HeldBack] {
        self.plan.as_ref().map_or(&[][..], |p| &p.held_back[..])
    }

    /// True when the run registered or deregistered something here.
    pub fn changed(&self) -> bool {
        !self.registered.is_empty() || !self.deregistered.is_empty()
    }

    /// True when a healthy target was kept only because no replacement is healthy yet.
    pub fn awaits_healthy_replacement(&self) -> bool {
        self.held_back().iter().any(|h| h.reason == HoldReason::AwaitingHealthyReplacement)
    }

    /// The name people know the target group by (its ARN when it has none).
    pub fn label(&self) -> &str {
        if self.name.is_empty() { &self.arn } else { &self.name }
    }

    /// The sources the installer's policy refused here (then nothing was changed).
    pub fn refused_sources(&self) -> &[Source] {
        match self.error.as_ref().and_then(SyncError::refusal) {
            Some(Refusal::SourcesNotAllowed { refused, .. }) => refused,
            _ => &[],
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub dry_run: bool,
    /// One per target group, ordered by ARN.
    pub groups: Vec<GroupOutcome>,
    /// Set when the run could not even list the target groups.
    pub error: Option<RunError>,
    /// The API calls the run made and its waits for ELB's budget.
    pub api_usage: ApiUsage,
}

impl RunOutcome {
    /// The failures of the run; empty when everything synced.
    pub fn errors(&self) -> Vec<RunError> {
        self.error
            .iter()
            .cloned()
            .chain(self.groups.iter().filter_map(|g| g.error.clone().map(RunError::TargetGroup)))
            .collect()
    }

    /// `Ok` when every target group synced, else the run's failures.
    pub fn into_result(self) -> Result<RunOutcome, RunFailed> {
        let errors = self.errors();
        if errors.is_empty() { Ok(self) } else { Err(RunFailed { total: self.groups.len().max(1), errors }) }
    }
}

/// A run in which some target group failed: the invocation must fail so that
/// Lambda's Errors metric, alarms and retries see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} of {} target group(s) failed to sync: {}", errors.len(), total, joined(errors, " | "))]
pub struct RunFailed {
    pub errors: Vec<RunError>,
    pub total: usize,
}

/// The sync engine: the ELB, RDS and DNS adapters and the run options.
pub struct SyncEngine<T, R, D> {
    target_groups: T,
    rds: R,
    dns: D,
    /// Who may change a target group now (`crate::lease`).
    pub(crate) leases: Arc<dyn LeaseStore>,
    /// What the installer allows to be exposed (`crate::exposure`).
    exposure: ExposurePolicy,
    options: SyncOptions,
    /// Where the adapters count their calls (`usage.rs`).
    meter: Arc<ApiMeter>,
    /// When a settled group's health is read anyway (`settled.rs`).
    pub(crate) audit: AuditSchedule,
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    /// An engine without a lease store: runs are ordered by the applied-view
    /// tag alone (see [`with_leases`](Self::with_leases)).
    pub fn new(target_groups: T, rds: R, dns: D, options: SyncOptions) -> Self {
        SyncEngine {
            target_groups,
            rds,
            dns,
            leases: Arc::new(NoLeases),
            exposure: ExposurePolicy::default(),
            options,
            meter: Arc::default(),
            audit: AuditSchedule::default(),
        }
    }

    /// Audits settled groups on `audit` (see `settled.rs`).
    pub(crate) fn with_audit(mut self, audit: AuditSchedule) -> Self {
        self.audit = audit;
        self
    }

    /// Reports each run's calls from `meter`, the one its adapters count in.
    pub(crate) fn with_meter(mut self, meter: Arc<ApiMeter>) -> Self {
        self.meter = meter;
        self
    }

    /// Holds every run, deploy and operator command to `exposure`: groups
    /// outside its scope are not read further, refused sources change
    /// nothing, refused addresses are never registered.
    pub fn with_exposure(mut self, exposure: ExposurePolicy) -> Self {
        self.exposure = exposure;
        self
    }

    /// The policy this engine is held to.
    pub fn exposure(&self) -> &ExposurePolicy {
        &self.exposure
    }

    /// Whether the policy lets `group` be written to follow `sources`: the
    /// check the custom resource and the operator's `tag` make before they
    /// write tags (a run checks the same in `decide_and_apply`).
    pub(crate) fn admit(&self, group: &TargetGroupInfo, sources: &[Source]) -> Result<(), Refusal> {
        self.exposure.admit(group, sources)
    }

    /// Changes a target group only while holding its lease in `leases`, so
    /// that overlapping runs apply one after the other, each on a fresh view.
    pub fn with_leases(mut self, leases: Arc<dyn LeaseStore>) -> Self {
        self.leases = leases;
        self
    }

    pub fn options(&self) -> &SyncOptions {
        &self.options
    }

    /// Syncs the selected target groups, at most `concurrency` at once, sharing
    /// resolution work between them. Never panics on a bad target group: each
    /// failure is in its outcome.
    pub async fn sync(&self, selection: &Selection) -> RunOutcome {
        Box::pin(self.sync_groups(selection, u64::MAX, &BTreeSet::new())).await
    }

    /// [`sync`](Self::sync) knowing from the RDS API that `retired` addresses no
    /// longer hold the identity of any RDS source (the old blue databases after
    /// a Blue/Green switchover): like a demoted writer, they leave at once
    /// unless a source still wants them.
    pub(crate) async fn sync_retiring(&self, selection: &Selection, retired: &BTreeSet<IpAddr>) -> RunOutcome {
        Box::pin(self.sync_groups(selection, u64::MAX, retired)).await
    }

    /// [`sync`](Self::sync) with each target group's view time (normally when
    /// the oldest lookup behind its answers was sent) capped at `view_cap_ms`,
    /// to test how runs with older and newer views interact.
    #[cfg(test)]
    pub(crate) async fn sync_with_view_cap(&self, selection: &Selection, view_cap_ms: u64) -> RunOutcome {
        Box::pin(self.sync_groups(selection, view_cap_ms, &BTreeSet::new())).await
    }

    /// The run itself. Callers box it: it nests the SDK's deep futures, and
    /// every handler around it would outgrow the compiler's layout depth limit.
    async fn sync_groups(&self, selection: &Selection, view_cap_ms: u64, retired: &BTreeSet<IpAddr>) -> RunOutcome {
        let before = self.meter.snapshot();
        let mut run = self.sync_selected(selection, view_cap_ms, retired).await;
        run.api_usage = self.meter.snapshot().since(&before);
        run
    }

    async fn sync_selected(&self, selection: &Selection, view_cap_ms: u64, retired: &BTreeSet<IpAddr>) -> RunOutcome {
        let mut run = RunOutcome {
            dry_run: self.options.dry_run,
            groups: Vec::new(),
            error: None,
            api_usage: ApiUsage::default(),
        };
        let mut groups: Vec<Result<TargetGroupInfo, (String, SyncError)>> = Vec::new();
        match selection {
            Selection::AllManaged => match self.target_groups.list_managed().await {
                // Out of scope: not read further, never changed, not reported.
                Ok(found) => groups.extend(found.into_iter().filter(|g| self.exposure.covers(g)).map(Ok)),
                Err(e) => {
                    run.error = Some(RunError::ListTargetGroups(e));
                    return run;
                }
            },
            Selection::Listed(infos) => groups.extend(infos.iter().cloned().map(Ok)),
            Selection::Only(arns) => {
                let mut seen = BTreeSet::new();
                for arn in arns.iter().filter(|a| seen.insert(a.as_str())) {
                    let target_group = arn.clone();
                    groups.push(match self.target_groups.describe(arn).await {
                        Ok(Some(info)) if !self.exposure.covers(&info) => continue,
                        Ok(Some(info)) if info.tags.contains_key(SOURCES_TAG) => Ok(info),
                        Ok(Some(_)) => Err((arn.clone(), GroupError::NotManaged { target_group }.into())),
                        Ok(None) => Err((arn.clone(), GroupError::NotFound { target_group }.into())),
                        Err(error) => Err((arn.clone(), SyncError::Elb { target_group, error })),
                    });
                }
            }
        }

        let resolver = self.resolver();
        let resolver = &resolver;
        self.prefetch(resolver, groups.iter().flatten()).await;
        let mut outcomes: Vec<GroupOutcome> = futures::stream::iter(groups)
            .map(|group| async move {
                match group {
                    Ok(info) => self.sync_one(&info, resolver, view_cap_ms, retired).await,
                    Err((arn, error)) => GroupOutcome { error: Some(error), ..GroupOutcome::new(&arn, "") },
                }
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        outcomes.sort_by(|a, b| a.arn.cmp(&b.arn));
        run.groups = outcomes;
        run
    }

    /// A resolver for one run: lookups are shared among everything it resolves.
    pub(crate) fn resolver(&self) -> SourceResolver<'_, R, D> {
        SourceResolver::new(&self.rds, &self.dns).with_dns_queries(self.options.dns_queries)
    }

    /// Resolves each source once, in the given address families.
    pub async fn resolve(&self, sources: &[Source], families: AddressFamilies) -> Vec<SourceAnswer> {
        let resolver = self.resolver();
        futures::future::join_all(sources.iter().map(|s| resolver.resolve(s, families))).await
    }

    /// A Blue/Green deployment by its identifier.
    pub async fn blue_green_deployment(&self, id: &str) -> Result<BlueGreenDeployment, RdsError> {
        self.rds.blue_green_deployment(id).await
    }

    /// One target group with its tags; `None` when it does not exist.
    pub async fn target_group(&self, arn: &str) -> Result<Option<TargetGroupInfo>, ElbError> {
        self.target_groups.describe(arn).await
    }

    /// One target group by name, with its tags; `None` when there is none.
    pub async fn target_groups_by_name(&self, name: &str) -> Result<Option<TargetGroupInfo>, ElbError> {
        self.target_groups.describe_by_name(name).await
    }

    /// Every target group carrying the sources tag.
    pub async fn managed_target_groups(&self) -> Result<Vec<TargetGroupInfo>, ElbError> {
        self.target_groups.list_managed().await
    }

    /// The registered targets and their health, read now.
    pub async fn target_health(&self, arn: &str) -> Result<TargetGroupState, ElbError> {
        self.target_groups.state(arn).await
    }

    /// Writes `spec` as the target group's sync tags; a port tag the spec no
    /// longer has is removed. Does nothing in a dry run.
    pub(crate) async fn write_spec(&self, info: &TargetGroupInfo, spec: &SyncSpec) -> Result<(), ElbError> {
        if self.options.dry_run {
            return Ok(());
        }
        let mut tags = vec![(SOURCES_TAG, spec.sources_tag_value())];
        if let Some(port) = spec.port {
            tags.push((PORT_TAG, port.to_string()));
        }
        self.target_groups.add_tags(&info.arn, &tags).await?;
        if spec.port.is_none() && info.tags.contains_key(PORT_TAG) {
            self.target_groups.remove_tags(&info.arn, &[PORT_TAG]).await?;
        }
        Ok(())
    }

    /// Removes the sync tags (sources, the functions' own state tags, and the
    /// port tag when `with_port`), so no run touches the target group again.
    /// Returns the keys removed.
    pub(crate) async fn remove_spec(&self, arn: &str, with_port: bool) -> Result<Vec<&'static str>, ElbError> {
        let keys = spec_tags(with_port);
        self.target_groups.remove_tags(arn, &keys).await?;
        Ok(keys)
    }

    /// Stamps `view_ms` as the group's applied view unless a later one is
    /// there: a run that resolved before `view_ms` then changes nothing in the
    /// group (Delete does this before it removes its targets). Does nothing in
    /// a dry run.
    pub(crate) async fn hold_back_views_before(&self, arn: &str, view_ms: u64) -> Result<(), ElbError> {
        if self.options.dry_run {
            return Ok(());
        }
        let tags = self.target_groups.tags(arn).await?;
        let newer = tags.get(VIEW_TAG).and_then(|v| v.parse::<u64>().ok()).is_some_and(|applied| applied >= view_ms);
        let mut stamp: Vec<(&str, String)> = Vec::new();
        if !newer {
            stamp.push((VIEW_TAG, view_ms.to_string()));
        }
        // Delete changes the targets next: no digest may outlive that.
        stamp.extend(withdraw_digest(&tags));
        if stamp.is_empty() {
            return Ok(());
        }
        self.target_groups.add_tags(arn, &stamp).await
    }

    /// Deregisters `targets` outside a sync run (a deleted resource's own).
    pub(crate) async fn deregister(&self, arn: &str, targets: &[Target]) -> Result<(), ElbError> {
        self.target_groups.deregister(arn, targets).await
    }

    async fn sync_one(
        &self,
        info: &TargetGroupInfo,
        resolver: &SourceResolver<'_, R, D>,
        view_ms: u64,
        retired: &BTreeSet<IpAddr>,
    ) -> GroupOutcome {
        let started = Instant::now();
        let mut outcome = GroupOutcome::new(&info.arn, &info.name);
        outcome.error = self.decide_and_apply(info, resolver, view_ms, retired, &mut outcome).await.err();
        outcome.duration = started.elapsed();
        outcome
    }

    /// Plans one target group and applies the plan, recording in `outcome`
    /// what was decided and done. A plan with nothing to change is the answer
    /// unless another run holds the group's lease; any change is made under
    /// the lease, on a view taken after the lease was won (`crate::lease`).
    async fn decide_and_apply(
        &self,
        info: &TargetGroupInfo,
        resolver: &SourceResolver<'_, R, D>,
        view_cap_ms: u64,
        retired: &BTreeSet<IpAddr>,
        outcome: &mut GroupOutcome,
    ) -> Result<(), SyncError> {
        let target_group = outcome.label().to_string();
        if let Ok(Some(spec)) = info.spec() {
            outcome.sources = spec.sources;
        }
        let group = info.managed()?;
        // Before anything else is read: a refused source changes nothing.
        self.admit(info, &group.spec.sources)?;
        let elb = |error| SyncError::Elb { target_group: target_group.clone(), error };
        let memory_tag = info.tags.get(DNS_MEMORY_TAG).map(String::as_str);
        let first = match self.settled_decision(info, &group, resolver, view_cap_ms, retired, memory_tag).await {
            Some(settled) => settled,
            None => self.decide(info, &group, resolver, view_cap_ms, retired, memory_tag).await.map_err(elb)?,
        };
        let decision = if self.options.dry_run {
            outcome.registered = first.plan.register.clone();
            outcome.deregistered = first.plan.deregister.clone();
            first
        } else if !first.changes_something()
            && !self.settled_tag_stale(info, &first)
            && !self.lease_is_held(&info.arn, &target_group).await?
        {
            first
        } else {
            self.apply_under_lease(info, &group, view_cap_ms, retired, outcome).await?
        };
        outcome.view_ms = Some(decision.view_ms);
        let plan = outcome.plan.insert(decision.plan);
        if outcome.not_healthy.is_empty() {
            outcome.not_healthy = not_healthy(&plan.desired, &decision.current);
        }
        if !plan.unresolved.is_empty() {
            return Err(SyncError::Unresolved { target_group, failures: plan.unresolved.clone() });
        }
        let refused = plan.refused_addresses();
        if !refused.is_empty() {
            let allowed = self.exposure.addresses.clone();
            return Err(SyncError::AddressesNotAllowed { target_group, addresses: refused, allowed });
        }
        Ok(())
    }

    /// Resolves a group's sources with `resolver` (each `dns:` name asked as
    /// the group's memory in `memory_tag` says), reads its targets and plans.
    /// The view is as old as the oldest lookup behind it.
    pub(crate) async fn decide(
        &self,
        info: &TargetGroupInfo,
        group: &ManagedGroup,
        resolver: &SourceResolver<'_, R, D>,
        view_cap_ms: u64,
        retired: &BTreeSet<IpAddr>,
        memory_tag: Option<&str>,
    ) -> Result<Decision, ElbError> {
        let memory = memory_tag.map(memory_tag::parse).unwrap_or_default();
        let (mut answers, view_ms) = resolve_group(info, group, resolver, view_cap_ms, &memory).await;
        if !retired.is_empty() {
            for answer in answers.iter_mut().filter(|a| !matches!(a.source, Source::Dns { .. })) {
                if let Ok(resolution) = &mut answer.outcome {
                    resolution.demoted.extend(retired);
                }
            }
        }
        let current = self.target_groups.state(&info.arn).await?;
        Ok(self.plan_decision(&answers, group, current, view_ms, memory, memory_tag))
    }

    /// Plans a group holding `current` from its `answers` and what it
    /// remembers (`memory`, read from `memory_tag`). Pure but for the clock.
    pub(crate) fn plan_decision(
        &self,
        answers: &[SourceAnswer],
        group: &ManagedGroup,
        current: TargetGroupState,
        view_ms: u64,
        memory: DnsMemory,
        memory_tag: Option<&str>,
    ) -> Decision {
        let history = History {
            memory,
            now_ms: now_millis(),
            window_ms: u64::try_from(self.options.absence_window.as_millis()).unwrap_or(u64::MAX),
        };
        let plan = plan_with_history(answers, group.port, &current, Some(&history), &self.exposure.addresses);
        let remembered = memory_tag::encode(&plan.memory);
        let remember = (remembered != memory_tag.unwrap_or_default()).then_some(remembered);
        Decision { plan, view_ms, current, remember }
    }

    /// Applies `decision` (the caller holds the group's lease): stamps the
    /// view (and the memory of `dns:` names when it changed), registers, then
    /// deregisters, checking before each call that the lease still runs.
    /// `leased_tags`: the group's tags as read after the lease was taken, when
    /// the lease keeps every other writer out (they cannot have changed since).
    pub(crate) async fn apply_decision(
        &self,
        arn: &str,
        target_group: &str,
        decision: &mut Decision,
        lease: &Lease,
        leased_tags: Option<&BTreeMap<String, String>>,
        outcome: &mut GroupOutcome,
    ) -> Result<(), SyncError> {
        let elb = |error| SyncError::Elb { target_group: target_group.to_string(), error };
        let ran_out = || SyncError::LeaseRanOut { target_group: target_group.to_string() };
        let plan = &mut decision.plan;
        let remember = decision.remember.clone();
        if plan.is_noop() && remember.is_none() {
            return Ok(());
        }
        lease.may_change().then_some(()).ok_or_else(ran_out)?;
        if let Some(newer) = self.claim_view(arn, decision.view_ms, remember, leased_tags).await.map_err(elb)? {
            plan.hold_everything(HoldReason::NewerViewApplied { view_ms: newer });
        }
        outcome.not_healthy = not_healthy(&plan.desired, &decision.current);
        if !plan.register.is_empty() {
            lease.may_change().then_some(()).ok_or_else(ran_out)?;
            // Nothing is deregistered when registering failed (no empty window).
            self.target_groups.register(arn, &plan.register).await.map_err(elb)?;
            outcome.registered = plan.register.clone();
            for pending in outcome.not_healthy.iter_mut().filter(|p| plan.register.contains(&p.target)) {
                pending.health = Some(TargetHealth::Initial);
            }
        }
        if !plan.deregister.is_empty() {
            lease.may_change().then_some(()).ok_or_else(ran_out)?;
            let targets: Vec<Target> = plan.deregister.iter().map(|(t, _)| *t).collect();
            self.target_groups.deregister(arn, &targets).await.map_err(elb)?;
            outcome.deregistered = plan.deregister.clone();
        }
        Ok(())
    }

    /// Reads the applied-view tag (from `known` tags, read under a lease
    /// that keeps other writers out, or from ELB now): `Some(newer)` when a
    /// run with a later view already changed the group; otherwise stamps this
    /// run's view (and, in the same call, the memory of `dns:` names when it
    /// changed) and returns `None`.
    async fn claim_view(
        &self,
        arn: &str,
        view_ms: u64,
        memory: Option<String>,
        known: Option<&BTreeMap<String, String>>,
    ) -> Result<Option<u64>, ElbError> {
        let read;
        let tags = match known {
            Some(tags) => tags,
            None => {
                read = self.target_groups.tags(arn).await?;
                &read
            }
        };
        if let Some(applied) = tags.get(VIEW_TAG).and_then(|v| v.parse::<u64>().ok())
            && applied > view_ms
        {
            return Ok(Some(applied));
        }
        let mut stamp = vec![(VIEW_TAG, view_ms.to_string())];
        stamp.extend(memory.map(|value| (DNS_MEMORY_TAG, value)));
        stamp.extend(withdraw_digest(tags));
        self.target_groups.add_tags(arn, &stamp).await?;
        Ok(None)
    }

    /// Looks up in bulk, once, the RDS resources the sources of `groups`
    /// follow (those the policy admits: a refused source is not looked up).
    pub(crate) async fn prefetch<'g>(
        &self,
        resolver: &SourceResolver<'_, R, D>,
        groups: impl Iterator<Item = &'g TargetGroupInfo>,
    ) {
        let sources: Vec<Source> = groups
            .filter_map(|info| info.spec().ok().flatten().filter(|spec| self.admit(info, &spec.sources).is_ok()))
            .flat_map(|spec| spec.sources)
            .collect();
        resolver.prefetch(&sources).await;
    }

    /// The ELB port, for the engine's own modules (`settled.rs`).
    pub(crate) fn target_groups_port(&self) -> &T {
        &self.target_groups
    }

    /// The group's tags read now (under the lease, for the memory of `dns:` names).
    pub(crate) async fn current_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, ElbError> {
        self.target_groups.tags(arn).await
    }
}

/// Resolves a group's sources with `resolver` (each `dns:` name asked as the
/// group's `memory` says): the answers, and the view they are (when the
/// oldest lookup behind them was sent), capped at `view_cap_ms`.
pub(crate) async fn resolve_group<R: RdsDirectory, D: DnsLookup>(
    info: &TargetGroupInfo,
    group: &ManagedGroup,
    resolver: &SourceResolver<'_, R, D>,
    view_cap_ms: u64,
    memory: &DnsMemory,
) -> (Vec<SourceAnswer>, u64) {
    let plans: Vec<QueryPlan> = group
        .spec
        .sources
        .iter()
        .map(|source| match source {
            Source::Dns { hostname } => QueryPlan::for_name(memory.name(hostname)),
            _ => QueryPlan::Fixed,
        })
        .collect();
    let observed: Vec<(SourceAnswer, u64)> = futures::future::join_all(
        group.spec.sources.iter().zip(&plans).map(|(s, plan)| resolver.resolve_observed(s, info.families, plan)),
    )
    .await;
    let view_ms = observed.iter().map(|(_, at)| *at).min().unwrap_or(view_cap_ms).min(view_cap_ms);
    (observed.into_iter().map(|(answer, _)| answer).collect(), view_ms)
}

/// One group's plan, the view it rests on, and what it was made from.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    pub plan: Plan,
    /// When (Unix ms) the oldest lookup behind the plan was sent.
    pub view_ms: u64,
    pub current: TargetGroupState,
    /// The memory of `dns:` names to write, when it differs from the tag's.
    pub remember: Option<String>,
}

impl Decision {
    /// True when applying it would call ELB: a change, or a memory to write.
    pub fn changes_something(&self) -> bool {
        !self.plan.is_noop() || self.remember.is_some()
    }
}

impl<T, R, D> SyncEngine<T, R, D> {
    /// The RDS and DNS ports, for engine methods that watch each lookup
    /// (`explain` records them); still private to the crate.
    pub(crate) fn rds_and_dns(&self) -> (&R, &D) {
        (&self.rds, &self.dns)
    }
}

#[cfg(test)]
impl<T, R, D> SyncEngine<T, R, D> {
    /// The adapters, for unit tests that arrange and inspect the fakes.
    pub(crate) fn elb(&self) -> &T {
        &self.target_groups
    }
    pub(crate) fn rds(&self) -> &R {
        &self.rds
    }
    pub(crate) fn dns(&self) -> &D {
        &self.dns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeDns, FakeElb, FakeRds};
    use std::sync::atomic::Ordering;

    fn texts(targets: &[Target]) -> Vec<String> {
        targets.iter().map(Target::to_string).collect()
    }

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
        SyncEngine::new(FakeElb::default(), rds, dns, SyncOptions { dry_run, concurrency: 4, ..SyncOptions::default() })
    }

    #[tokio::test]
    async fn two_groups_sharing_a_source_resolve_it_once_and_both_fill() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-proxy:px"));
        let b = e.target_groups.group("b", Some("rds-proxy:px"));
        let report = e.sync(&Selection::AllManaged).await;
        assert!(report.errors().is_empty(), "{:?}", report.errors());
        assert_eq!(e.target_groups.held(&a), vec!["10.0.1.9", "10.0.2.9"]);
        assert_eq!(e.target_groups.held(&b), vec!["10.0.1.9", "10.0.2.9"]);
        // Once for the plan both groups share, then once per group that
        // changes, under its lease, on a fresh view.
        assert_eq!(e.rds.calls.load(Ordering::SeqCst), 3);
        assert_eq!(e.dns.queries.load(Ordering::SeqCst), 3);
        // A run with nothing to change shares every lookup.
        e.sync(&Selection::AllManaged).await;
        assert_eq!((e.rds.calls.load(Ordering::SeqCst), e.dns.queries.load(Ordering::SeqCst)), (4, 4));
    }

    #[tokio::test]
    async fn rerun_with_unchanged_sources_makes_no_mutating_call() {
        let e = engine(false);
        e.target_groups.group("a", Some("rds-proxy:px rds-cluster:prod"));
        e.sync(&Selection::AllManaged).await;
        let after_first = e.target_groups.mutations.load(Ordering::SeqCst);
        assert_eq!(after_first, 1, "one RegisterTargets call for the first fill");
        let tag_writes = e.target_groups.tag_writes.load(Ordering::SeqCst);
        let report = e.sync(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.mutations.load(Ordering::SeqCst), after_first);
        assert_eq!(e.target_groups.tag_writes.load(Ordering::SeqCst), tag_writes, "no view stamp either");
        assert!(!report.groups[0].changed());
    }

    #[tokio::test]
    async fn bad_tag_fails_its_group_only_and_untagged_groups_are_untouched() {
        let e = engine(false);
        let bad = e.target_groups.group("bad", Some("rds-clustr:prod"));
        let good = e.target_groups.group("good", Some("rds-cluster:prod"));
        let untagged = e.target_groups.group("plain", None);
        e.target_groups.seed(&untagged, "10.9.9.9");
        let report = e.sync(&Selection::AllManaged).await;
        let errors: Vec<String> = report.errors().iter().map(ToString::to_string).collect();
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
        assert_eq!(report.groups.len(), 2, "the untagged group is not even reported");
    }

    fn policy(sources: &str, cidrs: &str, target_groups: &str) -> ExposurePolicy {
        use crate::exposure::{AllowedSources, TargetGroupScope};
        ExposurePolicy {
            sources: AllowedSources::parse(sources).unwrap(),
            addresses: AllowedAddresses::parse(cidrs).unwrap(),
            target_groups: TargetGroupScope::parse(target_groups).unwrap(),
        }
    }

    #[tokio::test]
    async fn a_refused_source_leaves_its_group_untouched_and_the_others_sync() {
        let e = engine(false).with_exposure(policy("rds-cluster:*", "", ""));
        let refused = e.target_groups.group("files", Some("rds-cluster:prod rds-proxy:px"));
        e.target_groups.seed(&refused, "10.0.7.7");
        let good = e.target_groups.group("ledger", Some("rds-cluster:prod"));
        let report = e.sync(&Selection::AllManaged).await;

        assert_eq!(e.target_groups.held(&good), vec!["10.0.1.1"]);
        assert_eq!(e.target_groups.held(&refused), vec!["10.0.7.7"], "nothing registered, nothing deregistered");
        assert!(e.target_groups.calls_naming(&refused).is_empty(), "not even its health is read");
        let errors: Vec<String> = report.errors().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        for needle in
            ["target group files", "source rds-proxy:px is not allowed", "NLB_SYNC_ALLOWED_SOURCES (rds-cluster:*)"]
        {
            assert!(errors[0].contains(needle), "{needle}: {}", errors[0]);
        }
        let files = report.groups.iter().find(|g| g.arn == refused).unwrap();
        assert_eq!(files.refused_sources(), &["rds-proxy:px".parse::<Source>().unwrap()]);
        assert!(report.into_result().is_err(), "the invocation fails");
    }

    #[tokio::test]
    async fn a_group_out_of_scope_is_neither_read_nor_changed_nor_reported() {
        let e =
            engine(false).with_exposure(policy("", "", "db-* arn:aws:elasticloadbalancing:*:1:targetgroup/by-arn/*"));
        let outside = e.target_groups.group("web", Some("rds-proxy:px"));
        e.target_groups.seed(&outside, "10.0.7.7");
        let by_name = e.target_groups.group("db-a", Some("rds-proxy:px"));
        let by_arn = e.target_groups.group("by-arn", Some("rds-proxy:px"));
        let report = e.sync(&Selection::AllManaged).await;
        assert!(report.errors().is_empty(), "{:?}", report.errors());
        let reported: Vec<&str> = report.groups.iter().map(|g| g.arn.as_str()).collect();
        assert_eq!(reported, vec![by_arn.as_str(), by_name.as_str()]);
        assert!(e.target_groups.calls_naming(&outside).is_empty());
        assert_eq!(e.target_groups.held(&outside), vec!["10.0.7.7"]);
        assert_eq!(e.target_groups.held(&by_name).len(), 2);

        // Named by ARN (a schedule's targetGroupArns): the same, and no error.
        let report = e.sync(&Selection::Only(vec![outside.clone()])).await;
        assert!(report.groups.is_empty() && report.error.is_none(), "{report:?}");
        assert!(e.target_groups.calls_naming(&outside).is_empty());
    }

    #[tokio::test]
    async fn an_address_outside_the_allowed_cidrs_is_reported_with_them() {
        let e = engine(false).with_exposure(policy("", "10.0.1.0/24", ""));
        let a = e.target_groups.group("a", Some("rds-proxy:px"));
        e.target_groups.seed(&a, "10.0.1.7");
        let report = e.sync(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.1.7", "10.0.1.9"], "10.0.2.9 refused, 10.0.1.7 kept");
        let error = report.into_result().unwrap_err().to_string();
        assert!(error.contains("10.0.2.9 outside NLB_SYNC_ALLOWED_CIDRS (10.0.1.0/24)"), "{error}");
        assert!(!error.contains("resolver"), "not the wrong-resolver hint: {error}");
    }

    #[tokio::test]
    async fn failed_dns_fails_the_run_and_removes_nothing() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-proxy:px"));
        e.target_groups.seed(&a, "10.0.7.7");
        e.dns.fail("px.proxy.test");
        let report = e.sync(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.7.7"]);
        let err = report.into_result().unwrap_err().to_string();
        assert!(err.contains("px.proxy.test") && err.contains("nothing was deregistered"), "{err}");
    }

    #[tokio::test]
    async fn dry_run_reports_the_plan_and_changes_nothing() {
        let e = engine(true);
        let a = e.target_groups.group("a", Some("rds-proxy:px"));
        let report = e.sync(&Selection::AllManaged).await;
        assert!(report.dry_run);
        assert_eq!(texts(&report.groups[0].registered), vec!["10.0.1.9:5432", "10.0.2.9:5432"]);
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
        let report = e.sync(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.2.2"], "old writer kept: no empty window");
        assert!(report.errors()[0].to_string().contains("RegisterTargets"));
        assert!(report.groups[0].deregistered.is_empty());
    }

    #[tokio::test]
    async fn writer_change_swaps_targets_in_one_run() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-cluster:prod:writer"));
        e.sync(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.1.1"]);
        e.rds.cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        let report = e.sync(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.2.2"]);
        assert_eq!(
            report.groups[0].deregistered,
            vec![(Target { ip: "10.0.1.1".parse().unwrap(), port: 5432 }, DeregisterReason::RoleChanged)]
        );
    }

    #[tokio::test]
    async fn the_outcome_names_wanted_targets_that_are_not_healthy() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-proxy:px"));
        *e.target_groups.register_health.lock().unwrap() = TargetHealth::Unhealthy;
        let first = e.sync(&Selection::AllManaged).await;
        let pending: Vec<String> = first.groups[0].not_healthy.iter().map(ToString::to_string).collect();
        assert_eq!(pending, ["10.0.1.9:5432 initial", "10.0.2.9:5432 initial"], "just registered");
        let dry = engine(true);
        dry.target_groups.group("a", Some("rds-proxy:px"));
        let planned = dry.sync(&Selection::AllManaged).await;
        assert!(planned.groups[0].not_healthy.iter().all(|p| p.health.is_none()), "a dry run registered nothing");

        let second = e.sync(&Selection::AllManaged).await;
        let pending: Vec<String> = second.groups[0].not_healthy.iter().map(ToString::to_string).collect();
        assert_eq!(pending, ["10.0.1.9:5432 unhealthy", "10.0.2.9:5432 unhealthy"], "as read");
        e.target_groups
            .targets
            .lock()
            .unwrap()
            .get_mut(&a)
            .unwrap()
            .values_mut()
            .for_each(|h| *h = TargetHealth::Healthy);
        assert!(e.sync(&Selection::AllManaged).await.groups[0].not_healthy.is_empty());
    }

    #[tokio::test]
    async fn selection_reports_missing_and_unmanaged_arns() {
        let e = engine(false);
        let plain = e.target_groups.group("plain", None);
        let a = e.target_groups.group("a", Some("rds-proxy:px"));
        let report = e.sync(&Selection::Only(vec![a.clone(), plain.clone(), "arn:missing".into()])).await;
        let errors: Vec<String> = report.errors().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("arn:missing") && e.contains("does not exist")));
        assert!(errors.iter().any(|e| e.contains(&plain) && e.contains("not managed")));
        assert_eq!(e.target_groups.held(&a).len(), 2);
        assert!(e.target_groups.held(&plain).is_empty());
    }

    #[tokio::test]
    async fn a_view_stamp_holds_back_older_runs_and_never_moves_back() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-cluster:prod"));
        e.sync_with_view_cap(&Selection::AllManaged, 1_000).await;
        e.hold_back_views_before(&a, 5_000).await.unwrap();
        // A run that resolved at 4000 sees a failover but changes nothing.
        e.rds.cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        let report = e.sync_with_view_cap(&Selection::AllManaged, 4_000).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.1.1"]);
        assert!(
            report.groups[0].held_back().iter().all(|h| h.reason == HoldReason::NewerViewApplied { view_ms: 5000 })
        );
        // An older stamp leaves the later one in place.
        e.hold_back_views_before(&a, 2_000).await.unwrap();
        assert_eq!(e.target_groups.tags(&a).await.unwrap()[VIEW_TAG], "5000");
        // A run after the stamp applies.
        e.sync_with_view_cap(&Selection::AllManaged, 6_000).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.2.2"]);
    }

    #[tokio::test]
    async fn a_run_with_an_older_view_does_not_undo_a_newer_one() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("rds-cluster:prod"));
        e.sync_with_view_cap(&Selection::AllManaged, 1_000).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.1.1"]);

        // Failover: a run that resolved at 3000 sees prod-2 as writer and swaps.
        e.rds.cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        e.sync_with_view_cap(&Selection::AllManaged, 3_000).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.2.2"]);

        // A run that resolved at 2000, before the failover, reads the health
        // only now: its stale plan (put prod-1 back, drop prod-2) is not applied.
        e.rds.cluster("prod", &[("prod-1", true), ("prod-2", false)]);
        let report = e.sync_with_view_cap(&Selection::AllManaged, 2_000).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.2.2"]);
        let group = &report.groups[0];
        assert!(!group.changed(), "{group:?}");
        assert_eq!(group.held_back().len(), 2);
        assert!(
            group.held_back().iter().all(|h| h.reason == HoldReason::NewerViewApplied { view_ms: 3000 }),
            "{group:?}"
        );
        assert!(group.held_back()[0].reason.to_string().contains("resolved later (at 3000 ms)"));
        assert!(group.error.is_none());

        // A later view applies normally and stamps the tag.
        let report = e.sync_with_view_cap(&Selection::AllManaged, 4_000).await;
        assert_eq!(texts(&report.groups[0].registered), vec!["10.0.1.1:5432"]);
        assert_eq!(e.target_groups.tags(&a).await.unwrap()[VIEW_TAG], "4000");
    }

    #[tokio::test]
    async fn a_moved_name_is_replaced_in_two_runs_and_its_memory_is_stamped_with_the_view() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("dns:db.test"));
        e.dns.set("db.test", &["10.0.1.5"]);
        e.sync(&Selection::AllManaged).await;
        let calls = e.target_groups.mutating_calls.lock().unwrap().clone();
        assert_eq!(calls[0], format!("AddTags {VIEW_TAG} {DNS_MEMORY_TAG}"), "one call, under the lease: {calls:?}");
        e.dns.set("db.test", &["10.0.2.5"]);
        let first = e.sync(&Selection::AllManaged).await;
        assert_eq!(texts(&first.groups[0].registered), vec!["10.0.2.5:5432"]);
        assert!(first.groups[0].awaits_healthy_replacement(), "{first:?}");
        let second = e.sync(&Selection::AllManaged).await;
        assert_eq!(e.target_groups.held(&a), vec!["10.0.2.5"], "{second:?}");
        let memory = memory_tag::parse(&e.target_groups.tags(&a).await.unwrap()[DNS_MEMORY_TAG]);
        assert_eq!(memory.name("db.test").map(|n| n.behaviour), Some(crate::name_memory::Behaviour::Steady));
    }

    #[tokio::test]
    async fn a_rotating_name_never_deregisters_from_a_new_group_on() {
        let e = engine(false);
        let a = e.target_groups.group("a", Some("dns:rr.test"));
        // One of three per answer, in an order that repeats only every 7 answers.
        let answers: [&[&str]; 7] =
            [&["10.0.1.1"], &["10.0.1.1"], &["10.0.1.2"], &["10.0.1.3"], &["10.0.1.3"], &["10.0.1.3"], &["10.0.1.2"]];
        e.dns.rotate("rr.test", &answers);
        let mut deregistered = 0;
        for _ in 0..20 {
            let run = e.sync(&Selection::AllManaged).await;
            assert!(run.errors().is_empty(), "{:?}", run.errors());
            deregistered += run.groups[0].deregistered.len();
        }
        assert_eq!(deregistered, 0);
        let held = e.target_groups.held(&a);
        assert!(held.len() >= 2 && held.iter().all(|ip| ip.starts_with("10.0.1.")), "{held:?}");
        let memory = memory_tag::parse(&e.target_groups.tags(&a).await.unwrap()[DNS_MEMORY_TAG]);
        assert_eq!(memory.name("rr.test").map(|n| n.behaviour), Some(crate::name_memory::Behaviour::Rotating));
    }
}
