//! Following RDS events: which target groups an event touches, and how long
//! to keep re-checking after it.
//!
//! The RDS API is the authority on roles, so an Aurora failover is applied as
//! soon as DescribeDBClusters names the new writer, whatever the cluster
//! endpoint's DNS says. Events that come before the change ("failover
//! started") or whose DNS flips minutes later (Multi-AZ instance failover) are
//! followed by re-checks every few seconds until the answer changes and is
//! applied, or the watch deadline passes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::now_millis;
use crate::events::{
    FollowUp, NotAnRdsEvent, RdsEvent, RdsResource, Related, SourceKind, depends_on, deployment_related,
};
use crate::ports::{DnsLookup, LookupError, RdsDirectory, RdsError, TargetGroups};
use crate::spec::{ClusterRole, Source};
use crate::sync::{RunError, RunFailed, RunOutcome, Selection, SyncEngine, SyncError};
use crate::target::{AddressFamilies, Target, TargetGroupInfo};

/// How long and how often to re-check after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    pub recheck: Duration,
    pub deadline: Instant,
    /// Whether any change a run applies counts as the event's own. For
    /// cluster events only changes to groups that follow a writer do.
    pub any_change: bool,
}

impl WatchOutcome {
    /// The runs worth a decision line: each that changed or refused a target
    /// group, and the last.
    pub fn reported_runs(&self) -> impl Iterator<Item = &RunOutcome> {
        let last = self.runs_made.len().saturating_sub(1);
        self.runs_made
            .iter()
            .enumerate()
            .filter(move |(i, run)| {
                *i == last || run.groups.iter().any(|g| g.changed() || g.error.as_ref().is_some_and(is_refusal))
            })
            .map(|(_, run)| run)
    }

    /// What must fail the invocation: the refusals met on the way (a refused
    /// group is left out of later re-checks) and the last run's other errors.
    pub fn errors(&self) -> Vec<RunError> {
        let last = self.runs_made.last().map(RunOutcome::errors).unwrap_or_default();
        let mut errors = self.refused.clone();
        errors.extend(last.into_iter().filter(|e| !matches!(e, RunError::TargetGroup(error) if is_refusal(error))));
        errors
    }
}

fn is_refusal(error: &SyncError) -> bool {
    error.refusal().is_some()
}

/// What following an event achieved.
#[derive(Debug, Clone)]
pub struct WatchOutcome {
    /// Sync runs made (1 = the first run settled it).
    pub runs: usize,
    /// The target groups match the sources and nothing is held back.
    pub settled: bool,
    /// The event's own change was seen: the desired set changed while
    /// watching, or a run changed a group where that is the event's doing
    /// (see [`Watch::any_change`]).
    pub changed: bool,
    /// Unix ms when the target groups were last seen correct after a change.
    pub converged_at_ms: Option<u64>,
    /// Every run, first to last.
    pub runs_made: Vec<RunOutcome>,
    /// Groups the installer's policy refused, each once (as the run that met
    /// the refusal reported it).
    pub refused: Vec<RunError>,
}

/// Each group's desired set; a refused group (re-checked no more) has none.
fn desired_sets(run: &RunOutcome) -> BTreeSet<(String, BTreeSet<Target>)> {
    run.groups
        .iter()
        .filter(|g| !g.error.as_ref().is_some_and(is_refusal))
        .map(|g| (g.arn.clone(), g.desired()))
        .collect()
}

/// What one batch of messages led to.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    /// One per message, in order.
    pub records: Vec<RecordOutcome>,
    pub watch: Option<WatchOutcome>,
    /// Failures that must fail the invocation.
    pub errors: Vec<RunError>,
}

impl BatchOutcome {
    /// The last run of the watch, if any target group was followed.
    pub fn last_run(&self) -> Option<&RunOutcome> {
        self.watch.as_ref().and_then(|w| w.runs_made.last())
    }

    /// `Ok` when every followed target group synced, else the failures.
    pub fn into_result(self) -> Result<BatchOutcome, RunFailed> {
        if self.errors.is_empty() {
            return Ok(self);
        }
        // Every group followed, including those refused in an earlier run.
        let followed: BTreeSet<&str> =
            self.watch.iter().flat_map(|w| &w.runs_made).flat_map(|r| &r.groups).map(|g| g.arn.as_str()).collect();
        let total = followed.len().max(1);
        Err(RunFailed { errors: self.errors, total })
    }
}

