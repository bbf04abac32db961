//! What resolving one source gave: the planner's input, produced by
//! [`crate::resolve`].

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::ports::{DnsError, RdsError};
use crate::spec::Source;

/// The addresses one source stands for now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    /// Addresses that should receive traffic for this source.
    pub addresses: BTreeSet<IpAddr>,
    /// Addresses the RDS API says no longer hold the identity this source
    /// follows (for a writer source: the other members; after a Blue/Green
    /// switchover: the old blue databases). They may be removed at once.
    pub demoted: BTreeSet<IpAddr>,
    pub authority: Authority,
    /// A `dns:` name whose queries in this run answered different sets: it
    /// answers rotating subsets. Always false for other sources.
    pub answers_differed: bool,
}

/// How much an answer says about the addresses it does not contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Authority {
    /// A name's answer: a missing address may only be a lagging or rotating
    /// answer (make before break; for `dns:` names, the absence window).
    #[default]
    Name,
    /// The RDS API listed every member in the followed role: an address
    /// that is not among them is no longer one (a removed reader goes at once).
    Members,
    /// The RDS API says the source stands for nothing now, by design (the
    /// writer of a Global Database's secondary cluster): empty is an answer.
    NoneByDesign,
}

/// A source and what resolving it gave: addresses, or why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAnswer {
    pub source: Source,
    pub outcome: Result<Resolution, ResolveError>,
}

/// Why one source gave no addresses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Rds(#[from] RdsError),
    #[error(transparent)]
    Dns(#[from] DnsError),
    #[error("cluster '{cluster}' has no writer now (failover in progress?)")]
    NoWriter { cluster: String },
    #[error("{kind} '{id}' has no endpoint yet (status: {status})")]
    NoEndpoint { kind: &'static str, id: String, status: String },
}
