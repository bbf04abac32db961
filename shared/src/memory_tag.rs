//! The [`DnsMemory`] as the value of the `nlb-target-sync:absent` tag.
//!
//! One entry per name, separated by spaces:
//!
//! ```text
//! <kind><key>[+]=<address>[/<address>...]
//! ```
//!
//! `kind` is `s` (steady) or `r` (rotating), `key` the name's [`NameKey`] (8
//! hex digits), `+` says the list was cut to fit, and each address is one the
//! name answered last, or `<address>@<unix seconds>` for one it has not
//! answered since then: `r1f2e3d4c=10.1.1.80/10.1.2.81/10.1.3.82@1764590000`.
//! Only characters ELB accepts in tag values are used (letters, digits,
//! spaces and `+ = . : / @`).
//!
//! A value holds at most [`MAX_TAG_VALUE`] characters. When the memory does
//! not fit, what the window needs goes first: the rotating names (their
//! missed addresses, oldest first, then their last answers), then the steady
//! names' addresses; a name whose addresses were cut is marked `+`, and the
//! planner then lets the window hold any address of the group no source
//! answers (the rule before names were remembered), so rotation still never
//! flaps. A name left out entirely is seen as new on the next run.

use std::cmp::Reverse;
use std::net::IpAddr;

use crate::name_memory::{Behaviour, DnsMemory, NameKey, NameMemory};
use crate::spec::MAX_TAG_VALUE;

/// Reads the tag; entries it cannot read (the absence list of earlier
/// versions among them) are skipped, an address it cannot read marks its
/// name as cut.
pub fn parse(value: &str) -> DnsMemory {
    let mut memory = DnsMemory::default();
    for entry in value.split_whitespace() {
        if let Some((key, name)) = parse_entry(entry) {
            memory.names.insert(key, name);
        }
    }
    memory
}

fn parse_entry(entry: &str) -> Option<(NameKey, NameMemory)> {
    let (head, list) = entry.split_once('=')?;
    let behaviour = match head.as_bytes().first()? {
        b's' => Behaviour::Steady,
        b'r' => Behaviour::Rotating,
        _ => return None,
    };
    let rest = &head[1..];
    let (hex, truncated) = rest.strip_suffix('+').map_or((rest, false), |hex| (hex, true));
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let key = NameKey(u32::from_str_radix(hex, 16).ok()?);
    let mut name = NameMemory { behaviour, truncated, ..NameMemory::default() };
    for token in list.split('/').filter(|token| !token.is_empty()) {
        let read = match token.split_once('@') {
            Some((ip, seconds)) => match (ip.parse::<IpAddr>(), seconds.parse::<u64>()) {
                (Ok(ip), Ok(seconds)) => {
                    name.missing_since.insert(ip, seconds.saturating_mul(1000));
                    true
                }
                _ => false,
            },
            None => match token.parse::<IpAddr>() {
                Ok(ip) => {
                    name.answered.insert(ip);
                    true
                }
                Err(_) => false,
            },
        };
        if !read {
            name.truncated = true;
        }
    }
    Some((key, name))
}

/// An address as written: missed ones carry the second they were first missed,
/// rounded up (a time read back a little late only delays a removal).
fn token(ip: &IpAddr, missing_since_ms: Option<u64>) -> String {
    match missing_since_ms {
        Some(at) => format!("{ip}@{}", at.div_ceil(1000)),
        None => ip.to_string(),
    }
}

/// The characters of an entry besides its addresses, counted with the `+`
/// and the space before the next entry whether they are written or not.
const ENTRY_OVERHEAD: usize = "r00000000+= ".len();

