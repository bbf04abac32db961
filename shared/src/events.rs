//! RDS events: which ones move addresses (the one event table), and reading
//! them from either delivery: SNS (an RDS event subscription) or EventBridge
//! (`source: aws.rds`). Nothing here does I/O.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsRecord;
use chrono::{DateTime, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::spec::Source;

/// The kind of RDS resource an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    DbCluster,
    DbInstance,
    DbProxy,
    /// A Blue/Green deployment: its Source ID is the deployment, not a database.
    BlueGreenDeployment,
}

impl SourceKind {
    /// From SNS's `Event Source` (`db-cluster`) or EventBridge's `SourceType`
    /// (`CLUSTER`), whichever the event carries.
    pub fn from_source_type(source_type: &str) -> Option<SourceKind> {
        match source_type.to_ascii_lowercase().replace('_', "-").as_str() {
            "db-cluster" | "cluster" => Some(SourceKind::DbCluster),
            "db-instance" => Some(SourceKind::DbInstance),
            "db-proxy" | "rds-proxy" => Some(SourceKind::DbProxy),
            "blue-green-deployment" => Some(SourceKind::BlueGreenDeployment),
            _ => None,
        }
    }

    /// SNS's name for the kind, the one the event lines report.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::DbCluster => "db-cluster",
            SourceKind::DbInstance => "db-instance",
            SourceKind::DbProxy => "db-proxy",
            SourceKind::BlueGreenDeployment => "blue-green-deployment",
        }
    }
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
use SourceKind::{BlueGreenDeployment, DbCluster, DbInstance, DbProxy};

