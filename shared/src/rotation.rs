//! What one run's answers say about each `dns:` name of a target group: the
//! group's [`DnsMemory`] after the run. Pure: the time comes in.
//!
//! A name is seen **rotating** (and stays so while it is a source of the
//! group) when
//! - the queries of one run answered different sets, or
//! - it answers again an address it had stopped answering, or
//! - it keeps some of the addresses of its last answer but not all of them.
//!
//! A name whose whole answer changed to addresses it never answered before,
//! every query agreeing, **moved**: it stays steady, and the addresses it
//! left go by make before break, without the window.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::name_memory::{Behaviour, DnsMemory, NameKey, NameMemory};
use crate::resolution::SourceAnswer;
use crate::spec::Source;
use crate::target::is_private;

/// The memory after this run's `answers`. `held` are the addresses the group
/// holds (registered, not draining), `unwanted` those of them no source
/// answers now. Names that are no longer sources are forgotten; a name whose
/// answer cannot be trusted is remembered as it was.
pub fn recall(
    previous: &DnsMemory,
    answers: &[SourceAnswer],
    held: &BTreeSet<IpAddr>,
    unwanted: &BTreeSet<IpAddr>,
    now_ms: u64,
) -> DnsMemory {
    let mut memory = DnsMemory::default();
    for answer in answers {
        let Source::Dns { hostname } = &answer.source else { continue };
        let key = NameKey::of(hostname);
        let before = previous.names.get(&key);
        let answered: BTreeSet<IpAddr> = match &answer.outcome {
            Ok(resolution) => resolution.addresses.iter().copied().filter(is_private).collect(),
            Err(_) => BTreeSet::new(),
        };
        let differed = answer.outcome.as_ref().is_ok_and(|resolution| resolution.answers_differed);
        let remembered = if answered.is_empty() {
            before.cloned()
        } else {
            Some(observe(before, answered, differed, held, unwanted, now_ms))
        };
        memory.names.extend(remembered.map(|name| (key, name)));
    }
    memory
}

