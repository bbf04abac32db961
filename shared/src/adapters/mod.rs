//! The adapters: the ports of [`crate::ports`] over real services. ELB, RDS
//! and the DynamoDB lease table through the AWS SDK for Rust, DNS through hickory-resolver. They translate
//! between SDK types and domain types and decide nothing.

mod dns;
mod elb;
mod leases;
mod metering;
mod pacing;
mod rds;
mod sdk;
mod sdk_failure;

pub use dns::{DnsSetupError, HickoryDns, NameServer};
pub use elb::ElbTargetGroups;
pub use leases::{DynamoDbLeases, NoLeases};
pub use pacing::DescribeRate;
pub use rds::RdsApi;
pub use sdk::{load_config, load_config_with};

#[cfg(test)]
mod canned;
#[cfg(test)]
mod sent_actions;
