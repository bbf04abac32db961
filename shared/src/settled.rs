//! Steady runs skip the health read: the `nlb-target-sync:settled` tag.
//!
//! A run that applied a group's changes under its lease and held nothing back
//! (or that found the group correct and took the lease to say so) leaves the
//! group holding exactly its wanted set, and writes a digest of that set in
//! the settled tag, in a call of its own after the changes and only while the
//! lease still runs. Every run withdraws the digest in the same call that
//! stamps its view, before it changes a target (`withdraw_digest`), so a run
//! that stops halfway (throttled, killed) never leaves a digest of a set the
//! group no longer holds. A later run whose wanted set has the same digest knows
//! what the group holds without DescribeTargetHealth, and answers "correct"
//! (after the usual check that no run holds the lease), unless the group's
//! audit is due.
//!
//! The audit finds drift (a target added, removed or deregistered outside
//! the functions): every group's health is read in the runs that fall in its
//! slot, one [`AUDIT_WINDOW`] in every audit period, the slot placed by a hash
//! of the ARN so the reads spread evenly over the runs. With the schedule
//! every minute, every group's health is read at least once per period plus
//! one minute. A group whose wanted set changed, that has changes held back
//! (make-before-break, an address within the absence window, retired
//! addresses, a refused address), whose sources did not resolve, or whose
//! memory of `dns:` names is pending (a name stopped answering an address the
//! group still holds, or its memory would change in this run), is read in
//! every run.
//!
//! Only with a lease table: without one, writes of two runs are not ordered,
//! and a digest written from an older view could stand for a set the group no
//! longer holds. A skipped read never changes anything, so it cannot let an
//! older view undo a newer one; and a digest is written only by the lease's
//! holder, whose view was taken after every earlier holder finished.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use crate::clock::now_millis;
use crate::exposure::AllowedAddresses;
use crate::lease::Lease;
use crate::managed::ManagedGroup;
use crate::memory_tag;
use crate::name_memory::DnsMemory;
use crate::plan::{Plan, plan_with_history};
use crate::ports::{DnsLookup, ElbError, RdsDirectory, TargetGroups};
use crate::resolution::SourceAnswer;
use crate::resolve::SourceResolver;
use crate::spec::SETTLED_TAG;
use crate::sync::{Decision, SyncEngine, resolve_group};
use crate::target::{Target, TargetGroupInfo, TargetGroupState, TargetHealth};

/// The settled tag's value while a run changes the group: no digest.
pub const UNSETTLED: &str = "-";

/// How long a group's audit slot lasts: one schedule interval.
pub const AUDIT_WINDOW: Duration = Duration::from_secs(60);
/// The audit period by default: every group's health read every 15 minutes.
pub const DEFAULT_AUDIT_PERIOD: Duration = Duration::from_secs(900);

/// FNV-1a, 64 bits: stable across Rust versions and processes (unlike the
/// standard library's hasher), which a digest kept in a tag needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The settled tag's value for a target set: order-free, 16 hex digits.
pub fn digest(targets: &BTreeSet<Target>) -> String {
    let listed: Vec<String> = targets.iter().map(Target::to_string).collect();
    format!("{:016x}", fnv1a(listed.join(",").as_bytes()))
}

/// When each group's health must be read even though its digest matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditSchedule {
    /// Every group is audited once per period; zero: every run reads every
    /// group (nothing is skipped).
    pub period: Duration,
}

impl Default for AuditSchedule {
    fn default() -> Self {
        AuditSchedule { period: DEFAULT_AUDIT_PERIOD }
    }
}

impl AuditSchedule {
    /// True when a run at `now_ms` falls in the group's audit slot.
    pub fn due(&self, arn: &str, now_ms: u64) -> bool {
        let period = u64::try_from(self.period.as_millis()).unwrap_or(u64::MAX);
        let window = u64::try_from(AUDIT_WINDOW.as_millis()).unwrap_or(u64::MAX);
        if period <= window {
            return true;
        }
        let offset = fnv1a(arn.as_bytes()) % period;
        (now_ms % period + offset) % period < window
    }
}

/// The wanted set of a group whose answers can be trusted to stand for it:
/// every source resolved, nothing refused.
fn wanted_set(answers: &[SourceAnswer], group: &ManagedGroup, allowed: &AllowedAddresses) -> Option<BTreeSet<Target>> {
    let nobody = TargetGroupState::new(std::iter::empty());
    let plan = plan_with_history(answers, group.port, &nobody, None, allowed);
    let trusted = plan.unresolved.is_empty() && plan.held_back.is_empty() && !plan.desired.is_empty();
    trusted.then_some(plan.desired)
}

