//! Keeps NLB `ip` target groups equal to the addresses behind RDS instances,
//! Aurora clusters, RDS Proxy endpoints and DNS names.

pub mod aws;
pub mod config;
pub mod custom_resource;
pub mod deploy;
pub mod dns;
pub mod failover;
#[cfg(test)]
mod fakes;
pub mod plan;
pub mod resolve;
pub mod spec;
pub mod sync;
pub mod target;
pub mod telemetry;
