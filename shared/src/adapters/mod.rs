//! The adapters: the ports of [`crate::ports`] over real services. ELB, RDS
//! and the DynamoDB lease table through the AWS SDK for Rust, DNS through hickory-resolver. They translate
//! between SDK types and domain types and decide nothing. `ElbInspector` and
//! `RdsInspector` are the read-only ports of `doctor` (EC2's is the command
//! line's, so the Lambda binaries never link the EC2 SDK).

mod dns;
mod elb;
mod elb_inspect;
mod leases;
mod metering;
mod pacing;
mod rds;
mod rds_inspect;
mod sdk;
mod sdk_failure;

pub use dns::{DnsSetupError, HickoryDns, NameServer};
pub use elb::ElbTargetGroups;
pub use elb_inspect::ElbInspector;
pub use leases::{DynamoDbLeases, NoLeases};
pub use pacing::DescribeRate;
pub use rds::RdsApi;
pub use rds_inspect::RdsInspector;
pub use sdk::{load_config, load_config_with};
pub use sdk_failure::FailureReader;

#[cfg(test)]
mod canned;
#[cfg(test)]
mod sent_actions;