/// True when some `dns:` name stopped answering an address the group still
/// holds: its absence (or its move) is being watched, run by run.
fn memory_pending(memory: &DnsMemory) -> bool {
    memory.names.values().any(|name| !name.missing_since.is_empty())
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    /// The decision of a group known settled at its wanted set, made without
    /// reading its health; `None` when its health must be read.
    pub(crate) async fn settled_decision(
        &self,
        info: &TargetGroupInfo,
        group: &ManagedGroup,
        resolver: &SourceResolver<'_, R, D>,
        view_cap_ms: u64,
        retired: &BTreeSet<IpAddr>,
        memory_tag: Option<&str>,
    ) -> Option<Decision> {
        let settled = info.tags.get(SETTLED_TAG)?;
        if !self.leases.orders_runs() || !retired.is_empty() || self.audit.due(&info.arn, now_millis()) {
            return None;
        }
        let memory = memory_tag.map(memory_tag::parse).unwrap_or_default();
        if memory_pending(&memory) {
            return None;
        }
        // The run's resolver shares lookups: `decide` asks it again for free
        // (the same memory, so the same queries).
        let (answers, view_ms) = resolve_group(info, group, resolver, view_cap_ms, &memory).await;
        let wanted = wanted_set(&answers, group, &self.exposure().addresses)?;
        if digest(&wanted) != *settled {
            return None;
        }
        let held = TargetGroupState::new(wanted.iter().map(|t| (*t, TargetHealth::Healthy)));
        let decision = self.plan_decision(&answers, group, held, view_ms, memory, memory_tag);
        // Anything to do or to remember: read the group and decide on what it holds.
        (settles(&decision.plan) && !decision.changes_something()).then_some(decision)
    }

    /// True when a group found correct should take the lease to write its
    /// settled tag (it has none, or one for another set).
    pub(crate) fn settled_tag_stale(&self, info: &TargetGroupInfo, decision: &Decision) -> bool {
        self.leases.orders_runs()
            && !self.options().dry_run
            && settles(&decision.plan)
            && info.tags.get(SETTLED_TAG) != Some(&digest(&decision.plan.desired))
    }

    /// After `decision` was applied under `lease`: writes the settled tag
    /// when the group now holds exactly its wanted set and the tag (as read
    /// under the lease) says otherwise.
    pub(crate) async fn stamp_settled(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
        decision: &Decision,
        lease: &Lease,
    ) -> Result<(), ElbError> {
        if !self.leases.orders_runs() || self.options().dry_run || !settles(&decision.plan) || !lease.may_change() {
            return Ok(());
        }
        let value = digest(&decision.plan.desired);
        // A change withdrew the digest (`withdraw_digest`): write it again.
        if tags.get(SETTLED_TAG) == Some(&value) && !decision.changes_something() {
            return Ok(());
        }
        self.target_groups_port().add_tags(arn, &[(SETTLED_TAG, value)]).await
    }
}

/// The settled tag's part of the stamp a run writes before it changes the
/// group's targets (`claim_view`, Delete's view stamp): when the group
/// carries a digest, it is withdrawn in the same call, so a run that stops
/// halfway (throttled, killed, out of lease) never leaves a digest of a set
/// the group no longer holds. Whatever the lease store, the command line's
/// runs included.
pub(crate) fn withdraw_digest(tags: &BTreeMap<String, String>) -> Option<(&'static str, String)> {
    tags.get(SETTLED_TAG).is_some_and(|v| v != UNSETTLED).then(|| (SETTLED_TAG, UNSETTLED.to_string()))
}

