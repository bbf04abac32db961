//! Keeps NLB `ip` target groups equal to the addresses behind RDS instances,
//! Aurora clusters, RDS Proxy endpoints and DNS names.

pub mod plan;
pub mod spec;
pub mod target;
