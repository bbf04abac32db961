//! Keeps NLB `ip` target groups equal to the addresses behind RDS instances,
//! Aurora clusters, RDS Proxy endpoints and DNS names.
//!
//! Layers, from the inside out (`docs/architecture.md` has the whole picture):
//!
//! - The pure domain: [`spec`] (the tag grammar), [`target`], [`resolution`]
//!   (what a source resolved to), [`plan`] (the sync decision), [`events`]
//!   (the RDS event table and its readers).
//! - [`ports`]: what the domain needs from outside (target groups, the RDS
//!   API, DNS), as traits with their error types; [`clock`].
//! - The engine: [`resolve`] (sources to addresses, shared within a run) and
//!   [`sync`] ([`sync::SyncEngine`], the only way anything reaches the ports).
//! - Triggers on top of the engine: [`schedule`], [`failover`], [`deploy`],
//!   and the operator's: [`operate`] and [`explain`] (the command line).
//! - The edge: [`report`] (results as JSON and EMF), [`telemetry`] (where
//!   lines are written), [`config`] (settings and the engine wired to the
//!   real [`adapters`]), [`custom_resource`] (a general CloudFormation
//!   custom-resource library that always answers).

pub mod adapters;
pub mod clock;
pub mod config;
pub mod custom_resource;
pub mod deploy;
pub mod events;
pub mod explain;
pub mod failover;
#[cfg(test)]
mod fakes;
pub mod operate;
pub mod plan;
pub mod ports;
pub mod report;
pub mod resolution;
pub mod resolve;
pub mod schedule;
pub mod spec;
pub mod sync;
pub mod target;
pub mod telemetry;