/// Every event that can move addresses, in one place (IDs and meanings from
/// the RDS and Aurora user guides' event tables). Anything else is logged and
/// ignored.
pub const EVENT_RULES: &[EventRule] = &[
    // Cluster failover.
    rule("RDS-EVENT-0069", DbCluster, SyncNow, "cluster failover failed (the writer may not have moved)"),
    rule("RDS-EVENT-0070", DbCluster, SyncNow, "cluster failover: the previous primary is promoted again"),
    rule("RDS-EVENT-0071", DbCluster, SyncNow, "cluster failover completed"),
    rule("RDS-EVENT-0072", DbCluster, WatchForChange, "cluster failover started in the same AZ"),
    rule("RDS-EVENT-0073", DbCluster, WatchForChange, "cluster failover started across AZs"),
    // Aurora Global Database switchover and failover (category "global failover").
    rule("RDS-EVENT-0181", DbCluster, WatchForChange, "global switchover to this cluster started"),
    rule("RDS-EVENT-0182", DbCluster, WatchForChange, "global switchover: the old primary shut down"),
    rule("RDS-EVENT-0184", DbCluster, SyncNow, "global switchover: the new primary was promoted"),
    rule("RDS-EVENT-0185", DbCluster, SyncNow, "global switchover finished"),
    rule("RDS-EVENT-0186", DbCluster, SyncNow, "global switchover cancelled"),
    rule("RDS-EVENT-0187", DbCluster, SyncNow, "global switchover failed"),
    rule("RDS-EVENT-0238", DbCluster, SyncNow, "global failover completed"),
    rule("RDS-EVENT-0239", DbCluster, SyncNow, "global failover failed"),
    rule("RDS-EVENT-0397", DbCluster, SyncNow, "the global writer endpoint now resolves to another cluster"),
    // Cluster start and stop (addresses can change on start).
    rule("RDS-EVENT-0150", DbCluster, SyncNow, "cluster stopped"),
    rule("RDS-EVENT-0151", DbCluster, WatchForChange, "cluster started"),
    rule("RDS-EVENT-0153", DbCluster, WatchForChange, "cluster started after the longest allowed stop"),
    // Instance failover, recovery, restart.
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
    // Topology: members of a followed cluster come and go (Aurora auto scaling too).
    rule("RDS-EVENT-0005", DbInstance, WatchForChange, "instance created (a new cluster member gets its endpoint)"),
    rule("RDS-EVENT-0003", DbInstance, SyncNow, "instance deleted"),
    rule("RDS-EVENT-0385", DbInstance, SyncNow, "cluster topology updated (members added, deleted or failed over)"),
    // Instance start and stop.
    rule("RDS-EVENT-0087", DbInstance, SyncNow, "instance stopped"),
    rule("RDS-EVENT-0088", DbInstance, WatchForChange, "instance started"),
    rule("RDS-EVENT-0154", DbInstance, WatchForChange, "instance started after the longest allowed stop"),
    // RDS Proxy and its endpoints.
    rule("RDS-EVENT-0203", DbProxy, SyncNow, "proxy created"),
    rule("RDS-EVENT-0204", DbProxy, SyncNow, "proxy modified"),
    rule("RDS-EVENT-0206", DbProxy, SyncNow, "proxy endpoint created"),
    rule("RDS-EVENT-0207", DbProxy, SyncNow, "proxy endpoint modified"),
    rule("RDS-EVENT-0208", DbProxy, SyncNow, "proxy endpoint deleted"),
    rule("RDS-EVENT-0243", DbProxy, SyncNow, "proxy could not scale: subnet out of IP addresses"),
    // Blue/Green deployments (the Source ID is the deployment).
    rule("RDS-EVENT-0247", BlueGreenDeployment, WatchForChange, "switchover started"),
    rule("RDS-EVENT-0248", BlueGreenDeployment, WatchForChange, "switchover completed: the names point at green"),
    rule("RDS-EVENT-0249", BlueGreenDeployment, SyncNow, "switchover canceled"),
    rule("RDS-EVENT-0250", BlueGreenDeployment, WatchForChange, "switchover of an instance started"),
    rule("RDS-EVENT-0251", BlueGreenDeployment, WatchForChange, "switchover of an instance completed; blue renamed"),
    rule("RDS-EVENT-0252", BlueGreenDeployment, SyncNow, "switchover of an instance canceled"),
    rule("RDS-EVENT-0259", BlueGreenDeployment, WatchForChange, "switchover of a DB cluster started"),
    rule("RDS-EVENT-0260", BlueGreenDeployment, WatchForChange, "switchover of a DB cluster completed; blue renamed"),
    rule("RDS-EVENT-0261", BlueGreenDeployment, SyncNow, "switchover of a DB cluster canceled"),
];

/// An RDS event, from either delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsEvent {
    /// `db-cluster`, `db-instance`, `db-proxy`, `blue-green-deployment`, ...
    pub source_type: String,
    /// The resource's identifier, lower case, without EventBridge's `rds:` prefix.
    pub source_id: String,
    /// The resource's ARN, when the event carries it.
    pub source_arn: Option<String>,
    /// `RDS-EVENT-0071`
    pub event_id: String,
    /// When the event happened, as Unix ms, when it could be read.
    pub event_time_ms: Option<u64>,
    pub message: String,
}

impl RdsEvent {
    pub fn kind(&self) -> Option<SourceKind> {
        SourceKind::from_source_type(&self.source_type)
    }

    /// The rule for this event, if it is one that moves addresses.
    pub fn rule(&self) -> Option<&'static EventRule> {
        let kind = self.kind()?;
        EVENT_RULES.iter().find(|r| r.kind == kind && r.id == self.event_id)
    }

    /// The last part of the event's ARN (`...:db-proxy:my-proxy` gives `my-proxy`).
    fn arn_name(&self) -> Option<&str> {
        self.source_arn.as_deref().and_then(|arn| arn.rsplit(':').next()).filter(|n| !n.is_empty())
    }
}