/// What was done about one RDS event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventDecision {
    /// Not one of the events that move addresses.
    NotAddressMoving,
    /// No managed target group follows the event's resource.
    NoFollower,
    /// The target groups that follow it were synced (and watched).
    Followed(Followed),
    /// The target groups could not be listed; the invocation fails.
    FollowersUnknown,
}

/// How following an event went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    pub target_groups: Vec<String>,
    pub runs: usize,
    pub settled: bool,
    pub changed: bool,
    /// Unix ms when the target groups were last seen correct after a change.
    pub converged_at_ms: Option<u64>,
}

/// What became of one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Not an RDS event at all (the subscription confirmation, other text).
    NotAnRdsEvent(NotAnRdsEvent),
    Event {
        event: RdsEvent,
        decision: EventDecision,
    },
}

/// The target groups an event touches, and what it retired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    pub arns: Vec<String>,
    /// The same target groups as listed (with their tags), for the first run.
    pub groups: Vec<TargetGroupInfo>,
    /// Addresses the RDS API says no source follows any more (the old blue
    /// databases after a completed switchover).
    pub retired: BTreeSet<IpAddr>,
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    /// The managed target groups with a source that depends on the event's
    /// resource; for a completed Blue/Green switchover, also the old blue
    /// databases' addresses.
    pub async fn affected_target_groups(&self, event: &RdsEvent, kind: SourceKind) -> Result<Affected, LookupError> {
        let (related, retired) = self.related(event, kind).await?;
        let groups = self.managed_target_groups().await?;
        let groups: Vec<TargetGroupInfo> = groups
            .into_iter()
            // A group out of the policy's scope is not followed (nor read further).
            .filter(|g| self.exposure().covers(g))
            .filter(|g| match g.spec() {
                Ok(Some(spec)) => spec.sources.iter().any(|s| depends_on(s, event, kind, &related)),
                // An unreadable spec is the scheduled run's to report.
                _ => false,
            })
            .collect();
        let arns = groups.iter().map(|g| g.arn.clone()).collect();
        Ok(Affected { arns, groups, retired })
    }

    /// What the RDS API says about the resources around the event.
    async fn related(&self, event: &RdsEvent, kind: SourceKind) -> Result<(Related, BTreeSet<IpAddr>), LookupError> {
        match kind {
            SourceKind::DbInstance => {
                let related = match self.resolver().instance_endpoint(&event.source_id).await {
                    Ok(endpoint) => Related { clusters: endpoint.cluster.into_iter().collect(), ..Related::default() },
                    // A deleted instance names no cluster any more: any followed
                    // cluster may have lost it.
                    Err(RdsError::NotFound { .. }) => Related { any_cluster: true, ..Related::default() },
                    Err(_) => Related::default(),
                };
                Ok((related, BTreeSet::new()))
            }
            SourceKind::BlueGreenDeployment => {
                let deployment = self.blue_green_deployment(&event.source_id).await?;
                let related = deployment_related(deployment.arns());
                let mut retired = BTreeSet::new();
                if deployment.switched_over() {
                    let sources: Vec<Source> =
                        deployment.blue_arns().filter_map(RdsResource::from_arn).flat_map(sources_of).collect();
                    for answer in self.resolve(&sources, AddressFamilies::Both).await {
                        if let Ok(resolution) = answer.outcome {
                            retired.extend(resolution.addresses);
                            retired.extend(resolution.demoted);
                        }
                    }
                }
                Ok((related, retired))
            }
            SourceKind::DbCluster | SourceKind::DbProxy => Ok((Related::default(), BTreeSet::new())),
        }
    }

    /// Syncs `groups` until settled (and, for [`FollowUp::WatchForChange`], until a
    /// change was seen and applied), re-checking every `watch.recheck` until
    /// `watch.deadline`. The first run takes the groups as listed; later runs
    /// describe them again (their tags may have changed meanwhile).
    pub async fn sync_until_settled(
        &self,
        groups: &[TargetGroupInfo],
        follow_up: FollowUp,
        watch: Watch,
        retired: &BTreeSet<IpAddr>,
    ) -> WatchOutcome {
        let mut watched: Vec<String> = groups.iter().map(|g| g.arn.clone()).collect();
        let mut listed = Some(groups.to_vec());
        let mut outcome = WatchOutcome {
            runs: 0,
            settled: false,
            changed: false,
            converged_at_ms: None,
            runs_made: Vec::new(),
            refused: Vec::new(),
        };
        let mut first_desired = None;
        loop {
            let selection = match listed.take() {
                Some(groups) => Selection::Listed(groups),
                None => Selection::Only(watched.clone()),
            };
            let run = self.sync_retiring(&selection, retired).await;
            outcome.runs += 1;
            // A refusal does not pass with time: the group is reported once and
            // not re-checked.
            for group in run.groups.iter().filter(|g| g.error.as_ref().is_some_and(is_refusal)) {
                watched.retain(|arn| *arn != group.arn);
                outcome.refused.extend(group.error.clone().map(RunError::TargetGroup));
            }
            // The event's own change: an answer moved since the first run, or a
            // run changed a group where that is the event's doing. For a
            // cluster event that is a group following the cluster's writer;
            // another group of the cluster may change in passing (a reader
            // added) while the writer has not moved yet.
            let event_change =
                run.groups.iter().any(|g| g.changed() && (watch.any_change || follows_a_writer(&g.sources)));
            let desired = desired_sets(&run);
            let first = first_desired.get_or_insert_with(|| desired.clone());
            outcome.changed |= event_change || *first != desired;
            outcome.settled =
                run.groups.iter().all(|g| g.error.as_ref().is_none_or(is_refusal) && g.held_back().is_empty())
                    && run.error.is_none();
            if outcome.settled && outcome.changed && outcome.converged_at_ms.is_none() {
                outcome.converged_at_ms = Some(now_millis());
            }
            let done = outcome.settled && (follow_up == FollowUp::SyncNow || outcome.changed);
            let last = done
                || watched.is_empty()
                || Instant::now() + watch.recheck >= watch.deadline
                || self.options().dry_run;
            outcome.runs_made.push(run);
            if last {
                return outcome;
            }
            tokio::time::sleep(watch.recheck).await;
        }
    }

    /// Handles the records of one batch: ignores what is not a relevant RDS
    /// event (reported, never fatal), syncs every target group that depends on
    /// the relevant ones together, and watches as the most demanding event
    /// requires. The outcome has one entry per record.
    pub async fn follow_events(
        &self,
        records: &[Result<RdsEvent, NotAnRdsEvent>],
        recheck: Duration,
        deadline: Instant,
    ) -> BatchOutcome {
        let mut batch = BatchOutcome { records: Vec::new(), watch: None, errors: Vec::new() };
        // Records of followed events wait for the watch's result.
        let mut followed: Vec<(usize, Vec<String>)> = Vec::new();
        let mut groups: BTreeMap<String, TargetGroupInfo> = BTreeMap::new();
        let mut follow_up = FollowUp::SyncNow;
        let mut any_change = false;
        let mut retired: BTreeSet<IpAddr> = BTreeSet::new();
        for record in records {
            let event = match record {
                Ok(event) => event.clone(),
                Err(why) => {
                    batch.records.push(RecordOutcome::NotAnRdsEvent(why.clone()));
                    continue;
                }
            };
            let Some(rule) = event.rule() else {
                batch.records.push(RecordOutcome::Event { event, decision: EventDecision::NotAddressMoving });
                continue;
            };
            // Boxed: the SDK's futures nest deep, and inside the batch and the
            // handler they exceed the compiler's layout depth limit.
            match Box::pin(self.affected_target_groups(&event, rule.kind)).await {
                Ok(found) if found.arns.is_empty() => {
                    batch.records.push(RecordOutcome::Event { event, decision: EventDecision::NoFollower });
                }
                Ok(found) => {
                    groups.extend(found.groups.into_iter().map(|g| (g.arn.clone(), g)));
                    retired.extend(found.retired);
                    follow_up = follow_up.max(rule.follow_up);
                    any_change |= rule.kind != SourceKind::DbCluster;
                    followed.push((batch.records.len(), found.arns));
                    batch.records.push(RecordOutcome::Event { event, decision: EventDecision::NoFollower });
                }
                Err(error) => {
                    batch.errors.push(RunError::FindFollowers { source_id: event.source_id.clone(), error });
                    batch.records.push(RecordOutcome::Event { event, decision: EventDecision::FollowersUnknown });
                }
            }
        }
        if !groups.is_empty() {
            let groups: Vec<TargetGroupInfo> = groups.into_values().collect();
            // Boxed, like the lookup above: nested in the batch, the SDK's deep
            // futures exceed the compiler's layout depth limit in the handler.
            let watch = Box::pin(self.sync_until_settled(
                &groups,
                follow_up,
                Watch { recheck, deadline, any_change },
                &retired,
            ))
            .await;
            batch.errors.extend(watch.errors());
            for (index, target_groups) in followed {
                if let RecordOutcome::Event { decision, .. } = &mut batch.records[index] {
                    *decision = EventDecision::Followed(Followed {
                        target_groups,
                        runs: watch.runs,
                        settled: watch.settled,
                        changed: watch.changed,
                        converged_at_ms: watch.converged_at_ms,
                    });
                }
            }
            batch.watch = Some(watch);
        }
        batch
    }
}

