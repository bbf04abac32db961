//! One run at a time changes a target group: the per-group lease.
//!
//! ELB has no conditional write, so the applied-view tag alone cannot order
//! two runs that are already applying (one may deregister, from an older
//! plan, what the other has just registered). A run with something to change
//! therefore first takes the group's lease in the [`LeaseStore`] (a
//! conditional write), then resolves the group's sources again and re-reads
//! its targets and tags, so what it applies rests on a view taken after every
//! earlier holder finished; and it checks before each ELB call that its lease
//! still has [`MUTATION_MARGIN`] left. A run with nothing to change answers
//! "correct" only when no run holds the lease; otherwise it queues for the
//! lease and looks again. See `docs/architecture.md`, "Concurrent runs".

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::now_millis;
use crate::managed::ManagedGroup;
use crate::plan::HoldReason;
use crate::ports::{DnsLookup, RdsDirectory, TargetGroups};
use crate::spec::DNS_MEMORY_TAG;
use crate::sync::{Decision, GroupOutcome, SyncEngine, SyncError};
use crate::target::TargetGroupInfo;

/// How long a lease runs. A run killed while holding it (a Lambda timeout)
/// keeps other runs from the group this long.
pub const LEASE_TTL: Duration = Duration::from_secs(45);
/// The least lease time left for an ELB call to start: more than one SDK
/// attempt may take (10 s), so a call sent in time lands before the lease ends.
pub const MUTATION_MARGIN: Duration = Duration::from_secs(12);
/// How long a run waits for another run's lease before it holds its changes back.
pub const LEASE_WAIT: Duration = Duration::from_secs(20);
/// How often a waiting run tries the lease again.
const LEASE_RETRY: Duration = Duration::from_millis(250);

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A lease this run holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    /// When (Unix ms) it ends.
    pub until_ms: u64,
}

impl Lease {
    /// True while at least [`MUTATION_MARGIN`] is left: an ELB call may start.
    pub fn may_change(&self) -> bool {
        now_millis().saturating_add(millis(MUTATION_MARGIN)) <= self.until_ms
    }
}

/// A name no other run uses: the process, a counter and the time.
fn owner_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), now_millis())
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    /// Whether another run holds the group's lease right now.
    pub(crate) async fn lease_is_held(&self, arn: &str, target_group: &str) -> Result<bool, SyncError> {
        self.leases
            .is_held(arn, now_millis())
            .await
            .map_err(|error| SyncError::Lease { target_group: target_group.to_string(), error })
    }

    /// Takes the group's lease, waiting up to [`LEASE_WAIT`] for another
    /// run's to end; `None` when it did not.
    async fn take_lease(&self, arn: &str, target_group: &str) -> Result<Option<Lease>, SyncError> {
        let owner = owner_id();
        let give_up = now_millis().saturating_add(millis(LEASE_WAIT));
        loop {
            let now = now_millis();
            let until_ms = now.saturating_add(millis(LEASE_TTL));
            let taken = self
                .leases
                .acquire(arn, &owner, now, until_ms)
                .await
                .map_err(|error| SyncError::Lease { target_group: target_group.to_string(), error })?;
            if taken {
                return Ok(Some(Lease { owner, until_ms }));
            }
            if now_millis() >= give_up {
                return Ok(None);
            }
            tokio::time::sleep(LEASE_RETRY).await;
        }
    }

    /// Takes the lease, decides again on a fresh view and applies the plan,
    /// then gives the lease back. When another run keeps the lease past
    /// [`LEASE_WAIT`], every change is held back for it.
    pub(crate) async fn apply_under_lease(
        &self,
        info: &TargetGroupInfo,
        group: &ManagedGroup,
        view_cap_ms: u64,
        retired: &BTreeSet<IpAddr>,
        outcome: &mut GroupOutcome,
    ) -> Result<Decision, SyncError> {
        let target_group = outcome.label().to_string();
        let elb = |error| SyncError::Elb { target_group: target_group.clone(), error };
        let Some(lease) = self.take_lease(&info.arn, &target_group).await? else {
            // Decided on the view from before, only to say what is held back.
            let resolver = self.resolver();
            let memory = info.tags.get(DNS_MEMORY_TAG).map(String::as_str);
            let mut decision = self.decide(info, group, &resolver, view_cap_ms, retired, memory).await.map_err(elb)?;
            decision.plan.hold_everything(HoldReason::AnotherRunApplying);
            return Ok(decision);
        };
        let applied = async {
            // A new resolver: lookups sent now, after every earlier holder finished.
            let resolver = self.resolver();
            let tags = self.current_tags(&info.arn).await.map_err(elb)?;
            let memory = tags.get(DNS_MEMORY_TAG).map(String::as_str);
            let mut decision = self.decide(info, group, &resolver, view_cap_ms, retired, memory).await.map_err(elb)?;
            // A lease that keeps other writers out: the tags read under it stand.
            let leased_tags = self.leases.orders_runs().then_some(&tags);
            self.apply_decision(&info.arn, &target_group, &mut decision, &lease, leased_tags, outcome).await?;
            self.stamp_settled(&info.arn, &tags, &decision, &lease).await.map_err(elb)?;
            Ok(decision)
        }
        .await;
        if let Err(error) = self.leases.release(&info.arn, &lease.owner).await {
            // The lease ends by itself at its time; nothing is wrong with the group.
            tracing::warn!(target_group = %target_group, error = %error, "could not give the lease back");
        }
        applied
    }
}
