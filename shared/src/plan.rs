//! The sync decision: a pure function from the sources' answers and the target
//! group's current state to a [`Plan`].
//!
//! Rules (each has a unit test below):
//! - The desired set is the union of every source's addresses, on one port.
//! - Only allowed addresses are registered (the private ranges, or the
//!   installer's `NLB_SYNC_ALLOWED_CIDRS`); any other is held back and makes the
//!   view untrustworthy (a public answer usually means the wrong resolver).
//! - When any source failed, resolved to nothing, or answered an address that
//!   is not allowed, nothing is deregistered (a DNS hiccup must never empty the
//!   target group).
//! - A desired target that is draining is registered again.
//! - A target registered on another port is deregistered with that port.
//! - A healthy target whose address is no longer wanted is kept while no wanted
//!   target is healthy yet (make before break), unless the RDS API says its
//!   instance lost the identity the source follows (an old writer, the old blue
//!   database after a switchover, a reader no longer in the cluster when every
//!   source is a cluster): those go at once, healthy or not.
//! - An address no source answers that a `dns:` name of the group seen
//!   rotating answered before is deregistered only once that name has missed
//!   it for the absence window (names that answer rotating subsets must not
//!   flap). Every other address no source answers (a moved name's, a removed
//!   source's, an RDS source's) goes by make before break alone. Which names
//!   rotate is remembered from run to run (`rotation`, `name_memory`).
//! - Registrations always happen before deregistrations ([`Plan`] order).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::exposure::AllowedAddresses;
use crate::listing::joined;
use crate::name_memory::DnsMemory;
use crate::resolution::{Authority, ResolveError};
use crate::resolution::{Resolution, SourceAnswer};
use crate::rotation::recall;
use crate::spec::Source;
use crate::target::{Target, TargetGroupState, TargetHealth};

/// A source whose answer cannot be trusted to remove anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub source: Source,
    /// `None`: the source resolved, but to no address.
    pub error: Option<ResolveError>,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            None => write!(f, "{} (no address)", self.source),
            Some(error) => write!(f, "{} ({error})", self.source),
        }
    }
}

/// Why a change was not made in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldReason {
    /// Some sources failed or gave no address: the view is incomplete.
    SourcesUnresolved { sources: Vec<Unresolved> },
    /// The address is not one `allowed` admits, so it is never registered.
    AddressNotAllowed { allowed: AllowedAddresses },
    /// A source answered addresses `allowed` does not admit, so the view is
    /// not trusted.
    UntrustedAnswer { addresses: Vec<IpAddr>, allowed: AllowedAddresses },
    /// The target is healthy and no wanted target is healthy yet.
    AwaitingHealthyReplacement,
    /// Another run applied a view resolved later than this run's (Unix ms).
    NewerViewApplied { view_ms: u64 },
    /// Another run held the target group's lease for as long as this run
    /// waited: that run, or the next, makes the change.
    AnotherRunApplying,
    /// A `dns:` name seen rotating stopped answering the address only
    /// recently (Unix ms): it may come back in its next answers.
    AbsentTooShort { since_ms: u64, window_ms: u64 },
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldReason::SourcesUnresolved { sources } => {
                write!(f, "not deregistered because these sources did not resolve: {}", joined(sources, ", "))
            }
            HoldReason::AddressNotAllowed { allowed: AllowedAddresses::PrivateRanges } => f.write_str(
                "not registered: the address is not private (RFC 1918, 100.64.0.0/10, fc00::/7); \
                 a public answer usually means the function is not using the VPC's DNS resolver",
            ),
            HoldReason::AddressNotAllowed { allowed } => {
                write!(f, "not registered: the address is outside NLB_SYNC_ALLOWED_CIDRS ({allowed})")
            }
            HoldReason::UntrustedAnswer { addresses, allowed: AllowedAddresses::PrivateRanges } => write!(
                f,
                "not deregistered because a source answered non-private addresses ({}); \
                 check that the function uses the VPC's DNS resolver",
                joined(addresses, ", ")
            ),
            HoldReason::UntrustedAnswer { addresses, allowed } => write!(
                f,
                "not deregistered because a source answered addresses outside NLB_SYNC_ALLOWED_CIDRS ({allowed}): {}",
                joined(addresses, ", ")
            ),
            HoldReason::NewerViewApplied { view_ms } => write!(
                f,
                "not changed: another run applied sources resolved later (at {view_ms} ms) than this run's; its changes stand"
            ),
            HoldReason::AbsentTooShort { since_ms, window_ms } => write!(
                f,
                "kept for now: a dns: name that answers rotating subsets has not answered it since {since_ms} ms \
                 (Unix); it is deregistered once it has been missing for {} s, so the rotation does not flap",
                window_ms / 1000
            ),
            HoldReason::AnotherRunApplying => f.write_str(
                "not changed: another run was changing this target group (it held the group's lease) for as long \
                 as this run waited; that run, or the next, makes the change",
            ),
            HoldReason::AwaitingHealthyReplacement => f.write_str(
                "kept for now: it is healthy and no wanted target is healthy yet; \
                 it is deregistered once a replacement passes health checks",
            ),
        }
    }
}