/// Writes the memory in at most [`MAX_TAG_VALUE`] characters (see the module
/// documentation for what is left out first).
pub fn encode(memory: &DnsMemory) -> String {
    struct Entry<'a> {
        key: NameKey,
        name: &'a NameMemory,
        answered: Vec<IpAddr>,
        missing: Vec<IpAddr>,
        cut: bool,
    }
    let mut order: Vec<(&NameKey, &NameMemory)> = memory.names.iter().collect();
    order.sort_by_key(|(key, name)| (Reverse(name.behaviour), **key));
    let mut room = MAX_TAG_VALUE;
    let mut entries: Vec<Entry> = Vec::new();
    for (key, name) in order {
        if ENTRY_OVERHEAD > room {
            break;
        }
        room -= ENTRY_OVERHEAD;
        entries.push(Entry { key: *key, name, answered: Vec::new(), missing: Vec::new(), cut: name.truncated });
    }

    // (rank, since, address, entry, missed): rotating names' missed addresses
    // first (oldest first), then their answers, then the steady names'.
    let mut candidates: Vec<(u8, u64, IpAddr, usize, bool)> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let rotating = entry.name.behaviour == Behaviour::Rotating;
        for (ip, since) in &entry.name.missing_since {
            candidates.push((if rotating { 0 } else { 3 }, *since, *ip, index, true));
        }
        for ip in &entry.name.answered {
            candidates.push((if rotating { 1 } else { 2 }, 0, *ip, index, false));
        }
    }
    candidates.sort();
    for (_, since, ip, index, missed) in candidates {
        let cost = token(&ip, missed.then_some(since)).len() + 1;
        let entry = &mut entries[index];
        if cost > room {
            entry.cut = true;
            continue;
        }
        room -= cost;
        if missed { entry.missing.push(ip) } else { entry.answered.push(ip) }
    }

    let written: Vec<String> = entries
        .iter_mut()
        .map(|entry| {
            entry.answered.sort();
            entry.missing.sort();
            let kind = match entry.name.behaviour {
                Behaviour::Steady => 's',
                Behaviour::Rotating => 'r',
            };
            let addresses: Vec<String> = entry
                .answered
                .iter()
                .map(|ip| token(ip, None))
                .chain(entry.missing.iter().map(|ip| token(ip, entry.name.missing_since.get(ip).copied())))
                .collect();
            format!("{kind}{}{}={}", entry.key, if entry.cut { "+" } else { "" }, addresses.join("/"))
        })
        .collect();
    written.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ips(list: &[&str]) -> BTreeSet<IpAddr> {
        list.iter().map(|s| ip(s)).collect()
    }

    fn memory(names: Vec<(u32, NameMemory)>) -> DnsMemory {
        DnsMemory { names: names.into_iter().map(|(key, name)| (NameKey(key), name)).collect() }
    }

    #[test]
    fn the_memory_round_trips_and_rounds_times_up_to_the_second() {
        let rotating = NameMemory {
            behaviour: Behaviour::Rotating,
            answered: ips(&["10.1.1.80", "10.1.2.81"]),
            missing_since: [(ip("10.1.3.82"), 1_764_590_000_500)].into(),
            truncated: false,
        };
        let steady = NameMemory { answered: ips(&["fd00::1"]), ..NameMemory::default() };
        let value = encode(&memory(vec![(0x1f2e_3d4c, rotating.clone()), (0xab, steady.clone())]));
        assert_eq!(value, "r1f2e3d4c=10.1.1.80/10.1.2.81/10.1.3.82@1764590001 s000000ab=fd00::1");
        let read = parse(&value);
        let rounded = NameMemory { missing_since: [(ip("10.1.3.82"), 1_764_590_001_000)].into(), ..rotating };
        assert_eq!(read, memory(vec![(0x1f2e_3d4c, rounded), (0xab, steady)]));
        assert_eq!(encode(&read), value, "written again unchanged");
    }

    #[test]
    fn what_cannot_be_read_is_skipped_and_a_bad_address_marks_its_name_cut() {
        assert_eq!(parse(""), DnsMemory::default());
        // The absence list of earlier versions, and junk.
        assert_eq!(parse("10.0.1.5@1001 fd00::1@2000 x s123=10.0.0.1 q00000001=10.0.0.1"), DnsMemory::default());
        let read = parse("s00000001=10.0.0.1/nonsense/10.0.0.2@x");
        let name = &read.names[&NameKey(1)];
        assert_eq!(name.answered, ips(&["10.0.0.1"]));
        assert!(name.truncated && name.missing_since.is_empty());
        assert!(parse("r00000002+=").names[&NameKey(2)].truncated);
    }

    #[test]
    fn a_memory_too_big_keeps_what_the_window_needs_and_marks_what_it_cut() {
        let many = |third: u8| -> BTreeSet<IpAddr> { (0..40u8).map(|i| IpAddr::from([10, 0, third, i])).collect() };
        let rotating = NameMemory {
            behaviour: Behaviour::Rotating,
            answered: many(1),
            missing_since: (0..5u64)
                .map(|i| (IpAddr::from([10, 0, 9, i as u8]), 1_700_000_000_000 + i * 1000))
                .collect(),
            truncated: false,
        };
        let steady = NameMemory { answered: many(2), ..NameMemory::default() };
        let value = encode(&memory(vec![(1, steady), (2, rotating)]));
        assert!(value.len() <= MAX_TAG_VALUE, "{} characters: {value}", value.len());
        assert!(value.starts_with("r00000002+="), "the rotating name first, marked cut: {value}");
        let read = parse(&value);
        assert_eq!(read.names[&NameKey(2)].missing_since.len(), 5, "every missed address kept: {value}");
        assert!(read.names[&NameKey(2)].truncated);
        assert!(read.names[&NameKey(1)].truncated && read.names[&NameKey(1)].answered.is_empty(), "{value}");
        let allowed = |c: char| c.is_ascii_alphanumeric() || " +=.:/@".contains(c);
        assert!(value.chars().all(allowed), "{value}");
    }

    #[test]
    fn too_many_names_leaves_the_last_steady_ones_out() {
        let names: Vec<(u32, NameMemory)> = (0..40).map(|key| (key, NameMemory::default())).collect();
        let mut names = names;
        names.push((99, NameMemory { behaviour: Behaviour::Rotating, ..NameMemory::default() }));
        let value = encode(&memory(names));
        assert!(value.len() <= MAX_TAG_VALUE, "{}", value.len());
        let read = parse(&value);
        assert!(read.names.contains_key(&NameKey(99)), "rotating names first");
        assert!(read.names.len() < 41);
    }
}
