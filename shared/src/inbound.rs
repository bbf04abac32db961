//! RDS events as Lambda delivers them: an SNS batch from an RDS event
//! subscription, or one EventBridge event (`source: aws.rds`). Decoding lives
//! here, at the edge; the event table and what an event concerns are the
//! domain's (`events`). Each record is read on its own, and a record that
//! cannot be read (or a decoder bug) is an `Err` for that record alone.

use std::panic::{AssertUnwindSafe, catch_unwind};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsRecord;
use chrono::{DateTime, NaiveDateTime};
use serde::Deserialize;
use serde_json::Value;

use crate::events::{NotAnRdsEvent, RdsEvent, SourceKind};

/// Every record of what Lambda delivered, each read as an RDS event or as
/// the reason it is none, in order.
pub fn rds_events(payload: &Value) -> Vec<Result<RdsEvent, NotAnRdsEvent>> {
    records_of(payload).iter().map(read_one).collect()
}

/// Reads one record; a decoder bug is that record's `Err`, never the batch's.
fn read_one(record: &Record) -> Result<RdsEvent, NotAnRdsEvent> {
    catch_unwind(AssertUnwindSafe(|| read_record(record)))
        .unwrap_or_else(|_| Err(NotAnRdsEvent::BadEventBridgeEvent { why: "the record could not be decoded".into() }))
}

/// One delivered record: an SNS message, or one EventBridge event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// The `Sns.Message` text of one SNS record.
    SnsMessage(String),
    EventBridge(Value),
    /// A record that could not even be taken apart.
    Unreadable(NotAnRdsEvent),
}

/// Splits what Lambda delivered into records: each record of an SNS batch, or
/// the one EventBridge event. A record that cannot be read is kept as
/// [`Record::Unreadable`], so it gets its own line and stops nothing else.
pub(crate) fn records_of(payload: &Value) -> Vec<Record> {
    if let Some(records) = payload.get("Records") {
        let Some(records) = records.as_array() else {
            return vec![Record::Unreadable(NotAnRdsEvent::BadSnsRecord { why: "Records is not a list".into() })];
        };
        return records
            .iter()
            .map(|record| match serde_json::from_value::<SnsRecord>(record.clone()) {
                Ok(record) => Record::SnsMessage(record.sns.message),
                Err(e) => Record::Unreadable(NotAnRdsEvent::BadSnsRecord { why: e.to_string() }),
            })
            .collect();
    }
    if payload.get("detail-type").is_some() {
        return vec![Record::EventBridge(payload.clone())];
    }
    let keys = payload.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default();
    vec![Record::Unreadable(NotAnRdsEvent::UnknownPayload { keys })]
}

/// Reads one record as an RDS event.
pub(crate) fn read_record(record: &Record) -> Result<RdsEvent, NotAnRdsEvent> {
    match record {
        Record::SnsMessage(message) => parse_notification(message),
        Record::EventBridge(event) => parse_eventbridge(event),
        Record::Unreadable(why) => Err(why.clone()),
    }
}

/// Reads an SNS message as an RDS event notification. The plain-text message
/// RDS sends when a subscription is created, or any other text, is an `Err`
/// that says what it was.
pub(crate) fn parse_notification(message: &str) -> Result<RdsEvent, NotAnRdsEvent> {
    let value: Value = serde_json::from_str(message)
        .map_err(|_| NotAnRdsEvent::NotJson { preview: message.chars().take(120).collect() })?;
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let source_type = field("Event Source").ok_or(NotAnRdsEvent::NoEventSource)?;
    let source_id = field("Source ID").ok_or(NotAnRdsEvent::MissingField { field: "Source ID" })?;
    let event_id = field("Event ID").ok_or(NotAnRdsEvent::MissingField { field: "Event ID" })?;
    // The Event ID is a documentation URL ending in '#RDS-EVENT-0071'.
    let event_id = event_id.rsplit('#').next().map(str::trim).filter(|id| !id.is_empty());
    let event_id = event_id.ok_or(NotAnRdsEvent::MissingField { field: "Event ID" })?.to_ascii_uppercase();
    Ok(RdsEvent {
        source_type: source_type.to_ascii_lowercase(),
        source_id: source_id.to_ascii_lowercase(),
        source_arn: field("Source ARN").map(str::to_string),
        event_id,
        event_time_ms: field("Event Time").and_then(parse_event_time),
        message: field("Event Message").unwrap_or("").to_string(),
    })
}

/// The `detail` of an EventBridge RDS event.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RdsEventDetail {
    #[serde(rename = "EventID")]
    event_id: Option<String>,
    source_identifier: Option<String>,
    source_arn: Option<String>,
    source_type: Option<String>,
    date: Option<String>,
    message: Option<String>,
}