/// One name's memory after a trusted answer.
fn observe(
    before: Option<&NameMemory>,
    answered: BTreeSet<IpAddr>,
    differed: bool,
    held: &BTreeSet<IpAddr>,
    unwanted: &BTreeSet<IpAddr>,
    now_ms: u64,
) -> NameMemory {
    let Some(before) = before else {
        let behaviour = if differed { Behaviour::Rotating } else { Behaviour::Steady };
        return NameMemory { behaviour, answered, ..NameMemory::default() };
    };
    let came_back = before.missing_since.keys().any(|ip| answered.contains(ip));
    let kept_only_some = !before.answered.is_disjoint(&answered) && !before.answered.is_subset(&answered);
    let rotating = before.behaviour == Behaviour::Rotating || differed || came_back || kept_only_some;
    let since = |ip: &IpAddr| before.missing_since.get(ip).map_or(now_ms, |at| (*at).min(now_ms));
    let mut missing_since: BTreeMap<IpAddr, u64> = before
        .known_addresses()
        .iter()
        .filter(|ip| !answered.contains(ip) && held.contains(ip))
        .map(|ip| (*ip, since(ip)))
        .collect();
    if rotating && before.truncated {
        // Its record was cut to fit the tag: any address no source answers
        // may have been one of its own.
        missing_since.extend(unwanted.iter().map(|ip| (*ip, since(ip))));
    }
    let behaviour = if rotating { Behaviour::Rotating } else { Behaviour::Steady };
    NameMemory { behaviour, answered, missing_since, truncated: false }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::DnsError;
    use crate::resolution::{Resolution, ResolveError};

    const NOW: u64 = 1_000_000;
    const NAME: &str = "db.example.test";

    fn ips(list: &[&str]) -> BTreeSet<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn answer(name: &str, addresses: &[&str], differed: bool) -> SourceAnswer {
        let resolution = Resolution { addresses: ips(addresses), answers_differed: differed, ..Resolution::default() };
        SourceAnswer { source: Source::Dns { hostname: name.into() }, outcome: Ok(resolution) }
    }

    fn remembering(name: NameMemory) -> DnsMemory {
        DnsMemory { names: [(NameKey::of(NAME), name)].into() }
    }

    /// The name's memory after one answer, with `held` registered and nothing else unwanted.
    fn after(before: &DnsMemory, now: &[&str], differed: bool, held: &[&str]) -> NameMemory {
        let memory = recall(before, &[answer(NAME, now, differed)], &ips(held), &BTreeSet::new(), NOW);
        memory.names[&NameKey::of(NAME)].clone()
    }

    fn steady(answered: &[&str], missing: &[&str]) -> DnsMemory {
        remembering(NameMemory {
            answered: ips(answered),
            missing_since: ips(missing).into_iter().map(|ip| (ip, NOW - 60_000)).collect(),
            ..NameMemory::default()
        })
    }

    #[test]
    fn a_new_name_is_steady_unless_its_queries_disagreed() {
        let name = after(&DnsMemory::default(), &["10.0.1.5"], false, &[]);
        assert_eq!((name.behaviour, name.answered), (Behaviour::Steady, ips(&["10.0.1.5"])));
        assert_eq!(after(&DnsMemory::default(), &["10.0.1.5", "10.0.2.5"], true, &[]).behaviour, Behaviour::Rotating);
    }

    #[test]
    fn a_name_that_moved_stays_steady_and_remembers_what_it_left_while_it_is_held() {
        let moved = after(&steady(&["10.0.1.5"], &[]), &["10.0.2.5"], false, &["10.0.1.5"]);
        assert_eq!(moved.behaviour, Behaviour::Steady);
        assert_eq!(moved.missing_since, [("10.0.1.5".parse().unwrap(), NOW)].into());
        // Once the old address is no longer held it is forgotten.
        let later = after(&remembering(moved), &["10.0.2.5"], false, &[]);
        assert_eq!((later.behaviour, later.missing_since.len()), (Behaviour::Steady, 0));
    }

    #[test]
    fn a_name_that_grew_is_steady() {
        let grown = after(&steady(&["10.0.1.5"], &[]), &["10.0.1.5", "10.0.2.5"], false, &["10.0.1.5"]);
        assert_eq!(grown.behaviour, Behaviour::Steady);
    }

    #[test]
    fn rotation_is_seen_in_three_ways_and_never_forgotten() {
        // Its queries disagreed.
        assert_eq!(after(&steady(&["10.0.1.5"], &[]), &["10.0.1.5"], true, &[]).behaviour, Behaviour::Rotating);
        // An address it had stopped answering came back.
        let back = after(&steady(&["10.0.2.5"], &["10.0.1.5"]), &["10.0.1.5"], false, &["10.0.1.5", "10.0.2.5"]);
        assert_eq!(back.behaviour, Behaviour::Rotating);
        assert_eq!(back.missing_since, [("10.0.2.5".parse().unwrap(), NOW)].into());
        // It kept some of its last answer but not all.
        let some = after(&steady(&["10.0.1.5", "10.0.2.5"], &[]), &["10.0.2.5", "10.0.3.5"], false, &["10.0.1.5"]);
        assert_eq!(some.behaviour, Behaviour::Rotating);
        // Once rotating, always rotating.
        assert_eq!(after(&remembering(some), &["10.0.9.9"], false, &[]).behaviour, Behaviour::Rotating);
    }

    #[test]
    fn a_missed_address_keeps_the_time_it_was_first_missed() {
        let earlier = NOW - 60_000;
        let before = remembering(NameMemory {
            behaviour: Behaviour::Rotating,
            answered: ips(&["10.0.1.5"]),
            missing_since: [("10.0.2.5".parse().unwrap(), earlier)].into(),
            truncated: false,
        });
        let name = after(&before, &["10.0.1.5"], false, &["10.0.1.5", "10.0.2.5"]);
        assert_eq!(name.missing_since, [("10.0.2.5".parse().unwrap(), earlier)].into());
    }

    #[test]
    fn a_name_no_longer_a_source_is_forgotten_and_a_failed_one_kept_as_it_was() {
        let before = steady(&["10.0.1.5"], &[]);
        let other =
            recall(&before, &[answer("other.test", &["10.0.3.5"], false)], &BTreeSet::new(), &BTreeSet::new(), NOW);
        assert!(other.name(NAME).is_none());
        let failed = SourceAnswer {
            source: Source::Dns { hostname: NAME.into() },
            outcome: Err(ResolveError::Dns(DnsError::Failed { name: NAME.into(), message: "timed out".into() })),
        };
        assert_eq!(recall(&before, &[failed], &BTreeSet::new(), &BTreeSet::new(), NOW), before);
        assert_eq!(recall(&before, &[answer(NAME, &[], false)], &BTreeSet::new(), &BTreeSet::new(), NOW), before);
        let public = recall(&before, &[answer(NAME, &["54.1.2.3"], false)], &BTreeSet::new(), &BTreeSet::new(), NOW);
        assert_eq!(public, before, "a public answer says nothing about the name's private addresses");
    }

    #[test]
    fn a_rotating_name_whose_record_was_cut_claims_every_unwanted_address() {
        let before = remembering(NameMemory {
            behaviour: Behaviour::Rotating,
            answered: ips(&["10.0.1.5"]),
            truncated: true,
            ..NameMemory::default()
        });
        let unwanted = ips(&["10.0.7.7"]);
        let memory = recall(&before, &[answer(NAME, &["10.0.1.5"], false)], &unwanted, &unwanted, NOW);
        let name = &memory.names[&NameKey::of(NAME)];
        assert_eq!(name.missing_since, [("10.0.7.7".parse().unwrap(), NOW)].into());
        assert!(!name.truncated, "complete again, if larger than needed");
    }
}