/// True when applying the plan leaves the group at its wanted set with
/// nothing held back, in doubt or watched by the memory of `dns:` names.
fn settles(plan: &Plan) -> bool {
    plan.held_back.is_empty() && plan.unresolved.is_empty() && !plan.desired.is_empty() && !memory_pending(&plan.memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeDns, FakeElb, FakeLeases, FakeRds};
    use crate::spec::DNS_MEMORY_TAG;
    use crate::sync::{Selection, SyncOptions};
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    fn engine(leases: bool) -> SyncEngine<FakeElb, FakeRds, FakeDns> {
        let rds = FakeRds::default();
        rds.cluster("prod", &[("prod-1", true), ("prod-2", false)]);
        rds.instance("prod-1", Some("prod-1.test"));
        rds.instance("prod-2", Some("prod-2.test"));
        rds.proxy("px", None, "px.proxy.test");
        let dns = FakeDns::default();
        dns.set("px.proxy.test", &["10.0.5.5"]);
        dns.set("prod-1.test", &["10.0.1.1"]);
        dns.set("prod-2.test", &["10.0.2.2"]);
        let e = SyncEngine::new(FakeElb::default(), rds, dns, SyncOptions::default());
        if leases { e.with_leases(Arc::new(FakeLeases::default())) } else { e }
    }

    /// An audit period in which `arn`'s slot is not now (nor in a minute).
    fn not_due_now(arn: &str) -> AuditSchedule {
        (15..120)
            .map(|minutes| AuditSchedule { period: Duration::from_secs(minutes * 60) })
            .find(|a| !a.due(arn, now_millis()) && !a.due(arn, now_millis() + 60_000))
            .expect("some period has its slot elsewhere")
    }

    fn health_reads(e: &SyncEngine<FakeElb, FakeRds, FakeDns>) -> usize {
        e.elb().health_reads.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_settled_group_is_not_read_until_its_audit_and_answers_correct() {
        let mut e = engine(true);
        let tg = e.elb().group("writer", Some("rds-cluster:prod"));
        e.audit = not_due_now(&tg);
        let fill = e.sync(&Selection::AllManaged).await;
        assert!(fill.groups[0].changed());
        let tags = e.elb().tags(&tg).await.unwrap();
        let expected = digest(&[Target { ip: "10.0.1.1".parse().unwrap(), port: 5432 }].into_iter().collect());
        assert_eq!(tags.get(SETTLED_TAG), Some(&expected), "stamped under the lease after the fill");

        let (reads, writes) = (health_reads(&e), e.elb().tag_writes.load(Ordering::SeqCst));
        let steady = e.sync(&Selection::AllManaged).await;
        assert!(steady.errors().is_empty() && !steady.groups[0].changed());
        assert_eq!(health_reads(&e), reads, "no DescribeTargetHealth");
        assert_eq!(e.elb().tag_writes.load(Ordering::SeqCst), writes, "and no tag written");

        // A stray added outside the functions waits for the audit...
        e.elb().seed(&tg, "10.0.9.9");
        e.sync(&Selection::AllManaged).await;
        assert_eq!(e.elb().held(&tg), vec!["10.0.1.1", "10.0.9.9"]);
        // ... which reads the group and repairs it.
        e.audit = AuditSchedule { period: Duration::ZERO };
        e.sync(&Selection::AllManaged).await;
        assert_eq!(e.elb().held(&tg), vec!["10.0.1.1"]);
        assert_eq!(health_reads(&e), reads + 2, "read (and read again under the lease) once due");
    }

    #[tokio::test]
    async fn a_changed_wanted_set_is_read_and_applied_at_once() {
        let mut e = engine(true);
        let tg = e.elb().group("writer", Some("rds-cluster:prod"));
        e.audit = not_due_now(&tg);
        e.sync(&Selection::AllManaged).await;
        e.rds().cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        let run = e.sync(&Selection::AllManaged).await;
        assert!(run.groups[0].changed());
        assert_eq!(e.elb().held(&tg), vec!["10.0.2.2"]);
        let tags = e.elb().tags(&tg).await.unwrap();
        let expected = digest(&[Target { ip: "10.0.2.2".parse().unwrap(), port: 5432 }].into_iter().collect());
        assert_eq!(tags.get(SETTLED_TAG), Some(&expected));
    }

    #[tokio::test]
    async fn held_back_changes_leave_no_digest_and_are_read_every_run() {
        let mut e = engine(true);
        let tg = e.elb().group("proxy", Some("rds-proxy:px"));
        e.audit = not_due_now(&tg);
        *e.elb().register_health.lock().unwrap() = TargetHealth::Initial;
        e.elb().seed(&tg, "10.0.9.9");
        e.sync(&Selection::AllManaged).await;
        assert_eq!(e.elb().held(&tg), vec!["10.0.5.5", "10.0.9.9"], "make before break");
        assert_eq!(e.elb().tags(&tg).await.unwrap().get(SETTLED_TAG), None);
        let reads = health_reads(&e);
        e.sync(&Selection::AllManaged).await;
        assert!(health_reads(&e) > reads, "read again");
    }

    #[tokio::test]
    async fn without_a_lease_table_every_group_is_read_and_nothing_is_stamped() {
        let mut e = engine(false);
        let tg = e.elb().group("writer", Some("rds-cluster:prod"));
        e.audit = not_due_now(&tg);
        e.sync(&Selection::AllManaged).await;
        assert_eq!(e.elb().tags(&tg).await.unwrap().get(SETTLED_TAG), None);
        let reads = health_reads(&e);
        e.sync(&Selection::AllManaged).await;
        assert_eq!(health_reads(&e), reads + 1);
    }

    #[tokio::test]
    async fn a_correct_group_without_a_digest_is_stamped_once() {
        let mut e = engine(true);
        let tg = e.elb().group("writer", Some("rds-cluster:prod"));
        e.audit = not_due_now(&tg);
        e.elb().seed(&tg, "10.0.1.1");
        e.sync(&Selection::AllManaged).await;
        assert!(e.elb().tags(&tg).await.unwrap().contains_key(SETTLED_TAG));
        assert_eq!(e.elb().mutations.load(Ordering::SeqCst), 0, "no target changed");
        let writes = e.elb().tag_writes.load(Ordering::SeqCst);
        e.sync(&Selection::AllManaged).await;
        assert_eq!(e.elb().tag_writes.load(Ordering::SeqCst), writes);
    }

    #[tokio::test]
    async fn a_dns_group_skips_while_its_memory_stands_and_is_read_while_the_memory_moves() {
        let mut e = engine(true);
        e.dns().set("db.test", &["10.0.7.7", "10.0.8.8"]);
        let tg = e.elb().group("names", Some("dns:db.test"));
        e.audit = not_due_now(&tg);
        e.sync(&Selection::AllManaged).await;
        let tags = e.elb().tags(&tg).await.unwrap();
        assert!(tags.contains_key(SETTLED_TAG) && tags.contains_key(DNS_MEMORY_TAG), "{tags:?}");
        let reads = health_reads(&e);
        e.sync(&Selection::AllManaged).await;
        assert_eq!(health_reads(&e), reads, "a name answering as remembered: no read");

        // The memory is gone (a person removed it): written again, from a read group.
        e.elb().remove_tags(&tg, &[DNS_MEMORY_TAG]).await.unwrap();
        e.sync(&Selection::AllManaged).await;
        assert!(health_reads(&e) > reads, "read to write the memory");
        assert!(e.elb().tags(&tg).await.unwrap().contains_key(DNS_MEMORY_TAG));

        // The name keeps one address of two: it rotates, the other is watched
        // through the absence window, and the group is read in every run.
        e.dns().set("db.test", &["10.0.7.7"]);
        for _ in 0..3 {
            let reads = health_reads(&e);
            let run = e.sync(&Selection::AllManaged).await;
            assert!(!run.groups[0].held_back().is_empty(), "held by the window");
            assert!(health_reads(&e) > reads, "read while an address is watched");
        }
        assert_eq!(e.elb().held(&tg), vec!["10.0.7.7", "10.0.8.8"]);
    }

    fn targets(list: &[&str]) -> BTreeSet<Target> {
        list.iter()
            .map(|t| {
                let (ip, port) = t.split_once(':').unwrap();
                Target { ip: ip.parse().unwrap(), port: port.parse().unwrap() }
            })
            .collect()
    }

    #[test]
    fn the_digest_is_the_set_and_only_the_set() {
        let a = digest(&targets(&["10.0.0.1:5432", "10.0.0.2:5432"]));
        assert_eq!(a, digest(&targets(&["10.0.0.2:5432", "10.0.0.1:5432"])));
        assert_ne!(a, digest(&targets(&["10.0.0.1:5432"])));
        assert_ne!(a, digest(&targets(&["10.0.0.1:5432", "10.0.0.2:5433"])));
        assert_eq!(a.len(), 16);
        // Stable across builds: a tag written by one version is read by the next.
        assert_eq!(digest(&targets(&["10.0.0.1:5432"])), format!("{:016x}", fnv1a(b"10.0.0.1:5432")));
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn every_group_is_audited_once_per_period_and_the_slots_spread() {
        let audit = AuditSchedule { period: Duration::from_secs(900) };
        let arns: Vec<String> = (0..1000).map(|i| format!("arn:aws:elasticloadbalancing:tg/g{i}/{i}")).collect();
        let minute = 60_000;
        let start = 1_700_000_000_000_u64;
        let mut per_run = Vec::new();
        let mut audits = vec![0; arns.len()];
        for run in 0..15 {
            let now = start + run * minute;
            let due: Vec<usize> = (0..arns.len()).filter(|&i| audit.due(&arns[i], now)).collect();
            for i in &due {
                audits[*i] += 1;
            }
            per_run.push(due.len());
        }
        assert!(audits.iter().all(|&n| n == 1), "each group once in 15 one-minute runs: {audits:?}");
        assert!(per_run.iter().all(|&n| (30..=110).contains(&n)), "spread over the runs: {per_run:?}");
        assert!(AuditSchedule { period: Duration::ZERO }.due(&arns[0], start), "period 0: always read");
    }
}