fn follows_a_writer(sources: &[Source]) -> bool {
    sources.iter().any(|s| matches!(s, Source::Cluster { role: ClusterRole::Writer, .. }))
}

/// The sources that stand for every address of an RDS resource.
fn sources_of(resource: RdsResource) -> Vec<Source> {
    match resource {
        RdsResource::Instance(id) => vec![Source::Instance { id }],
        RdsResource::Cluster(id) => vec![
            Source::Cluster { id: id.clone(), role: ClusterRole::Writer },
            Source::Cluster { id, role: ClusterRole::Readers },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeDns, FakeElb, FakeRds};
    use crate::inbound::parse_notification;
    use crate::inbound::tests::notification;
    use crate::report::record_line;
    use crate::sync::SyncOptions;
    use FollowUp::{SyncNow, WatchForChange};

    fn sns(messages: &[String]) -> Vec<Result<RdsEvent, NotAnRdsEvent>> {
        messages.iter().map(|m| crate::inbound::parse_notification(m)).collect()
    }
    use SourceKind::{DbCluster, DbInstance, DbProxy};

    /// The target groups `arns` as a listing gives them.
    async fn listed(e: &SyncEngine<FakeElb, FakeRds, FakeDns>, arns: &[String]) -> Vec<TargetGroupInfo> {
        let groups = e.managed_target_groups().await.unwrap();
        groups.into_iter().filter(|g| arns.contains(&g.arn)).collect()
    }

    fn fixture() -> SyncEngine<FakeElb, FakeRds, FakeDns> {
        let rds = FakeRds::default();
        rds.cluster("prod", &[("prod-1", true), ("prod-2", false)]);
        rds.member("prod-1", "prod-1.test", "prod");
        rds.member("prod-2", "prod-2.test", "prod");
        rds.instance("solo", Some("solo.test"));
        let dns = FakeDns::default();
        dns.set("prod-1.test", &["10.0.1.1"]);
        dns.set("prod-2.test", &["10.0.2.2"]);
        dns.set("solo.test", &["10.0.3.3"]);
        SyncEngine::new(FakeElb::default(), rds, dns, SyncOptions::default())
    }

    #[tokio::test]
    async fn affected_groups_follow_the_cluster_its_members_instances_and_proxies() {
        let e = fixture();
        let writer = e.elb().group("writer", Some("rds-cluster:prod"));
        let readers = e.elb().group("readers", Some("rds-cluster:prod:readers"));
        let solo = e.elb().group("solo", Some("rds-instance:solo"));
        let proxy = e.elb().group("proxy", Some("rds-proxy:px dns:other.test"));
        e.elb().group("broken", Some("rds-clustr:prod"));
        let affected = |t: &'static str, id: &'static str, k| {
            let e = &e;
            async move {
                let ev = parse_notification(&notification(t, id, "RDS-EVENT-0071")).unwrap();
                e.affected_target_groups(&ev, k).await.unwrap().arns
            }
        };
        assert_eq!(affected("db-cluster", "prod", DbCluster).await, vec![writer.clone(), readers.clone()]);
        assert_eq!(affected("db-instance", "prod-2", DbInstance).await, vec![writer, readers]);
        assert_eq!(affected("db-instance", "solo", DbInstance).await, vec![solo]);
        assert_eq!(affected("db-proxy", "PX", DbProxy).await, vec![proxy]);
        assert!(affected("db-cluster", "other", DbCluster).await.is_empty());
    }

    #[tokio::test]
    async fn completed_failover_settles_in_one_run_from_the_rds_api() {
        let e = fixture();
        let tg = e.elb().group("writer", Some("rds-cluster:prod"));
        e.sync(&Selection::AllManaged).await;
        e.rds().cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        let watch = Watch {
            recheck: Duration::from_millis(10),
            deadline: Instant::now() + Duration::from_secs(5),
            any_change: false,
        };
        let outcome =
            e.sync_until_settled(&listed(&e, std::slice::from_ref(&tg)).await, SyncNow, watch, &BTreeSet::new()).await;
        assert_eq!(outcome.runs, 1);
        assert!(outcome.settled && outcome.changed && outcome.converged_at_ms.is_some());
        assert_eq!(e.elb().held(&tg), vec!["10.0.2.2"]);
    }

    /// Watches `arns` for a started failover (re-checking every 20 ms, for
    /// up to 5 s) while the cluster fails over to prod-2 after 120 ms.
    async fn watch_a_started_failover(
        e: &std::sync::Arc<SyncEngine<FakeElb, FakeRds, FakeDns>>,
        arns: &[String],
    ) -> WatchOutcome {
        let flip = {
            let e = e.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(120)).await;
                e.rds().cluster("prod", &[("prod-1", false), ("prod-2", true)]);
            })
        };
        let watch = Watch {
            recheck: Duration::from_millis(20),
            deadline: Instant::now() + Duration::from_secs(5),
            any_change: false,
        };
        let outcome = e.sync_until_settled(&listed(e, arns).await, WatchForChange, watch, &BTreeSet::new()).await;
        flip.await.unwrap();
        outcome
    }

    #[tokio::test]
    async fn started_failover_keeps_checking_until_the_change_is_applied() {
        let e = std::sync::Arc::new(fixture());
        let tg = e.elb().group("writer", Some("rds-cluster:prod"));
        e.sync(&Selection::AllManaged).await;
        let outcome = watch_a_started_failover(&e, std::slice::from_ref(&tg)).await;
        assert!(outcome.runs > 2, "it waited: {} runs", outcome.runs);
        assert!(outcome.settled && outcome.changed);
        assert_eq!(e.elb().held(&tg), vec!["10.0.2.2"]);
    }

    #[tokio::test]
    async fn a_started_failover_is_not_settled_by_another_groups_pending_change() {
        let e = std::sync::Arc::new(fixture());
        let writer = e.elb().group("writer", Some("rds-cluster:prod"));
        let readers = e.elb().group("readers", Some("rds-cluster:prod:readers"));
        e.sync(&Selection::AllManaged).await;
        // A change the event did not cause: a stray target in the readers group.
        e.elb().seed(&readers, "10.0.7.7");
        let outcome = watch_a_started_failover(&e, &[writer.clone(), readers.clone()]).await;
        assert!(outcome.runs > 2, "the stray's removal did not end the watch: {} runs", outcome.runs);
        assert!(outcome.settled && outcome.changed);
        assert_eq!(e.elb().held(&writer), vec!["10.0.2.2"], "the new writer is in, the old one out");
    }

    #[tokio::test]
    async fn a_watch_without_change_ends_at_the_deadline_without_a_change() {
        let e = fixture();
        let tg = e.elb().group("writer", Some("rds-cluster:prod"));
        e.sync(&Selection::AllManaged).await;
        let started = Instant::now();
        let watch = Watch {
            recheck: Duration::from_millis(20),
            deadline: started + Duration::from_millis(150),
            any_change: false,
        };
        let outcome = e
            .sync_until_settled(&listed(&e, std::slice::from_ref(&tg)).await, WatchForChange, watch, &BTreeSet::new())
            .await;
        assert!(!outcome.changed && outcome.settled && outcome.converged_at_ms.is_none());
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(outcome.runs >= 2);
    }

    #[tokio::test]
    async fn a_batch_with_good_and_bad_records_handles_the_good_ones() {
        let e = fixture();
        let tg = e.elb().group("writer", Some("rds-cluster:prod"));
        e.sync(&Selection::AllManaged).await;
        e.rds().cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        let messages = vec![
            "This is a confirmation that you have subscribed.".to_string(),
            "{not json".to_string(),
            notification("db-cluster", "elsewhere", "RDS-EVENT-0071"),
            notification("db-instance", "prod-1", "RDS-EVENT-0169"),
            notification("db-cluster", "prod", "RDS-EVENT-0071"),
        ];
        let batch =
            e.follow_events(&sns(&messages), Duration::from_millis(10), Instant::now() + Duration::from_secs(5)).await;
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert_eq!(e.elb().held(&tg), vec!["10.0.2.2"]);
        let lines: Vec<serde_json::Value> = batch.records.iter().map(record_line).collect();
        let decisions: Vec<&str> = lines.iter().map(|l| l["decision"].as_str().unwrap()).collect();
        assert_eq!(decisions.len(), 5, "one line per record: {decisions:?}");
        assert!(decisions[0].contains("ignored: not a JSON RDS event"));
        assert!(decisions[1].contains("ignored: not a JSON RDS event"));
        assert!(decisions[2].contains("no managed target group follows elsewhere"));
        assert!(decisions[3].contains("not an event that moves addresses"));
        assert!(decisions[4].contains("changed and are correct"));
    }

    #[tokio::test]
    async fn an_event_syncs_the_groups_as_listed_without_describing_them_again() {
        let e = fixture();
        let writer = e.elb().group("writer", Some("rds-cluster:prod"));
        let readers = e.elb().group("readers", Some("rds-cluster:prod:readers"));
        e.elb().group("other", Some("rds-cluster:elsewhere"));
        e.sync(&Selection::AllManaged).await;
        e.rds().cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        let messages = vec![notification("db-cluster", "prod", "RDS-EVENT-0071")];
        let batch =
            e.follow_events(&sns(&messages), Duration::from_millis(10), Instant::now() + Duration::from_secs(5)).await;
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert_eq!(batch.watch.as_ref().map(|w| w.runs), Some(1));
        assert_eq!(e.elb().held(&writer), vec!["10.0.2.2"]);
        assert_eq!(e.elb().held(&readers), vec!["10.0.1.1"]);
        assert_eq!(e.elb().describes.load(std::sync::atomic::Ordering::SeqCst), 0, "the listing is reused");
    }

    #[tokio::test]
    async fn a_failing_sync_is_an_error_of_the_batch() {
        let e = fixture();
        e.elb().group("writer", Some("rds-cluster:prod"));
        e.dns().fail("prod-1.test");
        let messages = vec![notification("db-cluster", "prod", "RDS-EVENT-0071")];
        let deadline = Instant::now() + Duration::from_millis(100);
        let batch = e.follow_events(&sns(&messages), Duration::from_millis(20), deadline).await;
        assert_eq!(batch.errors.len(), 1);
        assert!(batch.errors[0].to_string().contains("prod-1.test"), "{:?}", batch.errors);
        assert!(batch.watch.as_ref().unwrap().runs >= 2, "kept retrying until the deadline");
        let failed = batch.into_result().unwrap_err();
        assert_eq!(failed.total, 1);
        assert!(failed.to_string().starts_with("1 of 1 target group(s) failed to sync: "), "{failed}");
    }

    #[tokio::test]
    async fn a_refused_group_fails_the_batch_once_and_is_not_rechecked() {
        use crate::exposure::{AllowedSources, ExposurePolicy, TargetGroupScope};
        let e = fixture().with_exposure(ExposurePolicy {
            sources: AllowedSources::parse("rds-cluster:*").unwrap(),
            target_groups: TargetGroupScope::parse("writer refused").unwrap(),
            ..ExposurePolicy::default()
        });
        let writer = e.elb().group("writer", Some("rds-cluster:prod"));
        let refused = e.elb().group("refused", Some("rds-cluster:prod dns:files.internal"));
        let outside = e.elb().group("outside", Some("rds-cluster:prod"));
        e.sync(&Selection::AllManaged).await;
        // "Failover started": the watch re-checks until the writer moves, which it never does here.
        let messages = vec![notification("db-cluster", "prod", "RDS-EVENT-0073")];
        let deadline = Instant::now() + Duration::from_millis(300);
        let batch = e.follow_events(&sns(&messages), Duration::from_millis(20), deadline).await;

        let watch = batch.watch.as_ref().unwrap();
        assert!(watch.runs >= 3, "the writer group is still watched: {} runs", watch.runs);
        let runs_with_refused = watch.runs_made.iter().filter(|r| r.groups.iter().any(|g| g.arn == refused)).count();
        assert_eq!(runs_with_refused, 1, "the refused group is not re-checked");
        assert_eq!(e.elb().held(&writer), vec!["10.0.1.1"]);
        assert!(e.elb().calls_naming(&refused).is_empty() && e.elb().calls_naming(&outside).is_empty());
        assert!(
            watch.runs_made.iter().all(|r| r.groups.iter().all(|g| g.arn != outside)),
            "out of scope: not followed"
        );
        assert_eq!(batch.errors.len(), 1, "{:?}", batch.errors);
        assert!(batch.errors[0].to_string().contains("source dns:files.internal is not allowed"), "{:?}", batch.errors);
        let reported: Vec<&RunOutcome> = watch.reported_runs().collect();
        assert!(reported[0].groups.iter().any(|g| g.arn == refused), "its decision line is written");
        let failed = batch.into_result().unwrap_err();
        assert_eq!(failed.total, 2, "{failed}");
    }

    #[tokio::test]
    async fn a_malformed_record_first_does_not_stop_the_failover_after_it() {
        let e = fixture();
        let tg = e.elb().group("writer", Some("rds-cluster:prod"));
        e.sync(&Selection::AllManaged).await;
        e.rds().cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        let bad_time = notification("db-cluster", "prod", "RDS-EVENT-0071")
            .replace("2026-11-23 10:00:00.250", "2024-05-21 10:11:12.a€");
        let messages = vec![
            bad_time,
            r#"{"Event Source": 5, "Source ID": ["x"]}"#.to_string(),
            notification("db-cluster", "prod", "RDS-EVENT-0071"),
        ];
        let batch =
            e.follow_events(&sns(&messages), Duration::from_millis(10), Instant::now() + Duration::from_secs(5)).await;
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert_eq!(e.elb().held(&tg), vec!["10.0.2.2"]);
        assert_eq!(batch.records.len(), 3);
        let RecordOutcome::Event { event, decision: EventDecision::Followed(_) } = &batch.records[0] else {
            panic!("{:?}", batch.records[0])
        };
        assert_eq!(event.event_time_ms, None, "the unreadable time is left out, the event is kept");
        assert_eq!(batch.records[1], RecordOutcome::NotAnRdsEvent(NotAnRdsEvent::NoEventSource));
        assert!(matches!(batch.records[2], RecordOutcome::Event { decision: EventDecision::Followed(_), .. }));
    }

    fn arn(kind: &str, id: &str) -> Option<String> {
        Some(format!("arn:aws:rds:us-east-1:123456789012:{kind}:{id}"))
    }

    #[tokio::test]
    async fn a_completed_switchover_retires_the_old_blue_in_the_same_invocation() {
        use crate::ports::{BlueGreenDeployment, SwitchoverMember};
        let e = fixture();
        // Blue "orders" at 10.0.5.5 is live; green will take its name.
        e.rds().instance("orders", Some("orders.test"));
        e.dns().set("orders.test", &["10.0.5.5"]);
        let tg = e.elb().group("orders", Some("rds-instance:orders"));
        e.sync(&Selection::AllManaged).await;
        assert_eq!(e.elb().held(&tg), vec!["10.0.5.5"]);
        // Switchover: the name now points at green (10.0.6.6), blue is orders-old1.
        e.dns().set("orders.test", &["10.0.6.6"]);
        e.rds().instance("orders-old1", Some("orders-old1.test"));
        e.dns().set("orders-old1.test", &["10.0.5.5"]);
        e.rds().deployment(BlueGreenDeployment {
            id: "bgd-1".into(),
            status: "SWITCHOVER_COMPLETED".into(),
            source: arn("db", "orders-old1"),
            target: arn("db", "orders"),
            members: vec![SwitchoverMember { source: arn("db", "orders-old1"), target: arn("db", "orders") }],
        });
        let unrelated = BlueGreenDeployment { id: "bgd-2".into(), source: arn("db", "billing"), ..Default::default() };
        e.rds().deployment(unrelated);
        let message = notification("blue-green-deployment", "bgd-2", "RDS-EVENT-0248");
        let batch =
            e.follow_events(&sns(&[message]), Duration::from_millis(10), Instant::now() + Duration::from_secs(2)).await;
        assert_eq!(
            batch.records[0],
            RecordOutcome::Event {
                event: parse_notification(&notification("blue-green-deployment", "bgd-2", "RDS-EVENT-0248")).unwrap(),
                decision: EventDecision::NoFollower
            }
        );
        assert_eq!(e.elb().held(&tg), vec!["10.0.5.5"], "an unrelated deployment changes nothing");

        // Both addresses healthy: without the retirement, the old blue would
        // only go by make before break, in a later run.
        let message = notification("blue-green-deployment", "bgd-1", "RDS-EVENT-0248");
        let batch =
            e.follow_events(&sns(&[message]), Duration::from_millis(10), Instant::now() + Duration::from_secs(2)).await;
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert_eq!(e.elb().held(&tg), vec!["10.0.6.6"]);
        let run = batch.last_run().unwrap();
        let first_change = batch.watch.as_ref().unwrap().runs_made.iter().find(|r| r.groups[0].changed()).unwrap();
        assert_eq!(
            first_change.groups[0].deregistered,
            vec![(Target { ip: "10.0.5.5".parse().unwrap(), port: 5432 }, crate::plan::DeregisterReason::RoleChanged)]
        );
        assert!(run.errors().is_empty());
    }

    #[tokio::test]
    async fn a_deleted_reader_leaves_the_readers_group_at_once() {
        let e = fixture();
        e.rds().cluster("prod", &[("prod-1", true), ("prod-2", false), ("prod-3", false)]);
        e.rds().member("prod-3", "prod-3.test", "prod");
        e.dns().set("prod-3.test", &["10.0.3.30"]);
        let tg = e.elb().group("readers", Some("rds-cluster:prod:readers"));
        e.sync(&Selection::AllManaged).await;
        assert_eq!(e.elb().held(&tg), vec!["10.0.2.2", "10.0.3.30"]);
        // The remaining reader is not healthy yet, so make before break alone
        // would keep the deleted one.
        let remaining = Target { ip: "10.0.2.2".parse().unwrap(), port: 5432 };
        e.elb().targets.lock().unwrap().get_mut(&tg).unwrap().insert(remaining, crate::target::TargetHealth::Initial);
        // prod-3 is deleted: the RDS API no longer knows it, nor its cluster.
        e.rds().cluster("prod", &[("prod-1", true), ("prod-2", false)]);
        e.rds().remove_instance("prod-3");
        let message = notification("db-instance", "prod-3", "RDS-EVENT-0003");
        let batch =
            e.follow_events(&sns(&[message]), Duration::from_millis(10), Instant::now() + Duration::from_secs(2)).await;
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert_eq!(e.elb().held(&tg), vec!["10.0.2.2"]);
        assert_eq!(batch.watch.unwrap().runs, 1, "one run: no make before break for a removed member");
    }

    #[tokio::test]
    async fn a_writer_group_of_a_global_secondary_empties_and_refills_on_promotion() {
        use crate::ports::GlobalRole;
        let e = fixture();
        let tg = e.elb().group("writer", Some("rds-cluster:prod:writer"));
        e.sync(&Selection::AllManaged).await;
        assert_eq!(e.elb().held(&tg), vec!["10.0.1.1"]);
        // Global switchover away from this Region: the cluster is a secondary, no writer.
        e.rds().cluster("prod", &[("prod-1", false), ("prod-2", false)]);
        e.rds().global("prod", GlobalRole::Secondary { global_cluster: "orders-global".into() });
        let message = notification("db-cluster", "prod", "RDS-EVENT-0185");
        let batch =
            e.follow_events(&sns(&[message]), Duration::from_millis(10), Instant::now() + Duration::from_secs(2)).await;
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert!(e.elb().held(&tg).is_empty(), "the old writer is read-only now");
        // And back: prod-2 is the writer of the new primary.
        e.rds().cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        e.rds().global("prod", GlobalRole::Primary);
        let message = notification("db-cluster", "prod", "RDS-EVENT-0238");
        e.follow_events(&sns(&[message]), Duration::from_millis(10), Instant::now() + Duration::from_secs(2)).await;
        assert_eq!(e.elb().held(&tg), vec!["10.0.2.2"]);
    }

    #[tokio::test]
    async fn a_regional_cluster_without_writer_is_still_unresolved() {
        let e = fixture();
        let tg = e.elb().group("writer", Some("rds-cluster:prod:writer"));
        e.sync(&Selection::AllManaged).await;
        e.rds().cluster("prod", &[("prod-1", false), ("prod-2", false)]);
        let run = e.sync(&Selection::AllManaged).await;
        assert_eq!(e.elb().held(&tg), vec!["10.0.1.1"], "no removal on doubt");
        assert!(run.errors()[0].to_string().contains("has no writer"), "{:?}", run.errors());
    }
}
