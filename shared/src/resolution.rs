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
    /// Addresses the RDS API says no longer hold the role this source follows
    /// (for a writer source: the other members). They may be removed at once.
    pub demoted: BTreeSet<IpAddr>,
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
