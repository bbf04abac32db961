//! [`LeaseStore`] over a DynamoDB table (partition key `targetGroup`, a
//! string), and the store for installs that have none.
//!
//! An item is a lease: `owner`, `expiresAt` (Unix ms) and `ttl` (Unix
//! seconds, an hour after the lease ends, for DynamoDB's TTL to sweep). Taking
//! a lease is one conditional PutItem: it succeeds when there is no item, the
//! holder's lease has ended, or the taker holds it already.

use std::collections::HashMap;

use aws_sdk_dynamodb as dynamodb;
use dynamodb::error::SdkError;
use dynamodb::types::AttributeValue;

use std::sync::Arc;

use super::metering::CountCalls;
use super::sdk_failure::FailureReader;
use crate::failure::RunsIn;
use crate::permissions::{DELETE_ITEM, GET_ITEM, IamAction, PUT_ITEM};
use crate::ports::{LeaseError, LeaseFuture, LeaseStore};
use crate::usage::{ApiMeter, Service};

/// The leases in a DynamoDB table, through the AWS SDK.
pub struct DynamoDbLeases {
    client: dynamodb::Client,
    table: String,
    failures: FailureReader,
}

impl DynamoDbLeases {
    /// A client whose requests are counted in `meter`.
    pub fn new(config: &aws_config::SdkConfig, table: &str, runs_in: RunsIn, meter: Arc<ApiMeter>) -> Self {
        let counted =
            dynamodb::config::Builder::from(config).interceptor(CountCalls::new(Service::DynamoDb, meter)).build();
        DynamoDbLeases {
            client: dynamodb::Client::from_conf(counted),
            table: table.to_string(),
            failures: FailureReader::new("DynamoDB", runs_in, config),
        }
    }

    #[cfg(test)]
    pub(crate) fn with_client(client: dynamodb::Client, table: &str) -> Self {
        DynamoDbLeases { client, table: table.to_string(), failures: FailureReader::canned("DynamoDB") }
    }

    /// The failed call `action` on the lease of `key`.
    fn error<E>(&self, action: IamAction, key: &str, err: &SdkError<E>) -> LeaseError
    where
        E: dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        LeaseError { operation: action.operation, key: key.to_string(), failure: self.failures.read(err, action) }
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl LeaseStore for DynamoDbLeases {
    fn acquire<'a>(&'a self, key: &'a str, owner: &'a str, now_ms: u64, until_ms: u64) -> LeaseFuture<'a, bool> {
        Box::pin(async move {
            let item = HashMap::from([
                ("targetGroup".to_string(), AttributeValue::S(key.to_string())),
                ("owner".to_string(), AttributeValue::S(owner.to_string())),
                ("expiresAt".to_string(), number(until_ms)),
                ("ttl".to_string(), number(until_ms / 1000 + 3600)),
            ]);
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(targetGroup) OR expiresAt < :now OR #owner = :owner")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":now", number(now_ms))
                .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
                .send()
                .await;
            match put {
                Ok(_) => Ok(true),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
                Err(e) => Err(self.error(PUT_ITEM, key, &e)),
            }
        })
    }

    fn release<'a>(&'a self, key: &'a str, owner: &'a str) -> LeaseFuture<'a, ()> {
        Box::pin(async move {
            let delete = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("targetGroup", AttributeValue::S(key.to_string()))
                .condition_expression("#owner = :owner")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
                .send()
                .await;
            match delete {
                // Another run took it after this one's lease ended: theirs now.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
                Err(e) => Err(self.error(DELETE_ITEM, key, &e)),
                Ok(_) => Ok(()),
            }
        })
    }

    fn is_held<'a>(&'a self, key: &'a str, now_ms: u64) -> LeaseFuture<'a, bool> {
        Box::pin(async move {
            let got = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("targetGroup", AttributeValue::S(key.to_string()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| self.error(GET_ITEM, key, &e))?;
            let expires = got.item().and_then(|i| i.get("expiresAt")).and_then(|v| v.as_n().ok()?.parse::<u64>().ok());
            Ok(expires.is_some_and(|at| at >= now_ms))
        })
    }
}

/// No lease store: every lease is granted and none is ever held. Runs are
/// then ordered by the applied-view tag alone (see `docs/architecture.md`,
/// "Concurrent runs"); for an install where one run at a time changes a
/// target group, or the command line without `--lease-table`.
pub struct NoLeases;

impl LeaseStore for NoLeases {
    fn acquire<'a>(&'a self, _key: &'a str, _owner: &'a str, _now_ms: u64, _until_ms: u64) -> LeaseFuture<'a, bool> {
        Box::pin(async { Ok(true) })
    }

    fn release<'a>(&'a self, _key: &'a str, _owner: &'a str) -> LeaseFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn is_held<'a>(&'a self, _key: &'a str, _now_ms: u64) -> LeaseFuture<'a, bool> {
        Box::pin(async { Ok(false) })
    }

    fn orders_runs(&self) -> bool {
        false
    }
}
