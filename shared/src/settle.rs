//! Syncing and then waiting for health checks, as the custom resource
//! (`WaitForHealthySeconds`) and the command line (`apply --wait-healthy`)
//! both do: sync, re-read health until every wanted target passes or the wait
//! ends, then sync once more where a healthy target was kept only until its
//! replacement was healthy, which finishes make-before-break.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::ports::{DnsLookup, ElbError, RdsDirectory, TargetGroups};
use crate::sync::{RunOutcome, Selection, SyncEngine};
use crate::target::{PendingTarget, Target, not_healthy};

/// What a sync with a wait for health did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub run: RunOutcome,
    /// Per target group (ARN): wanted targets still not healthy when the wait
    /// ended, or all of them when their health could not be read.
    pub unhealthy: BTreeMap<String, Vec<PendingTarget>>,
    /// Why a group's health could not be read, per target group (ARN).
    pub unreadable: BTreeMap<String, ElbError>,
    /// The run after the wait, for groups that kept a healthy target only
    /// until its replacement was healthy.
    pub finish: Option<RunOutcome>,
    pub waited: Duration,
}

impl Settled {
    /// True when every run synced and every wanted target became healthy.
    pub fn succeeded(&self) -> bool {
        self.run.errors().is_empty()
            && self.unhealthy.values().all(Vec::is_empty)
            && self.finish.as_ref().is_none_or(|f| f.errors().is_empty())
    }

    /// The runs made, first to last.
    pub fn runs(&self) -> impl Iterator<Item = &RunOutcome> {
        std::iter::once(&self.run).chain(&self.finish)
    }
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    /// Syncs the selection; with a non-zero `wait` (and not in a dry run),
    /// re-reads health every `poll` until every wanted target of the groups
    /// that synced is healthy, then finishes make-before-break.
    pub async fn sync_and_wait(
        &self,
        selection: &Selection,
        wait: Duration,
        poll: Duration,
        progress: &(impl Fn(&str) + Sync),
    ) -> Settled {
        let started = Instant::now();
        progress("resolving the sources and syncing");
        let run = self.sync(selection).await;
        let mut settled = Settled {
            run,
            unhealthy: BTreeMap::new(),
            unreadable: BTreeMap::new(),
            finish: None,
            waited: Duration::ZERO,
        };
        if wait.is_zero() || self.options().dry_run {
            return settled;
        }
        let deadline = started + wait;
        let mut replace = Vec::new();
        for group in settled.run.groups.iter().filter(|g| g.error.is_none()) {
            match self.wait_until_healthy(&group.arn, &group.desired(), deadline, poll, progress).await {
                Ok(pending) if pending.is_empty() => {
                    if group.awaits_healthy_replacement() {
                        replace.push(group.arn.clone());
                    }
                }
                Ok(pending) => {
                    settled.unhealthy.insert(group.arn.clone(), pending);
                }
                Err(error) => {
                    let missing = group.desired().into_iter().map(|target| PendingTarget { target, health: None });
                    settled.unhealthy.insert(group.arn.clone(), missing.collect());
                    progress(&format!("cannot read the health of {}: {error}", group.label()));
                    settled.unreadable.insert(group.arn.clone(), error);
                }
            }
        }
        settled.waited = started.elapsed();
        if !replace.is_empty() {
            progress("removing the targets the healthy ones replace");
            settled.finish = Some(self.sync(&Selection::Only(replace)).await);
        }
        settled
    }

    /// Re-reads health every `poll` until every `wanted` target is healthy or
    /// `deadline` passes; returns the targets still not healthy.
    async fn wait_until_healthy(
        &self,
        arn: &str,
        wanted: &BTreeSet<Target>,
        deadline: Instant,
        poll: Duration,
        progress: &(impl Fn(&str) + Sync),
    ) -> Result<Vec<PendingTarget>, ElbError> {
        loop {
            let pending = not_healthy(wanted, &self.target_health(arn).await?);
            let now = Instant::now();
            if pending.is_empty() || now >= deadline {
                return Ok(pending);
            }
            progress(&format!("waiting for {} target(s) to pass health checks", pending.len()));
            tokio::time::sleep((deadline - now).min(poll)).await;
        }
    }
}
