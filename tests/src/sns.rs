//! RDS event notifications as SNS delivers them to a Lambda function (see
//! `events/rds-failover-completed.json`). moto never publishes RDS events, so
//! the tests build them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::moto::REGION;

const ACCOUNT: &str = "123456789012";
const TOPIC: &str = "rds-events";

/// An RDS event notification message (the JSON text of `Sns.Message`).
#[derive(Clone, Debug)]
pub struct RdsNotification {
    /// `db-cluster`, `db-instance` or `db-proxy`.
    pub source_type: String,
    /// Cluster id, instance id or proxy name.
    pub source_id: String,
    /// `RDS-EVENT-0071`, ...
    pub event_id: String,
    /// `Event Message`.
    pub message: String,
    /// `Event Time` as Unix milliseconds.
    pub time_ms: u64,
}

impl RdsNotification {
    /// An event of `source_type` about `source_id`, happening now.
    pub fn new(source_type: &str, source_id: &str, event_id: &str, message: &str) -> RdsNotification {
        RdsNotification {
            source_type: source_type.into(),
            source_id: source_id.into(),
            event_id: event_id.into(),
            message: message.into(),
            time_ms: now_ms(),
        }
    }

    /// A `db-cluster` event happening now.
    pub fn cluster(cluster_id: &str, event_id: &str, message: &str) -> RdsNotification {
        RdsNotification::new("db-cluster", cluster_id, event_id, message)
    }

    /// A `db-instance` event happening now.
    pub fn instance(instance_id: &str, event_id: &str, message: &str) -> RdsNotification {
        RdsNotification::new("db-instance", instance_id, event_id, message)
    }

    /// The `Source ARN` RDS puts in the message.
    pub fn source_arn(&self) -> String {
        let kind = match self.source_type.as_str() {
            "db-cluster" => "cluster",
            "db-instance" => "db",
            "db-proxy" => "db-proxy",
            other => other,
        };
        format!("arn:aws:rds:{REGION}:{ACCOUNT}:{kind}:{}", self.source_id)
    }

    /// The message text, as RDS publishes it: a JSON object with `Event
    /// Source`, `Event Time` (`2026-11-23 10:00:00.250`, UTC), `Identifier
    /// Link`, `Source ID`, `Source ARN`, `Event ID` (a documentation URL
    /// ending in `#RDS-EVENT-nnnn`) and `Event Message`.
    pub fn to_message(&self) -> String {
        let console = match self.source_type.as_str() {
            "db-cluster" => "dbclusters",
            "db-proxy" => "proxies",
            _ => "dbinstances",
        };
        json!({
            "Event Source": self.source_type,
            "Event Time": event_time(self.time_ms),
            "Identifier Link": format!(
                "https://console.aws.amazon.com/rds/home?region={REGION}#{console}:id={}",
                self.source_id
            ),
            "Source ID": self.source_id,
            "Source ARN": self.source_arn(),
            "Event ID": format!(
                "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#{}",
                self.event_id
            ),
            "Event Message": self.message,
        })
        .to_string()
    }
}

/// The text RDS sends through SNS right after an event subscription is
/// created: plain text, not JSON.
pub const SUBSCRIPTION_CONFIRMATION: &str = "This is a confirmation that you have subscribed to RDS event \
notifications for the RDS event subscription db-failover-events. Event categories: failover, availability.";

/// An SNS event carrying one record per message, every field filled as SNS
/// fills it (`Subject` "RDS Notification Message", `Timestamp` RFC 3339, ...).
pub fn sns_event(messages: &[String]) -> Value {
    static NEXT_ID: AtomicU32 = AtomicU32::new(1);
    let topic_arn = format!("arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}");
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            let n = NEXT_ID.fetch_add(1, Ordering::SeqCst);
            json!({
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": format!("{topic_arn}:4f2b6a1e-0000-4000-8000-{:012x}", std::process::id()),
                "Sns": {
                    "Type": "Notification",
                    "MessageId": format!("7c1d2e3f-0000-4000-8000-{n:012x}"),
                    "TopicArn": topic_arn,
                    "Subject": "RDS Notification Message",
                    "Message": message,
                    "Timestamp": rfc3339(now_ms()),
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
                    "SigningCertUrl": format!("https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"),
                    "UnsubscribeUrl": format!(
                        "https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:4f2b6a1e"
                    ),
                    "MessageAttributes": {}
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

/// [`sns_event`] for RDS notifications.
pub fn rds_event(notifications: &[&RdsNotification]) -> Value {
    let messages: Vec<String> = notifications.iter().map(|n| n.to_message()).collect();
    sns_event(&messages)
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// `(year, month, day, hour, minute, second, millisecond)` of Unix ms, UTC.
fn civil(ms: u64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, (rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32, (ms % 1000) as u32)
}

/// RDS's `Event Time` format: `2026-11-23 10:00:00.250` (UTC).
pub fn event_time(ms: u64) -> String {
    let (y, mo, d, h, mi, s, milli) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{milli:03}")
}

/// RFC 3339 with milliseconds: `2026-11-23T10:00:01.000Z`.
pub fn rfc3339(ms: u64) -> String {
    let (y, mo, d, h, mi, s, milli) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_rds_and_sns() {
        assert_eq!(event_time(1_795_428_000_250), "2026-11-23 10:00:00.250");
        assert_eq!(rfc3339(1_795_428_001_000), "2026-11-23T10:00:01.000Z");
        assert_eq!(event_time(0), "1970-01-01 00:00:00.000");
        assert_eq!(rfc3339(951_868_801_000), "2000-03-01T00:00:01.000Z");
    }

    #[test]
    fn builds_a_complete_sns_record() {
        let mut n = RdsNotification::cluster("app", "RDS-EVENT-0071", "Completed failover to DB instance: app-2");
        n.time_ms = 1_795_428_000_250;
        let event = rds_event(&[&n]);
        let record = &event["Records"][0];
        assert_eq!(record["EventSource"], "aws:sns");
        assert_eq!(record["Sns"]["Subject"], "RDS Notification Message");
        assert!(record["Sns"]["MessageAttributes"].is_object());
        let sample = std::fs::read_to_string(crate::workspace_root().join("events/rds-failover-completed.json"))
            .expect("the sample event");
        let sample: Value = serde_json::from_str(&sample).unwrap();
        let message = |record: &Value| -> Value {
            serde_json::from_str(record["Sns"]["Message"].as_str().expect("a message")).expect("JSON message")
        };
        assert_eq!(message(record), message(&sample["Records"][0]), "the same message as the sample event");
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(record), keys(&sample["Records"][0]));
        assert_eq!(keys(&record["Sns"]), keys(&sample["Records"][0]["Sns"]));
    }
}