/// Why a record is not an RDS event this function can read. Logged, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAnRdsEvent {
    #[error("not a JSON RDS event (for example the subscription confirmation): {preview}")]
    NotJson { preview: String },
    #[error("JSON without 'Event Source': not an RDS event")]
    NoEventSource,
    #[error("RDS event without '{field}'")]
    MissingField { field: &'static str },
    #[error("SNS record without a readable notification: {why}")]
    BadSnsRecord { why: String },
    #[error("EventBridge event from '{source_name}' ({detail_type}), not an RDS event")]
    OtherEventBridgeEvent { source_name: String, detail_type: String },
    #[error("EventBridge RDS event that cannot be read: {why}")]
    BadEventBridgeEvent { why: String },
    #[error("payload is neither an SNS batch (Records) nor an EventBridge event (detail-type); its keys: {keys}")]
    UnknownPayload { keys: String },
}

/// One delivered record: an SNS message, or one EventBridge event.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// The `Sns.Message` text of one SNS record.
    SnsMessage(String),
    EventBridge(Value),
    /// A record that could not even be taken apart.
    Unreadable(NotAnRdsEvent),
}

/// Splits what Lambda delivered into records: each record of an SNS batch, or
/// the one EventBridge event. A record that cannot be read is kept as
/// [`Record::Unreadable`], so it gets its own line and stops nothing else.
pub fn records_of(payload: &Value) -> Vec<Record> {
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
pub fn read_record(record: &Record) -> Result<RdsEvent, NotAnRdsEvent> {
    match record {
        Record::SnsMessage(message) => parse_notification(message),
        Record::EventBridge(event) => parse_eventbridge(event),
        Record::Unreadable(why) => Err(why.clone()),
    }
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
pub fn parse_eventbridge(event: &Value) -> Result<RdsEvent, NotAnRdsEvent> {
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

/// What the RDS API says about the resources around an event, for
/// [`depends_on`]: found by the failover trigger, used here without I/O.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Related {
    /// Clusters the event concerns beyond its own Source ID (an instance's
    /// cluster, a Blue/Green deployment's clusters).
    pub clusters: std::collections::BTreeSet<String>,
    /// Instances the event concerns beyond its own Source ID (a Blue/Green
    /// deployment's instances).
    pub instances: std::collections::BTreeSet<String>,
    /// The event's instance no longer exists, so any cluster may have lost it.
    pub any_cluster: bool,
}

/// True when `source` depends on the event's resource.
pub fn depends_on(source: &Source, event: &RdsEvent, kind: SourceKind, related: &Related) -> bool {
    let same = |id: &str| id.eq_ignore_ascii_case(&event.source_id);
    let related_cluster = |id: &str| related.any_cluster || related.clusters.contains(&id.to_ascii_lowercase());
    match (kind, source) {
        (DbCluster, Source::Cluster { id, .. }) => same(id),
        (DbInstance, Source::Instance { id }) => same(id),
        (DbInstance, Source::Cluster { id, .. }) => related_cluster(id),
        // A proxy endpoint's events may name the endpoint, not the proxy.
        (DbProxy, Source::Proxy { name, endpoint }) => {
            same(name)
                || endpoint.as_deref().is_some_and(same)
                || event.arn_name().is_some_and(|n| n.eq_ignore_ascii_case(name))
        }
        (BlueGreenDeployment, Source::Cluster { id, .. }) => related.clusters.contains(&id.to_ascii_lowercase()),
        (BlueGreenDeployment, Source::Instance { id }) => related.instances.contains(&id.to_ascii_lowercase()),
        _ => false,
    }
}

/// A database an ARN names: `arn:aws:rds:<region>:<account>:cluster:<id>` or `...:db:<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdsResource {
    Cluster(String),
    Instance(String),
}

impl RdsResource {
    pub fn from_arn(arn: &str) -> Option<RdsResource> {
        let mut parts = arn.splitn(7, ':');
        let (prefix, _, service) = (parts.next()?, parts.next()?, parts.next()?);
        let (_region, _account, kind, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if prefix != "arn" || service != "rds" || id.is_empty() {
            return None;
        }
        let id = id.to_ascii_lowercase();
        match kind {
            "cluster" => Some(RdsResource::Cluster(id)),
            "db" => Some(RdsResource::Instance(id)),
            _ => None,
        }
    }
}

/// The name a Blue/Green member is known by to the sources that follow it:
/// the switchover renames blue to `<name>-old<n>`, and green is created as
/// `<name>-green-<suffix>` before it takes the blue name.
pub fn production_name(id: &str) -> &str {
    if let Some((base, n)) = id.rsplit_once("-old")
        && !base.is_empty()
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        return base;
    }
    if let Some((base, suffix)) = id.rsplit_once("-green-")
        && !base.is_empty()
        && !suffix.is_empty()
        && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return base;
    }
    id
}

