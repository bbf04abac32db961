//! `doctor`: what stands between a consumer and the database when the target
//! group may hold exactly the right addresses and still nothing connects.
//! `status` and `explain` answer "what is in the group and why"; `doctor`
//! answers "why can't they connect".
//!
//! - `facts`: what the checks read, one target group at a time;
//! - `ports`: the read-only ELB, RDS and EC2 calls that gather them (EC2 is
//!   implemented by the command line, so the Lambda binaries never link it);
//! - `gather`: [`SyncEngine::doctor`](crate::SyncEngine::doctor), which reads
//!   the facts through the engine and the ports;
//! - `checks`: the pure decisions, one module per concern, run by `diagnose`;
//! - `check`: the verdicts, with their stable ids.

mod check;
mod checks;
mod facts;
mod gather;
mod ports;

pub use check::{Check, CheckId, CheckStatus};
pub use checks::{DEREGISTRATION_DELAY_LIMIT_SECONDS, MAX_CONNECT_ERRORS_FLOOR, STACK_DEREGISTRATION_DELAY_SECONDS};
pub use facts::{
    Cidr, EndpointService, IngressRule, Listener, LoadBalancer, SecurityGroup, Subnet, TargetGroupDetails, ZoneSubnet,
};
pub use gather::{Diagnosis, DoctorError, Inspection};
pub use ports::{
    ClusterDetails, DatabaseInspection, InspectError, InstanceDetails, LoadBalancerInspection, NetworkInspection,
    ProxyDetails,
};