/// Which call a held-back change would have been.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Register,
    Deregister,
}

/// A change left out of this run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    pub target: Target,
    pub action: Action,
    pub reason: HoldReason,
}

/// Why a target is deregistered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeregisterReason {
    /// No source answers this address (or not on this port) any more.
    NotWanted,
    /// The RDS API says the address lost the identity its source follows: an
    /// old writer after a failover, the old blue database after a Blue/Green
    /// switchover, a reader no longer in the cluster.
    RoleChanged,
}

/// The changes one sync run makes to one target group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Targets the group should contain (private addresses only).
    pub desired: BTreeSet<Target>,
    /// To register, first.
    pub register: Vec<Target>,
    /// To deregister, after registering, each with the port it was registered on.
    pub deregister: Vec<(Target, DeregisterReason)>,
    pub held_back: Vec<HeldBack>,
    /// Sources that failed or gave no address.
    pub unresolved: Vec<Unresolved>,
    /// What the target group should remember of its `dns:` names for the
    /// next run (empty when planned without a [`History`]).
    pub memory: DnsMemory,
}

/// What a target group remembers of its `dns:` names from earlier runs, the
/// time now and the absence window's length.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct History {
    pub memory: DnsMemory,
    pub now_ms: u64,
    pub window_ms: u64,
}

impl Plan {
    /// Moves every change into `held_back` with `reason` (the plan becomes a no-op).
    pub fn hold_everything(&mut self, reason: HoldReason) {
        for target in self.register.drain(..) {
            self.held_back.push(HeldBack { target, action: Action::Register, reason: reason.clone() });
        }
        for (target, _) in self.deregister.drain(..) {
            self.held_back.push(HeldBack { target, action: Action::Deregister, reason: reason.clone() });
        }
    }

    /// True when the plan makes no call that changes the target group.
    pub fn is_noop(&self) -> bool {
        self.register.is_empty() && self.deregister.is_empty()
    }

    /// Addresses some source answered that may not be registered.
    pub fn refused_addresses(&self) -> Vec<IpAddr> {
        self.held_back
            .iter()
            .filter(|h| matches!(h.reason, HoldReason::AddressNotAllowed { .. }))
            .map(|h| h.target.ip)
            .collect()
    }
}

/// The resolution of an answer that can be trusted: it resolved, and to
/// some address, or to none by design (a Global Database secondary's writer).
fn trusted(answer: &SourceAnswer) -> Option<&Resolution> {
    match &answer.outcome {
        Ok(resolution) if !resolution.addresses.is_empty() || resolution.authority == Authority::NoneByDesign => {
            Some(resolution)
        }
        _ => None,
    }
}

/// The sources whose answers cannot be trusted to remove anything: failed, or
/// resolved to nothing where something was expected.
pub fn unresolved(answers: &[SourceAnswer]) -> Vec<Unresolved> {
    answers
        .iter()
        .filter(|answer| trusted(answer).is_none())
        .map(|answer| Unresolved { source: answer.source.clone(), error: answer.outcome.as_ref().err().cloned() })
        .collect()
}