/// The clusters and instances a Blue/Green deployment's ARNs concern, under
/// their current and their production names.
pub fn deployment_related<'a>(arns: impl IntoIterator<Item = &'a str>) -> Related {
    let mut related = Related::default();
    for arn in arns {
        match RdsResource::from_arn(arn) {
            Some(RdsResource::Cluster(id)) => {
                related.clusters.insert(production_name(&id).to_string());
                related.clusters.insert(id);
            }
            Some(RdsResource::Instance(id)) => {
                related.instances.insert(production_name(&id).to_string());
                related.instances.insert(id);
            }
            None => {}
        }
    }
    related
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
    fn proxy_events_match_the_proxy_or_its_endpoint() {
        let proxy: Source = "rds-proxy:app".parse().unwrap();
        let custom: Source = "rds-proxy:app:readonly".parse().unwrap();
        let other: Source = "rds-proxy:other:readonly".parse().unwrap();
        let mut event = parse_notification(&notification("db-proxy", "readonly", "RDS-EVENT-0207")).unwrap();
        event.source_arn = Some("arn:aws:rds:us-east-1:123456789012:db-proxy:app".into());
        let none = Related::default();
        assert!(depends_on(&custom, &event, DbProxy, &none));
        assert!(depends_on(&proxy, &event, DbProxy, &none), "the ARN names the proxy");
        event.source_arn = None;
        assert!(!depends_on(&proxy, &event, DbProxy, &none));
        assert!(depends_on(&other, &event, DbProxy, &none), "endpoint names are only unique per proxy");
    }

    #[test]
    fn blue_green_members_are_known_by_their_production_names() {
        assert_eq!(production_name("orders-old1"), "orders");
        assert_eq!(production_name("orders-old12"), "orders");
        assert_eq!(production_name("orders-green-abcdef"), "orders");
        assert_eq!(production_name("orders-older"), "orders-older");
        assert_eq!(production_name("-old1"), "-old1");
        let related = deployment_related([
            "arn:aws:rds:us-east-1:123456789012:cluster:prod-old1",
            "arn:aws:rds:us-east-1:123456789012:cluster:prod",
            "arn:aws:rds:us-east-1:123456789012:db:prod-1-old1",
            "arn:aws:rds:us-east-1:123456789012:cluster-endpoint:reader-old1",
            "not an arn",
        ]);
        assert_eq!(related.clusters.iter().map(String::as_str).collect::<Vec<_>>(), vec!["prod", "prod-old1"]);
        assert_eq!(related.instances.iter().map(String::as_str).collect::<Vec<_>>(), vec!["prod-1", "prod-1-old1"]);
        let event = RdsEvent { source_type: "blue-green-deployment".into(), source_id: "bgd-1".into(), ..sample() };
        assert!(depends_on(&"rds-cluster:prod:readers".parse().unwrap(), &event, BlueGreenDeployment, &related));
        assert!(depends_on(&"rds-instance:prod-1".parse().unwrap(), &event, BlueGreenDeployment, &related));
        assert!(!depends_on(&"rds-cluster:other".parse().unwrap(), &event, BlueGreenDeployment, &related));
    }

    fn sample() -> RdsEvent {
        parse_notification(&notification("db-cluster", "x", "RDS-EVENT-0071")).unwrap()
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