/// The detail-types RDS sends to EventBridge that can concern an address.
const RDS_DETAIL_TYPES: &[(&str, &str)] = &[
    ("RDS DB Instance Event", "db-instance"),
    ("RDS DB Cluster Event", "db-cluster"),
    ("RDS DB Proxy Event", "db-proxy"),
    ("RDS Blue Green Deployment Event", "blue-green-deployment"),
];

/// Reads an EventBridge event (`source: aws.rds`) as an RDS event. Any other
/// event (another service, another RDS detail-type) is an `Err` saying what it was.
pub(crate) fn parse_eventbridge(event: &Value) -> Result<RdsEvent, NotAnRdsEvent> {
    let event: EventBridgeEvent<Value> =
        serde_json::from_value(event.clone()).map_err(|e| NotAnRdsEvent::BadEventBridgeEvent { why: e.to_string() })?;
    let other = || NotAnRdsEvent::OtherEventBridgeEvent {
        source_name: event.source.chars().take(80).collect(),
        detail_type: event.detail_type.chars().take(80).collect(),
    };
    if event.source != "aws.rds" {
        return Err(other());
    }
    let (_, default_type) = RDS_DETAIL_TYPES.iter().find(|(t, _)| *t == event.detail_type).ok_or_else(other)?;
    let detail: RdsEventDetail = serde_json::from_value(event.detail.clone())
        .map_err(|e| NotAnRdsEvent::BadEventBridgeEvent { why: format!("detail: {e}") })?;
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let event_id = text(&detail.event_id).ok_or(NotAnRdsEvent::MissingField { field: "EventID" })?;
    let identifier =
        text(&detail.source_identifier).ok_or(NotAnRdsEvent::MissingField { field: "SourceIdentifier" })?;
    // AWS's own examples show both `mydb` and `rds:mydb`.
    let source_id = identifier.strip_prefix("rds:").unwrap_or(&identifier).trim().to_ascii_lowercase();
    if source_id.is_empty() {
        return Err(NotAnRdsEvent::MissingField { field: "SourceIdentifier" });
    }
    let source_type = text(&detail.source_type)
        .and_then(|t| SourceKind::from_source_type(&t))
        .map_or(default_type.to_string(), |k| k.as_str().to_string());
    Ok(RdsEvent {
        source_type,
        source_id,
        source_arn: text(&detail.source_arn),
        event_id: event_id.to_ascii_uppercase(),
        event_time_ms: text(&detail.date)
            .and_then(|d| parse_event_time(&d))
            .or_else(|| event.time.and_then(|t| u64::try_from(t.timestamp_millis()).ok())),
        message: text(&detail.message).unwrap_or_default(),
    })
}