/// Decides what to register and deregister. With a `history`, the absence
/// window holds the addresses rotating `dns:` names stopped answering, and
/// the plan says what to remember; without one there is no window. Only
/// addresses `allowed` admits are registered. Pure: no I/O, no clock.
pub fn plan_with_history(
    answers: &[SourceAnswer],
    port: u16,
    current: &TargetGroupState,
    history: Option<&History>,
    allowed: &AllowedAddresses,
) -> Plan {
    let unresolved = unresolved(answers);
    let mut wanted_ips: BTreeSet<IpAddr> = BTreeSet::new();
    let mut demoted: BTreeSet<IpAddr> = BTreeSet::new();
    for resolution in answers.iter().filter_map(trusted) {
        wanted_ips.extend(&resolution.addresses);
        demoted.extend(&resolution.demoted);
    }

    let mut plan = Plan::default();
    let (admitted, refused): (Vec<IpAddr>, Vec<IpAddr>) = wanted_ips.into_iter().partition(|ip| allowed.admits(ip));
    for ip in &refused {
        plan.held_back.push(HeldBack {
            target: Target { ip: *ip, port },
            action: Action::Register,
            reason: HoldReason::AddressNotAllowed { allowed: allowed.clone() },
        });
    }
    plan.desired = admitted.iter().map(|&ip| Target { ip, port }).collect();

    for target in &plan.desired {
        match current.targets.get(target) {
            None | Some(TargetHealth::Draining) => plan.register.push(*target),
            Some(_) => {}
        }
    }

    let leaving: BTreeMap<&Target, &TargetHealth> =
        current.targets.iter().filter(|(t, h)| !plan.desired.contains(t) && **h != TargetHealth::Draining).collect();
    let hold_all = if !unresolved.is_empty() {
        Some(HoldReason::SourcesUnresolved { sources: unresolved.clone() })
    } else if !refused.is_empty() {
        Some(HoldReason::UntrustedAnswer { addresses: refused, allowed: allowed.clone() })
    } else {
        None
    };
    let healthy_wanted = current.targets.iter().any(|(t, h)| plan.desired.contains(t) && *h == TargetHealth::Healthy);
    // Every source listed all its members through the RDS API: an address
    // that is none of them has lost its identity, like a demoted writer.
    let members_only =
        !answers.is_empty() && answers.iter().all(|a| matches!(&a.outcome, Ok(r) if r.authority != Authority::Name));
    let held: BTreeSet<IpAddr> =
        current.targets.iter().filter(|(_, h)| **h != TargetHealth::Draining).map(|(t, _)| t.ip).collect();
    let unwanted: BTreeSet<IpAddr> = held.iter().filter(|ip| !admitted.contains(ip)).copied().collect();
    if let Some(history) = history {
        plan.memory = recall(&history.memory, answers, &held, &unwanted, history.now_ms);
    }

    for (target, health) in leaving {
        let address_unwanted = !plan.desired.iter().any(|d| d.ip == target.ip);
        let role_changed = address_unwanted && (demoted.contains(&target.ip) || members_only);
        let recently_absent = match history {
            Some(h) if address_unwanted && !role_changed => plan
                .memory
                .rotating_missing_since(&target.ip)
                .filter(|since| h.now_ms.saturating_sub(*since) < h.window_ms)
                .map(|since| (since, h.window_ms)),
            _ => None,
        };
        let hold = match &hold_all {
            Some(reason) => Some(reason.clone()),
            None => match recently_absent {
                Some((since_ms, window_ms)) => Some(HoldReason::AbsentTooShort { since_ms, window_ms }),
                None if *health == TargetHealth::Healthy && !healthy_wanted && !role_changed => {
                    Some(HoldReason::AwaitingHealthyReplacement)
                }
                None => None,
            },
        };
        match hold {
            Some(reason) => plan.held_back.push(HeldBack { target: *target, action: Action::Deregister, reason }),
            None => {
                let why = if role_changed { DeregisterReason::RoleChanged } else { DeregisterReason::NotWanted };
                plan.deregister.push((*target, why));
            }
        }
    }
    // An address that leaves the group is forgotten.
    let staying: BTreeSet<IpAddr> = current
        .targets
        .iter()
        .filter(|(t, h)| **h != TargetHealth::Draining && !plan.deregister.iter().any(|(gone, _)| gone == *t))
        .map(|(t, _)| t.ip)
        .collect();
    plan.memory.keep_missing_only(&staying);
    plan.unresolved = unresolved;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name_memory::{Behaviour, NameKey, NameMemory};
    use crate::ports::DnsError;
    use crate::resolution::Authority;
    use crate::spec::ClusterRole;
    use TargetHealth::*;

    const PORT: u16 = 5432;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    fn t(s: &str) -> Target {
        Target { ip: ip(s), port: PORT }
    }
    fn tp(s: &str, port: u16) -> Target {
        Target { ip: ip(s), port }
    }
    fn writer() -> Source {
        Source::Cluster { id: "prod".into(), role: ClusterRole::Writer }
    }
    fn dns(name: &str) -> Source {
        Source::Dns { hostname: name.into() }
    }
    fn plan(answers: &[SourceAnswer], port: u16, current: &TargetGroupState) -> Plan {
        plan_with_history(answers, port, current, None, &AllowedAddresses::PrivateRanges)
    }
    fn ok(source: Source, addrs: &[&str]) -> SourceAnswer {
        SourceAnswer {
            source,
            outcome: Ok(Resolution { addresses: addrs.iter().map(|a| ip(a)).collect(), ..Default::default() }),
        }
    }
    fn ok_demoted(source: Source, addrs: &[&str], demoted: &[&str]) -> SourceAnswer {
        SourceAnswer {
            source,
            outcome: Ok(Resolution {
                addresses: addrs.iter().map(|a| ip(a)).collect(),
                demoted: demoted.iter().map(|a| ip(a)).collect(),
                ..Default::default()
            }),
        }
    }
    fn failed(source: Source, why: &str) -> SourceAnswer {
        let error = DnsError::Failed { name: why.into(), message: "timed out".into() };
        SourceAnswer { source, outcome: Err(ResolveError::Dns(error)) }
    }
    fn state(targets: &[(Target, TargetHealth)]) -> TargetGroupState {
        TargetGroupState::new(targets.iter().cloned())
    }
    fn deregistered(plan: &Plan) -> Vec<Target> {
        plan.deregister.iter().map(|(t, _)| *t).collect()
    }

    #[test]
    fn first_fill_registers_every_address_of_every_source() {
        let p =
            plan(&[ok(dns("proxy"), &["10.0.1.5", "10.0.2.5"]), ok(dns("other"), &["10.0.3.5"])], PORT, &state(&[]));
        assert_eq!(p.register, vec![t("10.0.1.5"), t("10.0.2.5"), t("10.0.3.5")]);
        assert!(p.deregister.is_empty());
        assert!(p.held_back.is_empty());
    }

    #[test]
    fn unchanged_sources_make_no_change() {
        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.2.5"), Initial)]);
        let p = plan(&[ok(dns("proxy"), &["10.0.1.5", "10.0.2.5"])], PORT, &current);
        assert!(p.is_noop(), "{p:?}");
        assert!(p.held_back.is_empty());
    }

    #[test]
    fn failed_source_deregisters_nothing_but_still_registers_the_others() {
        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.9.9"), Healthy)]);
        let p = plan(&[failed(dns("a"), "a"), ok(dns("b"), &["10.0.2.5"])], PORT, &current);
        assert_eq!(p.register, vec![t("10.0.2.5")]);
        assert!(p.deregister.is_empty());
        assert_eq!(p.held_back.len(), 2);
        for h in &p.held_back {
            assert_eq!(h.action, Action::Deregister);
            let HoldReason::SourcesUnresolved { sources } = &h.reason else { panic!("{h:?}") };
            assert_eq!(sources.len(), 1);
            assert_eq!(sources[0].source, dns("a"));
            assert!(matches!(sources[0].error, Some(ResolveError::Dns(DnsError::Failed { .. }))));
            assert!(sources[0].to_string().starts_with("dns:a (DNS lookup of a failed: timed out"), "{}", sources[0]);
        }
    }

    #[test]
    fn empty_answer_counts_as_unresolved() {
        let current = state(&[(t("10.0.1.5"), Unhealthy)]);
        let p = plan(&[ok(dns("a"), &[])], PORT, &current);
        assert!(p.is_noop());
        assert!(p.held_back[0].reason.to_string().contains("dns:a (no address)"));
    }

    #[test]
    fn with_no_sources_only_an_unhealthy_stray_leaves() {
        let current = state(&[(t("10.0.1.5"), Unhealthy)]);
        let p = plan(&[], PORT, &current);
        // With no answers there is nothing wanted, but nothing failed either: an
        // unhealthy stray is removed, a healthy one waits for a replacement.
        assert_eq!(deregistered(&p), vec![t("10.0.1.5")]);
        let p = plan(&[], PORT, &state(&[(t("10.0.1.5"), Healthy)]));
        assert!(p.deregister.is_empty());
    }

    #[test]
    fn draining_target_that_is_wanted_again_is_registered_again() {
        let current = state(&[(t("10.0.1.5"), Draining), (t("10.0.2.5"), Healthy)]);
        let p = plan(&[ok(dns("a"), &["10.0.1.5", "10.0.2.5"])], PORT, &current);
        assert_eq!(p.register, vec![t("10.0.1.5")]);
        assert!(p.deregister.is_empty());
    }

    #[test]
    fn draining_target_that_is_not_wanted_is_left_alone() {
        let current = state(&[(t("10.0.1.5"), Draining), (t("10.0.2.5"), Healthy)]);
        let p = plan(&[ok(dns("a"), &["10.0.2.5"])], PORT, &current);
        assert!(p.is_noop());
        assert!(p.held_back.is_empty());
    }

    #[test]
    fn target_on_another_port_is_deregistered_with_its_own_port() {
        let current = state(&[(tp("10.0.1.5", 3306), Healthy), (t("10.0.1.5"), Healthy)]);
        let p = plan(&[ok(dns("a"), &["10.0.1.5"])], PORT, &current);
        assert_eq!(deregistered(&p), vec![tp("10.0.1.5", 3306)]);
        assert!(p.register.is_empty());
    }

    #[test]
    fn port_change_registers_new_port_and_removes_old_port_once_new_is_healthy() {
        let current = state(&[(tp("10.0.1.5", 3306), Healthy)]);
        let p = plan(&[ok(dns("a"), &["10.0.1.5"])], PORT, &current);
        assert_eq!(p.register, vec![t("10.0.1.5")]);
        assert!(p.deregister.is_empty(), "old port kept until the new one is healthy");
        let current = state(&[(tp("10.0.1.5", 3306), Healthy), (t("10.0.1.5"), Healthy)]);
        let p = plan(&[ok(dns("a"), &["10.0.1.5"])], PORT, &current);
        assert_eq!(deregistered(&p), vec![tp("10.0.1.5", 3306)]);
    }

    #[test]
    fn demoted_writer_is_removed_in_the_same_run_as_the_new_writer_is_registered() {
        // Failover: 10.0.1.5 was the writer, the RDS API now names 10.0.2.5.
        let current = state(&[(t("10.0.1.5"), Healthy)]);
        let p = plan(&[ok_demoted(writer(), &["10.0.2.5"], &["10.0.1.5"])], PORT, &current);
        assert_eq!(p.register, vec![t("10.0.2.5")]);
        assert_eq!(p.deregister, vec![(t("10.0.1.5"), DeregisterReason::RoleChanged)]);
    }

    #[test]
    fn changed_dns_answer_keeps_the_healthy_old_target_until_the_new_one_is_healthy() {
        let current = state(&[(t("10.0.1.5"), Healthy)]);
        let p = plan(&[ok(dns("a"), &["10.0.2.5"])], PORT, &current);
        assert_eq!(p.register, vec![t("10.0.2.5")]);
        assert!(p.deregister.is_empty());
        assert_eq!(p.held_back[0].reason, HoldReason::AwaitingHealthyReplacement);

        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.2.5"), Initial)]);
        assert!(plan(&[ok(dns("a"), &["10.0.2.5"])], PORT, &current).deregister.is_empty());

        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.2.5"), Healthy)]);
        let p = plan(&[ok(dns("a"), &["10.0.2.5"])], PORT, &current);
        assert_eq!(p.deregister, vec![(t("10.0.1.5"), DeregisterReason::NotWanted)]);
    }

    #[test]
    fn unhealthy_unwanted_target_goes_at_once() {
        let current = state(&[(t("10.0.1.5"), Unhealthy), (t("10.0.3.5"), Unused)]);
        let p = plan(&[ok(dns("a"), &["10.0.2.5"])], PORT, &current);
        assert_eq!(deregistered(&p), vec![t("10.0.1.5"), t("10.0.3.5")]);
    }

    #[test]
    fn demoted_address_that_another_source_still_wants_stays() {
        // Same cluster followed for writer and readers: the old writer is now a reader.
        let readers = Source::Cluster { id: "prod".into(), role: ClusterRole::Readers };
        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.2.5"), Healthy)]);
        let answers =
            [ok_demoted(writer(), &["10.0.2.5"], &["10.0.1.5"]), ok_demoted(readers, &["10.0.1.5"], &["10.0.2.5"])];
        let p = plan(&answers, PORT, &current);
        assert!(p.is_noop(), "{p:?}");
    }

    #[test]
    fn union_of_sources_protects_each_others_addresses() {
        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.2.5"), Healthy)]);
        let p = plan(&[ok(dns("a"), &["10.0.1.5"]), ok(dns("b"), &["10.0.2.5"])], PORT, &current);
        assert!(p.is_noop());
    }

    #[test]
    fn public_address_is_refused_and_freezes_deregistration() {
        let current = state(&[(t("10.0.1.5"), Unhealthy)]);
        let p = plan(&[ok(dns("a"), &["54.1.2.3", "10.0.2.5"])], PORT, &current);
        assert_eq!(p.register, vec![t("10.0.2.5")]);
        assert!(p.deregister.is_empty());
        assert_eq!(p.refused_addresses(), vec![ip("54.1.2.3")]);
        assert!(
            p.held_back.iter().any(|h| h.action == Action::Register && h.reason.to_string().contains("not private"))
        );
        assert!(
            p.held_back
                .iter()
                .any(|h| h.target == t("10.0.1.5") && matches!(h.reason, HoldReason::UntrustedAnswer { .. }))
        );
    }

    #[test]
    fn an_address_outside_the_allowed_cidrs_is_refused_and_freezes_deregistration() {
        let allowed = AllowedAddresses::parse("10.0.2.0/24 fd00:2::/32").unwrap();
        let current = state(&[(t("10.0.1.5"), Unhealthy)]);
        let answers = [ok(dns("a"), &["10.0.2.5", "10.0.3.5", "fd00:2::5", "fd00:3::5"])];
        let p = plan_with_history(&answers, PORT, &current, None, &allowed);
        assert_eq!(p.register, vec![t("10.0.2.5"), t("fd00:2::5")]);
        assert!(p.deregister.is_empty(), "the stale 10.0.1.5 stays while refused addresses are answered");
        assert_eq!(p.refused_addresses(), vec![ip("10.0.3.5"), ip("fd00:3::5")], "private, yet refused");
        let reasons: Vec<String> = p.held_back.iter().map(|h| h.reason.to_string()).collect();
        assert!(reasons.iter().all(|r| r.contains("NLB_SYNC_ALLOWED_CIDRS (10.0.2.0/24 fd00:2::/32)")), "{reasons:?}");
        assert!(reasons.iter().all(|r| !r.contains("resolver")), "not the wrong-resolver hint: {reasons:?}");
        // Without a refused answer the same group deregisters as usual.
        let p = plan_with_history(&[ok(dns("a"), &["10.0.2.5"])], PORT, &current, None, &allowed);
        assert_eq!(deregistered(&p), vec![t("10.0.1.5")]);
    }

    #[test]
    fn ipv6_targets_plan_like_ipv4() {
        let current = state(&[(t("fd00::1"), Unhealthy)]);
        let p = plan(&[ok(dns("a"), &["fd00::2"])], PORT, &current);
        assert_eq!(p.register, vec![t("fd00::2")]);
        assert_eq!(deregistered(&p), vec![t("fd00::1")]);
        let p = plan(&[ok(dns("a"), &["2001:db8::1"])], PORT, &state(&[]));
        assert!(p.register.is_empty());
    }

    fn members(source: Source, addrs: &[&str]) -> SourceAnswer {
        SourceAnswer {
            source,
            outcome: Ok(Resolution {
                addresses: addrs.iter().map(|a| ip(a)).collect(),
                authority: Authority::Members,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn an_address_no_member_has_goes_at_once_when_every_source_lists_members() {
        // A reader was deleted: the RDS API no longer lists it, healthy or not.
        let readers = Source::Cluster { id: "prod".into(), role: ClusterRole::Readers };
        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.2.5"), Initial)]);
        let p = plan(&[members(readers.clone(), &["10.0.2.5"])], PORT, &current);
        assert_eq!(p.deregister, vec![(t("10.0.1.5"), DeregisterReason::RoleChanged)]);
        // With a name-based source beside it, make before break applies again.
        let p = plan(&[members(readers, &["10.0.2.5"]), ok(dns("other"), &["10.0.3.5"])], PORT, &current);
        assert!(p.deregister.is_empty());
        assert_eq!(p.held_back[0].reason, HoldReason::AwaitingHealthyReplacement);
    }

    #[test]
    fn none_by_design_is_an_answer_and_removes_the_demoted_writer() {
        // A Global Database's secondary cluster: no writer here, by design.
        let answer = SourceAnswer {
            source: writer(),
            outcome: Ok(Resolution {
                addresses: BTreeSet::new(),
                demoted: [ip("10.0.1.5")].into(),
                authority: Authority::NoneByDesign,
                answers_differed: false,
            }),
        };
        let p = plan(&[answer], PORT, &state(&[(t("10.0.1.5"), Healthy)]));
        assert!(p.unresolved.is_empty());
        assert_eq!(p.deregister, vec![(t("10.0.1.5"), DeregisterReason::RoleChanged)]);
    }

    const WINDOW_MS: u64 = 60_000;

    fn history(memory: &DnsMemory, now_ms: u64) -> History {
        History { memory: memory.clone(), now_ms, window_ms: WINDOW_MS }
    }

    /// A group that remembers `name` as `behaviour`, last answering `answered`.
    fn remembering(name: &str, behaviour: Behaviour, answered: &[&str]) -> DnsMemory {
        let memory = NameMemory { behaviour, answered: answered.iter().map(|a| ip(a)).collect(), ..Default::default() };
        DnsMemory { names: [(NameKey::of(name), memory)].into() }
    }

    fn rotating_answer(name: &str, addrs: &[&str]) -> SourceAnswer {
        let mut answer = ok(dns(name), addrs);
        if let Ok(resolution) = &mut answer.outcome {
            resolution.answers_differed = true;
        }
        answer
    }

    #[test]
    fn a_rotating_name_must_miss_an_address_for_the_whole_window_before_it_goes() {
        let current = state(&[(t("10.0.1.5"), Unhealthy), (t("10.0.2.5"), Healthy)]);
        let answers = [ok(dns("rr"), &["10.0.2.5"])];
        let memory = remembering("rr", Behaviour::Rotating, &["10.0.1.5", "10.0.2.5"]);
        // First miss: remembered, held.
        let p = plan_with_history(
            &answers,
            PORT,
            &current,
            Some(&history(&memory, 1_000_000)),
            &AllowedAddresses::PrivateRanges,
        );
        assert!(p.deregister.is_empty());
        assert_eq!(p.held_back[0].reason, HoldReason::AbsentTooShort { since_ms: 1_000_000, window_ms: WINDOW_MS });
        assert_eq!(p.memory.rotating_missing_since(&ip("10.0.1.5")), Some(1_000_000));
        // Still missing, not long enough.
        let p = plan_with_history(
            &answers,
            PORT,
            &current,
            Some(&history(&p.memory, 1_059_999)),
            &AllowedAddresses::PrivateRanges,
        );
        assert!(p.deregister.is_empty());
        // Missing for the whole window: gone, and forgotten.
        let missed = p.memory.clone();
        let p = plan_with_history(
            &answers,
            PORT,
            &current,
            Some(&history(&missed, 1_060_000)),
            &AllowedAddresses::PrivateRanges,
        );
        assert_eq!(p.deregister, vec![(t("10.0.1.5"), DeregisterReason::NotWanted)]);
        assert_eq!(p.memory.rotating_missing_since(&ip("10.0.1.5")), None);
        // Answered again within the window: forgotten without a change.
        let both = [ok(dns("rr"), &["10.0.1.5", "10.0.2.5"])];
        let p = plan_with_history(
            &both,
            PORT,
            &current,
            Some(&history(&missed, 1_030_000)),
            &AllowedAddresses::PrivateRanges,
        );
        assert!(p.is_noop() && p.memory.rotating_missing_since(&ip("10.0.1.5")).is_none());
    }

    #[test]
    fn a_moved_name_is_replaced_by_make_before_break_alone() {
        let memory = remembering("db", Behaviour::Steady, &["10.0.1.5"]);
        let answers = [ok(dns("db"), &["10.0.2.5"])];
        // First run: the new address is registered, the old one kept until it is healthy.
        let current = state(&[(t("10.0.1.5"), Healthy)]);
        let p = plan_with_history(
            &answers,
            PORT,
            &current,
            Some(&history(&memory, 1_000_000)),
            &AllowedAddresses::PrivateRanges,
        );
        assert_eq!(p.register, vec![t("10.0.2.5")]);
        assert_eq!(p.held_back[0].reason, HoldReason::AwaitingHealthyReplacement);
        // Next run, the new one healthy: the old one goes, without any window.
        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.2.5"), Healthy)]);
        let p = plan_with_history(
            &answers,
            PORT,
            &current,
            Some(&history(&p.memory, 1_001_000)),
            &AllowedAddresses::PrivateRanges,
        );
        assert_eq!(p.deregister, vec![(t("10.0.1.5"), DeregisterReason::NotWanted)]);
        let name = &p.memory.names[&NameKey::of("db")];
        assert_eq!(name.behaviour, Behaviour::Steady);
        assert!(name.missing_since.is_empty(), "the old address is forgotten once it left");
    }

    #[test]
    fn a_new_name_with_no_history_never_holds_by_the_window() {
        // Nothing remembered: the group's first run, or a source just added.
        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.2.5"), Healthy)]);
        let p = plan_with_history(
            &[ok(dns("new"), &["10.0.2.5"])],
            PORT,
            &current,
            Some(&history(&DnsMemory::default(), 5)),
            &AllowedAddresses::PrivateRanges,
        );
        assert_eq!(deregistered(&p), vec![t("10.0.1.5")]);
        // A name seen rotating on its first run is remembered so.
        let p = plan_with_history(
            &[rotating_answer("rr", &["10.0.2.5"])],
            PORT,
            &current,
            Some(&history(&DnsMemory::default(), 5)),
            &AllowedAddresses::PrivateRanges,
        );
        assert_eq!(p.memory.names[&NameKey::of("rr")].behaviour, Behaviour::Rotating);
    }

    #[test]
    fn an_address_no_dns_name_answered_leaves_without_the_window() {
        // dns:rr rotates; the proxy beside it scaled in and dropped 10.0.9.9.
        let proxy = Source::Proxy { name: "p".into(), endpoint: None };
        let current = state(&[
            (t("10.0.1.5"), Healthy),
            (t("10.0.2.5"), Healthy),
            (t("10.0.8.8"), Healthy),
            (t("10.0.9.9"), Healthy),
        ]);
        let memory = remembering("rr", Behaviour::Rotating, &["10.0.1.5", "10.0.2.5"]);
        let answers = [ok(dns("rr"), &["10.0.1.5", "10.0.2.5"]), ok(proxy, &["10.0.8.8"])];
        let p = plan_with_history(
            &answers,
            PORT,
            &current,
            Some(&history(&memory, 1_000)),
            &AllowedAddresses::PrivateRanges,
        );
        assert_eq!(p.deregister, vec![(t("10.0.9.9"), DeregisterReason::NotWanted)]);
        assert!(p.held_back.is_empty(), "{:?}", p.held_back);
    }

    #[test]
    fn a_removed_names_addresses_leave_without_the_window_and_it_is_forgotten() {
        let mut memory = remembering("old", Behaviour::Rotating, &["10.0.1.5"]);
        memory.names.get_mut(&NameKey::of("old")).unwrap().missing_since.insert(ip("10.0.3.5"), 900);
        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.3.5"), Healthy), (t("10.0.2.5"), Healthy)]);
        let p = plan_with_history(
            &[ok(dns("new"), &["10.0.2.5"])],
            PORT,
            &current,
            Some(&history(&memory, 1_000)),
            &AllowedAddresses::PrivateRanges,
        );
        assert_eq!(deregistered(&p), vec![t("10.0.1.5"), t("10.0.3.5")]);
        assert!(p.memory.name("old").is_none());
        assert_eq!(p.memory.names.len(), 1);
    }

    #[test]
    fn a_zero_window_removes_what_a_rotating_name_stopped_answering_at_once() {
        let current = state(&[(t("10.0.1.5"), Unhealthy), (t("10.0.2.5"), Healthy)]);
        let memory = remembering("rr", Behaviour::Rotating, &["10.0.1.5", "10.0.2.5"]);
        let zero = History { memory, now_ms: 1_000, window_ms: 0 };
        let p = plan_with_history(
            &[ok(dns("rr"), &["10.0.2.5"])],
            PORT,
            &current,
            Some(&zero),
            &AllowedAddresses::PrivateRanges,
        );
        assert_eq!(deregistered(&p), vec![t("10.0.1.5")]);
    }

    #[test]
    fn a_rotating_name_whose_memory_was_cut_holds_every_unwanted_address() {
        // The tag had no room for all of its addresses: it may have answered any.
        let proxy = Source::Proxy { name: "p".into(), endpoint: None };
        let mut memory = remembering("rr", Behaviour::Rotating, &["10.0.1.5"]);
        memory.names.get_mut(&NameKey::of("rr")).unwrap().truncated = true;
        let current = state(&[(t("10.0.1.5"), Healthy), (t("10.0.8.8"), Healthy), (t("10.0.9.9"), Healthy)]);
        let answers = [ok(dns("rr"), &["10.0.1.5"]), ok(proxy, &["10.0.8.8"])];
        let p = plan_with_history(
            &answers,
            PORT,
            &current,
            Some(&history(&memory, 1_000)),
            &AllowedAddresses::PrivateRanges,
        );
        assert!(p.deregister.is_empty());
        assert_eq!(p.held_back[0].reason, HoldReason::AbsentTooShort { since_ms: 1_000, window_ms: WINDOW_MS });
    }

    #[test]
    fn without_history_there_is_no_window() {
        let current = state(&[(t("10.0.1.5"), Unhealthy), (t("10.0.2.5"), Healthy)]);
        let p = plan(&[ok(dns("rr"), &["10.0.2.5"])], PORT, &current);
        assert_eq!(p.deregister, vec![(t("10.0.1.5"), DeregisterReason::NotWanted)]);
        assert_eq!(p.memory, DnsMemory::default());
    }
}
