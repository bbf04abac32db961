//! Keeps NLB `ip` target groups equal to the addresses behind RDS instances,
//! Aurora clusters, RDS Proxy endpoints and DNS names.
//!
//! # The surface
//!
//! The three Lambda binaries and the `nlb-target-sync` command line use only
//! what this page re-exports:
//!
//! - Setting up: [`Settings`] (the `NLB_SYNC_*` variables, the
//!   [`ExposurePolicy`] among them), [`engine_from_env`] (a Lambda
//!   function's) and [`engine_with`] (for where it [`RunsIn`]) give an
//!   [`AwsSyncEngine`], a [`SyncEngine`] over the real adapters;
//!   [`load_config_with`] loads the AWS configuration for a profile and Region.
//! - A failed AWS call: [`ApiFailure`], its [`Cause`] and [`FailureKind`], and
//!   the fix worded for where the code runs; `failure_mut` on the errors
//!   ([`OperateError::failure_mut`]) reaches it. [`IamAction`], [`PortCall`]
//!   and [`Operation`]: the IAM actions behind each call and each command.
//! - Asking the engine: [`SyncEngine::sync`] (a run, [`RunOutcome`]),
//!   [`SyncEngine::on_schedule`], [`SyncEngine::follow_events`]
//!   ([`BatchOutcome`]), [`SyncEngine::on_resource_request`], and the
//!   operator's [`SyncEngine::status`], [`SyncEngine::apply`],
//!   [`SyncEngine::explain`], [`SyncEngine::tag`], [`SyncEngine::untag`] and
//!   [`SyncEngine::doctor`] (its checks read the ELB and RDS ports of
//!   [`inspectors_with`] and an EC2 [`NetworkInspection`] the caller brings).
//! - Reporting: [`telemetry`] writes every log line; [`report`] makes the
//!   JSON answers; with the `lambda` feature, [`rds_events`] reads what Lambda
//!   delivered and [`lambda_deadline`] reads the invocation's deadline.
//! - [`custom_resource`]: a general CloudFormation custom-resource library
//!   that always answers (it imports nothing of the domain).
//!
//! # The layers inside (`docs/architecture.md` has the whole picture)
//!
//! - The pure domain: `spec` (the tag grammar), `target`, `managed` (whether
//!   a target group can be synced), `exposure` (the installer's policy over
//!   sources, addresses and target groups), `resolution` (what a source resolved to),
//!   `plan` (the sync decision), `name_memory` and `rotation` (what a group
//!   remembers of its `dns:` names and how a run's answers change it),
//!   `memory_tag` (that memory as a tag value), `events` (the RDS event table).
//! - `ports`: what the domain needs from outside (target groups, the RDS API,
//!   DNS, leases), as traits with their error types; `failure` (a failed AWS
//!   call and its advice); `permissions` (the IAM actions); `clock`.
//! - The engine: `resolve` (sources to addresses, shared within a run),
//!   `sync` ([`SyncEngine`], the only way anything reaches the ports) and
//!   `settle` (a sync, a wait for health, the run that finishes
//!   make-before-break).
//! - Triggers on top of the engine: `schedule`, `failover`, `deploy`, and the
//!   operator's `operate`, `explain` and `doctor` (facts, read-only ports,
//!   pure checks).
//! - The edge: `inbound` (SNS and EventBridge records), [`report`],
//!   [`telemetry`], `config` (settings and the engine wired to the real
//!   `adapters`).

mod adapters;
mod causes;
mod clock;
mod config;
pub mod custom_resource;
mod deploy;
mod doctor;
mod events;
mod explain;
mod exposure;
mod failover;
mod failure;
#[cfg(test)]
mod fakes;
#[cfg(feature = "lambda")]
mod inbound;
mod lease;
mod listing;
mod managed;
mod memory_tag;
mod name_memory;
mod operate;
mod permissions;
mod plan;
mod ports;
pub mod report;
mod resolution;
mod resolve;
mod rotation;
mod schedule;
mod settle;
mod settled;
#[cfg(test)]
mod simulation;
mod spec;
mod sync;
mod target;
pub mod telemetry;
mod usage;

pub use adapters::FailureReader;
pub use adapters::{DescribeRate, NameServer, load_config_with};
#[cfg(feature = "lambda")]
pub use clock::lambda_deadline;
pub use clock::now_millis;
pub use config::{AwsInspectors, inspectors_with};
pub use config::{
    AwsSyncEngine, ConfigError, Settings, SetupError, engine_from_env, engine_with, panic_drill_from_env,
    watch_from_env,
};
pub use deploy::{DeployError, ResourceSpec};
pub use doctor::{
    Check, CheckId, CheckStatus, Cidr, DEREGISTRATION_DELAY_LIMIT_SECONDS, Diagnosis, DoctorError, EndpointService,
    IngressRule, InspectError, Inspection, MAX_CONNECT_ERRORS_FLOOR, NetworkInspection,
    STACK_DEREGISTRATION_DELAY_SECONDS, SecurityGroup, Subnet,
};
pub use events::{NotAnRdsEvent, RdsEvent};
pub use explain::{AddressCheck, AddressRole, Explanation, Lookup};
pub use exposure::{AllowedAddresses, AllowedSources, ExposurePolicy, Pattern, PolicyError, Refusal, TargetGroupScope};
pub use failover::{BatchOutcome, EventDecision, RecordOutcome};
pub use failure::{ApiFailure, Cause, FailureKind, RunsIn};
#[cfg(feature = "lambda")]
pub use inbound::rds_events;
pub use managed::GroupError;
pub use operate::{GroupStatus, OperateError, Tagged, TargetStatus, Untagged, spec_from_tokens};
/// The EC2 calls of `doctor`, sent by the command line's own adapter.
pub use permissions::{
    DESCRIBE_SECURITY_GROUPS, DESCRIBE_SUBNETS, DESCRIBE_VPC_ENDPOINT_CONNECTIONS,
    DESCRIBE_VPC_ENDPOINT_SERVICE_CONFIGURATIONS, DESCRIBE_VPC_ENDPOINT_SERVICE_PERMISSIONS,
};
pub use permissions::{DOCTOR_ACTIONS, IamAction, Operation, PortCall};
pub use plan::{Action, DeregisterReason, HeldBack, HoldReason};
pub use ports::{ClusterMember, CustomEndpoint, CustomEndpointKind, DnsData, DnsRecord, ElbError, Endpoint, RdsError};
pub use settle::Settled;
pub use spec::{PORT_TAG, SOURCES_TAG, Source, SpecError, SyncSpec};
pub use sync::{GroupOutcome, RunError, RunFailed, RunOutcome, Selection, SyncEngine, SyncError, SyncOptions};
pub use target::{AddressFamilies, PendingTarget, Target, TargetHealth};
pub use usage::ApiUsage;

/// The planner and its inputs, for the benchmark (`cargo bench -p
/// nlb-target-sync --features bench`); not part of the surface.
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench {
    pub use crate::exposure::AllowedAddresses;
    pub use crate::plan::plan_with_history;
    pub use crate::resolution::{Resolution, SourceAnswer};
    pub use crate::spec::Source;
    pub use crate::target::{Target, TargetGroupState, TargetHealth};
}