/// Parses an event time into Unix milliseconds: RFC 3339 (`2026-11-23T10:00:00.123Z`,
/// as EventBridge writes it), or RDS's SNS form `2026-11-23 10:00:00.123`
/// (UTC, fraction optional, `T` instead of the space accepted). Anything else,
/// or a time before 1970, is `None`.
pub(crate) fn parse_event_time(text: &str) -> Option<u64> {
    let text = text.trim();
    let millis = match DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.timestamp_millis(),
        Err(_) => {
            let naive = text.strip_suffix('Z').unwrap_or(text);
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(naive, format).ok())?
                .and_utc()
                .timestamp_millis()
        }
    };
    u64::try_from(millis).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::events::FollowUp::{SyncNow, WatchForChange};
    use crate::events::SourceKind::{BlueGreenDeployment, DbCluster};
    use proptest::prelude::*;
    use serde_json::json;

    /// An RDS notification as SNS delivers it (the `Sns.Message` string).
    pub(crate) fn notification(source_type: &str, id: &str, event: &str) -> String {
        json!({
            "Event Source": source_type,
            "Event Time": "2026-11-23 10:00:00.250",
            "Identifier Link": "https://console.aws.amazon.com/rds/home",
            "Source ID": id,
            "Source ARN": format!("arn:aws:rds:us-east-1:123456789012:cluster:{id}"),
            "Event ID": format!("http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#{event}"),
            "Event Message": "Completed failover to DB instance: prod-2",
        })
        .to_string()
    }

    #[test]
    fn parses_rds_notifications_and_rejects_anything_else() {
        let e = parse_notification(&notification("db-cluster", "Prod", "RDS-EVENT-0071")).unwrap();
        assert_eq!(
            (e.source_type.as_str(), e.source_id.as_str(), e.event_id.as_str()),
            ("db-cluster", "prod", "RDS-EVENT-0071")
        );
        assert_eq!(e.event_time_ms, Some(1_795_428_000_250));
        assert_eq!(e.rule().unwrap().follow_up, SyncNow);

        let confirmation = "This is a confirmation that you have subscribed to RDS event notifications.";
        let err = parse_notification(confirmation).unwrap_err();
        assert!(matches!(err, NotAnRdsEvent::NotJson { .. }) && err.to_string().contains("not a JSON RDS event"));
        assert_eq!(parse_notification("{\"Records\": 1}").unwrap_err(), NotAnRdsEvent::NoEventSource);
        assert!(parse_notification("{\"Records\": 1}").unwrap_err().to_string().contains("Event Source"));
        assert!(parse_notification("{\"Event Source\": \"db-cluster\"").is_err());
        assert_eq!(
            parse_notification("{\"Event Source\": \"db-cluster\", \"Source ID\": \"x\"}").unwrap_err(),
            NotAnRdsEvent::MissingField { field: "Event ID" }
        );
        // Found by the property test below: a URL with nothing after '#'.
        let no_id = notification("db-cluster", "x", "");
        assert_eq!(parse_notification(&no_id).unwrap_err(), NotAnRdsEvent::MissingField { field: "Event ID" });
    }

    #[test]
    fn event_time_formats() {
        assert_eq!(parse_event_time("1970-01-01 00:00:00.000"), Some(0));
        assert_eq!(parse_event_time("2000-03-01T00:00:01Z"), Some(951_868_801_000));
        assert_eq!(parse_event_time("2026-11-23 10:00:00.5"), Some(1_795_428_000_500));
        assert_eq!(parse_event_time("2026-11-23 10:00:00"), Some(1_795_428_000_000));
        assert_eq!(parse_event_time("2026-11-23T10:00:00.123+01:00"), Some(1_795_424_400_123));
        assert_eq!(parse_event_time("yesterday"), None);
        assert_eq!(parse_event_time("2026-13-01 00:00:00"), None);
        assert_eq!(parse_event_time("2026-02-30 00:00:00"), None);
        assert_eq!(parse_event_time("1969-12-31 23:59:59"), None);
    }

    #[test]
    fn a_non_ascii_fraction_is_no_time_and_no_panic() {
        // The hand-written parser this replaced sliced bytes and panicked here.
        assert_eq!(parse_event_time("2024-05-21 10:11:12.a€"), None);
        assert_eq!(parse_event_time("2024-05-21 10:11:12.€€€€"), None);
        let message = notification("db-cluster", "prod", "RDS-EVENT-0071")
            .replace("2026-11-23 10:00:00.250", "2024-05-21 10:11:12.a€");
        let event = parse_notification(&message).unwrap();
        assert_eq!(event.event_time_ms, None);
        assert_eq!(event.event_id, "RDS-EVENT-0071");
    }

    /// An EventBridge RDS event, shaped like AWS's published examples.
    pub(crate) fn eventbridge(detail_type: &str, source_type: &str, identifier: &str, event_id: &str) -> Value {
        json!({
            "version": "0",
            "id": "68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e",
            "detail-type": detail_type,
            "source": "aws.rds",
            "account": "123456789012",
            "time": "2026-11-23T10:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:rds:us-east-1:123456789012:db:orders"],
            "detail": {
                "EventCategories": ["failover"],
                "SourceType": source_type,
                "SourceArn": "arn:aws:rds:us-east-1:123456789012:db:orders",
                "Date": "2026-11-23T10:00:00.250Z",
                "Message": "A Multi-AZ failover has completed.",
                "SourceIdentifier": identifier,
                "EventID": event_id
            }
        })
    }

    #[test]
    fn eventbridge_events_read_like_sns_ones_with_or_without_the_rds_prefix() {
        for identifier in ["rds:Orders", "orders"] {
            let e =
                parse_eventbridge(&eventbridge("RDS DB Instance Event", "DB_INSTANCE", identifier, "RDS-EVENT-0049"))
                    .unwrap();
            assert_eq!((e.source_type.as_str(), e.source_id.as_str()), ("db-instance", "orders"));
            assert_eq!(e.event_time_ms, Some(1_795_428_000_250));
            assert_eq!(e.rule().unwrap().follow_up, WatchForChange);
        }
        let cluster = parse_eventbridge(&eventbridge("RDS DB Cluster Event", "CLUSTER", "rds:prod", "RDS-EVENT-0071"));
        assert_eq!(cluster.unwrap().kind(), Some(DbCluster));
        let bgd = eventbridge("RDS Blue Green Deployment Event", "BLUE_GREEN_DEPLOYMENT", "bgd-abc", "RDS-EVENT-0248");
        let bgd = parse_eventbridge(&bgd).unwrap();
        assert_eq!((bgd.kind(), bgd.source_id.as_str()), (Some(BlueGreenDeployment), "bgd-abc"));
        assert!(bgd.rule().is_some());
    }

    #[test]
    fn other_eventbridge_events_and_payloads_are_records_that_say_what_they_are() {
        let scheduled = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "1", "time": "2026-11-23T10:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
        let err = read_record(&records_of(&scheduled)[0]).unwrap_err();
        assert!(matches!(err, NotAnRdsEvent::OtherEventBridgeEvent { .. }), "{err}");
        assert!(err.to_string().contains("aws.events") && err.to_string().contains("Scheduled Event"));
        let snapshot = eventbridge("RDS DB Snapshot Event", "SNAPSHOT", "rds:snap", "RDS-EVENT-0042");
        assert!(matches!(parse_eventbridge(&snapshot), Err(NotAnRdsEvent::OtherEventBridgeEvent { .. })));
        let mut no_id = eventbridge("RDS DB Instance Event", "DB_INSTANCE", "rds:x", "RDS-EVENT-0049");
        no_id["detail"].as_object_mut().unwrap().remove("EventID");
        assert_eq!(parse_eventbridge(&no_id), Err(NotAnRdsEvent::MissingField { field: "EventID" }));
        let unknown = records_of(&json!({"hello": 1}));
        assert!(matches!(&unknown[0], Record::Unreadable(NotAnRdsEvent::UnknownPayload { keys }) if keys == "hello"));
        let batch = records_of(&json!({"Records": [{"EventSource": "aws:sns"}, 7]}));
        assert_eq!(batch.len(), 2, "each record on its own");
        assert!(batch.iter().all(|r| matches!(r, Record::Unreadable(NotAnRdsEvent::BadSnsRecord { .. }))));
    }

    #[test]
    fn the_sample_events_for_cargo_lambda_invoke_read_as_relevant_rds_events() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
        let mut read = 0;
        for name in [
            "rds-failover-completed.json",
            "eventbridge-instance-failover.json",
            "eventbridge-cluster-failover.json",
            "eventbridge-blue-green-switchover.json",
        ] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let payload: Value = serde_json::from_str(&text).unwrap();
            for record in records_of(&payload) {
                let event = read_record(&record).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(event.rule().is_some(), "{name}: {event:?}");
                read += 1;
            }
        }
        assert_eq!(read, 4);
    }

    /// Strings near the event-time form: digits, separators and odd characters.
    fn time_like() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("2024".to_string()),
                Just("-".to_string()),
                Just(":".to_string()),
                Just(" ".to_string()),
                Just("T".to_string()),
                Just(".".to_string()),
                Just("Z".to_string()),
                Just("€".to_string()),
                "[0-9]{1,3}",
                any::<char>().prop_map(String::from),
            ],
            0..16,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_event_time_panics(text in prop_oneof![time_like(), any::<String>()]) {
            let _ = parse_event_time(&text);
        }

        #[test]
        fn no_notification_panics(message in any::<String>()) {
            let _ = parse_notification(&message);
        }

        #[test]
        fn no_eventbridge_event_panics(
            detail_type in prop_oneof![Just("RDS DB Instance Event".to_string()), any::<String>()],
            source_type in any::<String>(),
            identifier in any::<String>(),
            event_id in any::<String>(),
            date in prop_oneof![time_like(), any::<String>()],
        ) {
            let mut event = eventbridge(&detail_type, &source_type, &identifier, &event_id);
            event["detail"]["Date"] = json!(date);
            for record in records_of(&event) {
                if let Ok(e) = read_record(&record) {
                    prop_assert!(!e.source_id.is_empty() && !e.event_id.is_empty());
                }
            }
        }

        #[test]
        fn no_notification_with_arbitrary_field_values_panics(
            source in any::<String>(),
            id in any::<String>(),
            event_id in any::<String>(),
            time in prop_oneof![time_like(), any::<String>()],
            text in any::<String>(),
        ) {
            let message = json!({
                "Event Source": source, "Source ID": id, "Event ID": event_id,
                "Event Time": time, "Event Message": text,
            });
            if let Ok(event) = parse_notification(&message.to_string()) {
                prop_assert!(!event.event_id.is_empty() && !event.source_id.is_empty());
            }
        }

        #[test]
        fn valid_times_round_trip(ms in 0u64..4_102_444_800_000) {
            let at = DateTime::from_timestamp_millis(i64::try_from(ms).unwrap()).unwrap();
            prop_assert_eq!(parse_event_time(&at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()), Some(ms));
            prop_assert_eq!(parse_event_time(&at.to_rfc3339()), Some(ms));
        }
    }
}
