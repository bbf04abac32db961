//! RDS events: which ones move addresses (the one event table), and reading
//! them from what SNS delivers. Nothing here does I/O.

use chrono::{DateTime, NaiveDateTime};
use serde::Serialize;
use serde_json::Value;

use crate::spec::Source;

/// The kind of RDS resource an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    DbCluster,
    DbInstance,
    DbProxy,
}

/// What to do after the first sync an event triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FollowUp {
    /// The RDS API already shows the new state: sync until settled.
    SyncNow,
    /// The change is still to come (or DNS lags): re-check until the answer
    /// changes and is applied, or the watch deadline passes.
    WatchForChange,
}

/// One RDS event this function acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRule {
    pub id: &'static str,
    pub kind: SourceKind,
    pub follow_up: FollowUp,
    pub meaning: &'static str,
}

const fn rule(id: &'static str, kind: SourceKind, follow_up: FollowUp, meaning: &'static str) -> EventRule {
    EventRule { id, kind, follow_up, meaning }
}

use FollowUp::{SyncNow, WatchForChange};
use SourceKind::{DbCluster, DbInstance, DbProxy};

/// Every event that can move addresses, in one place. Anything else is logged
/// and ignored.
pub const EVENT_RULES: &[EventRule] = &[
    rule("RDS-EVENT-0069", DbCluster, SyncNow, "cluster failover failed (the writer may not have moved)"),
    rule("RDS-EVENT-0070", DbCluster, SyncNow, "cluster failover: the promoted instance restarted"),
    rule("RDS-EVENT-0071", DbCluster, SyncNow, "cluster failover completed"),
    rule("RDS-EVENT-0072", DbCluster, WatchForChange, "cluster failover started in the same AZ"),
    rule("RDS-EVENT-0073", DbCluster, WatchForChange, "cluster failover started across AZs"),
    rule("RDS-EVENT-0013", DbInstance, WatchForChange, "Multi-AZ instance failover started"),
    rule("RDS-EVENT-0015", DbInstance, WatchForChange, "Multi-AZ failover completed; DNS may take minutes"),
    rule("RDS-EVENT-0049", DbInstance, WatchForChange, "Multi-AZ instance failover completed"),
    rule("RDS-EVENT-0050", DbInstance, WatchForChange, "Multi-AZ activation started"),
    rule("RDS-EVENT-0051", DbInstance, WatchForChange, "Multi-AZ activation completed"),
    rule("RDS-EVENT-0065", DbInstance, WatchForChange, "recovered from a partial failover"),
    rule("RDS-EVENT-0004", DbInstance, WatchForChange, "instance shut down"),
    rule("RDS-EVENT-0006", DbInstance, WatchForChange, "instance restarted"),
    rule("RDS-EVENT-0052", DbInstance, WatchForChange, "Multi-AZ instance recovery started"),
    rule("RDS-EVENT-0053", DbInstance, WatchForChange, "Multi-AZ instance recovery completed"),
    rule("RDS-EVENT-0203", DbProxy, SyncNow, "proxy created"),
    rule("RDS-EVENT-0204", DbProxy, SyncNow, "proxy modified"),
    rule("RDS-EVENT-0206", DbProxy, SyncNow, "proxy endpoint created"),
    rule("RDS-EVENT-0207", DbProxy, SyncNow, "proxy endpoint modified"),
    rule("RDS-EVENT-0243", DbProxy, SyncNow, "proxy could not scale: subnet out of IP addresses"),
];

/// An RDS event, as RDS publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsEvent {
    /// `db-cluster`, `db-instance`, `db-proxy`, ...
    pub source_type: String,
    pub source_id: String,
    /// `RDS-EVENT-0071`
    pub event_id: String,
    /// `Event Time` as Unix ms, when it could be read.
    pub event_time_ms: Option<u64>,
    pub message: String,
}

impl RdsEvent {
    /// The rule for this event, if it is one that moves addresses.
    pub fn rule(&self) -> Option<&'static EventRule> {
        let kind = match self.source_type.as_str() {
            "db-cluster" => DbCluster,
            "db-instance" => DbInstance,
            t if t.contains("proxy") => DbProxy,
            _ => return None,
        };
        EVENT_RULES.iter().find(|r| r.kind == kind && r.id == self.event_id)
    }
}

/// Why a message is not an RDS event this function can read. Logged, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAnRdsEvent {
    #[error("not a JSON RDS event (for example the subscription confirmation): {preview}")]
    NotJson { preview: String },
    #[error("JSON without 'Event Source': not an RDS event")]
    NoEventSource,
    #[error("RDS event without '{field}'")]
    MissingField { field: &'static str },
}

/// Reads an SNS message as an RDS event notification. The plain-text message
/// RDS sends when a subscription is created, or any other text, is an `Err`
/// that says what it was.
pub fn parse_notification(message: &str) -> Result<RdsEvent, NotAnRdsEvent> {
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
        event_id,
        event_time_ms: field("Event Time").and_then(parse_event_time),
        message: field("Event Message").unwrap_or("").to_string(),
    })
}

/// Parses an event time into Unix milliseconds: RFC 3339 (`2026-11-23T10:00:00.123Z`,
/// as EventBridge writes it), or RDS's SNS form `2026-11-23 10:00:00.123`
/// (UTC, fraction optional, `T` instead of the space accepted). Anything else,
/// or a time before 1970, is `None`.
pub fn parse_event_time(text: &str) -> Option<u64> {
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

/// True when `source` depends on the event's resource. `instance_cluster` is the
/// cluster the event's instance belongs to (for instance events).
pub fn depends_on(source: &Source, event: &RdsEvent, kind: SourceKind, instance_cluster: Option<&str>) -> bool {
    let same = |id: &str| id.eq_ignore_ascii_case(&event.source_id);
    match (kind, source) {
        (DbCluster, Source::Cluster { id, .. }) => same(id),
        (DbInstance, Source::Instance { id }) => same(id),
        (DbInstance, Source::Cluster { id, .. }) => instance_cluster.is_some_and(|c| c.eq_ignore_ascii_case(id)),
        (DbProxy, Source::Proxy { name, .. }) => same(name),
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use std::collections::BTreeSet;

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
    fn event_table_picks_relevant_events_by_kind() {
        let event = |t: &str, id: &str| parse_notification(&notification(t, "x", id)).unwrap();
        assert_eq!(event("db-cluster", "RDS-EVENT-0073").rule().unwrap().follow_up, WatchForChange);
        assert_eq!(event("db-instance", "RDS-EVENT-0049").rule().unwrap().follow_up, WatchForChange);
        assert_eq!(event("db-proxy", "RDS-EVENT-0207").rule().unwrap().follow_up, SyncNow);
        assert!(event("db-instance", "RDS-EVENT-0071").rule().is_none(), "0071 is a cluster event");
        assert!(event("db-snapshot", "RDS-EVENT-0169").rule().is_none());
        assert!(event("db-instance", "RDS-EVENT-0169").rule().is_none());
        let ids: BTreeSet<(&str, String)> = EVENT_RULES.iter().map(|r| (r.id, format!("{:?}", r.kind))).collect();
        assert_eq!(ids.len(), EVENT_RULES.len(), "no rule listed twice");
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
