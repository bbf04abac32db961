//! What a target group remembers of its `dns:` names from one run to the
//! next: whether each name was ever seen rotating, what it answered last, and
//! which addresses it stopped answering (since when). The planner reads and
//! updates it (`rotation`); `memory_tag` writes it in a tag.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

/// A `dns:` name as the memory knows it: a hash of the name, lower-cased and
/// without a trailing dot (32-bit FNV-1a), shown as 8 hex digits. Short, so
/// that the memory of several names fits one tag value, and stable across
/// versions and machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NameKey(pub u32);

impl NameKey {
    pub fn of(hostname: &str) -> NameKey {
        const OFFSET: u32 = 0x811c_9dc5;
        const PRIME: u32 = 0x0100_0193;
        let name = hostname.trim_end_matches('.');
        let hash = name
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .fold(OFFSET, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(PRIME));
        NameKey(hash)
    }
}

impl fmt::Display for NameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// How a name has answered so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Behaviour {
    /// Every answer it gave was its whole set: when it stops answering an
    /// address, the address moved (make before break, no window).
    #[default]
    Steady,
    /// It was seen answering different subsets (within one run, or from one
    /// run to the next): an address it stops answering is held by the window.
    /// Never forgotten while the name stays a source of the group.
    Rotating,
}

/// What a target group remembers of one `dns:` name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameMemory {
    pub behaviour: Behaviour,
    /// The (private) addresses of its last answer.
    pub answered: BTreeSet<IpAddr>,
    /// Addresses it answered before but not in its last answer that are
    /// still registered, with when (Unix ms) it stopped answering them.
    pub missing_since: BTreeMap<IpAddr, u64>,
    /// Read from a tag that had no room for all of this name's addresses:
    /// the lists above may lack some.
    pub truncated: bool,
}

impl NameMemory {
    /// Every address it answered that the group still holds: the ones a run
    /// expects to see again before it believes the name changed.
    pub fn known_addresses(&self) -> BTreeSet<IpAddr> {
        self.answered.iter().chain(self.missing_since.keys()).copied().collect()
    }
}

/// What a target group remembers of all its `dns:` names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsMemory {
    pub names: BTreeMap<NameKey, NameMemory>,
}

impl DnsMemory {
    pub fn name(&self, hostname: &str) -> Option<&NameMemory> {
        self.names.get(&NameKey::of(hostname))
    }

    /// When the earliest rotating name stopped answering `ip`: the start of
    /// its absence window. `None`: no rotating name answered it before, so
    /// the window does not apply.
    pub fn rotating_missing_since(&self, ip: &IpAddr) -> Option<u64> {
        self.names
            .values()
            .filter(|name| name.behaviour == Behaviour::Rotating)
            .filter_map(|name| name.missing_since.get(ip).copied())
            .min()
    }

    /// Forgets every missed address that is not in `held` (it left the
    /// target group).
    pub fn keep_missing_only(&mut self, held: &BTreeSet<IpAddr>) {
        for name in self.names.values_mut() {
            name.missing_since.retain(|ip, _| held.contains(ip));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_key_ignores_case_and_the_trailing_dot_and_tells_names_apart() {
        let key = NameKey::of("Readers.RR.example.internal.");
        assert_eq!(key, NameKey::of("readers.rr.example.internal"));
        assert_ne!(key, NameKey::of("readers.rr.example.interna1"));
        // FNV-1a's published value for "a": the hash does not depend on the platform.
        assert_eq!(NameKey::of("a").to_string(), "e40c292c");
        assert_eq!(NameKey(0xab).to_string(), "000000ab");
    }

    #[test]
    fn only_rotating_names_start_a_window() {
        let ip: IpAddr = "10.0.1.5".parse().unwrap();
        let mut memory = DnsMemory::default();
        let steady = NameMemory { missing_since: [(ip, 1_000)].into(), ..NameMemory::default() };
        memory.names.insert(NameKey(1), steady.clone());
        assert_eq!(memory.rotating_missing_since(&ip), None);
        let rotating = NameMemory { behaviour: Behaviour::Rotating, missing_since: [(ip, 2_000)].into(), ..steady };
        memory.names.insert(NameKey(2), rotating);
        assert_eq!(memory.rotating_missing_since(&ip), Some(2_000));
        memory.keep_missing_only(&BTreeSet::new());
        assert!(memory.names.values().all(|n| n.missing_since.is_empty()));
    }
}
