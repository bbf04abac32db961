//! RDS events as EventBridge delivers them to a Lambda function (`source:
//! aws.rds`), shaped like AWS's published examples: `Date` in ISO 8601 with
//! milliseconds, `EventID` without a URL, `SourceIdentifier` with or without
//! the `rds:` prefix.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

use crate::moto::REGION;
use crate::sns::{now_ms, rfc3339};

const ACCOUNT: &str = "123456789012";

/// One RDS event on EventBridge.
#[derive(Clone, Debug)]
pub struct RdsEventBridgeEvent {
    /// `RDS DB Instance Event`, `RDS DB Cluster Event`, `RDS DB Proxy Event`,
    /// `RDS Blue Green Deployment Event`.
    pub detail_type: String,
    /// `DB_INSTANCE`, `CLUSTER`, `DB_PROXY`, `BLUE_GREEN_DEPLOYMENT`.
    pub source_type: String,
    /// `SourceIdentifier` as sent (`rds:mydb` or `mydb`).
    pub identifier: String,
    pub source_arn: String,
    pub event_id: String,
    pub message: String,
    pub categories: Vec<String>,
    /// `Date` as Unix milliseconds.
    pub time_ms: u64,
}

impl RdsEventBridgeEvent {
    /// An `RDS DB Instance Event` about `instance_id`, happening now.
    pub fn instance(instance_id: &str, event_id: &str, message: &str, category: &str) -> Self {
        Self::new("RDS DB Instance Event", "DB_INSTANCE", "db", instance_id, event_id, message, category)
    }

    /// An `RDS DB Cluster Event` about `cluster_id`, happening now.
    pub fn cluster(cluster_id: &str, event_id: &str, message: &str, category: &str) -> Self {
        Self::new("RDS DB Cluster Event", "CLUSTER", "cluster", cluster_id, event_id, message, category)
    }

    /// An `RDS Blue Green Deployment Event` about deployment `id` (`bgd-...`).
    pub fn blue_green(id: &str, event_id: &str, message: &str) -> Self {
        let mut event = Self::new(
            "RDS Blue Green Deployment Event",
            "BLUE_GREEN_DEPLOYMENT",
            "deployment",
            id,
            event_id,
            message,
            "notification",
        );
        event.identifier = id.to_owned();
        event
    }

    fn new(
        detail_type: &str,
        source_type: &str,
        arn_kind: &str,
        id: &str,
        event_id: &str,
        message: &str,
        category: &str,
    ) -> Self {
        RdsEventBridgeEvent {
            detail_type: detail_type.into(),
            source_type: source_type.into(),
            identifier: format!("rds:{id}"),
            source_arn: format!("arn:aws:rds:{REGION}:{ACCOUNT}:{arn_kind}:{id}"),
            event_id: event_id.into(),
            message: message.into(),
            categories: vec![category.into()],
            time_ms: now_ms(),
        }
    }

    /// The same event with a bare `SourceIdentifier` (no `rds:` prefix), as
    /// AWS's EventBridge tutorial shows it.
    pub fn bare_identifier(mut self) -> Self {
        self.identifier = self.identifier.trim_start_matches("rds:").to_owned();
        self
    }

    /// The event as Lambda receives it.
    pub fn to_value(&self) -> Value {
        static NEXT_ID: AtomicU32 = AtomicU32::new(1);
        let n = NEXT_ID.fetch_add(1, Ordering::SeqCst);
        let date = rfc3339(self.time_ms);
        json!({
            "version": "0",
            "id": format!("68f6e973-1a0c-d37b-f2f2-{n:012x}"),
            "detail-type": self.detail_type,
            "source": "aws.rds",
            "account": ACCOUNT,
            "time": date.split('.').next().map(|s| format!("{s}Z")).unwrap_or_else(|| date.clone()),
            "region": REGION,
            "resources": [self.source_arn],
            "detail": {
                "EventCategories": self.categories,
                "SourceType": self.source_type,
                "SourceArn": self.source_arn,
                "Date": date,
                "Message": self.message,
                "SourceIdentifier": self.identifier,
                "EventID": self.event_id,
            }
        })
    }
}

/// An EventBridge event from another service (a schedule), which the
/// failover function must log and ignore.
pub fn other_eventbridge_event() -> Value {
    json!({
        "version": "0",
        "id": "0f5bdcc4-0000-4000-8000-000000000001",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-11-23T10:00:00Z",
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/every-minute")],
        "detail": {}
    })
}
